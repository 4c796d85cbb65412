use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memchr::memmem;
use memmap2::{Mmap, MmapOptions};
use procs::remote;

use super::{Chunk, PackedCounts};

/// Fetches per article path (the bytes the pattern captured).
///
/// Hashed with foldhash rather than std's SipHash: the scan looks up one
/// key per matching request, and the hash was a sixth of the serial time
/// (262 ms against 230 ms on the 1 GiB log, issue 14). foldhash is seeded
/// at random per process, like std's hasher, because the keys come from a
/// log that anyone on the web writes to.
///
/// # Examples
///
/// ```
/// use widefinder::Counts;
///
/// let mut counts = Counts::default();
/// *counts.entry(b"2006/10/08/Grief".to_vec()).or_insert(0) += 1;
/// assert_eq!(counts[&b"2006/10/08/Grief"[..]], 1);
/// ```
pub type Counts = HashMap<Vec<u8>, u64, foldhash::fast::RandomState>;

/// Where every match starts: the pattern's literal prefix.
const PREFIX: &[u8] = b"GET /ongoing/When/";

fn finder() -> &'static memmem::Finder<'static> {
    static FINDER: OnceLock<memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memmem::Finder::new(PREFIX))
}

/// Counts the articles fetched in `bytes`, a run of whole lines.
///
/// Equivalent to Wide Finder's
/// `GET /ongoing/When/\d\d\dx/(\d\d\d\d/\d\d/\d\d/[^ .]+) ` applied line by
/// line (the tests hold it to that regex): the literal prefix is found with
/// SIMD `memmem`, and the rest is checked by hand, which is several times
/// faster than a regex with a capture group.
///
/// # Examples
///
/// ```
/// use widefinder::scan;
///
/// let log = b"h - - [08/Oct/2006:06:37:48 -0700] \"GET /ongoing/When/200x/2006/10/08/Grief HTTP/1.1\" 200 5945\n";
/// assert_eq!(scan(log)[&b"2006/10/08/Grief"[..]], 1);
/// ```
pub fn scan(bytes: &[u8]) -> Counts {
    let mut counts = Counts::default();
    let mut from = 0;
    while let Some(found) = finder().find(&bytes[from..]) {
        let start = from + found + PREFIX.len();
        // No match can start inside the prefix: it does not overlap itself.
        from = start;
        let Some(article) = article_at(bytes, start) else {
            continue;
        };
        add(&mut counts, &bytes[article.clone()], 1);
        from = article.end + 1;
    }
    counts
}

/// Adds `n` to the count of `key`. Looks the key up by slice first: most
/// keys repeat, and allocating only for new ones keeps a scan (or a merge of
/// packed counts) allocation-free.
#[inline]
pub(crate) fn add(counts: &mut Counts, key: &[u8], n: u64) {
    match counts.get_mut(key) {
        Some(count) => *count += n,
        None => {
            counts.insert(key.to_vec(), n);
        }
    }
}

/// The article right after a prefix that ends at `at`, if the rest of the
/// pattern matches: `\d\d\dx/`, then the article `\d\d\d\d/\d\d/\d\d/`
/// followed by one or more bytes other than space, `.` and newline, then a
/// space.
fn article_at(bytes: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    // `d` is any ASCII digit; the article starts after `dddx/`.
    const SHAPE: &[u8] = b"dddx/dddd/dd/dd/";
    let head = bytes.get(at..at + SHAPE.len())?;
    let shaped = SHAPE.iter().zip(head).all(|(&want, &got)| match want {
        b'd' => got.is_ascii_digit(),
        literal => got == literal,
    });
    if !shaped {
        return None;
    }
    let article_start = at + 5;
    let name_start = at + SHAPE.len();
    let name_len = bytes[name_start..]
        .iter()
        .position(|&b| matches!(b, b' ' | b'.' | b'\n'))?;
    (name_len > 0 && bytes[name_start + name_len] == b' ')
        .then_some(article_start..name_start + name_len)
}

/// Adds `from` into `into`, walking the smaller of the two: merging is
/// the part of every parallel mode that runs after the scans, so it costs
/// one lookup per key of the smaller map, and nothing when one is empty.
///
/// # Examples
///
/// ```
/// use widefinder::{merge, Counts};
///
/// let mut total: Counts = [(b"a".to_vec(), 1)].into_iter().collect();
/// merge(&mut total, [(b"a".to_vec(), 2), (b"b".to_vec(), 1)].into_iter().collect());
/// assert_eq!((total[&b"a"[..]], total[&b"b"[..]]), (3, 1));
/// ```
pub fn merge(into: &mut Counts, mut from: Counts) {
    if into.len() < from.len() {
        std::mem::swap(into, &mut from);
    }
    for (key, count) in from {
        *into.entry(key).or_insert(0) += count;
    }
}

/// Maps `chunk` of the file at `path` and counts its articles: one Wide
/// Finder task, run in a worker process. Only the path and the chunk's
/// position cross the process boundary on the way in, and the counts come
/// back packed ([`PackedCounts`]); the worker reads the bytes itself.
///
/// # Examples
///
/// ```no_run
/// use widefinder::{scan_chunk, split, Counts};
///
/// let path = std::path::PathBuf::from("access.log");
/// let data = std::fs::read(&path)?;
/// let tasks = split(&data, 32 << 20).into_iter().map(|chunk| (path.clone(), chunk));
/// let mut total = Counts::default();
/// for counts in procs::pmap(scan_chunk, tasks) {
///     counts??.merge_into(&mut total);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// When the file cannot be opened or mapped, as text.
#[remote]
pub fn scan_chunk(path: PathBuf, chunk: Chunk) -> Result<PackedCounts, String> {
    if chunk.len == 0 {
        return Ok(PackedCounts::default());
    }
    let file = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = usize::try_from(chunk.len).map_err(|_| "chunk too large".to_owned())?;
    // SAFETY: the mapping is read-only and lives only for this call; the log
    // must not be truncated while it is scanned (the usual mmap caveat, as
    // in the seed's wf-6).
    // No MAP_POPULATE: measured, it made the 1 GiB run slower, not faster.
    let map = unsafe { MmapOptions::new().offset(chunk.offset).len(len).map(&file) }
        .map_err(|e| format!("cannot map {}: {e}", path.display()))?;
    Ok(PackedCounts::from(&scan(&map)))
}

/// Maps the whole file at `path`; an empty file gives `None` (it cannot be
/// mapped, and has nothing to scan).
///
/// # Errors
///
/// When the file cannot be opened or mapped.
pub(crate) fn map_file(path: &Path) -> std::io::Result<Option<Mmap>> {
    let file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: read-only mapping; see `scan_chunk`.
    unsafe { Mmap::map(&file) }.map(Some)
}

/// Counts the articles of the whole file in this process, in one pass: the
/// serial baseline.
///
/// # Examples
///
/// ```no_run
/// let counts = widefinder::scan_file_serial("access.log".as_ref())?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// When the file cannot be opened or mapped.
pub fn scan_file_serial(path: &Path) -> std::io::Result<Counts> {
    Ok(map_file(path)?.map(|map| scan(&map)).unwrap_or_default())
}

#[cfg(test)]
mod test {
    use regex::bytes::Regex;

    use super::*;

    /// The pattern exactly as Wide Finder states it, applied line by line.
    fn reference(bytes: &[u8]) -> Counts {
        let re =
            Regex::new(r"(?-u)GET /ongoing/When/\d\d\dx/(\d\d\d\d/\d\d/\d\d/[^ .]+) ").unwrap();
        let mut counts = Counts::default();
        for line in bytes.split(|&b| b == b'\n') {
            for caps in re.captures_iter(line) {
                *counts.entry(caps[1].to_vec()).or_insert(0) += 1;
            }
        }
        counts
    }

    #[test]
    fn whole_chunk_scan_equals_line_by_line_reference() {
        let log: &[u8] = b"a \"GET /ongoing/When/200x/2006/10/08/Grief HTTP/1.1\" 200\n\
            b \"GET /ongoing/When/200x/2006/10/08/Grief HTTP/1.1\" 404\n\
            c \"HEAD /ongoing/When/200x/2006/10/08/Grief HTTP/1.1\" 200\n\
            d \"GET /ongoing/When/200x/2006/10/08/ HTTP/1.1\" 200\n\
            e \"GET /ongoing/When/200x/2006/10/08/pic.jpg HTTP/1.1\" 200\n\
            f \"GET /ongoing/When/200x/2006/10/09/Cut\nHTTP/1.1\" 200\n\
            g \"GET /ongoing/When/200x/2006/10/09/CRLF HTTP/1.1\" 200\r\n\
            h \"GET /ongoing/When/200x/2006/10/09/\xff\xfe HTTP/1.1\" 200\n\
            i \"GET /ongoing/When/200x/2006/1/09/Bad HTTP/1.1\" 200\n\
            j \"GET /ongoing/When/200x/2006/10/09/Two HTTP/1.1\" GET /ongoing/When/200x/2006/10/09/Two \n\
            k \"GET /ongoing/When/200x/2006/10/09/NoNewline ";
        let counts = scan(log);
        assert_eq!(counts, reference(log));
        assert_eq!(counts[&b"2006/10/08/Grief"[..]], 2);
        assert_eq!(counts[&b"2006/10/09/Two"[..]], 2);
        assert_eq!(counts[&b"2006/10/09/CRLF"[..]], 1);
        assert_eq!(counts[&b"2006/10/09/\xff\xfe"[..]], 1);
        assert_eq!(counts[&b"2006/10/09/NoNewline"[..]], 1);
        assert!(!counts.contains_key(&b"2006/10/09/Cut"[..]));
        assert_eq!(counts.len(), 5);
    }

    #[test]
    fn generated_log_scan_equals_line_by_line_reference() {
        let mut log = Vec::new();
        crate::generate(&mut log, 2 << 20, 99, |_| {}).unwrap();
        let counts = scan(&log);
        assert_eq!(counts, reference(&log));
        assert!(counts.len() > 100);
    }

    #[test]
    fn near_misses_do_not_count() {
        for miss in [
            &b"GET /ongoing/When/20x/2006/10/08/A "[..],
            b"GET /ongoing/When/200y/2006/10/08/A ",
            b"GET /ongoing/When/200x/206/10/08/A ",
            b"GET /ongoing/When/200x/2006/1a/08/A ",
            b"GET /ongoing/When/200x/2006/10/08/A",
            b"GET /ongoing/When/200x/2006/10/08/A.html ",
            b"GET /ongoing/When/200x/2006/10/08/ ",
            b"GET /ongoing/When/200x/2006/10/0",
            b"get /ongoing/When/200x/2006/10/08/A ",
        ] {
            assert!(scan(miss).is_empty(), "{}", String::from_utf8_lossy(miss));
            assert_eq!(scan(miss), reference(miss));
        }
        let overlapping = b"GET /ongoing/When/GET /ongoing/When/200x/2006/10/08/B x";
        assert_eq!(scan(overlapping), reference(overlapping));
        assert_eq!(scan(overlapping).len(), 1);
    }
}
