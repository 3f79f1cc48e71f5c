#![allow(clippy::unwrap_used, missing_docs)]
//! Random bytes into every response parser, and into the card itself: errors, never panics.

use cfxlight_bsim::{
    apdu::{self, Command, Response},
    card::{CardState, VirtualCard},
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn response_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Response::parse(&bytes);
        let _ = apdu::parse_tlvs(&bytes);
        let _ = apdu::parse_pubkey_records(&bytes);
        let _ = apdu::parse_der_signature(&bytes);
        let _ = apdu::decode_iccid(&bytes);
        let _ = Command::parse(&bytes);
    }

    #[test]
    fn der_parser_survives_mutated_signatures(
        r in any::<[u8; 32]>(), s in any::<[u8; 32]>(), pos in any::<usize>(), val in any::<u8>(), cut in any::<usize>()
    ) {
        let mut der = apdu::encode_der_signature(&r, &s);
        let i = pos % der.len();
        der[i] = val;
        der.truncate(cut % (der.len() + 1));
        let _ = apdu::parse_der_signature(&der);
    }

    #[test]
    fn pubkey_parser_survives_mutated_records(pos in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
        let rec = apdu::PubkeyRecord { coin: 503, index: 1, alg: 1, key: vec![4; 65] };
        let mut b = [rec.to_tlv(), rec.to_tlv()].concat();
        let i = pos % b.len();
        b[i] = val;
        b.truncate(cut % (b.len() + 1));
        let _ = apdu::parse_pubkey_records(&b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The card answers any command bytes with a status word (after selecting the applet
    /// so the commands reach it).
    #[test]
    fn card_answers_random_apdus(cla in prop_oneof![Just(0x80u8), Just(0x00u8), any::<u8>()],
                                 ins in any::<u8>(), p1 in any::<u8>(), p2 in any::<u8>(),
                                 body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let issuer = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let mut card = VirtualCard::in_memory(
            CardState::new("8986000000000000001", "123456", 3, issuer).unwrap());
        let sel = apdu::cmd::select(&apdu::consts::BSIM_AID).to_bytes().unwrap();
        card.process(&sel);
        let mut a = vec![cla, ins, p1, p2];
        a.extend_from_slice(&body);
        let r = card.process(&a);
        prop_assert!(r.len() >= 2);
    }
}
