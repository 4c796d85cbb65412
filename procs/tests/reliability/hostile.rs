//! Hostile and broken workers, and values that do not decode.

use super::*;

/// A "worker" that is some other program: the pool reads its stdout as the
/// channel. Nothing it does may hang the pool or leak.
struct ForeignWorker {
    program: &'static str,
    args: &'static [&'static str],
}

struct StdoutChannel {
    stdout: ChildStdout,
    max: usize,
}

impl Channel for StdoutChannel {
    type Error = std::io::Error;

    fn send(&mut self, _msg: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("a foreign worker takes no requests"))
    }

    fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        frame::read_frame(&mut self.stdout, self.max)
    }
}

impl Transport for ForeignWorker {
    type Channel = StdoutChannel;
    const NAME: &'static str = "reliability-foreign";

    fn spawn(&self, _cmd: Command, max: usize) -> Result<(StdoutChannel, Child), BoxError> {
        let mut child = Command::new(self.program)
            .args(self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        Ok((StdoutChannel { stdout, max }, child))
    }

    fn connect(_max: usize) -> Result<StdoutChannel, BoxError> {
        Err("never a worker".into())
    }
}

fn foreign_pool(program: &'static str, args: &'static [&'static str], handshake: Duration) -> Pool {
    Pool::builder()
        .workers(1)
        .transport(ForeignWorker { program, args })
        .handshake_timeout(handshake)
        .build()
        .unwrap()
}

#[test]
fn a_worker_that_never_greets_is_a_handshake_timeout() {
    let clean = Clean::start();
    let pool = foreign_pool("sleep", &["60"], Duration::from_millis(300));
    for _ in 0..2 {
        let err = pool.call(proc!(double(1))).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::HandshakeTimeout { timeout } if timeout == Duration::from_millis(300)),
            "{err:?}"
        );
        assert!(msg.contains("handshake") && msg.contains("300ms"), "{msg}");
        // The silent process was killed and reaped before the error came.
        assert_eq!(children(), []);
    }
    drop(pool);
    clean.check();
}

#[test]
fn a_worker_that_exits_before_greeting_is_a_startup_failure() {
    let clean = Clean::start();
    for (program, args, code) in [("true", &[][..], 0), ("sh", &["-c", "exit 7"][..], 7)] {
        let pool = foreign_pool(program, args, Duration::from_secs(60));
        let err = pool.call(proc!(double(1))).unwrap_err();
        let msg = err.to_string();
        match err {
            Error::StartupFailed { exit } => assert_eq!(exit.code(), Some(code)),
            other => panic!("{program}: expected StartupFailed, got {other:?}"),
        }
        assert!(msg.contains(&format!("exited with code {code}")), "{msg}");
        drop(pool);
        clean.check();
    }
}

#[test]
fn a_worker_that_greets_with_garbage_is_refused_and_killed() {
    let clean = Clean::start();
    // Each writes a bad greeting, then would sit there for a minute.
    let greetings: [&'static [&'static str]; 3] = [
        // An empty frame.
        &["-c", "head -c 8 /dev/zero; exec sleep 60"],
        // A frame of five bytes of nonsense.
        &[
            "-c",
            "printf '\\005'; head -c 7 /dev/zero; printf hello; exec sleep 60",
        ],
        // A frame that claims to be 2^63 - 1 bytes long.
        &[
            "-c",
            "printf '\\377\\377\\377\\377\\377\\377\\377\\177'; exec sleep 60",
        ],
    ];
    for args in greetings {
        // A handshake deadline far above the test's length: the refusal must
        // come from reading the greeting, not from the clock.
        let pool = foreign_pool("sh", args, Duration::from_secs(60));
        let err = pool.call(proc!(double(1))).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed(_) | Error::Transport(_) | Error::TooLarge { .. }
            ),
            "{args:?}: {err:?}"
        );
        assert_eq!(
            children(),
            [],
            "{args:?}: the foreign worker was not killed"
        );
        drop(pool);
        clean.check();
    }
}

#[test]
fn a_value_that_does_not_decode_fails_only_its_task() {
    let clean = Clean::start();
    let pool = pool(1);
    let worker = pool.call(proc!(pid())).unwrap();

    // `double` returns a u32, which does not decode as a String.
    let (a, b, c) = pool.call((
        proc!(double(1)),
        Proc::<String>::by_id("reliability::double", (5u32,)),
        proc!(double(3)),
    ));
    assert_eq!(a.unwrap(), 2);
    let err = b.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::Decode { id, payload: Payload::Result, .. } if id == "reliability::double"),
        "{err:?}"
    );
    assert!(
        msg.contains("return value") && msg.contains("`reliability::double`"),
        "{msg}"
    );
    assert_eq!(c.unwrap(), 6);

    // Arguments of the wrong type: the worker refuses them, for that task.
    let (d, e, f) = pool.call((
        proc!(double(4)),
        Proc::<u32>::by_id("reliability::double", ("five".to_string(),)),
        proc!(double(5)),
    ));
    assert_eq!(d.unwrap(), 8);
    let err = e.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::Decode { id, payload: Payload::Arguments, .. } if id == "reliability::double"),
        "{err:?}"
    );
    assert!(
        msg.contains("arguments") && msg.contains("`reliability::double`"),
        "{msg}"
    );
    assert_eq!(f.unwrap(), 10);

    // Neither cost the worker.
    assert_eq!(pool.call(proc!(pid())).unwrap(), worker);
    drop(pool);
    clean.check();
}

#[test]
fn an_unknown_id_runs_nothing_and_names_what_is_known() {
    let clean = Clean::start();
    let pool = pool(1);
    let worker = pool.call(proc!(pid())).unwrap();
    let (a, b) = pool.call((
        Proc::<u32>::by_id("reliability::nowhere", (1u32,)),
        proc!(double(2)),
    ));
    let err = a.unwrap_err();
    let msg = err.to_string();
    match err {
        Error::UnknownFunction { id, known } => {
            assert_eq!(id, "reliability::nowhere");
            assert!(
                known.iter().any(|k| k == "reliability::double"),
                "{known:?}"
            );
        }
        other => panic!("expected UnknownFunction, got {other:?}"),
    }
    assert!(
        msg.contains("`reliability::nowhere`") && msg.contains("`reliability::double`"),
        "{msg}"
    );
    assert_eq!(b.unwrap(), 4);
    assert_eq!(pool.call(proc!(pid())).unwrap(), worker);
    drop(pool);
    clean.check();
}
