//! Unbatched stream: 10,000 trivial tasks through `pmap` on a pool pinned
//! to one task per message (`chunk_size(1)`), against Python's
//! `Pool(2).imap(f, xs, chunksize=1)`, repetitions alternated.

use std::time::Instant;

use procs::Pool;

use super::{Ctx, procs_error, warm, warm_pool};
use crate::cpu::Cpu;
use crate::python::NOT_FOUND;
use crate::remote::inc;
use crate::stats::{median, rate};
use crate::table::{Goal, Row};

const TASKS: u64 = 10_000;
const CASE: &str = "unbatched stream (10,000 tasks, chunk_size 1) vs Python imap(chunksize=1)";

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let reps = ctx.size(5, 3);
    let goal = Goal::AtLeast(10.0);
    let pool = warm_pool(Pool::builder().workers(2).chunk_size(1))?;
    let mut procs = Vec::new();
    let mut python = Vec::new();
    // See the batched case: Python's runs add nothing to these threads.
    let cpu_before = Cpu::now();
    for rep in 0..reps {
        // As the Python anchor warms its pool right before its clock starts
        // (1,000 tasks), so does procs: the machine may have idled or run
        // Python since the last repetition, and the first milliseconds after
        // that run at half speed on these VMs.
        std::thread::sleep(crate::cases::SETTLE);
        warm(&pool)?;
        let started = Instant::now();
        let sum = pool
            .pmap(inc, 0..TASKS)
            .sum::<Result<u64, _>>()
            .map_err(procs_error)?;
        let seconds = started.elapsed().as_secs_f64();
        if sum != TASKS * (TASKS + 1) / 2 {
            return Err(format!("wrong sum {sum}"));
        }
        procs.push(TASKS as f64 / seconds);

        if let Some(py) = &ctx.python {
            std::thread::sleep(crate::cases::SETTLE);
            let report = py.run("pool.py", &["imap1".into(), TASKS.to_string()])?;
            python.push(TASKS as f64 / report.number("seconds")?);
        }
        eprintln!(
            "   rep {rep}: procs {}, python {}",
            rate(procs[rep], "tasks"),
            python.last().map_or("-".into(), |&r| rate(r, "tasks"))
        );
    }
    eprintln!(
        "   {}",
        Cpu::now().per_call_since(&cpu_before, (TASKS + 1000) * reps as u64)
    );
    let procs = median(&procs);
    if ctx.python.is_none() {
        return Ok(vec![Row::not_applicable(CASE, NOT_FOUND, goal)]);
    }
    let python = median(&python);
    Ok(vec![Row::measured(
        CASE,
        rate(procs, "tasks"),
        format!("{} Python", rate(python, "tasks")),
        procs / python,
        goal,
    )])
}
