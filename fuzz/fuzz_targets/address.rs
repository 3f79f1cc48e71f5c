//! CIP-37 base32 addresses (`primitives/src/address.rs`): decoding never panics; what
//! decodes re-encodes to the same prefix and payload (lower case, options dropped), the
//! verbose form decodes to the same address; and encoding any body of a defined length
//! for any network decodes back to it.
#![no_main]

use cfxlight_primitives::address::{self, CfxAddress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(d) = address::decode_raw(&s) {
        let lower = s.to_ascii_lowercase();
        let prefix = lower.split(':').next().expect("split yields one part");
        let payload = lower.rsplit(':').next().expect("rsplit yields one part");
        let simple =
            address::encode_raw(&d.bytes, d.network_id, false).expect("decoded length encodes");
        assert_eq!(
            simple,
            format!("{prefix}:{payload}"),
            "decode then encode is the identity"
        );
        let verbose = address::encode_raw(&d.bytes, d.network_id, true).expect("verbose encodes");
        assert_eq!(address::decode_raw(&verbose).as_ref(), Ok(&d));
    }
    if let Ok(a) = s.parse::<CfxAddress>() {
        assert_eq!(a.to_string().parse::<CfxAddress>(), Ok(a));
        assert_eq!(a.to_verbose().parse::<CfxAddress>(), Ok(a));
        assert_eq!(CfxAddress::parse_for_network(&s, a.network_id), Ok(a));
        let _ = a.address_type();
    }
    let _ = address::parse_network_prefix(&s);
    // Any body of a defined length, any network: encode, then decode back.
    if let Some((net, rest)) = data.split_first_chunk::<8>() {
        let net = u64::from_le_bytes(*net);
        for verbose in [false, true] {
            if let Ok(enc) = address::encode_raw(rest, net, verbose) {
                let d = address::decode_raw(&enc).expect("an encoded address decodes");
                assert_eq!((d.bytes.as_slice(), d.network_id), (rest, net));
            }
        }
    }
});
