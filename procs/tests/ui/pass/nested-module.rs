mod math {
    pub mod ops {
        use procs::remote;

        #[remote]
        pub fn add(a: u64, b: u64) -> u64 {
            a + b
        }
    }

    // Same name, another module: another ID.
    #[procs::remote]
    pub fn add(a: u64, b: u64) -> u64 {
        a + b
    }
}

fn main() {
    assert_eq!(math::ops::add(1, 2), math::add(1, 2));
}
