//! Medians, the formatting of figures, and what the machine is doing.

/// The median of `values` (the mean of the middle two for an even count).
///
/// # Panics
///
/// If `values` is empty.
pub(crate) fn median(values: &[f64]) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// The `q`-quantile (0.0 to 1.0) of `values`, nearest rank.
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A time for people: `12.3 µs`, `4.56 ms`, `1.23 s`.
pub(crate) fn time(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{:.1} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// A count for people: `1,000,000`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A rate for people: `12.3 M tasks/s`, `45.6 k tasks/s`.
pub(crate) fn rate(per_second: f64, unit: &str) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M {unit}/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k {unit}/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} {unit}/s")
    }
}

/// A bandwidth for people: `1.23 GiB/s`.
pub(crate) fn bandwidth(bytes_per_second: f64) -> String {
    format!("{:.2} GiB/s", bytes_per_second / (1u64 << 30) as f64)
}

/// A size in MiB for people: `12.3 MiB`.
pub(crate) fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
}

/// The 1-minute load average, from `/proc/loadavg` (`?` elsewhere).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
pub(crate) fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(&[5.0, 1.0, 3.0], 0.0), 1.0);
        assert_eq!(quantile(&[5.0, 1.0, 3.0], 1.0), 5.0);
    }

    #[test]
    fn figures_read_well() {
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(999), "999");
        assert_eq!(time(12.3e-6), "12.3 µs");
        assert_eq!(time(0.004_56), "4.56 ms");
        assert_eq!(rate(12.3e6, "tasks"), "12.30 M tasks/s");
        assert_eq!(bandwidth((3u64 << 29) as f64), "1.50 GiB/s");
        assert!(status_kib("VmRSS").is_some_and(|kib| kib > 0));
    }
}
