//! The strict RLP helpers (`primitives/src/rlp_util.rs`): never panic; anything
//! `decode_exact` accepts re-encodes to the same bytes; anything `check_exact` accepts is
//! one item spanning the input, and (where its strings are canonical) re-encodes to it.
#![no_main]

use cfxlight_primitives::{rlp_util, H256, U256};
use libfuzzer_sys::fuzz_target;
use rlp::{Rlp, RlpStream};

fn round_trip<T: rlp::Decodable + rlp::Encodable>(data: &[u8]) {
    if let Ok(v) = rlp_util::decode_exact::<T>(data) {
        assert_eq!(
            rlp::encode(&v).as_ref(),
            data,
            "decode_exact accepted a non-canonical form"
        );
    }
}

/// Re-encodes the item tree of `r`; None when a string is not canonical (rlp refuses it
/// at value decoding, not in the structural check) or nesting is deeper than `depth`.
fn reencode(r: &Rlp<'_>, s: &mut RlpStream, depth: usize) -> Option<()> {
    if r.is_list() {
        let depth = depth.checked_sub(1)?;
        let n = r.item_count().ok()?;
        s.begin_list(n);
        for child in r.iter() {
            reencode(&child, s, depth)?;
        }
    } else {
        let v: Vec<u8> = r.as_val().ok()?;
        s.append(&v);
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Vec<u8>>(data);
    round_trip::<u64>(data);
    round_trip::<U256>(data);
    round_trip::<H256>(data);
    round_trip::<String>(data);
    // (parity rlp reads a byte string as an empty list: only lists are asked.)
    if Rlp::new(data).is_list() && rlp_util::check_exact(&Rlp::new(data), data.len()).is_ok() {
        if let Ok(v) = Rlp::new(data).as_list::<Vec<u8>>() {
            assert_eq!(rlp::encode_list::<Vec<u8>, _>(&v).as_ref(), data);
        }
        if let Ok(v) = Rlp::new(data).as_list::<u64>() {
            assert_eq!(rlp::encode_list::<u64, _>(&v).as_ref(), data);
        }
    }

    let r = Rlp::new(data);
    let exact = rlp_util::check_exact(&r, data.len());
    if exact.is_ok() {
        // check_exact is check_well_formed of an item spanning the input.
        assert!(rlp_util::check_well_formed(data).is_ok());
        let mut s = RlpStream::new();
        if reencode(&r, &mut s, 64).is_some() {
            assert_eq!(
                s.out().as_ref(),
                data,
                "a well-formed item re-encodes to itself"
            );
        }
        for n in 0..4 {
            let _ = rlp_util::expect_list_len(&r, n);
            let _ = rlp_util::list_at::<Vec<u8>>(&r, n);
            let _ = rlp_util::list_at::<H256>(&r, n);
        }
    }
    let _ = rlp_util::check_well_formed(data);
    // strict_bool reads items the structural check has passed (parity rlp's value decoder
    // alone takes the non-canonical long form `b8 01 00`; `Rlp::at` and check_exact refuse it).
    let b = rlp_util::strict_bool(&r);
    if let (Ok(b), Ok(())) = (b, exact) {
        let mut s = RlpStream::new_list(1);
        rlp_util::append_strict_bool(&mut s, b);
        assert_eq!(&s.out()[1..], data);
    }
});
