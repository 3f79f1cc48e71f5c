//! Log filters: `cfx_getLogs` and the `logs` subscription's per-epoch fetch, through
//! verified blooms and receipts, with conflux-rust's filter grammar, errors and limits.

use cfxlight_primitives::{
    rpc::{self, Bytes, RpcAddress},
    H160, H256,
};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::Value;

use super::{
    budget::{hex_len, Charged},
    context::RpcContext,
    error::{internal, invalid_param_data, invalid_params, query_error},
    params::{parse_address, parse_epoch, parse_u64_hex, u},
};

/// One topic position of a log filter: any, or one of these.
type TopicFilter = Option<Vec<H256>>;

fn parse_list<T: serde::de::DeserializeOwned>(
    v: &Value,
    what: &str,
) -> Result<Option<Vec<T>>, ErrorObjectOwned> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                serde_json::from_value(x.clone())
                    .map_err(|e| invalid_params(format!("{what}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        x => serde_json::from_value(x.clone())
            .map(|t| Some(vec![t]))
            .map_err(|e| invalid_params(format!("{what}: {e}"))),
    }
}

/// Most block hashes one filter may list (conflux-rust's `FILTER_BLOCK_HASH_LIMIT`).
const MAX_FILTER_HASHES: usize = 128;

/// The fields a conflux-rust log filter takes.
const FILTER_FIELDS: [&str; 7] = [
    "fromEpoch",
    "toEpoch",
    "fromBlock",
    "toBlock",
    "blockHashes",
    "address",
    "topics",
];

/// Which blocks of the scanned epochs a log filter keeps.
enum Wanted {
    All,
    Hashes(std::collections::HashSet<H256>),
    /// Block numbers in the total order.
    Numbers(std::ops::RangeInclusive<u64>),
}

/// The bounds of one `cfx_getLogs` (conflux-rust's `get_logs_filter_max_epoch_range` and
/// `get_logs_filter_max_limit`, both unset by default there: a light node must bound both).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct LogLimits {
    /// Most epochs one filter spans, both ends included (checked after clamping to
    /// `latest_state`).
    pub max_epoch_range: u64,
    /// Most logs one answer holds; past it the answer is refused, not built in memory.
    pub max_logs: usize,
}

impl Default for LogLimits {
    /// 100,000 epochs (≈ 14 hours of mainnet), 10,000 logs.
    fn default() -> LogLimits {
        LogLimits {
            max_epoch_range: 100_000,
            max_logs: 10_000,
        }
    }
}

/// The address and topic parts of a log filter, parsed (a `logs` subscription checks its
/// filter with this when it is made, so a bad one is refused then, not silently later).
pub(super) fn filter_parts(
    ctx: &RpcContext,
    f: &serde_json::Map<String, Value>,
) -> Result<(Option<Vec<H160>>, Vec<TopicFilter>), ErrorObjectOwned> {
    if let Some(k) = f.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
        return Err(invalid_params(format!(
            "unknown field `{k}`, expected one of `fromEpoch`, `toEpoch`, `fromBlock`, `toBlock`, `blockHashes`, `address`, `topics`"
        )));
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
    // conflux-rust's bounds on a filter's lists, in its words.
    if let Value::Array(h) = get("blockHashes") {
        if h.len() > MAX_FILTER_HASHES {
            return Err(ErrorObjectOwned::owned(
                super::error::INVALID_PARAMS,
                format!(
                    "filter.block_hashes can contain up to {MAX_FILTER_HASHES} hashes; {} were provided.",
                    h.len()
                ),
                None::<()>,
            ));
        }
    }
    if let Value::Array(t) = get("topics") {
        if t.len() > 4 {
            return Err(ErrorObjectOwned::owned(
                super::error::INVALID_PARAMS,
                format!(
                    "filter.topics can contain up to 4 topics; {} were provided.",
                    t.len()
                ),
                None::<()>,
            ));
        }
    }
    let addresses: Option<Vec<H160>> = match get("address") {
        Value::Null => None,
        Value::Array(a) => Some(
            a.iter()
                .map(|v| parse_address(v, ctx.chain.network_id))
                .collect::<Result<_, _>>()
                .map_err(filter_address)?,
        ),
        v => Some(vec![
            parse_address(&v, ctx.chain.network_id).map_err(filter_address)?
        ]),
    };
    let topics: Vec<TopicFilter> = match get("topics") {
        Value::Null => vec![],
        Value::Array(a) => a
            .iter()
            .map(|t| parse_list::<H256>(t, "topics"))
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid_params("topics: expected an array")),
    };
    Ok((addresses, topics))
}

/// Which range a filter gives, as conflux-rust takes them: epochs (or none), block numbers
/// (both ends) or block hashes; more than one is refused. Returns (by numbers, by hashes).
fn range_kind(f: &serde_json::Map<String, Value>) -> Result<(bool, bool), ErrorObjectOwned> {
    let has = |k: &str| f.get(k).is_some_and(|v| !v.is_null());
    let by_epochs = has("fromEpoch") || has("toEpoch");
    let by_numbers = has("fromBlock") || has("toBlock");
    let by_hashes = has("blockHashes");
    if usize::from(by_epochs) + usize::from(by_numbers) + usize::from(by_hashes) > 1
        || (by_numbers && !(has("fromBlock") && has("toBlock")))
    {
        return Err(ErrorObjectOwned::owned(
            super::error::INVALID_PARAMS,
            "Filter must provide one of the following: (1) an epoch range through `fromEpoch` and `toEpoch`, (2) a block number range through `fromBlock` and `toBlock`, (3) a set of block hashes through `blockHashes`",
            None::<()>,
        ));
    }
    Ok((by_numbers, by_hashes))
}

/// A log filter checked without reading the chain (`cfx_newFilter` refuses a bad one when
/// it is installed, not at every poll): its fields, its range kind, the epoch tags, the
/// addresses and topics.
pub(super) fn check_filter(
    ctx: &RpcContext,
    f: &serde_json::Map<String, Value>,
) -> Result<(), ErrorObjectOwned> {
    filter_parts(ctx, f)?;
    range_kind(f)?;
    for k in ["fromEpoch", "toEpoch"] {
        if let Some(v) = f.get(k).filter(|v| !v.is_null()) {
            parse_epoch(v)?;
        }
    }
    for k in ["fromBlock", "toBlock"] {
        if let Some(v) = f.get(k).filter(|v| !v.is_null()) {
            parse_u64_hex(v)?;
        }
    }
    match f.get("blockHashes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for h in a {
                super::params::parse_hash(h)?;
            }
        }
        Some(v) => {
            super::params::parse_hash(v)?;
        }
    }
    Ok(())
}

/// Serialised bytes of one log besides its topics and data: field names, hashes, the
/// base32 address and the indexes.
const LOG_FIXED_BYTES: usize = 480;

/// `cfx_getLogs` (also one epoch at a time for a `logs` subscription), built under the
/// response budget.
pub(super) async fn get_logs(
    ctx: &RpcContext,
    filter: Value,
) -> Result<Charged<Vec<rpc::Log>>, ErrorObjectOwned> {
    let mut charge = ctx.budgets.start();
    let Value::Object(f) = &filter else {
        return Err(invalid_params("invalid type: expected a log filter object"));
    };
    if let Some(k) = f.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
        return Err(invalid_params(format!(
            "unknown field `{k}`, expected one of `fromEpoch`, `toEpoch`, `fromBlock`, `toBlock`, `blockHashes`, `address`, `topics`"
        )));
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
    let latest = ctx.latest_state()?;
    let epoch_of = |k: &str, default: u64| -> Result<u64, ErrorObjectOwned> {
        match get(k) {
            Value::Null => Ok(default),
            v => ctx.epoch_number(parse_epoch(&v)?),
        }
    };
    let (addresses, topics) = filter_parts(ctx, f)?;
    let (by_numbers, by_hashes) = range_kind(f)?;
    let filter_error = |msg: String| {
        ErrorObjectOwned::owned(
            -32016,
            format!("Error processing request: Filter error: {msg}"),
            None::<()>,
        )
    };
    // The blocks whose logs are wanted, when not every block of the epochs is.
    let mut wanted = Wanted::All;
    let (from, to) = if by_hashes {
        let hashes: Vec<H256> = match get("blockHashes") {
            Value::Array(a) => a
                .iter()
                .map(super::params::parse_hash)
                .collect::<Result<_, _>>()?,
            v => vec![super::params::parse_hash(&v)?],
        };
        let mut epochs = vec![];
        for h in &hashes {
            let e = ctx.store.block_epoch(h).map_err(internal)?.ok_or_else(|| {
                invalid_param_data("filter.blockHashes", format!("block {h:?} not found"))
            })?;
            epochs.push(e);
        }
        wanted = Wanted::Hashes(hashes.into_iter().collect());
        (
            epochs.iter().copied().min().unwrap_or(0),
            epochs.iter().copied().max().unwrap_or(0),
        )
    } else if by_numbers {
        let number = |k: &str| parse_u64_hex(&get(k));
        let (first, last) = (number("fromBlock")?, number("toBlock")?);
        if first > last {
            return Err(filter_error(format!(
                "Filter has wrong block numbers set (from: {first}, to: {last})"
            )));
        }
        let epoch_of_block = |n: u64, which: &str| -> Result<u64, ErrorObjectOwned> {
            match ctx.store.block_at_number(n).map_err(internal)? {
                Some((epoch, _)) => Ok(epoch),
                None => Err(filter_error(format!(
                    "Unable to find block hash for {which} {n}"
                ))),
            }
        };
        wanted = Wanted::Numbers(first..=last);
        (
            epoch_of_block(first, "from_block")?,
            epoch_of_block(last, "to_block")?,
        )
    } else {
        (epoch_of("fromEpoch", latest)?, epoch_of("toEpoch", latest)?)
    };
    if from > to {
        return Err(filter_error(format!(
            "Filter has wrong epoch numbers set (from: {from}, to: {to})"
        )));
    }
    // Logs are facts only up to the latest verified state.
    let to = to.min(latest);
    if from > to {
        return Ok(Charged::new(vec![], charge));
    }
    let max_gap = ctx.log_limits.max_epoch_range;
    if (to - from).saturating_add(1) > max_gap {
        return Err(filter_error(format!(
            "The gap between from_epoch and to_epoch is larger than max_gap (from: {from}, to: {to}, max_gap: {max_gap})"
        )));
    }
    let max_logs = ctx.log_limits.max_logs;
    let matches = |l: &cfxlight_primitives::receipt::LogEntry| {
        addresses.as_ref().is_none_or(|a| a.contains(&l.address))
            && topics.iter().enumerate().all(|(i, t)| {
                t.as_ref()
                    .is_none_or(|want| l.topics.get(i).is_some_and(|got| want.contains(got)))
            })
    };
    let mut out = vec![];
    for epoch in from..=to {
        let roots = ctx
            .store
            .roots(epoch)
            .map_err(internal)?
            // No verified roots (nothing verified yet at start, or rewound under us): the
            // epoch cannot be checked, which is the dapp's "not verifiable", not our fault.
            .ok_or_else(|| {
                query_error(crate::query::QueryError::NotVerifiable { epoch, latest })
            })?;
        // The empty bloom's hash: nothing was logged in this epoch, no fetch needed.
        if roots.logs_bloom_hash == cfxlight_primitives::hash::keccak256([0u8; 256]) {
            continue;
        }
        let bloom = ctx.query.epoch_bloom(epoch).await.map_err(query_error)?;
        let possible = addresses.as_ref().is_none_or(|a| {
            a.iter()
                .any(|x| bloom.contains_input(ethereum_types::BloomInput::Raw(x.as_bytes())))
        }) && topics.iter().all(|t| {
            t.as_ref().is_none_or(|want| {
                want.iter()
                    .any(|h| bloom.contains_input(ethereum_types::BloomInput::Raw(h.as_bytes())))
            })
        });
        if !possible {
            continue;
        }
        let receipts = ctx.query.epoch_receipts(epoch).await.map_err(query_error)?;
        let blocks = ctx
            .store
            .epoch_blocks(epoch)
            .map_err(internal)?
            .unwrap_or_default();
        // Block numbers are only looked up when the filter is by number.
        let first_number = match wanted {
            Wanted::Numbers(_) => ctx.store.first_block_number(epoch).map_err(internal)?,
            _ => None,
        };
        let mut log_index = 0u64;
        for (i, (block_hash, block)) in blocks.iter().zip(receipts.iter()).enumerate() {
            let keep = match &wanted {
                Wanted::All => true,
                Wanted::Hashes(h) => h.contains(block_hash),
                Wanted::Numbers(r) => first_number.is_some_and(|f| r.contains(&(f + i as u64))),
            };
            if !keep {
                // Still counted: logIndex runs over the whole epoch.
                log_index += block
                    .receipts
                    .iter()
                    .flat_map(|r| &r.logs)
                    .filter(|l| l.space == cfxlight_primitives::receipt::Space::Native)
                    .count() as u64;
                continue;
            }
            let has_logs = block.receipts.iter().any(|r| r.logs.iter().any(&matches));
            let txs = if has_logs {
                ctx.query
                    .block_txs(*block_hash)
                    .await
                    .map_err(query_error)?
            } else {
                vec![]
            };
            for (ti, r) in block.receipts.iter().enumerate() {
                for (li, l) in r.logs.iter().enumerate() {
                    if l.space != cfxlight_primitives::receipt::Space::Native {
                        continue;
                    }
                    if matches(l) {
                        if out.len() >= max_logs {
                            return Err(invalid_param_data(
                                "filter",
                                format!("This query results in too many logs, max limitation is {max_logs}, please filter results by a smaller epoch/block range"),
                            ));
                        }
                        charge.add(
                            LOG_FIXED_BYTES
                                .saturating_add(l.topics.len().saturating_mul(68))
                                .saturating_add(hex_len(l.data.len())),
                        )?;
                        out.push(rpc::Log {
                            address: RpcAddress::new(l.address, ctx.chain.network_id),
                            topics: l.topics.clone(),
                            data: Bytes(l.data.clone()),
                            block_hash: Some(*block_hash),
                            epoch_number: Some(u(epoch)),
                            transaction_hash: txs.get(ti).map(|t| t.hash()),
                            transaction_index: Some(u(ti as u64)),
                            log_index: Some(u(log_index)),
                            transaction_log_index: Some(u(li as u64)),
                        });
                    }
                    log_index += 1;
                }
            }
        }
    }
    Ok(Charged::new(out, charge))
}

/// conflux-rust names the filter's field in an address error.
fn filter_address(mut e: ErrorObjectOwned) -> ErrorObjectOwned {
    if e.message() == "Invalid parameters: address" {
        e = ErrorObjectOwned::owned(
            e.code(),
            "Invalid parameters: filter.address",
            e.data()
                .map(|d| d.get().to_string())
                .and_then(|d| serde_json::from_str::<String>(&d).ok()),
        );
    }
    e
}
