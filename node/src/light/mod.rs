//! The light protocol `clp` v2, client side: messages and a peer that answers requests.
//!
//! Layouts: conflux-rust `crates/cfxcore/core/src/light_protocol/message/`, summarised in
//! `../shared/docs/conflux-protocol.md` §2. Every request and response opens with a
//! `request_id: u64`; the provider answers only after our StatusPing and silently omits
//! items it cannot serve, so every response is checked against what was asked.

pub mod message;
pub mod peer;
pub mod peers;
