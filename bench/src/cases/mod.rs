//! The benchmark cases, in table order. Each returns its rows, or an error
//! when it could not run.

mod batched;
mod cold_start;
pub(crate) mod memory;
mod payload;
pub(crate) mod pipe_limit;
mod scaling;
mod stream;
mod timed;
mod unbatched;
mod unordered;
mod warm_call;
mod widefinder;

use procs::Pool;

use crate::python::Python;
use crate::table::Row;

/// What every case may use.
pub(crate) struct Ctx {
    /// Smaller sizes and fewer repetitions.
    pub(crate) quick: bool,
    pub(crate) python: Option<Python>,
}

impl Ctx {
    pub(crate) fn new(quick: bool) -> Ctx {
        let python = Python::find();
        match &python {
            Some(python) => eprintln!("anchors: {}", python.version()),
            None => eprintln!("anchors: python3 not found, Python rows are n/a"),
        }
        Ctx { quick, python }
    }

    /// `quick` in a smoke run, `full` otherwise.
    pub(crate) fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// One case of the benchmark.
pub(crate) struct Case {
    /// Its name on the command line.
    pub(crate) name: &'static str,
    /// What it measures, for `--list`.
    pub(crate) about: &'static str,
    /// Its row when it fails to run.
    pub(crate) label: &'static str,
    pub(crate) run: fn(&Ctx) -> Result<Vec<Row>, String>,
}

/// Every case, in table order.
pub(crate) const CASES: &[Case] = &[
    Case {
        name: "warm-call",
        about: "one trivial call on a warm pool vs a raw pipe round trip (and procspawn)",
        label: "warm single call",
        run: warm_call::run,
    },
    Case {
        name: "unbatched",
        about: "10,000 trivial tasks, one per message, vs Python Pool.imap(chunksize=1) (and procspawn)",
        label: "unbatched stream",
        run: unbatched::run,
    },
    Case {
        name: "batched",
        about: "1,000,000 tiny tasks with adaptive batching vs Python Pool.map and the physical limit",
        label: "batched tiny tasks",
        run: batched::run,
    },
    Case {
        name: "timed",
        about: "1,000,000 tiny tasks on a pool with a timeout vs without",
        label: "timed tiny tasks",
        run: timed::run,
    },
    Case {
        name: "unordered",
        about: "pmap_unordered beside the ordered pmap",
        label: "unordered",
        run: unordered::run,
    },
    Case {
        name: "scaling",
        about: "~1 ms CPU-bound tasks, 2 workers vs 1 (and procspawn)",
        label: "CPU-bound scaling",
        run: scaling::run,
    },
    Case {
        name: "payload",
        about: "a 256 MiB Vec<u8> in and out, pipe and ipc, vs memcpy bandwidth (64 MiB vs procspawn)",
        label: "large payloads",
        run: payload::run,
    },
    Case {
        name: "cold-start",
        about: "a fresh pool of 2 to its first result vs spawning a minimal child (and procspawn)",
        label: "cold start",
        run: cold_start::run,
    },
    Case {
        name: "memory",
        about: "parent peak RSS of pmap over 0..10,000,000 with a slow consumer",
        label: "memory",
        run: memory::run,
    },
    Case {
        name: "widefinder",
        about: "Wide Finder on a 1 GiB log vs serial, rayon threads and Python",
        label: "Wide Finder",
        run: widefinder::run,
    },
];

/// A pool of `workers` whose workers have all started and run a task.
pub(crate) fn warm_pool(builder: procs::Builder) -> Result<Pool, String> {
    let pool = builder.build().map_err(|e| e.to_string())?;
    let n = 64 * pool.workers() as u64;
    let sum: u64 = pool
        .pmap(crate::remote::inc, 0..n)
        .sum::<Result<u64, _>>()
        .map_err(|e| e.to_string())?;
    if sum != n * (n + 1) / 2 {
        return Err("the warm-up tasks returned wrong results".into());
    }
    Ok(pool)
}

/// Turns a procs error into the case's error.
pub(crate) fn procs_error(error: procs::Error) -> String {
    error.to_string()
}
