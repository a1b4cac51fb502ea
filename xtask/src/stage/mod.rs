//! One module per stage; `pipeline.rs` orders them.

pub mod archive;
pub mod build;
pub mod checksum;
pub mod generate;
pub mod manifest;
pub mod oci;
pub mod sign;
