//! One function per subcommand; each prints its result to stdout and returns errors to `main`.

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`cfxlight … | head`); `main` treats a broken pipe as a normal end.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod address;
mod chain;
mod chainspec;
mod node;
mod tx;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Node(args) => node::run(&args),
        Command::Address(c) => address::run(c),
        Command::Tx(c) => tx::run(c),
        Command::Chainspec(c) => chainspec::run(c),
        Command::Chain(c) => chain::run(c),
        Command::Signer(c) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(cfxlight_signer::cli::run(c)),
    }
}

/// Hex from the command line, with or without `0x`, surrounding whitespace ignored.
pub(crate) fn parse_hex(s: &str, what: &str) -> Result<Vec<u8>> {
    let s = s.trim();
    let body = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    hex::decode(body).with_context(|| format!("{what} is not valid hex"))
}

/// Pretty JSON to stdout.
pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
