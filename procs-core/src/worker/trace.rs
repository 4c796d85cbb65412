//! The worker's side of feature `tracing`: a subscriber that records what
//! tasks emit (events, spans, and `log` records through `LogTracer`) into a
//! buffer, which the serve loop sends as one trace message just before the
//! response of the request that emitted it.
//!
//! Why the task channel and not a pipe of its own: a message on the channel
//! is ordered with the response, so the caller's subscriber has every event
//! of a call before the call's result is returned; it works over every
//! transport with no descriptor to set up; and it costs nothing when
//! nothing is emitted (no message is sent for an empty buffer). Records are sent
//! per response rather than as they happen: a worker that dies takes what
//! its running task emitted since the last response with it.
//!
//! Only what the parent would keep is collected: the parent passes its most
//! verbose enabled level (`LevelFilter::current()`) at spawn, and the
//! subscriber here reports it as its max level hint, so `debug!` in a task
//! of a parent filtering at `info` costs what a disabled event costs.
//! Workers a pool attaches to (`transport::serve`) collect only if whatever
//! starts them sets that variable.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing_core::callsite::Identifier;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record as SpanValues};
use tracing_core::{Event, Level, LevelFilter, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::contract::Channel;
use crate::wire::env::ENV_TRACE_LEVEL;
use crate::wire::trace::{self, Batch, Meta, Record, Value, Values};

/// Past this many bytes of field text in one buffer, records are dropped
/// (and counted) until the next response: a task in a logging loop must not
/// grow the worker without bound.
const BUFFER_LIMIT: usize = 16 << 20;

/// What the tasks emitted since the last response.
#[derive(Default)]
struct Buffer {
    records: Vec<Record>,
    /// The index in this buffer's `Meta` records of each callsite seen.
    metas: HashMap<Identifier, u32>,
    next_meta: u32,
    bytes: usize,
    dropped: u64,
}

static BUFFER: Mutex<Option<Buffer>> = Mutex::new(None);

/// The pool's message size limit, which a trace message must keep to: the
/// parent's channel would refuse a longer one.
static MAX_MESSAGE_SIZE: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Installs the collector as the worker's global subscriber and `log`
/// logger, if the parent asked for records (see [`ENV_TRACE_LEVEL`]).
///
/// # Safety
///
/// With `forget` (the variable is removed, so that programs the worker
/// starts do not inherit it), no other thread may read or write the
/// environment meanwhile.
pub(crate) unsafe fn install(forget: bool, max_message_size: usize) {
    MAX_MESSAGE_SIZE.store(max_message_size, Ordering::Relaxed);
    let level = std::env::var(ENV_TRACE_LEVEL).ok();
    if forget {
        // SAFETY: as the caller promises.
        unsafe { std::env::remove_var(ENV_TRACE_LEVEL) };
    }
    let Some(level) = level.and_then(|l| l.parse::<LevelFilter>().ok()) else {
        return;
    };
    if level == LevelFilter::OFF {
        return;
    }
    *crate::util::sync::lock(&BUFFER) = Some(Buffer::default());
    let subscriber = tracing_subscriber::registry().with(level).with(Collect);
    // A subscriber set before this (by a constructor that ran before
    // procs') wins; the records then stay in this process.
    if tracing_core::dispatcher::set_global_default(subscriber.into()).is_ok() {
        use tracing_log::AsLog;
        let _ = tracing_log::LogTracer::builder()
            .with_max_level(level.as_log())
            .init();
    }
}

/// Sends what the tasks emitted since the last call, if anything, as one
/// trace message; call it just before sending a response.
pub(crate) fn flush(channel: &mut impl Channel, buf: &mut Vec<u8>) -> Result<(), String> {
    if !take_message(buf)? {
        return Ok(());
    }
    channel.send(buf).map_err(|e| e.to_string())
}

/// Encodes what the tasks emitted since the last call into `buf` as one
/// trace message and empties the buffer; `false` if there is nothing. A
/// message over the message size limit is replaced by a warning that says
/// so.
pub(crate) fn take_message(buf: &mut Vec<u8>) -> Result<bool, String> {
    let records = {
        let mut guard = crate::util::sync::lock(&BUFFER);
        let Some(buffer) = guard.as_mut() else {
            return Ok(false);
        };
        if buffer.records.is_empty() && buffer.dropped == 0 {
            return Ok(false);
        }
        let mut taken = std::mem::take(buffer);
        if taken.dropped > 0 {
            taken.push_dropped();
        }
        taken.records
    };
    encode(buf, records)?;
    let max = MAX_MESSAGE_SIZE.load(Ordering::Relaxed);
    if buf.len() > max {
        let mut warning = Buffer::default();
        warning.push_warning(format!(
            "the worker dropped the tracing records of a request: {} bytes, over the pool's message size limit of {max}",
            buf.len()
        ));
        encode(buf, warning.records)?;
    }
    Ok(true)
}

fn encode(buf: &mut Vec<u8>, records: Vec<Record>) -> Result<(), String> {
    let batch = Batch {
        pid: std::process::id(),
        records,
    };
    trace::encode(buf, &batch).map_err(|e| e.to_string())
}

impl Buffer {
    /// The index of `meta` in this buffer, adding its `Meta` record first
    /// if it is new here.
    fn meta(&mut self, key: Option<Identifier>, meta: &Metadata<'_>, skip_log: bool) -> u32 {
        if let Some(index) = key.as_ref().and_then(|k| self.metas.get(k)) {
            return *index;
        }
        let index = self.next_meta;
        self.next_meta += 1;
        self.records.push(Record::Meta(meta_of(meta, skip_log)));
        if let Some(key) = key {
            self.metas.insert(key, index);
        }
        index
    }

    /// Keeps `record` unless the buffer is full.
    fn push(&mut self, record: Record, bytes: usize) {
        if self.bytes + bytes > BUFFER_LIMIT {
            self.dropped += 1;
            return;
        }
        self.bytes += bytes;
        self.records.push(record);
    }

    /// A warning that says how many records were dropped.
    fn push_dropped(&mut self) {
        let message = format!(
            "the worker dropped {} tracing records: more than {BUFFER_LIMIT} bytes between two responses",
            self.dropped
        );
        self.push_warning(message);
    }

    /// A warning of procs' own (target `procs::worker`) at the root.
    fn push_warning(&mut self, message: String) {
        let meta = Meta {
            name: "records dropped".into(),
            target: "procs::worker".into(),
            level: 3,
            file: None,
            line: None,
            module_path: None,
            fields: vec!["message".into()],
            is_span: false,
        };
        let index = self.next_meta;
        self.next_meta += 1;
        self.records.push(Record::Meta(meta));
        self.records.push(Record::Event {
            parent: None,
            meta: index,
            values: vec![(0, Value::Str(message))],
        });
    }
}

fn with_buffer(f: impl FnOnce(&mut Buffer)) {
    if let Some(buffer) = crate::util::sync::lock(&BUFFER).as_mut() {
        f(buffer);
    }
}

fn level_number(level: &Level) -> u8 {
    match *level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

fn meta_of(meta: &Metadata<'_>, skip_log: bool) -> Meta {
    Meta {
        name: meta.name().to_owned(),
        target: meta.target().to_owned(),
        level: level_number(meta.level()),
        file: meta.file().map(str::to_owned),
        line: meta.line(),
        module_path: meta.module_path().map(str::to_owned),
        fields: meta
            .fields()
            .iter()
            .filter(|f| !(skip_log && is_log_field(f)))
            .map(|f| f.name().to_owned())
            .collect(),
        is_span: meta.is_span(),
    }
}

/// The fields `LogTracer` adds to carry a record's metadata, which the
/// normalized metadata carries instead.
fn is_log_field(field: &Field) -> bool {
    field.name().starts_with("log.")
}

/// Collects field values by their position among the kept fields.
struct Collector<'a> {
    meta: &'a Metadata<'a>,
    skip_log: bool,
    values: Values,
    bytes: usize,
}

impl<'a> Collector<'a> {
    fn new(meta: &'a Metadata<'a>, skip_log: bool) -> Self {
        Collector {
            meta,
            skip_log,
            values: Vec::new(),
            bytes: 0,
        }
    }

    fn put(&mut self, field: &Field, value: Value) {
        if self.skip_log && is_log_field(field) {
            return;
        }
        // The position among the kept fields, as `meta_of` lists them.
        let index = self
            .meta
            .fields()
            .iter()
            .filter(|f| !(self.skip_log && is_log_field(f)))
            .position(|f| f.name() == field.name());
        if let Some(index) = index {
            self.bytes += match &value {
                Value::Str(s) | Value::Debug(s) => s.len(),
                _ => 16,
            };
            self.values.push((index as u16, value));
        }
    }
}

impl Visit for Collector<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, Value::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, Value::U128(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::Debug(format!("{value:?}")));
    }
}

/// The layer that records into [`BUFFER`], over a registry that keeps the
/// worker's spans (their parents and the current one).
struct Collect;

impl<S> Layer<S> for Collect
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(parent.into_u64())
        } else {
            ctx.current_span().id().map(Id::into_u64)
        };
        let mut collector = Collector::new(meta, false);
        attrs.record(&mut collector);
        with_buffer(|buffer| {
            let index = buffer.meta(Some(meta.callsite()), meta, false);
            let record = Record::NewSpan {
                id: id.into_u64(),
                parent,
                meta: index,
                values: collector.values,
            };
            buffer.push(record, collector.bytes);
        });
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut collector = Collector::new(span.metadata(), false);
        values.record(&mut collector);
        let record = Record::Update {
            id: id.into_u64(),
            values: collector.values,
        };
        with_buffer(|buffer| buffer.push(record, collector.bytes));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let parent = ctx.event_span(event).map(|span| span.id().into_u64());
        let normalized = event.normalized_metadata();
        let (meta, key, skip_log) = match &normalized {
            // A `log` record: its own target, level and location; the
            // callsite is `LogTracer`'s, shared by all records of a level.
            Some(meta) => (meta, None, true),
            None => (event.metadata(), Some(event.metadata().callsite()), false),
        };
        let mut collector = Collector::new(meta, skip_log);
        event.record(&mut collector);
        with_buffer(|buffer| {
            let index = buffer.meta(key, meta, skip_log);
            let record = Record::Event {
                parent,
                meta: index,
                values: collector.values,
            };
            buffer.push(record, collector.bytes);
        });
    }

    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        with_buffer(|buffer| buffer.push(Record::Enter(id.into_u64()), 0));
    }

    fn on_exit(&self, id: &Id, _: Context<'_, S>) {
        with_buffer(|buffer| buffer.push(Record::Exit(id.into_u64()), 0));
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        with_buffer(|buffer| buffer.push(Record::Close(id.into_u64()), 0));
    }
}
