//! Parity-style ECIES as conflux-rust uses it in the handshake (`crates/cfx_crypto/src/crypto.rs`).
//!
//! `0x04 ‖ ephemeral_pub(64) ‖ iv(16) ‖ AES-128-CTR(ekey, iv, plain) ‖ HMAC-SHA256(mkey, iv ‖ ct)`
//! with `k = SHA256(00000001 ‖ X)` of the raw ECDH x-coordinate, `ekey = k[..16]` and
//! `mkey = SHA256(k[16..])`. 113 bytes of overhead.

use aes::cipher::{KeyIvInit, StreamCipher};
use cfxlight_primitives::H512;
use hmac::{Hmac, Mac};
use k256::{ecdh::diffie_hellman, elliptic_curve::sec1::ToEncodedPoint, PublicKey, SecretKey};
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Bytes ECIES adds to a plaintext.
pub const OVERHEAD: usize = 1 + 64 + 16 + 32;

/// Why a message could not be decrypted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EciesError {
    /// Too short, or not starting with an uncompressed point.
    #[error("malformed ECIES message")]
    Malformed,
    /// The ephemeral public key is not on the curve.
    #[error("invalid ephemeral public key")]
    BadPublicKey,
    /// The MAC does not verify: corrupted, or not for our key.
    #[error("ECIES MAC mismatch")]
    BadMac,
}

/// Parses a 64-byte node id into a public key.
pub fn public_key(id: &H512) -> Option<PublicKey> {
    let mut sec1 = [0u8; 65];
    sec1[0] = 4;
    sec1[1..].copy_from_slice(id.as_bytes());
    PublicKey::from_sec1_bytes(&sec1).ok()
}

/// The 64-byte node id of a public key.
pub fn node_id(pk: &PublicKey) -> H512 {
    H512::from_slice(&pk.to_encoded_point(false).as_bytes()[1..])
}

fn keys(shared_x: &[u8]) -> ([u8; 16], [u8; 32]) {
    let mut h = Sha256::new();
    h.update([0, 0, 0, 1]);
    h.update(shared_x);
    let k = h.finalize();
    let mut ekey = [0u8; 16];
    ekey.copy_from_slice(&k[..16]);
    let mkey: [u8; 32] = Sha256::digest(&k[16..32]).into();
    (ekey, mkey)
}

fn mac(mkey: &[u8; 32], iv: &[u8], ct: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(mkey).expect("HMAC takes any key length");
    m.update(iv);
    m.update(ct);
    m
}

/// Encrypts `plain` to `to`.
pub fn encrypt(to: &PublicKey, plain: &[u8]) -> Vec<u8> {
    let eph = SecretKey::random(&mut rand::rngs::OsRng);
    let shared = diffie_hellman(eph.to_nonzero_scalar(), to.as_affine());
    let (ekey, mkey) = keys(shared.raw_secret_bytes());
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let mut ct = plain.to_vec();
    Aes128Ctr::new(&ekey.into(), &iv.into()).apply_keystream(&mut ct);
    let tag = mac(&mkey, &iv, &ct).finalize().into_bytes();
    let mut out = Vec::with_capacity(OVERHEAD + plain.len());
    out.extend_from_slice(eph.public_key().to_encoded_point(false).as_bytes());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    out
}

/// Decrypts a message encrypted to `key`, checking its MAC first.
pub fn decrypt(key: &SecretKey, data: &[u8]) -> Result<Vec<u8>, EciesError> {
    if data.len() < OVERHEAD || data[0] != 4 {
        return Err(EciesError::Malformed);
    }
    let eph = PublicKey::from_sec1_bytes(&data[..65]).map_err(|_| EciesError::BadPublicKey)?;
    let (iv, rest) = data[65..].split_at(16);
    let (ct, tag) = rest.split_at(rest.len() - 32);
    let shared = diffie_hellman(key.to_nonzero_scalar(), eph.as_affine());
    let (ekey, mkey) = keys(shared.raw_secret_bytes());
    mac(&mkey, iv, ct)
        .verify_slice(tag)
        .map_err(|_| EciesError::BadMac)?;
    let mut plain = ct.to_vec();
    let iv: [u8; 16] = iv.try_into().map_err(|_| EciesError::Malformed)?;
    Aes128Ctr::new(&ekey.into(), &iv.into()).apply_keystream(&mut plain);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = SecretKey::random(&mut rand::rngs::OsRng);
        let msg = b"node id and nonce";
        let mut enc = encrypt(&key.public_key(), msg);
        assert_eq!(enc.len(), OVERHEAD + msg.len());
        assert_eq!(decrypt(&key, &enc).unwrap(), msg);
        let other = SecretKey::random(&mut rand::rngs::OsRng);
        assert_eq!(decrypt(&other, &enc), Err(EciesError::BadMac));
        enc[70] ^= 1;
        assert_eq!(decrypt(&key, &enc), Err(EciesError::BadMac));
        assert_eq!(decrypt(&key, &enc[..50]), Err(EciesError::Malformed));
        assert!(node_id(&key.public_key()) != H512::zero());
        assert_eq!(
            public_key(&node_id(&key.public_key())),
            Some(key.public_key())
        );
    }
}
