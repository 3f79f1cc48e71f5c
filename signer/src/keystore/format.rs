//! The V3 JSON keystore format, as conflux-rust and js-conflux-sdk write it.
//!
//! conflux-rust (`crates/cfx_store/src/account/crypto.rs`, `json/key_file.rs`):
//! pbkdf2-hmac-sha256 with `c = 10240`, `dklen = 32`; aes-128-ctr keyed with `dk[0..16]`;
//! `mac = keccak(dk[16..32] ‖ ciphertext)`; `address` is the Conflux hex address (top
//! nibble `1`) without `0x`; the section may be spelled `crypto` or `Crypto`.
//! js-conflux-sdk 2.6.0 (`src/util/sign.js` `encrypt`): the same with scrypt `n = 8192,
//! r = 8, p = 1` and `address = keccak(pub)[12..]` (no nibble fix). Both KDFs are read.
//!
//! Parsing never panics and never trusts the file: KDF parameters are bounded (a file
//! must not make us allocate gigabytes or spin for hours), lengths are checked, the MAC
//! is compared in constant time before anything is decrypted, and the decrypted key must
//! be a valid secp256k1 scalar. The `address` field is only an index: the account's
//! address is always derived from the decrypted key.

use std::fmt;

use aes::cipher::{KeyIvInit, StreamCipher};
use cfxlight_primitives::{
    crypto::{public_of, public_to_address, signing_key},
    hash::keccak256_concat,
    H160,
};
use rand::{rngs::OsRng, RngCore};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// conflux-rust's pbkdf2 iteration count for new keys (`KEY_ITERATIONS`).
pub const PBKDF2_ITERATIONS: u32 = 10240;
/// js-conflux-sdk's scrypt cost for new keys.
pub const SCRYPT_N: u64 = 8192;
/// js-conflux-sdk's scrypt block size.
pub const SCRYPT_R: u32 = 8;
/// js-conflux-sdk's scrypt parallelism.
pub const SCRYPT_P: u32 = 1;

/// Largest pbkdf2 iteration count we accept from a file (geth's "standard" is 262144).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Largest scrypt memory (128·n·r bytes) we accept from a file: geth's standard n = 2^18,
/// r = 8 needs 256 MiB.
const MAX_SCRYPT_MEMORY: u64 = 512 * 1024 * 1024;
/// Largest scrypt parallelism we accept.
const MAX_SCRYPT_P: u32 = 16;
/// Longest salt we accept.
const MAX_SALT_LEN: usize = 1024;

/// Which key-derivation function a new keystore uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KdfKind {
    /// pbkdf2-hmac-sha256, c = 10240: what conflux-rust writes (the default).
    #[default]
    Pbkdf2,
    /// scrypt n = 8192, r = 8, p = 1: what js-conflux-sdk writes and the only KDF it reads.
    Scrypt,
}

/// KDF parameters read from a file (already range-checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdfParams {
    /// pbkdf2 with HMAC-SHA256.
    Pbkdf2 {
        /// Iterations.
        c: u32,
        /// Salt.
        salt: Vec<u8>,
    },
    /// scrypt.
    Scrypt {
        /// log2 of the cost n.
        log_n: u8,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
        /// Salt.
        salt: Vec<u8>,
    },
}

/// Why a keystore could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoreError {
    /// The MAC does not match: the password is wrong (or the file was altered).
    WrongPassword,
    /// The file is not a V3 keystore we accept; the text says why.
    Format(String),
}

impl fmt::Display for KeystoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeystoreError::WrongPassword => f.write_str("wrong password (MAC mismatch)"),
            KeystoreError::Format(r) => f.write_str(r),
        }
    }
}

fn format_err(msg: impl Into<String>) -> KeystoreError {
    KeystoreError::Format(msg.into())
}

/// A parsed V3 keystore: everything needed to decrypt it, nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystore {
    /// The `id` field (a UUID), if present.
    pub id: Option<String>,
    /// The `address` field, if present and well-formed (an index only, not trusted).
    pub address: Option<H160>,
    /// KDF and its parameters.
    pub kdf: KdfParams,
    /// AES-128-CTR initial counter.
    pub iv: [u8; 16],
    /// The encrypted 32-byte secret.
    pub ciphertext: [u8; 32],
    /// keccak(dk[16..32] ‖ ciphertext).
    pub mac: [u8; 32],
}

fn get<'a>(v: &'a Value, key: &str) -> Result<&'a Value, KeystoreError> {
    v.get(key)
        .ok_or_else(|| format_err(format!("missing field `{key}`")))
}

fn get_str<'a>(v: &'a Value, key: &str) -> Result<&'a str, KeystoreError> {
    get(v, key)?
        .as_str()
        .ok_or_else(|| format_err(format!("field `{key}` must be a string")))
}

fn get_u64(v: &Value, key: &str) -> Result<u64, KeystoreError> {
    get(v, key)?
        .as_u64()
        .ok_or_else(|| format_err(format!("field `{key}` must be a non-negative integer")))
}

fn get_hex(v: &Value, key: &str) -> Result<Vec<u8>, KeystoreError> {
    let s = get_str(v, key)?;
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|_| format_err(format!("field `{key}` is not hex")))
}

fn get_hex_n<const N: usize>(v: &Value, key: &str) -> Result<[u8; N], KeystoreError> {
    let b = get_hex(v, key)?;
    b.try_into().map_err(|b: Vec<u8>| {
        format_err(format!("field `{key}` must be {N} bytes, got {}", b.len()))
    })
}

impl Keystore {
    /// Parses keystore JSON; any malformed input is a [`KeystoreError::Format`].
    pub fn parse(json: &str) -> Result<Self, KeystoreError> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| format_err(format!("not JSON: {e}")))?;
        if !v.is_object() {
            return Err(format_err("not a JSON object"));
        }
        match v.get("version").and_then(Value::as_u64) {
            Some(3) => {}
            _ => return Err(format_err("not a version 3 keystore")),
        }
        let crypto = v
            .get("crypto")
            .or_else(|| v.get("Crypto"))
            .ok_or_else(|| format_err("missing field `crypto`"))?;
        let cipher = get_str(crypto, "cipher")?;
        if cipher != "aes-128-ctr" {
            return Err(format_err(format!(
                "unsupported cipher `{cipher}` (aes-128-ctr only)"
            )));
        }
        let iv = get_hex_n::<16>(get(crypto, "cipherparams")?, "iv")?;
        let ciphertext = get_hex_n::<32>(crypto, "ciphertext")?;
        let mac = get_hex_n::<32>(crypto, "mac")?;
        let params = get(crypto, "kdfparams")?;
        let dklen = get_u64(params, "dklen")?;
        if dklen != 32 {
            return Err(format_err(format!(
                "unsupported dklen {dklen} (32 expected)"
            )));
        }
        let salt = get_hex(params, "salt")?;
        if salt.len() > MAX_SALT_LEN {
            return Err(format_err("salt too long"));
        }
        let kdf = match get_str(crypto, "kdf")? {
            "pbkdf2" => {
                let prf = get_str(params, "prf")?;
                if prf != "hmac-sha256" {
                    return Err(format_err(format!("unsupported pbkdf2 prf `{prf}`")));
                }
                let c = get_u64(params, "c")?;
                let c = u32::try_from(c)
                    .ok()
                    .filter(|c| (1..=MAX_PBKDF2_ITERATIONS).contains(c))
                    .ok_or_else(|| {
                        format_err(format!("pbkdf2 iteration count {c} out of range"))
                    })?;
                KdfParams::Pbkdf2 { c, salt }
            }
            "scrypt" => {
                let n = get_u64(params, "n")?;
                let r = get_u64(params, "r")?;
                let p = get_u64(params, "p")?;
                if n < 2 || !n.is_power_of_two() {
                    return Err(format_err(format!(
                        "scrypt n = {n} is not a power of two ≥ 2"
                    )));
                }
                let memory = 128u64.saturating_mul(n).saturating_mul(r);
                if r == 0 || memory > MAX_SCRYPT_MEMORY || p == 0 || p > u64::from(MAX_SCRYPT_P) {
                    return Err(format_err(format!(
                        "scrypt parameters n={n} r={r} p={p} out of the accepted range"
                    )));
                }
                // Bounded above, so these conversions cannot fail.
                KdfParams::Scrypt {
                    log_n: n.trailing_zeros() as u8,
                    r: r as u32,
                    p: p as u32,
                    salt,
                }
            }
            other => return Err(format_err(format!("unsupported kdf `{other}`"))),
        };
        let address = v
            .get("address")
            .and_then(Value::as_str)
            .map(|s| s.strip_prefix("0x").unwrap_or(s))
            .and_then(|s| hex::decode(s).ok())
            .filter(|b| b.len() == 20)
            .map(|b| H160::from_slice(&b));
        Ok(Keystore {
            id: v.get("id").and_then(Value::as_str).map(str::to_string),
            address,
            kdf,
            iv,
            ciphertext,
            mac,
        })
    }

    /// The address field in Conflux form (top nibble `1`), for matching files to accounts:
    /// js-conflux-sdk writes the Ethereum-style form.
    pub fn indexed_address(&self) -> Option<H160> {
        self.address.map(|mut a| {
            a.0[0] = (a.0[0] & 0x0f) | 0x10;
            a
        })
    }

    /// Derives the key, checks the MAC (constant time) and decrypts the secret.
    pub fn decrypt(&self, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let dk = derive(&self.kdf, password)?;
        let mac = keccak256_concat(&[&dk[16..32], &self.ciphertext]);
        if !bool::from(mac.as_bytes().ct_eq(&self.mac)) {
            return Err(KeystoreError::WrongPassword);
        }
        let mut secret = Zeroizing::new(self.ciphertext);
        let mut cipher = Aes128Ctr::new((&dk[..16]).into(), (&self.iv).into());
        cipher.apply_keystream(secret.as_mut());
        if signing_key(&secret).is_err() {
            return Err(format_err("decrypted secret is not a valid secp256k1 key"));
        }
        Ok(secret)
    }
}

fn derive(kdf: &KdfParams, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let mut dk = Zeroizing::new([0u8; 32]);
    match kdf {
        KdfParams::Pbkdf2 { c, salt } => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, *c, dk.as_mut());
        }
        KdfParams::Scrypt { log_n, r, p, salt } => {
            let params = scrypt::Params::new(*log_n, *r, *p, 32)
                .map_err(|e| format_err(format!("scrypt parameters: {e}")))?;
            scrypt::scrypt(password, salt, &params, dk.as_mut())
                .map_err(|e| format_err(format!("scrypt: {e}")))?;
        }
    }
    Ok(dk)
}

/// A fresh random UUID v4 in its usual text form.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Encrypts a secret into V3 keystore JSON with fresh random salt, IV and id.
///
/// `address` is written in Conflux form (what conflux-rust writes and reads); js-conflux-sdk
/// ignores the field when decrypting.
pub fn encrypt(secret: &[u8; 32], password: &[u8], kdf: KdfKind) -> Result<Value, KeystoreError> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    encrypt_with(secret, password, kdf, &salt, &iv, &new_uuid())
}

/// [`encrypt`] with given salt, IV and id (deterministic, for test vectors).
pub fn encrypt_with(
    secret: &[u8; 32],
    password: &[u8],
    kdf: KdfKind,
    salt: &[u8; 32],
    iv: &[u8; 16],
    id: &str,
) -> Result<Value, KeystoreError> {
    let key = signing_key(secret).map_err(|_| format_err("not a valid secp256k1 secret key"))?;
    let address = public_to_address(&public_of(key.verifying_key()));
    let params = match kdf {
        KdfKind::Pbkdf2 => KdfParams::Pbkdf2 {
            c: PBKDF2_ITERATIONS,
            salt: salt.to_vec(),
        },
        KdfKind::Scrypt => KdfParams::Scrypt {
            log_n: SCRYPT_N.trailing_zeros() as u8,
            r: SCRYPT_R,
            p: SCRYPT_P,
            salt: salt.to_vec(),
        },
    };
    let dk = derive(&params, password)?;
    let mut ciphertext = *secret;
    let mut cipher = Aes128Ctr::new((&dk[..16]).into(), iv.into());
    cipher.apply_keystream(&mut ciphertext);
    let mac = keccak256_concat(&[&dk[16..32], &ciphertext]);
    let (kdf_name, kdfparams) = match kdf {
        KdfKind::Pbkdf2 => (
            "pbkdf2",
            json!({"c": PBKDF2_ITERATIONS, "dklen": 32, "prf": "hmac-sha256", "salt": hex::encode(salt)}),
        ),
        KdfKind::Scrypt => (
            "scrypt",
            json!({"dklen": 32, "salt": hex::encode(salt), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}),
        ),
    };
    Ok(json!({
        "id": id,
        "version": 3,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": hex::encode(iv)},
            "ciphertext": hex::encode(ciphertext),
            "kdf": kdf_name,
            "kdfparams": kdfparams,
            "mac": hex::encode(mac.as_bytes()),
        },
        "address": hex::encode(address.as_bytes()),
        "name": "",
        "meta": "{}",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_round_trip_and_wrong_password_is_a_mac_mismatch() {
        let secret = [0x11u8; 32];
        let json = encrypt(&secret, b"pw", KdfKind::Pbkdf2).unwrap();
        assert_eq!(json["crypto"]["kdfparams"]["c"], 10240);
        let ks = Keystore::parse(&json.to_string()).unwrap();
        assert_eq!(*ks.decrypt(b"pw").unwrap(), secret);
        assert_eq!(ks.decrypt(b"pW"), Err(KeystoreError::WrongPassword));
    }

    #[test]
    fn hostile_kdf_parameters_are_refused_before_any_work() {
        let base = encrypt(&[0x11u8; 32], b"pw", KdfKind::Scrypt).unwrap();
        for (field, value) in [
            ("n", json!(1u64 << 40)),
            ("n", json!(1000)),
            ("p", json!(0)),
        ] {
            let mut v = base.clone();
            v["crypto"]["kdfparams"][field] = value;
            assert!(matches!(
                Keystore::parse(&v.to_string()),
                Err(KeystoreError::Format(_))
            ));
        }
        let mut v = encrypt(&[0x11u8; 32], b"pw", KdfKind::Pbkdf2).unwrap();
        v["crypto"]["kdfparams"]["c"] = json!(u64::MAX);
        assert!(Keystore::parse(&v.to_string()).is_err());
    }
}
