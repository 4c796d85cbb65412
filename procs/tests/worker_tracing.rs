//! Feature `tracing`: what a task emits with `tracing` or `log` reaches the
//! caller's subscriber, under the caller's span, inside a `procs` span with
//! the function's ID and the worker's pid, with its own target and level,
//! before the call's result is returned.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use procs::{Pool, proc, remote};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Emits at several targets and levels, through `tracing` and `log`, and
/// returns the level the worker's own subscriber passes.
#[remote]
fn traced(n: u32) -> String {
    let _inner = tracing::info_span!(target: "app::work", "inner", n).entered();
    tracing::info!(target: "app::work", n, "working on {n}");
    tracing::debug!(target: "app::work", "too verbose for the caller");
    tracing::warn!(target: "app::noise", "not a target the caller wants");
    log::info!(target: "app::log", "from log {n}");
    tracing::level_filters::LevelFilter::current().to_string()
}

/// Says why, then panics.
#[remote]
fn explains_then_panics(n: u32) -> u32 {
    tracing::error!(target: "app::work", n, "about to fail on {n}");
    panic!("failed on {n}")
}

/// The fields of an event or a span, rendered.
#[derive(Debug, Clone, Default, PartialEq)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// An event as the caller's subscriber saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    level: Level,
    fields: Fields,
    /// The spans it was in, from the root: name and fields.
    spans: Vec<(String, Fields)>,
}

/// A layer that keeps every event with its span ancestry.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Seen>>>);

impl Collector {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().expect("unpoisoned").clone()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collector {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        let fields = span.extensions().get::<Fields>().cloned();
                        (span.name().to_owned(), fields.unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0.lock().expect("unpoisoned").push(Seen {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
            spans,
        });
    }
}

/// A subscriber that wants `app::work`, `app::log`, the caller's span and
/// procs' span at `INFO` (so not `debug!`), and nothing of `app::noise`.
fn subscriber(collector: &Collector) -> impl Subscriber + Send + Sync {
    let filter = Targets::new()
        .with_target("app::work", Level::INFO)
        .with_target("app::log", Level::INFO)
        .with_target("app::caller", Level::INFO)
        .with_target("procs", Level::INFO);
    tracing_subscriber::registry().with(collector.clone().with_filter(filter))
}

fn message(seen: &Seen) -> &str {
    seen.fields.0.get("message").map_or("", String::as_str)
}

/// Checks that the event of the call `n` arrived whole, in its place.
fn check_call(seen: &[Seen], n: u32, request: &str) {
    let worked = format!("working on {n}");
    let event = seen
        .iter()
        .find(|s| message(s) == worked)
        .unwrap_or_else(|| panic!("no `{worked}` among {seen:#?}"));
    assert_eq!(
        (event.target.as_str(), event.level),
        ("app::work", Level::INFO)
    );
    assert_eq!(event.fields.0.get("n"), Some(&n.to_string()));
    let names: Vec<_> = event.spans.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["caller", "procs", "inner"], "{event:#?}");
    assert_eq!(
        event.spans[0].1.0.get("request").map(String::as_str),
        Some(request)
    );
    let procs = &event.spans[1].1.0;
    assert_eq!(
        procs.get("id").map(String::as_str),
        Some("worker_tracing::traced")
    );
    let pid: u32 = procs["pid"].parse().expect("a pid");
    assert_ne!(pid, std::process::id(), "the worker's pid, not ours");
    assert_eq!(event.spans[2].1.0.get("n"), Some(&n.to_string()));

    let logged = format!("from log {n}");
    let log = seen
        .iter()
        .find(|s| message(s) == logged)
        .unwrap_or_else(|| panic!("no `{logged}` among {seen:#?}"));
    assert_eq!((log.target.as_str(), log.level), ("app::log", Level::INFO));
    assert!(
        !log.fields.0.keys().any(|k| k.starts_with("log.")),
        "{log:#?}"
    );
    let names: Vec<_> = log.spans.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["caller", "procs", "inner"], "{log:#?}");
}

#[test]
fn worker_events_arrive_under_the_caller_s_span() {
    let collector = Collector::default();
    let _default = tracing::subscriber::set_default(subscriber(&collector));
    // Built under the subscriber: workers learn its level at spawn.
    let pool = Pool::builder().workers(2).build().expect("pool starts");

    let caller = tracing::info_span!(target: "app::caller", "caller", request = 7);
    let levels: Vec<String> = caller.in_scope(|| {
        pool.pmap(traced, [1, 2, 3])
            .collect::<Result<_, _>>()
            .expect("calls succeed")
    });
    // The worker only passes what the caller wants: `debug!` is off there.
    assert!(levels.iter().all(|l| l == "info"), "{levels:?}");
    // Nothing is awaited: the events came before the results.
    let seen = collector.seen();
    for n in 1..=3 {
        check_call(&seen, n, "7");
    }
    assert!(
        !seen.iter().any(|s| message(s).contains("too verbose")),
        "{seen:#?}"
    );
    assert!(!seen.iter().any(|s| s.target == "app::noise"), "{seen:#?}");

    // A single call, which the calling thread may make itself.
    let other = tracing::info_span!(target: "app::caller", "caller", request = 8);
    let level = other
        .in_scope(|| pool.call(proc!(traced(4))))
        .expect("call succeeds");
    assert_eq!(level, "info");
    check_call(&collector.seen(), 4, "8");
}

#[test]
fn nothing_is_replayed_into_another_thread_s_subscriber() {
    let mine = Collector::default();
    let _default = tracing::subscriber::set_default(subscriber(&mine));
    let pool = Pool::builder().workers(1).build().expect("pool starts");
    let theirs = Collector::default();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _theirs = tracing::subscriber::set_default(subscriber(&theirs));
            let caller = tracing::info_span!(target: "app::caller", "caller", request = 9);
            let _in = caller.enter();
            pool.pmap(traced, [5]).for_each(|r| assert!(r.is_ok()));
        });
    });
    check_call(&theirs.seen(), 5, "9");
    assert!(mine.seen().is_empty(), "{:#?}", mine.seen());
}

#[test]
fn what_a_task_emitted_before_it_panicked_arrives() {
    let collector = Collector::default();
    let _default = tracing::subscriber::set_default(subscriber(&collector));
    let pool = Pool::builder().workers(1).build().expect("pool starts");
    let caller = tracing::info_span!(target: "app::caller", "caller", request = 10);
    let failed = caller.in_scope(|| pool.call(proc!(explains_then_panics(6))));
    assert!(
        matches!(failed, Err(procs::Error::Panicked { .. })),
        "{failed:?}"
    );
    let seen = collector.seen();
    let event = seen
        .iter()
        .find(|s| message(s) == "about to fail on 6")
        .unwrap_or_else(|| panic!("no event among {seen:#?}"));
    assert_eq!(event.level, Level::ERROR);
    let names: Vec<_> = event.spans.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["caller", "procs"], "{event:#?}");
}

/// Emits `count` events of about 1 KiB each.
#[remote]
fn chatty(count: u32) -> u32 {
    let line = "x".repeat(1024);
    for i in 0..count {
        tracing::info!(target: "app::work", i, "{line}");
    }
    count
}

#[test]
fn records_over_the_message_limit_are_dropped_with_a_warning() {
    let collector = Collector::default();
    let _default = tracing::subscriber::set_default(subscriber(&collector));
    let pool = Pool::builder()
        .workers(1)
        .max_message_size(64 << 10)
        .build()
        .expect("pool starts");
    // 200 KiB of records for a 64 KiB limit: the call and its worker are
    // unharmed, and the caller learns what it missed.
    assert_eq!(pool.call(proc!(chatty(200))).expect("call succeeds"), 200);
    let seen = collector.seen();
    assert!(!seen.iter().any(|s| s.target == "app::work"), "{seen:#?}");
    let warning = seen
        .iter()
        .find(|s| s.target == "procs::worker")
        .unwrap_or_else(|| panic!("no warning among {seen:#?}"));
    assert_eq!(warning.level, Level::WARN);
    assert!(
        message(warning).contains("message size limit"),
        "{warning:#?}"
    );
    // A call small enough still has its records.
    assert_eq!(pool.call(proc!(chatty(2))).expect("call succeeds"), 2);
    assert_eq!(
        collector
            .seen()
            .iter()
            .filter(|s| s.target == "app::work")
            .count(),
        2
    );
    assert_eq!(pool.stats().workers_started, 1, "the worker lived on");
}

/// Enters a span and never leaves it.
#[remote]
fn leaves_a_span_entered(n: u32) -> u32 {
    std::mem::forget(tracing::info_span!(target: "app::work", "forever").entered());
    tracing::info!(target: "app::work", "inside forever");
    n
}

#[test]
fn a_span_the_task_left_entered_does_not_stay_entered_here() {
    let collector = Collector::default();
    let _default = tracing::subscriber::set_default(subscriber(&collector));
    let pool = Pool::builder().workers(1).build().expect("pool starts");
    let caller = tracing::info_span!(target: "app::caller", "caller", request = 11);
    caller.in_scope(|| {
        // Single calls on an idle worker are made, and replayed, on this
        // very thread (once the slot lends the worker: most of these).
        for n in 0..20 {
            assert_eq!(pool.call(proc!(leaves_a_span_entered(n))).expect("ok"), n);
        }
        tracing::info!(target: "app::work", "back in the caller");
    });
    let seen = collector.seen();
    let inside = seen.iter().find(|s| message(s) == "inside forever");
    let names: Vec<_> = inside
        .unwrap_or_else(|| panic!("no event among {seen:#?}"))
        .spans
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["caller", "procs", "forever"]);
    let back = seen.iter().find(|s| message(s) == "back in the caller");
    let names: Vec<_> = back
        .unwrap_or_else(|| panic!("no event among {seen:#?}"))
        .spans
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["caller"]);
}

/// Under `panic = "abort"` the worker dies of the panic, yet what the task
/// emitted before it arrives, before the error: a fixture program built
/// that way (procs/tests/fixtures/panic-abort-tracing) prints what its
/// subscriber got.
#[test]
fn what_a_task_emitted_before_a_panic_arrives_under_abort() {
    use std::path::Path;
    use std::process::Command;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/panic-abort-tracing");
    // As tests/panic_abort.rs does: the workspace's versions, and a target
    // directory apart from the outer build's.
    std::fs::copy(root.join("Cargo.lock"), fixture.join("Cargo.lock")).unwrap();
    let target = root.join("target/fixtures");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(built.success(), "the fixture did not build");
    let out = Command::new(target.join("debug/panic-abort-tracing-fixture"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("event caller:procs app::work about to fail on 4"),
        "{stdout}"
    );
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("panicked: ")),
        "{stdout}"
    );
    assert!(lines[1].ends_with("failed on 4"), "{stdout}");
}
