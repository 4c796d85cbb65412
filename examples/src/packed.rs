use serde::{Deserialize, Serialize};

use super::Counts;

/// A worker's counts in the form that crosses the process boundary: every
/// article's bytes back to back in one buffer, then each article's length
/// and count.
///
/// A [`Counts`] map of 10,000 articles costs 2-4 ms to encode in the
/// worker and decode in the caller (one small buffer and one hash insertion
/// per article), on the critical path after the last scan. Packed, the keys
/// are one buffer that procs passes on whole, and the caller hashes each
/// article once, into its total. Measured on the 1 GiB log with 2 workers
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
pub struct PackedCounts {
    /// The articles' bytes, back to back.
    keys: Vec<u8>,
    /// Each article's length in `keys`, in order, and its count.
    entries: Vec<(u64, u64)>,
}

impl PackedCounts {
    /// Adds these counts into `total`.
    ///
    /// # Examples
    ///
    /// See [`PackedCounts`].
    ///
    /// # Panics
    ///
    /// If the lengths overrun the keys, which only a value not made by
    /// [`From`] can do.
    pub fn merge_into(&self, total: &mut Counts) {
        total.reserve(self.entries.len().saturating_sub(total.len()));
        let mut start = 0;
        for &(len, count) in &self.entries {
            let end = start + usize::try_from(len).expect("a key longer than memory");
            let key = &self.keys[start..end];
            start = end;
            // Most articles are in `total` already: allocate only for new
            // ones.
            match total.get_mut(key) {
                Some(total) => *total += count,
                None => {
                    total.insert(key.to_vec(), count);
                }
            }
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
    fn nothing_packed_adds_nothing() {
        let packed = PackedCounts::from(&Counts::default());
        assert!(packed.is_empty());
        let mut total = counts(&[(b"a", 1)]);
        packed.merge_into(&mut total);
        assert_eq!(total, counts(&[(b"a", 1)]));
    }
}
