//! `key value` lines, as the Python anchors and the memory child print
//! their figures.

/// The `key value` lines a process printed, in order.
#[derive(Debug, Default)]
pub(crate) struct Report {
    lines: Vec<(String, String)>,
}

impl Report {
    pub(crate) fn parse(text: &str) -> Report {
        let lines = text
            .lines()
            .filter_map(|line| {
                let (key, value) = line.split_once(' ')?;
                Some((key.to_owned(), value.to_owned()))
            })
            .collect();
        Report { lines }
    }

    /// The first value of `key` as a number.
    pub(crate) fn number(&self, key: &str) -> Result<f64, String> {
        let value = self
            .all(key)
            .next()
            .ok_or_else(|| format!("the child printed no `{key}`"))?;
        value
            .trim()
            .parse()
            .map_err(|_| format!("the child printed `{key} {value}`"))
    }

    /// Every value of `key`, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.lines
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reports_parse_keys_and_values() {
        let report = Report::parse("seconds 1.5\ntop 3 a b\ntop 2 c\nnoise\n");
        assert_eq!(report.number("seconds"), Ok(1.5));
        assert_eq!(report.all("top").collect::<Vec<_>>(), ["3 a b", "2 c"]);
        assert!(report.number("missing").is_err());
    }
}
