//! [`BsimCard`]: the BSIM card seen from the host through PC/SC (pcsc-lite's pcscd).
//!
//! The client binds itself to the first card it talks to (its ICCID and the public keys of
//! the coin types in use: Conflux's 503, and 60 when asked for) and from then on:
//! - runs each operation inside one PC/SC transaction, so no other process's APDUs come
//!   between ours (`&mut self` serialises this process);
//! - before each operation looks at the reader's state: no card → [`Error::CardAbsent`];
//!   a changed card-event counter (removed and re-inserted) → reconnect, re-SELECT,
//!   re-read ICCID and keys and compare them with what it remembers: any difference is
//!   [`Error::WrongCard`] and the card is not used (tendermint/tmkms#173 does the same);
//! - survives a pcscd restart: on `SCARD_E_NO_SERVICE`, `INVALID_HANDLE` and kin the
//!   context is re-created (an old context never recovers, pcsc-rust#21);
//! - retries an operation at most once after such a reconnect (hardhat#7897), and never
//!   retries VERIFY PIN. After a reset the card has forgotten the PIN: signing then gives
//!   [`Error::PinRequired`], and the caller decides whether to ask for the PIN again.
//!
//! The PIN is taken as `Zeroizing<String>`, checked to be six digits before it is sent,
//! and never logged (no `Debug` of APDU data anywhere in this crate).

use std::{ffi::CString, time::Duration};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use zeroize::Zeroizing;

use crate::apdu::consts::COIN_CONFLUX;
use crate::applet::{Applet, CardKeyId, CardSignature, PinStatus, Transport};
use crate::error::Error;

/// How to find the card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BsimOptions {
    /// Reader name (exact, or a unique substring); `None` = first reader with a card.
    pub reader: Option<String>,
    /// Connect in exclusive mode (no other PC/SC client may use the card meanwhile).
    pub exclusive: bool,
    /// Coin types whose keys this client lists, uses and binds itself to (empty: 503,
    /// Conflux only; add 60 for the Ethereum keys Fluent provisions).
    pub coins: Vec<u32>,
}

impl BsimOptions {
    /// The coin types in use.
    fn coins(&self) -> Vec<u32> {
        if self.coins.is_empty() {
            vec![crate::apdu::consts::COIN_CONFLUX]
        } else {
            self.coins.clone()
        }
    }
}

/// What identifies the card this client is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    iccid: String,
    keys: Vec<CardKeyId>,
}

impl Identity {
    fn describe(&self) -> String {
        match self.keys.first() {
            Some(k) => format!(
                "ICCID {} with key {}:{} = {}…",
                self.iccid,
                k.coin,
                k.index,
                hex::encode(&k.public[..8])
            ),
            None => format!("ICCID {} (no keys)", self.iccid),
        }
    }

    /// `found` is the same card if its ICCID is ours and every key we know is unchanged.
    fn same_card(&self, found: &Identity) -> bool {
        self.iccid == found.iccid && self.keys.iter().all(|k| found.keys.contains(k))
    }
}

struct Conn {
    card: pcsc::Card,
    reader: CString,
    /// Card insert/remove counter of the reader when we connected (pcsc-lite keeps it in
    /// the upper 16 bits of `dwEventState`).
    events: u32,
}

/// A transport over an open PC/SC transaction.
struct PcscTx<'a, 'tx>(&'a pcsc::Transaction<'tx>);

impl Transport for PcscTx<'_, '_> {
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
        Ok(self.0.transmit(apdu, &mut buf)?.to_vec())
    }
}

/// Errors after which the card handle is useless but the context is fine.
fn card_gone(e: pcsc::Error) -> bool {
    use pcsc::Error::*;
    matches!(
        e,
        RemovedCard
            | ResetCard
            | NoSmartcard
            | UnpoweredCard
            | UnresponsiveCard
            | CommError
            | NotTransacted
            | Timeout
    )
}

/// Errors after which the context itself must be re-established (pcscd restarted).
fn service_gone(e: pcsc::Error) -> bool {
    use pcsc::Error::*;
    matches!(
        e,
        NoService
            | ServiceStopped
            | InvalidHandle
            | UnknownReader
            | ReaderUnavailable
            | NoReadersAvailable
            | Shutdown
            | CommDataLost
    )
}

/// A BSIM card in a PC/SC reader. See the module documentation for the guarantees.
pub struct BsimCard {
    opts: BsimOptions,
    ctx: Option<Context>,
    conn: Option<Conn>,
    identity: Option<Identity>,
}

impl std::fmt::Debug for BsimCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BsimCard")
            .field("reader", &self.reader())
            .field("iccid", &self.iccid())
            .finish()
    }
}

impl BsimCard {
    /// Finds the card (by reader name, or the first reader with a card), selects the
    /// applet, reads its ICCID and keys, and binds this client to it.
    pub fn connect(opts: BsimOptions) -> Result<BsimCard, Error> {
        let mut c = BsimCard {
            opts,
            ctx: None,
            conn: None,
            identity: None,
        };
        c.ensure_connected()?;
        Ok(c)
    }

    /// The reader the card is in (while connected).
    pub fn reader(&self) -> Option<String> {
        self.conn
            .as_ref()
            .map(|c| c.reader.to_string_lossy().into_owned())
    }

    /// The ICCID of the card this client is bound to (read at connect, checked on
    /// every reconnect).
    pub fn iccid(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.iccid.as_str())
    }

    /// The Conflux keys on the card: `(index, 64-byte public key)`, sorted by index.
    pub fn list_keys(&mut self) -> Result<Vec<(u8, [u8; 64])>, Error> {
        Ok(self
            .keys()?
            .into_iter()
            .filter(|k| k.coin == COIN_CONFLUX)
            .map(|k| (k.index, k.public))
            .collect())
    }

    /// The keys of the coin types in use ([`BsimOptions::coins`]), sorted by coin type and
    /// index.
    pub fn keys(&mut self) -> Result<Vec<CardKeyId>, Error> {
        let coins = self.opts.coins();
        self.run(true, |a, id| {
            let keys = a.keys_of(&coins)?;
            if !id.keys.iter().all(|k| keys.contains(k)) {
                // A key we knew vanished under the same connection: not our card.
                return Err(Error::WrongCard {
                    expected: id.describe(),
                    found: format!("ICCID {} with other keys", id.iccid),
                });
            }
            id.keys.clone_from(&keys);
            Ok(keys)
        })
    }

    /// Generates a new Conflux (coin 503) secp256k1 key inside the card; needs the PIN
    /// verified. Returns its index and public key. Not retried.
    pub fn generate_key(&mut self) -> Result<(u8, [u8; 64]), Error> {
        self.generate_key_of(COIN_CONFLUX)
            .map(|k| (k.index, k.public))
    }

    /// Generates a new secp256k1 key of coin type `coin` inside the card (as Fluent
    /// derives its coin-60 keys); needs the PIN verified. Not retried.
    pub fn generate_key_of(&mut self, coin: u32) -> Result<CardKeyId, Error> {
        let in_use = self.opts.coins().contains(&coin);
        self.run(false, |a, id| {
            let k = a.generate_key_of(coin)?;
            if in_use && !id.keys.contains(&k) {
                id.keys.push(k);
                id.keys.sort_by_key(|k| (k.coin, k.index));
            }
            Ok(k)
        })
    }

    /// VERIFY PIN (six ASCII digits, checked before sending). Never retried; a wrong PIN
    /// is [`Error::WrongPin`] with the tries left, a blocked one [`Error::PinBlocked`].
    pub fn verify_pin(&mut self, pin: &Zeroizing<String>) -> Result<(), Error> {
        crate::apdu::check_pin_format(pin)?;
        self.run(false, |a, _| a.verify_pin(pin))
    }

    /// [`Applet::verify_pin_guarded`] in one PC/SC transaction: GET STATUS, then VERIFY
    /// PIN only if the card has tries to spare. Never retried.
    pub fn verify_pin_guarded(&mut self, pin: &Zeroizing<String>) -> Result<(), Error> {
        crate::apdu::check_pin_format(pin)?;
        self.run(false, |a, _| a.verify_pin_guarded(pin))
    }

    /// PIN tries left and key count, without spending a try (GET STATUS extension).
    pub fn pin_status(&mut self) -> Result<PinStatus, Error> {
        self.run(true, |a, _| a.pin_status())
    }

    /// Applet version (GET VERSION).
    pub fn version(&mut self) -> Result<u16, Error> {
        self.run(true, |a, _| a.version())
    }

    /// Signs a 32-byte hash with key `index`: the DER answer parsed, S normalised low,
    /// the recovery id found by trial recovery, and the result checked to recover to the
    /// key's public key (else [`Error::SignatureMismatch`]).
    ///
    /// This is raw hash signing: the caller is responsible for what the hash means.
    pub fn sign_hash(&mut self, index: u8, hash: &[u8; 32]) -> Result<CardSignature, Error> {
        self.sign_hash_of(COIN_CONFLUX, index, hash)
    }

    /// [`Self::sign_hash`] with key `index` of coin type `coin` (one of those in use).
    pub fn sign_hash_of(
        &mut self,
        coin: u32,
        index: u8,
        hash: &[u8; 32],
    ) -> Result<CardSignature, Error> {
        let coins = self.opts.coins();
        if !coins.contains(&coin) {
            return Err(Error::InvalidArgument(format!(
                "coin type {coin} is not in use on this client (in use: {coins:?})"
            )));
        }
        self.run(true, |a, id| {
            let pk = match id.keys.iter().find(|k| k.coin == coin && k.index == index) {
                Some(k) => k.public,
                None => {
                    let keys = a.keys_of(&coins)?;
                    let pk = keys
                        .iter()
                        .find(|k| k.coin == coin && k.index == index)
                        .map(|k| k.public)
                        .ok_or(Error::KeyNotFound)?;
                    for k in keys {
                        if !id.keys.contains(&k) {
                            id.keys.push(k);
                        }
                    }
                    pk
                }
            };
            a.sign_hash_of(coin, index, hash, &pk)
        })
    }

    /// The issuer's attestation of key `index` (64 bytes `r ‖ s`); check it with
    /// [`crate::verify_attestation`] against the issuer key you trust and [`Self::iccid`].
    pub fn attestation(&mut self, index: u8) -> Result<[u8; 64], Error> {
        self.attestation_of(COIN_CONFLUX, index)
    }

    /// [`Self::attestation`] of key `index` of coin type `coin`.
    pub fn attestation_of(&mut self, coin: u32, index: u8) -> Result<[u8; 64], Error> {
        self.run(true, |a, _| a.attestation_of(coin, index))
    }

    /// Runs `op` in one PC/SC transaction; after a lost card or service, reconnects and
    /// (if `retry`) runs it once more.
    fn run<R>(
        &mut self,
        retry: bool,
        mut op: impl FnMut(&mut Applet<PcscTx<'_, '_>>, &mut Identity) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match self.run_once(&mut op) {
            Err(Error::Pcsc(e)) if card_gone(e) || service_gone(e) => {
                if retry {
                    self.run_once(&mut op)
                } else {
                    // Not retried (VERIFY PIN, GENERATE): report absence if that is
                    // what happened, else the PC/SC error.
                    self.ensure_connected()?;
                    Err(Error::Pcsc(e))
                }
            }
            r => r,
        }
    }

    fn run_once<R>(
        &mut self,
        op: &mut impl FnMut(&mut Applet<PcscTx<'_, '_>>, &mut Identity) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.ensure_connected()?;
        let (Some(conn), Some(id)) = (self.conn.as_mut(), self.identity.as_mut()) else {
            return Err(Error::CardAbsent(String::new()));
        };
        let result = match conn.card.transaction() {
            Ok(tx) => {
                let mut applet = Applet::new(PcscTx(&tx));
                let r = op(&mut applet, id);
                // Ending can fail if the card went away meanwhile; the op's result says
                // more, and the next call reconnects.
                let _ = tx.end(Disposition::LeaveCard);
                r
            }
            Err(e) => Err(Error::Pcsc(e)),
        };
        if let Err(Error::Pcsc(e)) = &result {
            self.forget(*e);
        }
        result
    }

    /// Drops what a PC/SC error made useless.
    fn forget(&mut self, e: pcsc::Error) {
        if card_gone(e) || service_gone(e) {
            self.conn = None;
        }
        if service_gone(e) {
            self.ctx = None;
        }
    }

    fn context(&mut self) -> Result<&Context, Error> {
        if self.ctx.is_none() {
            self.ctx = Some(Context::establish(Scope::User)?);
        }
        self.ctx
            .as_ref()
            .ok_or_else(|| Error::NoReader(": no PC/SC context".into()))
    }

    /// Makes sure we hold a handle to *our* card: checks the reader state, reconnects
    /// after a card event, and verifies the card's identity.
    fn ensure_connected(&mut self) -> Result<(), Error> {
        match self.check_connection() {
            Err(Error::Pcsc(e)) if service_gone(e) => {
                self.forget(e);
                self.check_connection()
            }
            r => r,
        }
    }

    fn check_connection(&mut self) -> Result<(), Error> {
        if let Some(conn) = &self.conn {
            let reader = conn.reader.clone();
            let events = conn.events;
            let (present, now) = reader_state(self.context()?, &reader)?;
            if !present {
                self.conn = None;
                return Err(Error::CardAbsent(reader.to_string_lossy().into_owned()));
            }
            if now == events {
                return Ok(());
            }
            // Removed and re-inserted since we connected: reconnect and re-identify.
            self.conn = None;
        }
        let share = if self.opts.exclusive {
            ShareMode::Exclusive
        } else {
            ShareMode::Shared
        };
        let wanted = self.opts.reader.clone();
        let (reader, events) = pick_reader(self.context()?, wanted.as_deref())?;
        let card = match self.context()?.connect(&reader, share, Protocols::ANY) {
            Ok(c) => c,
            Err(pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard) => {
                return Err(Error::CardAbsent(reader.to_string_lossy().into_owned()))
            }
            Err(e) => return Err(e.into()),
        };
        let mut conn = Conn {
            card,
            reader,
            events,
        };
        let coins = self.opts.coins();
        let found = {
            let tx = conn.card.transaction()?;
            let mut a = Applet::new(PcscTx(&tx));
            // ICCID first: selecting its applet deselects BSIM; SELECT BSIM last.
            let iccid = a.read_iccid()?;
            a.select()?;
            let keys = a.keys_of(&coins)?;
            let _ = tx.end(Disposition::LeaveCard);
            Identity { iccid, keys }
        };
        match &mut self.identity {
            None => self.identity = Some(found),
            Some(id) if id.same_card(&found) => id.keys = found.keys,
            Some(id) => {
                let _ = conn.card.disconnect(Disposition::LeaveCard);
                return Err(Error::WrongCard {
                    expected: id.describe(),
                    found: found.describe(),
                });
            }
        }
        self.conn = Some(conn);
        Ok(())
    }
}

/// `(card present, card event counter)` of one reader, without waiting.
fn reader_state(ctx: &Context, reader: &CString) -> Result<(bool, u32), Error> {
    let mut rs = [ReaderState::new(reader.clone(), State::UNAWARE)];
    ctx.get_status_change(Duration::ZERO, &mut rs)?;
    let st = rs[0].event_state();
    let present = st.contains(State::PRESENT) && !st.contains(State::MUTE);
    Ok((present, rs[0].event_count()))
}

/// The reader to use: the one named (exact name, else a unique substring), or the first
/// with a card in it.
fn pick_reader(ctx: &Context, wanted: Option<&str>) -> Result<(CString, u32), Error> {
    let readers = match ctx.list_readers_owned() {
        Ok(r) => r,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    if readers.is_empty() {
        return Err(Error::NoReader(
            " (is pcscd running with a reader driver?)".into(),
        ));
    }
    if let Some(name) = wanted {
        let exact = readers.iter().find(|r| r.to_bytes() == name.as_bytes());
        let partial: Vec<_> = readers
            .iter()
            .filter(|r| r.to_string_lossy().contains(name))
            .collect();
        let reader = match (exact, partial.as_slice()) {
            (Some(r), _) => r.clone(),
            (None, [r]) => (*r).clone(),
            _ => return Err(Error::NoReader(format!(" named {name:?}"))),
        };
        let (present, events) = reader_state(ctx, &reader)?;
        if !present {
            return Err(Error::CardAbsent(name.to_string()));
        }
        return Ok((reader, events));
    }
    for r in &readers {
        let (present, events) = reader_state(ctx, r)?;
        if present {
            return Ok((r.clone(), events));
        }
    }
    let names: Vec<_> = readers.iter().map(|r| r.to_string_lossy()).collect();
    Err(Error::CardAbsent(names.join(", ")))
}
