//! Block headers: `BlockHeader::decode` never panics; a decoded header re-encodes to its
//! wire bytes, hashes them, and `problem_hash` / the test-mode PoW check never panic.
#![no_main]

use cfxlight_primitives::{hash::keccak256, header::BlockHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = BlockHeader::decode(data) {
        assert_eq!(h.rlp(), data, "a header re-encodes to its wire bytes");
        assert_eq!(
            h.hash(),
            keccak256(data),
            "the hash is of the received bytes"
        );
        let _ = h.problem_hash();
        let _ = h.test_pow_quality();
        let _ = h.verify_test_pow();
        let again = BlockHeader::decode(&h.rlp()).expect("a re-encoded header decodes");
        assert_eq!(again, h);
        let mut h2 = h.clone();
        h2.rehash();
        assert_eq!(h2.hash(), h.hash());
    }
    let _ = BlockHeader::decode_rlp(&rlp::Rlp::new(data));
});
