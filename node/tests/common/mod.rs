//! What the devnet integration tests share: finding the devnet they run against.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The devnet directory from `CFXLIGHT_DEVNET` (written by `scripts/devnet up`). Without
/// it a test is skipped, except under CI (`CI` set), where a missing devnet is a failure:
/// `scripts/test` always provides one.
pub fn devnet_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("CFXLIGHT_DEVNET") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the devnet tests: set CFXLIGHT_DEVNET (scripts/test does)"
        );
        eprintln!("skipped: CFXLIGHT_DEVNET is not set (run scripts/test)");
        return None;
    };
    Some(PathBuf::from(dir))
}

/// The `devnet.json` of a devnet directory.
pub fn devnet_json(dir: &Path) -> Value {
    let path = dir.join("devnet.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("devnet.json")
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a node the test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
