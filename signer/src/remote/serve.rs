//! The signer's end: [`serve`] answers `/cfxlight/signer/1` for the allowed peers with a
//! local backend (already wrapped in its policy and audit log by the caller).
//!
//! Connections from peer ids not on the allow-list are denied by the allow-list behaviour
//! when they are established (after Noise has proved the id, before any stream), so no
//! request of theirs is ever read. Requests run concurrently up to a limit; past it the
//! answer is `busy`. Each signing request is rebuilt from its content here (the digest is
//! computed from the decoded transaction, message or typed data), so the policy judges
//! what is really signed.

use std::sync::Arc;

use libp2p::{
    futures::StreamExt,
    identity::Keypair,
    request_response::{self, ProtocolSupport, ResponseChannel},
    swarm::{ListenError, SwarmEvent},
    Multiaddr, PeerId,
};
use tokio::sync::mpsc;

use super::{
    wire::{self, ErrorKind, Owned, Request, Response},
    Behaviour, Event, DEFAULT_SIGN_TIMEOUT,
};
use crate::{error::SignerError, signer::Signer};

/// How `signer serve` listens and whom it serves.
pub struct ServeConfig {
    /// Addresses to listen on (`/ip4/0.0.0.0/tcp/4100`, `/ip4/127.0.0.1/tcp/0`, …).
    pub listen: Vec<Multiaddr>,
    /// The only peer ids that may connect.
    pub allow: Vec<PeerId>,
    /// This signer's identity.
    pub key: Keypair,
    /// What is served, as told in `hello` (`bsim`, `keystore`, …).
    pub name: String,
    /// Requests handled at once; more are answered `busy`.
    pub max_in_flight: usize,
    /// Announce this signer's peer id and addresses on the local network by mDNS (off by
    /// default: a signer is found by the address it prints unless the user says otherwise).
    pub mdns: bool,
}

/// What [`serve`] reports as it runs (the CLI prints these).
#[derive(Debug, Clone)]
pub enum ServeEvent {
    /// Listening on this address (with `/p2p/<our id>` appended: what the node's spec takes).
    Listening(Multiaddr),
    /// An allowed peer connected.
    Connected(PeerId),
    /// A connection was refused; the peer id if it got as far as proving one.
    Refused {
        /// The remote address.
        from: Multiaddr,
        /// Why.
        reason: String,
    },
    /// A request was answered.
    Answered {
        /// The peer.
        peer: PeerId,
        /// The method.
        method: &'static str,
        /// `ok` or the error.
        outcome: String,
    },
}

/// Rebuilds a signing request from its wire content.
fn owned(request: Request) -> Result<Owned, SignerError> {
    Ok(match request {
        Request::SignTransaction { from, payload } => {
            let tx =
                cfxlight_primitives::transaction::Transaction::decode_signing_payload(&payload.0)
                    .map_err(|e| SignerError::Backend(format!("transaction payload: {e}")))?;
            Owned::Transaction(from, tx)
        }
        Request::SignMessage { from, message } => Owned::Message(from, message.0),
        Request::SignTypedData { from, typed_data } => Owned::TypedData(from, typed_data),
        Request::Hello { .. } | Request::Accounts {} => {
            return Err(SignerError::Backend("not a signing request".into()))
        }
    })
}

fn method_name(r: &Request) -> &'static str {
    match r {
        Request::Hello { .. } => "hello",
        Request::Accounts {} => "accounts",
        Request::SignTransaction { .. } => "sign_transaction",
        Request::SignMessage { .. } => "sign_message",
        Request::SignTypedData { .. } => "sign_typed_data",
    }
}

/// The answer to one request.
async fn answer(signer: &dyn Signer, name: &str, request: Request) -> Response {
    match request {
        Request::Hello { version, .. } if version != wire::VERSION => Response::Error {
            kind: ErrorKind::BadRequest,
            message: format!(
                "protocol version {version} is not served (this signer speaks {})",
                wire::VERSION
            ),
            rule: None,
        },
        // Our chain id either way: the node refuses a mismatch with both numbers.
        Request::Hello { .. } => Response::Hello {
            version: wire::VERSION,
            chain_id: signer.chain_id(),
            name: name.to_string(),
        },
        Request::Accounts {} => match signer.accounts().await {
            Ok(a) => Response::Accounts {
                public_keys: a.into_iter().map(|a| a.public).collect(),
            },
            Err(e) => Response::error(&e),
        },
        request => {
            let owned = match owned(request) {
                Ok(o) => o,
                Err(e) => {
                    return Response::Error {
                        kind: ErrorKind::BadRequest,
                        message: e.to_string(),
                        rule: None,
                    }
                }
            };
            let req = match owned.request() {
                Ok(r) => r,
                Err(e) => return Response::error(&e),
            };
            match signer.sign_request(&req).await {
                Ok(sig) => Response::signature(&sig),
                Err(e) => Response::error(&e),
            }
        }
    }
}

/// Serves `signer` to the allowed peers until the swarm fails; `report` sees each
/// [`ServeEvent`].
pub async fn serve(
    signer: Arc<dyn Signer>,
    config: ServeConfig,
    mut report: impl FnMut(ServeEvent) + Send,
) -> Result<(), SignerError> {
    if config.allow.is_empty() {
        return Err(SignerError::InvalidSpec(
            "signer serve: no --allow <peer id>: nobody could connect".into(),
        ));
    }
    let me = config.key.public().to_peer_id();
    // Inbound only; the timeout bounds how long a node's request may sit (a human may be
    // confirming on the device).
    let behaviour = Behaviour::new(
        &config.allow,
        ProtocolSupport::Inbound,
        DEFAULT_SIGN_TIMEOUT,
    );
    let mut swarm = super::swarm(config.key, behaviour, config.mdns)?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| SignerError::Backend(format!("cannot listen on {addr}: {e}")))?;
    }
    let max = config.max_in_flight.max(1);
    let (done_tx, mut done) =
        mpsc::channel::<(ResponseChannel<Response>, PeerId, &'static str, Response)>(max);
    let mut in_flight = 0usize;
    loop {
        tokio::select! {
            Some((channel, peer, method, response)) = done.recv() => {
                in_flight = in_flight.saturating_sub(1);
                let outcome = match &response {
                    Response::Error { message, .. } => message.clone(),
                    _ => "ok".into(),
                };
                // The node may have given up (timeout, closed): nothing more to do then.
                let _ = swarm.behaviour_mut().rr.send_response(channel, response);
                report(ServeEvent::Answered { peer, method, outcome });
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    report(ServeEvent::Listening(address.with(libp2p::multiaddr::Protocol::P2p(me))));
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    report(ServeEvent::Connected(peer_id));
                }
                SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                    let reason = match error {
                        ListenError::Denied { cause } => format!("peer id not allowed ({cause})"),
                        other => other.to_string(),
                    };
                    report(ServeEvent::Refused { from: send_back_addr, reason });
                }
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(SignerError::Backend(format!("listener failed: {error}")));
                }
                SwarmEvent::Behaviour(Event::Ping(libp2p::ping::Event { result: Err(_), connection, .. })) => {
                    swarm.close_connection(connection);
                }
                SwarmEvent::Behaviour(Event::Rr(request_response::Event::Message {
                    peer,
                    message: request_response::Message::Request { request, channel, .. },
                    ..
                })) => {
                    let method = method_name(&request);
                    if in_flight >= max {
                        let busy = Response::Error {
                            kind: ErrorKind::Busy,
                            message: format!("the signer is busy ({in_flight} requests in progress): retry"),
                            rule: None,
                        };
                        let _ = swarm.behaviour_mut().rr.send_response(channel, busy);
                        report(ServeEvent::Answered { peer, method, outcome: "busy".into() });
                        continue;
                    }
                    in_flight += 1;
                    let signer = signer.clone();
                    let name = config.name.clone();
                    let done_tx = done_tx.clone();
                    tokio::spawn(async move {
                        let response = answer(signer.as_ref(), &name, request).await;
                        let _ = done_tx.send((channel, peer, method, response)).await;
                    });
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::remote::wire::HexBytes;

    #[test]
    fn a_transaction_payload_is_decoded_strictly_and_hashes_are_never_taken_from_the_wire() {
        let tx = cfxlight_primitives::transaction::Transaction {
            nonce: 7.into(),
            gas: 21000.into(),
            action: cfxlight_primitives::transaction::Action::Create,
            value: 1.into(),
            storage_limit: 0,
            epoch_height: 5,
            chain_id: 1029,
            data: vec![1, 2, 3],
            kind: cfxlight_primitives::transaction::TxKind::Legacy {
                gas_price: 1.into(),
            },
        };
        let from = cfxlight_primitives::H160::repeat_byte(0x10);
        let o = owned(Request::SignTransaction {
            from,
            payload: HexBytes(tx.signing_payload()),
        })
        .unwrap();
        assert_eq!(o.request().unwrap().digest(), tx.signing_hash());
        let mut bad = tx.signing_payload();
        bad.push(0);
        assert!(owned(Request::SignTransaction {
            from,
            payload: HexBytes(bad)
        })
        .is_err());
    }
}
