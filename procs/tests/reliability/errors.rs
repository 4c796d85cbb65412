//! Error quality: what failures.rs does not cover already.

use super::*;

/// The pipe transport, with the workers' backtrace variables set.
struct BacktracePipe(&'static str);

impl Transport for BacktracePipe {
    type Channel = <PipeTransport as Transport>::Channel;
    // The worker is routed by name to the registered pipe transport.
    const NAME: &'static str = <PipeTransport as Transport>::NAME;

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(Self::Channel, Child), BoxError> {
        cmd.env("RUST_BACKTRACE", self.0)
            .env("RUST_LIB_BACKTRACE", self.0);
        PipeTransport::default().spawn(cmd, max)
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        PipeTransport::connect(max)
    }
}

#[test]
fn panic_backtrace_comes_back_when_the_worker_has_rust_backtrace() {
    let clean = Clean::start();
    for setting in ["1", "0"] {
        let pool = Pool::builder()
            .workers(1)
            .transport(BacktracePipe(setting))
            .build()
            .unwrap();
        match pool.call(proc!(panics(5))) {
            Err(Error::Panicked { panic, .. }) => {
                assert_eq!(panic.message, "refusing 5");
                let location = panic.location.as_ref().expect("a location");
                assert_eq!(
                    (location.file.as_str(), location.line),
                    (REMOTES_FILE, PANIC_LINE)
                );
                if setting == "1" {
                    let backtrace = panic.backtrace.expect("a backtrace with RUST_BACKTRACE=1");
                    if cfg!(debug_assertions) {
                        assert!(backtrace.contains("panics"), "{backtrace}");
                    }
                } else {
                    assert_eq!(panic.backtrace, None);
                }
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        drop(pool);
        clean.check();
    }
}
