//! Tim Bray's Wide Finder with procs: the ten most fetched articles of an
//! Apache access log, the log split into newline-aligned chunks scanned in
//! worker processes that each map the file themselves. It also runs the same
//! scan serially and on rayon threads, so one run shows the speed-up.
//!
//! ```text
//! cargo run --release --example widefinder                 # a generated 1 GiB log
//! cargo run --release --example widefinder -- access.log   # a real one
//! cargo run --release --example widefinder -- --help
//! ```

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use clap::builder::PossibleValuesParser;
use indicatif::{ProgressBar, ProgressStyle};
use memmap2::Mmap;
use widefinder::{
    Chunk, Counts, DEFAULT_SEED, count_procs, count_threads, default_chunk, format_size, generate,
    parse_size, scan_file_serial, split, top,
};

/// The transports this build of the example can use.
const TRANSPORTS: &[&str] = &[
    #[cfg(feature = "pipe")]
    "pipe",
    #[cfg(feature = "ipc")]
    "ipc",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serial,
    Threads,
    Procs,
}

/// Prints the 10 most fetched articles of an Apache access log (Tim Bray's
/// Wide Finder), found in worker processes with procs, and the time against
/// a serial scan and rayon threads.
#[derive(Debug, Parser)]
#[command(name = "widefinder")]
struct Options {
    /// The access log to scan; without it, a synthetic log is generated once
    /// and cached under target/widefinder/.
    log: Option<PathBuf>,
    /// Size of the generated log, e.g. 64MiB.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    size: u64,
    /// Seed of the generated log.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Worker processes and threads [default: the machine's cores].
    #[arg(long)]
    workers: Option<NonZeroUsize>,
    /// Bytes per task [default: 1 task per worker, 1MiB to 1GiB].
    #[arg(long, value_parser = parse_chunk)]
    chunk: Option<u64>,
    /// The transport of the procs mode [default: procs' default transport].
    #[arg(long, value_parser = PossibleValuesParser::new(TRANSPORTS.iter().copied()))]
    transport: Option<String>,
    /// Run the serial scan (with no mode flag, all three run and are compared).
    #[arg(long)]
    serial: bool,
    /// Run the scan on rayon threads.
    #[arg(long)]
    threads: bool,
    /// Run the scan in procs worker processes.
    #[arg(long)]
    procs: bool,
}

impl Options {
    fn modes(&self) -> Vec<Mode> {
        let chosen = [
            (self.serial, Mode::Serial),
            (self.threads, Mode::Threads),
            (self.procs, Mode::Procs),
        ];
        let modes: Vec<Mode> = chosen.iter().filter(|c| c.0).map(|c| c.1).collect();
        if modes.is_empty() {
            vec![Mode::Serial, Mode::Threads, Mode::Procs]
        } else {
            modes
        }
    }

    fn workers(&self) -> usize {
        self.workers
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get)
    }
}

fn parse_chunk(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err("a chunk must be at least 1 byte".into()),
        chunk => Ok(chunk),
    }
}

fn main() -> ExitCode {
    procs::init();
    let options = Options::parse();
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("widefinder: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<bool, String> {
    let log = match &options.log {
        Some(path) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if !meta.is_file() {
                return Err(format!("{} is not a file", path.display()));
            }
            println!("log: {} ({})", path.display(), format_size(meta.len()));
            path.clone()
        }
        None => generated_log(options.size, options.seed)?,
    };
    let map = map(&log)?;
    let data: &[u8] = map.as_deref().unwrap_or_default();
    let workers = options.workers();
    let chunk = options
        .chunk
        .unwrap_or_else(|| default_chunk(data.len() as u64, workers));
    let chunks = split(data, chunk as usize);
    println!(
        "{} chunks of about {}, {} workers",
        chunks.len(),
        format_size(chunk),
        workers
    );

    let mut runs: Vec<(Mode, Duration, Counts)> = Vec::new();
    for mode in options.modes() {
        let started = Instant::now();
        let counts = match mode {
            Mode::Serial => {
                scan_file_serial(&log).map_err(|e| format!("cannot scan {}: {e}", log.display()))?
            }
            Mode::Threads => threads(data, &chunks, workers)?,
            Mode::Procs => procs_scan(&log, &chunks, options)?,
        };
        runs.push((mode, started.elapsed(), counts));
    }

    let (_, _, first) = &runs[0];
    println!("\ntop 10 articles:");
    let best = top(first, 10);
    if best.is_empty() {
        println!("  (no matching requests)");
    }
    for (count, article) in best {
        println!("{count:>8}: {article}");
    }

    let serial = runs.iter().find(|r| r.0 == Mode::Serial).map(|r| r.1);
    let threads = runs.iter().find(|r| r.0 == Mode::Threads).map(|r| r.1);
    println!(
        "\n{:<8} {:>10} {:>10} {:>11}",
        "mode", "time", "vs serial", "vs threads"
    );
    for (mode, time, _) in &runs {
        let ratio = |base: Option<Duration>| {
            base.map_or("-".to_owned(), |b| {
                format!("{:.2}x", b.as_secs_f64() / time.as_secs_f64())
            })
        };
        let name = format!("{mode:?}").to_lowercase();
        println!(
            "{name:<8} {:>8.3} s {:>10} {:>11}",
            time.as_secs_f64(),
            ratio(serial),
            ratio(threads)
        );
    }
    let agree = runs.iter().all(|(_, _, counts)| counts == first);
    if runs.len() > 1 {
        println!("all modes agree: {}", if agree { "yes" } else { "NO" });
    }
    Ok(agree)
}

fn map(path: &Path) -> Result<Option<Mmap>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: read-only; the log must not be truncated during the run.
    unsafe { Mmap::map(&file) }
        .map(Some)
        .map_err(|e| format!("cannot map {}: {e}", path.display()))
}

fn threads(data: &[u8], chunks: &[Chunk], workers: usize) -> Result<Counts, String> {
    let bar = progress(chunks.len() as u64, "threads");
    let counts = count_threads(data, chunks, workers, &|| bar.inc(1));
    bar.finish_and_clear();
    counts
}

fn procs_scan(log: &Path, chunks: &[Chunk], options: &Options) -> Result<Counts, String> {
    let builder = procs::Pool::builder().workers(options.workers());
    let builder = match options.transport.as_deref() {
        None => builder,
        #[cfg(feature = "pipe")]
        Some("pipe") => builder.transport(procs::PipeTransport::default()),
        #[cfg(feature = "ipc")]
        Some("ipc") => builder.transport(procs::IpcTransport::default()),
        Some(other) => {
            return Err(format!(
                "unknown transport `{other}` (this build has: {})",
                TRANSPORTS.join(", ")
            ));
        }
    };
    let pool = builder.build().map_err(|e| e.to_string())?;
    let bar = progress(chunks.len() as u64, "procs");
    let counts = count_procs(&pool, log, chunks, &mut || bar.inc(1));
    bar.finish_and_clear();
    counts
}

/// The cached synthetic log for `size` and `seed`, generated on first use.
fn generated_log(size: u64, seed: u64) -> Result<PathBuf, String> {
    let dir = cache_dir();
    let path = dir.join(format!("ongoing-{size}-{seed}.log"));
    if let Ok(meta) = std::fs::metadata(&path) {
        println!(
            "log: {} ({}, cached)",
            path.display(),
            format_size(meta.len())
        );
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Written under another name and renamed at the end, so an interrupted
    // run never leaves a truncated log that a later run would trust.
    let partial = path.with_extension("partial");
    let started = Instant::now();
    let bar = progress(size, "generating");
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes}")
            .expect("valid template"),
    );
    let file =
        File::create(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let written = generate(&mut out, size, seed, |n| bar.set_position(n))
        .and_then(|n| out.flush().map(|()| n))
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    bar.finish_and_clear();
    std::fs::rename(&partial, &path)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    println!(
        "log: {} ({}, generated in {:.1} s)",
        path.display(),
        format_size(written),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// `target/widefinder`, found from this executable's place in `target/`.
fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    // target/<profile>/examples/widefinder
    let target = exe
        .as_deref()
        .and_then(|exe| exe.ancestors().nth(3))
        .map(Path::to_path_buf);
    target.unwrap_or_else(std::env::temp_dir).join("widefinder")
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
fn progress(len: u64, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(what);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len}").expect("valid template"),
    );
    bar
}
