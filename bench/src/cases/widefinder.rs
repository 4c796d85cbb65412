//! Wide Finder (issue 6): the generated ongoing-style log (1 GiB; 64 MiB
//! with `--quick`), cached under `target/widefinder/` with the example's
//! file names so both share it. The page cache is warm, and in the same
//! state in every run: the log is evicted and read back first, so that it
//! gets the same page sizes (see `page_cache`).
//!
//! One repetition runs, in turn: a plain read of the file (the I/O floor),
//! the serial scan, rayon threads, procs with 2 workers, and the Python
//! wf-6 anchor. The Rust modes are the `widefinder` crate's functions, so
//! the algorithm is exactly the example's. The pools are started inside the
//! timing, as the example does, and every mode's clock stops at its answer:
//! a procs pool's teardown (waiting for its workers to exit, about 1 ms) is
//! timed apart and printed per repetition, as rayon's, which does not wait
//! for its threads, is not timed at all.
//!
//! Every mode's result is checked against the serial one. Two logs run,
//! the example's and one from another seed (issue 14 point 4), so that no
//! target is met on one file only.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use memmap2::Mmap;
use procs::Pool;
use widefinder::{
    Counts, DEFAULT_SEED, count_procs, count_threads, default_chunk, format_size, generate,
    scan_file_serial, split, top,
};

use super::Ctx;
use crate::page_cache;
use crate::python::NOT_FOUND;
use crate::stats::{median, time};
use crate::table::{Goal, Row};

const WORKERS: usize = 2;

/// The second log's seed: any other than the example's.
const SECOND_SEED: u64 = 1999;

pub(crate) fn run(ctx: &Ctx) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for seed in [DEFAULT_SEED, SECOND_SEED] {
        rows.extend(run_log(ctx, seed)?);
    }
    Ok(rows)
}

/// The rows of one generated log.
fn run_log(ctx: &Ctx, seed: u64) -> Result<Vec<Row>, String> {
    let size: u64 = ctx.size(1 << 30, 64 << 20);
    let reps = ctx.size(5, 2);
    let path = cached_log(size, seed)?;
    // Every run starts from the log as read from disk: see `page_cache`.
    page_cache::evict(&path)?;
    let first_read = timed(|| read_all(&path))?.0;
    let file = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: read-only; nothing truncates the cached log during the run.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| format!("cannot map the log: {e}"))?;
    let huge = page_cache::huge_share(&map)
        .map_or("unknown".into(), |share| format!("{:.0}%", share * 100.0));
    let data: &[u8] = &map;
    let chunk = default_chunk(data.len() as u64, WORKERS);
    let chunks = split(data, chunk as usize);
    eprintln!(
        "   seed {seed}: {} chunks of {}; evicted, then read back from disk in {} \
         (page cache now warm, {huge} of it in 2 MiB pages)",
        chunks.len(),
        format_size(chunk),
        time(first_read)
    );

    let mut times = Times::default();
    let mut reference: Option<Counts> = None;
    for rep in 0..reps {
        times.floor.push(timed(|| read_all(&path))?.0);

        let (seconds, counts) =
            timed(|| scan_file_serial(&path).map_err(|e| format!("serial scan failed: {e}")))?;
        times.serial.push(seconds);
        let reference = &*reference.get_or_insert(counts);

        // A fresh mapping each time, as serial and procs get: reusing one
        // would spare threads the page faults after the first repetition.
        let (seconds, counts) = timed(|| {
            // SAFETY: read-only; nothing truncates the cached log.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| format!("cannot map: {e}"))?;
            count_threads(&map, &chunks, WORKERS, &|| {})
        })?;
        times.threads.push(seconds);
        agree("threads", &counts, reference)?;

        // The clock stops at the answer in every mode: rayon's pool, dropped
        // inside `count_threads`, lets its threads end on their own, while
        // dropping a procs pool waits for its workers to exit, so that
        // teardown is timed apart and reported, not counted.
        let mut pool = None;
        let (seconds, counts) = timed(|| {
            let pool = pool.insert(
                Pool::builder()
                    .workers(WORKERS)
                    .build()
                    .map_err(|e| e.to_string())?,
            );
            count_procs(pool, &path, &chunks, &mut || {})
        })?;
        times.procs.push(seconds);
        let (teardown, ()) = timed(|| {
            drop(pool);
            Ok(())
        })?;
        times.teardown.push(teardown);
        agree("procs", &counts, reference)?;

        if let Some(python) = &ctx.python {
            let args = [
                path.display().to_string(),
                chunk.to_string(),
                WORKERS.to_string(),
            ];
            let report = python.run("widefinder.py", &args)?;
            let expected: Vec<String> = top(reference, 10)
                .iter()
                .map(|(count, key)| format!("{count} {key}"))
                .collect();
            if !report.all("top").eq(expected.iter().map(String::as_str)) {
                return Err("the Python top 10 differs from the serial scan's".into());
            }
            times.python.push(report.number("seconds")?);
        }
        eprintln!(
            "   rep {rep}: read {}, serial {}, threads {}, procs {} (then its teardown {}), python {}",
            time(times.floor[rep]),
            time(times.serial[rep]),
            time(times.threads[rep]),
            time(times.procs[rep]),
            time(times.teardown[rep]),
            times.python.get(rep).map_or("-".into(), |&s| time(s)),
        );
    }
    let log = format!("{} (seed {seed})", format_size(data.len() as u64));
    Ok(times.rows(&log, ctx.python.is_some()))
}

/// Seconds per repetition of each mode.
#[derive(Default)]
struct Times {
    floor: Vec<f64>,
    serial: Vec<f64>,
    threads: Vec<f64>,
    procs: Vec<f64>,
    /// Dropping the procs pool, after its answer: not in `procs`.
    teardown: Vec<f64>,
    python: Vec<f64>,
}

impl Times {
    fn rows(&self, size: &str, with_python: bool) -> Vec<Row> {
        let procs = median(&self.procs);
        let serial = median(&self.serial);
        let threads = median(&self.threads);
        let python_case = format!("Wide Finder {size}: speed-up over Python wf-6 (Pool of 2)");
        let python_goal = Goal::AtLeast(3.0);
        let python_row = if with_python {
            let python = median(&self.python);
            Row::measured(
                python_case,
                time(procs),
                format!("{} Python", time(python)),
                python / procs,
                python_goal,
            )
        } else {
            Row::not_applicable(python_case, NOT_FOUND, python_goal)
        };
        vec![
            Row::info(
                format!("Wide Finder {size}: I/O floor (read the file once, warm cache)"),
                time(median(&self.floor)),
            ),
            Row::measured(
                format!("Wide Finder {size}: speed-up over --serial (2 workers)"),
                time(procs),
                format!("{} serial", time(serial)),
                serial / procs,
                Goal::AtLeast(1.8),
            ),
            Row::measured(
                format!("Wide Finder {size}: time vs rayon threads (procs / threads)"),
                time(procs),
                format!("{} threads", time(threads)),
                procs / threads,
                Goal::AtMost(1.05),
            ),
            python_row,
        ]
    }
}

fn agree(mode: &str, counts: &Counts, reference: &Counts) -> Result<(), String> {
    if counts == reference {
        Ok(())
    } else {
        Err(format!("the {mode} counts differ from the serial scan's"))
    }
}

/// Runs `f` and returns its time in seconds with its result.
fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> Result<(f64, T), String> {
    let started = Instant::now();
    let value = f()?;
    Ok((started.elapsed().as_secs_f64(), value))
}

/// Reads the whole file through a reused 1 MiB buffer; returns its length.
fn read_all(path: &Path) -> Result<u64, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// The generated log for `size` and `seed`, where the `widefinder` example
/// caches it (`target/widefinder/ongoing-{size}-{seed}.log`); generated on
/// first use, under another name renamed at the end.
fn cached_log(size: u64, seed: u64) -> Result<PathBuf, String> {
    let dir = cache_dir();
    let path = dir.join(format!("ongoing-{size}-{seed}.log"));
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let partial = path.with_extension("partial");
    eprintln!(
        "   generating {} into {} ...",
        format_size(size),
        path.display()
    );
    let started = Instant::now();
    let file =
        File::create(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    // Synced, so that its pages are clean and `page_cache::evict` can drop
    // them.
    generate(&mut out, size, seed, |_| {})
        .and_then(|_| out.into_inner().map_err(|e| e.into_error()))
        .and_then(|file| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, &path)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    eprintln!("   generated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(path)
}

/// `target/widefinder`, found from this executable's place in
/// `target/<profile>/procs-bench`.
fn cache_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(|exe| exe.ancestors().nth(2))
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("widefinder")
}
