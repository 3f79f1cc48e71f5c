//! cfxlight's node crate: the `cfxlight` binary's commands, its configuration and the
//! pieces integration tests drive directly.
//!
//! Layers (one module each as they arrive): configuration → wire → sync → state → RPC.
//! A lower layer never imports a higher one; the binary (`main.rs`) only parses flags and
//! reports errors.

pub mod cli;
pub mod commands;
pub mod config;
pub mod light;
pub mod log;
pub mod node_key;
pub mod pow;
pub mod query;
pub mod rpc;
pub mod rpc_client;
pub mod store;
pub mod sync;
pub mod txpool;
pub mod wire;
