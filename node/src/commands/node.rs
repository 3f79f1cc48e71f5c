//! `cfxlight node`: resolves the configuration; the sync engine arrives with the light
//! node core, and until then the command says so instead of pretending to run.

use anyhow::{bail, Result};

use super::print_json;
use crate::{cli::NodeArgs, config::NodeConfig};

pub fn run(args: &NodeArgs) -> Result<()> {
    let config = NodeConfig::resolve(args)?;
    if args.dry_run {
        return print_json(&config);
    }
    bail!(
        "the P2P light node is not in this build yet; `cfxlight node --dry-run` checks the \
         configuration (chain {}, genesis {:?})",
        config.spec.name,
        config.genesis_hash
    )
}
