use procs::{call, pmap, proc, remote};

#[remote]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[remote]
fn boom(x: u32) -> u32 {
    if x == 3 {
        panic!("three is right out");
    }
    x
}

#[test]
fn smoke() {
    assert_eq!(call(proc!(add(2, 3))).unwrap(), 5);
    let v: Vec<_> = pmap(boom, 0..6).collect();
    println!("{v:?}");
}
