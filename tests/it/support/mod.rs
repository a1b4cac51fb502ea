//! Helpers shared by the integration tests.

pub mod ferry;
pub mod hosts;
