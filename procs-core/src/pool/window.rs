//! The reorder window of a stream: its calls taken from the input and not
//! yet yielded, a segment per job, and the answers filed into it: a batch's
//! as one [`Run`] decoded in place as the consumer reaches each value,
//! others one by one.

use std::ops::Range;
use std::sync::Arc;

use crate::error::Error;
use crate::pool::job::{Answered, Reply, Run};
use crate::wire::detached::Input;

/// An answer taken from the reorder window: a value still in the message
/// that brought it, or an answer of its own.
pub(crate) enum Taken<'s> {
    InPlace(&'s Arc<Vec<u8>>, Range<usize>),
    Owned(Result<Reply, Error>),
}

impl<'s> Taken<'s> {
    /// The next value of `run`.
    #[inline]
    pub(crate) fn next_of(run: &'s mut Run) -> Taken<'s> {
        match run.next_range() {
            Ok(range) => Taken::InPlace(&run.msg, range),
            Err(malformed) => Taken::Owned(Err(malformed)),
        }
    }

    /// The answer as a [`Reply`] of its own.
    pub(crate) fn into_reply(self) -> Result<Reply, Error> {
        match self {
            Taken::InPlace(msg, range) => Ok(Reply::new(msg.clone(), range)),
            Taken::Owned(result) => result,
        }
    }

    /// The call's result, decoded by `decode` from the value's bytes where
    /// they lie.
    #[inline]
    pub(crate) fn decode<T>(
        self,
        decode: impl FnOnce(Input<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self {
            Taken::InPlace(msg, range) => decode(Input::within(msg, range, Vec::new())),
            Taken::Owned(result) => decode(result?.input()),
        }
    }
}

/// A stretch of the reorder window: the consecutive calls of one job (or
/// one call from the input that failed before it was sent), answered or
/// not. A batch's answers are filed as one [`Run`], not call by call.
pub(crate) struct Segment {
    pub(crate) id: &'static str,
    /// The input index of its first call.
    pub(crate) start: usize,
    pub(crate) len: usize,
    /// Calls yielded from its front.
    pub(crate) yielded: usize,
    answers: Filed,
}

enum Filed {
    None,
    /// One message answers all its calls.
    Run(Run),
    /// Answered call by call (a job split or retried, or failures), by
    /// offset from the segment's start.
    Each(Vec<Option<Result<Reply, Error>>>),
}

impl Segment {
    pub(crate) fn new(id: &'static str, start: usize, len: usize) -> Segment {
        Segment {
            id,
            start,
            len,
            yielded: 0,
            answers: Filed::None,
        }
    }

    /// Files the answers of a job of this segment.
    pub(crate) fn file(&mut self, answered: Answered) {
        let answers = match (&self.answers, answered) {
            (Filed::None, Answered::Run(run)) if run.first == self.start && run.len == self.len => {
                self.answers = Filed::Run(run);
                return;
            }
            (_, Answered::Run(run)) => run.into_answers(),
            (_, Answered::Each(answers)) => answers,
        };
        for (index, result) in answers {
            self.file_one(index, result);
        }
    }

    pub(crate) fn file_one(&mut self, index: usize, result: Result<Reply, Error>) {
        if let Filed::None = self.answers {
            self.answers = Filed::Each((0..self.len).map(|_| None).collect());
        }
        debug_assert!(
            !matches!(self.answers, Filed::Run(_)),
            "a run answers every call of its segment"
        );
        if let (Filed::Each(each), Some(offset)) =
            (&mut self.answers, index.checked_sub(self.start))
        {
            if let Some(place) = each.get_mut(offset) {
                *place = Some(result);
            }
        }
    }

    /// The next answer in order, if it has come.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<Taken<'_>> {
        if self.yielded == self.len {
            return None;
        }
        let taken = match &mut self.answers {
            Filed::None => return None,
            Filed::Run(run) => Taken::next_of(run),
            Filed::Each(each) => Taken::Owned(each[self.yielded].take()?),
        };
        self.yielded += 1;
        Some(taken)
    }

    #[inline]
    pub(crate) fn is_ready(&self) -> bool {
        match &self.answers {
            Filed::None => false,
            Filed::Run(_) => self.yielded < self.len,
            Filed::Each(each) => each.get(self.yielded).is_some_and(Option::is_some),
        }
    }
}

/// An answered call with its input index and its function's ID.
pub(crate) type Indexed = (usize, &'static str, Result<Reply, Error>);

/// Unordered: answers not yet yielded, in completion order: one call's, or
/// the rest of a batch's run.
pub(crate) enum Completed {
    One(Indexed),
    /// The run's function, the run, and the calls of it yielded so far.
    Run(&'static str, Run, usize),
}

#[cfg(test)]
mod test {
    use super::*;

    /// A run of answers for calls `first..first + n` in one message: each
    /// value one byte, the call's index.
    fn run(first: usize, n: usize) -> Run {
        let msg: Vec<u8> = (first..first + n).flat_map(|i| [1, i as u8]).collect();
        Run::new(Arc::new(msg), first, n, 0)
    }

    fn drain(segment: &mut Segment) -> Vec<Result<u8, String>> {
        let mut drained = Vec::new();
        while let Some(taken) = segment.take() {
            let value =
                taken.decode(|mut input| input.take::<u8>().map_err(|_| Error::Malformed("value")));
            drained.push(value.map_err(|e| e.to_string()));
        }
        drained
    }

    #[test]
    fn a_whole_run_is_filed_as_one_and_read_in_place() {
        let mut segment = Segment::new("f", 10, 3);
        assert!(!segment.is_ready());
        segment.file(Answered::Run(run(10, 3)));
        assert!(matches!(segment.answers, Filed::Run(_)));
        assert_eq!(drain(&mut segment), [Ok(10), Ok(11), Ok(12)]);
        assert_eq!(segment.yielded, 3);
    }

    #[test]
    fn the_parts_of_a_split_job_are_filed_call_by_call_in_any_order() {
        let mut segment = Segment::new("f", 10, 4);
        // The second half answers first, as a run; the first half with a
        // failure, one by one.
        segment.file(Answered::Run(run(12, 2)));
        assert!(!segment.is_ready());
        let failed = Err(Error::PoolClosed);
        let first = run(10, 1).into_answers().into_iter().chain([(11, failed)]);
        segment.file(Answered::Each(first.collect()));
        let drained = drain(&mut segment);
        assert_eq!(drained.len(), 4);
        assert_eq!(drained[0], Ok(10));
        assert!(drained[1].is_err());
        assert_eq!(drained[2..], [Ok(12), Ok(13)]);
    }

    #[test]
    fn a_value_past_the_end_of_its_run_is_an_error_for_it_and_those_after() {
        let mut segment = Segment::new("f", 10, 3);
        // The second value claims two bytes where one is left.
        let msg = vec![1, 10, 2, 11];
        segment.file(Answered::Run(Run::new(Arc::new(msg), 10, 3, 0)));
        let drained = drain(&mut segment);
        assert_eq!(drained[0], Ok(10));
        assert_eq!(drained.len(), 3);
        assert!(
            drained[1..]
                .iter()
                .all(|d| d.as_ref().is_err_and(|e| e.contains("malformed")))
        );
    }
}
