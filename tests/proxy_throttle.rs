//! The fault proxy's AWS-like throttling (`support::throttle`): the token bucket's arithmetic,
//! the pressure multiplier, rate overrides, which requests share a bucket, and the proxy
//! answering each protocol's throttling error only once a bucket is empty. Pure logic and a
//! proxy in front of a closed port; no emulator, milliseconds.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use support::proxy::FaultProxy;
use support::throttle::{AwsLimits, Buckets, Family, TokenBucket};

#[test]
fn throttle_bucket_refuses_only_when_empty_and_refills_at_its_rate() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut b = TokenBucket::new(10.0, 3.0, t0);
    // A full bucket lets its burst through at once, then refuses without taking anything.
    assert!((0..3).all(|_| b.try_take(t0)));
    assert!(!b.try_take(t0));
    assert!(!b.try_take(ms(99)), "0.99 of a token is not a token");
    assert!(b.try_take(ms(100)));
    assert!(!b.try_take(ms(150)));
    // Refills up to its capacity, never beyond.
    assert!((0..3).all(|_| b.try_take(ms(10_000))));
    assert!(!b.try_take(ms(10_000)));
    // Sustained: one request every 100 ms (the rate) always passes.
    assert!((1..=50).all(|i| b.try_take(ms(10_000 + 100 * i))));
    // Time going backwards (requests checked out of order) neither adds nor panics.
    assert!(!b.try_take(ms(5_000)));
}

#[test]
fn throttle_multiplier_halves_refill_and_capacity() {
    let aws = AwsLimits::aws();
    assert_eq!(aws.effective(Family::Iam), (15.0, 15.0));
    assert_eq!(aws.effective(Family::IdentityCenter), (20.0, 20.0));
    assert_eq!(aws.effective(Family::Sts), (600.0, 600.0));
    let two = aws.clone().multiplier(2.0);
    assert_eq!(two.effective(Family::Iam), (7.5, 7.5));
    assert_eq!(two.effective(Family::Organizations), (2.0, 2.0));
    // Never below one token of capacity.
    assert_eq!(
        aws.multiplier(10.0).effective(Family::Organizations),
        (0.4, 1.0)
    );
}

#[test]
fn throttle_overrides_parse_and_reject_nonsense() {
    let l = AwsLimits::aws()
        .overridden("iam=20, organizations=2/5")
        .unwrap();
    assert_eq!(l.effective(Family::Iam), (20.0, 20.0));
    assert_eq!(l.effective(Family::Organizations), (2.0, 5.0));
    assert!(!l.nominal(Family::Iam).documented);
    assert!(l.nominal(Family::IdentityCenter).documented);
    for bad in ["iam", "s3=5", "iam=0", "iam=x", "iam=5/-1"] {
        assert!(AwsLimits::aws().overridden(bad).is_err(), "{bad}");
    }
}

#[test]
fn throttle_buckets_are_per_account_for_iam_and_org_wide_for_identity_center() {
    let t0 = Instant::now();
    let mut b = Buckets::new(AwsLimits::aws().with(Family::Iam, 1.0, 2.0).with(
        Family::IdentityCenter,
        1.0,
        2.0,
    ));
    assert!(b.admit("iam", Some("111"), t0) && b.admit("iam", Some("111"), t0));
    assert!(!b.admit("iam", Some("111"), t0));
    // Another account's IAM has its own bucket.
    assert!(b.admit("iam", Some("222"), t0) && b.admit("iam", Some("222"), t0));
    // sso-admin and identitystore share one bucket whoever signs.
    assert!(b.admit("sso", Some("111"), t0) && b.admit("identitystore", Some("222"), t0));
    assert!(!b.admit("sso", Some("333"), t0));
    // Services outside the families are never throttled.
    assert!((0..100).all(|_| b.admit("s3", Some("111"), t0)));
    assert_eq!(
        b.throttled(),
        BTreeMap::from([("iam", 1), ("identity-center", 1)])
    );
    assert_eq!(b.admitted()["iam"], 4);
}

/// A raw SigV4-looking POST to the proxy; the HTTP status and body of its answer.
fn post(proxy: &FaultProxy, service: &str, key: &str, target: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(proxy.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = if target.is_some() {
        "{}"
    } else {
        "Action=ListUsers&Version=2010-05-08"
    };
    let target = target
        .map(|t| format!("x-amz-target: {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: AWS4-HMAC-SHA256 Credential={key}/20250101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n{target}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out.split_once("\r\n\r\n").unwrap().1.to_string())
}

#[test]
fn throttle_proxy_answers_each_protocols_error_once_the_bucket_is_empty() {
    // An upstream that refuses connections: admitted requests come back 502 from the proxy.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let proxy = FaultProxy::start(&upstream);
    proxy.map_key("AKIDA", "111111111111");
    proxy.map_key("AKIDB", "222222222222");
    proxy.aws_limits(AwsLimits::aws().with(Family::Iam, 0.01, 2.0).with(
        Family::IdentityCenter,
        0.01,
        1.0,
    ));
    assert_eq!(post(&proxy, "iam", "AKIDA", None).0, 502);
    assert_eq!(post(&proxy, "iam", "AKIDA", None).0, 502);
    let (status, body) = post(&proxy, "iam", "AKIDA", None);
    assert_eq!(status, 400);
    assert!(body.contains("<Code>Throttling</Code>"), "{body}");
    assert_eq!(post(&proxy, "iam", "AKIDB", None).0, 502, "own bucket");
    let ids = Some("AWSIdentityStore.ListUsers");
    assert_eq!(post(&proxy, "identitystore", "AKIDA", ids).0, 502);
    let (status, body) = post(&proxy, "identitystore", "AKIDB", ids);
    assert_eq!(status, 400);
    assert!(body.contains(r#""__type":"ThrottlingException""#), "{body}");
    assert_eq!(
        proxy.aws_throttled(),
        BTreeMap::from([("iam", 1), ("identity-center", 1)])
    );
    let refused = proxy
        .seen()
        .iter()
        .filter(|s| s.injected.as_deref() == Some("AwsThrottle"))
        .count();
    assert_eq!(refused, 2);
}
