//! Timeouts keep batching (issue 14, point 2): `pmap` over 1,000,000
//! `u64 -> u64` tasks on a pool with a pool-wide `timeout` against the same
//! pool without one, repetitions alternated. Every timed call is held to its
//! own deadline by the worker's watchdog, so the ratio is the price of that
//! watchdog (a clock read and two atomics per call).

use std::time::{Duration, Instant};

use procs::Pool;

use super::{Ctx, procs_error, warm_pool};
use crate::cpu::Cpu;
use crate::remote::inc;
use crate::stats::{count, median, rate};
use crate::table::{Goal, Row};

/// Far above any call's time: the deadline is there to be paid for, not hit.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The pause before each repetition, as in the other stream cases.
const SETTLE: Duration = Duration::from_millis(200);

/// Calls run untimed right before each timed repetition.
const WARM_UP: u64 = 1000;

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let tasks: u64 = ctx.size(1_000_000, 200_000);
    let reps = ctx.size(7, 3);
    let untimed = warm_pool(Pool::builder().workers(2))?;
    let timed = warm_pool(Pool::builder().workers(2).timeout(TIMEOUT))?;
    let (mut plain, mut with_timeout) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Alternated, and each pool warmed right before its clock starts,
        // so that both see the same machine. The CPU per call shows where a
        // difference comes from.
        // Which goes first alternates too, so that neither always runs
        // right after the other's load.
        let calls = tasks + WARM_UP;
        let measure = |pool: &Pool| -> Result<(f64, String), String> {
            let before = Cpu::now();
            let rate = rate_of(pool, tasks)?;
            Ok((rate, Cpu::now().per_call_since(&before, calls)))
        };
        let ((p, p_cpu), (t, t_cpu)) = if rep % 2 == 0 {
            let p = measure(&untimed)?;
            (p, measure(&timed)?)
        } else {
            let t = measure(&timed)?;
            (measure(&untimed)?, t)
        };
        plain.push(p);
        with_timeout.push(t);
        eprintln!(
            "   rep {rep}: untimed {} ({p_cpu}), timed {} ({t_cpu}), ratio {:.2}",
            rate(p, "tasks"),
            rate(t, "tasks"),
            t / p
        );
    }
    // The median of each pair's ratio: the two runs of a pair, back to
    // back, share the machine's load far more than all runs of a side do.
    let ratios: Vec<f64> = with_timeout
        .iter()
        .zip(&plain)
        .map(|(t, p)| t / p)
        .collect();
    let ratio = median(&ratios);
    let (plain, with_timeout) = (median(&plain), median(&with_timeout));
    Ok(vec![Row::measured(
        format!(
            "batched tiny tasks ({}) with a pool-wide timeout vs without",
            count(tasks)
        ),
        rate(with_timeout, "tasks"),
        format!("{} untimed", rate(plain, "tasks")),
        ratio,
        Goal::AtLeast(0.8),
    )])
}

/// Tasks per second of one checked `pmap(inc, 0..tasks)` on `pool`.
fn rate_of(pool: &Pool, tasks: u64) -> Result<f64, String> {
    std::thread::sleep(SETTLE);
    sum_of(pool, WARM_UP)?;
    let started = Instant::now();
    sum_of(pool, tasks)?;
    Ok(tasks as f64 / started.elapsed().as_secs_f64())
}

fn sum_of(pool: &Pool, n: u64) -> Result<(), String> {
    let sum = pool
        .pmap(inc, 0..n)
        .sum::<Result<u64, _>>()
        .map_err(procs_error)?;
    match sum == n * (n + 1) / 2 {
        true => Ok(()),
        false => Err(format!("wrong sum {sum}")),
    }
}
