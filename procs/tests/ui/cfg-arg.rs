use procs::remote;

#[remote]
pub fn open(path: String, #[cfg(unix)] mode: u32) -> bool {
    path.len() as u32 == mode
}

fn main() {}
