use procs::remote;

// Every problem is reported, each on its own tokens, and `count` still exists
// for `main`: no "cannot find function" follows.
#[remote(bogus)]
pub async unsafe fn count<'a>(text: &'a str, filter: impl Fn(char) -> bool) -> usize {
    text.chars().filter(|&c| filter(c)).count()
}

fn main() {
    let _ = unsafe { count("", char::is_alphabetic) };
}
