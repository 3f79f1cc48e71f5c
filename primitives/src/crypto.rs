//! secp256k1 signing and recovery in Conflux's conventions.
//!
//! A Conflux signature is `(v, r, s)` with `v` the y-parity (0 or 1, never 27/28) and `s`
//! in the lower half of the curve order. The account address of a public key is
//! `keccak(pub64)[12..]` with its top nibble forced to `0x1` (conflux-rust
//! `cfx_key/src/keypair.rs`), which is what marks it as a user account.

use ethereum_types::{H160, H256, H512, U256};
use k256::{
    ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey, VerifyingKey},
    elliptic_curve::{
        group::Group, ops::Invert, ops::LinearCombination, ops::Reduce, point::DecompressPoint,
        sec1::ToEncodedPoint, subtle::Choice, PrimeField,
    },
    AffinePoint, FieldBytes, ProjectivePoint, Scalar,
};
use thiserror::Error;

use crate::hash::keccak256;

/// Why a signature could not be made or checked.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// `v` is not 0 or 1.
    #[error("invalid recovery id v={0} (must be 0 or 1)")]
    InvalidV(u8),
    /// `r` or `s` is zero or not below the curve order.
    #[error("signature scalars r/s out of range")]
    InvalidScalars,
    /// `s` is in the upper half of the curve order (malleable form).
    #[error("signature s is not low (non-canonical)")]
    HighS,
    /// No public key recovers from this signature and hash.
    #[error("public key recovery failed")]
    RecoveryFailed,
    /// The secret key bytes are not a valid secp256k1 scalar.
    #[error("invalid secret key")]
    InvalidSecret,
}

/// A recoverable ECDSA signature as Conflux stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature {
    /// y-parity of R: 0 or 1.
    pub v: u8,
    /// R's x coordinate.
    pub r: U256,
    /// Low-S scalar.
    pub s: U256,
}

/// The Conflux user address of an uncompressed public key (64 bytes, no `0x04`).
pub fn public_to_address(public: &H512) -> H160 {
    let h = keccak256(public.as_bytes());
    let mut a = H160::from_slice(&h[12..]);
    a.0[0] = (a.0[0] & 0x0f) | 0x10;
    a
}

/// The 64-byte public key of a verifying key.
pub fn public_of(vk: &VerifyingKey) -> H512 {
    let p = vk.to_encoded_point(false);
    H512::from_slice(&p.as_bytes()[1..])
}

/// Builds a signing key from 32 secret bytes.
pub fn signing_key(secret: &[u8; 32]) -> Result<SigningKey, SignatureError> {
    SigningKey::from_bytes(&(*secret).into()).map_err(|_| SignatureError::InvalidSecret)
}

/// Signs a 32-byte hash (RFC 6979 nonces), returning a low-S signature with its parity.
pub fn sign_hash(key: &SigningKey, hash: &H256) -> Result<Signature, SignatureError> {
    let (sig, recid) = key
        .sign_prehash_recoverable(hash.as_bytes())
        .map_err(|_| SignatureError::RecoveryFailed)?;
    let (sig, recid) = match sig.normalize_s() {
        // Negating s mirrors R, so the parity flips.
        Some(low) => (
            low,
            RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
        ),
        None => (sig, recid),
    };
    let (r, s) = sig.split_bytes();
    Ok(Signature {
        v: u8::from(recid.is_y_odd()),
        r: U256::from_big_endian(&r),
        s: U256::from_big_endian(&s),
    })
}

/// Recovers the 64-byte public key that made `sig` over `hash`.
///
/// `Q = r⁻¹(s·R − z·G)` with one double-scalar multiplication. k256's
/// `recover_from_prehash` also re-verifies the signature against `Q`, which holds by
/// construction and doubles the cost; sender recovery is on the node's hot path, so the
/// recovery is done here directly (checked against k256's in the tests).
pub fn recover(hash: &H256, sig: &Signature) -> Result<H512, SignatureError> {
    if sig.v > 1 {
        return Err(SignatureError::InvalidV(sig.v));
    }
    // Range checks (1 ≤ r, s < n) happen here.
    let ecdsa = EcdsaSignature::from_scalars(sig.r.to_big_endian(), sig.s.to_big_endian())
        .map_err(|_| SignatureError::InvalidScalars)?;
    if ecdsa.normalize_s().is_some() {
        return Err(SignatureError::HighS);
    }
    let (r, s) = ecdsa.split_scalars();
    let z = <Scalar as Reduce<k256::U256>>::reduce_bytes(&FieldBytes::from(hash.0));
    let big_r: Option<AffinePoint> =
        AffinePoint::decompress(&r.to_repr(), Choice::from(sig.v)).into();
    let big_r = big_r.ok_or(SignatureError::RecoveryFailed)?;
    // r is public, so variable-time inversion leaks nothing (and r ≠ 0).
    let r_inv: Scalar = *r.invert_vartime();
    let u1 = -(r_inv * z);
    let u2 = r_inv * *s;
    let q = ProjectivePoint::lincomb(
        &ProjectivePoint::GENERATOR,
        &u1,
        &ProjectivePoint::from(big_r),
        &u2,
    );
    if bool::from(q.is_identity()) {
        return Err(SignatureError::RecoveryFailed);
    }
    let encoded = q.to_affine().to_encoded_point(false);
    Ok(H512::from_slice(&encoded.as_bytes()[1..]))
}

/// k256's own recovery (recover, then verify): the reference [`recover`] is tested against.
pub fn recover_reference(hash: &H256, sig: &Signature) -> Result<H512, SignatureError> {
    if sig.v > 1 {
        return Err(SignatureError::InvalidV(sig.v));
    }
    let ecdsa = EcdsaSignature::from_scalars(sig.r.to_big_endian(), sig.s.to_big_endian())
        .map_err(|_| SignatureError::InvalidScalars)?;
    let recid = RecoveryId::new(sig.v == 1, false);
    let vk = VerifyingKey::recover_from_prehash(hash.as_bytes(), &ecdsa, recid)
        .map_err(|_| SignatureError::RecoveryFailed)?;
    Ok(public_of(&vk))
}

#[cfg(test)]
mod tests {
    use super::*;

    // js-conflux-sdk test/transaction.test.js key and its public key / address.
    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn known_key_gives_known_public_key_and_address() {
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&hex::decode(KEY).unwrap());
        let key = signing_key(&secret).unwrap();
        let public = public_of(key.verifying_key());
        let hex_pub = hex::encode(public.as_bytes());
        assert!(hex_pub.starts_with("4646ae50"), "{hex_pub}");
        assert!(hex_pub.ends_with("c903a559"), "{hex_pub}");
        let addr = public_to_address(&public);
        assert_eq!(
            crate::address::encode(&addr, 1),
            "cfxtest:aasm4c231py7j34fghntcfkdt2nm9xv1tu6jd3r1s7"
        );
    }

    #[test]
    fn sign_then_recover_round_trips_and_is_low_s() {
        let key = signing_key(&[7u8; 32]).unwrap();
        let public = public_of(key.verifying_key());
        let half_order = U256::from_str_radix(
            "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
            16,
        )
        .unwrap();
        for i in 0u8..32 {
            let hash = keccak256([i]);
            let sig = sign_hash(&key, &hash).unwrap();
            assert!(sig.s <= half_order);
            assert_eq!(recover(&hash, &sig).unwrap(), public);
        }
    }

    #[test]
    fn fast_recovery_agrees_with_k256_on_valid_and_garbage_signatures() {
        let key = signing_key(&[3u8; 32]).unwrap();
        for i in 0u32..200 {
            let hash = keccak256(i.to_be_bytes());
            let sig = sign_hash(&key, &hash).unwrap();
            assert_eq!(recover(&hash, &sig), recover_reference(&hash, &sig));
            // A signature over another hash recovers *some* key, the same one both ways.
            let other = keccak256(hash);
            let flipped = Signature {
                v: sig.v ^ 1,
                ..sig
            };
            for (h, s) in [(other, sig), (hash, flipped)] {
                let fast = recover(&h, &s);
                assert_ne!(fast, Ok(public_of(key.verifying_key())));
                assert_eq!(fast.is_ok(), recover_reference(&h, &s).is_ok());
                if let (Ok(a), Ok(b)) = (fast, recover_reference(&h, &s)) {
                    assert_eq!(a, b);
                }
            }
            // An r that is no curve point's x fails cleanly.
            let bogus = Signature {
                r: U256::from(5u64),
                ..sig
            };
            assert_eq!(
                recover(&hash, &bogus).is_ok(),
                recover_reference(&hash, &bogus).is_ok()
            );
        }
    }

    #[test]
    fn bad_signatures_are_typed_errors() {
        let hash = keccak256(b"x");
        let zero = Signature {
            v: 0,
            r: U256::zero(),
            s: U256::one(),
        };
        assert_eq!(recover(&hash, &zero), Err(SignatureError::InvalidScalars));
        let v2 = Signature {
            v: 2,
            r: U256::one(),
            s: U256::one(),
        };
        assert_eq!(recover(&hash, &v2), Err(SignatureError::InvalidV(2)));
        let key = signing_key(&[9u8; 32]).unwrap();
        let mut sig = sign_hash(&key, &hash).unwrap();
        let order = U256::from_str_radix(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            16,
        )
        .unwrap();
        sig.s = order - sig.s;
        assert_eq!(recover(&hash, &sig), Err(SignatureError::HighS));
        assert_eq!(
            signing_key(&[0u8; 32]).err(),
            Some(SignatureError::InvalidSecret)
        );
    }
}
