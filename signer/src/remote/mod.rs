//! A signer on another machine, over libp2p: the card stays in a phone or a desk reader,
//! the node asks it across the network.
//!
//! Two ends of one protocol, `/cfxlight/signer/1` (request-response, JSON messages,
//! [`wire`]) over TCP + Noise + Yamux:
//! - [`serve`]: `cfxlight signer serve --signer <local spec> --listen <multiaddr> --allow
//!   <peer id>…` runs next to the key, with its own policy and audit log around the local
//!   backend; connections from any peer id not allowed are denied as they are established,
//!   before a stream is opened, so nothing they send is read.
//! - [`RemoteSigner`] (module [`client`]): `--signer remote:<multiaddr>/p2p/<peer id>`. It
//!   dials only that peer id (Noise proves it; a different key at the address is a
//!   `WrongPeerId` dial failure) and accepts no other, pins the accounts and chain id it saw
//!   at open, re-checks them after every reconnect, re-checks every signature against the
//!   pinned public key, and reconnects with backoff. Requests wait long enough for a human
//!   to confirm on the device (120 s by default).
//!
//! Each side has a persistent ed25519 identity ([`load_or_create_identity`]): a 0600 file
//! written atomically, like the node's own P2P key. `cfxlight signer remote-id --key F`
//! prints the peer id of a key file, which is what the other side pins.
//!
//! What goes over the wire is the content, never a bare digest: the exact bytes of a
//! transaction's signing payload (the serving side decodes them and computes the digest
//! itself, so its policy judges the real transaction), the message, or the typed data.
//! Raw hash signing is never offered remotely.

pub mod client;
pub mod serve;
pub mod wire;

use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    time::Duration,
};

use libp2p::{
    allow_block_list::{self, AllowedPeers},
    identity::Keypair,
    mdns, ping,
    request_response::{self, ProtocolSupport},
    swarm::{behaviour::toggle::Toggle, NetworkBehaviour},
    StreamProtocol,
};
use zeroize::Zeroizing;

pub use client::{RemoteOptions, RemoteSigner};
pub use serve::{serve, ServeConfig};

use crate::error::SignerError;

/// The request-response protocol name.
pub const PROTOCOL: &str = "/cfxlight/signer/1";
/// Largest request accepted (a transaction's payload with its data, hex in JSON).
pub const MAX_REQUEST_BYTES: u64 = 1 << 20;
/// Largest response accepted (accounts or a signature; a few hundred bytes in practice).
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;
/// Default wait for a signature: long enough for a human to confirm on the device (the
/// same as a plugin's; a `remote:` spec's `timeout=` overrides it on the node's side).
pub const DEFAULT_SIGN_TIMEOUT: Duration = crate::spec::PLUGIN_DEFAULT_TIMEOUT;
/// Wait for the handshake and the account listing.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Liveness: a ping every this often…
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// …and a connection whose ping is not answered within this is closed.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// How often mDNS asks the network again once it has probed (the first queries go out at
/// once and back off from half a second): a signer that comes back after a restart is
/// found within this, and the LAN sees one small packet per interval.
pub const MDNS_QUERY_INTERVAL: Duration = Duration::from_secs(30);

/// The behaviour both ends run: the allow-list (deny unknown peers at connection
/// establishment), ping (notice a vanished peer), the signing protocol, and mDNS when
/// asked for (off unless `signer serve --mdns` / a `remote:mdns/p2p/<peer id>` spec).
#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "Event")]
pub(crate) struct Behaviour {
    allow: allow_block_list::Behaviour<AllowedPeers>,
    ping: ping::Behaviour,
    rr: request_response::json::Behaviour<wire::Request, wire::Response>,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

/// What [`Behaviour`] reports to the swarm loop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Event {
    /// A ping answered or failed.
    Ping(ping::Event),
    /// A request, a response or a failure of the signing protocol.
    Rr(request_response::Event<wire::Request, wire::Response>),
    /// Peers (and their addresses) announced on the local network, or expired.
    Mdns(mdns::Event),
}

impl From<mdns::Event> for Event {
    fn from(e: mdns::Event) -> Self {
        Event::Mdns(e)
    }
}

impl From<ping::Event> for Event {
    fn from(e: ping::Event) -> Self {
        Event::Ping(e)
    }
}

impl From<request_response::Event<wire::Request, wire::Response>> for Event {
    fn from(e: request_response::Event<wire::Request, wire::Response>) -> Self {
        Event::Rr(e)
    }
}

impl From<std::convert::Infallible> for Event {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl Behaviour {
    /// Only `allowed` may connect; `support` says which side of the protocol we are.
    pub(crate) fn new(
        allowed: &[libp2p::PeerId],
        support: ProtocolSupport,
        request_timeout: Duration,
    ) -> Self {
        let mut allow = allow_block_list::Behaviour::<AllowedPeers>::default();
        for p in allowed {
            allow.allow_peer(*p);
        }
        let codec = request_response::json::codec::Codec::default()
            .set_request_size_maximum(MAX_REQUEST_BYTES)
            .set_response_size_maximum(MAX_RESPONSE_BYTES);
        let rr = request_response::Behaviour::with_codec(
            codec,
            [(StreamProtocol::new(PROTOCOL), support)],
            request_response::Config::default()
                .with_request_timeout(request_timeout)
                // A signer serves one node; a few requests in flight are plenty.
                .with_max_concurrent_streams(16),
        );
        Behaviour {
            allow,
            ping: ping::Behaviour::new(
                ping::Config::new()
                    .with_interval(PING_INTERVAL)
                    .with_timeout(PING_TIMEOUT),
            ),
            rr,
            mdns: Toggle::from(None),
        }
    }
}

/// A swarm over TCP + Noise + Yamux with `behaviour`, keeping idle connections open (the
/// connection is the pairing; ping tells when it is gone).
/// With `mdns`, the swarm also answers and asks mDNS queries on every non-loopback
/// interface (it must be built inside the tokio runtime that drives it).
pub(crate) fn swarm(
    key: Keypair,
    mut behaviour: Behaviour,
    mdns: bool,
) -> Result<libp2p::Swarm<Behaviour>, SignerError> {
    let err = |e: &dyn std::fmt::Display| SignerError::Backend(format!("libp2p: {e}"));
    Ok(libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| err(&e))?
        .with_behaviour(|key| {
            if mdns {
                let config = mdns::Config {
                    query_interval: MDNS_QUERY_INTERVAL,
                    ..mdns::Config::default()
                };
                let m = mdns::tokio::Behaviour::new(config, key.public().to_peer_id())?;
                behaviour.mdns = Toggle::from(Some(m));
            }
            Ok(behaviour)
        })
        .map_err(|e| err(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build())
}

/// Loads the ed25519 identity in `path` (64 hex digits of the secret), creating it (mode
/// 0600, written to `<path>.tmp`, fsynced, renamed, directory fsynced) when missing. A file
/// that is readable by others, cut short or not hex is an error, never replaced: it is an
/// identity the other side pinned.
pub fn load_or_create_identity(path: &Path) -> Result<Keypair, SignerError> {
    let io = |what: &str, e: std::io::Error| {
        SignerError::Backend(format!("remote signer key {}: {what}: {e}", path.display()))
    };
    let bad = |why: String| {
        SignerError::InvalidSpec(format!(
            "remote signer key {}: {why}; delete it to make a new identity (the other side must then allow the new peer id)",
            path.display()
        ))
    };
    if path.exists() {
        let mode = std::fs::metadata(path)
            .map_err(|e| io("stat", e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(SignerError::InvalidSpec(format!(
                "remote signer key {} is readable by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| io("read", e))?);
        let mut secret = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut secret[..])
            .map_err(|_| bad("not 64 hex digits".into()))?;
        return Keypair::ed25519_from_bytes(&mut secret[..]).map_err(|e| bad(e.to_string()));
    }
    let key = libp2p::identity::ed25519::Keypair::generate();
    let secret = Zeroizing::new(hex::encode(key.secret().as_ref()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove leftover temp file", e)),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io("create", e))?;
    f.write_all(secret.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(|e| io("write", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("rename into place", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync directory", e))?;
    Ok(key.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_identity_persists_privately_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/remote.key");
        let a = load_or_create_identity(&path).unwrap();
        let b = load_or_create_identity(&path).unwrap();
        assert_eq!(a.public().to_peer_id(), b.public().to_peer_id());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load_or_create_identity(&path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "abc").unwrap();
        let e = load_or_create_identity(&path).unwrap_err().to_string();
        assert!(e.contains("not 64 hex digits"), "{e}");
    }
}
