// Two functions pinned to one ID do not build (issue 12); across crates the
// linker reports the same symbol twice.
use procs::remote;

#[remote(id = "resize/v1")]
pub fn resize(x: u32) -> u32 {
    x
}

mod other {
    #[procs::remote(id = "resize/v1")]
    pub fn resize(x: u32) -> u32 {
        x * 2
    }
}

fn main() {}
