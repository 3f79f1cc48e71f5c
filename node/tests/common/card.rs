//! The virtual BSIM card as the card tests use it: served to real pcscd in vpcd slot 1
//! ("Virtual PCD 00 01", port 35964, clear of the BSIM crate's own tests in slot 0),
//! with a key generated inside it, and pullable through its marker file.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use cfxlight_bsim::{
    card::{random_iccid, CardState, VirtualCard},
    vpcd, BsimCard, BsimOptions,
};
use cfxlight_primitives::{crypto, H160};
use zeroize::Zeroizing;

/// The reader the card tests' card sits in.
pub const READER: &str = "Virtual PCD 00 01";
const VPCD_SLOT_1: &str = "127.0.0.1:35964";

/// The devnet directory when both pcscd (`CFXLIGHT_PCSCD=1`) and a devnet
/// (`CFXLIGHT_DEVNET`) are there; None (skipped) otherwise, a failure under CI.
pub fn pcscd_and_devnet() -> Option<PathBuf> {
    let pcscd = std::env::var("CFXLIGHT_PCSCD").as_deref() == Ok("1");
    match (pcscd, std::env::var_os("CFXLIGHT_DEVNET")) {
        (true, Some(d)) => Some(PathBuf::from(d)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs CFXLIGHT_PCSCD=1 and CFXLIGHT_DEVNET for the card tests"
            );
            eprintln!("skipped: needs CFXLIGHT_PCSCD=1 and CFXLIGHT_DEVNET (run scripts/test)");
            None
        }
    }
}

/// A virtual card being served; stops serving when dropped.
pub struct ServedCard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The card's state file (`vpcd::pull` / `vpcd::insert` take it).
    pub state: PathBuf,
    /// The account of the key generated on it.
    pub address: H160,
    /// The issuer's public key (`x ‖ y`), whose attestation the card's keys carry.
    pub issuer_public: [u8; 64],
}

impl Drop for ServedCard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fresh card in `dir` with PIN `pin`, served in slot 1, with one key generated inside
/// it through PC/SC.
pub fn serve_new_card(dir: &Path, pin: &str) -> ServedCard {
    let state = dir.join("card.json");
    let issuer = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let issuer_public = cfxlight_bsim::attest::public_key(&issuer);
    CardState::new(&random_iccid(), pin, 5, issuer)
        .unwrap()
        .save(&state)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, st) = (stop.clone(), state.clone());
    let thread = std::thread::spawn(move || {
        let mut card = VirtualCard::open(&st).unwrap();
        let addr: SocketAddr = VPCD_SLOT_1.parse().unwrap();
        let marker = vpcd::pulled_marker(&st);
        let _ = vpcd::serve(&mut card, addr, Some(&marker), &s2, &mut |_| {});
    });
    let started = Instant::now();
    let mut reinserted = 0;
    let mut c = loop {
        match BsimCard::connect(BsimOptions {
            reader: Some(READER.into()),
            ..BsimOptions::default()
        }) {
            Ok(c) => break c,
            Err(e) => {
                // pcscd's vpcd driver sometimes keeps the previous test's card connection
                // for a while after that process ended (seen about once in four runs of
                // the card tests back to back): pulling the card and putting it back
                // makes a fresh connection, as a user would.
                let waited = started.elapsed();
                if waited > Duration::from_secs(8 * (reinserted + 1)) && reinserted < 4 {
                    let _ = vpcd::pull(&state);
                    std::thread::sleep(Duration::from_millis(600));
                    let _ = vpcd::insert(&state);
                    reinserted += 1;
                }
                assert!(
                    waited < Duration::from_secs(45),
                    "card never appeared in {READER}: {e} (re-inserted {reinserted} times)"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    c.verify_pin(&Zeroizing::new(pin.to_string())).unwrap();
    let (_, public) = c.generate_key().unwrap();
    ServedCard {
        stop,
        thread: Some(thread),
        state,
        address: crypto::public_to_address(&public.into()),
        issuer_public,
    }
}
