//! Batched tiny tasks: 1,000,000 `u64 -> u64` tasks through `pmap` with the
//! default adaptive batching, as an absolute rate and against Python's
//! `Pool(2).map(f, xs)` with its default chunksize, repetitions alternated.

use std::time::Instant;

use procs::Pool;

use super::{Ctx, procs_error, warm, warm_pool};
use crate::cpu::Cpu;
use crate::python::NOT_FOUND;
use crate::remote::inc;
use crate::stats::{count, median, rate};
use crate::table::{Goal, Row};

/// The absolute target, in tasks per second.
const TARGET_RATE: f64 = 10e6;

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let tasks: u64 = ctx.size(1_000_000, 200_000);
    let reps = ctx.size(5, 3);
    let pool = warm_pool(Pool::builder().workers(2))?;
    let mut procs = Vec::new();
    let mut python = Vec::new();
    // Over every repetition: the slot threads and workers idle while Python
    // runs, and the caller waits for it without using CPU.
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
            .pmap(inc, 0..tasks)
            .sum::<Result<u64, _>>()
            .map_err(procs_error)?;
        let seconds = started.elapsed().as_secs_f64();
        if sum != tasks * (tasks + 1) / 2 {
            return Err(format!("wrong sum {sum}"));
        }
        procs.push(tasks as f64 / seconds);

        if let Some(py) = &ctx.python {
            std::thread::sleep(crate::cases::SETTLE);
            let report = py.run("pool.py", &["map".into(), tasks.to_string()])?;
            python.push(tasks as f64 / report.number("seconds")?);
        }
        eprintln!(
            "   rep {rep}: procs {}, python {}",
            rate(procs[rep], "tasks"),
            python.last().map_or("-".into(), |&r| rate(r, "tasks"))
        );
    }
    eprintln!(
        "   {}",
        Cpu::now().per_call_since(&cpu_before, (tasks + 1000) * reps as u64)
    );
    let procs = median(&procs);
    let mut rows = vec![Row::labelled(
        format!(
            "batched tiny tasks ({} u64 -> u64, adaptive batching)",
            count(tasks)
        ),
        rate(procs, "tasks"),
        "10 M tasks/s (absolute target)",
        procs / TARGET_RATE,
        Goal::AtLeast(1.0),
        "≥ 10 M tasks/s",
    )];
    let case = format!(
        "batched tiny tasks ({}) vs Python Pool.map (default chunksize)",
        count(tasks)
    );
    let goal = Goal::AtLeast(3.0);
    rows.push(match ctx.python {
        None => Row::not_applicable(case, NOT_FOUND, goal),
        Some(_) => {
            let python = median(&python);
            Row::measured(
                case,
                rate(procs, "tasks"),
                format!("{} Python", rate(python, "tasks")),
                procs / python,
                goal,
            )
        }
    });
    Ok(rows)
}
