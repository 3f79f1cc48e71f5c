//! V3 keystore JSON (`signer/src/keystore/format.rs`): `Keystore::parse` never panics and
//! never accepts KDF parameters over its bounds (pbkdf2 c ≤ 10,000,000; scrypt memory
//! 128·n·r ≤ 512 MiB, p ≤ 16), so no fuzzer-chosen scrypt ever runs large; a keystore
//! whose KDF is cheap is also decrypted (wrong or right password: an error or the key,
//! never a panic). The signer's other JSON inputs (typed data, transaction JSON) too.
#![no_main]

use cfxlight_signer::{
    keystore::format::{KdfParams, Keystore},
    txjson::parse_tx_json,
    TypedData,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ks) = Keystore::parse(text) {
        let cheap = match &ks.kdf {
            KdfParams::Pbkdf2 { c, .. } => {
                assert!((1..=10_000_000).contains(c), "pbkdf2 c out of bounds: {c}");
                *c <= 64
            }
            KdfParams::Scrypt { log_n, r, p, .. } => {
                let memory = 128u128 << log_n;
                assert!(*log_n >= 1 && *log_n < 64, "scrypt log_n {log_n}");
                assert!(
                    memory * u128::from(*r) <= 512 << 20,
                    "scrypt memory out of bounds"
                );
                assert!((1..=16).contains(p) && *r >= 1, "scrypt r/p out of bounds");
                memory * u128::from(*r) * u128::from(*p) <= 64 << 10
            }
        };
        let _ = ks.indexed_address();
        if cheap {
            let _ = ks.decrypt(b"password");
            let _ = ks.decrypt(b"");
        }
    }
    if let Ok(t) = TypedData::from_json(text) {
        let _ = t.hash();
    }
    let _ = parse_tx_json(text, 1);
    let _ = parse_tx_json(text, 2029);
});
