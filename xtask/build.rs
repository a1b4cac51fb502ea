//! Records the host triple so the xtask can default to "build for the machine I run on".
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=XTASK_HOST_TARGET={target}");
}
