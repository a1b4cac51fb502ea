//! Artifact writers and readers, one module per artifact kind. They know file formats, not
//! stages: `stage/archive.rs` decides what goes in, `verify.rs` reads them back.

pub mod archive;
pub mod oci;
