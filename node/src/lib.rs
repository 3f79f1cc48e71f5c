//! cfxlight's node crate: the `cfxlight` binary's commands, its configuration and the
//! pieces integration tests drive directly.
//!
//! Layers: configuration → wire (P2P) → light (clp v2 peer) → rules and pow (header
//! validity) → sync (pivot chain, fork choice, root trust) → store → query (verified state)
//! → evm (contract calls over verified state) → rpc and txpool. A lower layer never imports a higher one; the binary (`main.rs`) only
//! parses flags and reports errors.

pub mod cli;
pub mod commands;
pub mod config;
pub mod events;
pub mod evm;
pub mod light;
pub mod log;
pub mod metrics;
pub mod node_key;
pub mod pow;
pub mod query;
pub mod rpc;
pub mod rpc_client;
pub mod rules;
pub mod store;
pub mod sync;
pub mod txpool;
pub mod wire;
