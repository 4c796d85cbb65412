// Empty on purpose: `links = "procs-core"` in Cargo.toml needs a build script,
// and it makes Cargo refuse two procs-core versions in one binary.
fn main() {}
