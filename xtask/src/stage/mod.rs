//! One module per stage; `pipeline.rs` orders them.

pub mod archive;
pub mod build;
pub mod checksum;
pub mod deb;
pub mod generate;
pub mod installers;
pub mod manifest;
pub mod msi;
pub mod oci;
pub mod rpm;
pub mod sign;
