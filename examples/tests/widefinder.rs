//! Wide Finder gives the same counts serially, on threads and in worker
//! processes, whatever the chunking and on awkward logs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use widefinder::{
    Counts, DEFAULT_SEED, count_procs, count_threads, generate, scan_file_serial, split,
};

fn temp_log(name: &str, bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("wf-{}-{n}-{name}.log", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn pool(workers: usize) -> procs::Pool {
    procs::Pool::builder().workers(workers).build().unwrap()
}

/// Serial, threads and procs on every chunk size in `chunks` agree.
fn all_modes_agree(path: &Path, chunk_sizes: &[usize], workers: usize) -> Counts {
    let serial = scan_file_serial(path).unwrap();
    let data = std::fs::read(path).unwrap();
    let pool = pool(workers);
    for &size in chunk_sizes {
        let chunks = split(&data, size);
        assert_eq!(
            count_threads(&data, &chunks, workers, &|| {}).unwrap(),
            serial,
            "threads, chunk {size}"
        );
        let procs = count_procs(&pool, path, &chunks, &mut || {}).unwrap();
        assert_eq!(procs, serial, "procs, chunk {size}");
    }
    serial
}

const LINE: &str = "h - - [08/Oct/2006:06:37:48 -0700] \"GET /ongoing/When/200x/2006/10/08/Grief-Lessons HTTP/1.1\" 200 5945 \"-\" \"agent\"";

#[test]
fn generated_log_agrees_at_every_chunking() {
    let mut log = Vec::new();
    generate(&mut log, 300_000, DEFAULT_SEED, |_| {}).unwrap();
    let path = temp_log("generated", &log);
    // Sizes that split lines everywhere, down to a few bytes per chunk.
    let counts = all_modes_agree(&path, &[7, 1000, 4096, 65_536, 1 << 30], 2);
    assert!(counts.values().sum::<u64>() > 500);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn awkward_logs_agree() {
    let crlf = format!("{LINE}\r\n{LINE}\r\n");
    let no_newline = format!("{LINE}\n{LINE}");
    let mut non_utf8 = format!("{LINE}\n").into_bytes();
    non_utf8
        .extend_from_slice(b"\xff\xfe garbage \x80 GET /ongoing/When/200x/2006/10/08/\xc3( HTTP\n");
    non_utf8.extend_from_slice(format!("{LINE}\n").as_bytes());
    let cases: [(&str, &[u8], u64); 5] = [
        ("empty", b"", 0),
        ("crlf", crlf.as_bytes(), 2),
        ("no-newline", no_newline.as_bytes(), 2),
        ("non-utf8", &non_utf8, 3),
        ("tiny", LINE.as_bytes(), 1),
    ];
    for (name, bytes, expected) in cases {
        let path = temp_log(name, bytes);
        // More workers than chunks, chunks smaller than a line, one chunk.
        let counts = all_modes_agree(&path, &[1, 50, 1 << 20], 4);
        assert_eq!(counts.values().sum::<u64>(), expected, "{name}");
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_missing_log_is_an_error_not_a_panic() {
    let missing = std::env::temp_dir().join("wf-does-not-exist.log");
    assert!(scan_file_serial(&missing).is_err());
    let chunks = split(LINE.as_bytes(), 10);
    let err = count_procs(&pool(1), &missing, &chunks, &mut || {}).unwrap_err();
    assert!(err.contains("cannot open"), "{err}");
}
