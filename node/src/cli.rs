//! The command-line contract: every subcommand and flag `cfxlight` accepts.
//!
//! Flags spelled out in the project's issues (`node --chain … --bootnode …`, `address
//! encode … --network-id`, `tx decode`, `chainspec show`) are a contract with users'
//! scripts: extend them, never rename them without a deprecation path.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// cfxlight: a lightweight Conflux light node with pluggable hardware signers.
#[derive(Debug, Parser)]
#[command(name = "cfxlight", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
// Parsed once at start-up: the size of the node's many flags costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the light node (P2P sync, verified state, local JSON-RPC).
    Node(NodeArgs),
    /// CIP-37 base32 address tools.
    #[command(subcommand)]
    Address(AddressCommand),
    /// Raw transaction tools.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Chain spec tools.
    #[command(subcommand)]
    Chainspec(ChainspecCommand),
    /// Query a Conflux node's JSON-RPC and check what it reports.
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Accounts and signatures from a signer backend (BSIM card, keystore).
    #[command(subcommand)]
    Signer(cfxlight_signer::cli::SignerCommand),
}

/// `cfxlight node` flags. Precedence: flags > config file > chain spec > defaults.
#[derive(Debug, Args, Default, Clone)]
pub struct NodeArgs {
    /// Chain: `mainnet`, `testnet`, `devnet`, or the path of a chain spec file.
    #[arg(long, value_name = "NAME|FILE")]
    pub chain: Option<String>,
    /// Core-space chain id; only for chains whose spec allows it (devnet).
    #[arg(long, value_name = "N")]
    pub chain_id: Option<u32>,
    /// Hash of the genesis block (epoch 0). Required where the spec does not pin it.
    #[arg(long, value_name = "0xHASH")]
    pub genesis_hash: Option<String>,
    /// Extra bootnode, `cfxnode://<128 hex node id>@host:port`; repeatable, added to the spec's.
    #[arg(long = "bootnode", value_name = "URL")]
    pub bootnodes: Vec<String>,
    /// Dial only the `--bootnode`s (and the config file's), not the chain spec's.
    #[arg(long)]
    pub only_bootnodes: bool,
    /// Trusted start, `<epoch>:<0x pivot hash>[:<block number of that pivot>]`, used when
    /// the data directory is empty; overrides the spec's checkpoint.
    #[arg(long, value_name = "EPOCH:HASH")]
    pub checkpoint: Option<String>,
    /// Start from a checkpoint older than `--max-checkpoint-age-days`.
    #[arg(long)]
    pub allow_old_checkpoint: bool,
    /// Oldest checkpoint accepted without `--allow-old-checkpoint`, in days (default 30).
    #[arg(long, value_name = "DAYS")]
    pub max_checkpoint_age_days: Option<u64>,
    /// Data directory (headers, verified roots, peers, node key).
    #[arg(long, value_name = "DIR")]
    pub datadir: Option<PathBuf>,
    /// P2P TCP port to listen on and advertise.
    #[arg(long, value_name = "PORT")]
    pub p2p_port: Option<u16>,
    /// Local IP address to dial peers from (multi-homed hosts; several local nodes peering
    /// with one conflux-rust node, which accepts one session per source IP).
    #[arg(long, value_name = "IP")]
    pub p2p_local_ip: Option<std::net::IpAddr>,
    /// JSON-RPC over HTTP port (bound to 127.0.0.1).
    #[arg(long, value_name = "PORT")]
    pub rpc_http_port: Option<u16>,
    /// JSON-RPC over WebSocket port (bound to 127.0.0.1).
    #[arg(long, value_name = "PORT")]
    pub rpc_ws_port: Option<u16>,
    /// Interface the public JSON-RPC ports bind to (default 127.0.0.1; the local signing
    /// port is always loopback).
    #[arg(long, value_name = "IP")]
    pub rpc_interface: Option<std::net::IpAddr>,
    /// Loopback HTTP port of the local RPC, which serves the signing methods
    /// (`cfx_sendTransaction`, …) besides the public ones; 0 turns it off. Default 12539.
    #[arg(long, value_name = "PORT")]
    pub rpc_local_port: Option<u16>,
    /// Also serve the signing methods on the public HTTP/WS ports (off by default).
    #[arg(long)]
    pub rpc_public_signing: bool,
    /// File holding a bearer token that requests to the signing endpoints must carry
    /// (`Authorization: Bearer <token>`).
    #[arg(long, value_name = "FILE")]
    pub rpc_token_file: Option<PathBuf>,
    /// Origins answered with CORS headers, comma-separated (`*` = any). Default: none.
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    pub rpc_cors: Option<Vec<String>>,
    /// Accepted `Host` header names, comma-separated (`*` = any). Default: any.
    #[arg(long, value_name = "HOSTS", value_delimiter = ',')]
    pub rpc_hosts: Option<Vec<String>>,
    /// Most calls in one JSON-RPC batch (default 1000).
    #[arg(long, value_name = "N")]
    pub rpc_max_batch: Option<u32>,
    /// Largest JSON-RPC request body in bytes (default 5 MiB, as conflux-rust).
    #[arg(long, value_name = "BYTES")]
    pub rpc_max_body: Option<u32>,
    /// Largest JSON-RPC answer in bytes (default 50 MiB); a method refuses to build one past
    /// it (`-32008 "Response is too big"`).
    #[arg(long, value_name = "BYTES")]
    pub rpc_max_response_body: Option<u32>,
    /// Memory all answers being built at once may hold, bytes (default 200 MiB); past it a
    /// large answer gets `-32009 "Server is busy, try again later"`.
    #[arg(long, value_name = "BYTES")]
    pub rpc_max_response_memory: Option<u64>,
    /// Most epochs one `cfx_getLogs` filter spans (default 100,000; conflux-rust's
    /// `get_logs_filter_max_epoch_range`).
    #[arg(long, value_name = "N")]
    pub rpc_logs_max_epoch_range: Option<u64>,
    /// Most logs one `cfx_getLogs` answer holds (default 10,000; conflux-rust's
    /// `get_logs_filter_max_limit`).
    #[arg(long, value_name = "N")]
    pub rpc_logs_max_limit: Option<usize>,
    /// Seconds a polled filter (`cfx_newFilter`, `cfx_newBlockFilter`,
    /// `cfx_newPendingTransactionFilter`) lives after its last poll (default 60;
    /// conflux-rust's `poll_lifetime_in_seconds`).
    #[arg(long, value_name = "SECS")]
    pub rpc_poll_lifetime: Option<u64>,
    /// Most polled filters installed at once, over all clients (default 1,024).
    #[arg(long, value_name = "N")]
    pub rpc_max_filters: Option<usize>,
    /// Most simultaneous connections per RPC server (default 256).
    #[arg(long, value_name = "N")]
    pub rpc_max_connections: Option<u32>,
    /// Most subscriptions per WebSocket connection (default 64).
    #[arg(long, value_name = "N")]
    pub rpc_max_subscriptions: Option<u32>,
    /// Signer backend spec, e.g. `bsim`, `bsim:reader=<name>`, `keystore:<dir>`.
    #[arg(long, value_name = "SPEC")]
    pub signer: Option<String>,
    /// File holding the signer's PIN or password (else `CFXLIGHT_PIN` / `CFXLIGHT_PASSWORD`).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Signing policy file (TOML) enforced on every signature the node asks for.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Hash-chained audit log of every signing request.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// BSIM: refuse the card unless every key has a valid attestation by this issuer
    /// (public key file, 128 hex digits) bound to the card's ICCID.
    #[arg(long, value_name = "FILE")]
    pub require_attestation: Option<PathBuf>,
    /// TOML config file with the same settings (keys as the flags, with `_`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (`IP:PORT`); off by default.
    #[arg(long, value_name = "IP:PORT")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Lowest log level written: error, warn, info (default), debug; else `RUST_LOG`.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log line format: `text` (default) or `json` (one object a line).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Resolve and print the configuration as JSON, then exit.
    #[arg(long)]
    pub dry_run: bool,
}

/// `cfxlight address …`
#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// Hex address to base32.
    Encode {
        /// 20-byte address, `0x`-prefixed or not.
        hex: String,
        /// Network id (1029 = cfx, 1 = cfxtest, others net<N>).
        #[arg(long, value_name = "N")]
        network_id: u64,
        /// Upper-case verbose form with the address type (`CFX:TYPE.USER:…`).
        #[arg(long)]
        verbose: bool,
    },
    /// Base32 address to hex, network id and type.
    Decode {
        /// Base32 address (simple or verbose form).
        base32: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `cfxlight tx …`
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Decode a raw signed transaction to JSON (fields, hash, signing hash, sender).
    Decode {
        /// Raw transaction hex, as given to `cfx_sendRawTransaction`.
        raw: String,
        /// Network id for base32 addresses (default: the transaction's chain id).
        #[arg(long, value_name = "N")]
        network_id: Option<u64>,
    },
    /// Print the hash of a raw signed transaction.
    Hash {
        /// Raw transaction hex.
        raw: String,
    },
}

/// `cfxlight chainspec …`
#[derive(Debug, Subcommand)]
pub enum ChainspecCommand {
    /// Print a chain spec (bundled name or file path) as resolved.
    Show {
        /// `mainnet`, `testnet`, `devnet`, or a path.
        name: String,
        /// Print JSON instead of the readable summary.
        #[arg(long)]
        json: bool,
    },
}

/// `cfxlight chain …`
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Show a node's chain status and re-verify its newest pivot header locally.
    Status {
        /// JSON-RPC URL of a Conflux node (HTTP).
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:12537")]
        rpc_url: String,
        /// eSpace JSON-RPC URL of the same node; headers past CIP-1559 carry the eSpace
        /// base price, which only the eSpace RPC shows.
        #[arg(long, value_name = "URL")]
        eth_rpc_url: Option<String>,
        /// Chain spec the node should be on (for fork rules and PoW mode).
        #[arg(long, value_name = "NAME|FILE", default_value = "devnet")]
        chain: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
