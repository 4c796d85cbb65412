//! Cold start: building a fresh pool of 2 and getting its first result,
//! against spawning a minimal child (this binary in echo mode) and reading
//! its first reply, repetitions alternated. Tearing down is not timed.

use std::time::Instant;

use procs::{Pool, proc};

use super::{Ctx, procs_error};
use crate::child::EchoChild;
use crate::remote::trivial;
use crate::stats::{median, time};
use crate::table::{Goal, Row};

/// A pause before the first repetition: the cases before this one free
/// gigabytes and stop dozens of processes, and the kernel's clean-up after
/// them (reclaim, compaction) briefly takes a CPU that two starting workers
/// and their caller need. Seen in full runs as a stretch of repetitions at
/// twice the time, never in single-case runs.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    std::thread::sleep(SETTLE);
    let reps = ctx.size(21, 5);
    let mut procs = Vec::new();
    let mut spawn = Vec::new();
    for rep in 0..reps {
        let started = Instant::now();
        let pool = Pool::builder().workers(2).build().map_err(procs_error)?;
        pool.call(proc!(trivial())).map_err(procs_error)?;
        procs.push(started.elapsed().as_secs_f64());
        drop(pool);

        let started = Instant::now();
        let mut child = EchoChild::spawn().map_err(|e| format!("echo child: {e}"))?;
        child
            .round_trip(rep as u64)
            .map_err(|e| format!("echo child: {e}"))?;
        spawn.push(started.elapsed().as_secs_f64());
        drop(child);
    }
    eprintln!(
        "   procs: {}",
        procs
            .iter()
            .map(|&s| time(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "   spawn: {}",
        spawn
            .iter()
            .map(|&s| time(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (procs, spawn) = (median(&procs), median(&spawn));
    Ok(vec![Row::measured(
        "cold start: new pool of 2 to first result",
        time(procs),
        format!("{} spawn + first reply", time(spawn)),
        procs / spawn,
        Goal::AtMost(1.5),
    )])
}
