//! Where a stream's calls come from: process specifications one by one, or
//! the calls of one function whose arguments are encoded straight into a
//! batch (`pool::tasks`), as `pmap` makes them.

use crate::error::Error;
use crate::pool::spec::Spec;

/// The calls of one function, their arguments encoded on demand.
pub(crate) trait Pack: Send {
    /// The function every call calls.
    fn id(&self) -> &'static str;

    /// Takes the next call and encodes its arguments at the end of `bytes`;
    /// `None` at the end of the input.
    fn pack_next(&mut self, bytes: &mut Vec<u8>) -> Option<Packing>;

    fn size_hint(&self) -> (usize, Option<usize>);
}

/// What became of a call taken by [`Pack::pack_next`].
pub(crate) enum Packing {
    /// Its arguments are at the end of the buffer.
    Packed,
    /// It travels on its own (its arguments detached buffers), or failed
    /// to encode; nothing of it is in the buffer. Boxed: this is rare, and
    /// a `Packing` the size of a call or an error is copied whole for every
    /// packed call too (a third of a tiny batched call's time in the caller).
    Alone(Box<Result<Spec, Error>>),
}

/// A stream's input.
pub(crate) enum Source<'a> {
    Specs(Box<dyn Iterator<Item = Result<Spec, Error>> + Send + 'a>),
    Packs(Box<dyn Pack + 'a>),
}

impl Source<'_> {
    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Source::Specs(specs) => specs.size_hint(),
            Source::Packs(packs) => packs.size_hint(),
        }
    }
}

impl<'a, I> From<I> for Source<'a>
where
    I: Iterator<Item = Result<Spec, Error>> + Send + 'a,
{
    fn from(specs: I) -> Source<'a> {
        Source::Specs(Box::new(specs))
    }
}
