use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread;

use ipc_channel::ipc::{self, IpcOneShotServer, IpcSender};
use procs_core::BoxError;
use procs_core::transport::{ChildWatch, Transport};

use crate::channel::{IpcChannel, Pending};
use crate::error::Error;
use crate::packet::Packet;

/// Names the parent's one-shot server (a socket path) in the worker's
/// environment.
const ENV_SERVER: &str = "PROCS_IPC_SERVER";

/// The [`Transport`] over `ipc-channel`: Unix sockets with file descriptor
/// passing, and shared memory for large messages.
///
/// [`spawn`](Transport::spawn) makes an `IpcOneShotServer`, names it to the
/// child in the `PROCS_IPC_SERVER` environment variable, starts the child and
/// returns at once; a thread waits in `accept` (which has no timeout of its
/// own). In the worker, [`connect`](Transport::connect) makes the socket pair
/// the parent will send on, connects to the server and sends the parent its
/// end.
///
/// The worker inherits no descriptor but its standard streams: between
/// `fork` and `exec` every other descriptor is made close-on-exec
/// (`close_range`). `ipc-channel` makes its sockets and memory regions
/// close-on-exec, except the socket `IpcOneShotServer::accept` returns (it
/// calls `accept`, not `accept4` with `SOCK_CLOEXEC`); without this step a
/// worker spawned while another one connects would inherit that worker's
/// link. Other code in the program that spawns processes at that moment can
/// still inherit it, for as long as the worker lives.
///
/// A worker that exits before connecting makes the parent's first `recv`
/// return `Ok(None)` promptly, and the pool reports
/// [`Error::StartupFailed`](procs_core::Error::StartupFailed) with its exit
/// status; one that neither connects nor exits is killed at the pool's
/// [handshake deadline](procs_core::Builder::handshake_timeout), which
/// releases the accepting thread.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{pmap, Pool};
/// use procs_transport_ipc::IpcTransport;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn total(data: Vec<u8>) -> u64 { data.iter().map(|&b| u64::from(b)).sum() }
///
/// let pool = Pool::builder().transport(IpcTransport::default()).workers(2).build()?;
/// // 256 MiB cross through shared memory, not the socket.
/// let sum = pool.call(procs_core::proc!(total(vec![1; 256 << 20])))?;
/// assert_eq!(sum, 256 << 20);
/// # Ok::<(), procs_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IpcTransport {
    _private: (),
}

impl Transport for IpcTransport {
    type Channel = IpcChannel;
    const NAME: &'static str = "ipc";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(IpcChannel, Child), BoxError> {
        let (server, name) = IpcOneShotServer::<Packet>::new().map_err(Error::Server)?;
        cmd.env(ENV_SERVER, &name);
        // SAFETY: the closure makes only async-signal-safe system calls
        // (close_range, getrlimit, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(inherit_nothing);
        }
        // On failure the server is dropped here, with its directory.
        let mut child = cmd.spawn().map_err(Error::Spawn)?;
        let (done, accepted) = mpsc::sync_channel(1);
        let accepting = thread::Builder::new()
            .name("procs-ipc-accept".into())
            .spawn(move || {
                // The channel may be gone by then; the result is dropped
                // with it, closing its socket.
                let _ = done.send(server.accept());
            });
        if let Err(error) = accepting {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::AcceptThread(error).into());
        }
        let watch = match ChildWatch::new(&child) {
            Ok(watch) => watch,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error.into());
            }
        };
        let pending = Pending {
            accepted,
            server: name,
            watch,
        };
        Ok((IpcChannel::pending(pending, max), child))
    }

    fn connect(max: usize) -> Result<IpcChannel, BoxError> {
        let server = std::env::var(ENV_SERVER).map_err(|_| Error::Endpoint)?;
        let (to_worker, from_parent) = ipc::channel::<Packet>().map_err(Error::Connect)?;
        let to_parent = IpcSender::<Packet>::connect(server).map_err(Error::Connect)?;
        // Our copy of `to_worker` goes with the packet: once the parent drops
        // its copy, `from_parent` ends.
        to_parent
            .send(Packet::Hello(to_worker))
            .map_err(|error| Error::Connect(std::io::Error::other(error)))?;
        Ok(IpcChannel::ready(to_parent, from_parent, max))
    }
}

procs_core::transport::register_transport!(IpcTransport);

/// In the child, between `fork` and `exec`: makes every descriptor but the
/// standard streams close-on-exec. The worker needs none (its server's name
/// is in the environment).
fn inherit_nothing() -> io::Result<()> {
    // SAFETY: close_range only changes descriptor flags.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if marked == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one descriptor at a time, up to the limit.
    // SAFETY: an all-zero rlimit is valid; getrlimit only writes into it.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let top = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 16) as libc::c_int
    } else {
        1024
    };
    for fd in 3..top {
        // SAFETY: F_GETFD/F_SETFD only read and write descriptor flags; a
        // closed descriptor fails F_GETFD and is skipped.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}
