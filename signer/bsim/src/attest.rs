//! Phone-number binding: an operator-style attestation that a public key was generated
//! inside the card with a given ICCID.
//!
//! The issuer (the mobile operator that provisioned the SIM) signs
//! `keccak256("cfxlight-bsim-attestation/v1" ‖ pubkey64 ‖ ICCID digits as ASCII)` with its
//! secp256k1 key; the 64-byte `r ‖ s` (low S) is stored on the card next to the key and
//! read with GET ATTESTATION. A host configured with the issuer's public key can then
//! require "keys generated inside a genuine card bound to this phone number".
//!
//! This format is this project's own: no public BSIM document describes an attestation.

use cfxlight_primitives::{crypto, hash::keccak256, H256};
use k256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, SigningKey, VerifyingKey};

use crate::error::Error;

/// Domain separator of the attested message.
pub const ATTESTATION_DOMAIN: &[u8] = b"cfxlight-bsim-attestation/v1";

/// The 32-byte hash the issuer signs for `pubkey` on the card `iccid`.
pub fn attestation_hash(pubkey: &[u8; 64], iccid: &str) -> [u8; 32] {
    let mut msg = Vec::with_capacity(ATTESTATION_DOMAIN.len() + 64 + iccid.len());
    msg.extend_from_slice(ATTESTATION_DOMAIN);
    msg.extend_from_slice(pubkey);
    msg.extend_from_slice(iccid.as_bytes());
    keccak256(&msg).0
}

/// The issuer's attestation of `pubkey` on `iccid`: 64 bytes `r ‖ s`, low S.
pub fn sign_attestation(
    issuer: &SigningKey,
    pubkey: &[u8; 64],
    iccid: &str,
) -> Result<[u8; 64], Error> {
    let sig = crypto::sign_hash(issuer, &H256(attestation_hash(pubkey, iccid)))
        .map_err(|_| Error::InvalidArgument("issuer key cannot sign".into()))?;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&sig.r.to_big_endian());
    out[32..].copy_from_slice(&sig.s.to_big_endian());
    Ok(out)
}

/// Checks that `sig` is `issuer_pub`'s attestation of `pubkey` on the card `iccid`.
///
/// `issuer_pub` and `pubkey` are 64-byte `x ‖ y`. High-S signatures are refused (the
/// issuer always signs low S), so an attestation has one valid encoding.
pub fn verify_attestation(
    issuer_pub: &[u8; 64],
    pubkey: &[u8; 64],
    iccid: &str,
    sig: &[u8; 64],
) -> Result<(), Error> {
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(issuer_pub);
    let vk = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| Error::AttestationInvalid)?;
    let sig = Signature::from_slice(sig).map_err(|_| Error::AttestationInvalid)?;
    if sig.normalize_s().is_some() {
        return Err(Error::AttestationInvalid);
    }
    vk.verify_prehash(&attestation_hash(pubkey, iccid), &sig)
        .map_err(|_| Error::AttestationInvalid)
}

/// The 64-byte `x ‖ y` public key of a secret key.
pub fn public_key(key: &SigningKey) -> [u8; 64] {
    crypto::public_of(key.verifying_key()).0
}
