//! An impostor that reaches a transport's endpoint before the real worker,
//! without knowing the transport: the worker process first starts copies
//! of itself that connect with one of the transport's variables altered.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::deadline::{checks, guarded};
use super::remote::pid;
use super::support::{ScratchDir, eventually};
use super::{HANDSHAKE, PATIENCE};
use crate::contract::registry::TRANSPORTS;
use crate::transport::Transport;
use crate::wire::env::{ENV_MAX_MESSAGE, ENV_PARENT_PID, ENV_WORKER};
use crate::{BoxError, Pool, proc};

const IMPOSTOR: &str = "procs-testkit-impostor";
/// The transport the worker really serves on.
const ENV_ROUTE: &str = "PROCS_TESTKIT_ROUTE";
/// The variables set before the transport's `spawn` (newline-separated).
const ENV_KNOWN: &str = "PROCS_TESTKIT_KNOWN";
/// Where the worker and its impostors write their pids.
const ENV_DIR: &str = "PROCS_TESTKIT_IMPOSTOR_DIR";

/// Wraps a transport so that each worker sends impostors first.
#[derive(Clone)]
struct Impostors<T>(T, String);

impl<T: Transport> Transport for Impostors<T> {
    type Channel = T::Channel;
    const NAME: &'static str = "procs-testkit-impostors";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(T::Channel, Child), BoxError> {
        let mut known: BTreeSet<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
        known.extend(cmd.get_envs().map(|(k, _)| k.to_owned()));
        let known: Vec<String> = known
            .into_iter()
            .filter_map(|k| k.into_string().ok())
            .collect();
        cmd.env(ENV_WORKER, IMPOSTOR)
            .env(ENV_ROUTE, T::NAME)
            .env(ENV_KNOWN, known.join("\n"))
            .env(ENV_DIR, &self.1);
        self.0.spawn(cmd, max)
    }

    fn connect(max: usize) -> Result<T::Channel, BoxError> {
        T::connect(max)
    }
}

/// The worker side: starts one impostor per variable the transport set,
/// each with that variable altered (a token with one digit changed, an
/// address with another port), waits for them to end, then serves on the
/// real transport.
struct ImpostorEntry;

impl Transport for ImpostorEntry {
    type Channel = super::support::NoChannel;
    const NAME: &'static str = IMPOSTOR;

    fn spawn(&self, _: Command, _: usize) -> Result<(Self::Channel, Child), BoxError> {
        Err("the impostor transport only serves workers".into())
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        let route = std::env::var(ENV_ROUTE)?;
        let dir = std::env::var(ENV_DIR)?;
        let known: BTreeSet<String> = std::env::var(ENV_KNOWN)?
            .lines()
            .map(str::to_owned)
            .collect();
        let ours = [ENV_ROUTE, ENV_KNOWN, ENV_DIR];
        let added: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| !known.contains(k) && !ours.contains(&k.as_str()))
            .collect();
        let entry = TRANSPORTS
            .iter()
            .find(|t| t.name == route)
            .ok_or("the routed transport is not linked")?;
        for (var, value) in &added {
            let Some(altered) = alter(value) else {
                continue;
            };
            let impostor = Command::new("/proc/self/exe")
                .env(ENV_WORKER, &route)
                .env(ENV_MAX_MESSAGE, max.to_string())
                .env(ENV_PARENT_PID, std::process::id().to_string())
                .env(var, altered)
                .env_remove(ENV_ROUTE)
                .env_remove(ENV_KNOWN)
                .env(ENV_DIR, &dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(mut impostor) = impostor else { continue };
            let _ = std::fs::write(format!("{dir}/impostor-{}", impostor.id()), b"");
            // It ends once refused; one that was let in serves until the
            // parent closes it, so give up waiting after a while.
            if !eventually(Duration::from_secs(5), || {
                matches!(impostor.try_wait(), Ok(Some(_)))
            }) {
                let _ = impostor.kill();
                let _ = impostor.wait();
            }
        }
        let _ = std::fs::write(format!("{dir}/real-{}", std::process::id()), b"");
        // SAFETY: single-threaded, before main (the worker entry's state).
        // The route's own connect finds its variables as `spawn` left them.
        unsafe {
            std::env::remove_var(ENV_ROUTE);
            std::env::remove_var(ENV_KNOWN);
            std::env::remove_var(ENV_DIR);
        }
        (entry.serve)(max)
    }
}

crate::transport::register_transport!(ImpostorEntry);

/// `value` with its last letter or digit changed to another of its kind
/// (so a hex token stays hex); `None` if it has none.
fn alter(value: &str) -> Option<String> {
    let mut chars: Vec<char> = value.chars().collect();
    let last = chars.iter().rposition(char::is_ascii_alphanumeric)?;
    let c = chars[last];
    chars[last] = match c {
        '9' => '0',
        'f' => 'a',
        'F' => 'A',
        'z' => 'a',
        'Z' => 'A',
        c => (c as u8 + 1) as char,
    };
    Some(chars.into_iter().collect())
}

/// A process that reaches the worker's endpoint before the worker does,
/// with one of the transport's variables altered (a token, an address, a
/// descriptor number), is refused, and the real worker still gets
/// through: the pool's first call runs in the worker it spawned, never in
/// an impostor. A connecting transport that does not authenticate its
/// worker fails it; a transport whose endpoint nobody else can reach
/// (an inherited descriptor) passes trivially.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::impostor_refused(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn impostor_refused<T: Transport + Clone>(transport: &T) {
    guarded(&checks::IMPOSTOR_REFUSED, transport, |transport: &T| {
        let name = T::NAME;
        let dir = ScratchDir::new();
        let path = dir.path().to_str().expect("utf-8 temp dir").to_owned();
        let pool = Pool::builder()
            .transport(Impostors(transport.clone(), path))
            .workers(1)
            .handshake_timeout(HANDSHAKE)
            .build()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        let served = pool
            .call(proc!(pid()))
            .unwrap_or_else(|e| panic!("[{name}] the first call failed: {e}"));
        let listed = |prefix: &str| -> Vec<u32> {
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    name.strip_prefix(prefix)?.parse().ok()
                })
                .collect()
        };
        let mut real = Vec::new();
        eventually(PATIENCE, || {
            real = listed("real-");
            !real.is_empty()
        });
        let impostors = listed("impostor-");
        drop(pool);
        assert!(
            !impostors.contains(&served),
            "[{name}] an impostor (pid {served}) that connected first with one of the worker's variables altered was accepted as the worker: authenticate the connection (procs_core::transport::Token, accept_authenticated)"
        );
        assert_eq!(
            real,
            [served],
            "[{name}] the first call ran in pid {served}, not in the worker the pool spawned (impostors: {impostors:?})"
        );
    })
}
