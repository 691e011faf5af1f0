//! Compiles our own `.proto` files (proto/) with protox (pure Rust, no system `protoc`) and
//! generates prost types. The serialized descriptor set is also written to OUT_DIR so the
//! library can render records as canonical protobuf JSON with prost-reflect.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "c1/connector/v2/resource.proto",
        "c1/connector/v2/entitlement.proto",
        "c1/connector/v2/grant.proto",
        "c1/connector/v2/traits.proto",
        "c1/connector/v2/annotations.proto",
        "c1/c1z/v1/sync.proto",
        "orgsync/v1/display.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out.join("descriptors.bin"), bytes)?;
    prost_build::Config::new()
        // Deterministic map order (c1z-v1.md §4.1): sorted keys for GrantSources.sources.
        .btree_map(["."])
        .compile_fds(fds)?;
    Ok(())
}
