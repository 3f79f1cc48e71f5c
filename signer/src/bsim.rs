//! The BSIM card as a [`Signer`]: the card keeps the keys, the host only asks it to sign
//! the digest this crate computed, and checks the answer before it leaves.
//!
//! Each key on the card is an account (coin type 503, indexes from 1; with `coins=503+60`
//! also the coin-type 60 keys Fluent provisions, as Core accounts of the same keys). The card client
//! (`cfxlight-bsim`) holds one PC/SC exchange at a time, detects a removed or swapped card
//! and re-reads the public keys after any reconnect; here every signature is additionally
//! recovered and compared with the account's public key. PC/SC calls block: `open` blocks
//! (call it from a blocking context), signing runs on the blocking pool. The PIN is verified
//! at open and kept in zeroizing memory: a card pulled and put back asks for it again
//! (the client re-checked its keys first, so it is the same card), and an unattended node
//! re-verifies it once. A PIN the card refuses is forgotten at once, so a changed PIN can
//! never burn the card's remaining tries. Across restarts nothing is remembered, so the
//! card is asked instead: every VERIFY (at open and after a re-insert) is preceded by GET
//! STATUS, and the PIN is not sent when the card has only one try left
//! ([`SignerError::PinLastTry`]): a wrong `--pin-file` under an automatic restart costs at
//! most the tries down to one, never the card. [`ENV_SPEND_LAST_TRY`]` = 1` lifts that
//! for the run it is set in (after the user has checked the PIN); never after a re-insert.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cfxlight_bsim::{BsimCard, BsimOptions, CardKeyId, Error as CardError};
use cfxlight_primitives::{H160, H256, H512};
use zeroize::Zeroizing;

use crate::{
    error::SignerError,
    signer::{check_signature, Account, SignRequest, Signer, VerifiedSignature},
};

/// Environment variable that lets [`BsimSigner::open`] and [`BsimSigner::generate_key`]
/// spend the card's last PIN try (`1`), for one run after the user checked the PIN.
pub const ENV_SPEND_LAST_TRY: &str = "CFXLIGHT_BSIM_SPEND_LAST_TRY";

/// VERIFY PIN at open or generate: guarded by the card's tries left unless the user set
/// [`ENV_SPEND_LAST_TRY`].
fn verify_at_start(card: &mut BsimCard, pin: &Zeroizing<String>) -> Result<(), CardError> {
    if std::env::var(ENV_SPEND_LAST_TRY).is_ok_and(|v| v == "1") {
        card.verify_pin(pin)
    } else {
        card.verify_pin_guarded(pin)
    }
}

/// Options of the `bsim` backend (`bsim`, `bsim:reader=<name>`, `bsim:coins=503+60`).
#[derive(Debug, Clone, Default)]
pub struct BsimSpec {
    /// Reader name; the first reader with a card when absent.
    pub reader: Option<String>,
    /// Coin types whose keys are accounts (empty: 503 only). Cards provisioned by Fluent
    /// hold coin-type 60 keys; with 60 here they are Core accounts too (the same
    /// secp256k1 key, its Core address).
    pub coins: Vec<u32>,
    /// Refuse the card unless every key's issuer attestation (by this 64-byte public key)
    /// binds it to the card's ICCID.
    pub require_attestation: Option<[u8; 64]>,
}

/// A BSIM card behind the [`Signer`] trait.
pub struct BsimSigner {
    card: Arc<Mutex<BsimCard>>,
    chain_id: u32,
    reader: Option<String>,
    /// (coin type, index) of each account's key.
    accounts: Vec<((u32, u8), Account)>,
    pin: Arc<Mutex<Option<Zeroizing<String>>>>,
}

fn map_card_error(e: CardError, reader: &Option<String>) -> SignerError {
    match e {
        CardError::CardAbsent(_) | CardError::NoReader(_) => SignerError::CardAbsent {
            reader: reader.clone(),
        },
        CardError::PinRequired => SignerError::PinRequired,
        CardError::WrongPin { tries_left } => SignerError::WrongPin { tries_left },
        CardError::PinBlocked => SignerError::PinBlocked { tries_left: 0 },
        CardError::PinLastTry { tries_left } => SignerError::PinLastTry { tries_left },
        CardError::WrongCard { expected, found } => SignerError::WrongCard { expected, found },
        other => SignerError::Backend(format!("BSIM card: {other}")),
    }
}

impl BsimSigner {
    /// Connects to the card, verifies the PIN (when given, and only if the card has more
    /// than one try left) and reads its accounts. Blocks.
    pub fn open(
        spec: BsimSpec,
        chain_id: u32,
        pin: Option<Zeroizing<String>>,
    ) -> Result<BsimSigner, SignerError> {
        let reader = spec.reader.clone();
        let open = || -> Result<(BsimCard, Vec<CardKeyId>), CardError> {
            let mut card = BsimCard::connect(BsimOptions {
                reader: spec.reader.clone(),
                coins: spec.coins.clone(),
                ..BsimOptions::default()
            })?;
            if let Some(pin) = &pin {
                verify_at_start(&mut card, pin)?;
            }
            let keys = card.keys()?;
            Ok((card, keys))
        };
        let (mut card, keys) = open().map_err(|e| map_card_error(e, &reader))?;
        if let Some(issuer) = &spec.require_attestation {
            // A key the issuer did not attest on this very card (its ICCID) is not used:
            // it could have been generated anywhere, or the card swapped.
            let iccid = card.iccid().map(str::to_string).ok_or_else(|| {
                SignerError::Backend("attestation required, but the card reports no ICCID".into())
            })?;
            for k in &keys {
                let att = card
                    .attestation_of(k.coin, k.index)
                    .map_err(|e| map_card_error(e, &reader))?;
                cfxlight_bsim::verify_attestation(issuer, &k.public, &iccid, &att).map_err(|_| {
                    SignerError::Backend(format!(
                        "key {}:{} on card {iccid} has no valid attestation by the required issuer: refused",
                        k.coin, k.index
                    ))
                })?;
            }
        }
        let accounts = keys
            .into_iter()
            .map(|k| {
                (
                    (k.coin, k.index),
                    Account::from_public(H512::from(k.public)),
                )
            })
            .collect();
        Ok(BsimSigner {
            card: Arc::new(Mutex::new(card)),
            chain_id,
            reader,
            accounts,
            pin: Arc::new(Mutex::new(pin)),
        })
    }

    /// Generates a new key inside the card (after verifying the PIN) and returns its account.
    pub fn generate_key(spec: BsimSpec, pin: &Zeroizing<String>) -> Result<Account, SignerError> {
        let reader = spec.reader.clone();
        let run = || -> Result<[u8; 64], CardError> {
            let mut card = BsimCard::connect(BsimOptions {
                reader: spec.reader.clone(),
                ..BsimOptions::default()
            })?;
            verify_at_start(&mut card, pin)?;
            Ok(card.generate_key()?.1)
        };
        let public = run().map_err(|e| map_card_error(e, &reader))?;
        Ok(Account::from_public(H512::from(public)))
    }

    fn account(&self, from: &H160) -> Result<((u32, u8), Account), SignerError> {
        self.accounts
            .iter()
            .find(|(_, a)| a.address == *from)
            .cloned()
            .ok_or(SignerError::UnknownAccount(*from))
    }
}

#[async_trait]
impl Signer for BsimSigner {
    fn chain_id(&self) -> u32 {
        self.chain_id
    }

    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        Ok(self.accounts.iter().map(|(_, a)| *a).collect())
    }

    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        // Raw hashes only with an explicit opt-in, which this backend never gives: no blind
        // signing on a hardware key.
        req.check_basic(self.chain_id, false)?;
        let ((coin, index), account) = self.account(&req.from())?;
        let digest: H256 = req.digest();
        let card = self.card.clone();
        let reader = self.reader.clone();
        let pin = self.pin.clone();
        let sig = tokio::task::spawn_blocking(move || {
            let mut card = card
                .lock()
                .map_err(|_| SignerError::Backend("card lock poisoned".into()))?;
            match card.sign_hash_of(coin, index, &digest.0) {
                Err(CardError::PinRequired) => {
                    // Re-inserted: verify the PIN we hold, once, then sign once more.
                    let mut held = pin
                        .lock()
                        .map_err(|_| SignerError::Backend("PIN lock poisoned".into()))?;
                    let Some(p) = held.as_ref() else {
                        return Err(SignerError::PinRequired);
                    };
                    // Unattended: never spend the last try, whatever the environment says.
                    if let Err(e) = card.verify_pin_guarded(p) {
                        // Kept on `PinLastTry`: nothing was sent, and it verified at open.
                        if matches!(e, CardError::WrongPin { .. } | CardError::PinBlocked) {
                            *held = None;
                        }
                        return Err(map_card_error(e, &reader));
                    }
                    drop(held);
                    card.sign_hash_of(coin, index, &digest.0)
                        .map_err(|e| map_card_error(e, &reader))
                }
                r => r.map_err(|e| map_card_error(e, &reader)),
            }
        })
        .await
        .map_err(|e| SignerError::Backend(format!("card task failed: {e}")))??;
        check_signature(&account, &digest, &sig.to_conflux())
    }
}
