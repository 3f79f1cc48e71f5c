//! The node's end: [`RemoteSigner`], a [`Signer`] whose key is behind `cfxlight signer
//! serve` on another machine.
//!
//! The swarm runs on a thread of its own (a current-thread runtime), so the signer can be
//! opened from blocking code and used from any runtime. Requests reach it through a bounded
//! queue; each waits at most its timeout. A lost connection is redialled with backoff
//! (1 s doubling to 30 s), and the first request after a reconnect re-runs the handshake
//! and compares the accounts with those pinned at open: a different key behind the same
//! peer id is refused, as is any signature that does not recover to the pinned key.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use cfxlight_primitives::crypto::Signature;
use libp2p::{
    futures::StreamExt,
    identity::Keypair,
    multiaddr::Protocol,
    request_response::{self, OutboundRequestId, ProtocolSupport},
    swarm::{dial_opts::DialOpts, SwarmEvent},
    Multiaddr, PeerId,
};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{
    wire::{self, ErrorKind, Request, Response},
    Behaviour, Event, HANDSHAKE_TIMEOUT,
};
use crate::{
    error::SignerError,
    signer::{check_signature, Account, SignRequest, Signer, VerifiedSignature},
};

/// How many requests may wait for the swarm thread at once.
const QUEUE: usize = 32;
/// First redial delay after a lost connection; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Longest redial delay.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the remote signer is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// `<multiaddr>/p2p/<peer id>`: the address to dial and the identity to pin; or
    /// `mdns/p2p/<peer id>`: the identity to pin, its addresses found by mDNS on the local
    /// network (announced by `signer serve --mdns`).
    pub address: String,
    /// This side's identity (its peer id is what `signer serve --allow` names).
    pub key: Keypair,
    /// Longest wait for a signature (a human may be confirming on the device).
    pub sign_timeout: Duration,
}

/// A request for the swarm thread and where its answer goes.
struct Call {
    request: Request,
    reply: oneshot::Sender<Result<Response, String>>,
}

/// A signer on another machine, reached over libp2p (`--signer remote:…`).
pub struct RemoteSigner {
    peer: PeerId,
    chain_id: u32,
    name: String,
    sign_timeout: Duration,
    calls: mpsc::Sender<Call>,
    /// Connections established so far (bumped by the swarm thread).
    connections: Arc<AtomicU64>,
    /// Whether the signer's addresses come from mDNS.
    mdns: bool,
    /// The connection count at the last successful handshake and account check.
    checked: Mutex<u64>,
    accounts: Vec<Account>,
}

impl std::fmt::Debug for RemoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSigner")
            .field("peer", &self.peer)
            .field("chain_id", &self.chain_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn remote_error(peer: &PeerId, operation: &str, detail: impl Into<String>) -> SignerError {
    SignerError::Remote {
        peer: peer.to_string(),
        operation: operation.into(),
        detail: detail.into(),
    }
}

/// Where a remote signer is to be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// At this address (`<multiaddr>/p2p/<peer id>`).
    At(Multiaddr),
    /// Wherever mDNS on the local network says the pinned peer id is (`mdns/p2p/<peer id>`).
    Mdns,
}

/// Most addresses remembered from mDNS for the pinned peer (one per interface in practice;
/// the bound keeps a noisy network from growing the list).
const MAX_MDNS_ADDRESSES: usize = 8;

/// The place and the pinned peer id of `<multiaddr>/p2p/<peer id>` or `mdns/p2p/<peer id>`.
pub fn parse_address(address: &str) -> Result<(Place, PeerId), SignerError> {
    let bad = |why: &str| {
        SignerError::InvalidSpec(format!(
            "remote:{address}: {why} (expected <multiaddr>/p2p/<peer id>, e.g. /ip4/192.168.1.20/tcp/4100/p2p/12D3KooW…, or mdns/p2p/<peer id>)"
        ))
    };
    if let Some(id) = address.strip_prefix("mdns/p2p/") {
        let peer: PeerId = id
            .parse()
            .map_err(|_| bad("not a peer id after mdns/p2p/"))?;
        return Ok((Place::Mdns, peer));
    }
    let mut addr: Multiaddr = address.parse().map_err(|_| bad("not a multiaddr"))?;
    let Some(Protocol::P2p(peer)) = addr.pop() else {
        return Err(bad("it does not end in /p2p/<peer id>"));
    };
    if addr.iter().next().is_none() {
        return Err(bad("no address before /p2p/"));
    }
    Ok((Place::At(addr), peer))
}

impl RemoteSigner {
    /// Connects, checks the handshake (protocol version, chain id) and pins the accounts
    /// (blocks up to [`HANDSHAKE_TIMEOUT`] for each step).
    pub fn open(options: RemoteOptions, chain_id: u32) -> Result<Self, SignerError> {
        let (place, peer) = parse_address(&options.address)?;
        let by_mdns = place == Place::Mdns;
        let behaviour = Behaviour::new(&[peer], ProtocolSupport::Outbound, options.sign_timeout);
        let (calls, queue) = mpsc::channel(QUEUE);
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let key = options.key;
        let key_peer = key.public().to_peer_id();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("remote-signer".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = started_tx.send(Err(SignerError::Backend(format!(
                            "remote signer runtime: {e}"
                        ))));
                        return;
                    }
                };
                rt.block_on(async move {
                    let mdns = place == Place::Mdns;
                    let swarm = match super::swarm(key, behaviour, mdns) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = started_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = started_tx.send(Ok(()));
                    run(swarm, peer, place, queue, counter).await;
                });
            })
            .map_err(|e| SignerError::Backend(format!("remote signer thread: {e}")))?;
        started_rx
            .recv()
            .map_err(|_| SignerError::Backend("remote signer thread died".into()))??;
        let mut signer = RemoteSigner {
            peer,
            chain_id,
            name: String::new(),
            sign_timeout: options.sign_timeout,
            calls,
            connections,
            mdns: by_mdns,
            checked: Mutex::new(u64::MAX),
            accounts: vec![],
        };
        let me = key_peer;
        let (name, accounts) = block_on(signer.handshake()).map_err(|e| match e {
            SignerError::Remote {
                peer,
                operation,
                detail,
            } => SignerError::Remote {
                peer,
                operation,
                detail: format!(
                    "{detail} (our peer id is {me}: is it among the signer's --allow?)"
                ),
            },
            e => e,
        })?;
        signer.name = name;
        signer.accounts = accounts;
        *signer.checked.get_mut() = signer.connections.load(Ordering::SeqCst);
        Ok(signer)
    }

    /// The pinned peer id.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// What the serving side said it serves (`bsim`, `keystore`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One request, answered within `timeout`.
    async fn call(
        &self,
        operation: &str,
        request: Request,
        timeout: Duration,
    ) -> Result<Response, SignerError> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .try_send(Call { request, reply })
            .map_err(|_| remote_error(&self.peer, operation, "too many requests queued"))?;
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        match tokio::time::timeout(timeout, answer).await {
            Err(_) if self.mdns && self.connections.load(Ordering::SeqCst) == 0 => Err(remote_error(
                &self.peer,
                operation,
                format!(
                    "no mDNS announcement of this peer id within {millis} ms: is `cfxlight signer serve --mdns` running on the same local network? (mDNS does not cross routers and skips loopback)"
                ),
            )),
            Err(_) => Err(SignerError::Timeout {
                operation: format!("remote {operation}"),
                millis,
            }),
            Ok(Err(_)) => Err(remote_error(
                &self.peer,
                operation,
                "the connection task ended",
            )),
            Ok(Ok(Err(e))) => Err(remote_error(&self.peer, operation, e)),
            Ok(Ok(Ok(Response::Error {
                kind,
                message,
                rule,
            }))) => Err(match (kind, rule) {
                (ErrorKind::Policy, Some(rule)) => SignerError::PolicyRefused {
                    rule: format!("remote:{rule}"),
                    detail: message,
                },
                _ => SignerError::RemoteRefused {
                    peer: self.peer.to_string(),
                    message,
                },
            }),
            Ok(Ok(Ok(r))) => Ok(r),
        }
    }

    /// `hello` then `accounts`: the serving side's name and its accounts.
    async fn handshake(&self) -> Result<(String, Vec<Account>), SignerError> {
        let hello = self
            .call(
                "hello",
                Request::Hello {
                    version: wire::VERSION,
                    chain_id: self.chain_id,
                },
                HANDSHAKE_TIMEOUT,
            )
            .await?;
        let name = match hello {
            Response::Hello {
                version,
                chain_id,
                name,
            } => {
                if version != wire::VERSION {
                    return Err(remote_error(
                        &self.peer,
                        "hello",
                        format!("it speaks version {version}, we speak {}", wire::VERSION),
                    ));
                }
                if chain_id != self.chain_id {
                    return Err(SignerError::WrongChainId {
                        expected: self.chain_id,
                        actual: chain_id,
                    });
                }
                name
            }
            other => return Err(unexpected(&self.peer, "hello", &other)),
        };
        let accounts = match self
            .call("accounts", Request::Accounts {}, HANDSHAKE_TIMEOUT)
            .await?
        {
            Response::Accounts { public_keys } => {
                public_keys.into_iter().map(Account::from_public).collect()
            }
            other => return Err(unexpected(&self.peer, "accounts", &other)),
        };
        Ok((name, accounts))
    }

    /// After a reconnect: the handshake again, and the same accounts as at open.
    async fn recheck(&self) -> Result<(), SignerError> {
        let mut checked = self.checked.lock().await;
        let now = self.connections.load(Ordering::SeqCst);
        if *checked == now {
            return Ok(());
        }
        let (_, accounts) = self.handshake().await?;
        if accounts != self.accounts {
            return Err(remote_error(
                &self.peer,
                "accounts",
                format!(
                    "after a reconnect it holds other keys than at start ({} then, {} now): refused; restart the node to accept the new keys",
                    self.accounts.len(),
                    accounts.len()
                ),
            ));
        }
        *checked = now;
        Ok(())
    }
}

fn unexpected(peer: &PeerId, operation: &str, r: &Response) -> SignerError {
    let what = match r {
        Response::Hello { .. } => "hello",
        Response::Accounts { .. } => "accounts",
        Response::Signature { .. } => "signature",
        Response::Error { .. } => "error",
    };
    remote_error(peer, operation, format!("answered with {what}"))
}

/// Runs `f` to completion from blocking code, inside a runtime or not.
fn block_on<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(f))
        })
        .join()
    })
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
    .unwrap_or_else(|e| panic!("a current-thread runtime could not start: {e}"))
}

#[async_trait]
impl Signer for RemoteSigner {
    fn chain_id(&self) -> u32 {
        self.chain_id
    }

    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        Ok(self.accounts.clone())
    }

    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        req.check_basic(self.chain_id, false)?;
        let account = *self
            .accounts
            .iter()
            .find(|a| a.address == req.from())
            .ok_or(SignerError::UnknownAccount(req.from()))?;
        self.recheck().await?;
        let operation = req.method().as_str();
        let sig = match self
            .call(
                operation,
                Request::from_sign_request(req)?,
                self.sign_timeout,
            )
            .await?
        {
            Response::Signature { v, r, s } => Signature { v, r, s },
            other => return Err(unexpected(&self.peer, operation, &other)),
        };
        check_signature(&account, &req.digest(), &sig)
    }
}

/// The swarm loop: sends queued calls, routes answers, keeps the connection up. With
/// [`Place::Mdns`] the dial addresses are the ones mDNS announced for the pinned peer id
/// (other peers' announcements are ignored; Noise still proves the id), and a call made
/// before any announcement waits for one, up to its own timeout.
async fn run(
    mut swarm: libp2p::Swarm<Behaviour>,
    peer: PeerId,
    place: Place,
    mut queue: mpsc::Receiver<Call>,
    connections: Arc<AtomicU64>,
) {
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, String>>> =
        HashMap::new();
    let mut addrs: Vec<Multiaddr> = match &place {
        Place::At(a) => vec![a.clone()],
        Place::Mdns => vec![],
    };
    // Calls made while mDNS has not found the signer yet (bounded by the queue's size).
    let mut waiting: Vec<Call> = vec![];
    let mut backoff = MIN_BACKOFF;
    // When to dial next, if not connected.
    let mut redial: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    let mut last_dial_error = String::from("not connected yet");
    let shown = match &place {
        Place::At(a) => a.to_string(),
        Place::Mdns => "it (found by mDNS)".into(),
    };
    loop {
        let sleep = async {
            match redial {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            call = queue.recv() => {
                let Some(call) = call else { return };
                if addrs.is_empty() && !swarm.is_connected(&peer) {
                    waiting.retain(|c| !c.reply.is_closed());
                    if waiting.len() >= QUEUE {
                        let _ = call.reply.send(Err("too many requests wait for the signer's mDNS announcement".into()));
                    } else {
                        waiting.push(call);
                    }
                    continue;
                }
                // Not connected: request-response dials at once, whatever the backoff.
                let id = swarm.behaviour_mut().rr.send_request_with_addresses(
                    &peer,
                    call.request,
                    addrs.clone(),
                );
                pending.insert(id, call.reply);
            }
            () = sleep => {
                redial = None;
                if !swarm.is_connected(&peer) && !addrs.is_empty() {
                    let opts = DialOpts::peer_id(peer).addresses(addrs.clone()).build();
                    if let Err(e) = swarm.dial(opts) {
                        last_dial_error = e.to_string();
                        redial = Some(tokio::time::Instant::now() + backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == peer => {
                    connections.fetch_add(1, Ordering::SeqCst);
                    backoff = MIN_BACKOFF;
                    redial = None;
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if peer_id == peer => {
                    redial = Some(tokio::time::Instant::now() + backoff);
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    last_dial_error = error.to_string();
                    if !swarm.is_connected(&peer) {
                        redial = Some(tokio::time::Instant::now() + backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                SwarmEvent::Behaviour(Event::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                    let before = addrs.len();
                    for (_, a) in found.into_iter().filter(|(p, _)| *p == peer) {
                        if !addrs.contains(&a) && addrs.len() < MAX_MDNS_ADDRESSES {
                            addrs.push(a);
                        }
                    }
                    if addrs.len() > before {
                        // A signer that came back: dial now, not after the backoff.
                        backoff = MIN_BACKOFF;
                        redial = Some(tokio::time::Instant::now());
                        for call in waiting.drain(..).filter(|c| !c.reply.is_closed()) {
                            let id = swarm.behaviour_mut().rr.send_request_with_addresses(
                                &peer,
                                call.request,
                                addrs.clone(),
                            );
                            pending.insert(id, call.reply);
                        }
                    }
                }
                SwarmEvent::Behaviour(Event::Mdns(libp2p::mdns::Event::Expired(gone))) => {
                    for (_, a) in gone.into_iter().filter(|(p, _)| *p == peer) {
                        addrs.retain(|x| *x != a);
                    }
                }
                SwarmEvent::Behaviour(Event::Ping(libp2p::ping::Event { result: Err(_), connection, .. })) => {
                    // A peer that stops answering pings is gone: close, then redial.
                    swarm.close_connection(connection);
                }
                SwarmEvent::Behaviour(Event::Rr(e)) => match e {
                    request_response::Event::Message {
                        message: request_response::Message::Response { request_id, response },
                        ..
                    } => {
                        if let Some(reply) = pending.remove(&request_id) {
                            let _ = reply.send(Ok(response));
                        }
                    }
                    request_response::Event::OutboundFailure { request_id, error, .. } => {
                        if let Some(reply) = pending.remove(&request_id) {
                            let detail = match error {
                                request_response::OutboundFailure::DialFailure => format!(
                                    "cannot reach {shown}: {last_dial_error} (retrying with backoff)"
                                ),
                                request_response::OutboundFailure::Timeout => {
                                    "no answer in time (it may have been seen: check the signer's audit log)".into()
                                }
                                request_response::OutboundFailure::ConnectionClosed => {
                                    "the connection closed before the answer (it may have been seen: check the signer's audit log)".into()
                                }
                                other => other.to_string(),
                            };
                            let _ = reply.send(Err(detail));
                        }
                    }
                    _ => {}
                },
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_must_name_both_a_place_and_a_peer_id() {
        let id = Keypair::generate_ed25519().public().to_peer_id();
        let (place, peer) = parse_address(&format!("/ip4/10.1.2.3/tcp/4100/p2p/{id}")).unwrap();
        assert_eq!(place, Place::At("/ip4/10.1.2.3/tcp/4100".parse().unwrap()));
        assert_eq!(peer, id);
        assert_eq!(
            parse_address(&format!("mdns/p2p/{id}")).unwrap(),
            (Place::Mdns, id)
        );
        for bad in [
            "/ip4/10.1.2.3/tcp/4100".to_string(),
            format!("/p2p/{id}"),
            "junk".into(),
            format!("/ip4/10.1.2.3/tcp/4100/p2p/{id}x"),
            "mdns/p2p/".into(),
            format!("mdns/{id}"),
        ] {
            assert!(parse_address(&bad).is_err(), "{bad}");
        }
    }
}
