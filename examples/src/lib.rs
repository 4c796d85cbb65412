//! Code shared by the runnable examples in `examples/`, their tests and the
//! benchmarks: the Wide Finder job.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod widefinder;
