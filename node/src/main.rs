//! `cfxlight`: a Conflux light node whose signatures come from a pluggable signer, and the
//! command-line tools that go with it (addresses, transactions, chain specs).
//!
//! This file is the binary edge: it parses flags, runs one command, and turns any error
//! into a one-line message and a non-zero exit code. It never panics on user input.

use std::process::ExitCode;

use cfxlight_node::{cli, commands};
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, as a person reading a terminal expects.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether an error is stdout going away (a reader such as `head` closed the pipe).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
