//! The worker's side of the pool's resource limits: its memory limit when no
//! cgroup caps it, and each task's CPU time limit.
//!
//! **Memory** is capped with `RLIMIT_DATA`, not `RLIMIT_AS`. Since Linux 4.7
//! `RLIMIT_DATA` counts the heap and every private writable mapping, which is
//! where allocations live; `RLIMIT_AS` also counts the executable and its
//! libraries, thread stacks and address space merely reserved (allocators
//! and sanitizers reserve far more than they use), so a limit sized for the
//! tasks would fail at random, and differently from one build to the next.
//!
//! An allocation refused under the limit makes Rust print "memory allocation
//! of N bytes failed" and abort, which would read as a bare SIGABRT. A
//! library can neither set std's allocation-error hook (unstable) nor own
//! the global allocator (the program's), so the worker recognises the abort:
//! its SIGABRT handler finds `errno` still `ENOMEM`, because the allocator's
//! failure set it and nothing after it touches it (the message goes out with
//! a successful `write`, and `abort` raises the signal in the same thread).
//! It then exits with [`WorkerExit::OutOfMemory`]. Any other abort returns
//! from the handler and `abort(3)` ends the process by SIGABRT as before.
//!
//! One thing does touch `errno` on that path: since Rust 1.9x, std follows
//! the message with a backtrace when `RUST_BACKTRACE` asks for one, and
//! capturing it reads files. So a memory-limited worker moves the value of
//! `RUST_BACKTRACE` to `RUST_LIB_BACKTRACE` (unless that is set), which
//! `std::backtrace::Backtrace::capture`, and so the panics procs reports,
//! read first, and sets `RUST_BACKTRACE=0` for std's own abort paths. The
//! cost: a panic on a thread of a task's own is printed without a
//! backtrace in such a worker, and the task sees the two variables changed.
//!
//! **CPU time** is watched by a POSIX timer on the process's CPU-time clock,
//! armed with the limit as each task starts and disarmed when it ends.
//! `RLIMIT_CPU` counts whole seconds from the process's start, so it could
//! neither hold a sub-second limit nor restart per task exactly; the timer
//! counts nanoseconds, and, being on the process clock, counts the threads a
//! task starts too. Time spent waiting (sleep, I/O) costs no CPU, so it does
//! not count. When the timer fires, the SIGXCPU handler exits with
//! [`WorkerExit::CpuTimeLimit`] instead of the signal's default core dump.

use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::wire::env::WorkerExit;

/// The per-task CPU timer and its limit, once created.
static CPU_TIMER: OnceLock<(usize, Duration)> = OnceLock::new();

/// Applies the limits the parent asked for.
///
/// # Safety
///
/// Called once, while the worker is still single-threaded: it may change
/// environment variables.
pub(crate) unsafe fn apply(memory: Option<u64>, cpu: Option<Duration>) {
    if memory.is_some() {
        // SAFETY: single-threaded, as the caller promises.
        unsafe { quiet_oom_backtraces() };
    }
    if let Some(bytes) = memory {
        limit_memory(bytes);
    }
    if let Some(limit) = cpu {
        create_cpu_timer(limit);
    }
}

/// Whether tasks run under a CPU time limit.
pub(crate) fn cpu_limited() -> bool {
    CPU_TIMER.get().is_some()
}

/// Runs `task` with its CPU time limit armed, if there is one.
pub(crate) fn during_task<R>(task: impl FnOnce() -> R) -> R {
    let Some(&(timer, limit)) = CPU_TIMER.get() else {
        return task();
    };
    set_timer(timer, limit);
    // Disarmed on the way out even if `task` unwinds: the next task gets a
    // fresh limit, and idle time between tasks is never charged.
    struct Disarm(usize);
    impl Drop for Disarm {
        fn drop(&mut self) {
            set_timer(self.0, Duration::ZERO);
        }
    }
    let _disarm = Disarm(timer);
    task()
}

/// Keeps std from capturing a backtrace between a failed allocation and the
/// abort, which would overwrite `errno` (see the module docs).
///
/// # Safety
///
/// As [`apply`].
unsafe fn quiet_oom_backtraces() {
    const STD: &str = "RUST_BACKTRACE";
    const LIB: &str = "RUST_LIB_BACKTRACE";
    let Some(wanted) = std::env::var_os(STD).filter(|v| v != "0") else {
        return;
    };
    // SAFETY: single-threaded, as the caller promises.
    unsafe {
        if std::env::var_os(LIB).is_none() {
            std::env::set_var(LIB, wanted);
        }
        std::env::set_var(STD, "0");
    }
}

fn limit_memory(bytes: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit(2) to fill.
    unsafe { libc::getrlimit(libc::RLIMIT_DATA, &mut limit) };
    // Soft and hard: a task must not lift the cap it is given.
    let bytes = (bytes as libc::rlim_t).min(limit.rlim_max);
    limit.rlim_cur = bytes;
    limit.rlim_max = bytes;
    // SAFETY: `limit` is a valid rlimit; lowering a limit needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
        eprintln!(
            "procs worker: cannot set its memory limit: {}",
            std::io::Error::last_os_error()
        );
        std::process::abort();
    }
    install(libc::SIGABRT, on_abort);
}

fn create_cpu_timer(limit: Duration) {
    // SAFETY: a zeroed sigevent is valid; the fields set are those
    // SIGEV_SIGNAL reads.
    let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
    event.sigev_notify = libc::SIGEV_SIGNAL;
    event.sigev_signo = libc::SIGXCPU;
    let mut timer: libc::timer_t = ptr::null_mut();
    install(libc::SIGXCPU, on_cpu_limit);
    // SAFETY: `event` and `timer` are valid for timer_create(2) to read and
    // fill; the timer lives as long as the process.
    if unsafe { libc::timer_create(libc::CLOCK_PROCESS_CPUTIME_ID, &mut event, &mut timer) } != 0 {
        eprintln!(
            "procs worker: cannot watch its CPU time: {}",
            std::io::Error::last_os_error()
        );
        std::process::abort();
    }
    let _ = CPU_TIMER.set((timer as usize, limit));
}

/// Arms `timer` to fire after `after` of CPU time, or disarms it (zero).
fn set_timer(timer: usize, after: Duration) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: after.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: `timer` came from timer_create and is never deleted; `spec` is
    // a valid itimerspec.
    unsafe { libc::timer_settime(timer as libc::timer_t, 0, &spec, ptr::null_mut()) };
}

fn install(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the handlers only read errno and call _exit(2), both
    // async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, ptr::null_mut());
    }
}

/// SIGABRT: an abort right after a refused allocation is an out-of-memory
/// (see the module docs); returning lets any other abort go on.
extern "C" fn on_abort(_: libc::c_int) {
    // SAFETY: errno is thread-local and readable from a handler.
    if unsafe { *libc::__errno_location() } == libc::ENOMEM {
        // SAFETY: _exit(2) is async-signal-safe.
        unsafe { libc::_exit(WorkerExit::OutOfMemory.code()) }
    }
}

/// SIGXCPU: the running task used up its CPU time.
extern "C" fn on_cpu_limit(_: libc::c_int) {
    // SAFETY: _exit(2) is async-signal-safe.
    unsafe { libc::_exit(WorkerExit::CpuTimeLimit.code()) }
}
