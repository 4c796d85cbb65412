use super::Counts;

/// The `n` most fetched articles, highest count first, ties broken by key.
///
/// # Examples
///
/// ```
/// use widefinder::{top, Counts};
///
/// let counts: Counts = [(b"b".to_vec(), 2), (b"a".to_vec(), 2), (b"c".to_vec(), 5)].into_iter().collect();
/// assert_eq!(top(&counts, 2), [(5, "c".to_string()), (2, "a".to_string())]);
/// ```
pub fn top(counts: &Counts, n: usize) -> Vec<(u64, String)> {
    let mut all: Vec<(&Vec<u8>, u64)> = counts.iter().map(|(k, &v)| (k, v)).collect();
    all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    all.into_iter()
        .take(n)
        .map(|(key, count)| (count, String::from_utf8_lossy(key).into_owned()))
        .collect()
}
