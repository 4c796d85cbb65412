//! How a worker finishes the program's start-up before it serves.
//!
//! A re-executed binary becomes a worker in a constructor, before `main`. On
//! Linux with glibc that constructor is procs' own entry in the executable's
//! `.init_array`, and glibc runs that array in order, passing every entry
//! `(argc, argv, envp)`. Serving straight from our entry would leave every
//! entry after it unrun: `inventory::submit!` (so `typetag`), other
//! `#[ctor]`s, and whatever else registers itself at start-up. So in a
//! worker, our entry finds its own slot between the linker's
//! `__init_array_start` and `__init_array_end`, calls every entry after it
//! with the same arguments, exactly as glibc would have, and only then
//! serves, never returning to glibc. Entries before ours (and
//! `.preinit_array`, and the shared libraries' constructors, which glibc
//! runs earlier) have already run. Each entry thus runs once, in glibc's
//! order: a task sees the start-up `main` sees.
//!
//! What a worker does *not* get is what runs after the constructors: `main`
//! itself and std's `lang_start`, whose set-up (SIGPIPE ignored) the worker
//! redoes in [`crate::worker::entry::init`].
//!
//! The rule is sound as long as nothing expects the constructors after ours to
//! run on glibc's stack frame rather than ours; glibc keeps no state about
//! how far into the array it got, and our entry never returns in a worker.
//! When our slot is not in the array the symbols bound (procs linked into a
//! shared object whose linker did not define them for it), the worker
//! serves as before: the constructors after ours do not run in it. In a
//! shared object, the executable's own constructors run after every
//! library's, so they do not run in a worker either way.
//!
//! Elsewhere (other platforms, or musl, which calls the entries without
//! arguments), procs' constructor comes from `ctor` and serves at once.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::{c_char, c_int};
    use std::sync::atomic::{AtomicBool, Ordering};

    type InitFn = extern "C" fn(c_int, *const *const c_char, *const *const c_char);

    /// procs' entry in the executable's `.init_array`, which glibc calls
    /// with `(argc, argv, envp)` before `main`, as std does for its own.
    #[used]
    #[unsafe(link_section = ".init_array")]
    static ENTRY: InitFn = become_worker_before_main;

    unsafe extern "C" {
        // Defined by the linker (GNU ld's default script and lld) around the
        // output's `.init_array`.
        static __init_array_start: u8;
        static __init_array_end: u8;
    }

    /// The arguments glibc gave our entry, for the entries after it.
    struct Args {
        argc: c_int,
        argv: *const *const c_char,
        envp: *const *const c_char,
    }

    static FINISHED: AtomicBool = AtomicBool::new(false);

    extern "C" fn become_worker_before_main(
        argc: c_int,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) {
        crate::worker::entry::init_with(|| run_later_constructors(&Args { argc, argv, envp }));
    }

    /// Calls every `.init_array` entry after ours, once.
    fn run_later_constructors(args: &Args) {
        if FINISHED.swap(true, Ordering::Relaxed) {
            return;
        }
        let start = (&raw const __init_array_start).cast::<InitFn>();
        let end = (&raw const __init_array_end).cast::<InitFn>();
        let ours = (&raw const ENTRY).cast::<InitFn>();
        if !(start <= ours && ours < end) {
            // Not our array (a shared object's): serve as before.
            return;
        }
        // SAFETY: `ours` lies in [start, end), the array of `InitFn`s the
        // linker laid out, so every slot from `ours + 1` up to `end` is one
        // of its entries.
        let mut slot = unsafe { ours.add(1) };
        while slot < end {
            // SAFETY: `slot` is in bounds (above) and aligned like the array.
            let entry = unsafe { slot.cast::<usize>().read() };
            // 0 and -1 are the old `.ctors` sentinels; never call them.
            if entry != 0 && entry != usize::MAX {
                // SAFETY: `entry` is a constructor of this program that glibc
                // would call right now with these same arguments had our entry
                // returned; it never will in a worker, so it runs only here.
                let f: InitFn = unsafe { std::mem::transmute::<usize, InitFn>(entry) };
                f(args.argc, args.argv, args.envp);
            }
            // SAFETY: at most one past the last entry, which is `end`.
            slot = unsafe { slot.add(1) };
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
// SAFETY (of running before main): the function only reads and removes
// environment variables while the process is still single-threaded, and
// either returns at once (not a worker) or never returns (exits).
#[ctor::ctor(unsafe)]
fn become_worker_before_main() {
    crate::worker::entry::init();
}
