//! Batched tiny tasks: 1,000,000 `u64 -> u64` tasks through `pmap` with the
//! default adaptive batching, as an absolute rate and against Python's
//! `Pool(2).map(f, xs)` with its default chunksize, repetitions alternated;
//! and beside them the physical limit for the bytes this case moves
//! (`pipe_limit`).

use procs::Pool;

use super::{Ctx, pipe_limit, stream, warm_pool};
use crate::python::NOT_FOUND;
use crate::stats::{count, median, rate};
use crate::table::{Goal, Row};

/// The absolute target, in tasks per second (issue 14; issue 5 set 10 M).
const TARGET_RATE: f64 = 15e6;

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let tasks: u64 = ctx.size(1_000_000, 200_000);
    let reps = ctx.size(5, 3);
    let pool = warm_pool(Pool::builder().workers(2))?;
    let rates = stream::alternate(ctx, &pool, tasks, reps, "map", None)?;
    let procs = median(&rates.procs);
    let traffic = pipe_limit::traffic(&pool, tasks)?;
    drop(pool);
    let limit = pipe_limit::limit(traffic, tasks, reps, 1)?;
    eprintln!("   physical limit: {} ({traffic:?})", rate(limit, "tasks"));
    let mut rows = vec![Row::labelled(
        format!(
            "batched tiny tasks ({} u64 -> u64, adaptive batching)",
            count(tasks)
        ),
        rate(procs, "tasks"),
        "15 M tasks/s (absolute target)",
        procs / TARGET_RATE,
        Goal::AtLeast(1.0),
        "≥ 15 M tasks/s",
    )];
    let case = format!(
        "batched tiny tasks ({}) vs Python Pool.map (default chunksize)",
        count(tasks)
    );
    let goal = Goal::AtLeast(3.0);
    rows.push(match ctx.python {
        None => Row::not_applicable(case, NOT_FOUND, goal),
        Some(_) => {
            let python = median(&rates.python);
            Row::measured(
                case,
                rate(procs, "tasks"),
                format!("{} Python", rate(python, "tasks")),
                procs / python,
                goal,
            )
        }
    });
    rows.push(pipe_limit::row("batched", procs, limit, traffic, tasks));
    Ok(rows)
}
