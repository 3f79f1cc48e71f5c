//! Deploys N contracts whose constructors each log `BYTES` zero bytes (LOG0 over fresh
//! memory), signed locally with a genesis secret and sent to a full node; waits for them
//! and prints the first and last epoch they executed in. scripts/soak's sender, and the
//! load for measuring a heavy `cfx_getLogs` answer by hand (README, "Limits").
//!
//!   cargo run -p cfxlight-node --example heavy_logs -- <rpc url> <chain id> <secret hex> <N> [BYTES=1048576]

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cfxlight_node::rpc_client::RpcClient;
use cfxlight_primitives::{
    transaction::{Action, Transaction, TxKind},
    H256, U256,
};
use serde_json::{json, Value};

fn quantity(v: &Value) -> anyhow::Result<u64> {
    let s = v.as_str().context("not a quantity")?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 4 {
        bail!("usage: heavy_logs <rpc url> <chain id> <secret hex> <N> [BYTES]");
    }
    let rpc = RpcClient::new(&a[0]);
    let chain_id: u32 = a[1].parse()?;
    let secret: [u8; 32] = hex::decode(a[2].trim_start_matches("0x"))?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the secret is not 32 bytes"))?;
    let key = cfxlight_primitives::crypto::signing_key(&secret)?;
    let n: usize = a[3].parse()?;
    let bytes: u32 = a.get(4).map_or(Ok(1 << 20), |s| s.parse())?;
    let from = cfxlight_primitives::address::encode(
        &cfxlight_primitives::crypto::public_to_address(&cfxlight_primitives::crypto::public_of(
            key.verifying_key(),
        )),
        u64::from(chain_id),
    );
    let mut nonce: U256 = rpc.call("cfx_getNextNonce", json!([from]))?;
    let b = bytes.to_be_bytes();
    // PUSH4 len PUSH1 0 LOG0 STOP
    let init = vec![0x63, b[0], b[1], b[2], b[3], 0x60, 0x00, 0xa0, 0x00];
    // Memory (3/word + words²/512) and log data (8/byte), with room.
    let words = u64::from(bytes).div_ceil(32);
    let gas = 100_000 + 3 * words + words * words / 512 + 8 * u64::from(bytes);
    let mut hashes = vec![];
    for _ in 0..n {
        let epoch = quantity(&rpc.call("cfx_epochNumber", json!([]))?)?;
        let tx = Transaction {
            nonce,
            gas: gas.into(),
            action: Action::Create,
            value: 0.into(),
            storage_limit: 0,
            epoch_height: epoch,
            chain_id,
            data: init.clone(),
            kind: TxKind::Legacy {
                gas_price: 1_000_000_000u64.into(),
            },
        }
        .sign(&key)?;
        let h: H256 = rpc.call(
            "cfx_sendRawTransaction",
            json!([format!("0x{}", hex::encode(tx.encode()))]),
        )?;
        hashes.push(h);
        nonce += U256::one();
    }
    let (mut lo, mut hi) = (u64::MAX, 0);
    let deadline = Instant::now() + Duration::from_secs(300);
    for h in &hashes {
        loop {
            let r: Value = rpc.call("cfx_getTransactionReceipt", json!([h]))?;
            if !r.is_null() {
                if r["outcomeStatus"] != "0x0" || r["logs"].as_array().is_none_or(|l| l.is_empty())
                {
                    bail!("{h:?} did not log: {r}");
                }
                let e = quantity(&r["epochNumber"])?;
                (lo, hi) = (lo.min(e), hi.max(e));
                break;
            }
            if Instant::now() > deadline {
                bail!("{h:?} not mined in 300 s");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    println!("{lo} {hi}");
    Ok(())
}
