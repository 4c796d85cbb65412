use std::collections::HashMap;

use procs::remote;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Image {
    pub pixels: Vec<u8>,
}

#[remote]
pub fn patterns((a, b): (u32, u32), mut list: Vec<String>, _: bool) -> (u32, usize) {
    list.push(String::new());
    (a + b, list.len())
}

#[remote]
pub fn custom(image: Image, scales: HashMap<String, f32>) -> Option<Image> {
    (!scales.is_empty()).then_some(image)
}

#[remote]
pub fn fallible(text: String) -> Result<u64, String> {
    text.parse().map_err(|_| text)
}

#[remote]
pub fn raw_name(r#type: String) -> std::borrow::Cow<'static, str> {
    r#type.into()
}

#[remote]
pub fn r#match(x: [u8; 4]) -> Box<[u8; 4]> {
    Box::new(x)
}

fn main() {
    assert_eq!(patterns((1, 2), Vec::new(), true), (3, 1));
    assert!(custom(Image { pixels: vec![] }, HashMap::new()).is_none());
    assert_eq!(fallible("7".into()), Ok(7));
    assert_eq!(raw_name("t".into()), "t");
    assert_eq!(*r#match([1; 4]), [1; 4]);
}
