//! A spawned worker's standard output and error, read through pipes by the
//! parent and written out again whole line by line (see [`Output`]).
//!
//! Per worker, one thread reads both pipes (blocking in `poll`), so reading
//! never waits for a call and a call never waits for reading; another
//! prints what it read (`outbox`), so reading never waits for printing
//! either (the parent's stdout may be slow, or locked by a caller that
//! waits for results). Both are spawned by the slot thread that spawns the
//! worker, itself spawned by the thread that built the pool: std hands a
//! thread's output capture (the one `cargo test` installs) down to the
//! threads it spawns, so what a worker prints lands where the test's own
//! prints do.
//!
//! The calling side [catches up](Forwarding::catch_up) after each answer:
//! what a task printed before it answered is written before its result is
//! handed back, so a program that exits right after its last call loses
//! nothing, and the stderr a crash leaves is in the call's error.

mod lines;
mod outbox;
mod print;
mod tail;

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::util::sync::lock;
use lines::Lines;
use outbox::Outbox;
use print::Target;
use tail::Tail;

/// Where the standard output and error of the pool's spawned workers go,
/// set with [`Builder::output`](crate::Builder::output).
///
/// With [`Forward`](Output::Forward) (the default) and
/// [`Prefixed`](Output::Prefixed), a worker's stdout and stderr are pipes the
/// parent reads; it writes what arrives to its own stdout and stderr whole
/// line by line (a line over 64 KiB may go out in pieces, and no other
/// worker's output goes between them), through the same machinery as
/// `print!` and `eprint!`. So `cargo test` captures a test's worker output
/// like the test's own, for the pools a test builds (the threads that write
/// are started by the thread that builds the pool, and inherit its
/// capture; the global pool's is the capture of the thread that made the
/// first call). What a task printed is written before its result is handed
/// back; a line it left unfinished goes out then, as it is. Bytes that are
/// not UTF-8 are replaced by U+FFFD, as `String::from_utf8_lossy` does.
///
/// Attached workers (see [`Builder::attach`](crate::Builder::attach)) were
/// not started by the pool and keep their own standard streams, whatever
/// this setting.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{Output, Pool};
///
/// // Each line a worker prints comes out as `[procs worker 12345] ...`.
/// let pool = Pool::builder().output(Output::Prefixed).build()?;
/// # Ok::<(), procs_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Through the parent, whole line by line (the default).
    #[default]
    Forward,
    /// As [`Forward`](Output::Forward), each line led by the worker's pid,
    /// as in `[procs worker 12345] `. The worker, not the call: a worker
    /// runs several short calls queued at once, and which one printed a
    /// line cannot be known reliably.
    Prefixed,
    /// Straight to the parent's own stdout and stderr, as a child inherits
    /// them: no thread and no copy, but lines of different workers may mix,
    /// `cargo test` does not capture them and errors carry no stderr tail.
    Inherit,
}

impl Output {
    /// Makes `cmd`'s stdout and stderr pipes if this output reads them.
    pub(crate) fn configure(self, cmd: &mut Command) {
        if self != Output::Inherit {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }

    /// Starts reading the pipes [`configure`](Self::configure) gave `child`;
    /// `None` if it has none (inherited, or a transport set its own).
    pub(crate) fn forward(self, child: &mut Child) -> Result<Option<Forwarding>, Error> {
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return Ok(None);
        };
        let prefix = (self == Output::Prefixed).then(|| format!("[procs worker {}] ", child.id()));
        Forwarding::start([OwnedFd::from(out), OwnedFd::from(err)], prefix)
            .map(Some)
            .map_err(|error| Error::Spawn(error.into()))
    }
}

/// How long a retired worker's pipes may take to reach their end: only a
/// process that left the worker's group (and so escaped being killed with
/// it) can hold them open longer.
const EOF_GRACE: Duration = Duration::from_millis(500);

/// Bytes read from one pipe at a time by one pass: a worker that writes
/// without pause cannot keep the calling side's catch-up reading forever
/// (what it must see is at most a pipe's capacity, 1 MiB at most for an
/// unprivileged process).
const PASS_LIMIT: usize = 1 << 20;

/// The reading of one worker's stdout and stderr; cheap to clone.
#[derive(Clone)]
pub(crate) struct Forwarding {
    shared: Arc<Shared>,
}

struct Shared {
    /// Stdout's and stderr's pipes, for `poll`: open (in [`State::files`])
    /// as long as anyone may poll them, so that their numbers are not
    /// reused meanwhile.
    fds: [RawFd; 2],
    /// The reading thread, joined once the pipes ended so that they close
    /// before the worker counts as retired.
    reader: Mutex<Option<JoinHandle<()>>>,
    state: Mutex<State>,
    /// Signalled when both pipes reached their end.
    ended: Condvar,
    outbox: Arc<Outbox>,
}

struct State {
    /// `None` once the worker is retired and its pipes ended.
    files: Option<[File; 2]>,
    streams: [Lines; 2],
    eof: [bool; 2],
    tail: Tail,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Forwarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarding").finish_non_exhaustive()
    }
}

impl Forwarding {
    fn start(fds: [OwnedFd; 2], prefix: Option<String>) -> std::io::Result<Forwarding> {
        for fd in &fds {
            set_nonblocking(fd)?;
        }
        let [out, err] = fds;
        let outbox = Outbox::start()?;
        let shared = Arc::new(Shared {
            fds: [out.as_raw_fd(), err.as_raw_fd()],
            reader: Mutex::new(None),
            state: Mutex::new(State {
                files: Some([File::from(out), File::from(err)]),
                streams: [
                    Lines::new(Target::Stdout, prefix.clone(), outbox.clone()),
                    Lines::new(Target::Stderr, prefix, outbox.clone()),
                ],
                eof: [false; 2],
                tail: Tail::default(),
                buf: vec![0; lines::LONG_LINE],
            }),
            ended: Condvar::new(),
            outbox: outbox.clone(),
        });
        let reader = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("procs-output".to_owned())
            .spawn(move || reader.read_until_end());
        match spawned {
            Ok(handle) => *lock(&shared.reader) = Some(handle),
            Err(error) => {
                outbox.close();
                return Err(error);
            }
        }
        Ok(Forwarding { shared })
    }

    /// Reads and writes out what the worker has written so far, unfinished
    /// lines included, and waits until it is printed (unless printing is
    /// blocked). Costs a lock and one `poll` when there is nothing.
    pub(crate) fn catch_up(&self) {
        self.catch_up_then(|_| ());
    }

    /// [`catch_up`](Self::catch_up), then starts the stderr tail afresh for
    /// the next call (as [`mark`](Self::mark)), under the same lock; gives
    /// the tail it held if `take_tail`.
    pub(crate) fn catch_up_then_mark(&self, take_tail: bool) -> Option<String> {
        self.catch_up_then(|state| {
            let tail = take_tail.then(|| state.tail.text()).flatten();
            state.tail.clear();
            tail
        })
    }

    fn catch_up_then<T>(&self, then: impl FnOnce(&mut State) -> T) -> T {
        let shared = &*self.shared;
        // Under the lock, so that a pass the reading thread has begun ends
        // first: the bytes it took from a pipe are then in `streams` (or
        // queued in the outbox), not in neither. Checking the pipes and an
        // unfinished line without it lost a `print!` without newline when
        // the program exited right after its call.
        let mut state = lock(&shared.state);
        // The pipes are polled only while open: once closed, their numbers
        // may belong to other files.
        if state.files.is_some() {
            let ready = poll(shared.fds, [true; 2], 0);
            let partial = state.streams.iter().any(Lines::has_partial);
            if ready != [false; 2] || partial {
                shared.pass(&mut state, ready);
                for stream in &mut state.streams {
                    stream.flush();
                }
            }
        }
        let value = then(&mut state);
        drop(state);
        // Whole lines the reading thread queued may not be printed yet.
        shared.outbox.wait_printed();
        value
    }

    /// Waits (briefly, see [`EOF_GRACE`]) until the worker's pipes reach
    /// their end, with everything in them written out: called once the
    /// worker is dead, so that its last words are in.
    pub(crate) fn finish(&self) {
        let deadline = Instant::now() + EOF_GRACE;
        let mut state = lock(&self.shared.state);
        while state.eof != [true; 2] {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .ended
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        drop(state);
        let reader = lock(&self.shared.reader).take();
        if let Some(reader) = reader {
            let _ = reader.join();
        }
        lock(&self.shared.state).files = None;
        self.shared.outbox.wait_all_printed();
    }

    /// What the worker wrote to stderr since the last [`mark`](Self::mark)
    /// (its last few KiB), if anything.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        lock(&self.shared.state).tail.text()
    }

    /// Starts the stderr tail afresh: a new call begins.
    pub(crate) fn mark(&self) {
        lock(&self.shared.state).tail.clear();
    }
}

impl Shared {
    /// The reading thread: until both pipes end, waits for bytes and writes
    /// them out.
    fn read_until_end(&self) {
        loop {
            let (open, owning) = {
                let state = lock(&self.state);
                let open = [!state.eof[0], !state.eof[1]];
                (open, state.streams.iter().any(Lines::owns_line))
            };
            if open == [false; 2] {
                self.outbox.close();
                self.ended.notify_all();
                return;
            }
            // A line being written in pieces keeps other workers' output
            // waiting: if its worker pauses mid-line, they go first.
            let timeout = if owning { 20 } else { -1 };
            let ready = poll(self.fds, open, timeout);
            let mut state = lock(&self.state);
            if ready == [false; 2] {
                for stream in &mut state.streams {
                    stream.yield_line();
                }
                continue;
            }
            self.pass(&mut state, ready);
        }
    }

    /// Reads what the `ready` pipes hold (up to [`PASS_LIMIT`] each) and
    /// writes out the whole lines in it; a pipe's end flushes its stream.
    fn pass(&self, state: &mut State, ready: [bool; 2]) {
        let State {
            files,
            streams,
            eof,
            tail,
            buf,
        } = state;
        let Some(files) = files else {
            return;
        };
        for (index, file) in files.iter().enumerate() {
            if !ready[index] || eof[index] {
                continue;
            }
            let mut total = 0;
            while total < PASS_LIMIT {
                match (&*file).read(buf) {
                    Ok(0) => {
                        eof[index] = true;
                        streams[index].flush();
                        break;
                    }
                    Ok(n) => {
                        if index == 1 {
                            tail.push(&buf[..n]);
                        }
                        streams[index].feed(&buf[..n]);
                        total += n;
                    }
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        eof[index] = true;
                        streams[index].flush();
                        break;
                    }
                }
            }
        }
        if *eof == [true; 2] {
            self.ended.notify_all();
        }
    }
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Which of the `wanted` files have bytes or their end to read, waiting up
/// to `timeout_ms` (-1: without limit).
fn poll(fds: [RawFd; 2], wanted: [bool; 2], timeout_ms: i32) -> [bool; 2] {
    let mut fds = [0, 1].map(|index| libc::pollfd {
        // A negative fd is ignored by poll(2).
        fd: if wanted[index] { fds[index] } else { -1 },
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of two pollfd for the call's duration.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if n <= 0 {
        // EINTR or nothing: the caller looks again.
        return [false; 2];
    }
    fds.map(|fd| fd.revents != 0)
}

/// Records `output`'s stderr tail in `error`, if it carries a call context.
pub(crate) fn record_tail(error: &mut Error, output: Option<&Forwarding>) {
    if let Some(output) = output {
        record_tail_text(error, || output.stderr_tail());
    }
}

/// Records the stderr tail `tail` gives in `error`, if it carries a call
/// context (`tail` is not asked otherwise).
pub(crate) fn record_tail_text(error: &mut Error, tail: impl FnOnce() -> Option<String>) {
    if let Some(context) = error.context_mut() {
        context.set_stderr_tail(tail());
    }
}

#[cfg(test)]
mod test {
    use crate::error::{CallContext, Error};

    #[test]
    fn an_error_shows_the_last_line_its_call_wrote_to_stderr() {
        let mut err = Error::WorkerLost {
            id: "app::f".into(),
            context: CallContext::default(),
        };
        let context = err.context_mut().unwrap();
        context.set_stderr_tail(None);
        assert!(context.is_empty(), "nothing written, nothing recorded");
        context.set_stderr_tail(Some("first\nsaid \"bye\"\r\n  \n".to_owned()));
        assert_eq!(err.stderr_tail(), Some("first\nsaid \"bye\"\r\n  \n"));
        assert_eq!(
            err.to_string(),
            r#"lost the link to the worker running `app::f`; last stderr line: "said \"bye\"""#
        );
    }
}
