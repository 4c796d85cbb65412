//! Locks that survive a panic in another holder.
//!
//! procs' shared state is updated by single assignments or whole-value
//! swaps, so a holder that panicked leaves nothing half-done: a poisoned
//! lock is still safe to use, and refusing it would turn one panic into a
//! pool that cannot shut down.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning (see the module docs for why).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
