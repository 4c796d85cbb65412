use procs::remote;

#[remote(id = "add/v1", id = "add/v2")]
pub fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn main() {}
