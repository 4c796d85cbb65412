use serde::{Deserialize, Serialize};

use super::Counts;
use super::scan::add;

/// A worker's counts in the form that crosses the process boundary: every
/// article's bytes back to back in one buffer, then each article's length
/// and count.
///
/// A [`Counts`] map of 10,000 articles costs 2-4 ms to encode in the
/// worker and decode in the caller (one small buffer and one hash insertion
/// per article), on the critical path after the last scan. Packed, the keys
/// are one buffer, encoded and decoded as one copy (`serde_bytes`: serde
/// would otherwise take a `Vec<u8>` byte by byte), and the caller hashes
/// each article once, into its total. Measured on the 1 GiB log with 2 workers
/// (issue 14, three runs of 15 alternated repetitions, medians): 118-121 ms
/// against 122-124 ms sending the maps, with rayon threads at 116-118 ms.
///
/// # Examples
///
/// ```
/// use widefinder::{Counts, PackedCounts};
///
/// let counts: Counts = [(b"2006/10/08/A".to_vec(), 2), (b"2006/10/09/B".to_vec(), 1)]
///     .into_iter()
///     .collect();
/// let mut total = Counts::default();
/// PackedCounts::from(&counts).merge_into(&mut total);
/// PackedCounts::from(&counts).merge_into(&mut total);
/// assert_eq!(total[&b"2006/10/08/A"[..]], 4);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Unchecked")]
pub struct PackedCounts {
    /// The articles' bytes, back to back.
    #[serde(with = "serde_bytes")]
    keys: Vec<u8>,
    /// Each article's length in `keys`, in order, and its count.
    entries: Vec<(u64, u64)>,
}

/// A [`PackedCounts`] as it arrives, before its lengths are checked
/// against its keys.
#[derive(Deserialize)]
struct Unchecked {
    #[serde(with = "serde_bytes")]
    keys: Vec<u8>,
    entries: Vec<(u64, u64)>,
}

impl TryFrom<Unchecked> for PackedCounts {
    type Error = String;

    fn try_from(Unchecked { keys, entries }: Unchecked) -> Result<PackedCounts, String> {
        let total = entries
            .iter()
            .try_fold(0u64, |sum, &(len, _)| sum.checked_add(len));
        if total != Some(keys.len() as u64) {
            return Err(format!(
                "packed counts whose lengths do not add up to their {} bytes of keys",
                keys.len()
            ));
        }
        Ok(PackedCounts { keys, entries })
    }
}

impl PackedCounts {
    /// Adds these counts into `total`.
    ///
    /// # Examples
    ///
    /// See [`PackedCounts`].
    pub fn merge_into(&self, total: &mut Counts) {
        total.reserve(self.entries.len().saturating_sub(total.len()));
        let mut start = 0;
        for &(len, count) in &self.entries {
            // Every length fits: they add up to the keys' length (`From`
            // makes them so, and decoding checks).
            let end = start + len as usize;
            let key = &self.keys[start..end];
            start = end;
            add(total, key, count);
        }
    }

    /// The number of articles.
    ///
    /// # Examples
    ///
    /// ```
    /// # use widefinder::{Counts, PackedCounts};
    /// assert_eq!(PackedCounts::from(&Counts::default()).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no articles.
    ///
    /// # Examples
    ///
    /// ```
    /// # use widefinder::{Counts, PackedCounts};
    /// assert!(PackedCounts::from(&Counts::default()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<&Counts> for PackedCounts {
    fn from(counts: &Counts) -> PackedCounts {
        let mut keys = Vec::with_capacity(counts.keys().map(Vec::len).sum());
        let mut entries = Vec::with_capacity(counts.len());
        for (key, &count) in counts {
            keys.extend_from_slice(key);
            entries.push((key.len() as u64, count));
        }
        PackedCounts { keys, entries }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn counts(pairs: &[(&[u8], u64)]) -> Counts {
        pairs.iter().map(|&(k, n)| (k.to_vec(), n)).collect()
    }

    #[test]
    fn unpacking_into_nothing_gives_the_counts_back() {
        let original = counts(&[(b"a", 1), (b"", 7), (b"\xff\x00long", 3), (b"bb", 2)]);
        let mut total = Counts::default();
        PackedCounts::from(&original).merge_into(&mut total);
        assert_eq!(total, original);
    }

    #[test]
    fn merging_adds_to_what_is_there() {
        let mut total = counts(&[(b"a", 1), (b"c", 5)]);
        PackedCounts::from(&counts(&[(b"a", 2), (b"b", 1)])).merge_into(&mut total);
        assert_eq!(total, counts(&[(b"a", 3), (b"b", 1), (b"c", 5)]));
    }

    #[test]
    fn lengths_that_do_not_add_up_are_refused_on_arrival() {
        let bad = |keys: &[u8], entries: &[(u64, u64)]| {
            PackedCounts::try_from(Unchecked {
                keys: keys.to_vec(),
                entries: entries.to_vec(),
            })
        };
        assert!(bad(b"abc", &[(2, 1)]).is_err());
        assert!(bad(b"abc", &[(2, 1), (2, 1)]).is_err());
        assert!(bad(b"", &[(u64::MAX, 1), (1, 1)]).is_err());
        let good = bad(b"abc", &[(1, 1), (2, 5)]).unwrap();
        let mut total = Counts::default();
        good.merge_into(&mut total);
        assert_eq!(total, counts(&[(b"a", 1), (b"bc", 5)]));
    }

    #[test]
    fn nothing_packed_adds_nothing() {
        let packed = PackedCounts::from(&Counts::default());
        assert!(packed.is_empty());
        let mut total = counts(&[(b"a", 1)]);
        packed.merge_into(&mut total);
        assert_eq!(total, counts(&[(b"a", 1)]));
    }
}
