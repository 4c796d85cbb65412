//! The worker's watchdog: holds each call of a timed request to its own
//! deadline, measured from when that call starts, so that timed calls can
//! travel in batches and pipelines like untimed ones.
//!
//! The task thread publishes the running call (its sequence number, start
//! and timeout, and where the answers of the calls before it lie) in
//! atomics: no syscall and no lock per call, only a read of the coarse
//! clock (vDSO, a fifth of the precise clock's cost here: 10 against 49 ns)
//! and a compare-and-swap. The coarse clock lags by up to one tick (4 ms
//! here), so the watchdog adds a tick to every deadline: an overrun is
//! reported at or after the deadline, never before, and about a tick late
//! at most.
//!
//! The watchdog thread, started with the first timed request, sleeps until
//! the running call's deadline, looks again, and sleeps until the next one
//! if the call changed (an idle worker's looks again after the shortest
//! timeout it knows, at least a tick). When a call overran, it
//! *claims* it (a compare-and-swap the task thread's end of the call races
//! with, so exactly one of them wins) and reports on the channel: a
//! [`Message::Overran`](crate::wire::codec::Message::Overran) naming the
//! call, then the response the request's finished calls gave, then their
//! detached buffers. The parent delivers those, fails the overrun call with
//! `Timeout`, queues the calls that never started again and kills the worker.
//!
//! Why the report cannot be wedged: the task thread touches the channel only
//! between calls (receiving a request, sending its response), and a claim
//! succeeds only while a call runs; after a claim the task thread never
//! touches the channel or the answer buffers again (the end of the call,
//! a panic hook and the result's encoding all stop at [`end`]). The parent
//! reads the worker's channel whenever a request is in flight, so the
//! report's writes complete, and the parent never sends more than its
//! pipeline limit, so it is not itself blocked writing to us. The watchdog's
//! own code allocates nothing on the way (a transport's `send` may; glibc
//! gives each thread its own arena, so a task stopped inside `malloc` does
//! not block it).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crate::contract::Channel;
use crate::wire::codec;
use crate::wire::env::WorkerExit;

/// What the task thread publishes about the running timed call. One cache
/// line: the task thread writes it per call, the watchdog rarely reads it.
#[repr(align(64))]
struct Clock {
    /// Even: no timed call runs. Odd: the call described below runs (the
    /// task thread adds one at its start and one at its end). [`CLAIMED`]:
    /// the watchdog took the call and reports it.
    state: AtomicU64,
    seq: AtomicU64,
    /// `CLOCK_MONOTONIC_COARSE` nanoseconds at the call's start: at most
    /// one tick before the true start.
    started: AtomicU64,
    timeout: AtomicU64,
    /// The answers of the request's calls before this one: the response
    /// buffer's bytes up to `committed`, and its detached buffers.
    out: AtomicPtr<u8>,
    committed: AtomicUsize,
    detached: AtomicPtr<Vec<u8>>,
    detached_len: AtomicUsize,
}

/// Odd, so a claimed clock reads as "a call runs"; never reached by counting.
const CLAIMED: u64 = u64::MAX;

/// The shortest sleep of an idle watchdog, in nanoseconds.
const MIN_NAP: u64 = 1_000_000;

static CLOCK: Clock = Clock {
    state: AtomicU64::new(0),
    seq: AtomicU64::new(0),
    started: AtomicU64::new(0),
    timeout: AtomicU64::new(0),
    out: AtomicPtr::new(std::ptr::null_mut()),
    committed: AtomicUsize::new(0),
    detached: AtomicPtr::new(std::ptr::null_mut()),
    detached_len: AtomicUsize::new(0),
};

/// The serve loop's channel, lent to the watchdog for its report.
struct Reporter {
    channel: *mut (),
    send: unsafe fn(*mut (), &[u8]) -> bool,
    thread: thread::Thread,
    /// The shortest timeout the watchdog knows of; a request with a shorter
    /// one wakes it, so an idle watchdog never oversleeps a deadline.
    shortest: AtomicU64,
    /// The coarse clock's tick, in nanoseconds.
    tick: u64,
}

// SAFETY: `channel` is used by the watchdog only after it claimed a call,
// when the serve loop, which owns the channel and never moves or drops it
// (`serve_calls` does not return), no longer touches it (see `end`).
unsafe impl Send for Reporter {}
// SAFETY: as for `Send`: only the watchdog thread uses `channel`.
unsafe impl Sync for Reporter {}

static REPORTER: OnceLock<Reporter> = OnceLock::new();

/// Prepares the watchdog for a request whose calls each have `timeout`:
/// starts it on the first such request (lending it `channel`, which must
/// live, unmoved, as long as the process), and wakes it if `timeout` is
/// shorter than any it saw. Without a thread to spare, the parent's
/// backstop holds the calls to their deadlines instead.
pub(super) fn arm<C: Channel>(channel: &mut C, timeout: Duration) {
    let nanos = nanos_of(timeout);
    let reporter = REPORTER.get_or_init(|| {
        /// Sends on a channel of type `C`.
        ///
        /// # Safety
        ///
        /// `channel` must point to a live `C` nobody else uses meanwhile.
        unsafe fn send<C: Channel>(channel: *mut (), msg: &[u8]) -> bool {
            // SAFETY: as the caller promises.
            let channel = unsafe { &mut *channel.cast::<C>() };
            channel.send(msg).is_ok()
        }
        let spawned = thread::Builder::new()
            .name("procs-deadline".into())
            .stack_size(256 << 10)
            .spawn(watch);
        Reporter {
            channel: (channel as *mut C).cast(),
            send: send::<C>,
            thread: spawned.map_or_else(|_| thread::current(), |t| t.thread().clone()),
            shortest: AtomicU64::new(u64::MAX),
            tick: coarse_tick(),
        }
    });
    if reporter.shortest.fetch_min(nanos, Ordering::Relaxed) > nanos {
        reporter.thread.unpark();
    }
}

/// Publishes the start of the timed call `seq`; `out` and `detached` are
/// the answers of the request's calls before it, which the task thread does
/// not touch until [`end`].
pub(super) fn begin(seq: u64, timeout: Duration, out: &[u8], detached: &[Vec<u8>]) {
    let state = CLOCK.state.load(Ordering::Relaxed);
    CLOCK.seq.store(seq, Ordering::Relaxed);
    CLOCK
        .started
        .store(read(libc::CLOCK_MONOTONIC_COARSE), Ordering::Relaxed);
    CLOCK.timeout.store(nanos_of(timeout), Ordering::Relaxed);
    CLOCK.out.store(out.as_ptr().cast_mut(), Ordering::Relaxed);
    CLOCK.committed.store(out.len(), Ordering::Relaxed);
    CLOCK
        .detached
        .store(detached.as_ptr().cast_mut(), Ordering::Relaxed);
    CLOCK.detached_len.store(detached.len(), Ordering::Relaxed);
    // Release: the watchdog that sees the call running sees all of the above.
    CLOCK.state.store(state + 1, Ordering::Release);
}

/// Ends the running timed call, if any; called when the function returned
/// (before its result is encoded), when a call failed, and from the panic
/// hook. If the watchdog claimed the call first, never returns: the call is
/// being reported as timed out and the worker is about to be killed, so the
/// task thread must not touch the channel or the answers again.
pub(crate) fn end() {
    let state = CLOCK.state.load(Ordering::Relaxed);
    if state % 2 == 0 {
        return;
    }
    if state == CLAIMED
        || CLOCK
            .state
            .compare_exchange(state, state + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
    {
        hold();
    }
}

/// Waits for the kill that follows a report.
fn hold() -> ! {
    loop {
        thread::park();
    }
}

/// The watchdog thread.
fn watch() {
    let reporter = loop {
        // Set right after this thread is spawned.
        match REPORTER.get() {
            Some(reporter) => break reporter,
            None => thread::yield_now(),
        }
    };
    loop {
        // Acquire: pairs with `begin`'s release, so the fields read below
        // are this call's as long as the state is unchanged, which the
        // claim's compare-and-swap checks.
        let state = CLOCK.state.load(Ordering::Acquire);
        if state % 2 == 0 {
            // Any call that starts from now on ends no earlier than one
            // shortest timeout from now; a shorter one wakes us (`arm`).
            // At least a tick: tiny timeouts must not make an idle worker
            // spin, and a deadline is reported up to a tick late anyway.
            let shortest = reporter.shortest.load(Ordering::Relaxed);
            let nap = shortest.max(reporter.tick).max(MIN_NAP);
            thread::park_timeout(Duration::from_nanos(nap));
            continue;
        }
        let deadline = CLOCK
            .started
            .load(Ordering::Relaxed)
            .saturating_add(reporter.tick)
            .saturating_add(CLOCK.timeout.load(Ordering::Relaxed));
        let now = read(libc::CLOCK_MONOTONIC);
        if now < deadline {
            thread::park_timeout(Duration::from_nanos(deadline - now));
            continue;
        }
        let seq = CLOCK.seq.load(Ordering::Relaxed);
        let out = CLOCK.out.load(Ordering::Relaxed);
        let committed = CLOCK.committed.load(Ordering::Relaxed);
        let detached = CLOCK.detached.load(Ordering::Relaxed);
        let detached_len = CLOCK.detached_len.load(Ordering::Relaxed);
        if CLOCK
            .state
            .compare_exchange(state, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // The call ended just in time.
            continue;
        }
        // SAFETY: the claim succeeded, so the call published by `begin`
        // still runs and the task thread will not touch these answers (nor
        // free them) again: `end` holds it.
        let (out, detached) = unsafe {
            (
                std::slice::from_raw_parts(out, committed),
                std::slice::from_raw_parts(detached, detached_len),
            )
        };
        report(reporter, seq, out, detached);
        hold();
    }
}

/// Tells the parent that `seq` overran and hands over the answers before it.
fn report(reporter: &Reporter, seq: u64, out: &[u8], detached: &[Vec<u8>]) {
    let header = codec::encode_overran(seq);
    let messages = std::iter::once(&header[..])
        .chain(std::iter::once(out))
        .chain(detached.iter().map(Vec::as_slice));
    for msg in messages {
        // SAFETY: `arm` made `send` for the channel's own type, and the
        // serve loop no longer uses the channel (the claim, see `end`).
        if !unsafe { (reporter.send)(reporter.channel, msg) } {
            // The parent is gone or the link broke: it learns of the death
            // from the channel's end. No exit handlers: the task thread may
            // hold any lock.
            // SAFETY: _exit(2) ends the process at once.
            unsafe { libc::_exit(WorkerExit::Protocol.code()) };
        }
    }
}

fn nanos_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `clock` in nanoseconds. `CLOCK_MONOTONIC` is the clock `Instant` uses;
/// `CLOCK_MONOTONIC_COARSE` is the same clock at the last tick.
fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime(2) to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    nanos_of_timespec(&ts)
}

/// How far the coarse clock may lag: its resolution (a second if unknown,
/// which only makes overruns reported later).
fn coarse_tick() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_getres(2) to fill.
    if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } != 0 {
        return 1_000_000_000;
    }
    nanos_of_timespec(&ts)
}

fn nanos_of_timespec(ts: &libc::timespec) -> u64 {
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}
