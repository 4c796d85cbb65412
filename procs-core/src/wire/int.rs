//! bincode's encoding of the common integers, by hand.
//!
//! Tiny tasks mostly take and return one integer. bincode sets up an
//! encoder or decoder per value, which costs several times the value
//! itself; the bytes written here are bincode's own (its standard
//! configuration: varints, zigzag for signed types), so either side may
//! use either path. A form this does not read (a marker wider than the
//! type, too few bytes) is left to bincode, for its error.

use std::any::Any;

/// bincode's varint: below 251 in one byte, else a marker and 2, 4 or 8
/// little-endian bytes.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, n: u64) {
    if n < 251 {
        out.push(n as u8);
    } else if n <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

/// A varint at the front of `input` of a type `width` bytes wide: the
/// number and the bytes it took.
#[inline]
fn varint(input: &[u8], width: usize) -> Option<(u64, usize)> {
    let fixed = |n: usize| input.get(1..1 + n);
    match *input.first()? {
        small @ 0..251 => Some((u64::from(small), 1)),
        251 if width >= 2 => Some((u64::from(u16::from_le_bytes(fixed(2)?.try_into().ok()?)), 3)),
        252 if width >= 4 => Some((u64::from(u32::from_le_bytes(fixed(4)?.try_into().ok()?)), 5)),
        253 if width >= 8 => Some((u64::from_le_bytes(fixed(8)?.try_into().ok()?), 9)),
        _ => None,
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Appends `value` if it is one of the integers handled here; whether it
/// was.
pub(crate) fn encode<T: 'static>(value: &T, out: &mut Vec<u8>) -> bool {
    let value = value as &dyn Any;
    let n = if let Some(&n) = value.downcast_ref::<u64>() {
        n
    } else if let Some(&n) = value.downcast_ref::<usize>() {
        n as u64
    } else if let Some(&n) = value.downcast_ref::<u32>() {
        u64::from(n)
    } else if let Some(&n) = value.downcast_ref::<i64>() {
        zigzag(n)
    } else if let Some(&n) = value.downcast_ref::<isize>() {
        zigzag(n as i64)
    } else if let Some(&n) = value.downcast_ref::<i32>() {
        zigzag(i64::from(n))
    } else {
        return false;
    };
    put_varint(out, n);
    true
}

/// One of the integers handled here from the front of `input`, with the
/// bytes it took; `None` for other types, and for anything but a
/// well-formed value of the type (bincode then decides).
pub(crate) fn decode<T: 'static>(input: &[u8]) -> Option<(T, usize)> {
    let mut slot: Option<T> = None;
    let any = &mut slot as &mut dyn Any;
    let used = if let Some(slot) = any.downcast_mut::<Option<u64>>() {
        let (n, used) = varint(input, 8)?;
        *slot = Some(n);
        used
    } else if let Some(slot) = any.downcast_mut::<Option<usize>>() {
        let (n, used) = varint(input, 8)?;
        *slot = Some(usize::try_from(n).ok()?);
        used
    } else if let Some(slot) = any.downcast_mut::<Option<u32>>() {
        let (n, used) = varint(input, 4)?;
        *slot = Some(u32::try_from(n).ok()?);
        used
    } else if let Some(slot) = any.downcast_mut::<Option<i64>>() {
        let (n, used) = varint(input, 8)?;
        *slot = Some(unzigzag(n));
        used
    } else if let Some(slot) = any.downcast_mut::<Option<isize>>() {
        let (n, used) = varint(input, 8)?;
        *slot = Some(isize::try_from(unzigzag(n)).ok()?);
        used
    } else if let Some(slot) = any.downcast_mut::<Option<i32>>() {
        let (n, used) = varint(input, 4)?;
        *slot = Some(i32::try_from(unzigzag(n)).ok()?);
        used
    } else {
        return None;
    };
    Some((slot?, used))
}

#[cfg(test)]
mod test {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::*;

    fn config() -> impl bincode::config::Config {
        bincode::config::standard().with_limit::<{ 1 << 32 }>()
    }

    /// The same bytes as bincode's, both ways.
    fn agrees<T>(values: &[T])
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Copy + 'static,
    {
        for &value in values {
            let theirs = bincode::serde::encode_to_vec(value, config()).unwrap();
            let mut ours = Vec::new();
            assert!(encode(&value, &mut ours));
            assert_eq!(ours, theirs, "{value:?}");
            assert_eq!(
                decode::<T>(&theirs),
                Some((value, theirs.len())),
                "{value:?}"
            );
            // Followed by other bytes, it takes only its own.
            let mut longer = theirs.clone();
            longer.extend_from_slice(&[7; 9]);
            assert_eq!(decode::<T>(&longer), Some((value, theirs.len())));
            // Cut short, it is left to bincode, which refuses it.
            for cut in 0..theirs.len() {
                assert_eq!(decode::<T>(&theirs[..cut]), None);
            }
        }
    }

    #[test]
    fn integers_cross_as_bincode_writes_them() {
        let edges = [
            0,
            1,
            250,
            251,
            252,
            255,
            256,
            65_535,
            65_536,
            u32::MAX as u64,
        ];
        let unsigned: Vec<u64> = edges
            .iter()
            .copied()
            .chain([u32::MAX as u64 + 1, u64::MAX])
            .collect();
        agrees(&unsigned);
        agrees(&unsigned.iter().map(|&n| n as usize).collect::<Vec<_>>());
        agrees(&edges.iter().map(|&n| n as u32).collect::<Vec<_>>());
        let signed: Vec<i64> = unsigned
            .iter()
            .flat_map(|&n| [n as i64, -(n as i64), (n / 2) as i64, -((n / 2) as i64) - 1])
            .chain([i64::MIN, i64::MAX])
            .collect();
        agrees(&signed);
        agrees(&signed.iter().map(|&n| n as isize).collect::<Vec<_>>());
        agrees(&signed.iter().map(|&n| n as i32).collect::<Vec<_>>());
    }

    #[test]
    fn other_types_and_out_of_range_values_are_left_to_bincode() {
        assert!(!encode(&1u16, &mut Vec::new()));
        assert!(!encode(&"text", &mut Vec::new()));
        assert_eq!(decode::<u16>(&[1]), None);
        // A u64 marker for a 32-bit type.
        let wide = bincode::serde::encode_to_vec(u64::MAX, config()).unwrap();
        assert_eq!(decode::<u32>(&wide), None);
        assert_eq!(decode::<i32>(&wide), None);
        // A u32 marker read as an i32 is what bincode reads too.
        let large = bincode::serde::encode_to_vec(u32::MAX, config()).unwrap();
        let (theirs, used): (i32, usize) =
            bincode::serde::decode_from_slice(&large, config()).unwrap();
        assert_eq!(decode::<i32>(&large), Some((theirs, used)));
        // An unknown marker.
        assert_eq!(decode::<u64>(&[255, 0, 0]), None);
    }
}
