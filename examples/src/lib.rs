//! Tim Bray's Wide Finder, the job procs' main example runs: the ten most
//! fetched articles of an Apache log. Shared by the `widefinder` example, its
//! tests, the MPI checks and the benchmark.
//!
//! A request counts when it matches
//! `GET /ongoing/When/\d\d\dx/(\d\d\d\d/\d\d/\d\d/[^ .]+) `; the captured
//! path is the article. The file is split into newline-aligned [`Chunk`]s;
//! each is scanned on its own ([`scan`]) and the counts are merged
//! ([`merge`]), so the same code runs serially, on threads, or in worker
//! processes ([`scan_chunk`]), which receive only the path and the chunk's
//! offset and length and map the file themselves, and send their counts
//! back packed ([`PackedCounts`]).
//!
//! # Examples
//!
//! ```
//! use widefinder::{generate, scan, split, top, merge, Counts};
//!
//! let mut log = Vec::new();
//! generate(&mut log, 200_000, 1, |_| {})?;
//! let mut total = Counts::default();
//! for chunk in split(&log, 10_000) {
//!     merge(&mut total, scan(&log[chunk.range()]));
//! }
//! assert_eq!(total, scan(&log));
//! println!("{:?}", top(&total, 3));
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod chunks;
mod generate;
mod modes;
mod packed;
mod scan;
mod size;
mod top;

pub use chunks::{Chunk, default_chunk, split};
pub use generate::{DEFAULT_SEED, generate};
pub use modes::{count_procs, count_threads};
pub use packed::PackedCounts;
pub use scan::{Counts, merge, scan, scan_chunk, scan_file_serial};
pub use size::{format_size, parse_size};
pub use top::top;
