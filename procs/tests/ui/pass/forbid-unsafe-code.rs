// The generated registration (a linker section, an exported symbol for a
// pinned ID) is the macro's, not the crate's: `forbid(unsafe_code)` holds.
#![forbid(unsafe_code)]

use procs::remote;

#[remote]
pub fn plain(x: u8) -> u8 {
    x
}

#[remote(id = "forbid/pinned")]
pub fn pinned(x: u8) -> u8 {
    x
}

fn main() {
    assert_eq!(plain(1) + pinned(2), 3);
}
