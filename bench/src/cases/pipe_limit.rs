//! The physical limits of the batched and unbatched cases: the rate at
//! which the bytes that procs' `pmap` moves cross pipes with no procs in
//! between.
//!
//! What procs moves is measured, not computed: the bytes its workers read and
//! wrote during one batched `pmap` (`rchar`, `wchar` of `/proc/PID/io`:
//! frames with their headers), and the number of messages, counted as the
//! workers' write calls (one per answer frame up to the framing's 64 KiB
//! coalescing limit, two above it, so the count errs towards more, smaller
//! messages, which makes the limit lower, not higher). The same number of
//! request and response messages, of the same mean sizes, then cross raw
//! pipes to as many minimal children as procs had workers: one parent thread
//! per child writes requests and reads responses, keeping as many requests
//! ahead as procs keeps in flight for such calls (one for batches, which
//! travel alone; [`PIPELINED`] for one-call messages, which run in bursts),
//! and, as procs does, topping them up once half are answered with one
//! write, and reading responses through a buffer; the child reads each
//! request whole and writes a response, touching neither.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::Instant;

use procs::Pool;

use super::procs_error;
use crate::stats::{count, rate};
use crate::table::Row;

/// Times the traffic crosses in one timed repetition: once takes only a few
/// milliseconds here, too short to time on a shared machine.
const ROUNDS: u64 = 8;

/// Requests a burst keeps in flight per worker for short one-call jobs
/// (procs-core's `BURST_DEPTH`).
pub(crate) const PIPELINED: u64 = 64;

/// The most request bytes kept ahead: well within a pipe's buffer, so that
/// the writing thread never blocks while the child waits to write.
const AHEAD_BYTES: u64 = 16 << 10;

const ENV_REQUEST: &str = "PROCS_BENCH_REQUEST_BYTES";
const ENV_RESPONSE: &str = "PROCS_BENCH_RESPONSE_BYTES";

/// What one batched `pmap` moved between the parent and its workers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Traffic {
    pub(crate) workers: usize,
    pub(crate) request_bytes: u64,
    pub(crate) response_bytes: u64,
    pub(crate) messages: u64,
}

/// Runs `pmap(inc, 0..tasks)` once on `pool` and measures its traffic.
pub(crate) fn traffic(pool: &Pool, tasks: u64) -> Result<Traffic, String> {
    let before = worker_io();
    let sum = pool
        .pmap(crate::remote::inc, 0..tasks)
        .sum::<Result<u64, _>>()
        .map_err(procs_error)?;
    if sum != tasks * (tasks + 1) / 2 {
        return Err(format!("wrong sum {sum}"));
    }
    let after = worker_io();
    let mut traffic = Traffic {
        workers: after.len(),
        request_bytes: 0,
        response_bytes: 0,
        messages: 0,
    };
    for (pid, now) in &after {
        let then = before
            .get(pid)
            .ok_or("a worker was replaced during the run")?;
        traffic.request_bytes += now.read - then.read;
        traffic.response_bytes += now.written - then.written;
        traffic.messages += now.writes - then.writes;
    }
    if traffic.workers == 0 || traffic.messages == 0 {
        return Err("cannot read the workers' /proc/PID/io".into());
    }
    Ok(traffic)
}

/// The tasks per second at which `traffic`, standing for `tasks` tasks,
/// crosses raw pipes with up to `depth` requests ahead of their responses:
/// the median of `reps` runs of [`ROUNDS`] times the traffic each.
pub(crate) fn limit(traffic: Traffic, tasks: u64, reps: usize, depth: u64) -> Result<f64, String> {
    let per_child = traffic.messages.div_ceil(traffic.workers as u64);
    let request = (traffic.request_bytes / traffic.messages).max(1) as usize;
    let response = (traffic.response_bytes / traffic.messages).max(1) as usize;
    let mut children = (0..traffic.workers)
        .map(|_| RawChild::spawn(request, response))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("raw pipe child: {e}"))?;
    let depth = depth.clamp(1, (AHEAD_BYTES / request as u64).max(1));
    for child in &mut children {
        child
            .exchange(1, 1)
            .map_err(|e| format!("raw pipe child: {e}"))?;
    }
    let mut rates = Vec::new();
    for _ in 0..reps {
        let started = Instant::now();
        std::thread::scope(|scope| {
            let threads: Vec<_> = children
                .iter_mut()
                .map(|child| scope.spawn(move || child.exchange(ROUNDS * per_child, depth)))
                .collect();
            threads
                .into_iter()
                .try_for_each(|t| t.join().expect("an exchange thread panicked"))
        })
        .map_err(|e| format!("raw pipe child: {e}"))?;
        rates.push((ROUNDS * tasks) as f64 / started.elapsed().as_secs_f64());
    }
    Ok(crate::stats::median(&rates))
}

/// The table row: procs' rate in `case` against the limit for its traffic.
pub(crate) fn row(case: &str, procs: f64, limit: f64, traffic: Traffic, tasks: u64) -> Row {
    let mean = |bytes: u64| count(bytes / traffic.messages);
    Row::compared(
        format!(
            "physical limit: the {case} case's bytes over raw pipes ({} tasks)",
            count(tasks)
        ),
        rate(procs, "tasks"),
        format!(
            "{} over raw pipes ({} messages to {} children, {} B in, {} B out each)",
            rate(limit, "tasks"),
            count(traffic.messages),
            traffic.workers,
            mean(traffic.request_bytes),
            mean(traffic.response_bytes),
        ),
        procs / limit,
        "- (ceiling)",
    )
}

/// A child serving fixed-size requests with fixed-size responses.
struct RawChild {
    child: std::process::Child,
    /// `None` only while dropping.
    input: Option<File>,
    output: File,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl RawChild {
    fn spawn(request: usize, response: usize) -> io::Result<RawChild> {
        let mut child = crate::child::command(crate::child::PIPE_LIMIT)?
            .env(ENV_REQUEST, request.to_string())
            .env(ENV_RESPONSE, response.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = File::from(OwnedFd::from(child.stdin.take().expect("stdin is piped")));
        let output = File::from(OwnedFd::from(child.stdout.take().expect("stdout is piped")));
        Ok(RawChild {
            child,
            input: Some(input),
            output,
            request: vec![1; request],
            response: vec![0; response],
        })
    }

    /// `messages` requests and their responses, up to `depth` (at least 1)
    /// requests written ahead of the responses read, topped up with one
    /// write once no more than half of them are unanswered.
    fn exchange(&mut self, messages: u64, depth: u64) -> io::Result<()> {
        let input = self.input.as_mut().expect("open until dropped");
        let mut output = BufReader::with_capacity(64 << 10, &self.output);
        let requests = self.request.repeat(depth as usize);
        let (mut sent, mut answered) = (0, 0);
        while answered < messages {
            let ahead = sent - answered;
            if sent < messages && ahead <= depth / 2 {
                let n = (depth - ahead).min(messages - sent);
                input.write_all(&requests[..n as usize * self.request.len()])?;
                sent += n;
            }
            output.read_exact(&mut self.response)?;
            answered += 1;
        }
        Ok(())
    }
}

impl Drop for RawChild {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

/// The child: reads requests of the size it was given and answers each
/// with a response of its size, until stdin closes.
pub(crate) fn child_main() -> i32 {
    let size = |name| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let (Some(request), Some(response)) = (size(ENV_REQUEST), size(ENV_RESPONSE)) else {
        eprintln!("procs-bench pipe-limit child: no message sizes");
        return 2;
    };
    match serve(request, response) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("procs-bench pipe-limit child: {error}");
            1
        }
    }
}

fn serve(request: usize, response: usize) -> io::Result<()> {
    let mut input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let mut request = vec![0u8; request];
    let response = vec![2u8; response];
    loop {
        match input.read_exact(&mut request) {
            Ok(()) => output.write_all(&response)?,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// Bytes read and written, and write calls, so far.
struct Io {
    read: u64,
    written: u64,
    writes: u64,
}

/// [`Io`] of every worker process of this process's pools.
fn worker_io() -> HashMap<String, Io> {
    crate::cpu::worker_pids()
        .into_iter()
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
            let field = |name: &str| -> Option<u64> {
                text.lines()
                    .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))?
                    .trim()
                    .parse()
                    .ok()
            };
            let io = Io {
                read: field("rchar")?,
                written: field("wchar")?,
                writes: field("syscw")?,
            };
            Some((pid, io))
        })
        .collect()
}
