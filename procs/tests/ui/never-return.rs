use procs::remote;

#[remote]
pub fn stop(code: i32) -> ! {
    std::process::exit(code)
}

fn main() {}
