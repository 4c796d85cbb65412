//! `procs-bench`: the procs benchmark command.
//!
//! Runs every case of the performance and Wide Finder issues and prints one
//! Markdown table: case, procs figure, baseline figure, ratio, target, met,
//! and procs against procspawn (the Rust peer, a dependency of this crate)
//! where procspawn supports the case.
//! Every baseline is measured in the same run (interleaved with the procs
//! runs where the case allows), and every figure is a median of several
//! repetitions, because the machines this runs on are shared and noisy.
//!
//! ```text
//! cargo run --release -p procs-bench                       # every case
//! cargo run --release -p procs-bench -- --quick            # smoke run (< 60 s)
//! cargo run --release -p procs-bench -- warm-call widefinder
//! cargo run --release -p procs-bench -- --list
//! ```
//!
//! Progress and per-repetition details go to stderr; the table goes to
//! stdout. The exit status is non-zero only when a case could not run (or
//! its results were wrong), not when a target is missed.

mod cases;
mod child;
mod cpu;
mod options;
mod page_cache;
mod peer;
mod python;
mod remote;
mod report;
mod stats;
mod table;

use std::process::ExitCode;
use std::time::Instant;

use cases::Ctx;
use options::Options;
use table::Row;

fn main() -> ExitCode {
    procs::init();
    // Next to procs' entry: each recognises only its own children.
    peer::init();
    // A re-executed child (echo baseline, memory case, ...) never returns.
    child::dispatch();

    let options = match options::parse(std::env::args().skip(1)) {
        Ok(Options::Run(options)) => options,
        Ok(Options::Help) => {
            println!("{}", options::usage());
            return ExitCode::SUCCESS;
        }
        Ok(Options::List) => {
            for case in cases::CASES {
                println!("{:<12} {}", case.name, case.about);
            }
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("procs-bench: {message}\n\n{}", options::usage());
            return ExitCode::from(2);
        }
    };

    let ctx = Ctx::new(options.quick);
    let load_before = stats::load_average();
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    for case in options.cases {
        eprintln!("== {} ({})", case.name, case.about);
        let case_started = Instant::now();
        match (case.run)(&ctx) {
            Ok(case_rows) => rows.extend(case_rows),
            Err(message) => {
                eprintln!("   error: {message}");
                rows.push(Row::failed(case.label, &message));
            }
        }
        eprintln!("   ({:.1} s)", case_started.elapsed().as_secs_f64());
    }

    println!(
        "procs-bench{}: {} CPUs, load average {} before, {} after, {:.0} s",
        if options.quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before,
        stats::load_average(),
        started.elapsed().as_secs_f64()
    );
    println!();
    table::print(&rows);
    println!();
    println!("{}", table::PEER_NOTE);
    println!();
    println!("{}", table::summary(&rows));
    if rows.iter().any(Row::is_failure) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
