//! The runtime set-up std does before `main`, redone for a worker, which
//! never reaches `main`: its tasks run on a thread named `main` with the
//! main thread's stack size, and a stack overflow on it is reported as Rust
//! reports one.
//!
//! Rust's stack-overflow handler is installed by `lang_start`, so a worker
//! would otherwise die of a bare SIGSEGV. The handler here runs on an
//! alternate signal stack; for a fault in the task thread's guard page it
//! writes Rust's message with `write(2)` (async-signal-safe) and ends the
//! worker with `WorkerExit::StackOverflow` (code 120), which the parent reports as a stack
//! overflow. Any other fault restores the default action and returns, so
//! the faulting instruction runs again and the worker dies of the real
//! SIGSEGV or SIGBUS.

use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::wire::env::WorkerExit;

/// Rust's own message for a stack overflow on the main thread.
const OVERFLOW_MESSAGE: &[u8] =
    b"\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n";

/// The task thread's guard area, `[start, end)`; empty until known.
static GUARD_START: AtomicUsize = AtomicUsize::new(0);
static GUARD_END: AtomicUsize = AtomicUsize::new(0);

/// Runs `serve(max_message_size)` on a thread named `main` with the main thread's stack size
/// and a stack-overflow handler; the calling thread only waits.
pub(crate) fn run_as_main(serve: fn(usize) -> !, max_message_size: usize) -> ! {
    let spawned = std::thread::Builder::new()
        .name("main".to_owned())
        .stack_size(main_stack_size())
        .spawn(move || {
            install_overflow_handler();
            serve(max_message_size);
        });
    match spawned {
        // `serve` ends the process; a join that returns means it panicked.
        Ok(thread) => {
            let _ = thread.join();
            std::process::abort()
        }
        // No thread to spare: serve here, as before, without the handler.
        Err(_) => serve(max_message_size),
    }
}

/// The main thread's stack size: RLIMIT_STACK, or 8 MiB when unlimited.
fn main_stack_size() -> usize {
    const DEFAULT: usize = 8 << 20;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit(2) to fill.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) };
    if got != 0 || limit.rlim_cur == libc::RLIM_INFINITY || limit.rlim_cur == 0 {
        return DEFAULT;
    }
    usize::try_from(limit.rlim_cur).unwrap_or(DEFAULT)
}

/// Records the calling thread's guard area and installs the SIGSEGV and
/// SIGBUS handler on an alternate stack for this thread.
fn install_overflow_handler() {
    // SAFETY: pthread_getattr_np fills `attr`, which is destroyed once read;
    // the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return;
        }
        let mut addr = ptr::null_mut();
        let mut size = 0;
        let mut guard = 0;
        let stack = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        let guarded = libc::pthread_attr_getguardsize(&attr, &mut guard);
        libc::pthread_attr_destroy(&mut attr);
        if stack != 0 || guarded != 0 || guard == 0 {
            return;
        }
        // As std does: glibc before 2.27 counted the guard inside the
        // reported stack, later ones below it; take either side of the base.
        let base = addr as usize;
        GUARD_START.store(base.saturating_sub(guard), Ordering::Relaxed);
        GUARD_END.store(base + guard, Ordering::Relaxed);
    }
    // The handler needs a stack of its own: the overflowed one is full.
    let size = libc::SIGSTKSZ.max(64 << 10);
    let altstack = Box::leak(vec![0u8; size].into_boxed_slice());
    let stack = libc::stack_t {
        ss_sp: altstack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: the alternate stack is leaked, so it outlives the thread; the
    // handler is an `extern "C"` function with the SA_SIGINFO signature.
    unsafe {
        libc::sigaltstack(&stack, ptr::null_mut());
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGSEGV, &action, ptr::null_mut());
        libc::sigaction(libc::SIGBUS, &action, ptr::null_mut());
    }
}

/// The SIGSEGV/SIGBUS handler; async-signal-safe: atomics, write(2),
/// _exit(2) and signal(2) only.
extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers,
    // and si_addr is set for SIGSEGV and SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let start = GUARD_START.load(Ordering::Relaxed);
    let end = GUARD_END.load(Ordering::Relaxed);
    if start <= addr && addr < end {
        // SAFETY: write(2) and _exit(2) are async-signal-safe; the message
        // is a static buffer.
        unsafe {
            libc::write(2, OVERFLOW_MESSAGE.as_ptr().cast(), OVERFLOW_MESSAGE.len());
            libc::_exit(WorkerExit::StackOverflow.code());
        }
    }
    // Not an overflow: the default action, taken when the faulting
    // instruction runs again on return.
    // SAFETY: signal(2) is async-signal-safe.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}
