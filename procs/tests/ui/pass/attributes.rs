use procs::remote;

/// Doc comments stay on the function.
#[remote]
#[inline]
#[must_use]
pub(crate) fn double(x: u64) -> u64 {
    x * 2
}

#[remote]
#[allow(clippy::needless_pass_by_value)]
fn private(text: String, #[allow(unused_variables)] ignored: u8) -> usize {
    text.len()
}

#[remote]
pub const fn constant(x: u32) -> u32 {
    x + 1
}

// The registration follows the function's `cfg`.
#[remote]
#[cfg(any())]
pub fn compiled_out(missing: NotAType) {}

fn main() {
    assert_eq!(double(21), 42);
    assert_eq!(private(String::from("abc"), 0), 3);
    assert_eq!(constant(1), 2);
}
