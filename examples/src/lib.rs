//! Runnable examples of procs: see `examples/`.
