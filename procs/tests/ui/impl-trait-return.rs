use procs::remote;

#[remote]
pub fn evens(n: u64) -> impl Iterator<Item = u64> {
    (0..n).filter(|i| i % 2 == 0)
}

fn main() {}
