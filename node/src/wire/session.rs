//! A session with one peer after the handshake: HELLO exchange, then packets.
//!
//! Packet layout (conflux-rust `crates/network/src/session.rs`): metadata at the *end*,
//! `payload ‖ [protocol id (3)] ‖ header byte ‖ packet id`. The header byte's bit 0 says a
//! protocol id is present (USER packets only). HELLO (0x80) is
//! `rlp([network_id, [[proto, version]…], [ip, udp_port, tcp_port]])`; DISCONNECT (0x01) is
//! raw `[code] ‖ utf8`, not RLP.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use cfxlight_primitives::H512;
use k256::SecretKey;
use rlp::{Rlp, RlpStream};
use thiserror::Error;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf},
    net::{TcpSocket, TcpStream},
};

use super::{ecies, frame, handshake, NodeUrl};

/// Packet id of HELLO.
const PACKET_HELLO: u8 = 0x80;
/// Packet id of DISCONNECT.
const PACKET_DISCONNECT: u8 = 0x01;
/// Packet id of protocol (USER) packets.
const PACKET_USER: u8 = 0x10;
/// Header byte flag: a 3-byte protocol id precedes it.
const HAS_PROTOCOL: u8 = 0x01;
/// What a peer may make us buffer for one packet (headers batches stay far below this).
pub const MAX_PACKET: usize = 8 << 20;
/// conflux-rust's handshake timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The only protocol a light client speaks: `clp` version 2.
pub const LIGHT_PROTOCOL: [u8; 3] = *b"clp";
/// Version of `clp` we speak.
pub const LIGHT_PROTOCOL_VERSION: u8 = 2;

/// Why a session failed or ended.
#[derive(Debug, Error)]
pub enum SessionError {
    /// TCP connect or I/O failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Connect + handshake + HELLO did not finish in time.
    #[error("peer did not complete the handshake within {0:?}")]
    Timeout(Duration),
    /// The node id in the URL is not a valid public key.
    #[error("node id is not a secp256k1 public key")]
    BadNodeId,
    /// Handshake failure.
    #[error("handshake: {0}")]
    Handshake(#[from] handshake::HandshakeError),
    /// The peer sent bytes that are not a valid packet.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// HELLO says another network.
    #[error("peer is on network {theirs}, we are on {ours}")]
    WrongNetwork {
        /// Our network id.
        ours: u64,
        /// The peer's.
        theirs: u64,
    },
    /// HELLO lists no `clp` ≥ 2.
    #[error("peer does not serve the light protocol clp v2 (it offers {0})")]
    NoLightProtocol(String),
    /// The peer disconnected us.
    #[error("peer disconnected: {0}")]
    Disconnected(DisconnectReason),
}

/// A DISCONNECT reason (conflux-rust `crates/network/src/error.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// 0: asked to.
    Requested,
    /// 1: no common protocol, or not useful.
    UselessPeer,
    /// 2: bad endpoint in HELLO.
    WrongEndpointInfo,
    /// 3: too many sessions from our IP.
    IpLimited,
    /// 4: node id update failed.
    UpdateNodeIdFailed,
    /// 5: we are blacklisted.
    Blacklisted,
    /// 100: free-form reason.
    Custom(String),
    /// Any other code.
    Unknown(u8, String),
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::Requested => f.write_str("requested"),
            DisconnectReason::UselessPeer => f.write_str("useless peer (no common protocol)"),
            DisconnectReason::WrongEndpointInfo => f.write_str("wrong endpoint info in HELLO"),
            DisconnectReason::IpLimited => f.write_str(
                "too many sessions from this IP (conflux-rust allows one per IP by default)",
            ),
            DisconnectReason::UpdateNodeIdFailed => f.write_str("node id update failed"),
            DisconnectReason::Blacklisted => f.write_str("blacklisted"),
            DisconnectReason::Custom(m) => write!(f, "{m}"),
            DisconnectReason::Unknown(c, m) => write!(f, "code {c}: {m}"),
        }
    }
}

impl DisconnectReason {
    fn decode(payload: &[u8]) -> DisconnectReason {
        let msg = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match payload {
            [] => DisconnectReason::Unknown(255, String::new()),
            [0, ..] => DisconnectReason::Requested,
            [1, ..] => DisconnectReason::UselessPeer,
            [2, ..] => DisconnectReason::WrongEndpointInfo,
            [3, ..] => DisconnectReason::IpLimited,
            [4, ..] => DisconnectReason::UpdateNodeIdFailed,
            [5, ..] => DisconnectReason::Blacklisted,
            [100, rest @ ..] => DisconnectReason::Custom(msg(rest)),
            [c, rest @ ..] => DisconnectReason::Unknown(*c, msg(rest)),
        }
    }
}

/// The peer's HELLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Network id.
    pub network_id: u64,
    /// Protocols and versions offered.
    pub protocols: Vec<([u8; 3], u8)>,
}

/// A packet received in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// A (late or repeated) HELLO.
    Hello(Hello),
    /// The peer is leaving.
    Disconnect(DisconnectReason),
    /// A protocol message.
    User {
        /// Protocol id, e.g. `clp`.
        protocol: [u8; 3],
        /// `rlp(msg) ‖ msg_id`.
        payload: Vec<u8>,
    },
}

/// Parses one packet (after frame decoding).
pub fn parse_packet(p: &[u8]) -> Result<Packet, SessionError> {
    let (&id, rest) = p
        .split_last()
        .ok_or(SessionError::Malformed("empty packet"))?;
    let (&header, rest) = rest
        .split_last()
        .ok_or(SessionError::Malformed("no header byte"))?;
    if header & !HAS_PROTOCOL != 0 {
        return Err(SessionError::Malformed("unknown header bits or version"));
    }
    let has_protocol = header & HAS_PROTOCOL != 0;
    match (id, has_protocol) {
        (PACKET_USER, true) => {
            if rest.len() < 3 {
                return Err(SessionError::Malformed("protocol id missing"));
            }
            let (payload, proto) = rest.split_at(rest.len() - 3);
            let mut protocol = [0u8; 3];
            protocol.copy_from_slice(proto);
            Ok(Packet::User {
                protocol,
                payload: payload.to_vec(),
            })
        }
        (PACKET_HELLO, false) => parse_hello(rest).map(Packet::Hello),
        (PACKET_DISCONNECT, false) => Ok(Packet::Disconnect(DisconnectReason::decode(rest))),
        _ => Err(SessionError::Malformed(
            "unknown packet id or protocol flag",
        )),
    }
}

fn parse_hello(b: &[u8]) -> Result<Hello, SessionError> {
    let bad = |_| SessionError::Malformed("HELLO is not the expected RLP");
    let r = Rlp::new(b);
    cfxlight_primitives::rlp_util::check_exact(&r, b.len()).map_err(bad)?;
    let count = r.item_count().map_err(bad)?;
    if !(3..=4).contains(&count) {
        return Err(SessionError::Malformed("HELLO has a wrong item count"));
    }
    let network_id: u64 = r.val_at(0).map_err(bad)?;
    let mut protocols = vec![];
    for p in r.at(1).map_err(bad)?.iter() {
        let name: Vec<u8> = p.val_at(0).map_err(bad)?;
        let version: u8 = p.val_at(1).map_err(bad)?;
        let name: [u8; 3] = name
            .try_into()
            .map_err(|_| SessionError::Malformed("protocol id is not 3 bytes"))?;
        protocols.push((name, version));
    }
    if protocols.len() > 64 {
        return Err(SessionError::Malformed("too many protocols"));
    }
    Ok(Hello {
        network_id,
        protocols,
    })
}

/// Builds our HELLO: network id, `[["clp", 2]]`, and a loopback endpoint with `port`.
pub fn hello_packet(network_id: u64, port: u16) -> Vec<u8> {
    let mut s = RlpStream::new_list(3);
    s.append(&network_id);
    s.begin_list(1)
        .begin_list(2)
        .append(&LIGHT_PROTOCOL.as_slice())
        .append(&LIGHT_PROTOCOL_VERSION);
    // The remote ignores the advertised IP but refuses port 0 (`WrongEndpointInfo`).
    s.begin_list(3)
        .append(&Ipv4Addr::LOCALHOST.octets().as_slice())
        .append(&port)
        .append(&port);
    let mut out = s.out().to_vec();
    out.extend_from_slice(&[0x00, PACKET_HELLO]);
    out
}

/// Builds a USER packet of the light protocol: `rlp(msg) ‖ msg_id ‖ "clp" ‖ 01 ‖ 10`.
pub fn user_packet(msg_rlp: &[u8], msg_id: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg_rlp.len() + 6);
    out.extend_from_slice(msg_rlp);
    out.push(msg_id);
    out.extend_from_slice(&LIGHT_PROTOCOL);
    out.extend_from_slice(&[HAS_PROTOCOL, PACKET_USER]);
    out
}

/// Builds a DISCONNECT packet with a custom reason.
pub fn disconnect_packet(reason: &str) -> Vec<u8> {
    let mut out = vec![100];
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(&[0x00, PACKET_DISCONNECT]);
    out
}

/// Reading half of an established session.
pub struct SessionReader<R> {
    inner: R,
}

impl<R: AsyncRead + Unpin> SessionReader<R> {
    /// Next packet from the peer.
    pub async fn next(&mut self) -> Result<Packet, SessionError> {
        let p = frame::read(&mut self.inner, MAX_PACKET).await?;
        parse_packet(&p)
    }
}

/// Writing half of an established session.
pub struct SessionWriter<W> {
    inner: W,
}

impl<W: AsyncWrite + Unpin> SessionWriter<W> {
    /// Sends one packet.
    pub async fn send(&mut self, packet: &[u8]) -> Result<(), SessionError> {
        Ok(frame::write(&mut self.inner, packet).await?)
    }
}

/// An established session: handshake done, HELLOs exchanged, `clp` v2 agreed.
pub struct Session {
    /// The peer's verified node id.
    pub remote_id: H512,
    /// The peer's HELLO.
    pub hello: Hello,
    /// Incoming packets.
    pub reader: SessionReader<ReadHalf<TcpStream>>,
    /// Outgoing packets.
    pub writer: SessionWriter<WriteHalf<TcpStream>>,
}

/// Dials `url`, runs the handshake and the HELLO exchange.
///
/// `advertised_port` goes into our HELLO (conflux-rust refuses 0 there even though a light
/// client accepts no inbound connections). `local` binds the outgoing socket to a source
/// address: conflux-rust accepts one session per source IP by default, so several local
/// clients of one node must come from different loopback addresses.
pub async fn connect(
    url: &NodeUrl,
    my_key: &SecretKey,
    network_id: u64,
    advertised_port: u16,
    local: Option<IpAddr>,
) -> Result<Session, SessionError> {
    let remote = ecies::public_key(&url.id).ok_or(SessionError::BadNodeId)?;
    let setup = async {
        let mut stream = dial(url, local).await?;
        stream.set_nodelay(true)?;
        handshake::initiate(&mut stream, my_key, &remote).await?;
        frame::write(
            &mut stream,
            &hello_packet(network_id, advertised_port.max(1)),
        )
        .await?;
        let hello = loop {
            let p = frame::read(&mut stream, MAX_PACKET).await?;
            match parse_packet(&p)? {
                Packet::Hello(h) => break h,
                Packet::Disconnect(r) => return Err(SessionError::Disconnected(r)),
                Packet::User { .. } => continue,
            }
        };
        Ok::<_, SessionError>((stream, hello))
    };
    let (stream, hello) = tokio::time::timeout(HANDSHAKE_TIMEOUT, setup)
        .await
        .map_err(|_| SessionError::Timeout(HANDSHAKE_TIMEOUT))??;
    if hello.network_id != network_id {
        return Err(SessionError::WrongNetwork {
            ours: network_id,
            theirs: hello.network_id,
        });
    }
    if !hello
        .protocols
        .iter()
        .any(|(p, v)| *p == LIGHT_PROTOCOL && *v >= LIGHT_PROTOCOL_VERSION)
    {
        let offered = hello
            .protocols
            .iter()
            .map(|(p, v)| format!("{} v{v}", String::from_utf8_lossy(p)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SessionError::NoLightProtocol(offered));
    }
    let (r, w) = tokio::io::split(stream);
    Ok(Session {
        remote_id: url.id,
        hello,
        reader: SessionReader { inner: r },
        writer: SessionWriter { inner: w },
    })
}

async fn dial(url: &NodeUrl, local: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect((url.host.as_str(), url.port)).await;
    };
    let mut last = None;
    for addr in tokio::net::lookup_host((url.host.as_str(), url.port)).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(local, 0))?;
        match socket.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "host has no address")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_parse_as_conflux_lays_them_out() {
        let u = user_packet(&[0xc0], 0x18);
        assert_eq!(u, vec![0xc0, 0x18, b'c', b'l', b'p', 0x01, 0x10]);
        assert_eq!(
            parse_packet(&u).unwrap(),
            Packet::User {
                protocol: *b"clp",
                payload: vec![0xc0, 0x18]
            }
        );
        let h = hello_packet(2029, 40000);
        assert_eq!(
            parse_packet(&h).unwrap(),
            Packet::Hello(Hello {
                network_id: 2029,
                protocols: vec![(*b"clp", 2)]
            })
        );
        assert_eq!(
            parse_packet(&[3, b'x', 0x00, 0x01]).unwrap(),
            Packet::Disconnect(DisconnectReason::IpLimited)
        );
        assert_eq!(
            parse_packet(&disconnect_packet("bad proof")).unwrap(),
            Packet::Disconnect(DisconnectReason::Custom("bad proof".into()))
        );
        for bad in [
            &[][..],
            &[0x10][..],
            &[0xc0, 0x02, 0x10][..],
            &[0xc0, 0x00, 0x77][..],
        ] {
            assert!(parse_packet(bad).is_err(), "{bad:?}");
        }
    }
}
