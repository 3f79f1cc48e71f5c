//! BSIM APDUs (`signer/bsim`), both directions:
//! - the host side: `Response::parse`, TLV / public-key-record / DER / ICCID parsers on the
//!   whole input, and every `Applet` flow driven by a card that answers with the input's
//!   frames (what a hostile or broken card could send);
//! - the card side: the virtual card (`VirtualCard::process`) answering the input's frames
//!   as command APDUs, in order, on one session (the first [`CARD_FRAMES`] of them) of a
//!   card provisioned empty, with many keys, or full.
//!
//! Never a panic; round trips where both directions exist (`Command` and `Response`
//! bytes, DER signatures, ICCIDs). Frames: `[len 1][bytes len]…` (a short last frame is
//! taken as it is).
#![no_main]

use cfxlight_bsim::{
    apdu::{self, Command, Response},
    applet::{Applet, Transport},
    card::{CardState, VirtualCard},
    error::Error,
};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        let n = usize::from(n).min(rest.len());
        let (f, r) = rest.split_at(n);
        out.push(f);
        data = r;
    }
    out
}

/// A card that answers each command with the next scripted response.
struct Scripted<'a> {
    answers: std::vec::IntoIter<&'a [u8]>,
}

impl Transport for Scripted<'_> {
    fn transmit_raw(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, Error> {
        self.answers
            .next()
            .map(<[u8]>::to_vec)
            .ok_or(Error::Malformed("script ended"))
    }
}

fn parsers(data: &[u8]) {
    if let Ok(r) = Response::parse(data) {
        assert_eq!(r.to_bytes(), data, "a response re-encodes to itself");
        let _ = r.ok();
    }
    if let Ok(c) = Command::parse(data) {
        assert_eq!(&*c.to_bytes().expect("a parsed command encodes"), data);
    }
    let _ = apdu::parse_tlvs(data);
    if let Ok(recs) = apdu::parse_pubkey_records(data) {
        for r in recs {
            let _ = r.secp256k1_pub64();
        }
    }
    if let Ok((r, s)) = apdu::parse_der_signature(data) {
        let der = apdu::encode_der_signature(&r, &s);
        assert_eq!(
            apdu::parse_der_signature(&der).ok(),
            Some((r, s)),
            "DER round trip"
        );
    }
    if let Ok(iccid) = apdu::decode_iccid(data) {
        let enc = apdu::encode_iccid(&iccid).expect("a decoded ICCID encodes");
        assert_eq!(
            apdu::decode_iccid(&enc).ok(),
            Some(iccid),
            "ICCID round trip"
        );
    }
    let _ = apdu::sw::meaning(u16::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    ]));
}

fn host(frames: &[&[u8]]) {
    let mut applet = Applet::new(Scripted {
        answers: frames.to_vec().into_iter(),
    });
    let pin = Zeroizing::new("123456".to_string());
    let _ = applet.select();
    let _ = applet.read_iccid();
    let _ = applet.version();
    let _ = applet.pin_status();
    let _ = applet.verify_pin(&pin);
    let keys = applet.conflux_keys().unwrap_or_default();
    let _ = applet.generate_key();
    let (index, pubkey) = keys.first().copied().unwrap_or((1, [7; 64]));
    let _ = applet.sign_hash(index, &[0x42; 32], &pubkey);
    let _ = applet.attestation(index);
    let _ = applet.export_pubkeys();
}

/// Commands one input drives the virtual card with.
const CARD_FRAMES: usize = 32;

/// Provisioned cards a session starts from (the input's first byte picks one): empty; 40
/// Conflux and 3 coin-60 keys (EXPORT PUBKEYS needs several pages); every Conflux and
/// coin-60 index taken (GENERATE answers "no memory"). Built once with the card's own
/// commands, so each input's session costs at most `CARD_FRAMES` commands of real ECDSA.
fn provisioned() -> &'static [CardState; 3] {
    static CARDS: std::sync::OnceLock<[CardState; 3]> = std::sync::OnceLock::new();
    CARDS.get_or_init(|| {
        let make = |conflux: usize, eth: usize| {
            let issuer =
                cfxlight_primitives::crypto::signing_key(&[0x33; 32]).expect("a valid key");
            let state =
                CardState::new("89860000000000000001", "123456", 3, issuer).expect("a valid card");
            let mut card = VirtualCard::in_memory(state);
            // Raw commands: past ~127 keys the host's EXPORT PUBKEYS gives up (too many
            // pages), which is itself a path the sessions below reach.
            let mut run = |c: Command| {
                let out = card.process(&c.to_bytes().expect("encodes"));
                assert_eq!(out[out.len() - 2..], [0x90, 0x00], "provisioning");
            };
            run(apdu::cmd::select(&apdu::consts::BSIM_AID));
            run(apdu::cmd::verify_bpin(b"123456"));
            for _ in 0..conflux {
                run(apdu::cmd::generate_key(503, apdu::consts::ALG_SECP256K1));
            }
            for _ in 0..eth {
                run(apdu::cmd::generate_key(60, apdu::consts::ALG_SECP256K1));
            }
            card.state().clone()
        };
        [make(0, 0), make(40, 3), make(127, 127)]
    })
}

fn card(data: &[u8], frames: &[&[u8]]) {
    let cards = provisioned();
    let state = cards[usize::from(data.first().copied().unwrap_or(0)) % cards.len()].clone();
    let mut card = VirtualCard::in_memory(state);
    for f in frames.iter().take(CARD_FRAMES) {
        let out = card.process(f);
        assert!(out.len() >= 2, "every answer carries a status word");
        Response::parse(&out).expect("the card's answer parses");
    }
}

fuzz_target!(|data: &[u8]| {
    parsers(data);
    let frames = frames(data);
    for f in &frames {
        parsers(f);
    }
    host(&frames);
    card(data, &frames);
});
