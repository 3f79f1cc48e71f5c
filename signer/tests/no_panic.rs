#![allow(clippy::unwrap_used, missing_docs)]
//! The keystore JSON parser (and the typed-data and transaction JSON parsers) never panic.

use cfxlight_signer::{keystore::format::Keystore, txjson::parse_tx_json, TypedData};
use proptest::prelude::*;

const VALID: &str = r#"{"version":3,"id":"0bb47ee0-aac3-a006-2717-03877afa15f0","address":"1cad0b19bb29d4674531d6f115237e16afce377c","crypto":{"ciphertext":"a8ec41d2440311ce897bacb6f7942f3235113fa17c4ae6732e032336038a8f73","cipherparams":{"iv":"85b5e092c1c32129e3d27df8c581514d"},"cipher":"aes-128-ctr","kdf":"pbkdf2","kdfparams":{"dklen":32,"salt":"b662f09bdf6751ac599219732609dceac430bc0629a7906eaa1451555f051ebc","c":2,"prf":"hmac-sha256"},"mac":"cc89df7ef6c27d284526a65cabf8e5042cdf1ec1aa4ee36dcf65b965fa34843d"}}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_bytes_never_panic_the_keystore_parser(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Keystore::parse(&text);
        let _ = TypedData::from_json(&text).map(|t| t.hash());
        let _ = parse_tx_json(&text, 1);
    }

    #[test]
    fn mutated_keystores_never_panic_and_decrypt_cleanly_or_fail(
        edits in proptest::collection::vec((0usize..VALID.len(), any::<u8>()), 1..6),
        cut in 0usize..=VALID.len(),
    ) {
        let mut b = VALID.as_bytes().to_vec();
        for (i, byte) in edits {
            b[i] = byte;
        }
        b.truncate(cut.max(1));
        let text = String::from_utf8_lossy(&b);
        if let Ok(ks) = Keystore::parse(&text) {
            // c is tiny in the seed file, so trying the password is cheap; a scrypt
            // mutation is bounded by the parser's limits.
            let _ = ks.decrypt(b"password");
        }
    }
}

#[test]
fn the_seed_keystore_parses() {
    // The mutation test starts from a file that does parse (pbkdf2, c = 2).
    assert!(Keystore::parse(VALID).is_ok());
}
