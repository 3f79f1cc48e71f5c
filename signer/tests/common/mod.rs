//! Shared helpers of the signer's integration tests.
#![allow(dead_code)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use cfxlight_signer::{
    keystore::{self, KdfKind, KeystoreOptions},
    KeystoreSigner,
};
use zeroize::Zeroizing;

/// js-conflux-sdk's test key (test/transaction.test.js, sign.js examples).
pub const SDK_KEY: &str = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// Its Conflux address on testnet.
pub const SDK_ADDRESS_TESTNET: &str = "cfxtest:aasm4c231py7j34fghntcfkdt2nm9xv1tu6jd3r1s7";

/// `/work/main/scripts` (the npm project with js-conflux-sdk and cive).
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}

/// The scripts directory if its node_modules are installed; otherwise skip (or fail under CI).
pub fn node_project() -> Option<PathBuf> {
    let dir = scripts_dir();
    let ok = dir.join("node_modules/js-conflux-sdk").is_dir()
        && Command::new("node").arg("--version").output().is_ok();
    if ok {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("interop test needs node and scripts/node_modules (run scripts/devnet once, or npm install in scripts/)");
    }
    eprintln!("skipped: node or scripts/node_modules missing (scripts/devnet installs them)");
    None
}

/// Runs `node <args>` in the scripts directory with `stdin`, returning stdout (panics on failure).
pub fn node(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("node")
        .args(args)
        .current_dir(dir)
        .env("NODE_PATH", dir.join("node_modules"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A keystore directory holding `secret` (pbkdf2), opened with `password` for `chain_id`.
pub fn keystore_with(dir: &Path, secret: &str, password: &str, chain_id: u32) -> KeystoreSigner {
    keystore::import_key(dir, secret, password.as_bytes(), KdfKind::Pbkdf2).unwrap();
    KeystoreSigner::open(
        dir,
        chain_id,
        KeystoreOptions {
            password: Some(Zeroizing::new(password.to_string())),
            ..Default::default()
        },
    )
    .unwrap()
}
