//! CPU-bound scaling: tasks of about 1 ms of real compute (the loop count is
//! calibrated in this process first), through `pmap` on a pool of 2 workers
//! against a pool of 1, repetitions alternated; and the same tasks through
//! procspawn `Pool`s of 2 and of 1 (at most `peer::WINDOW` handles
//! outstanding), in the same repetitions.

use std::time::{Duration, Instant};

use procs::Pool;

use super::{Ctx, procs_error, warm_pool};
use crate::peer::Peer;
use crate::remote::spin;
use crate::stats::{median, rate, time};
use crate::table::{Goal, Row};

const TASK_TIME: Duration = Duration::from_millis(1);

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let tasks: u64 = ctx.size(2_000, 300);
    let reps = ctx.size(3, 2);
    let iterations = calibrate();
    eprintln!(
        "   {iterations} iterations take {} here",
        time(time_spin(iterations))
    );
    let one = warm_pool(Pool::builder().workers(1))?;
    let two = warm_pool(Pool::builder().workers(2))?;
    let throughput = |pool: &Pool| -> Result<f64, String> {
        let started = Instant::now();
        let results = pool
            .pmap(spin, (0..tasks).map(|_| iterations))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(procs_error)?;
        let seconds = started.elapsed().as_secs_f64();
        if results.iter().any(|&r| r != results[0]) {
            return Err("spin returned different values for the same input".into());
        }
        Ok(tasks as f64 / seconds)
    };
    let peer_one = Peer::warm(1)?;
    let peer_two = Peer::warm(2)?;
    let peer_throughput = |peer: &Peer| -> Result<f64, String> {
        let started = Instant::now();
        let results = peer.map(spin, (0..tasks).map(|_| iterations))?;
        let seconds = started.elapsed().as_secs_f64();
        if results.iter().any(|&r| r != spin(iterations)) {
            return Err("procspawn: spin returned another value".into());
        }
        Ok(tasks as f64 / seconds)
    };
    let mut single = Vec::new();
    let mut double = Vec::new();
    let mut peer_single = Vec::new();
    let mut peer_double = Vec::new();
    for rep in 0..reps {
        single.push(throughput(&one)?);
        double.push(throughput(&two)?);
        peer_single.push(peer_throughput(&peer_one)?);
        peer_double.push(peer_throughput(&peer_two)?);
        eprintln!(
            "   rep {rep}: 1 worker {}, 2 workers {}; procspawn 1 {}, 2 {}",
            rate(single[rep], "tasks"),
            rate(double[rep], "tasks"),
            rate(peer_single[rep], "tasks"),
            rate(peer_double[rep], "tasks"),
        );
    }
    let (single, double) = (median(&single), median(&double));
    let (peer_single, peer_double) = (median(&peer_single), median(&peer_double));
    Ok(vec![
        Row::measured(
            format!("CPU-bound scaling ({tasks} tasks of ~1 ms), 2 workers vs 1"),
            rate(double, "tasks"),
            format!("{} with 1 worker", rate(single, "tasks")),
            double / single,
            Goal::AtLeast(1.9),
        )
        .vs_procspawn(
            peer_double / double,
            format!(
                "Pool of 2: {}, {:.2}× its pool of 1",
                rate(peer_double, "tasks"),
                peer_double / peer_single
            ),
        ),
    ])
}

/// The loop count of `spin` that takes about [`TASK_TIME`] here.
fn calibrate() -> u64 {
    let mut iterations = 1 << 12;
    while time_spin(iterations) < TASK_TIME.as_secs_f64() / 4.0 {
        iterations *= 2;
    }
    let scaled = iterations as f64 * TASK_TIME.as_secs_f64() / time_spin(iterations);
    scaled.round() as u64
}

/// The median time of five runs of `spin(iterations)` in this process.
fn time_spin(iterations: u64) -> f64 {
    let samples: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(spin(std::hint::black_box(iterations)));
            started.elapsed().as_secs_f64()
        })
        .collect();
    median(&samples)
}
