use procs::remote;

#[remote]
pub async fn fetch(url: String) -> String {
    url
}

fn main() {}
