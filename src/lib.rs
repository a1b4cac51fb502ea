//! Ferry, the deployer.
pub fn main() -> i32 {
    0
}
