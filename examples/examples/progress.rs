//! A progress bar over a `pmap`, fed by `Pool::stats`: the bar counts the
//! calls answered, its message shows what runs and the workers' memory.
//!
//! Run with `cargo run --release --example progress`.

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use procs::{Pool, remote};

/// Stands for work that takes a while.
#[remote]
fn collatz_steps(n: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(2));
    let (mut n, mut steps) = (n, 0);
    while n > 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

fn main() -> ExitCode {
    procs::init();
    let pool = match Pool::builder().build() {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("cannot start the pool: {error}");
            return ExitCode::FAILURE;
        }
    };
    let inputs = 1..=2_000u64;
    let bar = ProgressBar::new(*inputs.end()).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("a valid template"),
    );
    let mut longest = (0, 0);
    for (n, steps) in inputs.clone().zip(pool.pmap(collatz_steps, inputs)) {
        let steps = match steps {
            Ok(steps) => steps,
            Err(error) => {
                bar.abandon();
                eprintln!("collatz_steps({n}) failed: {error}");
                return ExitCode::FAILURE;
            }
        };
        longest = longest.max((steps, n));
        let stats = pool.stats();
        let memory: u64 = stats.workers.iter().filter_map(|w| w.resident_bytes).sum();
        bar.set_position(stats.done());
        bar.set_message(format!(
            "{} running, {} workers, {} MiB",
            stats.running,
            stats.workers_alive,
            memory >> 20
        ));
    }
    bar.finish();
    println!("longest: {} steps from {}", longest.0, longest.1);
    ExitCode::SUCCESS
}
