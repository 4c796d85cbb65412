use procs::remote;

pub struct Config;

#[remote]
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[remote]
pub fn checksum(data: &[u8]) -> u8 {
    data.iter().fold(0, |a, b| a ^ b)
}

#[remote]
pub fn apply(_config: &mut Config) {}

#[remote]
pub fn total(lines: Vec<&'static str>) -> usize {
    lines.len()
}

fn main() {}
