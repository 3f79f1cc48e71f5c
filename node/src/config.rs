//! The node's configuration: defaults ← chain spec ← config file ← flags, resolved once
//! into one typed [`NodeConfig`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cfxlight_chainspec::{ChainSpec, Checkpoint};
use cfxlight_primitives::H256;
use cfxlight_signer::SignerSpec;
use serde::{Deserialize, Serialize};

use crate::{
    cli::NodeArgs,
    rpc::{LocalConfig, RpcConfig},
};

/// The config file (TOML). Keys are the `cfxlight node` flags with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    chain: Option<String>,
    chain_id: Option<u32>,
    genesis_hash: Option<String>,
    #[serde(default)]
    bootnodes: Vec<String>,
    only_bootnodes: Option<bool>,
    checkpoint: Option<String>,
    allow_old_checkpoint: Option<bool>,
    max_checkpoint_age_days: Option<u64>,
    datadir: Option<PathBuf>,
    p2p_port: Option<u16>,
    p2p_local_ip: Option<std::net::IpAddr>,
    rpc_http_port: Option<u16>,
    rpc_ws_port: Option<u16>,
    rpc_interface: Option<std::net::IpAddr>,
    rpc_local_port: Option<u16>,
    rpc_public_signing: Option<bool>,
    rpc_token_file: Option<PathBuf>,
    rpc_cors: Option<Vec<String>>,
    rpc_hosts: Option<Vec<String>>,
    rpc_max_batch: Option<u32>,
    rpc_max_body: Option<u32>,
    rpc_max_response_body: Option<u32>,
    rpc_max_response_memory: Option<u64>,
    rpc_logs_max_epoch_range: Option<u64>,
    rpc_logs_max_limit: Option<usize>,
    rpc_poll_lifetime: Option<u64>,
    rpc_max_filters: Option<usize>,
    rpc_max_connections: Option<u32>,
    rpc_max_subscriptions: Option<u32>,
    signer: Option<String>,
    pin_file: Option<PathBuf>,
    policy: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    require_attestation: Option<PathBuf>,
    metrics_addr: Option<std::net::SocketAddr>,
    log_level: Option<String>,
    log_format: Option<String>,
}

/// Everything the node needs to run, resolved and checked.
#[derive(Debug, Serialize)]
pub struct NodeConfig {
    /// The chain, with `--chain-id` / `--genesis-hash` applied.
    pub spec: ChainSpec,
    /// The genesis hash the node will require of its peers.
    pub genesis_hash: H256,
    /// Spec bootnodes followed by configured ones, without duplicates (only the configured
    /// ones with `--only-bootnodes`).
    pub bootnodes: Vec<String>,
    /// Where sync starts on an empty data directory: `--checkpoint`, else the spec's, else
    /// genesis (None).
    pub checkpoint: Option<Checkpoint>,
    /// Oldest checkpoint accepted, in seconds; None with `--allow-old-checkpoint`.
    pub max_checkpoint_age: Option<u64>,
    /// Data directory.
    pub datadir: PathBuf,
    /// P2P port.
    pub p2p_port: u16,
    /// Local address to dial peers from (the OS picks when absent).
    pub p2p_local_ip: Option<std::net::IpAddr>,
    /// Server limits, interfaces and access rules.
    pub rpc: RpcConfig,
    /// Signer backend, when one is configured.
    pub signer: Option<String>,
    /// PIN/password file for the signer.
    pub pin_file: Option<PathBuf>,
    /// Signing policy file.
    pub policy: Option<PathBuf>,
    /// Audit log file.
    pub audit_log: Option<PathBuf>,
    /// Issuer public key file every BSIM key's attestation must verify against.
    pub require_attestation: Option<PathBuf>,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Lowest log level written.
    #[serde(skip)]
    pub log_level: crate::log::Level,
    /// Whether log lines are JSON.
    pub log_json: bool,
}

/// Oldest checkpoint accepted by default (`--max-checkpoint-age-days`).
pub const DEFAULT_MAX_CHECKPOINT_AGE_DAYS: u64 = 30;

/// Refuses a checkpoint whose (known) timestamp is older than `max_age` seconds at `now`.
pub fn check_checkpoint_age(
    c: &Checkpoint,
    timestamp: Option<u64>,
    max_age: Option<u64>,
    now: u64,
) -> Result<()> {
    let (Some(ts), Some(max)) = (timestamp.or(c.timestamp), max_age) else {
        return Ok(());
    };
    let age = now.saturating_sub(ts);
    if age > max {
        bail!(
            "the checkpoint at epoch {} ({:?}) is {} days old (from {}), older than the {} days \
             accepted: pass a recent one with --checkpoint <epoch>:<hash> from a source you \
             trust (README, \"Starting from a checkpoint\"), or --allow-old-checkpoint",
            c.epoch,
            c.hash,
            age / 86_400,
            crate::log::utc_date(ts),
            max / 86_400
        );
    }
    Ok(())
}

fn parse_hash(s: &str, what: &str) -> Result<H256> {
    let body = s
        .strip_prefix("0x")
        .with_context(|| format!("{what}: expected 0x-prefixed 32-byte hex, got {s:?}"))?;
    if body.len() != 64 {
        bail!(
            "{what}: expected 32 bytes (64 hex digits), got {} digits",
            body.len()
        );
    }
    body.parse()
        .with_context(|| format!("{what}: not hex: {s:?}"))
}

fn default_datadir(chain: &str) -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("cfxlight").join(chain)
}

impl NodeConfig {
    /// Layers flags over the config file over the chain spec and checks the result.
    pub fn resolve(args: &NodeArgs) -> Result<NodeConfig> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let chain = args
            .chain
            .clone()
            .or(file.chain)
            .context("no chain given: pass --chain mainnet|testnet|devnet|<spec file>")?;
        let mut spec = ChainSpec::load(&chain)?;
        if let Some(id) = args.chain_id.or(file.chain_id) {
            spec = spec.with_chain_id(id)?;
        }
        if let Some(h) = args
            .genesis_hash
            .as_deref()
            .or(file.genesis_hash.as_deref())
        {
            spec = spec.with_genesis_hash(parse_hash(h, "--genesis-hash")?)?;
        }
        let genesis_hash = spec.require_genesis_hash()?;
        let only = args.only_bootnodes || file.only_bootnodes.unwrap_or(false);
        let mut bootnodes = if only { vec![] } else { spec.bootnodes.clone() };
        for b in file.bootnodes.iter().chain(&args.bootnodes) {
            check_bootnode(b)?;
            if !bootnodes.contains(b) {
                bootnodes.push(b.clone());
            }
        }
        let signer = args.signer.clone().or(file.signer);
        if let Some(s) = &signer {
            s.parse::<SignerSpec>()
                .with_context(|| format!("--signer {s:?}"))?;
        }
        let defaults = RpcConfig::default();
        let token = match args.rpc_token_file.clone().or(file.rpc_token_file) {
            Some(path) => {
                let t = std::fs::read_to_string(&path)
                    .with_context(|| format!("--rpc-token-file {}", path.display()))?;
                let t = t.lines().next().unwrap_or_default().trim().to_string();
                if t.len() < 16 {
                    bail!(
                        "--rpc-token-file {}: the token must be at least 16 characters",
                        path.display()
                    );
                }
                Some(t)
            }
            None => None,
        };
        let local_port = args
            .rpc_local_port
            .or(file.rpc_local_port)
            .unwrap_or(spec.ports.rpc_local);
        let rpc = RpcConfig {
            http_port: args
                .rpc_http_port
                .or(file.rpc_http_port)
                .unwrap_or(spec.ports.rpc_http),
            ws_port: args
                .rpc_ws_port
                .or(file.rpc_ws_port)
                .unwrap_or(spec.ports.rpc_ws),
            interface: args
                .rpc_interface
                .or(file.rpc_interface)
                .unwrap_or(defaults.interface),
            max_request_body: args
                .rpc_max_body
                .or(file.rpc_max_body)
                .unwrap_or(defaults.max_request_body),
            max_response_body: args
                .rpc_max_response_body
                .or(file.rpc_max_response_body)
                .unwrap_or(defaults.max_response_body),
            max_response_memory: args
                .rpc_max_response_memory
                .or(file.rpc_max_response_memory)
                .unwrap_or(defaults.max_response_memory),
            logs: crate::rpc::LogLimits {
                max_epoch_range: args
                    .rpc_logs_max_epoch_range
                    .or(file.rpc_logs_max_epoch_range)
                    .unwrap_or(defaults.logs.max_epoch_range)
                    .max(1),
                max_logs: args
                    .rpc_logs_max_limit
                    .or(file.rpc_logs_max_limit)
                    .unwrap_or(defaults.logs.max_logs),
            },
            filters: crate::rpc::FilterLimits {
                lifetime: args
                    .rpc_poll_lifetime
                    .or(file.rpc_poll_lifetime)
                    .map(|s| std::time::Duration::from_secs(s.max(1)))
                    .unwrap_or(defaults.filters.lifetime),
                max_filters: args
                    .rpc_max_filters
                    .or(file.rpc_max_filters)
                    .unwrap_or(defaults.filters.max_filters),
            },
            max_batch: args
                .rpc_max_batch
                .or(file.rpc_max_batch)
                .unwrap_or(defaults.max_batch),
            max_connections: args
                .rpc_max_connections
                .or(file.rpc_max_connections)
                .unwrap_or(defaults.max_connections),
            max_subscriptions: args
                .rpc_max_subscriptions
                .or(file.rpc_max_subscriptions)
                .unwrap_or(defaults.max_subscriptions),
            cors: args.rpc_cors.clone().or(file.rpc_cors),
            hosts: args.rpc_hosts.clone().or(file.rpc_hosts),
            local: LocalConfig {
                port: (local_port != 0).then_some(local_port),
                public_signing: args.rpc_public_signing || file.rpc_public_signing.unwrap_or(false),
                token,
            },
        };
        if rpc.local.public_signing && !rpc.interface.is_loopback() && rpc.local.token.is_none() {
            bail!(
                "--rpc-public-signing on a non-loopback --rpc-interface needs --rpc-token-file: \
                 anyone who can reach the port could spend from the signer"
            );
        }
        // Any web page the user opens is a client of a loopback port: public signing puts
        // the signing methods on the WebSocket port too, and CORS on a signing port lets
        // pages call them. Neither without a token.
        if rpc.local.public_signing && rpc.local.token.is_none() {
            bail!(
                "--rpc-public-signing needs --rpc-token-file: without a token any web page the \
                 user opens could reach the signing methods (on the WebSocket port too)"
            );
        }
        let checkpoint = match args.checkpoint.as_deref().or(file.checkpoint.as_deref()) {
            Some(c) => Some(
                c.parse::<Checkpoint>()
                    .map_err(|e| anyhow::anyhow!("--checkpoint: {e}"))?,
            ),
            None => spec.checkpoint,
        };
        let allow_old = args.allow_old_checkpoint || file.allow_old_checkpoint.unwrap_or(false);
        let max_days = args
            .max_checkpoint_age_days
            .or(file.max_checkpoint_age_days)
            .unwrap_or(DEFAULT_MAX_CHECKPOINT_AGE_DAYS);
        let log_level = match args.log_level.as_deref().or(file.log_level.as_deref()) {
            Some(l) => l.parse().map_err(|e| anyhow::anyhow!("--log-level: {e}"))?,
            None => crate::log::level_from_env().unwrap_or(crate::log::Level::Info),
        };
        let log_json = match args.log_format.as_deref().or(file.log_format.as_deref()) {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => bail!("--log-format: {other:?} is not text or json"),
        };
        Ok(NodeConfig {
            metrics_addr: args.metrics_addr.or(file.metrics_addr),
            log_level,
            log_json,
            checkpoint,
            max_checkpoint_age: (!allow_old).then(|| max_days.saturating_mul(86_400)),
            rpc,
            pin_file: args.pin_file.clone().or(file.pin_file),
            policy: args.policy.clone().or(file.policy),
            audit_log: args.audit_log.clone().or(file.audit_log),
            require_attestation: args
                .require_attestation
                .clone()
                .or(file.require_attestation),
            genesis_hash,
            bootnodes,
            datadir: args
                .datadir
                .clone()
                .or(file.datadir)
                .unwrap_or_else(|| default_datadir(&spec.name)),
            p2p_port: args.p2p_port.or(file.p2p_port).unwrap_or(spec.ports.p2p),
            p2p_local_ip: args.p2p_local_ip.or(file.p2p_local_ip),
            signer,
            spec,
        })
    }
}

/// `cfxnode://<128 hex>@host:port`, as conflux-rust prints and parses it.
fn check_bootnode(s: &str) -> Result<()> {
    let rest = s
        .strip_prefix("cfxnode://")
        .with_context(|| format!("bootnode {s:?}: expected cfxnode://<node id>@host:port"))?;
    let (id, addr) = rest
        .split_once('@')
        .with_context(|| format!("bootnode {s:?}: missing @host:port"))?;
    if id.len() != 128 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("bootnode {s:?}: node id must be 128 hex digits (a 64-byte public key)");
    }
    let (host, port) = addr
        .rsplit_once(':')
        .with_context(|| format!("bootnode {s:?}: missing :port"))?;
    let port: u16 = port
        .split('+')
        .next()
        .unwrap_or_default()
        .parse()
        .with_context(|| format!("bootnode {s:?}: bad port"))?;
    if host.is_empty() || port == 0 {
        bail!("bootnode {s:?}: empty host or port 0");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENESIS: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    fn args(chain: &str) -> NodeArgs {
        NodeArgs {
            chain: Some(chain.into()),
            genesis_hash: Some(GENESIS.into()),
            ..NodeArgs::default()
        }
    }

    #[test]
    fn flags_override_file_which_overrides_spec() {
        let dir = std::env::temp_dir().join(format!("cfxlight-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "chain_id = 4242\np2p_port = 40000\nrpc_http_port = 40001\n",
        )
        .unwrap();
        let mut a = args("devnet");
        a.config = Some(file);
        a.p2p_port = Some(41000);
        let c = NodeConfig::resolve(&a).unwrap();
        assert_eq!(c.spec.chain_id, 4242);
        assert_eq!(c.spec.address_prefix(), "net4242");
        assert_eq!(c.p2p_port, 41000); // flag wins
        assert_eq!(c.rpc.http_port, 40001); // file wins over spec
        assert_eq!(c.rpc.ws_port, 12535); // spec default
        assert_eq!(c.rpc.local.port, Some(12539));
        assert!(c.rpc.interface.is_loopback());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unpinned_genesis_requires_the_flag() {
        let mut a = args("devnet");
        a.genesis_hash = None;
        let e = NodeConfig::resolve(&a).unwrap_err().to_string();
        assert!(e.contains("--genesis-hash"), "{e}");
        a.genesis_hash = Some("0x12".into());
        assert!(NodeConfig::resolve(&a).is_err());
    }

    #[test]
    fn bootnodes_are_checked_and_deduplicated() {
        let good = format!("cfxnode://{}@127.0.0.1:32323", "ab".repeat(64));
        let mut a = args("devnet");
        a.bootnodes = vec![good.clone(), good.clone()];
        assert_eq!(NodeConfig::resolve(&a).unwrap().bootnodes, vec![good]);
        a.bootnodes = vec!["enode://x@1.2.3.4:1".into()];
        assert!(NodeConfig::resolve(&a).is_err());
        a.bootnodes = vec![format!("cfxnode://{}@127.0.0.1:0", "ab".repeat(64))];
        assert!(NodeConfig::resolve(&a).is_err());
    }

    #[test]
    fn pinned_chains_need_no_genesis_flag_and_checkpoints_resolve() {
        let mut a = args("mainnet");
        a.genesis_hash = None;
        let c = NodeConfig::resolve(&a).unwrap();
        assert_eq!(
            format!("{:?}", c.genesis_hash),
            "0xf6cec5af1ee95f56038fc30589bcfeb4b960075c3c76b8a0eaa6d36e8e623b50"
        );
        // The spec's checkpoint, refused as too old by default.
        let cp = c.checkpoint.unwrap();
        assert_eq!(cp.epoch, 999_900);
        let now = crate::log::unix_now();
        let e = check_checkpoint_age(&cp, None, c.max_checkpoint_age, now).unwrap_err();
        assert!(e.to_string().contains("--allow-old-checkpoint"), "{e}");
        a.allow_old_checkpoint = true;
        let c = NodeConfig::resolve(&a).unwrap();
        assert!(check_checkpoint_age(&cp, None, c.max_checkpoint_age, now).is_ok());
        // A flag overrides it; a malformed one is an error naming the flag.
        a.checkpoint = Some(format!("1200:0x{}", "ab".repeat(32)));
        assert_eq!(
            NodeConfig::resolve(&a).unwrap().checkpoint.unwrap().epoch,
            1200
        );
        a.checkpoint = Some("1200".into());
        let e = NodeConfig::resolve(&a).unwrap_err().to_string();
        assert!(e.contains("--checkpoint"), "{e}");
        // --only-bootnodes drops the spec's 23.
        a.checkpoint = None;
        a.only_bootnodes = true;
        assert!(NodeConfig::resolve(&a).unwrap().bootnodes.is_empty());
    }

    #[test]
    fn mainnet_refuses_a_chain_id_override_and_bad_signer_specs() {
        let mut a = args("mainnet");
        a.genesis_hash = None;
        a.chain_id = Some(7);
        assert!(NodeConfig::resolve(&a).is_err());
        let mut b = args("devnet");
        b.signer = Some("ledger".into());
        let e = format!("{:#}", NodeConfig::resolve(&b).unwrap_err());
        assert!(e.contains("unknown signer backend"), "{e}");
    }
}
