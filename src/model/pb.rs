//! Protobuf types generated at build time from our own `proto/` files (c1.connector.v2 and
//! c1.c1z.v1), plus the serialized descriptor set used for canonical JSON rendering.

#![allow(clippy::all, missing_docs)]

pub mod c1 {
    pub mod connector {
        pub mod v2 {
            include!(concat!(env!("OUT_DIR"), "/c1.connector.v2.rs"));
        }
    }
    pub mod c1z {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/c1.c1z.v1.rs"));
        }
    }
}

pub use c1::connector::v2::*;

/// Serialized `FileDescriptorSet` of every message above (and the well-known types they use).
pub const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
