//! `cfx_call` and `cfx_estimateGasAndCollateral` executed by our node over verified state,
//! against the full node's answers.
//!
//! The contract corpus (`scripts/contracts`: an ERC-20, an ERC-721, a storage writer and
//! freer, a CREATE/CREATE2 factory, and a probe of block fields, cross-contract views,
//! hashing and `ecrecover`, reverts with a reason, a custom error, a panic and an `assert`)
//! is compiled with solc from npm and deployed on the real devnet with js-conflux-sdk
//! (`scripts/js/call-corpus.js`), which then moves tokens, fills storage, mints and makes
//! children. Every call of the corpus is sent to both nodes at eight epochs (before the
//! corpus, each transfer, the last corpus transaction, after it and our `latest_state`):
//! result, or error code, message and data, must be JSON-equal. Every transaction of the
//! corpus's estimate list (writes, frees, take-overs, reverts, out of gas, storage limits,
//! unfunded senders, deployments) is estimated by both at two epochs, field by field equal.
//! What cfxlight does not run yet (an internal contract, a CREATE2 onto a taken address)
//! must instead be refused with -32000 naming it.
//!
//! Needs `CFXLIGHT_DEVNET=<dir>` and scripts/node_modules (both required under CI).
//! Genesis key 0: the `key0` group.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

mod common;

use std::{path::Path, process::Command};

use serde_json::{json, Value};

/// This test's P2P source address towards the devnet.
const P2P_IP: &str = "127.0.0.66";
/// Calls cfxlight must refuse (an internal function it does not run, or one called with
/// the wrong arguments; a CREATE2 onto a taken address).
const REFUSED: [&str; 3] = [
    "internal/posHeight",
    "internal/getAdmin/short",
    "factory/makeSalted/taken",
];

fn scripts() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    if dir.join("node_modules/solc").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs the cfx_call test: scripts/node_modules needs solc (npm install in scripts/)"
    );
    eprintln!("skipped: scripts/node_modules/solc is missing (npm install in scripts/)");
    None
}

#[test]
fn cfx_call_over_verified_state_equals_the_full_node_across_the_corpus_and_epochs() {
    let Some(dir) = common::devnet_dir() else {
        return;
    };
    let Some(scripts) = scripts() else { return };
    let d = common::devnet_json(&dir);
    let full_url = d["rpc_url"].as_str().unwrap();
    let out = Command::new("node")
        .arg(scripts.join("js/call-corpus.js"))
        .args([
            full_url,
            &d["chain_id"].as_u64().unwrap().to_string(),
            d["genesis_keys"][0]["secret"].as_str().unwrap(),
        ])
        .env("NODE_PATH", scripts.join("node_modules"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "corpus deployment failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let corpus: Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = corpus["calls"].as_array().unwrap();
    let last_tx_epoch = corpus["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_u64().unwrap())
        .max()
        .unwrap();

    let data = tempfile::tempdir().unwrap();
    let (_node, ours_url) = common::public_node(&d, &data.path().join("node"), P2P_IP);
    // Past the approval that follows the last transfer.
    let latest = common::wait_state_past(&ours_url, last_tx_epoch + 10, 120);
    let mut epochs: Vec<u64> = corpus["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_u64().unwrap())
        .collect();
    epochs.push(epochs[0] - 5);
    epochs.push(last_tx_epoch + 5);
    epochs.push(latest);

    let raw = |url: &str, params: Value| {
        let mut r = common::raw_call(url, "cfx_call", params);
        r.as_object_mut().unwrap().remove("id");
        r
    };
    let (mut equal, mut refused) = (0, 0);
    for epoch in &epochs {
        for call in calls {
            let name = call["name"].as_str().unwrap();
            let params = json!([call["request"], format!("{epoch:#x}")]);
            let reference = raw(full_url, params.clone());
            let candidate = raw(&ours_url, params);
            // Refused where the code runs (before its deployment both answer as for a
            // codeless account).
            if REFUSED.contains(&name) && candidate != reference {
                assert_eq!(
                    candidate["error"]["code"], -32000,
                    "{name} at {epoch}: {candidate}"
                );
                let msg = candidate["error"]["message"].as_str().unwrap();
                assert!(msg.contains("cannot run this call faithfully"), "{msg}");
                refused += 1;
                continue;
            }
            assert_eq!(candidate, reference, "{name} at epoch {epoch}");
            equal += 1;
        }
    }
    // js-conflux-sdk's own contract reads (`token.balanceOf(a)`, …) through each node.
    let owners: Vec<String> = std::iter::once(d["genesis_keys"][0]["address"].clone())
        .chain(corpus["others"].as_array().unwrap().iter().cloned())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let sdk = |url: &str| -> Value {
        let out = Command::new("node")
            .arg(scripts.join("js/sdk-call.js"))
            .args([url, &d["chain_id"].as_u64().unwrap().to_string()])
            .arg(corpus["token"].as_str().unwrap())
            .args(&owners)
            .env("NODE_PATH", scripts.join("node_modules"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (through_full, through_ours) = (sdk(full_url), sdk(&ours_url));
    assert_eq!(through_ours, through_full);
    assert_eq!(through_ours["symbol"], "LGT");
    assert_eq!(through_ours["balances"][1], "1000000000000000000");
    assert!(equal >= 200, "{equal} equal answers");
    assert!(refused >= 1, "{refused} refusals");
    eprintln!("cfx_call: {equal} answers equal to the full node's, {refused} refused");

    // cfx_estimateGasAndCollateral of the corpus's transactions, at our latest verified
    // state and at the epoch of the last corpus transaction: the whole answer (gasLimit,
    // gasUsed, storageCollateralized, or the error's code, message and data) is equal.
    let estimates = corpus["estimates"].as_array().unwrap();
    let (mut equal, mut collateral, mut errors) = (0, 0, std::collections::BTreeSet::new());
    for epoch in [latest, last_tx_epoch] {
        for e in estimates {
            let name = e["name"].as_str().unwrap();
            let params = json!([e["request"], format!("{epoch:#x}")]);
            let strip = |mut r: Value| {
                r.as_object_mut().unwrap().remove("id");
                r
            };
            let reference = strip(common::raw_call(
                full_url,
                "cfx_estimateGasAndCollateral",
                params.clone(),
            ));
            let candidate = strip(common::raw_call(
                &ours_url,
                "cfx_estimateGasAndCollateral",
                params,
            ));
            if REFUSED.contains(&name) {
                assert_eq!(candidate["error"]["code"], -32000, "{name}: {candidate}");
                continue;
            }
            assert_eq!(candidate, reference, "estimate {name} at epoch {epoch}");
            equal += 1;
            if reference["result"]["storageCollateralized"].as_str() > Some("0x0") {
                collateral += 1;
            }
            if let Some(m) = reference["error"]["message"].as_str() {
                errors.insert(m.split([':', '(']).next().unwrap_or(m).to_string());
            }
        }
    }
    // The corpus reaches collateral, reverts, out-of-gas and balance errors, not only gas.
    assert!(equal >= 100, "{equal} equal estimates");
    assert!(collateral >= 20, "{collateral} estimates with collateral");
    assert!(errors.len() >= 2, "error kinds: {errors:?}");
    eprintln!(
        "cfx_estimateGasAndCollateral: {equal} answers equal to the full node's, {collateral} with storage collateral, errors: {errors:?}"
    );
}
