//! xtask's integration tests: one binary, one module per feature.
//!
//! New tests go in the module of the command they exercise; helpers (running xtask, test keys,
//! the shared host dist, tool checks that skip locally and fail in CI) live in `support.rs`.
//! Tests that build ferry share one build through `support::host_dist()`.

mod changelog;
mod ci_image;
mod ci_workflows;
mod cross;
mod deb;
mod deploy_own_release;
mod dist_host;
mod github_fake;
// ferry's real SSH test hosts, shared with its own test suite rather than copied; only part of
// it is used here.
#[allow(dead_code)]
#[path = "../../../tests/it/support/hosts.rs"]
mod hosts;
mod http;
mod installer_ps1;
mod installer_sh;
mod interop;
mod msi;
mod packages;
// OCI images (`oci.rs`: layout, run; `oci_registry.rs`: push/retag) and the loopback registry
// they push to (`registry.rs`).
mod oci;
mod oci_registry;
mod plan;
mod registry;
mod release;
mod release_support;
mod rollback;
mod rpm;
mod split_merge;
mod support;
