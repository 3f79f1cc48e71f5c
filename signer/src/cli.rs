//! `cfxlight signer …`: the signer subcommands, for the node binary to mount.
//!
//! ```text
//! cfxlight signer list         --signer <spec> [--network-id N] [--json]
//! cfxlight signer sign-tx      --signer <spec> --chain-id N <unsigned tx JSON | ->
//! cfxlight signer sign-message --signer <spec> [--from ADDR] <message | 0xhex>
//! cfxlight signer new          --signer keystore:<dir> [--kdf pbkdf2|scrypt]
//! cfxlight signer new          --signer bsim[:reader=<name>] | pkcs11:module=<path>,token=<label>[,key=<label>]
//! cfxlight signer import       --signer keystore:<dir> [--secret-file F] [--kdf …]
//! cfxlight signer serve        --signer <local spec> --listen <multiaddr>… --allow <peer id>… [--key F] [--mdns]
//! cfxlight signer remote-id    --key F
//! cfxlight signer verify-audit <file>
//! ```
//! `list`, `sign-tx` and `sign-message` also take `--signer 'plugin:<executable> [args…]'`
//! (an external plugin that asks for its own secrets; `signer/PLUGIN.md`).
//! Every command that opens a signer takes `--pin-file F`, `--policy F`, `--audit-log F`.
//! The PIN or password comes from `--pin-file`, else `CFXLIGHT_PASSWORD` / `CFXLIGHT_PIN`,
//! else a prompt on the terminal; it is held in zeroizing memory and never printed.
//!
//! The binary calls [`run`] (tests call [`run_with`] to capture the output). Backends are
//! opened through the library's plain [`open`](crate::spec::open). This module, with clap,
//! anyhow and the terminal prompt, is built only with the crate's `cli` feature: it is a
//! binary's edge, not part of the signing library.

use std::{
    io::{IsTerminal, Read, Write},
    path::{Path, PathBuf},
};

use anyhow::{anyhow, bail, Context};
use cfxlight_primitives::{address::CfxAddress, H160};
use clap::{Args, Subcommand, ValueEnum};
use zeroize::Zeroizing;

use crate::{
    audit::{verify_audit, AuditLog},
    error::SignerError,
    keystore::{self, KdfKind},
    message::message_bytes,
    policy::Policy,
    signer::{signature_to_bytes, Account, Signer},
    spec::{needs_secret, Backend, OpenOptions, SignerSpec},
    txjson::parse_tx_json,
    typed_data::parse_address,
};

/// Environment variable holding a keystore password.
pub const ENV_PASSWORD: &str = "CFXLIGHT_PASSWORD";
/// Environment variable holding a card PIN.
pub const ENV_PIN: &str = "CFXLIGHT_PIN";

/// The options every signer-opening command shares.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Signer backend: `keystore:<dir>`, `bsim`, `bsim:reader=<name>`,
    /// `pkcs11:module=<path>,token=<label>[,key=<label>]`, `plugin:<executable> [args…]`,
    /// `plugin:timeout=<s> -- <executable> [args…]`, ….
    #[arg(long = "signer", value_name = "SPEC")]
    pub signer: String,
    /// File holding the PIN or password (first line; the trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Policy file (TOML) to enforce.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Hash-chained audit log (JSON lines) to append every request to.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// BSIM: refuse the card unless every key has a valid attestation by this issuer bound
    /// to the card's ICCID (file: the issuer's public key, 128 hex digits `x ‖ y`).
    #[arg(long, value_name = "FILE")]
    pub require_attestation: Option<PathBuf>,
    /// `remote:` signers: this side's libp2p identity key (created 0600 when missing; its
    /// peer id, from `signer remote-id`, is what `signer serve --allow` names). The node
    /// defaults to `<datadir>/remote-signer.key`; a spec's `,key=<path>` wins.
    #[arg(long, value_name = "FILE")]
    pub remote_key: Option<PathBuf>,
}

/// The issuer public key a `--require-attestation` file holds (`0x`/`04` prefixes allowed).
fn issuer_key(args: &BackendArgs) -> anyhow::Result<Option<[u8; 64]>> {
    let Some(path) = &args.require_attestation else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--require-attestation {}", path.display()))?;
    let hex_text = text.trim().trim_start_matches("0x");
    let hex_text = if hex_text.len() == 130 {
        hex_text.strip_prefix("04").unwrap_or(hex_text)
    } else {
        hex_text
    };
    let mut key = [0u8; 64];
    hex::decode_to_slice(hex_text, &mut key).map_err(|_| {
        anyhow!(
            "--require-attestation {}: expected the issuer's public key as 128 hex digits",
            path.display()
        )
    })?;
    Ok(Some(key))
}

/// Key-derivation function for new key files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KdfArg {
    /// pbkdf2-hmac-sha256, c = 10240 (conflux-rust's form).
    #[default]
    Pbkdf2,
    /// scrypt n = 8192 (js-conflux-sdk's form; the only one js-conflux-sdk decrypts).
    Scrypt,
}

impl From<KdfArg> for KdfKind {
    fn from(k: KdfArg) -> Self {
        match k {
            KdfArg::Pbkdf2 => KdfKind::Pbkdf2,
            KdfArg::Scrypt => KdfKind::Scrypt,
        }
    }
}

/// `cfxlight signer …` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum SignerCommand {
    /// List the signer's accounts: base32 address, then the 0x public key, one per line.
    List {
        /// Backend and secrets.
        #[command(flatten)]
        backend: BackendArgs,
        /// Network id for the base32 addresses (default: the chain id, else 1029).
        #[arg(long)]
        network_id: Option<u64>,
        /// Chain id the signer is bound to (default: the policy's, else 1029).
        #[arg(long)]
        chain_id: Option<u32>,
        /// JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Sign an unsigned transaction (js-conflux-sdk JSON) and print the raw signed hex.
    SignTx {
        /// Backend and secrets.
        #[command(flatten)]
        backend: BackendArgs,
        /// Core-space chain id the transaction is for.
        #[arg(long)]
        chain_id: u32,
        /// The transaction JSON, or `-` to read it from standard input.
        tx: String,
    },
    /// Sign a personal message (Conflux prefix) and print `0x` r‖s‖v.
    SignMessage {
        /// Backend and secrets.
        #[command(flatten)]
        backend: BackendArgs,
        /// Account to sign with (base32 or hex; default: the only account).
        #[arg(long)]
        from: Option<String>,
        /// Chain id the signer is bound to (default: the policy's, else 1029).
        #[arg(long)]
        chain_id: Option<u32>,
        /// The message: text, or `0x…` hex bytes.
        message: String,
    },
    /// Sign CIP-23 typed data (the JSON wallets and cive use); prints `0x` r‖s‖v.
    SignTypedData {
        /// Backend and secrets.
        #[command(flatten)]
        backend: BackendArgs,
        /// Account to sign with (base32 or hex; default: the only account).
        #[arg(long)]
        from: Option<String>,
        /// Chain id the signer is bound to (default: the policy's, else 1029).
        #[arg(long)]
        chain_id: Option<u32>,
        /// The typed data JSON, or `-` to read it from standard input.
        typed_data: String,
    },
    /// Generate a new key into a keystore directory.
    New {
        /// Backend (`keystore:<dir>`, or `bsim[:reader=<name>]` / `pkcs11:…` to generate
        /// inside the card or token) and password/PIN source.
        #[command(flatten)]
        backend: BackendArgs,
        /// Key-derivation function of the new file.
        #[arg(long, value_enum, default_value_t)]
        kdf: KdfArg,
        /// Network id for the printed base32 address.
        #[arg(long, default_value_t = 1029)]
        network_id: u64,
    },
    /// Import a hex secret key into a keystore directory.
    Import {
        /// Backend (must be `keystore:<dir>`) and password source.
        #[command(flatten)]
        backend: BackendArgs,
        /// File holding the hex secret (else read from stdin, or prompted on a terminal).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// Key-derivation function of the new file.
        #[arg(long, value_enum, default_value_t)]
        kdf: KdfArg,
        /// Network id for the printed base32 address.
        #[arg(long, default_value_t = 1029)]
        network_id: u64,
    },
    /// Serve a local signer to allowed nodes over libp2p (`/cfxlight/signer/1`); the node
    /// uses `--signer remote:<printed address>`. Runs until stopped.
    Serve {
        /// The local backend, its PIN, and this side's policy and audit log.
        #[command(flatten)]
        backend: BackendArgs,
        /// Chain id the signer is bound to (default: the policy's, else 1029).
        #[arg(long)]
        chain_id: Option<u32>,
        /// Address to listen on, e.g. `/ip4/0.0.0.0/tcp/4100` (repeatable).
        #[arg(long, value_name = "MULTIADDR", required = true)]
        listen: Vec<String>,
        /// Peer id allowed to connect (the node's, from `signer remote-id`; repeatable).
        /// Every other peer is refused before any request is read.
        #[arg(long, value_name = "PEER_ID", required = true)]
        allow: Vec<String>,
        /// This signer's identity key (default: `~/.config/cfxlight/signer-serve.key`,
        /// created 0600 when missing).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Requests handled at once; more are answered `busy`.
        #[arg(long, default_value_t = 4)]
        max_in_flight: usize,
        /// Announce this signer (its peer id and addresses) on the local network by mDNS,
        /// so a node with `--signer remote:mdns/p2p/<peer id>` finds it without an address.
        /// Off by default: the LAN learns nothing unless asked. Only `--allow`ed ids may
        /// still connect.
        #[arg(long)]
        mdns: bool,
    },
    /// Print the libp2p peer id of an identity key file, creating the key (0600) if missing.
    RemoteId {
        /// The key file (the node's is `<datadir>/remote-signer.key`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Verify an audit log's hash chain; names the first bad line.
    VerifyAudit {
        /// The audit log.
        file: PathBuf,
    },
}

/// Runs a subcommand with the backends of this crate, printing to standard output.
pub async fn run(cmd: SignerCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    run_with(cmd, &mut out).await
}

/// Runs a subcommand, printing to `out`.
pub async fn run_with(cmd: SignerCommand, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    match cmd {
        SignerCommand::List {
            backend,
            network_id,
            chain_id,
            json,
        } => {
            let (signer, chain_id) = open(&backend, chain_id)?;
            let network_id = network_id.unwrap_or(u64::from(chain_id));
            let accounts = signer.accounts().await?;
            if json {
                let list: Vec<_> = accounts
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "address": CfxAddress::new(a.address, network_id).to_string(),
                            "hexAddress": format!("{:?}", a.address),
                            "publicKey": format!("{:?}", a.public),
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
            } else {
                for a in accounts {
                    write_account(out, &a, network_id)?;
                }
            }
        }
        SignerCommand::SignTx {
            backend,
            chain_id,
            tx,
        } => {
            let text = if tx == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                tx
            };
            let req =
                parse_tx_json(&text, chain_id).map_err(|e| anyhow!("transaction JSON: {e}"))?;
            let (signer, _) = open(&backend, Some(chain_id))?;
            let from = pick_account(signer.as_ref(), req.from).await?;
            let signed = signer.sign_transaction(&from, &req.tx).await?;
            writeln!(out, "0x{}", hex::encode(signed.encode()))?;
        }
        SignerCommand::SignMessage {
            backend,
            from,
            chain_id,
            message,
        } => {
            let from = from
                .map(|f| parse_address(&f))
                .transpose()
                .map_err(|e| anyhow!("--from: {e}"))?;
            let (signer, _) = open(&backend, chain_id)?;
            let from = pick_account(signer.as_ref(), from).await?;
            let sig = signer.sign_message(&from, &message_bytes(&message)).await?;
            writeln!(out, "0x{}", hex::encode(signature_to_bytes(&sig)))?;
        }
        SignerCommand::SignTypedData {
            backend,
            from,
            chain_id,
            typed_data,
        } => {
            let from = from
                .map(|f| parse_address(&f))
                .transpose()
                .map_err(|e| anyhow!("--from: {e}"))?;
            let json = if typed_data == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                typed_data
            };
            let typed = crate::typed_data::TypedData::from_json(&json)?;
            let (signer, _) = open(&backend, chain_id)?;
            let from = pick_account(signer.as_ref(), from).await?;
            let sig = signer.sign_typed_data(&from, &typed).await?;
            writeln!(out, "0x{}", hex::encode(signature_to_bytes(&sig)))?;
        }
        SignerCommand::New {
            backend,
            kdf,
            network_id,
        } => {
            let spec: SignerSpec = backend.signer.parse()?;
            if spec.backend == Backend::Bsim {
                return new_on_card(&spec, &backend, network_id, out);
            }
            if spec.backend == Backend::Pkcs11 {
                return new_on_token(&spec, &backend, network_id, out);
            }
            let dir = keystore_dir(&backend)?;
            let password = read_secret(&backend, true, true)?
                .ok_or_else(|| anyhow!(SignerError::PinRequired))?;
            let (account, path) = keystore::new_key(&dir, password.as_bytes(), kdf.into())?;
            write_account(out, &account, network_id)?;
            eprintln!("key file: {}", path.display());
        }
        SignerCommand::Import {
            backend,
            secret_file,
            kdf,
            network_id,
        } => {
            let dir = keystore_dir(&backend)?;
            let secret = read_key_secret(secret_file.as_deref())?;
            let password = read_secret(&backend, true, true)?
                .ok_or_else(|| anyhow!(SignerError::PinRequired))?;
            let (account, path) =
                keystore::import_key(&dir, &secret, password.as_bytes(), kdf.into())?;
            write_account(out, &account, network_id)?;
            eprintln!("key file: {}", path.display());
        }
        SignerCommand::Serve {
            backend,
            chain_id,
            listen,
            allow,
            key,
            max_in_flight,
            mdns,
        } => {
            serve_command(
                backend,
                chain_id,
                listen,
                allow,
                key,
                (max_in_flight, mdns),
                out,
            )
            .await?
        }
        SignerCommand::RemoteId { key } => remote_id(&key, out)?,
        SignerCommand::VerifyAudit { file } => {
            let s = verify_audit(&file)?;
            writeln!(
                out,
                "ok: {} lines, last hash {:?}, {}",
                s.lines,
                s.last_hash,
                if s.head_checked {
                    "head file matches"
                } else {
                    "no head file (a cut-off tail would not be detected)"
                }
            )?;
        }
    }
    Ok(())
}

/// `signer serve`: opens the local backend (with this side's policy and audit log) and
/// serves it to the allowed peers.
#[cfg(feature = "remote")]
#[allow(clippy::too_many_arguments)]
async fn serve_command(
    backend: BackendArgs,
    chain_id: Option<u32>,
    listen: Vec<String>,
    allow: Vec<String>,
    key: Option<PathBuf>,
    (max_in_flight, mdns): (usize, bool),
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    use crate::remote::serve::{serve, ServeConfig, ServeEvent};
    let listen = listen
        .iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("--listen {a}: not a multiaddr"))
        })
        .collect::<anyhow::Result<Vec<libp2p::Multiaddr>>>()?;
    let allow = allow
        .iter()
        .map(|p| {
            p.parse()
                .with_context(|| format!("--allow {p}: not a peer id"))
        })
        .collect::<anyhow::Result<Vec<libp2p::PeerId>>>()?;
    let key_path = match key {
        Some(k) => k,
        None => default_serve_key()?,
    };
    let identity = crate::remote::load_or_create_identity(&key_path)?;
    let spec: SignerSpec = backend.signer.parse()?;
    if spec.backend == Backend::Remote {
        bail!("signer serve needs a local backend, not another remote one");
    }
    let (signer, chain_id) = open(&backend, chain_id)?;
    let me = identity.public().to_peer_id();
    writeln!(out, "peer id: {me}")?;
    writeln!(out, "chain id: {chain_id}, serving `{}`", spec.backend)?;
    out.flush()?;
    let config = ServeConfig {
        listen,
        allow,
        key: identity,
        name: spec.backend.name().to_string(),
        max_in_flight,
        mdns,
    };
    serve(std::sync::Arc::from(signer), config, |e| {
        // Listening addresses go to stdout (what the node's --signer takes); the rest is a log.
        match e {
            ServeEvent::Listening(a) => {
                let _ = writeln!(out, "listening: {a}");
                let _ = out.flush();
            }
            ServeEvent::Connected(p) => eprintln!("signer serve: connected: {p}"),
            ServeEvent::Refused { from, reason } => {
                eprintln!("signer serve: refused a connection from {from}: {reason}")
            }
            ServeEvent::Answered {
                peer,
                method,
                outcome,
            } => eprintln!("signer serve: {method} for {peer}: {outcome}"),
        }
    })
    .await?;
    Ok(())
}

/// Without the `remote` feature there is nothing to serve with.
#[cfg(not(feature = "remote"))]
#[allow(clippy::too_many_arguments)]
async fn serve_command(
    _: BackendArgs,
    _: Option<u32>,
    _: Vec<String>,
    _: Vec<String>,
    _: Option<PathBuf>,
    _: (usize, bool),
    _: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    Err(SignerError::UnsupportedBackend(Backend::Remote).into())
}

/// `~/.config/cfxlight/signer-serve.key` (or under `$XDG_CONFIG_HOME`).
#[cfg(feature = "remote")]
fn default_serve_key() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| anyhow!("no HOME: pass --key <file>"))?;
    Ok(base.join("cfxlight/signer-serve.key"))
}

/// `signer remote-id`: the peer id of a key file (made when missing).
#[cfg(feature = "remote")]
fn remote_id(key: &Path, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let k = crate::remote::load_or_create_identity(key)?;
    writeln!(out, "{}", k.public().to_peer_id())?;
    Ok(())
}

/// Without the `remote` feature there are no libp2p identities.
#[cfg(not(feature = "remote"))]
fn remote_id(_: &Path, _: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    Err(SignerError::UnsupportedBackend(Backend::Remote).into())
}

/// `signer new --signer bsim…`: the key is generated inside the card and never leaves it.
#[cfg(feature = "bsim")]
fn new_on_card(
    spec: &SignerSpec,
    backend: &BackendArgs,
    network_id: u64,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let reader = spec.options()?.get("reader").cloned();
    let pin =
        read_secret(backend, true, false)?.ok_or_else(|| anyhow!(SignerError::PinRequired))?;
    let account = crate::bsim::BsimSigner::generate_key(
        crate::bsim::BsimSpec {
            reader,
            ..Default::default()
        },
        &pin,
    )?;
    Ok(write_account(out, &account, network_id)?)
}

/// Without the `bsim` feature there is no card to generate on.
#[cfg(not(feature = "bsim"))]
fn new_on_card(
    spec: &SignerSpec,
    _: &BackendArgs,
    _: u64,
    _: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    Err(SignerError::UnsupportedBackend(spec.backend).into())
}

/// `signer new` on a PKCS#11 token: the key pair is generated on the token, the private
/// key sensitive and never extractable.
#[cfg(feature = "pkcs11")]
fn new_on_token(
    spec: &SignerSpec,
    backend: &BackendArgs,
    network_id: u64,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let p = spec.pkcs11()?;
    let pin =
        read_secret(backend, true, false)?.ok_or_else(|| anyhow!(SignerError::PinRequired))?;
    let (account, label) =
        crate::pkcs11::Pkcs11Signer::generate_key(&p, &pin, crate::pkcs11::LoginLimits::default())?;
    write_account(out, &account, network_id)?;
    eprintln!("key `{label}` on token `{}`", p.token);
    Ok(())
}

/// Without the `pkcs11` feature there is no token to generate on.
#[cfg(not(feature = "pkcs11"))]
fn new_on_token(
    spec: &SignerSpec,
    _: &BackendArgs,
    _: u64,
    _: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    Err(SignerError::UnsupportedBackend(spec.backend).into())
}

/// Opens the backend the node was given (`--signer`, `--pin-file`, `--policy`,
/// `--audit-log`) for `chain_id`, wrapped in policy and audit when asked. The PIN or
/// password comes from the file or the environment, never from a prompt (a node runs
/// unattended).
pub fn open_for_node(args: &BackendArgs, chain_id: u32) -> anyhow::Result<Box<dyn Signer>> {
    let (spec, policy) = spec_and_policy(args)?;
    let secret = read_secret(args, false, false)?;
    if secret.is_some() && args.pin_file.is_none() {
        // Clearing the variable would not help: /proc/<pid>/environ keeps the original.
        eprintln!(
            "warning: the signer's PIN/password came from {ENV_PIN}/{ENV_PASSWORD}, which stays readable in /proc/{}/environ (this user and root) while the node runs; prefer --pin-file with mode 0600",
            std::process::id()
        );
    }
    if secret.is_none() && needs_secret(&spec) {
        bail!(
            "the `{}` signer needs its PIN or password: pass --pin-file or set {ENV_PIN} / {ENV_PASSWORD}",
            spec.backend
        );
    }
    let options = OpenOptions {
        secret,
        allow_blind_signing: false,
        require_attestation: issuer_key(args)?,
        remote_key: args.remote_key.clone(),
    };
    Ok(crate::spec::open(
        &spec,
        chain_id,
        options,
        policy,
        audit_log(args)?,
    )?)
}

/// The backend spec and the policy file the arguments name.
fn spec_and_policy(args: &BackendArgs) -> anyhow::Result<(SignerSpec, Option<Policy>)> {
    let spec: SignerSpec = args
        .signer
        .parse()
        .with_context(|| format!("--signer {:?}", args.signer))?;
    let policy = args.policy.as_deref().map(Policy::load).transpose()?;
    Ok((spec, policy))
}

/// The audit log the arguments name, opened (and repaired after a crash, said on stderr).
fn audit_log(args: &BackendArgs) -> anyhow::Result<Option<AuditLog>> {
    let audit = args.audit_log.as_deref().map(AuditLog::open).transpose()?;
    if let Some(repair) = audit.as_ref().and_then(AuditLog::repaired) {
        eprintln!("audit log repaired after a crash (recorded in the log): {repair}");
    }
    Ok(audit)
}

/// Opens the backend, wrapped in policy and audit when asked; returns it and its chain id.
fn open(args: &BackendArgs, chain_id: Option<u32>) -> anyhow::Result<(Box<dyn Signer>, u32)> {
    let (spec, policy) = spec_and_policy(args)?;
    let chain_id = chain_id
        .or(policy.as_ref().and_then(|p| p.chain_id))
        .unwrap_or(1029);
    let secret = read_secret(args, needs_secret(&spec), false)?;
    let options = OpenOptions {
        secret,
        allow_blind_signing: false,
        require_attestation: issuer_key(args)?,
        remote_key: args.remote_key.clone(),
    };
    let signer = crate::spec::open(&spec, chain_id, options, policy, audit_log(args)?)?;
    Ok((signer, chain_id))
}

/// `from` if given (it must be one of the signer's), else the signer's only account.
async fn pick_account(signer: &dyn Signer, from: Option<H160>) -> anyhow::Result<H160> {
    let accounts = signer.accounts().await?;
    match from {
        Some(f) if accounts.iter().any(|a| a.address == f) => Ok(f),
        Some(f) => Err(SignerError::UnknownAccount(f).into()),
        None => match accounts.as_slice() {
            [only] => Ok(only.address),
            [] => bail!("the signer has no accounts"),
            _ => bail!(
                "the signer has {} accounts: say which with `from`",
                accounts.len()
            ),
        },
    }
}

fn keystore_dir(args: &BackendArgs) -> anyhow::Result<PathBuf> {
    let spec: SignerSpec = args
        .signer
        .parse()
        .with_context(|| format!("--signer {:?}", args.signer))?;
    if spec.backend != Backend::Keystore {
        bail!(
            "this command needs --signer keystore:<dir> (keys of `{}` are made on the device)",
            spec.backend
        );
    }
    Ok(spec.keystore()?.dir)
}

/// The first line of a secret file, without its line ending.
fn first_line(text: Zeroizing<String>) -> Zeroizing<String> {
    let line = text.lines().next().unwrap_or_default();
    Zeroizing::new(line.to_string())
}

/// PIN or password: `--pin-file`, then the environment, then a terminal prompt (only when
/// `prompt` is set and stdin is a terminal; `confirm` asks twice, for new passwords).
/// One account as `list`, `new` and `import` print it: base32 address, then the public key.
fn write_account(
    out: &mut (dyn Write + Send),
    account: &Account,
    network_id: u64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {:?}",
        CfxAddress::new(account.address, network_id),
        account.public
    )
}

fn read_secret(
    args: &BackendArgs,
    prompt: bool,
    confirm: bool,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(path) = &args.pin_file {
        warn_if_shared(path);
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("--pin-file {}", path.display()))?,
        );
        return Ok(Some(first_line(text)));
    }
    for var in [ENV_PASSWORD, ENV_PIN] {
        if let Ok(v) = std::env::var(var) {
            return Ok(Some(Zeroizing::new(v)));
        }
    }
    if !prompt || !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let first = Zeroizing::new(rpassword::prompt_password("Password: ")?);
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat password: ")?);
        if *again != *first {
            bail!("the passwords differ");
        }
    }
    Ok(Some(first))
}

/// Warns when a secret file can be read or written by others (the node key's permissions
/// are enforced; a PIN file's are only warned about, so existing setups keep working).
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: --pin-file {} is accessible to other users (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
    }
}

/// The hex secret to import: `--secret-file`, else a terminal prompt, else stdin.
fn read_key_secret(path: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    let text = match path {
        Some(p) => Zeroizing::new(
            std::fs::read_to_string(p).with_context(|| format!("--secret-file {}", p.display()))?,
        ),
        None if std::io::stdin().is_terminal() => {
            Zeroizing::new(rpassword::prompt_password("Secret key (hex): ")?)
        }
        None => {
            let mut s = Zeroizing::new(String::new());
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
    };
    Ok(first_line(text))
}
