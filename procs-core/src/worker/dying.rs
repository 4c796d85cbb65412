//! The worker's panic hook, and its last words under `panic = "abort"`.
//!
//! A panic in a task is recorded for the task's failure. Under
//! `panic = "abort"` nothing unwinds back to the serve loop: the process
//! aborts right after the hook returns. So the hook itself sends the parent
//! a [`Message::Dying`](crate::wire::codec::Message::Dying) for the call that was
//! running, over the channel, which the serve loop lends to the hook while a
//! task runs (and does not touch meanwhile). A panic on another thread of
//! the worker is printed as std's default hook prints it; under abort it
//! also ends the worker, and its dying message names the thread.

use std::cell::Cell;
use std::panic;
use std::sync::Mutex;

use crate::contract::Channel;
use crate::wire::codec;
use crate::wire::panic::PanicInfo;

/// The channel, lent to the hook while a task runs (under abort only).
struct Lent {
    /// The serve loop's channel, erased; valid while lent.
    channel: *mut (),
    /// Sends on `channel`, which must be of the type `send` was made for.
    send: unsafe fn(*mut (), &[u8]),
    /// The call that runs.
    seq: u64,
}

// SAFETY: `channel` is only used under the mutex, while the serve loop,
// which owns it, waits for the task to end (see `while_running`).
unsafe impl Send for Lent {}

static LENT: Mutex<Option<Lent>> = Mutex::new(None);

thread_local! {
    /// Whether this thread runs tasks: its panics are the task's.
    static TASK_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Installs the worker's panic hook; called on the thread that runs the
/// tasks, which it marks as such. `record` keeps a task's panic for its
/// failure; other threads' panics go to std's default hook.
pub(super) fn install_hook(record: fn(PanicInfo)) {
    TASK_THREAD.with(|t| t.set(true));
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let on_task = TASK_THREAD.with(Cell::get);
        // A panic ends the timed call that runs (under abort, whichever
        // thread panics), unless the worker's watchdog already reports it
        // as timed out: then the hook waits for the kill, so that only one
        // of them speaks on the channel.
        if on_task || cfg!(panic = "abort") {
            crate::worker::watchdog::end();
        }
        if !on_task {
            default(info);
        }
        let mut panic = crate::worker::serve::panic_info(info);
        if cfg!(panic = "abort") {
            if !on_task {
                let thread = std::thread::current();
                let name = thread.name().unwrap_or("<unnamed>");
                panic.message = format!(
                    "thread '{name}' of the worker panicked, which aborted the worker: {}",
                    panic.message
                );
            }
            send_dying(&panic);
        }
        if on_task {
            record(panic);
        }
    }));
}

/// Runs `task` (the call `seq`) with `channel` lent to the panic hook.
pub(super) fn while_running<C: Channel, R>(
    channel: &mut C,
    seq: u64,
    task: impl FnOnce() -> R,
) -> R {
    if !cfg!(panic = "abort") {
        return task();
    }
    /// Sends on a channel of type `C`.
    ///
    /// # Safety
    ///
    /// `channel` must point to a live `C` nobody else uses meanwhile.
    unsafe fn send<C: Channel>(channel: *mut (), msg: &[u8]) {
        // SAFETY: as the caller promises.
        let channel = unsafe { &mut *channel.cast::<C>() };
        // Nothing to do if it fails: the abort follows either way.
        let _ = channel.send(msg);
    }
    *lock() = Some(Lent {
        channel: (channel as *mut C).cast(),
        send: send::<C>,
        seq,
    });
    let result = task();
    // Taken back before the serve loop uses the channel again.
    lock().take();
    result
}

/// Sends the dying message for the running call, once; nothing if no task
/// runs (the parent then learns of the death from the channel's end).
fn send_dying(panic: &PanicInfo) {
    // Held until sent: a task that ends meanwhile (the panic was on another
    // thread) waits in `while_running` to take the channel back, so the
    // serve loop's next message cannot interleave with this one.
    let mut guard = lock();
    let Some(lent) = guard.take() else {
        return;
    };
    let mut msg = Vec::new();
    // What the task emitted before it panicked goes first, as before a
    // response: the panic's cause is often in it.
    #[cfg(feature = "tracing")]
    if let Ok(true) = crate::worker::trace::take_message(&mut msg) {
        // SAFETY: as below.
        unsafe { (lent.send)(lent.channel, &msg) };
    }
    codec::encode_dying(&mut msg, lent.seq, panic);
    // SAFETY: `lent` was made by `while_running` for the channel's own type,
    // and the serve loop does not use the channel until it has taken it back
    // under the lock we hold.
    unsafe { (lent.send)(lent.channel, &msg) };
}

fn lock() -> std::sync::MutexGuard<'static, Option<Lent>> {
    crate::util::sync::lock(&LENT)
}
