use procs::remote;

pub struct Counter(u64);

impl Counter {
    #[remote]
    pub fn get(&self) -> u64 {
        self.0
    }
}

fn main() {}
