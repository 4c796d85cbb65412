//! Unbatched stream: 10,000 trivial tasks through `pmap` on a pool pinned
//! to one task per message (`chunk_size(1)`), against Python's
//! `Pool(2).imap(f, xs, chunksize=1)` and the same calls through a warm
//! procspawn `Pool` of 2 (one `spawn` per call, at most `peer::WINDOW`
//! handles outstanding, joined in order), repetitions alternated.
//!
//! Then the physical limit of the case (`pipe_limit`): the same messages
//! over raw pipes, as many kept ahead as procs pipelines.
//!
//! Then where procspawn breaks without that bound: a child process spawns
//! calls into a procspawn pool without joining any until a `spawn` fails,
//! and the row reports how many handles were outstanding then, under this
//! process's descriptor limit.

use procs::Pool;

use super::{Ctx, pipe_limit, stream, warm_pool};
use crate::peer::{self, Peer};
use crate::python::NOT_FOUND;
use crate::stats::{count, median, rate};
use crate::table::{Goal, Row};

const TASKS: u64 = 10_000;
const CASE: &str = "unbatched stream (10,000 tasks, chunk_size 1) vs Python imap(chunksize=1)";

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let reps = ctx.size(5, 3);
    let goal = Goal::AtLeast(10.0);
    let pool = warm_pool(Pool::builder().workers(2).chunk_size(1))?;
    let peer = Peer::warm(2)?;
    let rates = stream::alternate(ctx, &pool, TASKS, reps, "imap1", Some(&peer))?;
    drop(peer);
    let traffic = pipe_limit::traffic(&pool, TASKS)?;
    let limit = pipe_limit::limit(traffic, TASKS, reps, pipe_limit::PIPELINED)?;
    let procs = median(&rates.procs);
    let procspawn = median(&rates.procspawn);
    let row = match ctx.python {
        None => Row::not_applicable(CASE, NOT_FOUND, goal),
        Some(_) => {
            let python = median(&rates.python);
            Row::measured(
                CASE,
                rate(procs, "tasks"),
                format!("{} Python", rate(python, "tasks")),
                procs / python,
                goal,
            )
        }
    };
    let row = row.vs_procspawn(
        procspawn / procs,
        format!(
            "Pool, {} handles outstanding: {}",
            peer::WINDOW,
            rate(procspawn, "tasks")
        ),
    );
    let limit_row = pipe_limit::row("unbatched", procs, limit, traffic, TASKS);
    Ok(vec![row, limit_row, exhaustion_row()?])
}

/// Where an unbounded stream of procspawn calls runs out of descriptors.
fn exhaustion_row() -> Result<Row, String> {
    let found = peer::probe_fd_exhaustion()?;
    eprintln!("   procspawn without a bound: {}", found.error);
    let figure = match found.handles {
        Some(handles) => format!(
            "`spawn` panics at {} outstanding handles ({}; {:.1} descriptors each)",
            count(handles),
            describe(&found.error),
            found.fd_limit as f64 / handles as f64,
        ),
        None => "never failed".into(),
    };
    Ok(Row::info(
        format!(
            "procspawn Pool, unbounded stream (ulimit -n {})",
            found.fd_limit
        ),
        "-",
    )
    .procspawn_note(figure))
}

/// The failure, short: procspawn unwraps the `io::Error` of a failed
/// `socketpair`, so its panic message is that error's `Debug`.
fn describe(error: &str) -> String {
    if error.contains("Too many open files") {
        "EMFILE".into()
    } else {
        error.chars().take(80).collect()
    }
}
