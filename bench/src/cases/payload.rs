//! Large payloads: a 256 MiB `Vec<u8>` argument echoed back by a worker
//! (256 MiB in, 256 MiB out) on the pipe and the ipc transports, as bytes
//! moved per second, against memcpy bandwidth (a copy into a reused, already
//! faulted-in buffer), the three alternated in each repetition. The figure
//! is (bytes in + bytes out) / round-trip time; the baseline is bytes
//! copied / copy time.
//!
//! Then the comparison with procspawn, at the size procspawn is asked about
//! (64 MiB): the same echo through procs' pipe pool and through a warm
//! procspawn `Pool` of 2 (`spawn` then `join`), alternated, with memcpy of
//! that size as the baseline.

use std::time::{Duration, Instant};

use procs::{IpcTransport, PipeTransport, Pool, proc};

use super::{Ctx, procs_error, warm_pool};
use crate::peer::Peer;
use crate::remote::echo;
use crate::stats::{bandwidth, median};
use crate::table::{Goal, Row};

/// A pause before each timed copy, so that the previous round's frees and
/// unmappings (in this process and the worker, on the same two CPUs) are
/// over.
const SETTLE: Duration = Duration::from_millis(100);

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let size: usize = ctx.size(256 << 20, 32 << 20);
    let reps = ctx.size(5, 2);
    let pipe = warm_pool(
        Pool::builder()
            .workers(2)
            .transport(PipeTransport::default()),
    )?;
    let ipc = warm_pool(
        Pool::builder()
            .workers(2)
            .transport(IpcTransport::default()),
    )?;

    let mut buffer: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    // Faulted in before the first timed copy: the baseline copies into a
    // reused buffer.
    let mut copy = buffer.clone();
    // The first large call into a worker receives into fresh memory, which
    // the kernel faults in page by page; after it, each worker receives into
    // the buffer of its last result. One call per worker, reported apart:
    // the table shows the steady state, like the memcpy baseline.
    for (name, pool) in [("pipe", &pipe), ("ipc", &ipc)] {
        let started = Instant::now();
        let inputs = vec![buffer.clone(); pool.workers()];
        let echoed = pool
            .pmap(echo, inputs)
            .collect::<Result<Vec<_>, _>>()
            .map_err(procs_error)?;
        let moved = 2.0 * (size * echoed.len()) as f64;
        eprintln!(
            "   {name}: first call into each worker {} (in + out)",
            bandwidth(moved / started.elapsed().as_secs_f64())
        );
        if echoed.iter().any(|back| *back != copy) {
            return Err("the echoed buffer differs from the one sent".into());
        }
    }
    let mut memcpy = Vec::new();
    let mut on_pipe = Vec::new();
    let mut on_ipc = Vec::new();
    for rep in 0..reps {
        std::thread::sleep(SETTLE);
        let started = Instant::now();
        copy.copy_from_slice(std::hint::black_box(&buffer));
        memcpy.push(size as f64 / started.elapsed().as_secs_f64());

        for (pool, figures) in [(&pipe, &mut on_pipe), (&ipc, &mut on_ipc)] {
            std::thread::sleep(SETTLE);
            let started = Instant::now();
            let back = pool.call(proc!(echo(buffer))).map_err(procs_error)?;
            figures.push(2.0 * size as f64 / started.elapsed().as_secs_f64());
            if back != copy {
                return Err("the echoed buffer differs from the one sent".into());
            }
            buffer = back;
        }
        eprintln!(
            "   rep {rep}: pipe {}, ipc {} (in + out); memcpy {}",
            bandwidth(on_pipe[rep]),
            bandwidth(on_ipc[rep]),
            bandwidth(memcpy[rep])
        );
    }
    let memcpy = median(&memcpy);
    let mib = size >> 20;
    let row = |transport: &str, figures: &[f64], goal: f64| {
        let figure = median(figures);
        Row::measured(
            format!("large payload, {transport}: {mib} MiB Vec<u8> in + out"),
            bandwidth(figure),
            format!("{} memcpy", bandwidth(memcpy)),
            figure / memcpy,
            Goal::AtLeast(goal),
        )
    };
    // Freed first, so that their buffers do not crowd the comparison.
    drop((pipe, ipc));
    let peer_row = vs_procspawn(ctx)?;
    Ok(vec![
        row("pipe", &on_pipe, 0.25),
        row("ipc", &on_ipc, 0.5),
        peer_row,
    ])
}

/// A `Vec<u8>` of 64 MiB echoed through a procs `pipe` pool and through a
/// procspawn pool, repetitions alternated, beside memcpy of that size.
///
/// Both pools are new: the pipe pool that has just carried 256 MiB calls
/// carried 64 MiB ones at about half the rate of a new one (1–2 against
/// 3–4 GiB/s), which belongs to the 256 MiB rows' history, not to this
/// comparison.
fn vs_procspawn(ctx: &Ctx) -> Result<Row, String> {
    let size: usize = ctx.size(64 << 20, 16 << 20);
    let reps = ctx.size(5, 2);
    let pipe = warm_pool(
        Pool::builder()
            .workers(2)
            .transport(PipeTransport::default()),
    )?;
    let peer = Peer::warm(2)?;
    // Each side echoes its own buffer, as it would in a loop of its own:
    // procs receives into the buffers it sent and got before, procspawn
    // allocates its results.
    let mut buffer: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut theirs = buffer.clone();
    let mut copy = buffer.clone();
    // Each side's first large call faults in its buffers; not timed.
    theirs = peer.echo(theirs)?;
    buffer = pipe.call(proc!(echo(buffer))).map_err(procs_error)?;

    let (mut memcpy, mut procs, mut procspawn) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        std::thread::sleep(SETTLE);
        let started = Instant::now();
        copy.copy_from_slice(std::hint::black_box(&buffer));
        memcpy.push(size as f64 / started.elapsed().as_secs_f64());

        std::thread::sleep(SETTLE);
        let started = Instant::now();
        buffer = pipe.call(proc!(echo(buffer))).map_err(procs_error)?;
        procs.push(2.0 * size as f64 / started.elapsed().as_secs_f64());

        std::thread::sleep(SETTLE);
        let started = Instant::now();
        theirs = peer.echo(theirs)?;
        procspawn.push(2.0 * size as f64 / started.elapsed().as_secs_f64());
        if buffer != copy || theirs != copy {
            return Err("an echoed buffer differs from the one sent".into());
        }
        eprintln!(
            "   rep {rep}: {} MiB: procs pipe {}, procspawn {} (in + out); memcpy {}",
            size >> 20,
            bandwidth(procs[rep]),
            bandwidth(procspawn[rep]),
            bandwidth(memcpy[rep])
        );
    }
    let (memcpy, procs, procspawn) = (median(&memcpy), median(&procs), median(&procspawn));
    Ok(Row::compared(
        format!("large payload, pipe: {} MiB Vec<u8> in + out", size >> 20),
        bandwidth(procs),
        format!("{} memcpy", bandwidth(memcpy)),
        procs / memcpy,
        "- (procspawn's size)",
    )
    .vs_procspawn(procspawn / procs, format!("Pool: {}", bandwidth(procspawn))))
}
