//! A virtual BSIM card: the applet of [`crate::apdu`] emulated in software, with its state
//! persisted in a file so keys survive restarts.
//!
//! What it models, and from where:
//! - the APDU set, status words, EXPORT PUBKEYS paging with `6300`, DER signatures without
//!   a recovery id, index 0 reserved: Fluent `modules/BSIM/src/core/*` (see `apdu`);
//! - the BPIN retry counter and blocking: `63Cx` on a wrong PIN, `63C0` when the last try
//!   is spent, `6983` afterwards, even for the right PIN (Keycard `APPLICATION.MD` does the
//!   same; Fluent lists `63C1`..`63CA` and `6983`);
//! - the counter is decremented and persisted *before* the comparison, as smart cards do
//!   against tearing (pulling the card mid-VERIFY must not give a free try);
//! - the PIN-verified state and applet selection are lost on power off, reset, or a
//!   SELECT (as a JavaCard applet is deselected);
//! - keys are generated inside (OS randomness) and never leave; signatures are RFC 6979,
//!   low S, over the 32-byte hash given.
//!
//! Extensions a real card may not have (see `apdu::cmd`): VERIFY / UPDATE BPIN with the PIN
//! in the data field, GET ATTESTATION, GET STATUS.
//!
//! The state file holds the secret keys and the issuer's secret in clear (mode 0600): it
//! *is* the card's secure element. The PIN is stored only as a salted keccak hash.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use k256::ecdsa::{signature::hazmat::PrehashSigner, Signature, SigningKey};
use k256::elliptic_curve::subtle::ConstantTimeEq;
use rand::{rngs::OsRng, Rng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::apdu::{consts::*, encode_der_signature, encode_iccid, sw, Command, PubkeyRecord};
use crate::attest::{public_key, sign_attestation};
use crate::error::Error;
// Re-exported: the PIN rule moved to the APDU layer (the host needs it without the emulator).
pub use crate::apdu::check_pin_format;

/// The ATR the virtual card answers (a minimal valid T=1 ATR; an invalid ATR makes
/// pcscd refuse the card, bsim-and-signers.md §4 pitfall 7).
pub const ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];
/// GET VERSION answer of the virtual card (applet version 1.0).
pub const CARD_VERSION: [u8; 2] = [0x01, 0x00];
/// BPIN tries before blocking, unless `init --pin-tries` says otherwise.
pub const DEFAULT_PIN_TRIES: u8 = 5;
/// EXPORT PUBKEYS records per page: 3 × 74 bytes fits a short response (≤ 256 bytes).
pub const RECORDS_PER_PAGE: usize = 3;
/// `format` field of the state file.
pub const STATE_FORMAT: &str = "cfxlight-bsim-card/1";

const PIN_DOMAIN: &[u8] = b"cfxlight-bsim-pin/v1";

/// One key slot of the card.
#[derive(Clone)]
struct CardKey {
    coin: u32,
    index: u8,
    alg: u8,
    secret: SigningKey,
    public: [u8; 64],
    attestation: [u8; 64],
}

/// The salted hash of the BPIN (the PIN itself is never stored).
#[derive(Clone)]
struct PinHash {
    salt: [u8; 16],
    hash: [u8; 32],
}

impl PinHash {
    fn new(pin: &[u8]) -> PinHash {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        PinHash {
            salt,
            hash: Self::digest(&salt, pin),
        }
    }

    fn digest(salt: &[u8; 16], pin: &[u8]) -> [u8; 32] {
        let mut buf = Zeroizing::new(Vec::with_capacity(PIN_DOMAIN.len() + 16 + pin.len()));
        buf.extend_from_slice(PIN_DOMAIN);
        buf.extend_from_slice(salt);
        buf.extend_from_slice(pin);
        cfxlight_primitives::keccak256(&*buf).0
    }

    fn matches(&self, pin: &[u8]) -> bool {
        bool::from(Self::digest(&self.salt, pin).ct_eq(&self.hash))
    }
}

/// The persistent state of a card: what survives power off and restarts. `Clone` copies
/// the card (its secrets too): for tests and fuzzing, which start many sessions from one
/// provisioned state.
#[derive(Clone)]
pub struct CardState {
    iccid: String,
    pin: Option<PinHash>,
    max_tries: u8,
    tries_left: u8,
    issuer: SigningKey,
    keys: Vec<CardKey>,
}

/// The JSON shape of the state file (see the crate README section in `lib.rs`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    iccid: String,
    pin: Option<PinFile>,
    pin_max_tries: u8,
    pin_tries_left: u8,
    issuer_secret: String,
    issuer_public: String,
    keys: Vec<KeyFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinFile {
    salt: String,
    keccak: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    coin: u32,
    index: u8,
    alg: u8,
    secret: String,
    public: String,
    attestation: String,
}

/// What `bsim-card status` shows: public facts of a card state, no secrets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CardInfo {
    /// ICCID digits.
    pub iccid: String,
    /// Applet version, hex.
    pub version: String,
    /// Whether a BPIN is set.
    pub pin_set: bool,
    /// BPIN tries left.
    pub pin_tries_left: u8,
    /// BPIN tries before blocking.
    pub pin_max_tries: u8,
    /// Whether the BPIN is blocked.
    pub pin_blocked: bool,
    /// Issuer public key, 64-byte hex.
    pub issuer_public: String,
    /// The keys on the card.
    pub keys: Vec<KeyInfo>,
}

/// One key of [`CardInfo`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// SLIP-44 coin type.
    pub coin: u32,
    /// Key index.
    pub index: u8,
    /// Public key, 64-byte hex (`x ‖ y`).
    pub public: String,
    /// Conflux hex address (`0x1…`) of the key.
    pub address: String,
    /// Conflux mainnet base32 address.
    pub address_mainnet: String,
    /// Issuer attestation, 64-byte hex `r ‖ s`.
    pub attestation: String,
}

fn hex32(path: &str, field: &str, s: &str) -> Result<[u8; 32], Error> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| Error::State {
        path: path.into(),
        reason: format!("{field}: expected 32 bytes of hex"),
    })?;
    Ok(out)
}

fn hex64(path: &str, field: &str, s: &str) -> Result<[u8; 64], Error> {
    let mut out = [0u8; 64];
    hex::decode_to_slice(s, &mut out).map_err(|_| Error::State {
        path: path.into(),
        reason: format!("{field}: expected 64 bytes of hex"),
    })?;
    Ok(out)
}

/// A random ICCID: `8986` (telecom, China), 15 random digits, Luhn check digit.
pub fn random_iccid() -> String {
    let mut d: Vec<u8> = vec![8, 9, 8, 6];
    d.extend((0..15).map(|_| OsRng.gen_range(0..10u8)));
    // Luhn over the 19 digits, doubling from the rightmost one (the check digit follows).
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

impl CardState {
    /// A new card: ICCID, BPIN (six digits), retry limit (1..=15), issuer key.
    pub fn new(iccid: &str, pin: &str, max_tries: u8, issuer: SigningKey) -> Result<Self, Error> {
        encode_iccid(iccid)?;
        let pin = Zeroizing::new(check_pin_format(pin)?);
        if !(1..=15).contains(&max_tries) {
            return Err(Error::InvalidArgument(
                "PIN tries must be 1..=15 (one hex digit of 63Cx)".into(),
            ));
        }
        Ok(CardState {
            iccid: iccid.to_string(),
            pin: Some(PinHash::new(&*pin)),
            max_tries,
            tries_left: max_tries,
            issuer,
            keys: Vec::new(),
        })
    }

    /// Loads a state file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let p = path.display().to_string();
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {p}"), e))?,
        );
        let f: StateFile = serde_json::from_str(&text).map_err(|e| Error::State {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let bad = |reason: String| Error::State {
            path: p.clone(),
            reason,
        };
        if f.format != STATE_FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {STATE_FORMAT:?}",
                f.format
            )));
        }
        encode_iccid(&f.iccid).map_err(|e| bad(e.to_string()))?;
        if f.pin_max_tries == 0 || f.pin_max_tries > 15 || f.pin_tries_left > f.pin_max_tries {
            return Err(bad("PIN retry counters out of range".into()));
        }
        let pin = match f.pin {
            None => None,
            Some(pf) => {
                let mut salt = [0u8; 16];
                hex::decode_to_slice(&pf.salt, &mut salt)
                    .map_err(|_| bad("pin.salt: expected 16 bytes of hex".into()))?;
                Some(PinHash {
                    salt,
                    hash: hex32(&p, "pin.keccak", &pf.keccak)?,
                })
            }
        };
        let issuer_secret = Zeroizing::new(hex32(&p, "issuer_secret", &f.issuer_secret)?);
        let issuer = SigningKey::from_bytes(&(*issuer_secret).into())
            .map_err(|_| bad("issuer_secret is not a valid secp256k1 key".into()))?;
        if hex64(&p, "issuer_public", &f.issuer_public)? != public_key(&issuer) {
            return Err(bad("issuer_public does not match issuer_secret".into()));
        }
        let mut keys = Vec::with_capacity(f.keys.len());
        for k in &f.keys {
            let secret = Zeroizing::new(hex32(&p, "keys[].secret", &k.secret)?);
            let sk = SigningKey::from_bytes(&(*secret).into())
                .map_err(|_| bad(format!("key {} is not a valid secp256k1 key", k.index)))?;
            let public = public_key(&sk);
            if hex64(&p, "keys[].public", &k.public)? != public {
                return Err(bad(format!(
                    "key {}: public does not match secret",
                    k.index
                )));
            }
            if k.index == 0 || k.index > MAX_KEY_INDEX || k.alg != ALG_SECP256K1 {
                return Err(bad(format!("key {}: bad index or algorithm", k.index)));
            }
            if keys
                .iter()
                .any(|o: &CardKey| o.coin == k.coin && o.index == k.index)
            {
                return Err(bad(format!("duplicate key {}:{}", k.coin, k.index)));
            }
            keys.push(CardKey {
                coin: k.coin,
                index: k.index,
                alg: k.alg,
                secret: sk,
                public,
                attestation: hex64(&p, "keys[].attestation", &k.attestation)?,
            });
        }
        Ok(CardState {
            iccid: f.iccid,
            pin,
            max_tries: f.pin_max_tries,
            tries_left: f.pin_tries_left,
            issuer,
            keys,
        })
    }

    /// Writes the state file atomically (temporary file in the same directory, mode 0600,
    /// fsync, rename), so a crash leaves either the old or the new state, never half.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = StateFile {
            format: STATE_FORMAT.into(),
            iccid: self.iccid.clone(),
            pin: self.pin.as_ref().map(|p| PinFile {
                salt: hex::encode(p.salt),
                keccak: hex::encode(p.hash),
            }),
            pin_max_tries: self.max_tries,
            pin_tries_left: self.tries_left,
            issuer_secret: hex::encode(self.issuer.to_bytes()),
            issuer_public: hex::encode(public_key(&self.issuer)),
            keys: self
                .keys
                .iter()
                .map(|k| KeyFile {
                    coin: k.coin,
                    index: k.index,
                    alg: k.alg,
                    secret: hex::encode(k.secret.to_bytes()),
                    public: hex::encode(k.public),
                    attestation: hex::encode(k.attestation),
                })
                .collect(),
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&f).map_err(|e| Error::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?);
        // The secrets in `f` are plain Strings; wipe them explicitly.
        let StateFile {
            issuer_secret,
            keys,
            ..
        } = f;
        drop(Zeroizing::new(issuer_secret));
        for k in keys {
            drop(Zeroizing::new(k.secret));
        }
        let p = path.display().to_string();
        let name = path
            .file_name()
            .ok_or_else(|| Error::InvalidArgument(format!("state path {p} has no file name")))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming to {p}"), e))?;
        Ok(())
    }

    /// The ICCID digits.
    pub fn iccid(&self) -> &str {
        &self.iccid
    }

    /// The issuer's 64-byte public key.
    pub fn issuer_public(&self) -> [u8; 64] {
        public_key(&self.issuer)
    }

    /// Public facts of the card (for `bsim-card status`).
    pub fn info(&self) -> CardInfo {
        CardInfo {
            iccid: self.iccid.clone(),
            version: hex::encode(CARD_VERSION),
            pin_set: self.pin.is_some(),
            pin_tries_left: self.tries_left,
            pin_max_tries: self.max_tries,
            pin_blocked: self.pin.is_some() && self.tries_left == 0,
            issuer_public: hex::encode(self.issuer_public()),
            keys: self
                .keys
                .iter()
                .map(|k| {
                    let addr = cfxlight_primitives::crypto::public_to_address(
                        &cfxlight_primitives::H512(k.public),
                    );
                    KeyInfo {
                        coin: k.coin,
                        index: k.index,
                        public: hex::encode(k.public),
                        address: format!("{addr:#x}"),
                        address_mainnet: cfxlight_primitives::address::encode(&addr, 1029),
                        attestation: hex::encode(k.attestation),
                    }
                })
                .collect(),
        }
    }
}

/// Which applet the basic channel has selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applet {
    Bsim,
    Iccid,
}

/// Volatile state, lost on power off / reset.
#[derive(Default)]
struct Session {
    selected: Option<Applet>,
    pin_verified: bool,
    /// Records still to send in EXPORT PUBKEYS, when a `6300` page was sent.
    export_rest: Option<Vec<PubkeyRecord>>,
}

/// The emulated card: persistent state, the file it lives in (if any), the session.
pub struct VirtualCard {
    state: CardState,
    path: Option<PathBuf>,
    session: Session,
}

impl VirtualCard {
    /// A card kept in memory only (unit tests).
    pub fn in_memory(state: CardState) -> VirtualCard {
        VirtualCard {
            state,
            path: None,
            session: Session::default(),
        }
    }

    /// A card whose state is loaded from, and written back to, `path`.
    pub fn open(path: &Path) -> Result<VirtualCard, Error> {
        Ok(VirtualCard {
            state: CardState::load(path)?,
            path: Some(path.to_path_buf()),
            session: Session::default(),
        })
    }

    /// The card's persistent state.
    pub fn state(&self) -> &CardState {
        &self.state
    }

    /// Power off or reset: the applet selection and PIN-verified state are lost.
    pub fn power_off(&mut self) {
        self.session = Session::default();
    }

    /// Answers one command APDU with a response APDU (data ‖ SW1 SW2).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let resp = match Command::parse(apdu) {
            Ok(cmd) => self.dispatch(&cmd),
            Err(sw) => (Vec::new(), sw),
        };
        let mut out = resp.0;
        out.extend_from_slice(&resp.1.to_be_bytes());
        out
    }

    fn persist(&self) -> Result<(), u16> {
        match &self.path {
            Some(p) => self.state.save(p).map_err(|_| sw::MEMORY_FAILURE),
            None => Ok(()),
        }
    }

    fn dispatch(&mut self, c: &Command) -> (Vec<u8>, u16) {
        if (c.cla, c.ins) == (CLA_ISO, INS_SELECT) {
            return self.select(c);
        }
        match self.session.selected {
            // Fluent always selects first; a command to no applet is refused like this
            // (seen with a card after re-insertion, bsim-and-signers.md §4).
            None => (Vec::new(), sw::CONDITIONS),
            Some(Applet::Iccid) => match (c.cla, c.ins, c.p1, c.p2) {
                (CLA_BSIM, INS_GET_DATA, 0x00, P2_ICCID) => match encode_iccid(&self.state.iccid) {
                    Ok(b) => (b, sw::OK),
                    Err(_) => (Vec::new(), sw::MEMORY_FAILURE),
                },
                (CLA_BSIM, INS_GET_DATA, _, _) => (Vec::new(), sw::WRONG_P1P2),
                (CLA_BSIM | CLA_ISO, _, _, _) => (Vec::new(), sw::INS_NOT_SUPPORTED),
                _ => (Vec::new(), sw::CLA_NOT_SUPPORTED),
            },
            Some(Applet::Bsim) => self.bsim(c),
        }
    }

    fn select(&mut self, c: &Command) -> (Vec<u8>, u16) {
        if c.p1 != P1_SELECT_BY_AID {
            return (Vec::new(), sw::WRONG_P1P2);
        }
        let applet = if c.data == BSIM_AID {
            Applet::Bsim
        } else if c.data == ICCID_AID {
            Applet::Iccid
        } else {
            // A failed SELECT keeps the current selection (ISO 7816-4 §11.1.1).
            return (Vec::new(), sw::NOT_FOUND);
        };
        // Selecting (even re-selecting) an applet deselects the old one: PIN state lost.
        self.session = Session {
            selected: Some(applet),
            ..Session::default()
        };
        (Vec::new(), sw::OK)
    }

    fn bsim(&mut self, c: &Command) -> (Vec<u8>, u16) {
        let e = |s: u16| (Vec::new(), s);
        match (c.cla, c.ins) {
            (CLA_ISO, INS_GET_DATA) if (c.p1, c.p2) == (0, 0) => (CARD_VERSION.to_vec(), sw::OK),
            (CLA_ISO, INS_GET_DATA) => e(sw::WRONG_P1P2),
            (CLA_ISO, _) => e(sw::INS_NOT_SUPPORTED),
            (CLA_BSIM, INS_VERIFY_BPIN) => self.verify(c),
            (CLA_BSIM, INS_SET_BPIN) => self.set_pin(c),
            (CLA_BSIM, INS_UPDATE_BPIN) => self.update_pin(c),
            (CLA_BSIM, INS_GENERATE_KEY) => self.generate(c),
            (CLA_BSIM, INS_SIGN) => self.sign(c),
            (CLA_BSIM, INS_EXPORT_PUBKEYS) => self.export(c),
            (CLA_BSIM, INS_GET_ATTESTATION) => self.attestation(c),
            (CLA_BSIM, INS_GET_STATUS) => {
                let s = &self.state;
                let data = vec![
                    s.tries_left,
                    s.max_tries,
                    u8::from(s.pin.is_some()),
                    s.keys.len() as u8,
                    u8::from(self.session.pin_verified),
                ];
                (data, sw::OK)
            }
            (CLA_BSIM, _) => e(sw::INS_NOT_SUPPORTED),
            _ => e(sw::CLA_NOT_SUPPORTED),
        }
    }

    /// Checks a PIN against the stored hash, spending a try first (anti-tearing).
    fn check_pin(&mut self, pin: &[u8]) -> Result<(), u16> {
        let Some(hash) = self.state.pin.clone() else {
            return Err(sw::CONDITIONS);
        };
        if self.state.tries_left == 0 {
            return Err(sw::PIN_BLOCKED);
        }
        self.state.tries_left -= 1;
        self.session.pin_verified = false;
        self.persist()?;
        if hash.matches(pin) {
            self.state.tries_left = self.state.max_tries;
            self.persist()?;
            self.session.pin_verified = true;
            Ok(())
        } else {
            Err(sw::TRIES_LEFT_MASK | u16::from(self.state.tries_left))
        }
    }

    fn verify(&mut self, c: &Command) -> (Vec<u8>, u16) {
        match c.data.len() {
            // Fluent's data-less VERIFY asks the card to collect the PIN itself (on a
            // real BSIM, inference); the emulator has no such UI.
            0 => (Vec::new(), sw::CONDITIONS),
            BPIN_LEN => match self.check_pin(&c.data) {
                Ok(()) => (Vec::new(), sw::OK),
                Err(s) => (Vec::new(), s),
            },
            _ => (Vec::new(), sw::WRONG_LENGTH),
        }
    }

    fn set_pin(&mut self, c: &Command) -> (Vec<u8>, u16) {
        if c.data.len() != BPIN_LEN {
            return (Vec::new(), sw::WRONG_LENGTH);
        }
        if !c.data.iter().all(u8::is_ascii_digit) {
            return (Vec::new(), sw::WRONG_DATA);
        }
        if self.state.pin.is_some() {
            // Changing an existing PIN needs it verified in this session.
            if self.state.tries_left == 0 {
                return (Vec::new(), sw::PIN_BLOCKED);
            }
            if !self.session.pin_verified {
                return (Vec::new(), sw::SECURITY_STATUS);
            }
        }
        self.replace_pin(&c.data)
    }

    fn update_pin(&mut self, c: &Command) -> (Vec<u8>, u16) {
        match c.data.len() {
            0 => (Vec::new(), sw::CONDITIONS),
            12 => {
                let (old, new) = c.data.split_at(BPIN_LEN);
                if !new.iter().all(u8::is_ascii_digit) {
                    return (Vec::new(), sw::WRONG_DATA);
                }
                if let Err(s) = self.check_pin(old) {
                    return (Vec::new(), s);
                }
                self.replace_pin(new)
            }
            _ => (Vec::new(), sw::WRONG_LENGTH),
        }
    }

    fn replace_pin(&mut self, new: &[u8]) -> (Vec<u8>, u16) {
        let old = (self.state.pin.clone(), self.state.tries_left);
        self.state.pin = Some(PinHash::new(new));
        self.state.tries_left = self.state.max_tries;
        if let Err(s) = self.persist() {
            (self.state.pin, self.state.tries_left) = old;
            return (Vec::new(), s);
        }
        (Vec::new(), sw::OK)
    }

    fn require_pin(&self) -> Result<(), u16> {
        if self.state.pin.is_some() && self.state.tries_left == 0 {
            Err(sw::PIN_BLOCKED)
        } else if !self.session.pin_verified {
            Err(sw::SECURITY_STATUS)
        } else {
            Ok(())
        }
    }

    fn generate(&mut self, c: &Command) -> (Vec<u8>, u16) {
        if (c.p1, c.p2) != (0x00, P2_GENERATE_KEY) {
            return (Vec::new(), sw::WRONG_P1P2);
        }
        let Some((coin, [alg])) = c.data.split_first_chunk::<4>() else {
            return (Vec::new(), sw::WRONG_LENGTH);
        };
        let coin = u32::from_be_bytes(*coin);
        if let Err(s) = self.require_pin() {
            return (Vec::new(), s);
        }
        if *alg != ALG_SECP256K1 {
            return (Vec::new(), sw::WRONG_DATA);
        }
        // Index 0 is reserved; new keys take the next index of their coin type.
        let next = self
            .state
            .keys
            .iter()
            .filter(|k| k.coin == coin)
            .map(|k| k.index)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        if next > MAX_KEY_INDEX {
            return (Vec::new(), sw::NO_MEMORY);
        }
        let secret = SigningKey::random(&mut OsRng);
        let public = public_key(&secret);
        let Ok(attestation) = sign_attestation(&self.state.issuer, &public, &self.state.iccid)
        else {
            return (Vec::new(), sw::MEMORY_FAILURE);
        };
        self.state.keys.push(CardKey {
            coin,
            index: next,
            alg: *alg,
            secret,
            public,
            attestation,
        });
        if let Err(s) = self.persist() {
            self.state.keys.pop();
            return (Vec::new(), s);
        }
        (Vec::new(), sw::OK)
    }

    fn find_key<'a, 'b>(&'a self, data: &'b [u8]) -> Result<(&'a CardKey, &'b [u8]), u16> {
        let (head, rest) = data.split_first_chunk::<5>().ok_or(sw::WRONG_LENGTH)?;
        let coin = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let key = self
            .state
            .keys
            .iter()
            .find(|k| k.coin == coin && k.index == head[4])
            .ok_or(sw::RECORD_NOT_FOUND)?;
        Ok((key, rest))
    }

    fn sign(&mut self, c: &Command) -> (Vec<u8>, u16) {
        if c.data.len() != 5 + 32 {
            return (Vec::new(), sw::WRONG_LENGTH);
        }
        if let Err(s) = self.require_pin() {
            return (Vec::new(), s);
        }
        let (key, hash) = match self.find_key(&c.data) {
            Ok(x) => x,
            Err(s) => return (Vec::new(), s),
        };
        let sig: Signature = match key.secret.sign_prehash(hash) {
            Ok(s) => s,
            Err(_) => return (Vec::new(), sw::WRONG_DATA),
        };
        let sig = sig.normalize_s().unwrap_or(sig);
        let (r, s) = sig.split_bytes();
        (encode_der_signature(&r.into(), &s.into()), sw::OK)
    }

    fn export(&mut self, c: &Command) -> (Vec<u8>, u16) {
        let rest = match c.p2 {
            P2_EXPORT_FIRST => {
                let mut recs: Vec<PubkeyRecord> = self
                    .state
                    .keys
                    .iter()
                    .map(|k| PubkeyRecord {
                        coin: k.coin,
                        index: k.index,
                        alg: k.alg,
                        key: [&[0x04u8][..], &k.public].concat(),
                    })
                    .collect();
                recs.sort_by_key(|r| (r.coin, r.index));
                recs
            }
            P2_EXPORT_NEXT => match self.session.export_rest.take() {
                Some(r) => r,
                None => return (Vec::new(), sw::CONDITIONS),
            },
            _ => return (Vec::new(), sw::WRONG_P1P2),
        };
        let split = rest.len().min(RECORDS_PER_PAGE);
        let page: Vec<u8> = rest[..split].iter().flat_map(|r| r.to_tlv()).collect();
        if split < rest.len() {
            self.session.export_rest = Some(rest[split..].to_vec());
            (page, sw::MORE_DATA)
        } else {
            (page, sw::OK)
        }
    }

    fn attestation(&mut self, c: &Command) -> (Vec<u8>, u16) {
        if c.data.len() != 5 {
            return (Vec::new(), sw::WRONG_LENGTH);
        }
        match self.find_key(&c.data) {
            Ok((k, _)) => (k.attestation.to_vec(), sw::OK),
            Err(s) => (Vec::new(), s),
        }
    }
}

/// The in-process transport: the host code talks to the emulator directly.
impl crate::applet::Transport for VirtualCard {
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.process(apdu))
    }
}
