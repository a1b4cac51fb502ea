//! Artifact writers and readers, one module per artifact kind. They know file formats, not
//! stages: `stage/archive.rs` decides what goes in, `verify.rs` reads them back.

pub mod archive;
pub mod deb;
pub mod installer;
pub mod msi;
pub mod oci;
pub mod package;
pub mod rpm;
pub mod template;
