#![allow(clippy::unwrap_used, missing_docs)]
//! The host flows against the virtual card over the in-process transport.

use cfxlight_bsim::{
    apdu::{cmd, consts::*, parse_der_signature, parse_pubkey_records, sw, Response},
    applet::check_signature,
    attest::verify_attestation,
    card::{CardState, VirtualCard},
    Applet, Error,
};
use k256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, SigningKey, VerifyingKey};
use rand::{rngs::OsRng, RngCore};
use zeroize::Zeroizing;

const ICCID: &str = "89860000000000000017";

fn pin(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_string())
}

fn new_card(tries: u8) -> (Applet<VirtualCard>, [u8; 64]) {
    let issuer = SigningKey::random(&mut OsRng);
    let state = CardState::new(ICCID, "123456", tries, issuer).unwrap();
    let issuer_pub = state.issuer_public();
    let mut a = Applet::new(VirtualCard::in_memory(state));
    a.select().unwrap();
    (a, issuer_pub)
}

fn raw(a: &mut Applet<VirtualCard>, c: cfxlight_bsim::apdu::Command) -> Response {
    a.transmit(&c).unwrap()
}

#[test]
fn wrong_pins_count_down_then_block_even_the_right_pin() {
    let (mut a, _) = new_card(3);
    let wrong = *b"000000";
    assert_eq!(raw(&mut a, cmd::verify_bpin(&wrong)).sw, 0x63C2);
    assert_eq!(raw(&mut a, cmd::verify_bpin(&wrong)).sw, 0x63C1);
    assert_eq!(raw(&mut a, cmd::verify_bpin(&wrong)).sw, 0x63C0);
    assert_eq!(raw(&mut a, cmd::verify_bpin(b"123456")).sw, sw::PIN_BLOCKED);
    assert_eq!(raw(&mut a, cmd::sign(503, 1, &[0; 32])).sw, sw::PIN_BLOCKED);
    assert!(matches!(
        a.verify_pin(&pin("123456")),
        Err(Error::PinBlocked)
    ));
    let st = a.pin_status().unwrap();
    assert_eq!((st.tries_left, st.max_tries, st.verified), (0, 3, false));
}

#[test]
fn typed_errors_carry_tries_left_and_the_right_pin_restores_them() {
    let (mut a, _) = new_card(5);
    assert!(matches!(
        a.verify_pin(&pin("654321")),
        Err(Error::WrongPin { tries_left: 4 })
    ));
    assert!(matches!(
        a.verify_pin(&pin("12345")),
        Err(Error::InvalidPinFormat)
    ));
    assert_eq!(
        a.pin_status().unwrap().tries_left,
        4,
        "a malformed PIN costs no try"
    );
    a.verify_pin(&pin("123456")).unwrap();
    let st = a.pin_status().unwrap();
    assert_eq!((st.tries_left, st.verified), (5, true));
}

#[test]
fn signing_and_generating_need_the_pin_and_reselect_forgets_it() {
    let (mut a, _) = new_card(5);
    assert!(matches!(a.generate_key(), Err(Error::PinRequired)));
    a.verify_pin(&pin("123456")).unwrap();
    let (idx, pk) = a.generate_key().unwrap();
    a.select().unwrap();
    assert!(matches!(
        a.sign_hash(idx, &[1; 32], &pk),
        Err(Error::PinRequired)
    ));
    // Reading the ICCID selects another applet: the BSIM applet is deselected too.
    a.verify_pin(&pin("123456")).unwrap();
    assert_eq!(a.read_iccid().unwrap(), ICCID);
    assert_eq!(
        raw(&mut a, cmd::sign(503, idx, &[1; 32])).sw,
        sw::INS_NOT_SUPPORTED
    );
    a.select().unwrap();
    assert!(matches!(
        a.sign_hash(idx, &[1; 32], &pk),
        Err(Error::PinRequired)
    ));
}

#[test]
fn der_signatures_verify_low_s_and_recover_to_the_card_key() {
    let (mut a, _) = new_card(5);
    a.verify_pin(&pin("123456")).unwrap();
    let (idx, pk) = a.generate_key().unwrap();
    assert_eq!(idx, 1, "index 0 is reserved");
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&pk);
    let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    for _ in 0..32 {
        let mut hash = [0u8; 32];
        OsRng.fill_bytes(&mut hash);
        let der = raw(&mut a, cmd::sign(COIN_CONFLUX, idx, &hash))
            .ok()
            .unwrap();
        let (r, s) = parse_der_signature(&der).unwrap();
        let sig = Signature::from_scalars(r, s).unwrap();
        assert!(sig.normalize_s().is_none(), "card signs low S");
        vk.verify_prehash(&hash, &sig).unwrap();
        let checked = a.sign_hash(idx, &hash, &pk).unwrap();
        let rec = cfxlight_primitives::crypto::recover(
            &cfxlight_primitives::H256(hash),
            &checked.to_conflux(),
        )
        .unwrap();
        assert_eq!(rec.0, pk);
    }
}

#[test]
fn a_signature_from_another_key_is_refused() {
    let (mut a, _) = new_card(5);
    a.verify_pin(&pin("123456")).unwrap();
    let (i1, _) = a.generate_key().unwrap();
    let (_, pk2) = a.generate_key().unwrap();
    assert!(matches!(
        a.sign_hash(i1, &[3; 32], &pk2),
        Err(Error::SignatureMismatch { index: 1 })
    ));
    assert!(check_signature(&[3; 32], [0; 32], [1; 32], &pk2, 1).is_err());
    assert!(matches!(
        a.sign_hash(99, &[3; 32], &pk2),
        Err(Error::KeyNotFound)
    ));
}

#[test]
fn export_pubkeys_pages_with_6300_through_many_keys() {
    let (mut a, _) = new_card(5);
    a.verify_pin(&pin("123456")).unwrap();
    let mut made = Vec::new();
    for _ in 0..10 {
        made.push(a.generate_key().unwrap());
    }
    // Raw paging: 3 records per page, 6300 until the last.
    let mut pages = vec![raw(&mut a, cmd::export_pubkeys(false))];
    while pages.last().unwrap().sw == sw::MORE_DATA {
        pages.push(raw(&mut a, cmd::export_pubkeys(true)));
    }
    let sws: Vec<u16> = pages.iter().map(|p| p.sw).collect();
    assert_eq!(sws, [0x6300, 0x6300, 0x6300, 0x9000]);
    assert_eq!(pages[0].data.len(), 3 * 74);
    let all: Vec<u8> = pages.iter().flat_map(|p| p.data.clone()).collect();
    let recs = parse_pubkey_records(&all).unwrap();
    assert_eq!(recs.len(), 10);
    // A continuation without a first page is refused.
    assert_eq!(raw(&mut a, cmd::export_pubkeys(true)).sw, sw::CONDITIONS);
    // The flow sees the same keys.
    assert_eq!(a.conflux_keys().unwrap(), made);
    let idx: Vec<u8> = made.iter().map(|k| k.0).collect();
    assert_eq!(idx, (1..=10).collect::<Vec<u8>>());
}

#[test]
fn key_slots_run_out_at_index_127() {
    let (mut a, _) = new_card(5);
    a.verify_pin(&pin("123456")).unwrap();
    for i in 1..=MAX_KEY_INDEX {
        assert!(
            raw(&mut a, cmd::generate_key(COIN_CONFLUX, ALG_SECP256K1)).sw == sw::OK,
            "{i}"
        );
    }
    assert_eq!(
        raw(&mut a, cmd::generate_key(COIN_CONFLUX, ALG_SECP256K1)).sw,
        sw::NO_MEMORY
    );
    assert_eq!(a.conflux_keys().unwrap().len(), 127);
    assert_eq!(
        raw(&mut a, cmd::generate_key(COIN_CONFLUX, ALG_ED25519)).sw,
        sw::WRONG_DATA
    );
}

#[test]
fn attestation_binds_key_to_iccid_and_issuer() {
    let (mut a, issuer_pub) = new_card(5);
    a.verify_pin(&pin("123456")).unwrap();
    let (idx, pk) = a.generate_key().unwrap();
    let att = a.attestation(idx).unwrap();
    verify_attestation(&issuer_pub, &pk, ICCID, &att).unwrap();
    assert!(matches!(
        verify_attestation(&issuer_pub, &pk, "89860000000000000025", &att),
        Err(Error::AttestationInvalid)
    ));
    let other = cfxlight_bsim::attest::public_key(&SigningKey::random(&mut OsRng));
    assert!(verify_attestation(&other, &pk, ICCID, &att).is_err());
    assert!(verify_attestation(&issuer_pub, &other, ICCID, &att).is_err());
}

#[test]
fn set_and_update_pin() {
    let (mut a, _) = new_card(3);
    assert!(matches!(a.set_pin(&pin("111111")), Err(Error::PinRequired)));
    a.verify_pin(&pin("123456")).unwrap();
    a.set_pin(&pin("111111")).unwrap();
    assert!(matches!(
        a.verify_pin(&pin("123456")),
        Err(Error::WrongPin { tries_left: 2 })
    ));
    a.update_pin(&pin("111111"), &pin("222222")).unwrap();
    a.verify_pin(&pin("222222")).unwrap();
    assert_eq!(a.pin_status().unwrap().tries_left, 3);
    // Fluent's data-less forms need card-side entry, which the emulator does not have.
    assert_eq!(raw(&mut a, cmd::verify_bpin_on_card()).sw, sw::CONDITIONS);
}

#[test]
fn misc_commands_and_status_words() {
    let (mut a, _) = new_card(3);
    assert_eq!(a.version().unwrap(), 0x0100);
    assert!(matches!(
        a.transmit(&cmd::select(&[0xA0, 0, 0, 0, 1])).unwrap().ok(),
        Err(Error::NotFound)
    ));
    // The failed SELECT kept the BSIM applet selected.
    assert_eq!(a.version().unwrap(), 0x0100);
    let mut fresh = VirtualCard::in_memory(
        CardState::new(ICCID, "123456", 3, SigningKey::random(&mut OsRng)).unwrap(),
    );
    assert_eq!(
        fresh.process(&[0x80, 0xC8, 0, 0, 0]),
        [0x69, 0x85],
        "nothing selected"
    );
    assert_eq!(fresh.process(&[0x80]), [0x67, 0x00]);
}

#[test]
fn state_file_survives_restart_is_0600_and_holds_no_pin() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    CardState::new(ICCID, "123456", 5, SigningKey::random(&mut OsRng))
        .unwrap()
        .save(&path)
        .unwrap();
    let key = {
        let mut a = Applet::new(VirtualCard::open(&path).unwrap());
        a.select().unwrap();
        assert!(a.verify_pin(&pin("999999")).is_err());
        a.verify_pin(&pin("123456")).unwrap();
        let k = a.generate_key().unwrap();
        assert!(a.verify_pin(&pin("999999")).is_err());
        k
    };
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("123456"));
    let mut a = Applet::new(VirtualCard::open(&path).unwrap());
    a.select().unwrap();
    assert_eq!(a.conflux_keys().unwrap(), vec![key]);
    assert_eq!(a.pin_status().unwrap().tries_left, 4, "counter persisted");
    let info = CardState::load(&path).unwrap().info();
    assert_eq!(info.keys[0].public, hex::encode(key.1));
    assert!(info.keys[0].address.starts_with("0x1"));
    // Nothing but the state file is left behind (the temp file was renamed).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_guarded_verify_never_spends_the_last_try_even_across_a_power_cycle() {
    let (mut a, _) = new_card(3);
    assert!(matches!(
        a.verify_pin_guarded(&pin("000000")),
        Err(Error::WrongPin { tries_left: 2 })
    ));
    assert!(matches!(
        a.verify_pin_guarded(&pin("000000")),
        Err(Error::WrongPin { tries_left: 1 })
    ));
    // One try left: neither a wrong nor the right PIN is sent.
    for p in ["000000", "123456"] {
        assert!(matches!(
            a.verify_pin_guarded(&pin(p)),
            Err(Error::PinLastTry { tries_left: 1 })
        ));
        assert_eq!(a.pin_status().unwrap().tries_left, 1, "no try was spent");
    }
    // Pulled and re-inserted (a restart, a reconnect): the card still says one, still refused.
    let mut card = a.into_inner();
    card.power_off();
    let mut a = Applet::new(card);
    a.select().unwrap();
    assert!(matches!(
        a.verify_pin_guarded(&pin("000000")),
        Err(Error::PinLastTry { tries_left: 1 })
    ));
    assert_eq!(a.pin_status().unwrap().tries_left, 1);
    // The user, having checked the PIN, spends the last try on purpose: all tries back.
    a.verify_pin(&pin("123456")).unwrap();
    a.select().unwrap();
    a.verify_pin_guarded(&pin("123456")).unwrap();
    assert_eq!(a.pin_status().unwrap().tries_left, 3);
    // A malformed PIN is refused before anything is sent; a blocked card is not sent one.
    assert!(matches!(
        a.verify_pin_guarded(&pin("12345")),
        Err(Error::InvalidPinFormat)
    ));
    let (mut b, _) = new_card(1);
    assert!(matches!(
        b.verify_pin(&pin("000000")),
        Err(Error::PinBlocked)
    ));
    assert!(matches!(
        b.verify_pin_guarded(&pin("123456")),
        Err(Error::PinBlocked)
    ));
}
