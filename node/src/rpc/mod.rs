//! The dapp-facing JSON-RPC: `cfx_*` methods in conflux-rust's exact JSON shapes, served
//! over HTTP and WebSocket on 127.0.0.1, answered only from what this node verified.
//!
//! Chain position and headers come from the store that sync filled; state, bodies,
//! receipts and logs come from [`crate::query`], which accepts a peer's answer only after
//! checking it against verified roots. Parameters are parsed by hand so that malformed
//! requests get conflux-rust's codes and messages (`-32602 "Invalid params: …"`), and a
//! method a light node cannot serve answers `-32000 "This API is not implemented yet"`
//! like conflux-rust's light node, never with a made-up value.
//!
//! Modules by concern, each importing only the ones below it:
//! - methods: `chain` (position, blocks, transactions, receipts, logs, fees, relay),
//!   `state` (verified state reads), `pool` (the pending set as the pool methods show it),
//!   `filters` (polled filters), `pubsub` (subscriptions), `local` (the signing
//!   methods, on the local port only unless the configuration opens them on the public
//!   one), `send` (raw transactions: ours kept, others checked and relayed once);
//! - their parts: `render` (conflux-rust's JSON shapes of verified data), `fees` (fee
//!   oracle, `cfx_feeHistory`), `logs` (log filters over verified blooms and receipts);
//! - the ground: `context` (what methods answer from, epoch resolution), `params` (pure
//!   parameter parsing, unit-tested without a devnet), `error` (codes and messages);
//! - serving: `server` (limits, module, servers), `http` (our HTTP front for single
//!   calls), `access` (token, Host, Origin, CORS).
//!
mod access;
mod budget;
mod call;
mod chain;
mod context;
mod error;
mod fees;
mod filters;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod local;
mod logs;
mod params;
mod pool;
mod pubsub;
mod render;
mod send;
mod server;
mod state;

pub use access::AccessLayer;
pub use budget::Budgets;
pub use context::{ChainInfo, RpcContext};
pub use filters::FilterLimits;
pub use local::{LocalConfig, Signing};
pub use logs::LogLimits;
pub use server::{module, start, RpcConfig, RpcServers};
