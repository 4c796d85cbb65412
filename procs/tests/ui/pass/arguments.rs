use procs::remote;

#[remote(id = "geometry::area/v1")]
pub fn area(w: f64, h: f64) -> f64 {
    w * h
}

#[remote(crate = ::procs)]
pub fn path_override(x: u8) -> u8 {
    x
}

#[remote(crate = "::procs", id = "string-override")]
pub fn string_override(x: u8) -> u8 {
    x
}

#[remote()]
pub fn empty_parens() {}

fn main() {
    assert_eq!(area(2.0, 3.0), 6.0);
    assert_eq!(path_override(1) + string_override(1), 2);
    empty_parens();
}
