//! Ferry's integration tests: one binary, one module per feature.
//! New tests go in the module of the feature they exercise; shared helpers in `support`.

mod app_release;
mod cli;
mod config_errors;
mod deploy_chroot;
mod deploy_ssh;
mod engine_local;
mod lifecycle;
mod providers;
mod ssh;
mod state_store;
mod support;
