use procs::remote;

#[remote]
pub fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[remote]
pub fn ping() {}

#[remote]
pub fn answer() -> u64 {
    42
}

#[remote]
pub fn unit(_: ()) -> () {}

fn main() {
    assert_eq!(add(2, 3), 5);
    ping();
    assert_eq!(answer(), 42);
    unit(());
}
