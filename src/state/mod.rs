//! Environment state: the lifecycle state machine and its persistent store.

pub mod lifecycle;
pub mod store;

pub use lifecycle::{Failure, Phase, State, Step};
pub use store::{HistoryEntry, Record, StateError, Store};
