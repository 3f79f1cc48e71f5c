//! From spec-file text to a checked [`ChainSpec`], with every error located by file, line, field.

use crate::{
    ChainSpec, Checkpoint, Forks, HeaderRules, Location, Ports, PowMode, SpecError, TrustRule,
};
use ethereum_types::H256;
use serde::Deserialize;
use std::collections::HashSet;
use toml::Spanned;

/// The file as written. Fields that are checked after deserialization keep their spans.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Spanned<String>,
    chain_id: Spanned<u32>,
    #[serde(default)]
    chain_id_overridable: bool,
    evm_chain_id: Option<Spanned<u32>>,
    network_id: Option<Spanned<u64>>,
    genesis_hash: Option<Spanned<String>>,
    bootnodes: Vec<Spanned<String>>,
    pow: PowMode,
    snapshot_epoch_count: Spanned<u64>,
    ports: RawPorts,
    forks: Forks,
    #[serde(default)]
    rules: HeaderRules,
    #[serde(default)]
    trust: TrustRule,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPorts {
    p2p: Spanned<u16>,
    rpc_http: Spanned<u16>,
    rpc_ws: Spanned<u16>,
    rpc_local: Spanned<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckpoint {
    epoch: u64,
    hash: Spanned<String>,
    timestamp: Option<u64>,
    block_number: Option<u64>,
}

/// Parses and validates spec text; `source` names it in errors.
pub(crate) fn parse(text: &str, source: &str) -> Result<ChainSpec, SpecError> {
    let raw: RawSpec = toml::from_str(text).map_err(|e| toml_error(text, source, &e))?;
    let at = |span: std::ops::Range<usize>, field: &str| Location {
        file: source.to_string(),
        line: line_of(text, span.start),
        field: Some(field.to_string()),
    };
    let bad = |span: std::ops::Range<usize>, field: &str, message: String| SpecError::BadValue {
        at: at(span, field),
        message,
    };

    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(bad(
            raw.name.span(),
            "name",
            "expected a non-empty name".into(),
        ));
    }
    let chain_id = *raw.chain_id.get_ref();
    if chain_id == 0 {
        return Err(bad(
            raw.chain_id.span(),
            "chain_id",
            "chain id 0 is not allowed".into(),
        ));
    }
    let evm_chain_id = match &raw.evm_chain_id {
        Some(v) if *v.get_ref() == 0 => {
            return Err(bad(
                v.span(),
                "evm_chain_id",
                "chain id 0 is not allowed".into(),
            ))
        }
        Some(v) => *v.get_ref(),
        // conflux-rust: evm_chain_id defaults to chain_id (configuration.rs, chain_id_params).
        None => chain_id,
    };
    let network_id = match &raw.network_id {
        Some(v) if *v.get_ref() == 0 => {
            return Err(bad(
                v.span(),
                "network_id",
                "network id 0 is not allowed".into(),
            ))
        }
        Some(v) => *v.get_ref(),
        // conflux-rust: network_id defaults to chain_id (configuration.rs, fn network_id).
        None => u64::from(chain_id),
    };
    let genesis_hash = match &raw.genesis_hash {
        Some(v) => Some(parse_hash(v.get_ref()).map_err(|m| bad(v.span(), "genesis_hash", m))?),
        None => None,
    };

    let mut bootnodes = Vec::with_capacity(raw.bootnodes.len());
    let mut seen = HashSet::new();
    for (i, node) in raw.bootnodes.iter().enumerate() {
        let field = format!("bootnodes[{i}]");
        check_bootnode(node.get_ref()).map_err(|m| bad(node.span(), &field, m))?;
        if !seen.insert(node.get_ref().as_str()) {
            return Err(bad(
                node.span(),
                &field,
                format!("duplicate bootnode {:?}", node.get_ref()),
            ));
        }
        bootnodes.push(node.get_ref().clone());
    }

    for (port, field) in [
        (&raw.ports.p2p, "ports.p2p"),
        (&raw.ports.rpc_http, "ports.rpc_http"),
        (&raw.ports.rpc_ws, "ports.rpc_ws"),
        (&raw.ports.rpc_local, "ports.rpc_local"),
    ] {
        if *port.get_ref() == 0 {
            return Err(bad(port.span(), field, "port 0 is not allowed".into()));
        }
    }
    let ports = Ports {
        p2p: *raw.ports.p2p.get_ref(),
        rpc_http: *raw.ports.rpc_http.get_ref(),
        rpc_ws: *raw.ports.rpc_ws.get_ref(),
        rpc_local: *raw.ports.rpc_local.get_ref(),
    };

    let snapshot_epoch_count = *raw.snapshot_epoch_count.get_ref();
    if snapshot_epoch_count == 0 {
        return Err(bad(
            raw.snapshot_epoch_count.span(),
            "snapshot_epoch_count",
            "expected a positive epoch count".into(),
        ));
    }

    // conflux-rust refuses to start when CIP-1559 precedes pos_reference (configuration.rs,
    // "1559 can not be activated earlier than pos reference"): base-price headers need it.
    let forks = raw.forks;
    if forks.cip1559_height < forks.pos_reference_height {
        return Err(SpecError::BadValue {
            at: Location {
                file: source.to_string(),
                line: find_key_line(text, "forks", "cip1559_height").unwrap_or(1),
                field: Some("forks.cip1559_height".into()),
            },
            message: format!(
                "CIP-1559 height {} is below pos_reference_height {}; conflux-rust refuses this",
                forks.cip1559_height, forks.pos_reference_height
            ),
        });
    }

    let checkpoint = match raw.checkpoint {
        Some(c) => Some(Checkpoint {
            epoch: c.epoch,
            hash: parse_hash(c.hash.get_ref())
                .map_err(|m| bad(c.hash.span(), "checkpoint.hash", m))?,
            timestamp: c.timestamp,
            block_number: c.block_number,
        }),
        None => None,
    };

    let located = |table: &str, key: &str, message: String| SpecError::BadValue {
        at: Location {
            file: source.to_string(),
            line: find_key_line(text, table, key).unwrap_or(1),
            field: Some(format!("{table}.{key}")),
        },
        message,
    };
    let rules = raw.rules;
    if rules.initial_difficulty == 0 {
        return Err(located(
            "rules",
            "initial_difficulty",
            "expected a positive difficulty".into(),
        ));
    }
    if rules.difficulty_period == 0 || rules.difficulty_period_cip86 == 0 {
        return Err(located(
            "rules",
            "difficulty_period",
            "expected a positive epoch count".into(),
        ));
    }
    if rules.gas_limit_divisor == 0 {
        return Err(located(
            "rules",
            "gas_limit_divisor",
            "expected a positive divisor".into(),
        ));
    }
    if let Some(schedule) = &rules.custom_prefixes {
        if schedule.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(located(
                "rules",
                "custom_prefixes",
                "expected [[height, byte], ...] in strictly increasing height".into(),
            ));
        }
    }
    let trust = raw.trust;
    if !(trust.max_blame_ratio > 0.0 && trust.max_blame_ratio <= 1.0) {
        return Err(located(
            "trust",
            "max_blame_ratio",
            "expected a ratio in (0, 1]".into(),
        ));
    }
    if trust.min_votes == 0 {
        return Err(located(
            "trust",
            "min_votes",
            "expected at least one vote".into(),
        ));
    }

    Ok(ChainSpec {
        name,
        chain_id,
        evm_chain_id,
        network_id,
        genesis_hash,
        bootnodes,
        ports,
        pow: raw.pow,
        forks,
        rules,
        trust,
        checkpoint,
        snapshot_epoch_count,
        source: source.to_string(),
        chain_id_overridable: raw.chain_id_overridable,
        evm_chain_id_explicit: raw.evm_chain_id.is_some(),
        network_id_explicit: raw.network_id.is_some(),
    })
}

/// Parses a `0x` + 64 hex digit hash; the error message quotes the input.
pub(crate) fn parse_hash(s: &str) -> Result<H256, String> {
    let expected = || format!("expected 32-byte 0x-hex hash, got {s:?}");
    let hex_part = s.strip_prefix("0x").ok_or_else(expected)?;
    if hex_part.len() != 64 {
        return Err(expected());
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| expected())?;
    Ok(H256(bytes))
}

/// Checks `cfxnode://<128 hex node id>@host:port` syntactically.
pub(crate) fn check_bootnode(url: &str) -> Result<(), String> {
    let bad =
        |why: &str| format!("expected cfxnode://<128 hex node id>@host:port, got {url:?} ({why})");
    let rest = url
        .strip_prefix("cfxnode://")
        .ok_or_else(|| bad("no cfxnode:// scheme"))?;
    let (id, addr) = rest.split_once('@').ok_or_else(|| bad("no '@'"))?;
    if id.len() != 128 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("node id is not 128 hex digits"));
    }
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| bad("no ':port'"))?;
    match port.parse::<u16>() {
        Ok(p) if p != 0 => {}
        _ => return Err(bad("port is not 1..=65535")),
    }
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    if !host_ok {
        return Err(bad("bad host"));
    }
    Ok(())
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The `[table]` header in force at a line (1-based), `None` at top level.
fn table_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && !l.starts_with("[[") && l.ends_with(']'))
                .then(|| l[1..l.len() - 1].trim().to_string())
        })
        .last()
}

/// The key assigned on a line (`key = ...`), if the line is an assignment.
fn key_on_line(line: &str) -> Option<String> {
    let (key, _) = line.trim_start().split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
    .then(|| key.to_string())
}

/// The 1-based line where `key` is assigned inside `table` (`""` = top level).
fn find_key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if current == table && key_on_line(line).as_deref() == Some(key) {
            return Some(i + 1);
        }
    }
    None
}

fn qualify(table: Option<&str>, key: &str) -> String {
    match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    }
}

/// The name between the first pair of backticks in a serde message (`missing field `x``).
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// Turns a toml/serde error into a located [`SpecError`].
fn toml_error(text: &str, source: &str, e: &toml::de::Error) -> SpecError {
    let message = e.message().trim().to_string();
    let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    let table = table_at(text, line);
    // The key assigned at or above the error (a value may sit inside a multi-line array).
    let key_here = || {
        text.lines()
            .take(line)
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .take_while(|l| !l.trim_start().starts_with('['))
            .find_map(|l| key_on_line(l))
            .map(|k| qualify(table.as_deref(), &k))
    };
    let at = |field: Option<String>| Location {
        file: source.to_string(),
        line,
        field,
    };
    if message.starts_with("missing field") {
        // The span covers the table that lacks the field.
        let field = backticked(&message).map(|k| qualify(table.as_deref(), k));
        SpecError::MissingField { at: at(field) }
    } else if message.starts_with("unknown field") {
        let field = backticked(&message).map(|k| qualify(table.as_deref(), k));
        SpecError::UnknownField {
            at: at(field),
            message,
        }
    } else if message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("unknown variant")
        || message.starts_with("invalid length")
    {
        SpecError::WrongType {
            at: at(key_here()),
            message,
        }
    } else {
        SpecError::Malformed {
            at: at(key_here()),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_parser_accepts_only_0x_and_64_hex_digits() {
        assert!(parse_hash(&format!("0x{}", "ab".repeat(32))).is_ok());
        assert!(parse_hash(&"ab".repeat(32)).is_err());
        assert!(parse_hash("0x12").is_err());
        assert!(parse_hash(&format!("0x{}", "zz".repeat(32))).is_err());
    }

    #[test]
    fn bootnode_checker_rejects_short_ids_bad_ports_and_schemes() {
        let id = "a".repeat(128);
        assert!(check_bootnode(&format!("cfxnode://{id}@1.2.3.4:32323")).is_ok());
        assert!(check_bootnode(&format!("cfxnode://{id}@[::1]:32323")).is_ok());
        assert!(check_bootnode(&format!("cfxnode://{id}@node.example.org:32323")).is_ok());
        assert!(check_bootnode(&format!("enode://{id}@1.2.3.4:32323")).is_err());
        assert!(check_bootnode(&format!("cfxnode://{}@1.2.3.4:32323", "a".repeat(127))).is_err());
        assert!(check_bootnode(&format!("cfxnode://{id}@1.2.3.4:0")).is_err());
        assert!(check_bootnode(&format!("cfxnode://{id}@1.2.3.4")).is_err());
        assert!(check_bootnode(&format!("cfxnode://{id}@:32323")).is_err());
    }

    #[test]
    fn line_numbers_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
