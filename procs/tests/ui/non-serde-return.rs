use procs::remote;

pub struct Report {
    pub total: u64,
}

#[remote]
pub fn summarize(values: Vec<u64>) -> Report {
    Report {
        total: values.iter().sum(),
    }
}

fn main() {}
