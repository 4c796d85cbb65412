//! The page cache state Wide Finder runs on, made the same in every run.
//!
//! How a file's pages got into the cache decides how large they are, and
//! that decides every Wide Finder time. Pages written by the generator (or
//! left by whatever touched the file last) sit in 4 KiB folios; pages that
//! readahead brings in from disk come in large ones, which a mapping maps
//! 2 MiB at a time. Measured on this 2-CPU host (issue 14, a copy of the
//! 1 GiB log written with 1 MiB writes, then evicted and read back): 0% and
//! 97% of the mapped log in 2 MiB pages (`FilePmdMapped` in smaps); the
//! plain read 110 ms and 50 ms; the serial scan 340 ms and 270 ms, of which
//! unmapping 24 ms and under 1 ms. Rounds five and six blamed slow host
//! periods for what was this state changing between runs.
//!
//! So the case evicts the log (`POSIX_FADV_DONTNEED`, no root needed) and
//! reads it back before its repetitions, which is the state of a log read
//! from disk, and reports the share of 2 MiB pages it got.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use memmap2::Mmap;

/// Drops the clean cached pages of the file at `path` that no process maps,
/// so that the next read brings them back from disk through readahead.
pub(crate) fn evict(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: a hint on a descriptor this function owns; no memory is passed.
    let status = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if status == 0 {
        Ok(())
    } else {
        Err(format!(
            "cannot evict {} from the page cache: {}",
            path.display(),
            std::io::Error::from_raw_os_error(status)
        ))
    }
}

/// The share of `map` (a mapping of a cached file) that the kernel maps in
/// 2 MiB pages once every page is touched, from `/proc/self/smaps`; `None`
/// where smaps does not say.
pub(crate) fn huge_share(map: &Mmap) -> Option<f64> {
    let mut sum = 0u8;
    for offset in (0..map.len()).step_by(4096) {
        sum = sum.wrapping_add(map[offset]);
    }
    std::hint::black_box(sum);
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let start = format!("{:x}-", map.as_ptr() as usize);
    let entry = smaps
        .split_inclusive('\n')
        .skip_while(|line| !line.starts_with(&start))
        .skip(1)
        .take_while(|line| !line.starts_with("VmFlags"));
    let (mut rss, mut huge) = (None, None);
    for line in entry {
        let kib = || line.split_whitespace().nth(1)?.parse::<f64>().ok();
        match line.split(':').next() {
            Some("Rss") => rss = kib(),
            Some("FilePmdMapped") => huge = kib(),
            _ => {}
        }
    }
    let rss = rss.filter(|&rss| rss > 0.0)?;
    Some(huge? / rss)
}

#[cfg(test)]
mod test {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_mapped_file_reports_a_share_and_can_be_evicted() {
        let dir =
            std::env::temp_dir().join(format!("procs-bench-page-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut file = File::create(&path).unwrap();
        file.write_all(&vec![b'x'; 8 << 20]).unwrap();
        file.sync_all().unwrap();
        evict(&path).unwrap();
        // SAFETY: read-only, and nothing else writes the file.
        let map = unsafe { Mmap::map(&File::open(&path).unwrap()) }.unwrap();
        let share = huge_share(&map).expect("smaps lists the mapping");
        assert!((0.0..=1.0).contains(&share), "{share}");
        drop(map);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
