//! Memory: `pmap` over the lazy range `0..10_000_000` on a pool of 2, with
//! a consumer that sleeps 1 ms every 2,000 results (far slower than the
//! workers) and stops after a few seconds. The parent's peak RSS (`VmHWM`,
//! and `VmRSS` sampled as it goes) must stay under 64 MiB. It runs in a
//! fresh child process so that earlier cases do not raise the high-water
//! mark.

use std::thread::sleep;
use std::time::{Duration, Instant};

use procs::Pool;

use super::Ctx;
use crate::child::run_memory_child;
use crate::remote::inc;
use crate::report::Report;
use crate::stats::{mib, status_kib};
use crate::table::{Goal, Row};

const ITEMS: u64 = 10_000_000;
const LIMIT_MIB: f64 = 64.0;
const ENV_SECONDS: &str = "PROCS_BENCH_MEMORY_SECONDS";
/// Results taken between two naps of the consumer.
const PER_NAP: u64 = 2_000;
const NAP: Duration = Duration::from_millis(1);

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let seconds: f64 = ctx.size(4.0, 1.0);
    let output = run_memory_child(&[(ENV_SECONDS, seconds.to_string())])?;
    let report = Report::parse(&output);
    let peak = report.number("peak_kib")? * 1024.0;
    let base = report.number("base_kib")? * 1024.0;
    let consumed = report.number("consumed")?;
    let took = report.number("seconds")?;
    eprintln!(
        "   RSS {} with the pool started, peak {}; {consumed} results taken in {took:.1} s",
        mib(base),
        mib(peak)
    );
    Ok(vec![Row::labelled(
        format!(
            "memory: pmap over 0..10,000,000, slow consumer ({:.1} M results in {took:.1} s), peak RSS",
            consumed / 1e6
        ),
        mib(peak),
        "64 MiB (limit)",
        peak / (LIMIT_MIB * (1u64 << 20) as f64),
        Goal::AtMost(1.0),
        "peak ≤ 64 MiB",
    )])
}

/// The memory child: runs the slow consumer and prints `key value` lines.
pub(crate) fn child_main() -> i32 {
    let seconds: f64 = std::env::var(ENV_SECONDS)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let pool = match Pool::builder().workers(2).build() {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("memory child: {error}");
            return 1;
        }
    };
    let base = status_kib("VmRSS").unwrap_or(0);
    let mut peak = base;
    let started = Instant::now();
    let mut consumed = 0u64;
    let mut results = pool.pmap(inc, 0..ITEMS);
    for result in results.by_ref() {
        match result {
            Ok(value) if value == consumed + 1 => consumed += 1,
            Ok(value) => {
                eprintln!("memory child: result {consumed} is {value}");
                return 1;
            }
            Err(error) => {
                eprintln!("memory child: {error}");
                return 1;
            }
        }
        if consumed.is_multiple_of(PER_NAP) {
            sleep(NAP);
            peak = peak.max(status_kib("VmRSS").unwrap_or(0));
            if started.elapsed().as_secs_f64() >= seconds {
                break;
            }
        }
    }
    drop(results);
    let took = started.elapsed().as_secs_f64();
    let peak = peak.max(status_kib("VmHWM").unwrap_or(0));
    println!("base_kib {base}");
    println!("peak_kib {peak}");
    println!("consumed {consumed}");
    println!("seconds {took}");
    0
}
