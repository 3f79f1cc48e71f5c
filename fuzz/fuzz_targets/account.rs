//! Account values (`primitives/src/account.rs`): `Account::decode_value` never panics and
//! what it accepts re-encodes to the same bytes (all three stored forms).
#![no_main]

use cfxlight_primitives::{
    account::{Account, SponsorInfo},
    rlp_util::decode_exact,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Account::decode_value(data) {
        assert_eq!(
            rlp::encode(&a).as_ref(),
            data,
            "an account re-encodes to itself"
        );
    }
    if let Ok(s) = decode_exact::<SponsorInfo>(data) {
        assert_eq!(
            rlp::encode(&s).as_ref(),
            data,
            "sponsor info re-encodes to itself"
        );
    }
    let _ = rlp::decode::<Account>(data);
});
