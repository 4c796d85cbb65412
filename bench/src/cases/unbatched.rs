//! Unbatched stream: 10,000 trivial tasks through `pmap` on a pool pinned
//! to one task per message (`chunk_size(1)`), against Python's
//! `Pool(2).imap(f, xs, chunksize=1)`, repetitions alternated.

use procs::Pool;

use super::{Ctx, stream, warm_pool};
use crate::python::NOT_FOUND;
use crate::stats::{median, rate};
use crate::table::{Goal, Row};

const TASKS: u64 = 10_000;
const CASE: &str = "unbatched stream (10,000 tasks, chunk_size 1) vs Python imap(chunksize=1)";

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let reps = ctx.size(5, 3);
    let goal = Goal::AtLeast(10.0);
    let pool = warm_pool(Pool::builder().workers(2).chunk_size(1))?;
    let rates = stream::alternate(ctx, &pool, TASKS, reps, "imap1")?;
    let procs = median(&rates.procs);
    if ctx.python.is_none() {
        return Ok(vec![Row::not_applicable(CASE, NOT_FOUND, goal)]);
    }
    let python = median(&rates.python);
    Ok(vec![Row::measured(
        CASE,
        rate(procs, "tasks"),
        format!("{} Python", rate(python, "tasks")),
        procs / python,
        goal,
    )])
}
