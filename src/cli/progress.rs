//! Progress on long runs (`verify`, `report`, `export`): drawn on standard error only when it is
//! a terminal, so pipes, CI logs and `--json` consumers never see it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;

/// Whole items per second.
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0}/s", state.per_sec());
}

/// A progress line that clears itself when dropped.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn target() -> ProgressDrawTarget {
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    /// A counter of unknown length: `reading main: 12000 commits`.
    pub fn counter(what: &str, unit: &'static str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, Self::target());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{what}: {{human_pos}} {unit} ({{rate}}, {{elapsed}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("rate", rate),
        );
        bar.tick();
        Progress { bar }
    }

    /// A bar towards a known total: `verify [=====>   ] 40000/100000 commits`.
    pub fn bar(what: &str, total: u64, unit: &'static str) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), Self::target());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{what} [{{wide_bar}}] {{human_pos}}/{{human_len}} {unit} ({{rate}}, eta {{eta}})"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", rate)
            .progress_chars("=> "),
        );
        bar.tick();
        Progress { bar }
    }

    pub fn set(&self, n: u64) {
        self.bar.set_position(n);
    }

    /// A bar for a history check whose total the engine reports.
    pub fn history(what: &str) -> Progress {
        Progress::bar(what, 0, "commits")
    }

    /// The engine's view of this bar.
    pub fn for_engine(&self) -> std::sync::Arc<dyn crate::engine::HistoryProgress> {
        std::sync::Arc::new(EngineProgress(self.bar.clone()))
    }
}

struct EngineProgress(ProgressBar);

impl crate::engine::HistoryProgress for EngineProgress {
    fn total(&self, commits: u64) {
        self.0.set_length(commits);
    }
    fn advance(&self, commits: u64) {
        self.0.inc(commits);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
