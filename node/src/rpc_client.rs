//! A minimal blocking JSON-RPC 2.0 client over HTTP, for the CLI's `chain` commands.
//!
//! The node's own RPC server and P2P stack do not use this; it exists so a person can ask
//! a Conflux node something from the command line and have the answer checked locally.

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A JSON-RPC endpoint.
pub struct RpcClient {
    url: String,
    agent: ureq::Agent,
}

impl RpcClient {
    /// Connects lazily to `url` (HTTP only; the node binds its RPC to loopback).
    pub fn new(url: &str) -> RpcClient {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(10))
            .build();
        RpcClient {
            url: url.to_string(),
            agent,
        }
    }

    /// Calls `method` and deserialises its `result`; a JSON-RPC error becomes an error.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp: Value = self
            .agent
            .post(&self.url)
            .send_json(body)
            .with_context(|| format!("{method} at {}", self.url))?
            .into_json()
            .with_context(|| format!("{method}: response is not JSON"))?;
        if let Some(err) = resp.get("error") {
            bail!("{method}: node answered error {err}");
        }
        let result = resp
            .get("result")
            .cloned()
            .ok_or_else(|| anyhow!("{method}: response has no result"))?;
        serde_json::from_value(result).with_context(|| format!("{method}: unexpected result shape"))
    }
}
