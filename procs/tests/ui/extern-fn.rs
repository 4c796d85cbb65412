use procs::remote;

#[remote]
pub extern "C" fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
