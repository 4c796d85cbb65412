use procs::remote;

#[remote]
fn double(x: u32) -> u32 {
    x * 2
}

fn main() {
    let f: fn(u32) -> u32 = double;
    let _ = procs::pmap(f, 0..3u32);
}
