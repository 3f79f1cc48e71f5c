#![allow(clippy::unwrap_used, missing_docs)]
//! The `cfxlight signer …` contract, driven through clap as the binary will.

mod common;

use cfxlight_primitives::transaction::SignedTransaction;
use cfxlight_signer::{
    cli::{run_with, SignerCommand},
    verify_audit,
};
use clap::Parser;
use common::*;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: SignerCommand,
}

async fn run(args: &[&str]) -> anyhow::Result<String> {
    let cli = Cli::try_parse_from(std::iter::once("signer").chain(args.iter().copied()))?;
    let mut out = Vec::new();
    run_with(cli.cmd, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn import_list_sign_tx_sign_message_and_verify_audit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pin"), "pw\n").unwrap();
    std::fs::write(d.join("secret"), format!("{SDK_KEY}\n")).unwrap();
    let spec = format!("keystore:{}", d.join("keys").display());
    let pin = d.join("pin").display().to_string();
    let out = run(&[
        "import",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--secret-file",
        &d.join("secret").display().to_string(),
        "--network-id",
        "1",
    ])
    .await
    .unwrap();
    assert!(out.starts_with(SDK_ADDRESS_TESTNET), "{out}");

    let out = run(&[
        "list",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--network-id",
        "1",
    ])
    .await
    .unwrap();
    let fields: Vec<&str> = out.trim().split(' ').collect();
    assert_eq!(fields[0], SDK_ADDRESS_TESTNET);
    assert!(
        fields[1].starts_with("0x4646ae50") && fields[1].ends_with("c903a559"),
        "{out}"
    );
    let json = run(&[
        "list",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--network-id",
        "1",
        "--json",
    ])
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["address"], SDK_ADDRESS_TESTNET);

    let audit = d.join("audit.jsonl").display().to_string();
    let tx = r#"{"from":"cfxtest:aasm4c231py7j34fghntcfkdt2nm9xv1tu6jd3r1s7","to":"0x0123456789012345678901234567890123456789",
                 "nonce":0,"gasPrice":1,"gas":21000,"storageLimit":0,"epochHeight":0,"value":0}"#;
    let raw = run(&[
        "sign-tx",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--audit-log",
        &audit,
        "--chain-id",
        "1",
        tx,
    ])
    .await
    .unwrap();
    // js-conflux-sdk test/transaction.test.js legacy vector, byte for byte.
    assert_eq!(
        raw.trim(),
        "0xf863df8001825208940123456789012345678901234567890123456789808080018001a0ef53e4af065905cb5134f7de4e9434e71656f824e3e268a9babb4f14ff808113a0407f05f44f79c1fd19262665d3efc29368e317fe5e77be27c0c1314b6a242a1e"
    );
    let decoded = SignedTransaction::decode(&hex::decode(&raw.trim()[2..]).unwrap()).unwrap();
    assert_eq!(decoded.tx.chain_id, 1);

    let sig = run(&[
        "sign-message",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--audit-log",
        &audit,
        "Hello world!",
    ])
    .await
    .unwrap();
    assert_eq!(sig.trim().len(), 2 + 130);

    let out = run(&["verify-audit", &audit]).await.unwrap();
    assert!(out.starts_with("ok: 2 lines"), "{out}");
    assert_eq!(verify_audit(std::path::Path::new(&audit)).unwrap().lines, 2);

    // kill -9 mid-append: verify-audit says so; the next command with the log repairs it.
    let mut bytes = std::fs::read(&audit).unwrap();
    bytes.extend_from_slice(b"{\"seq\":2,\"prev\":\"0x");
    std::fs::write(&audit, bytes).unwrap();
    let err = run(&["verify-audit", &audit])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("crash mid-append") && err.contains("repairs it"),
        "{err}"
    );
    run(&[
        "sign-message",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--audit-log",
        &audit,
        "again",
    ])
    .await
    .unwrap();
    let out = run(&["verify-audit", &audit]).await.unwrap();
    assert!(out.starts_with("ok: 4 lines"), "{out}");
}

#[tokio::test]
async fn a_policy_refusal_reaches_the_user_with_the_rule_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pin"), "pw").unwrap();
    std::fs::write(
        d.join("policy.toml"),
        "chain_id = 1\nmax_value_per_tx = \"1 CFX\"\n",
    )
    .unwrap();
    let spec = format!("keystore:{}", d.join("keys").display());
    let pin = d.join("pin").display().to_string();
    run(&["new", "--signer", &spec, "--pin-file", &pin])
        .await
        .unwrap();
    let tx = r#"{"to":"0x0123456789012345678901234567890123456789","nonce":0,"maxFeePerGas":"0x1","maxPriorityFeePerGas":1,
                 "gas":21000,"epochHeight":0,"value":"2000000000000000000"}"#;
    let err = run(&[
        "sign-tx",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--policy",
        &d.join("policy.toml").display().to_string(),
        "--chain-id",
        "1",
        tx,
    ])
    .await
    .unwrap_err();
    assert!(err.to_string().contains("max_value_per_tx"), "{err}");
    // A chainId in the JSON that contradicts --chain-id is refused, not rewritten.
    let tx1 = tx.replacen('{', r#"{"chainId":1,"#, 1);
    let err = run(&[
        "sign-tx",
        "--signer",
        &spec,
        "--pin-file",
        &pin,
        "--chain-id",
        "2",
        &tx1,
    ])
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`chainId` is 1 but --chain-id is 2"),
        "{err}"
    );
}

#[tokio::test]
async fn unsupported_backends_and_wrong_passwords_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A remote spec without a peer id: one line naming the form it needs.
    let err = run(&["list", "--signer", "remote:x"]).await.unwrap_err();
    assert!(err.to_string().contains("/p2p/<peer id>"), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
    let err = run(&["list", "--signer", "plugin:/nonexistent/x"])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("signer plugin `x` failed during start: cannot start `/nonexistent/x`"),
        "{err}"
    );
    assert!(!err.to_string().contains('\n'), "{err}");
    let d = dir.path();
    std::fs::write(d.join("pin"), "pw").unwrap();
    std::fs::write(d.join("bad"), "nope").unwrap();
    let spec = format!("keystore:{}", d.join("keys").display());
    run(&[
        "new",
        "--signer",
        &spec,
        "--pin-file",
        &d.join("pin").display().to_string(),
    ])
    .await
    .unwrap();
    let err = run(&[
        "list",
        "--signer",
        &spec,
        "--pin-file",
        &d.join("bad").display().to_string(),
    ])
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with("wrong password for keystore"),
        "{err}"
    );
}
