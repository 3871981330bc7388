//! `aiaudit report` (being written).

use super::{CliError, CliResult};
use anyhow::anyhow;
use std::path::Path;

/// Gaps, statistics and framework mapping for auditors (not available in this build yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_cwd: &Path, _a: Args) -> CliResult {
    Err(CliError::usage(anyhow!(
        "`aiaudit report` is not available in this build yet"
    )))
}
