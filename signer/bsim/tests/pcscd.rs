#![allow(clippy::unwrap_used, missing_docs)]
//! Through real pcscd + vsmartcard-vpcd: `bsim-card serve` plugs a virtual card into the
//! "Virtual PCD 00 00" reader and [`BsimCard`] talks to it over PC/SC.
//!
//! Needs a running pcscd with the vpcd driver (`signer/bsim/scripts/pcscd-up.sh`) and
//! `CFXLIGHT_PCSCD=1`; otherwise skipped with a message, except under CI (`CI` set),
//! where a missing pcscd is a failure. pcscd is one per machine: the whole scenario is one
//! test so nothing else competes for the reader.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use cfxlight_bsim::{BsimCard, BsimOptions, Error};
use cfxlight_primitives::{crypto, H256, H512};
use zeroize::Zeroizing;

const BIN: &str = env!("CARGO_BIN_EXE_bsim-card");
const READER: &str = "Virtual PCD 00 00";

fn enabled() -> bool {
    if std::env::var("CFXLIGHT_PCSCD").as_deref() == Ok("1") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI: CFXLIGHT_PCSCD=1 and a running pcscd (signer/bsim/scripts/pcscd-up.sh) are required");
    }
    eprintln!(
        "skipped: set CFXLIGHT_PCSCD=1 with pcscd + vpcd running (signer/bsim/scripts/pcscd-up.sh)"
    );
    false
}

/// A `bsim-card serve` child, killed (card removed) on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bsim_card(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "bsim-card {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn init(dir: &Path, name: &str, iccid: &str) -> PathBuf {
    let state = dir.join(name);
    bsim_card(&[
        "init",
        "--state",
        state.to_str().unwrap(),
        "--pin",
        "123456",
        "--iccid",
        iccid,
    ]);
    state
}

fn serve(state: &Path, log: &Path) -> Served {
    let log = std::fs::File::create(log).unwrap();
    Served(
        Command::new(BIN)
            .args(["serve", "--state", state.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn opts() -> BsimOptions {
    BsimOptions {
        reader: Some(READER.into()),
        exclusive: false,
        coins: vec![],
    }
}

/// Polls `f` until it gives something `done` accepts, for up to 10 s.
fn eventually<T: std::fmt::Debug>(
    what: &str,
    mut f: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let v = f();
        if done(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: last {v:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (without talking to the card) until pcscd reports no card in [`READER`].
fn wait_reader_empty() {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let reader = std::ffi::CString::new(READER).unwrap();
    eventually(
        "reader empty",
        || {
            let mut rs = [pcsc::ReaderState::new(reader.clone(), pcsc::State::UNAWARE)];
            ctx.get_status_change(Duration::ZERO, &mut rs).unwrap();
            rs[0].event_state()
        },
        |st| st.contains(pcsc::State::EMPTY),
    );
}

#[test]
fn card_through_pcscd_signs_detects_removal_and_refuses_another_card() {
    if !enabled() {
        return;
    }
    let mut dir = tempfile::tempdir().unwrap();
    // CFXLIGHT_KEEP_TMP=1 keeps the states and `serve` logs for a post-mortem.
    dir.disable_cleanup(std::env::var_os("CFXLIGHT_KEEP_TMP").is_some());
    eprintln!("card states and serve logs in {}", dir.path().display());
    let a = init(dir.path(), "a.json", "89860000000000000017");
    let b = init(dir.path(), "b.json", "89860000000000000025");
    let issuer_a: serde_json::Value = serde_json::from_str(&bsim_card(&[
        "status",
        "--state",
        a.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let mut served_a = Some(serve(&a, &dir.path().join("a.log")));

    let mut card = eventually(
        "card A in the reader",
        || BsimCard::connect(opts()),
        Result::is_ok,
    )
    .unwrap();
    assert_eq!(card.iccid(), Some("89860000000000000017"));
    assert_eq!(card.version().unwrap(), 0x0100);

    // PIN: a wrong one costs a try and says how many are left; never retried.
    assert!(matches!(
        card.verify_pin(&Zeroizing::new("000000".into())),
        Err(Error::WrongPin { tries_left: 4 })
    ));
    card.verify_pin(&Zeroizing::new("123456".into())).unwrap();
    assert_eq!(card.pin_status().unwrap().tries_left, 5);

    // Generate, list, sign, recover.
    let (idx, pk) = card.generate_key().unwrap();
    assert_eq!(card.list_keys().unwrap(), vec![(idx, pk)]);
    let hash = cfxlight_primitives::keccak256(b"cfxlight bsim through pcscd").0;
    let sig = card.sign_hash(idx, &hash).unwrap();
    let recovered = crypto::recover(&H256(hash), &sig.to_conflux()).unwrap();
    assert_eq!(recovered, H512(pk));
    // The card's attestation binds the key to its ICCID under the issuer's key.
    let issuer_pub: [u8; 64] = hex::decode(issuer_a["issuer_public"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let att = card.attestation(idx).unwrap();
    cfxlight_bsim::verify_attestation(&issuer_pub, &pk, card.iccid().unwrap(), &att).unwrap();
    // `status` shows the key generated through pcscd (state persisted by `serve`).
    let st = bsim_card(&["status", "--state", a.to_str().unwrap(), "--json"]);
    assert!(st.contains(&hex::encode(pk)), "{st}");

    // Pull the card: the next operation says the card is absent.
    bsim_card(&["pull", "--state", a.to_str().unwrap()]);
    let _ = eventually(
        "card A absent",
        || card.list_keys(),
        |r| matches!(r, Err(Error::CardAbsent(_))),
    );
    assert!(matches!(
        card.sign_hash(idx, &hash),
        Err(Error::CardAbsent(_))
    ));

    // Another card in the same reader is refused, never used.
    let served_b = serve(&b, &dir.path().join("b.log"));
    let _ = eventually(
        "card B refused",
        || card.list_keys(),
        |r| matches!(r, Err(Error::WrongCard { .. })),
    );
    assert!(matches!(
        card.sign_hash(idx, &hash),
        Err(Error::WrongCard { .. })
    ));
    drop(served_b);
    // A killed card process is only seen as removed on pcscd's next presence poll; vpcd
    // would hand the slot to the next card without any removal event if it connected
    // first (vpcd.c `vicc_present`), so wait for pcscd to see the slot empty.
    wait_reader_empty();

    // Card A back: same identity, but the reset forgot the PIN.
    bsim_card(&["insert", "--state", a.to_str().unwrap()]);
    let _ = eventually("card A back", || card.list_keys(), Result::is_ok);
    assert!(matches!(
        card.sign_hash(idx, &hash),
        Err(Error::PinRequired)
    ));
    // After the re-insert, an unattended caller's wrong PINs stop at one try left.
    for left in [4, 3, 2, 1] {
        assert!(matches!(
            card.verify_pin_guarded(&Zeroizing::new("000000".into())),
            Err(Error::WrongPin { tries_left }) if tries_left == left
        ));
    }
    assert!(matches!(
        card.verify_pin_guarded(&Zeroizing::new("123456".into())),
        Err(Error::PinLastTry { tries_left: 1 })
    ));
    assert_eq!(card.pin_status().unwrap().tries_left, 1);
    card.verify_pin(&Zeroizing::new("123456".into())).unwrap();
    let sig2 = card.sign_hash(idx, &hash).unwrap();
    assert_eq!(
        crypto::recover(&H256(hash), &sig2.to_conflux()).unwrap(),
        H512(pk)
    );

    // A pcscd restart is survived, when pcscd is ours to restart (started by pcscd-up.sh).
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pcscd-up.sh");
    if Path::new("/tmp/cfxlight-pcscd.pid").exists()
        && std::env::var_os("CFXLIGHT_PCSCD_PID").is_none()
    {
        assert!(Command::new(&script)
            .arg("down")
            .status()
            .unwrap()
            .success());
        assert!(card.list_keys().is_err());
        assert!(Command::new(&script).status().unwrap().success());
        let keys = eventually("after pcscd restart", || card.list_keys(), Result::is_ok);
        assert_eq!(keys.unwrap(), vec![(idx, pk)]);
    } else {
        eprintln!("pcscd restart not exercised: pcscd was not started by pcscd-up.sh");
    }
    // A coin-type 60 key, as Fluent derives one: a Conflux-only client neither lists nor
    // uses it; a client that opts in lists both, signs with it and reads its attestation.
    card.verify_pin(&Zeroizing::new("123456".into())).unwrap();
    let eth = card.generate_key_of(60).unwrap();
    assert_eq!(eth.coin, 60);
    assert_eq!(
        card.list_keys().unwrap(),
        vec![(idx, pk)],
        "503 only by default"
    );
    assert!(matches!(
        card.sign_hash_of(60, eth.index, &hash),
        Err(Error::InvalidArgument(_))
    ));
    {
        let mut both = BsimCard::connect(BsimOptions {
            coins: vec![503, 60],
            ..opts()
        })
        .unwrap();
        // A new connection is a new session on the card: the PIN again.
        both.verify_pin(&Zeroizing::new("123456".into())).unwrap();
        let keys: Vec<(u32, u8, [u8; 64])> = both
            .keys()
            .unwrap()
            .iter()
            .map(|k| (k.coin, k.index, k.public))
            .collect();
        assert_eq!(keys, vec![(60, eth.index, eth.public), (503, idx, pk)]);
        let sig = both.sign_hash_of(60, eth.index, &hash).unwrap();
        assert_eq!(
            crypto::recover(&H256(hash), &sig.to_conflux()).unwrap(),
            H512(eth.public)
        );
        assert_ne!(eth.public, pk);
        let att = both.attestation_of(60, eth.index).unwrap();
        cfxlight_bsim::verify_attestation(&issuer_pub, &eth.public, both.iccid().unwrap(), &att)
            .unwrap();
    }
    served_a.take();
}
