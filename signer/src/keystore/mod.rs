//! Software keystore backend: a directory of V3 JSON key files.
//!
//! The directory holds `UTC--<yyyy-mm-ddThh-mm-ss>Z--<uuid>` files as conflux-rust names
//! them (`crates/cfx_store/src/accounts_dir/disk.rs`); files named `*.json` are read too,
//! anything else is ignored. One password opens the signer; `account=<addr>` restricts it
//! to one key file (so a directory whose keys have different passwords stays usable).
//!
//! Secrets: the password lives in [`Zeroizing`] memory for the signer's lifetime; a key is
//! decrypted only inside [`Signer::sign_request`], used once and wiped. Opening decrypts
//! each key once, to learn its public key (a V3 file stores only an address) and to fail
//! early on a wrong password. The KDF runs on tokio's blocking pool, one at a time per
//! signer: concurrent requests queue instead of each holding a scrypt buffer (up to
//! 256 MiB for a geth-standard file), so a burst of `cfx_sign` calls cannot exhaust memory.

pub mod format;

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use cfxlight_primitives::{
    crypto::{public_of, sign_hash, signing_key},
    H160,
};
use rand::{rngs::OsRng, RngCore};
use zeroize::Zeroizing;

pub use format::{KdfKind, Keystore, KeystoreError};

use crate::{
    error::SignerError,
    signer::{check_signature, Account, SignRequest, Signer, VerifiedSignature},
};

/// How to open a keystore directory.
#[derive(Clone, Default)]
pub struct KeystoreOptions {
    /// The password of the key files; without it no account can be listed or used.
    pub password: Option<Zeroizing<String>>,
    /// Use only the key file of this account.
    pub account: Option<H160>,
    /// Allow [`Signer::sign_hash`] (blind signing). Off unless asked for.
    pub allow_blind_signing: bool,
}

impl fmt::Debug for KeystoreOptions {
    // By hand: the password must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreOptions")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("account", &self.account)
            .field("allow_blind_signing", &self.allow_blind_signing)
            .finish()
    }
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    keystore: Keystore,
    account: Account,
}

/// A [`Signer`] over a directory of V3 keystores.
pub struct KeystoreSigner {
    dir: PathBuf,
    chain_id: u32,
    password: Option<Arc<Zeroizing<String>>>,
    entries: Vec<Arc<Entry>>,
    allow_blind_signing: bool,
    // One key decryption (KDF) at a time; the permit moves into the blocking job, so a
    // cancelled request still holds it until its KDF ends.
    kdf: Arc<tokio::sync::Semaphore>,
}

impl fmt::Debug for KeystoreSigner {
    // By hand: the password must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreSigner")
            .field("dir", &self.dir)
            .field("chain_id", &self.chain_id)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "accounts",
                &self
                    .entries
                    .iter()
                    .map(|e| e.account.address)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn io_err(path: &Path, source: std::io::Error) -> SignerError {
    SignerError::KeystoreIo {
        path: path.to_path_buf(),
        source,
    }
}

fn map_ks_err(path: &Path, e: KeystoreError) -> SignerError {
    match e {
        KeystoreError::WrongPassword => SignerError::WrongPassword {
            path: path.to_path_buf(),
        },
        KeystoreError::Format(reason) => SignerError::KeystoreFormat {
            path: path.to_path_buf(),
            reason,
        },
    }
}

/// Whether a directory entry's name is one we read as a key file.
fn is_key_file_name(name: &str) -> bool {
    !name.starts_with('.') && (name.starts_with("UTC--") || name.ends_with(".json"))
}

/// Reads and parses every key file of `dir` (sorted by name), without decrypting.
pub fn read_dir_keystores(dir: &Path) -> Result<Vec<(PathBuf, Keystore)>, SignerError> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let path = entry.path();
        let is_file = entry.file_type().map_err(|e| io_err(&path, e))?.is_file();
        if is_file && entry.file_name().to_str().is_some_and(is_key_file_name) {
            paths.push(path);
        }
    }
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let text = fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        let ks = Keystore::parse(&text).map_err(|e| map_ks_err(&path, e))?;
        out.push((path, ks));
    }
    Ok(out)
}

fn decrypt_account(
    path: &Path,
    ks: &Keystore,
    password: &[u8],
) -> Result<(Account, Zeroizing<[u8; 32]>), SignerError> {
    let secret = ks.decrypt(password).map_err(|e| map_ks_err(path, e))?;
    let key = signing_key(&secret).map_err(|_| SignerError::KeystoreFormat {
        path: path.to_path_buf(),
        reason: "decrypted secret is not a valid key".into(),
    })?;
    Ok((Account::from_public(public_of(key.verifying_key())), secret))
}

impl KeystoreSigner {
    /// Opens `dir` for `chain_id`: reads its key files and, given a password, decrypts
    /// each selected one once to learn its public key (a wrong password fails here).
    pub fn open(dir: &Path, chain_id: u32, options: KeystoreOptions) -> Result<Self, SignerError> {
        let mut files = read_dir_keystores(dir)?;
        if let Some(want) = options.account {
            files.retain(|(_, ks)| ks.indexed_address() == Some(want));
            if files.is_empty() {
                return Err(SignerError::UnknownAccount(want));
            }
        }
        let mut entries = Vec::new();
        if let Some(password) = &options.password {
            for (path, keystore) in files {
                let (account, _secret) = decrypt_account(&path, &keystore, password.as_bytes())?;
                entries.push(Arc::new(Entry {
                    path,
                    keystore,
                    account,
                }));
            }
        }
        Ok(KeystoreSigner {
            dir: dir.to_path_buf(),
            chain_id,
            password: options.password.map(Arc::new),
            entries,
            allow_blind_signing: options.allow_blind_signing,
            kdf: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// The directory this signer reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key file of an account.
    pub fn key_file(&self, address: &H160) -> Option<&Path> {
        self.entries
            .iter()
            .find(|e| e.account.address == *address)
            .map(|e| e.path.as_path())
    }
}

#[async_trait]
impl Signer for KeystoreSigner {
    fn chain_id(&self) -> u32 {
        self.chain_id
    }

    fn blind_signing_enabled(&self) -> bool {
        self.allow_blind_signing
    }

    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        if self.password.is_none() {
            return Err(SignerError::PinRequired);
        }
        Ok(self.entries.iter().map(|e| e.account).collect())
    }

    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        req.check_basic(self.chain_id, self.allow_blind_signing)?;
        let password = self.password.clone().ok_or(SignerError::PinRequired)?;
        let entry = self
            .entries
            .iter()
            .find(|e| e.account.address == req.from())
            .cloned()
            .ok_or(SignerError::UnknownAccount(req.from()))?;
        let digest = req.digest();
        let permit = self
            .kdf
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SignerError::Backend("keystore closed".into()))?;
        // The KDF takes milliseconds of CPU: keep it off the async worker threads.
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let (account, secret) =
                decrypt_account(&entry.path, &entry.keystore, password.as_bytes())?;
            if account != entry.account {
                // The file changed under us since it was opened: refuse.
                return Err(SignerError::SignatureCheckFailed(entry.account.address));
            }
            let key = signing_key(&secret).map_err(|e| SignerError::Backend(e.to_string()))?;
            let sig = sign_hash(&key, &digest).map_err(|e| SignerError::Backend(e.to_string()))?;
            check_signature(&entry.account, &digest, &sig)
        });
        job.await
            .map_err(|e| SignerError::Backend(format!("signing task failed: {e}")))?
    }
}

/// conflux-rust's file name: `UTC--<yyyy-mm-ddThh-mm-ss>Z--<uuid>`.
fn key_file_name(now: SystemTime, uuid: &str) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("UTC--{}Z--{uuid}", crate::time::utc_compact(secs))
}

/// Writes a new key file into `dir` (created 0700 if missing), mode 0600, fsynced.
///
/// Refuses a secret whose account already has a file in `dir`.
pub fn write_key(
    dir: &Path,
    secret: &Zeroizing<[u8; 32]>,
    password: &[u8],
    kdf: KdfKind,
) -> Result<(Account, PathBuf), SignerError> {
    let key = signing_key(secret).map_err(|_| SignerError::KeystoreFormat {
        path: dir.to_path_buf(),
        reason: "the secret is not a valid secp256k1 key (1 ≤ k < n)".into(),
    })?;
    let account = Account::from_public(public_of(key.verifying_key()));
    create_private_dir(dir)?;
    for (path, ks) in read_dir_keystores(dir)? {
        if ks.indexed_address() == Some(account.address) {
            return Err(SignerError::KeystoreFormat {
                path,
                reason: format!("account {:?} already has a key file here", account.address),
            });
        }
    }
    let json = format::encrypt(secret, password, kdf).map_err(|e| map_ks_err(dir, e))?;
    let id = json["id"].as_str().unwrap_or_default().to_string();
    let path = dir.join(key_file_name(SystemTime::now(), &id));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).map_err(|e| io_err(&path, e))?;
    f.write_all(json.to_string().as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err(&path, e))?;
    Ok((account, path))
}

fn create_private_dir(dir: &Path) -> Result<(), SignerError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| io_err(dir, e))
}

/// Generates a key with the OS random generator and writes it into `dir`.
pub fn new_key(
    dir: &Path,
    password: &[u8],
    kdf: KdfKind,
) -> Result<(Account, PathBuf), SignerError> {
    loop {
        let mut secret = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(secret.as_mut());
        // Out-of-range scalars (probability ~2^-128) are simply drawn again.
        if signing_key(&secret).is_ok() {
            return write_key(dir, &secret, password, kdf);
        }
    }
}

/// Parses a hex secret (`0x` optional, surrounding whitespace ignored) into zeroizing memory.
pub fn parse_secret_hex(text: &str) -> Result<Zeroizing<[u8; 32]>, SignerError> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    let bytes = Zeroizing::new(
        hex::decode(t)
            .map_err(|_| SignerError::InvalidSpec("the secret must be 32 bytes of hex".into()))?,
    );
    if bytes.len() != 32 {
        return Err(SignerError::InvalidSpec(
            "the secret must be 32 bytes of hex".into(),
        ));
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// Imports a hex secret into `dir`.
pub fn import_key(
    dir: &Path,
    secret_hex: &str,
    password: &[u8],
    kdf: KdfKind,
) -> Result<(Account, PathBuf), SignerError> {
    let secret = parse_secret_hex(secret_hex)?;
    write_key(dir, &secret, password, kdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_conflux_rust() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_764_107_760);
        assert_eq!(key_file_name(t, "abc"), "UTC--2025-11-25T21-56-00Z--abc");
        assert!(is_key_file_name("UTC--2025-11-25T21-56-00Z--abc"));
        assert!(is_key_file_name("key.json"));
        assert!(!is_key_file_name("README"));
        assert!(!is_key_file_name(".UTC--x"));
    }
}
