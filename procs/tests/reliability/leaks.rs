//! No leaks, after every kind of failure: no fd and no child is left.

use super::*;

#[test]
fn no_fd_or_child_is_left_after_failures_of_every_kind() {
    let clean = Clean::start();
    let dir = TempDir::new("leaks");
    let pool = Pool::builder()
        .workers(2)
        .max_tasks_per_worker(5)
        .build()
        .unwrap();
    for round in 0..3 {
        assert!(matches!(
            pool.call(proc!(panics(round))),
            Err(Error::Panicked { .. })
        ));
        assert!(matches!(
            pool.call(proc!(aborts(round))),
            Err(Error::WorkerDied { .. })
        ));
        assert!(matches!(
            pool.call(proc!(exits(3))),
            Err(Error::WorkerDied { .. })
        ));
        let late = proc!(nap(LONG_MS, String::new())).timeout(Duration::from_millis(100));
        assert!(matches!(pool.call(late), Err(Error::Timeout { .. })));
        let wrong: Proc<String> = Proc::by_id("reliability::double", (1u32,));
        assert!(matches!(pool.call(wrong), Err(Error::Decode { .. })));
        let unknown: Proc<u32> = Proc::by_id("reliability::nowhere", ());
        assert!(matches!(
            pool.call(unknown),
            Err(Error::UnknownFunction { .. })
        ));
        // A cancelled call with running and queued tasks.
        let items = (0..6).map(|i| {
            (
                if i == 0 { 0 } else { LONG_MS },
                dir.marker(&format!("{round}-{i}")),
            )
        });
        let mut results = pool.pmap(nap, items);
        assert!(results.next().unwrap().is_ok());
        dir.wait_started(&format!("{round}-1"));
        drop(results);
        still_serves(&pool);
    }
    drop(pool);
    clean.check();

    // The same after shutdown and kill with work in flight.
    for kill in [false, true] {
        let pool = self::pool(2);
        let mut results = pool.pmap(double, 0..10);
        assert_eq!(results.next().unwrap().unwrap(), 0);
        if kill {
            pool.kill();
        } else {
            pool.shutdown();
        }
        assert_eq!(results.count(), 9);
        drop(pool);
        clean.check();
    }
}

#[test]
fn each_worker_holds_only_its_own_channel() {
    // The parent's ends of every worker's pipes are close-on-exec: a worker
    // spawned later must not inherit its siblings' channels (it would keep a
    // dead sibling's pipe open, and the parent would never see it die).
    let clean = Clean::start();
    let dir = TempDir::new("inherit");
    let meeting = dir.marker("meet");
    std::fs::create_dir_all(&meeting).unwrap();
    // What any child of this process inherits, whoever spawns it.
    let inheritable: Vec<u32> = open_fds()
        .into_keys()
        .filter(|&fd| {
            // SAFETY: F_GETFD only reads the fd's flags.
            let flags = unsafe { libc::fcntl(fd as i32, libc::F_GETFD) };
            fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0
        })
        .collect();
    // Replaced after every task: the second round's workers are spawned
    // while their siblings run.
    let pool = Pool::builder()
        .workers(3)
        .max_tasks_per_worker(1)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for round in 0..2 {
        let meeting = format!("{meeting}-{round}");
        std::fs::create_dir_all(&meeting).unwrap();
        let reports: Vec<(u32, Vec<(u32, String)>)> = pool
            .pmap(fds_at_meeting, (0..3).map(|_| (meeting.clone(), 3)))
            .collect::<Result<_, _>>()
            .unwrap();
        for (pid, fds) in reports {
            let own: Vec<&String> = fds
                .iter()
                .filter(|(fd, _)| !inheritable.contains(fd))
                .map(|(_, target)| target)
                .collect();
            assert_eq!(
                own.len(),
                2,
                "worker {pid} holds {fds:?}; inheritable: {inheritable:?}"
            );
            for target in own {
                assert!(target.starts_with("pipe:"), "worker {pid} holds {fds:?}");
                assert!(!seen.contains(target), "{target} shared by two workers");
                seen.push(target.clone());
            }
        }
    }
    drop(pool);
    clean.check();
}

/// Waits until `n` workers have called it (so each call runs on its own
/// worker), then lists this worker's fds above stdio and their targets.
#[remote]
fn fds_at_meeting(dir: String, n: usize) -> (u32, Vec<(u32, String)>) {
    let me = std::process::id();
    std::fs::write(format!("{dir}/{me}"), b"").unwrap();
    let met = wait_for(Duration::from_secs(30), || {
        std::fs::read_dir(&dir).unwrap().count() >= n
    });
    assert!(met, "the other workers never came");
    let fds = open_fds().into_iter().filter(|(fd, _)| *fd > 2).collect();
    (me, fds)
}
