//! Replaying a worker's records into the caller's subscriber.
//!
//! `tracing` filters by a callsite's metadata (target, level, name), so each
//! distinct callsite of the worker gets a real one here, built once from
//! its [`Meta`] with leaked strings and registered like a macro's callsite.
//! The worker is this same binary, so the callsites are the binary's own:
//! what leaks is bounded by its code, and [`MAX_CALLSITES`] bounds what a
//! misbehaving worker could add.
//!
//! A message's records go under a span `procs` (target `procs::worker`,
//! fields `id`, the function's ID, and `pid`, the worker's), itself under
//! the span that was current where the call was made. The span has level
//! `ERROR` so that any filter that lets the worker's records through lets
//! it through too.
//!
//! The `tracing-tunnel` crate replays records this way too; it is not used
//! because its receiver replays into the current thread's subscriber, while
//! records here belong to the subscriber and span of a caller on another
//! thread, and because its release line is in beta (0.2) or from 2022 (0.1).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::{self, FieldSet, Value as FieldValue};
use tracing_core::metadata::Kind;
use tracing_core::span::{Attributes, Id, Record as SpanValues};
use tracing_core::subscriber::Interest;
use tracing_core::{Dispatch, Event, Level, Metadata};

use crate::wire::trace::{self, Meta, Record, Value, Values};

/// The most distinct callsites replayed in one process.
const MAX_CALLSITES: usize = 1 << 14;

/// The subscriber and span current where a call was made.
pub(crate) struct CallerSpan {
    dispatch: Dispatch,
    span: tracing::Span,
}

impl CallerSpan {
    /// The current thread's subscriber and span.
    pub(crate) fn current() -> CallerSpan {
        CallerSpan {
            dispatch: tracing_core::dispatcher::get_default(Dispatch::clone),
            span: tracing::Span::current(),
        }
    }
}

/// A callsite rebuilt from a worker's metadata.
struct Site {
    meta: OnceLock<&'static Metadata<'static>>,
}

impl Callsite for Site {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        self.meta.get().expect("set before registration")
    }
}

static SITES: Mutex<Option<HashMap<Meta, &'static Metadata<'static>>>> = Mutex::new(None);

/// The callsite for `meta`, made and registered on first use; `None` past
/// [`MAX_CALLSITES`] or for a level that does not exist.
fn site(meta: &Meta) -> Option<&'static Metadata<'static>> {
    let mut sites = crate::util::sync::lock(&SITES);
    let sites = sites.get_or_insert_with(HashMap::new);
    if let Some(found) = sites.get(meta) {
        return Some(found);
    }
    if sites.len() >= MAX_CALLSITES {
        return None;
    }
    let level = match meta.level {
        0 => Level::TRACE,
        1 => Level::DEBUG,
        2 => Level::INFO,
        3 => Level::WARN,
        4 => Level::ERROR,
        _ => return None,
    };
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    let names: &'static [&'static str] =
        Box::leak(meta.fields.iter().map(|f| leak(f)).collect::<Box<[_]>>());
    let callsite: &'static Site = Box::leak(Box::new(Site {
        meta: OnceLock::new(),
    }));
    let metadata: &'static Metadata<'static> = Box::leak(Box::new(Metadata::new(
        leak(&meta.name),
        leak(&meta.target),
        level,
        meta.file.as_deref().map(leak),
        meta.line,
        meta.module_path.as_deref().map(leak),
        FieldSet::new(names, Identifier(callsite)),
        if meta.is_span {
            Kind::SPAN
        } else {
            Kind::EVENT
        },
    )));
    let _ = callsite.meta.set(metadata);
    // Registered with every subscriber, as a macro's callsite is, so that
    // per-callsite filters (by target, level or name) see it.
    tracing_core::callsite::register(callsite);
    sites.insert(meta.clone(), metadata);
    Some(metadata)
}

/// A field value ready to hand to a subscriber.
enum Held<'a> {
    Str(&'a str),
    Debug(field::DisplayValue<&'a str>),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
}

impl Held<'_> {
    fn value(&self) -> &dyn FieldValue {
        match self {
            Held::Str(s) => s,
            // Recorded as its `Debug` text, unquoted, as the worker's
            // subscriber would have shown it.
            Held::Debug(d) => d,
            Held::I64(v) => v,
            Held::U64(v) => v,
            Held::I128(v) => v,
            Held::U128(v) => v,
            Held::F64(v) => v,
            Held::Bool(v) => v,
        }
    }
}

fn held(value: &Value) -> Held<'_> {
    match value {
        Value::Str(s) => Held::Str(s),
        Value::Debug(s) => Held::Debug(field::display(s.as_str())),
        Value::I64(v) => Held::I64(*v),
        Value::U64(v) => Held::U64(*v),
        Value::I128(v) => Held::I128(*v),
        Value::U128(v) => Held::U128(*v),
        Value::F64(v) => Held::F64(*v),
        Value::Bool(v) => Held::Bool(*v),
    }
}

/// Calls `f` with the values of `meta`'s fields.
fn with_values<R>(
    meta: &'static Metadata<'static>,
    values: &Values,
    f: impl FnOnce(&field::ValueSet<'_>) -> R,
) -> R {
    let held: Vec<(usize, Held<'_>)> = values
        .iter()
        .map(|(index, value)| (usize::from(*index), held(value)))
        .collect();
    let mut all: Vec<Option<&dyn FieldValue>> = vec![None; meta.fields().len()];
    for (index, value) in &held {
        if let Some(slot) = all.get_mut(*index) {
            *slot = Some(value.value());
        }
    }
    // `value_set_all` (tracing-core 0.1.36, what `tracing`'s own macros
    // expand to) takes values by position, any number of them.
    f(&meta.fields().value_set_all(&all))
}

/// The `procs` span of one message, with the call's ID and worker's pid.
fn procs_span(caller: &CallerSpan, id: &str, pid: u32) -> tracing::Span {
    tracing_core::dispatcher::with_default(
        &caller.dispatch,
        || tracing::span!(target: "procs::worker", parent: &caller.span, Level::ERROR, "procs", id, pid),
    )
}

/// Replays a trace message for `caller` (the current thread's subscriber
/// and span if `None`); `false` if it does not decode.
pub(super) fn replay(msg: &[u8], caller: Option<&CallerSpan>, id: &str) -> bool {
    let Ok(batch) = trace::decode(msg) else {
        return false;
    };
    let here;
    let caller = match caller {
        Some(caller) => caller,
        None => {
            here = CallerSpan::current();
            &here
        }
    };
    let dispatch = &caller.dispatch;
    let procs = procs_span(caller, id, batch.pid);
    let root = procs.id().or_else(|| caller.span.id());
    let mut metas: Vec<Option<&'static Metadata<'static>>> = Vec::new();
    // The worker's open spans and ours for them.
    let mut spans: HashMap<u64, (Id, &'static Metadata<'static>)> = HashMap::new();
    // Our spans entered on this thread, in order.
    let mut entered: Vec<Id> = Vec::new();
    let parent_of = |spans: &HashMap<_, (Id, _)>, parent: Option<u64>| match parent {
        Some(worker) => spans
            .get(&worker)
            .map(|(ours, _)| ours.clone())
            .or_else(|| root.clone()),
        None => root.clone(),
    };
    for record in batch.records {
        match record {
            Record::Meta(meta) => metas.push(site(&meta)),
            Record::NewSpan {
                id: worker,
                parent,
                meta,
                values,
            } => {
                let Some(&Some(meta)) = metas.get(meta as usize) else {
                    continue;
                };
                if !dispatch.enabled(meta) {
                    continue;
                }
                let parent = parent_of(&spans, parent);
                let ours = with_values(meta, &values, |values| {
                    dispatch.new_span(&match parent {
                        Some(parent) => Attributes::child_of(parent, meta, values),
                        None => Attributes::new_root(meta, values),
                    })
                });
                if let Some((old, _)) = spans.insert(worker, (ours, meta)) {
                    dispatch.try_close(old);
                }
            }
            Record::Update { id: worker, values } => {
                if let Some((ours, meta)) = spans.get(&worker) {
                    with_values(meta, &values, |values| {
                        dispatch.record(ours, &SpanValues::new(values));
                    });
                }
            }
            Record::Enter(worker) => {
                if let Some((ours, _)) = spans.get(&worker) {
                    dispatch.enter(ours);
                    entered.push(ours.clone());
                }
            }
            Record::Exit(worker) => {
                if let Some((ours, _)) = spans.get(&worker) {
                    if let Some(at) = entered.iter().rposition(|e| e == ours) {
                        entered.remove(at);
                        dispatch.exit(ours);
                    }
                }
            }
            Record::Close(worker) => {
                if let Some((ours, _)) = spans.remove(&worker) {
                    dispatch.try_close(ours);
                }
            }
            Record::Event {
                parent,
                meta,
                values,
            } => {
                let Some(&Some(meta)) = metas.get(meta as usize) else {
                    continue;
                };
                if !dispatch.enabled(meta) {
                    continue;
                }
                let parent = parent_of(&spans, parent);
                with_values(meta, &values, |values| {
                    dispatch.event(&Event::new_child_of(parent, meta, values));
                });
            }
        }
    }
    // What the worker left entered or open ends with its message (see
    // `wire::trace`): this thread may be the caller's own (the direct
    // path), whose current span must be as it was.
    for ours in entered.iter().rev() {
        dispatch.exit(ours);
    }
    for (_, (ours, _)) in spans {
        dispatch.try_close(ours);
    }
    drop(procs);
    true
}
