use procs::remote;

pub struct Image {
    pub pixels: Vec<u8>,
}

#[remote]
pub fn brightness(scale: u8, image: Image) -> u64 {
    image
        .pixels
        .iter()
        .map(|&p| u64::from(p) * u64::from(scale))
        .sum()
}

fn main() {}
