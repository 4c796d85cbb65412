//! What the two stream cases share: repetitions of `pmap(inc, 0..tasks)` on
//! a warm pool, alternated with the Python anchor (and, where given, the
//! same calls through a procspawn pool), each side after the same pause and
//! warm-up.

use std::time::{Duration, Instant};

use procs::Pool;

use super::{Ctx, procs_error};
use crate::cpu::Cpu;
use crate::peer::Peer;
use crate::remote::inc;
use crate::stats::rate;

/// A pause before each timed repetition, procs' and Python's alike: right
/// after a Python run (which allocates and frees hundreds of MiB), procs
/// repetitions ran at half speed with twice the CPU per call, while the same
/// repetitions back to back did not.
const SETTLE: Duration = Duration::from_millis(200);

/// Calls run untimed right before each procs repetition, as the Python
/// anchor warms its own pool right before its clock starts.
const WARM_UP: u64 = 1000;

/// Tasks per second of each repetition, procs', (if there is a Python)
/// Python's and (if one was given) procspawn's.
pub(crate) struct Rates {
    pub(crate) procs: Vec<f64>,
    pub(crate) python: Vec<f64>,
    pub(crate) procspawn: Vec<f64>,
}

/// Runs `reps` repetitions of `tasks` calls on `pool`, each followed by the
/// Python anchor `pool.py <mode> <tasks>` and by the same calls on `peer`
/// (after its own warm-up); prints each repetition, and the
/// CPU per call of procs' threads over them all (the slot threads and workers
/// idle while Python runs, and the caller waits for it without using CPU).
pub(crate) fn alternate(
    ctx: &Ctx,
    pool: &Pool,
    tasks: u64,
    reps: usize,
    mode: &str,
    peer: Option<&Peer>,
) -> Result<Rates, String> {
    let mut rates = Rates {
        procs: Vec::new(),
        python: Vec::new(),
        procspawn: Vec::new(),
    };
    let cpu_before = Cpu::now();
    for rep in 0..reps {
        std::thread::sleep(SETTLE);
        sum_of(pool, WARM_UP)?;
        let started = Instant::now();
        sum_of(pool, tasks)?;
        rates
            .procs
            .push(tasks as f64 / started.elapsed().as_secs_f64());

        if let Some(py) = &ctx.python {
            std::thread::sleep(SETTLE);
            let report = py.run("pool.py", &[mode.into(), tasks.to_string()])?;
            rates.python.push(tasks as f64 / report.number("seconds")?);
        }
        if let Some(peer) = peer {
            std::thread::sleep(SETTLE);
            // On a thread of its own, so that the caller's CPU time below
            // stays procs' alone.
            let seconds = std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        peer.stream(WARM_UP)?;
                        let started = Instant::now();
                        peer.stream(tasks)?;
                        Ok::<_, String>(started.elapsed().as_secs_f64())
                    })
                    .join()
                    .expect("the procspawn stream panicked")
            })?;
            rates.procspawn.push(tasks as f64 / seconds);
        }
        let last = |rates: &[f64]| rates.last().map_or("-".into(), |&r| rate(r, "tasks"));
        eprintln!(
            "   rep {rep}: procs {}, python {}, procspawn {}",
            rate(rates.procs[rep], "tasks"),
            last(&rates.python),
            last(&rates.procspawn),
        );
    }
    let calls = (tasks + WARM_UP) * reps as u64;
    eprintln!("   {}", Cpu::now().per_call_since(&cpu_before, calls));
    Ok(rates)
}

/// `pmap(inc, 0..n)` on `pool`, checked.
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
