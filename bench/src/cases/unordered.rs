//! Unordered results: the batched tiny-task stream (1,000,000 `u64 -> u64`
//! tasks, adaptive batching) through `pmap_unordered` beside the ordered
//! `pmap` on the same pool, repetitions alternated. The issue sets no
//! target, so the row shows the ratio without judging it.

use std::time::Instant;

use procs::Pool;

use super::{Ctx, procs_error, warm_pool};
use crate::remote::inc;
use crate::stats::{count, median, rate};
use crate::table::Row;

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let tasks: u64 = ctx.size(1_000_000, 200_000);
    let reps = ctx.size(5, 3);
    let pool = warm_pool(Pool::builder().workers(2))?;
    let expected = tasks * (tasks + 1) / 2;
    let mut ordered = Vec::new();
    let mut unordered = Vec::new();
    for rep in 0..reps {
        let started = Instant::now();
        let sum = pool
            .pmap(inc, 0..tasks)
            .sum::<Result<u64, _>>()
            .map_err(procs_error)?;
        ordered.push(tasks as f64 / started.elapsed().as_secs_f64());
        if sum != expected {
            return Err(format!("pmap: wrong sum {sum}"));
        }

        let started = Instant::now();
        let mut sum = 0;
        let mut index_sum = 0;
        for (index, result) in pool.pmap_unordered(inc, 0..tasks) {
            let value = result.map_err(procs_error)?;
            if value != index as u64 + 1 {
                return Err(format!("pmap_unordered: input {index} gave {value}"));
            }
            sum += value;
            index_sum += index as u64;
        }
        unordered.push(tasks as f64 / started.elapsed().as_secs_f64());
        if sum != expected || index_sum != expected - tasks {
            return Err(format!("pmap_unordered: wrong sum {sum}"));
        }
        eprintln!(
            "   rep {rep}: ordered {}, unordered {}",
            rate(ordered[rep], "tasks"),
            rate(unordered[rep], "tasks")
        );
    }
    let (ordered, unordered) = (median(&ordered), median(&unordered));
    Ok(vec![Row::compared(
        format!("unordered: pmap_unordered, {} tiny tasks", count(tasks)),
        rate(unordered, "tasks"),
        format!("{} ordered pmap", rate(ordered, "tasks")),
        unordered / ordered,
        "none set (beside pmap)",
    )])
}
