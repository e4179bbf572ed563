//! The standard EverReach progress bar, for every CLI run that works through a
//! known number of items: `import events`, `bench ingest`, and every importer to
//! come. Make one with [`Progress::new`] instead of printing progress by hand, so
//! they all look and behave alike.
//!
//! It writes to stderr (stdout is kept for a command's output). On a terminal it is
//! an `indicatif` bar redrawn in place. When stderr is not a terminal (a log, a
//! pipe, the tests) indicatif draws nothing, and a plain line is written at each
//! tenth of the way instead, `everreach: 40.0% 4000/10000 events · 812/s · ETA 7 s`:
//! ten readable lines, no carriage returns or escape codes.

use std::borrow::Cow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const TEMPLATE: &str =
    "[{bar:30}] {percent:>3}% {human_pos}/{human_len} {prefix} · {per_sec:0} · ETA {eta} {msg}";

#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    unit: &'static str,
    /// Tenths of the way already written as lines (stderr not a terminal).
    tenths: u64,
}

impl Progress {
    /// A bar for `total` items, counted in `unit` (e.g. "events").
    pub fn new(total: u64, unit: &'static str) -> Progress {
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#>.");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(unit);
        Progress {
            bar,
            unit,
            tenths: 0,
        }
    }

    /// `n` more items done.
    pub fn inc(&mut self, n: u64) {
        self.bar.inc(n);
        if self.bar.is_hidden() {
            self.line_per_tenth();
        }
    }

    /// A note shown after the counts from now on (e.g. rates measured so far).
    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        self.bar.set_message(message);
    }

    /// Leaves the finished bar on the terminal; the time since [`Progress::new`].
    pub fn finish(self) -> Duration {
        self.bar.finish();
        self.bar.elapsed()
    }

    fn line_per_tenth(&mut self) {
        let total = self.bar.length().unwrap_or(0).max(1);
        let done = self.bar.position();
        let tenths = (done.min(total) * 10) / total;
        if tenths <= self.tenths {
            return;
        }
        self.tenths = tenths;
        let message = self.bar.message();
        let note = if message.is_empty() {
            String::new()
        } else {
            format!(" · {message}")
        };
        eprintln!(
            "everreach: {:>5.1}% {done}/{total} {} · {:.0}/s · ETA {:.0} s{note}",
            done as f64 / total as f64 * 100.0,
            self.unit,
            self.bar.per_sec(),
            self.bar.eta().as_secs_f64(),
        );
    }
}
