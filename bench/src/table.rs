//! The result table: one row per figure, printed as Markdown so that a run
//! pastes straight into `BENCHMARKS.md`.

use std::fmt;

/// What a ratio must be to meet its target.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

impl Goal {
    fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtLeast(bound) => ratio >= bound,
            Goal::AtMost(bound) => ratio <= bound,
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Goal::AtLeast(bound) => write!(f, "≥ {bound}×"),
            Goal::AtMost(bound) => write!(f, "≤ {bound}×"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Met,
    NotMet,
    /// Nothing to measure here (a missing feature or tool).
    NotApplicable,
    /// The case failed to run or produced wrong results.
    Failed,
    /// A figure printed for context, with no target to meet.
    Info,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    case: String,
    procs: String,
    baseline: String,
    ratio: String,
    target: String,
    status: Status,
    /// procs' time over procspawn's for the same work, with procspawn's
    /// figure; `-` where procspawn was not measured.
    peer: String,
}

impl Row {
    /// A figure with a target: `ratio` is checked against `goal`.
    pub(crate) fn measured(
        case: impl Into<String>,
        procs: impl Into<String>,
        baseline: impl Into<String>,
        ratio: f64,
        goal: Goal,
    ) -> Row {
        Row::labelled(case, procs, baseline, ratio, goal, goal.to_string())
    }

    /// Like [`Row::measured`], with the target described in other words
    /// (an absolute figure, for instance).
    pub(crate) fn labelled(
        case: impl Into<String>,
        procs: impl Into<String>,
        baseline: impl Into<String>,
        ratio: f64,
        goal: Goal,
        target: impl Into<String>,
    ) -> Row {
        Row {
            case: case.into(),
            procs: procs.into(),
            baseline: baseline.into(),
            ratio: format!("{ratio:.2}×"),
            target: target.into(),
            status: if goal.met(ratio) {
                Status::Met
            } else {
                Status::NotMet
            },
            peer: "-".into(),
        }
    }

    /// A case that cannot be measured here, with the reason.
    pub(crate) fn not_applicable(
        case: impl Into<String>,
        reason: &str,
        target: impl ToString,
    ) -> Row {
        Row {
            case: case.into(),
            procs: reason.into(),
            baseline: reason.into(),
            ratio: "-".into(),
            target: target.to_string(),
            status: Status::NotApplicable,
            peer: "-".into(),
        }
    }

    /// A case that failed to run.
    pub(crate) fn failed(case: impl Into<String>, message: &str) -> Row {
        Row {
            case: case.into(),
            procs: format!("error: {message}"),
            baseline: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            status: Status::Failed,
            peer: "-".into(),
        }
    }

    /// A ratio shown beside its baseline, with no target to meet.
    pub(crate) fn compared(
        case: impl Into<String>,
        procs: impl Into<String>,
        baseline: impl Into<String>,
        ratio: f64,
        target: impl Into<String>,
    ) -> Row {
        Row {
            case: case.into(),
            procs: procs.into(),
            baseline: baseline.into(),
            ratio: format!("{ratio:.2}×"),
            target: target.into(),
            status: Status::Info,
            peer: "-".into(),
        }
    }

    /// A figure shown for context, without a target.
    pub(crate) fn info(case: impl Into<String>, figure: impl Into<String>) -> Row {
        Row {
            case: case.into(),
            procs: figure.into(),
            baseline: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            status: Status::Info,
            peer: "-".into(),
        }
    }

    /// Adds the comparison with procspawn: `time_ratio` is procs' time over
    /// procspawn's for the same work (for rates, procspawn's rate over
    /// procs'), shown with procspawn's own `figure`.
    pub(crate) fn vs_procspawn(mut self, time_ratio: f64, figure: impl fmt::Display) -> Row {
        self.peer = format!("{time_ratio:.2}× ({figure})");
        self
    }

    /// A finding about procspawn alone, in its column, with no ratio.
    pub(crate) fn procspawn_note(mut self, text: impl Into<String>) -> Row {
        self.peer = text.into();
        self
    }

    pub(crate) fn is_failure(&self) -> bool {
        self.status == Status::Failed
    }

    fn cells(&self) -> [&str; COLUMNS] {
        let met = match self.status {
            Status::Met => "yes",
            Status::NotMet => "**no**",
            Status::NotApplicable => "n/a",
            Status::Failed => "ERROR",
            Status::Info => "-",
        };
        [
            &self.case,
            &self.procs,
            &self.baseline,
            &self.ratio,
            &self.target,
            met,
            &self.peer,
        ]
    }
}

const COLUMNS: usize = 7;

const HEADER: [&str; COLUMNS] = [
    "case",
    "procs",
    "baseline",
    "ratio",
    "target",
    "met?",
    "vs procspawn",
];

/// What the last column means, printed under the table.
pub(crate) const PEER_NOTE: &str = "vs procspawn: procs' time over procspawn's for the same work, \
measured in the same run (for rates: procspawn's rate over procs'); below 1× procs is faster. \
procspawn's own figure in brackets.";

/// Prints `rows` as a Markdown table with aligned columns.
pub(crate) fn print(rows: &[Row]) {
    print!("{}", render(rows));
}

fn render(rows: &[Row]) -> String {
    let width = |cell: &str| cell.chars().count();
    let mut widths = HEADER.map(width);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.cells()) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: [&str; COLUMNS]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - width(cell))))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(HEADER);
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in rows {
        out.push_str(&line(row.cells()));
    }
    out
}

/// One line counting the targets met.
pub(crate) fn summary(rows: &[Row]) -> String {
    let count = |status| rows.iter().filter(|row| row.status == status).count();
    let (met, not_met) = (count(Status::Met), count(Status::NotMet));
    let mut text = format!("targets met: {met} of {}", met + not_met);
    for (status, what) in [
        (Status::NotApplicable, "not applicable"),
        (Status::Failed, "failed to run"),
    ] {
        if count(status) > 0 {
            text.push_str(&format!("; {} {what}", count(status)));
        }
    }
    text
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn goals_and_alignment() {
        let rows = [
            Row::measured("a", "1 µs", "2 µs", 0.5, Goal::AtMost(1.5)).vs_procspawn(0.25, "4 µs"),
            Row::measured("long case", "x", "y", 1.0, Goal::AtLeast(1.9)),
            Row::not_applicable("c", "n/a (missing)", Goal::AtLeast(1.0)),
        ];
        let text = render(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == lines[0].chars().count())
        );
        assert!(lines[2].contains("| yes"));
        assert!(lines[2].contains("| 0.25× (4 µs) |"));
        assert!(lines[0].contains("| vs procspawn |"));
        assert!(lines[3].contains("**no**"));
        assert_eq!(summary(&rows), "targets met: 1 of 2; 1 not applicable");
    }
}
