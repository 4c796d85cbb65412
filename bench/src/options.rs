//! Command-line options: which cases to run, and how big.

use crate::cases::{CASES, Case};

/// What the command line asks for.
pub(crate) enum Options {
    Run(RunOptions),
    Help,
    List,
}

/// The cases to run, in table order, and their sizes.
pub(crate) struct RunOptions {
    pub(crate) cases: Vec<&'static Case>,
    /// Smaller sizes and fewer repetitions: a smoke run for CI.
    pub(crate) quick: bool,
}

pub(crate) fn usage() -> String {
    let names: Vec<&str> = CASES.iter().map(|case| case.name).collect();
    format!(
        "\
usage: procs-bench [--quick] [CASE...]

Runs the procs benchmark cases (all of them by default) and prints one table:
case, procs figure, baseline figure measured in the same run, ratio, target,
met. Details of each repetition go to stderr.

cases: {}

options:
  --quick      smaller sizes and fewer repetitions (a smoke run, < 60 s)
  --list       list the cases
  -h, --help   this text",
        names.join(" ")
    )
}

pub(crate) fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut quick = false;
    let mut chosen: Vec<&'static Case> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Options::Help),
            "--list" => return Ok(Options::List),
            "--quick" => quick = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            name => {
                let case = CASES
                    .iter()
                    .find(|case| case.name == name)
                    .ok_or_else(|| format!("unknown case `{name}` (see --list)"))?;
                if !chosen.iter().any(|c| c.name == case.name) {
                    chosen.push(case);
                }
            }
        }
    }
    // Table order, whatever the order on the command line.
    let cases = if chosen.is_empty() {
        CASES.iter().collect()
    } else {
        CASES
            .iter()
            .filter(|case| chosen.iter().any(|c| c.name == case.name))
            .collect()
    };
    Ok(Options::Run(RunOptions { cases, quick }))
}
