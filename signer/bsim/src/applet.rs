//! Host-side flows of the BSIM applet over any APDU transport: the same code drives the
//! in-process virtual card in unit tests and a real reader through PC/SC ([`crate::host`]).

use cfxlight_primitives::{crypto, H256, H512, U256};
use zeroize::Zeroizing;

use crate::apdu::{
    check_pin_format, cmd, consts::*, decode_iccid, parse_der_signature, parse_pubkey_records, sw,
    Command, PubkeyRecord, Response,
};
use crate::error::Error;

/// Something that carries one command APDU to a card and brings back its answer.
pub trait Transport {
    /// Sends the raw command bytes; returns the raw response (data ‖ SW1 SW2).
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        (**self).transmit_raw(apdu)
    }
}

/// A secp256k1 key on the card: its coin type, its index within that coin type, and its
/// 64-byte public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardKeyId {
    /// SLIP-44 coin type (503 Conflux, 60 Ethereum).
    pub coin: u32,
    /// Index within the coin type (from 1).
    pub index: u8,
    /// Uncompressed public key without its `04` prefix.
    pub public: [u8; 64],
}

/// A signature from the card, parsed, normalised to low S, and checked: it recovers to
/// the public key of the index that was asked to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardSignature {
    /// `r`, 32 bytes big-endian.
    pub r: [u8; 32],
    /// `s`, 32 bytes big-endian, low S.
    pub s: [u8; 32],
    /// Recovery id (y parity of R) found by trial recovery: 0 or 1.
    pub v: u8,
}

impl CardSignature {
    /// The signature in Conflux's form (`v` 0/1, low S).
    pub fn to_conflux(&self) -> crypto::Signature {
        crypto::Signature {
            v: self.v,
            r: U256::from_big_endian(&self.r),
            s: U256::from_big_endian(&self.s),
        }
    }
}

/// Normalises `(r, s)` to low S and finds the recovery id by trial recovery against
/// `pubkey` (Fluent `signatureUtils.ts` does the same; the card sends no recovery id).
/// Neither candidate recovering to `pubkey` means a swapped card or corrupted I/O.
pub fn check_signature(
    hash: &[u8; 32],
    r: [u8; 32],
    s: [u8; 32],
    pubkey: &[u8; 64],
    index: u8,
) -> Result<CardSignature, Error> {
    let sig = k256::ecdsa::Signature::from_scalars(r, s)
        .map_err(|_| Error::Malformed("signature scalars out of range"))?;
    let sig = sig.normalize_s().unwrap_or(sig);
    let (r, s) = sig.split_bytes();
    let (r, s): ([u8; 32], [u8; 32]) = (r.into(), s.into());
    for v in [0u8, 1] {
        let cand = CardSignature { r, s, v };
        if let Ok(p) = crypto::recover(&H256(*hash), &cand.to_conflux()) {
            if p == H512(*pubkey) {
                return Ok(cand);
            }
        }
    }
    Err(Error::SignatureMismatch { index })
}

/// PIN counters and key count read with GET STATUS (extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinStatus {
    /// Tries left before the PIN blocks.
    pub tries_left: u8,
    /// Tries allowed.
    pub max_tries: u8,
    /// Whether a PIN is set.
    pub pin_set: bool,
    /// Number of keys on the card.
    pub key_count: u8,
    /// Whether the PIN is verified in this session.
    pub verified: bool,
}

/// Fewest PIN tries the card must have left for [`Applet::verify_pin_guarded`] to send a
/// PIN: the last try is never spent by an unattended caller.
pub const MIN_TRIES_TO_VERIFY: u8 = 2;

/// The BSIM applet seen through a transport: one method per flow.
pub struct Applet<T: Transport> {
    transport: T,
}

impl<T: Transport> Applet<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> Self {
        Applet { transport }
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Sends one command, returns the parsed response (any status word).
    pub fn transmit(&mut self, c: &Command) -> Result<Response, Error> {
        let bytes = c.to_bytes()?;
        let raw = self.transport.transmit_raw(&bytes)?;
        Response::parse(&raw)
    }

    fn call(&mut self, c: &Command) -> Result<Vec<u8>, Error> {
        self.transmit(c)?.ok()
    }

    /// SELECT the BSIM applet (resets the card-side PIN-verified state).
    pub fn select(&mut self) -> Result<(), Error> {
        self.call(&cmd::select(&BSIM_AID)).map(drop)
    }

    /// Reads the ICCID: SELECT the ICCID applet, GET ICCID. This deselects the BSIM
    /// applet (PIN state lost): call [`Applet::select`] afterwards.
    pub fn read_iccid(&mut self) -> Result<String, Error> {
        self.call(&cmd::select(&ICCID_AID))?;
        decode_iccid(&self.call(&cmd::get_iccid())?)
    }

    /// GET VERSION: two bytes, big-endian.
    pub fn version(&mut self) -> Result<u16, Error> {
        match self.call(&cmd::get_version())?.as_slice() {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(Error::Malformed("GET VERSION answer is not 2 bytes")),
        }
    }

    /// VERIFY BPIN with a host-entered PIN (six digits, checked before sending so a typo
    /// costs no try). Never retried: a `63Cx` is returned as [`Error::WrongPin`].
    pub fn verify_pin(&mut self, pin: &Zeroizing<String>) -> Result<(), Error> {
        let digits = Zeroizing::new(check_pin_format(pin)?);
        self.call(&cmd::verify_bpin(&digits)).map(drop)
    }

    /// VERIFY BPIN for an unattended caller (a PIN from a file or the environment): reads
    /// GET STATUS first and sends the PIN only if the card has at least
    /// [`MIN_TRIES_TO_VERIFY`] tries left. With fewer, nothing is sent:
    /// [`Error::PinLastTry`] (or [`Error::PinBlocked`] at zero), so a wrong PIN file and an
    /// automatic restart can never block the card. A card without GET STATUS (`6D00`,
    /// `6E00`: it is an extension) gets a plain [`Applet::verify_pin`]: its tries are
    /// unknowable.
    pub fn verify_pin_guarded(&mut self, pin: &Zeroizing<String>) -> Result<(), Error> {
        check_pin_format(pin)?;
        match self.pin_status() {
            Ok(s) if s.tries_left == 0 => return Err(Error::PinBlocked),
            Ok(s) if s.tries_left < MIN_TRIES_TO_VERIFY => {
                return Err(Error::PinLastTry {
                    tries_left: s.tries_left,
                })
            }
            Ok(_) => {}
            Err(Error::Status {
                sw: sw::INS_NOT_SUPPORTED | sw::CLA_NOT_SUPPORTED,
                ..
            }) => {}
            Err(e) => return Err(e),
        }
        self.verify_pin(pin)
    }

    /// SET BPIN (on a card with a PIN, needs it verified first).
    pub fn set_pin(&mut self, new: &Zeroizing<String>) -> Result<(), Error> {
        let digits = Zeroizing::new(check_pin_format(new)?);
        self.call(&cmd::set_bpin(&digits)).map(drop)
    }

    /// UPDATE BPIN from `old` to `new` (spends a try if `old` is wrong).
    pub fn update_pin(
        &mut self,
        old: &Zeroizing<String>,
        new: &Zeroizing<String>,
    ) -> Result<(), Error> {
        let o = Zeroizing::new(check_pin_format(old)?);
        let n = Zeroizing::new(check_pin_format(new)?);
        self.call(&cmd::update_bpin(&o, &n)).map(drop)
    }

    /// GET STATUS (extension): PIN counters without spending a try.
    pub fn pin_status(&mut self) -> Result<PinStatus, Error> {
        match self.call(&cmd::get_status())?.as_slice() {
            [t, m, set, n, ver, ..] => Ok(PinStatus {
                tries_left: *t,
                max_tries: *m,
                pin_set: *set != 0,
                key_count: *n,
                verified: *ver != 0,
            }),
            _ => Err(Error::Malformed("GET STATUS answer too short")),
        }
    }

    /// EXPORT PUBKEYS: every record on the card, following `6300` pages (at most
    /// [`MAX_EXPORT_PAGES`], as Fluent).
    pub fn export_pubkeys(&mut self) -> Result<Vec<PubkeyRecord>, Error> {
        let mut buf = Vec::new();
        let mut resp = self.transmit(&cmd::export_pubkeys(false))?;
        let mut pages = 0;
        loop {
            match resp.sw {
                sw::OK => {
                    buf.extend_from_slice(&resp.data);
                    return parse_pubkey_records(&buf);
                }
                sw::MORE_DATA => buf.extend_from_slice(&resp.data),
                other => return Err(Error::from_status(other)),
            }
            pages += 1;
            if pages > MAX_EXPORT_PAGES {
                return Err(Error::Malformed("EXPORT PUBKEYS: too many pages"));
            }
            resp = self.transmit(&cmd::export_pubkeys(true))?;
        }
    }

    /// The Conflux (coin 503) secp256k1 keys: `(index, pubkey64)`, sorted by index.
    pub fn conflux_keys(&mut self) -> Result<Vec<(u8, [u8; 64])>, Error> {
        Ok(self
            .keys_of(&[COIN_CONFLUX])?
            .into_iter()
            .map(|k| (k.index, k.public))
            .collect())
    }

    /// The secp256k1 keys of these coin types (SLIP-44: 503 Conflux, 60 the Ethereum keys
    /// Fluent provisions), sorted by coin type and index.
    pub fn keys_of(&mut self, coins: &[u32]) -> Result<Vec<CardKeyId>, Error> {
        let mut keys: Vec<CardKeyId> = self
            .export_pubkeys()?
            .iter()
            .filter(|r| coins.contains(&r.coin) && r.index != 0)
            .filter_map(|r| {
                r.secp256k1_pub64().map(|public| CardKeyId {
                    coin: r.coin,
                    index: r.index,
                    public,
                })
            })
            .collect();
        keys.sort_by_key(|k| (k.coin, k.index));
        keys.dedup_by_key(|k| (k.coin, k.index));
        Ok(keys)
    }

    /// GENERATE a new Conflux secp256k1 key inside the card; returns it (found as the
    /// one key that was not there before, as Fluent re-reads the list after deriving).
    pub fn generate_key(&mut self) -> Result<(u8, [u8; 64]), Error> {
        self.generate_key_of(COIN_CONFLUX)
            .map(|k| (k.index, k.public))
    }

    /// GENERATE a new secp256k1 key of coin type `coin` inside the card.
    pub fn generate_key_of(&mut self, coin: u32) -> Result<CardKeyId, Error> {
        let before = self.keys_of(&[coin])?;
        self.call(&cmd::generate_key(coin, ALG_SECP256K1))?;
        let after = self.keys_of(&[coin])?;
        after
            .into_iter()
            .find(|k| !before.contains(k))
            .ok_or(Error::Malformed("no new key listed after GENERATE"))
    }

    /// SIGN a 32-byte hash with the Conflux key `index`, checked against `pubkey`.
    pub fn sign_hash(
        &mut self,
        index: u8,
        hash: &[u8; 32],
        pubkey: &[u8; 64],
    ) -> Result<CardSignature, Error> {
        self.sign_hash_of(COIN_CONFLUX, index, hash, pubkey)
    }

    /// SIGN a 32-byte hash with key `index` of coin type `coin`, checked against `pubkey`.
    pub fn sign_hash_of(
        &mut self,
        coin: u32,
        index: u8,
        hash: &[u8; 32],
        pubkey: &[u8; 64],
    ) -> Result<CardSignature, Error> {
        let der = self.call(&cmd::sign(coin, index, hash))?;
        let (r, s) = parse_der_signature(&der)?;
        check_signature(hash, r, s, pubkey, index)
    }

    /// GET ATTESTATION (extension) of the Conflux key `index`: 64 bytes `r ‖ s`.
    pub fn attestation(&mut self, index: u8) -> Result<[u8; 64], Error> {
        self.attestation_of(COIN_CONFLUX, index)
    }

    /// GET ATTESTATION (extension) of key `index` of coin type `coin`.
    pub fn attestation_of(&mut self, coin: u32, index: u8) -> Result<[u8; 64], Error> {
        self.call(&cmd::get_attestation(coin, index))?
            .as_slice()
            .try_into()
            .map_err(|_| Error::Malformed("attestation is not 64 bytes"))
    }
}
