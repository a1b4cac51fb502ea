fn main() {
    std::process::exit(ferry::main());
}
