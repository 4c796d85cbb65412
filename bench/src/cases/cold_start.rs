//! Cold start: building a fresh pool of 2 and getting its first result,
//! against spawning a minimal child (this binary in echo mode) and reading
//! its first reply, repetitions alternated. procspawn is measured in the
//! same repetitions two ways: a new `Pool` of 2 to its first result (the
//! same work as procs', the ratio's figure), and its main API, a plain
//! `spawn` of one trivial call joined (shown beside it). Tearing down is not
//! timed.

use std::time::Instant;

use procs::{Pool, proc};

use super::{Ctx, procs_error};
use crate::child::EchoChild;
use crate::peer;
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
    let mut peer_pool = Vec::new();
    let mut peer_spawn = Vec::new();
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

        peer_pool.push(peer::time_cold_pool(2)?);
        let started = Instant::now();
        peer::spawn_trivial()?;
        peer_spawn.push(started.elapsed().as_secs_f64());
    }
    for (what, samples) in [
        ("procs", &procs),
        ("spawn", &spawn),
        ("procspawn Pool", &peer_pool),
        ("procspawn spawn", &peer_spawn),
    ] {
        let all: Vec<String> = samples.iter().map(|&s| time(s)).collect();
        eprintln!("   {what}: {}", all.join(", "));
    }
    let (procs, spawn) = (median(&procs), median(&spawn));
    let (peer_pool, peer_spawn) = (median(&peer_pool), median(&peer_spawn));
    Ok(vec![
        Row::measured(
            "cold start: new pool of 2 to first result",
            time(procs),
            format!("{} spawn + first reply", time(spawn)),
            procs / spawn,
            Goal::AtMost(1.5),
        )
        .vs_procspawn(
            procs / peer_pool,
            format!(
                "Pool of 2: {}; plain spawn + join: {}",
                time(peer_pool),
                time(peer_spawn)
            ),
        ),
    ])
}
