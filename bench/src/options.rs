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
met, and procs' time over procspawn's where procspawn supports the case.
Details of each repetition go to stderr.

cases: {}

options:
  --quick      smaller sizes and fewer repetitions (a smoke run, < 60 s)
  --list       list the cases
  -h, --help   this text",
        names.join(" ")
    )
}

pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    use lexopt::prelude::*;

    let mut quick = false;
    let mut chosen: Vec<&'static Case> = Vec::new();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Options::Help),
            Long("list") => return Ok(Options::List),
            Long("quick") => quick = true,
            Value(name) => {
                let name = name.string().map_err(|e| e.to_string())?;
                let case = CASES
                    .iter()
                    .find(|case| case.name == name)
                    .ok_or_else(|| format!("unknown case `{name}` (see --list)"))?;
                if !chosen.iter().any(|c| c.name == case.name) {
                    chosen.push(case);
                }
            }
            other => return Err(other.unexpected().to_string()),
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
