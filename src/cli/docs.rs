//! `aiaudit completions` and `aiaudit man`: generated from the CLI definition itself, so they
//! never drift from `--help`.

use super::errln;
use super::{Cli, CliError, CliResult, EXIT_OK};
use clap::CommandFactory;

/// Print a shell completion script (bash, zsh, fish, elvish, powershell).
///
/// bash: `aiaudit completions bash > /etc/bash_completion.d/aiaudit`;
/// zsh: `aiaudit completions zsh > "${fpath[1]}/_aiaudit"`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the man pages (roff)
///
/// `aiaudit man > /usr/local/share/man/man1/aiaudit.1`; with
/// `--out-dir DIR`, write `aiaudit.1` and one `aiaudit-<command>.1` per command there.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
}

pub fn completions(a: CompletionsArgs) -> CliResult {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "aiaudit", &mut out);
    super::util::write_stdout(&out)?;
    Ok(EXIT_OK)
}

fn render(cmd: clap::Command) -> CliResult<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(CliError::internal)?;
    Ok(out)
}

pub fn man(a: ManArgs) -> CliResult {
    let cmd = Cli::command();
    let Some(dir) = a.out_dir else {
        super::util::write_stdout(&render(cmd)?)?;
        return Ok(EXIT_OK);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::usage(anyhow::anyhow!("{}: {e}", dir.display())))?;
    let write = |name: &str, bytes: Vec<u8>| -> CliResult<()> {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::usage(anyhow::anyhow!("{}: {e}", path.display())))
    };
    write("aiaudit", render(cmd.clone())?)?;
    for sub in cmd.get_subcommands() {
        let name = format!("aiaudit-{}", sub.get_name());
        // clap names are `&'static str` without its `string` feature; this runs once per
        // command in a short-lived process.
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        write(&name, render(sub.clone().name(leaked))?)?;
    }
    errln!("wrote man pages to {}", dir.display());
    Ok(EXIT_OK)
}
