//! Checks of processes and descriptors: many workers, close-on-exec,
//! killing and reaping, leaks.

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use super::deadline::{checks, guarded};
use super::remote::{echo, pid, rendezvous, sleep_then_echo, sleep_then_fds};
use super::support::{Blob, ScratchDir, children, eventually, open_fds, pattern};
use super::{PATIENCE, builder, no_new_children, pool};
use crate::proc;
use crate::transport::Transport;

/// Eight workers run at once: eight tasks that each wait for all eight to
/// have started all return.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::many_workers(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn many_workers<T: Transport + Clone>(transport: &T) {
    guarded(&checks::MANY_WORKERS, transport, |transport: &T| {
        let met = meet(transport, 8);
        let pids: BTreeSet<u32> = met.iter().map(|m| m.0).collect();
        assert_eq!(
            pids.len(),
            8,
            "[{}] 8 tasks ran in {} workers",
            T::NAME,
            pids.len()
        );
    })
}

/// No worker inherits another worker's link: every worker of a four-worker
/// pool holds as many descriptors as a lone worker does. A transport whose
/// descriptors are not close-on-exec fails this, and would keep a dead
/// worker's channel open in its siblings.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::no_inherited_links(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn no_inherited_links<T: Transport + Clone>(transport: &T) {
    guarded(&checks::NO_INHERITED_LINKS, transport, |transport: &T| {
        let name = T::NAME;
        let lone = meet(transport, 1).pop().expect("one worker").1;
        for (pid, fds) in meet(transport, 4) {
            assert!(
                fds.len() <= lone.len(),
                "[{name}] worker {pid} of four holds {} descriptors, a lone worker {}: a sibling's link leaked into it\nlone: {lone:#?}\nthis one: {fds:#?}",
                fds.len(),
                lone.len(),
            );
        }
        // Replacement workers are spawned while the other links are up (and,
        // for a connecting transport, accepted): the parent's ends of those
        // links must not leak into them either.
        let pool = builder(transport, 3)
            .max_tasks_per_worker(1)
            .build()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        // Calls of three lengths, so that workers finish one at a time: a
        // worker replaced while the others still run their calls is spawned
        // with their links up. (With calls of one length, all three could
        // be replaced together on a loaded machine, each link closed before
        // the next spawn, and a leak go unseen.)
        let reports: Vec<(u32, Vec<String>)> = pool
            .pmap(sleep_then_fds, (0..9).map(|i| 20 + 60 * (i % 3)))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        for (pid, fds) in reports {
            assert!(
                fds.len() <= lone.len(),
                "[{name}] replacement worker {pid}, spawned while two other links were up, holds {} descriptors, a lone worker {}: the parent's end of another link leaked into it (an accepted or created descriptor not close-on-exec)\nlone: {lone:#?}\nthis one: {fds:#?}",
                fds.len(),
                lone.len(),
            );
        }
    })
}

/// Starts `parties` workers and has each report its pid and descriptors
/// while all of them are running.
fn meet<T: Transport + Clone>(transport: &T, parties: u32) -> Vec<(u32, Vec<String>)> {
    let name = T::NAME;
    let pool = pool(transport, parties as usize);
    let dir = ScratchDir::new();
    let path = dir.path().to_str().expect("utf-8 temp dir").to_owned();
    let met: Vec<(u32, bool, Vec<String>)> = pool
        .call((0..parties).map(|i| proc!(rendezvous(path.clone(), i, parties))))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    assert!(
        met.iter().all(|m| m.1),
        "[{name}] {parties} workers did not all run at once within 20 s"
    );
    met.into_iter().map(|(pid, _, fds)| (pid, fds)).collect()
}

/// [`Pool::kill`](crate::Pool::kill) fails running and queued calls and
/// reaps every worker before it returns; dropping a pool reaps its workers too.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::kill_and_reap(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn kill_and_reap<T: Transport + Clone>(transport: &T) {
    guarded(&checks::KILL_AND_REAP, transport, |transport: &T| {
        let name = T::NAME;
        let before = children();
        let killed = pool(transport, 3);
        let busy = {
            let pool = killed.clone();
            thread::spawn(move || {
                pool.pmap(sleep_then_echo, (0..6).map(|i| (i, 30_000)))
                    .collect::<Vec<_>>()
            })
        };
        thread::sleep(Duration::from_millis(100));
        killed.kill();
        let left: Vec<u32> = children().difference(&before).copied().collect();
        assert!(
            left.is_empty(),
            "[{name}] workers {left:?} outlived Pool::kill"
        );
        let results = busy.join().expect("the caller thread");
        assert!(
            results.iter().all(Result::is_err),
            "[{name}] calls survived Pool::kill: {results:?}"
        );
        drop(killed);

        let dropped = pool(transport, 2);
        for _ in 0..4 {
            dropped
                .call(proc!(pid()))
                .unwrap_or_else(|e| panic!("[{name}] {e}"));
        }
        drop(dropped);
        let left: Vec<u32> = children().difference(&before).copied().collect();
        assert!(
            left.is_empty(),
            "[{name}] workers {left:?} outlived their pool"
        );
    })
}

/// Spawning and retiring many workers, with inline-sized and large
/// messages, leaves the parent with the descriptors it had before, and no
/// child.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::no_leaked_descriptors(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn no_leaked_descriptors<T: Transport + Clone>(transport: &T) {
    guarded(
        &checks::NO_LEAKED_DESCRIPTORS,
        transport,
        |transport: &T| {
            let name = T::NAME;
            let fds = open_fds();
            let kids = children();
            {
                let pool = builder(transport, 2)
                    .max_tasks_per_worker(1)
                    .build()
                    .unwrap_or_else(|e| panic!("[{name}] {e}"));
                let blobs: Vec<Blob> = (0..12u8)
                    .map(|i| Blob(pattern([10, 100_000, 1 << 20][usize::from(i % 3)], i)))
                    .collect();
                let got: Vec<Blob> = pool
                    .pmap(echo, blobs.clone())
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| panic!("[{name}] {e}"));
                assert!(got == blobs, "[{name}] echo came back altered");
            }
            if !eventually(PATIENCE, || open_fds().len() <= fds.len()) {
                let now = open_fds();
                let new: Vec<&String> = now.iter().filter(|fd| !fds.contains(fd)).collect();
                panic!(
                    "[{name}] the parent holds {} descriptors after the pool is gone, {} before; new ones: {new:#?}",
                    now.len(),
                    fds.len()
                );
            }
            no_new_children::<T>(&kids);
        },
    )
}
