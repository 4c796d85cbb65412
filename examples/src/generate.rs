use std::io::{self, Write};

/// The seed of the default synthetic log: the year of the original procs.
///
/// # Examples
///
/// ```
/// use widefinder::{generate, DEFAULT_SEED};
///
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// generate(&mut a, 10_000, DEFAULT_SEED, |_| {})?;
/// generate(&mut b, 10_000, DEFAULT_SEED, |_| {})?;
/// assert_eq!(a, b); // deterministic
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_SEED: u64 = 2007;

const ARTICLES: usize = 5_000;
const WORDS: &[&str] = &[
    "Grief",
    "Lessons",
    "Java",
    "Ruby",
    "Erlang",
    "Unicode",
    "Atom",
    "Publishing",
    "Camera",
    "Concurrency",
    "Wide",
    "Finder",
    "Sun",
    "Niagara",
    "Threads",
    "Processes",
    "Coffee",
    "Music",
    "Guitar",
    "Canada",
    "Vancouver",
    "Blog",
    "Syndication",
    "REST",
    "HTTP",
    "Identity",
    "Photo",
    "Garden",
    "Lens",
    "Train",
    "Fiction",
    "Science",
    "Tokyo",
    "Storage",
    "Language",
    "Open",
    "Source",
    "Standards",
    "XML",
    "JSON",
    "Search",
    "Mobile",
    "Phone",
    "Energy",
    "Climate",
];
const HOSTS: &[&str] = &[
    "crawl-66-249-66-1.googlebot.com",
    "msnbot.msn.com",
    "10.0.0.7",
    "cpe-24-58-107-9.rr.com",
    "host-196-22.example.net",
    "proxy.corp.example.com",
    "192.168.14.201",
    "a.b.c.example.org",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.8.0.7) Gecko/20060909 Firefox/1.5.0.7",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "NetNewsWire/2.1 (Mac OS X; http://ranchero.com/netnewswire/)",
    "Bloglines/3.1 (http://www.bloglines.com; 12 subscribers)",
    "curl/7.15.5",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
];
const REFERRERS: &[&str] = &[
    "-",
    "http://www.tbray.org/ongoing/",
    "http://www.google.com/search?q=wide+finder+erlang&hl=en&start=10&sa=N",
    "http://planet.intertwingly.net/",
    "http://del.icio.us/popular/programming",
];
const OTHER_PATHS: &[&str] = &[
    "/ongoing/ongoing.atom",
    "/ongoing/",
    "/robots.txt",
    "/ongoing/What/Technology/",
    "/ongoing/When/200x/",
    "/favicon.ico",
];

/// SplitMix64: tiny, fast and deterministic across platforms and versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

struct Article {
    date: String,
    name: String,
}

fn articles(rng: &mut Rng) -> Vec<Article> {
    (0..ARTICLES)
        .map(|i| {
            let date = format!(
                "{}/{:02}/{:02}",
                2003 + i % 5,
                1 + rng.below(12),
                1 + rng.below(28)
            );
            let words = 1 + rng.below(3);
            let name = (0..words)
                .map(|_| rng.pick(WORDS))
                .collect::<Vec<_>>()
                .join("-");
            // The index keeps names unique, as on the real site.
            Article {
                date,
                name: format!("{name}{i}"),
            }
        })
        .collect()
}

/// Cumulative Zipf weights (exponent 1.1): a few articles take most fetches.
fn popularity() -> Vec<f64> {
    let mut total = 0.0;
    (1..=ARTICLES)
        .map(|rank| {
            total += 1.0 / (rank as f64).powf(1.1);
            total
        })
        .collect()
}

/// Writes a synthetic Apache access log in the format of Tim Bray's
/// ongoing, deterministically from `seed`, until at least `size` bytes are
/// written (the last line is complete). Returns the bytes written and calls
/// `progress` with the running total now and then.
///
/// The log mixes counted article fetches (Zipf-like popularity, 200, 304
/// and 404 statuses) with lines that must not count: `HEAD` requests, index
/// pages ending in `/`, images, feeds and other paths, and other methods.
///
/// # Examples
///
/// ```
/// use widefinder::{generate, scan, DEFAULT_SEED};
///
/// let mut log = Vec::new();
/// generate(&mut log, 100_000, DEFAULT_SEED, |_| {})?;
/// assert!(log.len() >= 100_000);
/// assert!(!scan(&log).is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// Whatever writing to `out` returns.
pub fn generate(
    out: &mut impl Write,
    size: u64,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> io::Result<u64> {
    let mut rng = Rng(seed);
    let articles = articles(&mut rng);
    let popularity = popularity();
    let total_weight = *popularity.last().expect("articles exist");
    let mut written = 0u64;
    let mut line = Vec::with_capacity(512);
    let mut second = 0u64;
    while written < size {
        line.clear();
        second += rng.below(3) as u64;
        let (day, hour, minute, sec) = (
            8 + second / 86_400 % 20,
            second / 3600 % 24,
            second / 60 % 60,
            second % 60,
        );
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total_weight;
        let article = &articles[popularity.partition_point(|&w| w < u).min(ARTICLES - 1)];
        let (method, path, status) = match rng.below(100) {
            0..55 => (
                "GET",
                format!("/ongoing/When/200x/{}/{}", article.date, article.name),
                ["200", "304"][rng.below(2)],
            ),
            55..60 => (
                "GET",
                format!(
                    "/ongoing/When/200x/{}/{}-Missing",
                    article.date, article.name
                ),
                "404",
            ),
            60..68 => (
                "HEAD",
                format!("/ongoing/When/200x/{}/{}", article.date, article.name),
                "200",
            ),
            68..76 => (
                "GET",
                format!("/ongoing/When/200x/{}/", article.date),
                "200",
            ),
            76..86 => (
                "GET",
                format!("/ongoing/When/200x/{}/{}.jpg", article.date, article.name),
                "200",
            ),
            86..95 => ("GET", rng.pick(OTHER_PATHS).to_owned(), "200"),
            _ => (
                ["POST", "PUT", "OPTIONS"][rng.below(3)],
                format!("/ongoing/When/200x/{}/{}", article.date, article.name),
                "405",
            ),
        };
        writeln!(
            line,
            "{} - - [{day:02}/Oct/2006:{hour:02}:{minute:02}:{sec:02} -0700] \"{method} {path} HTTP/1.1\" {status} {} \"{}\" \"{}\"",
            rng.pick(HOSTS),
            rng.below(40_000),
            rng.pick(REFERRERS),
            rng.pick(AGENTS),
        )?;
        out.write_all(&line)?;
        written += line.len() as u64;
        if written % (1 << 20) < line.len() as u64 {
            progress(written);
        }
    }
    progress(written);
    Ok(written)
}
