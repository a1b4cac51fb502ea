//! OCI images: layers (`layer`), JSON documents (`image`), the layout directory and
//! `oci-archive` (`layout`), and reading Debian packages for the images' userland (`deb`).

pub mod deb;
pub mod image;
pub mod layer;
pub mod layout;
