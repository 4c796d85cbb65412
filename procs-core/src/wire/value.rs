//! User values through bincode: arguments and results, one at a time.
//!
//! Keeping bincode behind this one module lets the codec be swapped
//! (bincode 2 carries an "unmaintained" advisory).

use std::any::Any;

use serde::{Serialize, de::DeserializeOwned};

use crate::contract::BoxError;
use crate::wire::int::{self, put_varint};

fn config() -> impl bincode::config::Config {
    // The frame limit already bounds the input; this bounds what length
    // prefixes inside it may claim.
    bincode::config::standard().with_limit::<{ 1 << 32 }>()
}

/// Encodes a whole value (a failure, or an argument tuple by ID).
pub(crate) fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, BoxError> {
    Ok(bincode::serde::encode_to_vec(value, config())?)
}

/// Decodes a whole value, refusing trailing bytes.
pub(crate) fn decode_value<T: DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T, BoxError> {
    let mut input = bytes;
    let value = decode_elem(&mut input)?;
    end(input)?;
    Ok(value)
}

/// Refuses bytes left over after the last value.
pub(crate) fn end(rest: &[u8]) -> Result<(), BoxError> {
    match rest.len() {
        0 => Ok(()),
        n => Err(format!("{n} trailing bytes").into()),
    }
}

/// Appends one value (an argument or a return value) to `out`.
///
/// A `Vec<u8>` is written with one copy instead of serde's byte-by-byte
/// sequence; the bytes are the same as bincode's, so either side may use
/// either path.
pub(crate) fn encode_elem<T: Serialize + 'static>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), BoxError> {
    if let Some(bytes) = (value as &dyn Any).downcast_ref::<Vec<u8>>() {
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
        return Ok(());
    }
    if int::encode(value, out) {
        return Ok(());
    }
    bincode::serde::encode_into_writer(value, Append(out), config())?;
    Ok(())
}

/// bincode's writer onto the end of a vector, without `std::io::Write` in
/// between: a tiny value's few bytes cost a dynamic write call each there.
struct Append<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for Append<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Decodes one value from the front of `input` and advances past it.
pub(crate) fn decode_elem<T: DeserializeOwned + 'static>(input: &mut &[u8]) -> Result<T, BoxError> {
    let room = *input;
    decode_elem_in(input, room)
}

/// [`decode_elem`] for an `input` at the front of `room`, which holds more
/// bytes of the same message after it.
///
/// bincode reads a number from fewer than 9 bytes on a slow path, several
/// times the cost of a tiny value. So a value is read from `room` when it
/// reaches far enough (else from a zero-padded copy of a short `input`) and
/// kept if it ended within `input`; if not, `input` alone is decoded again,
/// for the real error. Sound because a decoder's value depends only on the
/// bytes it consumes: one that consumed no more than `input` saw only
/// `input`'s bytes.
pub(crate) fn decode_elem_in<T: DeserializeOwned + 'static>(
    input: &mut &[u8],
    room: &[u8],
) -> Result<T, BoxError> {
    debug_assert!(room.len() >= input.len() && room.as_ptr() == input.as_ptr());
    let mut slot: Option<T> = None;
    if let Some(bytes) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Vec<u8>>>() {
        let len = take_varint(input)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= input.len())
            .ok_or("byte buffer longer than its message")?;
        let (head, tail) = input.split_at(len);
        *bytes = Some(head.to_vec());
        *input = tail;
        return Ok(slot.expect("set above"));
    }
    if let Some((value, used)) = int::decode(input) {
        *input = &input[used..];
        return Ok(value);
    }
    const PADDED: usize = 32;
    let fast = if room.len() >= input.len() + 9 {
        bincode::serde::decode_from_slice(room, config()).ok()
    } else if input.len() <= PADDED - 9 {
        let mut padded = [0u8; PADDED];
        padded[..input.len()].copy_from_slice(input);
        bincode::serde::decode_from_slice(&padded, config()).ok()
    } else {
        None
    };
    let (value, used) = match fast {
        Some((value, used)) if used <= input.len() => (value, used),
        _ => bincode::serde::decode_from_slice(input, config())?,
    };
    *input = &input[used..];
    Ok(value)
}

fn take_varint(input: &mut &[u8]) -> Result<u64, BoxError> {
    let (&first, rest) = input.split_first().ok_or("truncated length")?;
    let width = match first {
        0..251 => {
            *input = rest;
            return Ok(u64::from(first));
        }
        251 => 2,
        252 => 4,
        253 => 8,
        _ => return Err("invalid length marker".into()),
    };
    if rest.len() < width {
        return Err("truncated length".into());
    }
    let mut buf = [0u8; 8];
    buf[..width].copy_from_slice(&rest[..width]);
    *input = &rest[width..];
    Ok(u64::from_le_bytes(buf))
}

/// A codec error about argument `position` (from 1) of type `T`: what the
/// error says it failed on, for a human.
pub(crate) fn argument_error<T: ?Sized>(position: usize, error: BoxError) -> BoxError {
    let type_name = std::any::type_name::<T>();
    format!("argument {position} (`{type_name}`): {error}").into()
}

/// A codec error about a return value of type `T`.
pub(crate) fn result_error<T: ?Sized>(error: BoxError) -> BoxError {
    let type_name = std::any::type_name::<T>();
    format!("`{type_name}`: {error}").into()
}

/// What to do about a codec error that comes from bincode not being
/// self-describing, if the error looks like one; `None` otherwise.
pub(crate) fn limitation_hint(cause: &str) -> Option<&'static str> {
    if cause.contains("AnyNotSupported") {
        Some(
            "the wire format (bincode) is not self-describing, so types that need \
             `deserialize_any` cannot cross: `serde_json::Value`, `#[serde(untagged)]` \
             and internally tagged (`#[serde(tag = ...)]`) enums, `#[serde(flatten)]`; \
             use a plain struct or enum, or encode the value to bytes or a `String` yourself",
        )
    } else if cause.contains("UnexpectedEnd") || cause.contains("trailing bytes") {
        Some(
            "if the type skips fields when encoding (`#[serde(skip_serializing_if)]`), \
             bincode cannot decode it: the wire format is not self-describing, so every \
             field must always be written",
        )
    } else {
        None
    }
}
