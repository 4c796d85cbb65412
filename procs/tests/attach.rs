//! A pool attached to workers it did not start, as under an MPI launcher or
//! on remote hosts: here, copies of this test binary started by the test
//! itself, which connect to a Unix socket and serve with `procs::transport::serve`.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::Duration;

use procs::transport::{Attach, Channel, frame};
use procs::{BoxError, Error, Pool, proc, remote};

const ROLE: &str = "PROCS_TEST_ATTACH_SOCKET";

/// `a` then `b` reversed: large buffers both ways, which attached workers
/// get and give inline, one message per call each way.
#[remote]
fn join_reversed(a: Vec<u8>, b: Vec<u8>) -> Vec<u8> {
    let mut out = a;
    out.extend(b.into_iter().rev());
    out
}

#[remote]
fn square(x: u64) -> u64 {
    x * x
}

#[remote]
fn pid() -> u32 {
    std::process::id()
}

#[remote]
fn pid_after(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

#[remote]
fn die() -> u64 {
    std::process::abort()
}

#[remote]
fn boom(x: u64) -> u64 {
    panic!("boom at {x}")
}

struct SocketChannel(UnixStream);

impl Channel for SocketChannel {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        frame::write_frame(&mut self.0, msg)
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        frame::read_frame(&mut self.0, 1 << 30)
    }
}

/// Workers that dial in to one listening socket.
struct DialIn {
    listener: Mutex<UnixListener>,
    workers: usize,
}

impl Attach for DialIn {
    type Channel = SocketChannel;
    const NAME: &'static str = "dial-in";

    fn workers(&self) -> usize {
        self.workers
    }

    fn attach(&self, _index: usize, _max: usize) -> Result<SocketChannel, BoxError> {
        let listener = self.listener.lock().expect("not poisoned");
        let (stream, _) = listener.accept()?;
        Ok(SocketChannel(stream))
    }
}

/// The worker's part, in a copy of this binary started by the test.
#[test]
fn attached_worker() {
    let Some(path) = std::env::var_os(ROLE) else {
        return;
    };
    let stream = UnixStream::connect(path).expect("the test listens");
    procs::transport::serve(SocketChannel(stream), 1 << 30);
}

fn start_worker(path: &PathBuf) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "attached_worker",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(ROLE, path)
        .spawn()
        .expect("the worker starts")
}

#[test]
fn a_pool_serves_through_workers_it_did_not_start() {
    let path = std::env::temp_dir().join(format!("procs-attach-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let mut children: Vec<Child> = (0..2).map(|_| start_worker(&path)).collect();
    let attach = DialIn {
        listener: Mutex::new(listener),
        workers: 2,
    };
    let pool = Pool::builder()
        .attach(attach)
        .build()
        .expect("the pool attaches");
    assert_eq!(pool.workers(), 2);

    let squares: Vec<u64> = pool
        .pmap(square, 0..1000u64)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(squares, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
    let pids: Vec<u32> = (0..20).map(|_| pool.call(proc!(pid())).unwrap()).collect();
    let ours: Vec<u32> = children.iter().map(Child::id).collect();
    assert!(
        pids.iter().all(|p| ours.contains(p)),
        "{pids:?} not in {ours:?}"
    );
    match pool.call(proc!(boom(7))) {
        Err(Error::Panicked { panic, .. }) => assert_eq!(panic.message, "boom at 7"),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(pool.call(proc!(square(9))).unwrap(), 81);
    let (a, b) = (
        vec![1u8; 1 << 20],
        (0..=255u8).cycle().take(3 << 20).collect::<Vec<_>>(),
    );
    let mut want = a.clone();
    want.extend(b.iter().rev());
    let got = pool.call(proc!(join_reversed(a, b))).unwrap();
    assert!(got == want, "large buffers through an attached worker");

    // A worker that dies is lost, not replaced by the pool; one that dials
    // in again is attached for the next call.
    let workers = pool.clone();
    let lost = std::thread::spawn(move || workers.call(proc!(die())));
    let died = lost.join().expect("no panic");
    assert!(
        matches!(died, Err(Error::WorkerLost { ref id, .. }) if id == "attach::die"),
        "{died:?}"
    );
    for child in &mut children {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(!status.success());
        }
    }
    let replacement = start_worker(&path);
    let replacement_pid = replacement.id();
    children.push(replacement);
    // Calls that keep both slots busy make the slot that lost its worker
    // attach again, and the replacement is the one that dials in.
    let pids: Vec<u32> = pool
        .pmap(pid_after, [200u64; 4])
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        pids.contains(&replacement_pid),
        "{pids:?} without {replacement_pid}"
    );
    let late = proc!(square(3)).timeout(Duration::from_secs(1));
    assert!(matches!(
        pool.call(late),
        Err(Error::InvalidSetting {
            setting: "timeout",
            ..
        })
    ));

    // Closing the pool closes the links: the workers exit on their own.
    drop(pool);
    let exits: Vec<_> = children
        .iter_mut()
        .map(|c| c.wait().expect("exits"))
        .collect();
    assert_eq!(exits.iter().filter(|s| s.success()).count(), 2, "{exits:?}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn an_attached_pool_refuses_what_it_cannot_do() {
    let dial_in = |case: usize, workers: usize| {
        let name = format!("procs-attach-refuse-{}-{case}.sock", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind");
        // The listener stays open; the file is not needed any more.
        let _ = std::fs::remove_file(&path);
        DialIn {
            listener: Mutex::new(listener),
            workers,
        }
    };
    let refusals = [
        Pool::builder()
            .attach(dial_in(0, 2))
            .timeout(Duration::from_secs(1))
            .build(),
        Pool::builder()
            .attach(dial_in(1, 2))
            .max_tasks_per_worker(5)
            .build(),
        Pool::builder().attach(dial_in(2, 2)).workers(3).build(),
        Pool::builder().attach(dial_in(3, 0)).build(),
        // Attached workers keep their own stdio: nothing to forward.
        Pool::builder()
            .attach(dial_in(4, 2))
            .output(procs::Output::Prefixed)
            .build(),
    ];
    for refusal in refusals {
        assert!(
            matches!(refusal, Err(Error::InvalidSetting { .. })),
            "{refusal:?}"
        );
    }
}
