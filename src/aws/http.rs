//! The process's one HTTPS client, shared by every SDK client orgsync builds.
//!
//! An `SdkConfig` loaded without an HTTP client leaves each service client to make its own
//! default one: a separate hyper connection pool, TLS configuration (the system's root
//! certificates parsed again) and TLS session cache for every client. orgsync builds an IAM
//! and an STS client per account, so a sync held one of each per account being read
//! (measured with heaptrack: 0.2 MiB of root-store copies and session caches per client, the
//! largest part of a 64-account read's heap) and opened new connections in every account.
//! One client set on the base config reaches every client built from it, hops included; its
//! connectors are cached by timeout settings, so one connection pool serves every account
//! (requests are signed one by one, so a connection carries no identity).
//!
//! The client is the one the SDK would make by default (hyper 1, rustls with aws-lc, proxies
//! from `HTTPS_PROXY`/`NO_PROXY` as the SDK's latest behaviour version reads them), made once.
//!
//! Not here: timeouts and retries (`aws::session` sets them on the config), endpoints.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// A new HTTPS client as the SDK's default one, to be shared by every SDK client of the
/// process.
pub fn shared_https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}
