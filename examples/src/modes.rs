use std::path::Path;

use rayon::prelude::*;

use super::{Chunk, Counts, merge, scan, scan_chunk};

/// Counts the chunks of `data` on `workers` rayon threads: the threads
/// baseline. `done` is called once per chunk scanned.
///
/// # Examples
///
/// ```
/// use widefinder::{count_threads, split};
///
/// let log = b"x \"GET /ongoing/When/200x/2006/10/08/A HTTP/1.1\"\n".repeat(3);
/// let counts = count_threads(&log, &split(&log, 40), 2, &|| {})?;
/// assert_eq!(counts[&b"2006/10/08/A"[..]], 3);
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
///
/// When the thread pool cannot start.
pub fn count_threads(
    data: &[u8],
    chunks: &[Chunk],
    workers: usize,
    done: &(dyn Fn() + Sync),
) -> Result<Counts, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(pool.install(|| {
        chunks
            .par_iter()
            .map(|chunk| {
                let counts = scan(&data[chunk.range()]);
                done();
                counts
            })
            .reduce(Counts::default, |mut a, b| {
                merge(&mut a, b);
                a
            })
    }))
}

/// Counts the chunks of the file at `path` in `pool`'s worker processes:
/// the procs way. Only the path and each chunk's position are sent; `done`
/// is called once per chunk merged.
///
/// # Examples
///
/// ```no_run
/// use widefinder::{count_procs, split};
///
/// let data = std::fs::read("access.log").map_err(|e| e.to_string())?;
/// let pool = procs::Pool::builder().build().map_err(|e| e.to_string())?;
/// let counts = count_procs(&pool, "access.log".as_ref(), &split(&data, 1 << 20), &mut || {})?;
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
///
/// The first task's error: a worker that failed (as a procs error) or a
/// file that could not be read in the worker.
pub fn count_procs(
    pool: &procs::Pool,
    path: &Path,
    chunks: &[Chunk],
    done: &mut dyn FnMut(),
) -> Result<Counts, String> {
    let path = path.to_path_buf();
    let mut total = Counts::default();
    for result in pool.pmap(
        scan_chunk,
        chunks.iter().map(|&chunk| (path.clone(), chunk)),
    ) {
        result.map_err(|e| e.to_string())??.merge_into(&mut total);
        done();
    }
    Ok(total)
}
