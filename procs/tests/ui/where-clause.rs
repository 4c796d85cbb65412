use procs::remote;

#[remote]
pub fn len(items: Vec<u8>) -> usize
where
    Vec<u8>: Clone,
{
    items.len()
}

fn main() {}
