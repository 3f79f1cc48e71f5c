//! The `Signer` trait: one required signing method, everything else by default.
//!
//! Modelled on alloy's signer crate (`crates/signer/src/signer.rs`), adapted to Conflux
//! core space and to hardware that signs hashes:
//! - the one required method, [`Signer::sign_request`], receives the *content* being signed
//!   (a transaction, a message, typed data) together with the digest computed from it, so a
//!   backend or a wrapper (policy, audit) can judge what it signs instead of a bare hash;
//! - [`SignRequest`]'s constructors compute the digest themselves: a caller cannot pair a
//!   harmless-looking transaction with another digest;
//! - raw hash signing ([`Signer::sign_hash`]) is refused unless the backend was configured
//!   for it (alloy's Ledger and Trezor signers refuse it outright);
//! - every signature is checked against the account's public key before it leaves a
//!   backend ([`complete_signature`], [`check_signature`]), the recovery id is found by trial
//!   recovery and S is normalised low (checklist in `shared/docs/bsim-and-signers.md` §6);
//!   the check's result is a [`VerifiedSignature`], which only those two functions build,
//!   so the layers above (policy, audit, the node's RPC) compare addresses and digests
//!   instead of recovering the key again.
//!
//! The trait uses `async_trait` so that backends can be chosen at run time as
//! `Box<dyn Signer>` / `Arc<dyn Signer>` (native `async fn` in traits is not object safe).

use std::{fmt, ops::Deref, str::FromStr, sync::Arc};

use async_trait::async_trait;
use cfxlight_primitives::{
    crypto::{public_to_address, recover, Signature},
    transaction::{SignedTransaction, Transaction},
    H160, H256, H512, U256,
};
use k256::ecdsa::Signature as EcdsaSignature;
use serde::{Deserialize, Serialize};

use crate::{error::SignerError, message::personal_message_hash, typed_data::TypedData};

/// One account a signer can sign for: its Conflux address and the public key behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Account {
    /// The Conflux (core space) address, `0x1…` for user accounts.
    pub address: H160,
    /// The 64-byte uncompressed public key, without the `0x04` prefix.
    pub public: H512,
}

impl Account {
    /// The account of a public key (its address is derived, never taken on trust).
    pub fn from_public(public: H512) -> Self {
        Account {
            address: public_to_address(&public),
            public,
        }
    }
}

/// The kind of signing operation, as named in policy files and audit lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A native core-space transaction.
    SignTransaction,
    /// A personal message (`cfx_sign`, Conflux prefix).
    SignMessage,
    /// CIP-23 typed data.
    SignTypedData,
    /// A raw 32-byte hash (blind signing; opt-in only).
    SignHash,
}

impl Method {
    /// The method's name as written in policy files and audit lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::SignTransaction => "sign_transaction",
            Method::SignMessage => "sign_message",
            Method::SignTypedData => "sign_typed_data",
            Method::SignHash => "sign_hash",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sign_transaction" => Ok(Method::SignTransaction),
            "sign_message" => Ok(Method::SignMessage),
            "sign_typed_data" => Ok(Method::SignTypedData),
            "sign_hash" => Ok(Method::SignHash),
            other => Err(format!(
                "unknown method `{other}` (known: sign_transaction, sign_message, sign_typed_data, sign_hash)"
            )),
        }
    }
}

/// What is being signed, kept next to its digest so policy and audit can see it.
#[derive(Debug, Clone, Copy)]
pub enum SignPayload<'a> {
    /// A native transaction; the digest is its signing hash.
    Transaction(&'a Transaction),
    /// A personal message; the digest is keccak of the Conflux-prefixed message.
    Message(&'a [u8]),
    /// CIP-23 typed data; the digest is its CIP-23 hash.
    TypedData(&'a TypedData),
    /// A raw hash given by the caller (blind signing).
    Hash,
}

/// A request to sign: account, content, and the digest computed from the content.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    from: H160,
    payload: SignPayload<'a>,
    digest: H256,
}

impl<'a> SignRequest<'a> {
    /// A transaction request; the digest is `tx.signing_hash()`.
    pub fn transaction(from: H160, tx: &'a Transaction) -> Self {
        SignRequest {
            from,
            payload: SignPayload::Transaction(tx),
            digest: tx.signing_hash(),
        }
    }

    /// A personal-message request; the digest is [`personal_message_hash`].
    pub fn message(from: H160, message: &'a [u8]) -> Self {
        SignRequest {
            from,
            payload: SignPayload::Message(message),
            digest: personal_message_hash(message),
        }
    }

    /// A CIP-23 request; fails if the typed data cannot be encoded.
    pub fn typed_data(from: H160, data: &'a TypedData) -> Result<Self, SignerError> {
        Ok(SignRequest {
            from,
            payload: SignPayload::TypedData(data),
            digest: data.hash()?,
        })
    }

    /// A raw-hash request (only honoured by backends configured for blind signing).
    pub fn hash(from: H160, hash: H256) -> Self {
        SignRequest {
            from,
            payload: SignPayload::Hash,
            digest: hash,
        }
    }

    /// The account asked to sign.
    pub fn from(&self) -> H160 {
        self.from
    }

    /// The content being signed.
    pub fn payload(&self) -> SignPayload<'a> {
        self.payload
    }

    /// The 32-byte digest the signature is over.
    pub fn digest(&self) -> H256 {
        self.digest
    }

    /// Which method this request is.
    pub fn method(&self) -> Method {
        match self.payload {
            SignPayload::Transaction(_) => Method::SignTransaction,
            SignPayload::Message(_) => Method::SignMessage,
            SignPayload::TypedData(_) => Method::SignTypedData,
            SignPayload::Hash => Method::SignHash,
        }
    }

    /// The rules every backend applies before touching a key: a transaction must be for
    /// `chain_id`, a raw hash needs `blind_signing`.
    pub fn check_basic(&self, chain_id: u32, blind_signing: bool) -> Result<(), SignerError> {
        match self.payload {
            SignPayload::Transaction(tx) if tx.chain_id != chain_id => {
                Err(SignerError::WrongChainId {
                    expected: chain_id,
                    actual: tx.chain_id,
                })
            }
            SignPayload::Hash if !blind_signing => Err(SignerError::BlindSigningDisabled),
            _ => Ok(()),
        }
    }
}

/// A signature known to recover [`digest`](Self::digest) to [`signer`](Self::signer)'s
/// public key. Its fields are private and only [`check_signature`] and
/// [`complete_signature`] build one, so whoever holds it can trust it without recovering
/// the key again; [`VerifiedSignature::is_for`] ties it to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    signature: Signature,
    digest: H256,
    signer: H160,
}

impl VerifiedSignature {
    /// The signature itself.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The signature, giving up the proof of checking.
    pub fn into_signature(self) -> Signature {
        self.signature
    }

    /// The account whose key made it.
    pub fn signer(&self) -> H160 {
        self.signer
    }

    /// The digest it signs.
    pub fn digest(&self) -> H256 {
        self.digest
    }

    /// Whether it is the signature `req` asked for: `req.from()`'s key over `req.digest()`.
    pub fn is_for(&self, req: &SignRequest<'_>) -> bool {
        self.signer == req.from() && self.digest == req.digest()
    }
}

impl Deref for VerifiedSignature {
    type Target = Signature;
    fn deref(&self) -> &Signature {
        &self.signature
    }
}

/// A Conflux core-space signer: a card, a keystore, a token, or a wrapper around one.
///
/// Implementors provide [`Signer::chain_id`], [`Signer::accounts`] and
/// [`Signer::sign_request`]; the typed methods are defaults built on them.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The core-space chain id this signer is bound to; transactions for others are refused.
    fn chain_id(&self) -> u32;

    /// Whether raw hash signing was explicitly enabled for this signer (off by default).
    fn blind_signing_enabled(&self) -> bool {
        false
    }

    /// The accounts this signer can sign for.
    async fn accounts(&self) -> Result<Vec<Account>, SignerError>;

    /// Signs one request. Implementations must call [`SignRequest::check_basic`], sign
    /// `req.digest()` with the key of `req.from()`, and return the [`VerifiedSignature`]
    /// that [`complete_signature`] / [`check_signature`] make of the backend's answer.
    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError>;

    /// Signs a native transaction from `from`; the signing hash is computed here.
    async fn sign_transaction(
        &self,
        from: &H160,
        tx: &Transaction,
    ) -> Result<SignedTransaction, SignerError> {
        if tx.chain_id != self.chain_id() {
            return Err(SignerError::WrongChainId {
                expected: self.chain_id(),
                actual: tx.chain_id,
            });
        }
        let req = SignRequest::transaction(*from, tx);
        let sig = self.sign_request(&req).await?;
        if !sig.is_for(&req) {
            return Err(SignerError::SignatureCheckFailed(*from));
        }
        Ok(tx.clone().with_signature(sig.into_signature()))
    }

    /// Signs a personal message (`"\x19Conflux Signed Message:\n" ‖ len ‖ message`).
    async fn sign_message(
        &self,
        from: &H160,
        message: &[u8],
    ) -> Result<VerifiedSignature, SignerError> {
        self.sign_request(&SignRequest::message(*from, message))
            .await
    }

    /// Signs CIP-23 typed data.
    async fn sign_typed_data(
        &self,
        from: &H160,
        data: &TypedData,
    ) -> Result<VerifiedSignature, SignerError> {
        self.sign_request(&SignRequest::typed_data(*from, data)?)
            .await
    }

    /// Signs a raw hash; refused with [`SignerError::BlindSigningDisabled`] unless enabled.
    async fn sign_hash(&self, from: &H160, hash: &H256) -> Result<VerifiedSignature, SignerError> {
        if !self.blind_signing_enabled() {
            return Err(SignerError::BlindSigningDisabled);
        }
        self.sign_request(&SignRequest::hash(*from, *hash)).await
    }
}

#[async_trait]
impl<S: Signer + ?Sized> Signer for Box<S> {
    fn chain_id(&self) -> u32 {
        (**self).chain_id()
    }
    fn blind_signing_enabled(&self) -> bool {
        (**self).blind_signing_enabled()
    }
    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        (**self).accounts().await
    }
    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        (**self).sign_request(req).await
    }
}

#[async_trait]
impl<S: Signer + ?Sized> Signer for Arc<S> {
    fn chain_id(&self) -> u32 {
        (**self).chain_id()
    }
    fn blind_signing_enabled(&self) -> bool {
        (**self).blind_signing_enabled()
    }
    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        (**self).accounts().await
    }
    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        (**self).sign_request(req).await
    }
}

/// Turns a bare `(r, s)` signature from a backend (a card's DER answer, a token's `r‖s`)
/// into a Conflux signature for `account`: S normalised low, the recovery id found by
/// trial recovery; refused if neither parity recovers the account's public key.
pub fn complete_signature(
    account: &Account,
    digest: &H256,
    sig: &EcdsaSignature,
) -> Result<VerifiedSignature, SignerError> {
    // normalize_s returns None when s is already low (ecdsa 0.16).
    let sig = sig.normalize_s().unwrap_or(*sig);
    let (r, s) = sig.split_bytes();
    let (r, s) = (U256::from_big_endian(&r), U256::from_big_endian(&s));
    for v in [0u8, 1] {
        let candidate = Signature { v, r, s };
        if recover(digest, &candidate).ok() == Some(account.public) {
            return Ok(VerifiedSignature {
                signature: candidate,
                digest: *digest,
                signer: public_to_address(&account.public),
            });
        }
    }
    Err(SignerError::SignatureCheckFailed(account.address))
}

/// Checks that a complete signature over `digest` recovers to `account`'s public key.
pub fn check_signature(
    account: &Account,
    digest: &H256,
    sig: &Signature,
) -> Result<VerifiedSignature, SignerError> {
    match recover(digest, sig) {
        Ok(public) if public == account.public => Ok(VerifiedSignature {
            signature: *sig,
            digest: *digest,
            signer: public_to_address(&account.public),
        }),
        _ => Err(SignerError::SignatureCheckFailed(account.address)),
    }
}

/// The 65-byte `r ‖ s ‖ v` form (v = 0 or 1) that js-conflux-sdk's `Message.sign` prints.
pub fn signature_to_bytes(sig: &Signature) -> [u8; 65] {
    let mut out = [0u8; 65];
    out[..32].copy_from_slice(&sig.r.to_big_endian());
    out[32..64].copy_from_slice(&sig.s.to_big_endian());
    out[64] = sig.v;
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cfxlight_primitives::crypto::{public_of, sign_hash, signing_key};

    fn account(secret: u8) -> (k256::ecdsa::SigningKey, Account) {
        let key = signing_key(&[secret; 32]).unwrap();
        let public = public_of(key.verifying_key());
        (key, Account::from_public(public))
    }

    #[test]
    fn a_verified_signature_names_the_key_that_made_it_not_the_account_claimed() {
        let (key, me) = account(7);
        let (_, other) = account(8);
        let digest = H256::repeat_byte(0x42);
        let sig = sign_hash(&key, &digest).unwrap();
        let v = check_signature(&me, &digest, &sig).unwrap();
        assert_eq!(
            (v.signer(), v.digest(), *v.signature()),
            (me.address, digest, sig)
        );
        assert!(v.is_for(&SignRequest::hash(me.address, digest)));
        assert!(!v.is_for(&SignRequest::hash(me.address, H256::repeat_byte(1))));
        assert!(!v.is_for(&SignRequest::hash(other.address, digest)));
        assert!(matches!(
            check_signature(&other, &digest, &sig),
            Err(SignerError::SignatureCheckFailed(a)) if a == other.address
        ));
        // An account whose address was set by hand to someone else's: the signature still
        // names the key's own address.
        let forged = Account {
            address: other.address,
            public: me.public,
        };
        assert_eq!(
            check_signature(&forged, &digest, &sig).unwrap().signer(),
            me.address
        );
        // complete_signature finds the parity of a bare (r, s) and builds the same proof.
        let (r, s) = (sig.r.to_big_endian(), sig.s.to_big_endian());
        let bare = EcdsaSignature::from_scalars(r, s).unwrap();
        assert_eq!(complete_signature(&me, &digest, &bare).unwrap(), v);
        assert!(complete_signature(&other, &digest, &bare).is_err());
    }
}
