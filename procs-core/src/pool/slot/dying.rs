//! A worker's last words under `panic = "abort"` (see `worker/dying.rs`).

use super::output::with_tail;
use super::{Sent, Slot};
use crate::error::{CallContext, Error};
use crate::wire::codec::{self, Message};

impl Slot {
    /// The worker is aborting because the call `seq` of the oldest request
    /// panicked: that call fails with the panic. The batch's other calls
    /// either did not run or their results died with the worker, and later
    /// requests never started: all are queued again. The worker is reaped
    /// without blaming any of them.
    pub(super) fn dying(&mut self, msg: &[u8]) {
        let Sent { job, .. } = self.in_flight.pop_front().expect("in flight");
        let (seq, panic) = match codec::decode(msg) {
            Ok(Message::Dying { seq, panic }) => (seq, panic),
            _ => {
                job.fail(|| Error::Malformed("dying"));
                self.abandon(true);
                return;
            }
        };
        let id = job.id;
        if !job.tasks.indexes().any(|index| index as u64 == seq) {
            // Not a call of this request: the worker is not to be trusted.
            job.fail(|| Error::Malformed("dying"));
            self.abandon(true);
            return;
        }
        self.requeue_in_flight();
        let output = self.forwarding();
        self.discard(false);
        for call in job.split().into_iter().rev() {
            if call.tasks.index(0) as u64 == seq {
                call.finish(
                    None,
                    [Err(with_tail(
                        Error::Panicked {
                            id: id.to_owned(),
                            panic: Box::new(panic.clone()),
                            context: CallContext::default(),
                        },
                        output.as_ref(),
                    ))],
                );
            } else {
                self.local.push_front(call);
            }
        }
    }
}
