//! `cfxnode://<128 hex node id>@host:port[+udp_port]`: how conflux-rust names a peer.

use std::{fmt, str::FromStr};

use cfxlight_primitives::H512;
use thiserror::Error;

/// A peer address with the node id the handshake must prove.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeUrl {
    /// 64-byte public key of the peer.
    pub id: H512,
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// Why a node URL was refused.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("bootnode {url:?}: {reason}")]
pub struct NodeUrlError {
    url: String,
    reason: &'static str,
}

impl FromStr for NodeUrl {
    type Err = NodeUrlError;
    fn from_str(s: &str) -> Result<NodeUrl, NodeUrlError> {
        let err = |reason| NodeUrlError {
            url: s.to_string(),
            reason,
        };
        let rest = s
            .strip_prefix("cfxnode://")
            .ok_or_else(|| err("expected cfxnode://<node id>@host:port"))?;
        let (id, addr) = rest
            .split_once('@')
            .ok_or_else(|| err("missing @host:port"))?;
        if id.len() != 128 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("node id must be 128 hex digits (a 64-byte public key)"));
        }
        let id: H512 = id.parse().map_err(|_| err("node id is not hex"))?;
        let (host, ports) = addr.rsplit_once(':').ok_or_else(|| err("missing :port"))?;
        // conflux-rust allows `tcp+udp`; only the TCP port matters for dialling.
        let tcp = ports.split('+').next().unwrap_or_default();
        let port: u16 = tcp.parse().map_err(|_| err("bad port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(err("empty host or port 0"));
        }
        Ok(NodeUrl {
            id,
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cfxnode://{}@{}:{}",
            hex::encode(self.id.as_bytes()),
            self.host,
            self.port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conflux_node_urls() {
        let id = "ab".repeat(64);
        let u: NodeUrl = format!("cfxnode://{id}@127.0.0.1:32323").parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 32323));
        assert_eq!(u.to_string(), format!("cfxnode://{id}@127.0.0.1:32323"));
        let v: NodeUrl = format!("cfxnode://{id}@example.org:1+2").parse().unwrap();
        assert_eq!(v.port, 1);
        for bad in [
            format!("enode://{id}@1.2.3.4:1"),
            format!("cfxnode://{}@1.2.3.4:1", "ab".repeat(63)),
            format!("cfxnode://{id}@1.2.3.4:0"),
            format!("cfxnode://{id}@1.2.3.4"),
            format!("cfxnode://{id}@:5"),
        ] {
            assert!(bad.parse::<NodeUrl>().is_err(), "{bad}");
        }
    }
}
