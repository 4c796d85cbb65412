//! Warm single call: `call(proc!(trivial()))` on a warm pool of 2, against a
//! raw pipe round trip of 8 bytes to a minimal echo child, and against the
//! same trivial call through a warm procspawn `Pool` of 2 (`spawn` then
//! `join`), alternated in blocks of back-to-back calls so all three see the
//! same machine. Between blocks
//! a short pause lets procs' threads stop polling (they poll for tens of
//! microseconds after each hand-off), which would otherwise steal CPU from
//! the raw round trips measured next. Medians of many.

use std::time::{Duration, Instant};

use procs::{Pool, proc};

use super::{Ctx, procs_error, warm_pool};
use crate::child::EchoChild;
use crate::peer::Peer;
use crate::remote::trivial;
use crate::stats::{median, quantile, time};
use crate::table::{Goal, Row};

/// Longer than procs' polling after a hand-off.
const PAUSE: Duration = Duration::from_millis(1);

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let iterations = ctx.size(5_000, 500);
    let pool = warm_pool(Pool::builder().workers(2))?;
    let mut echo = EchoChild::spawn().map_err(|e| format!("echo child: {e}"))?;
    let peer = Peer::warm(2)?;
    for i in 0..200 {
        pool.call(proc!(trivial())).map_err(procs_error)?;
        echo.round_trip(i).map_err(|e| format!("echo child: {e}"))?;
        peer.trivial()?;
    }

    const BLOCK: usize = 50;
    let mut procs = Vec::with_capacity(iterations);
    let mut raw = Vec::with_capacity(iterations);
    let mut procspawn = Vec::with_capacity(iterations);
    for block in 0..iterations.div_ceil(BLOCK) {
        for _ in 0..BLOCK {
            let started = Instant::now();
            pool.call(proc!(trivial())).map_err(procs_error)?;
            procs.push(started.elapsed().as_secs_f64());
        }
        std::thread::sleep(PAUSE);
        for i in 0..BLOCK {
            let started = Instant::now();
            echo.round_trip((block * BLOCK + i) as u64)
                .map_err(|e| format!("echo child: {e}"))?;
            raw.push(started.elapsed().as_secs_f64());
        }
        std::thread::sleep(PAUSE);
        for _ in 0..BLOCK {
            let started = Instant::now();
            peer.trivial()?;
            procspawn.push(started.elapsed().as_secs_f64());
        }
        std::thread::sleep(PAUSE);
    }

    for (what, samples) in [
        ("procs call", &procs),
        ("raw pipe  ", &raw),
        ("procspawn ", &procspawn),
    ] {
        eprintln!(
            "   {what}: p10 {} median {} p90 {} ({} in alternated blocks)",
            time(quantile(samples, 0.1)),
            time(median(samples)),
            time(quantile(samples, 0.9)),
            samples.len(),
        );
    }
    let (procs, raw, procspawn) = (median(&procs), median(&raw), median(&procspawn));
    Ok(vec![
        Row::measured(
            "warm single call (median latency)",
            time(procs),
            format!("{} raw pipe round trip", time(raw)),
            procs / raw,
            Goal::AtMost(1.5),
        )
        .vs_procspawn(procs / procspawn, format!("Pool: {}", time(procspawn))),
    ])
}
