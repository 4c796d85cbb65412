use procs::remote;

#[remote]
pub fn greeting() -> &'static str {
    "hello"
}

fn main() {}
