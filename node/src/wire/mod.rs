//! The Conflux P2P wire: dial a node by `cfxnode://<id>@host:port`, swap node ids with the
//! ECIES handshake, then exchange length-framed, plaintext session packets.
//!
//! Not RLPx: after the handshake nothing is encrypted or MACed (conflux-rust
//! `crates/network/src/session.rs` dropped it for CPU cost), so the handshake only proves
//! that the peer owns the node id we dialled. Facts and byte layouts:
//! `../shared/docs/conflux-protocol.md` §1, confirmed against conflux-rust v3.0.2.

pub mod ecies;
pub mod frame;
pub mod handshake;
pub mod node_url;
pub mod session;

pub use node_url::NodeUrl;
