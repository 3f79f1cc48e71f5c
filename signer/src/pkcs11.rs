//! A PKCS#11 token as a [`Signer`]: keys are made on the token and never leave it; the host
//! hashes, the token signs the 32-byte digest with raw `CKM_ECDSA`, the host completes the
//! signature.
//!
//! `--signer pkcs11:module=<path>,token=<label>[,key=<label>]`:
//! - the module (`/usr/lib/softhsm/libsofthsm2.so`, an HSM vendor's library) is loaded at run
//!   time through `cryptoki` and initialised once per process ([`context`]);
//! - the token is chosen by its label, never by slot id (slot ids move when tokens are added;
//!   SoftHSM renumbers them at init); a label that matches nothing is an error naming the
//!   labels that exist;
//! - the accounts are the token's secp256k1 key pairs (public key `CKA_EC_PARAMS` = OID
//!   1.3.132.0.10), or only the one labelled `key`; each address is derived from the public
//!   point `CKA_EC_POINT`. A private key that is extractable or not sensitive is refused;
//! - a signature is `r‖s` from the token (no recovery id, S high about half the time):
//!   [`complete_signature`] normalises S low and finds the recovery id by trial, keeping only
//!   the one that recovers to the token key's public point.
//!
//! **PIN and back-off.** The PIN comes from the caller (the CLI's `--pin-file`,
//! `CFXLIGHT_PIN` or prompt) in zeroizing memory and is never logged. SoftHSM has no PIN
//! lockout (wrong PINs only raise "count low"), so this module counts failed logins per token
//! itself, process-wide: after a failure the next attempt is refused until an exponentially
//! growing delay has passed ([`LoginLimits`]), and after `max_failures` consecutive failures
//! no attempt is made for `lockout`. A refused attempt never reaches the token. The count
//! lives in memory only (not persisted): a fresh process starts at zero, so the limit
//! protects a running node, not a loop of CLI invocations. A PIN the token refused is
//! forgotten at once, so an unattended relogin never repeats it.
//!
//! The session is kept open (logged in) for the signer's lifetime; a session the token
//! dropped (`CKR_USER_NOT_LOGGED_IN`, a closed or invalid session, a removed token) is
//! reopened once with the held PIN, through the same back-off. PKCS#11 calls block: [`open`]
//! blocks (call it from a blocking context), signing runs on tokio's blocking pool.
//!
//! [`open`]: Pkcs11Signer::open

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use cfxlight_primitives::{H160, H512};
use cryptoki::{
    context::{CInitializeArgs, CInitializeFlags, Pkcs11},
    error::{Error as CkError, RvError},
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle},
    session::{Session, UserType},
    slot::Slot,
    types::AuthPin,
};
use k256::ecdsa::Signature as EcdsaSignature;
use zeroize::Zeroizing;

use crate::{
    error::SignerError,
    signer::{complete_signature, Account, SignRequest, Signer, VerifiedSignature},
    spec::Pkcs11Spec,
};

/// DER of the secp256k1 named-curve OID 1.3.132.0.10, as `CKA_EC_PARAMS` holds it.
pub const SECP256K1_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// The node's own limits on failed logins (the token may have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Consecutive failures after which no login is attempted for `lockout`.
    pub max_failures: u32,
    /// Wait after the first failure; doubled after each further failure.
    pub first_delay: Duration,
    /// The longest wait between two attempts below `max_failures`.
    pub max_delay: Duration,
    /// How long nothing is tried once `max_failures` is reached.
    pub lockout: Duration,
}

impl Default for LoginLimits {
    /// 1 s, 2 s, 4 s, 8 s after the first four failures; after five, 15 minutes.
    fn default() -> Self {
        LoginLimits {
            max_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// Failed logins on one token: how many in a row, and when the last one was.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failed-login counts, per module and token, for the whole process.
fn failures() -> &'static Mutex<HashMap<String, Failures>> {
    static FAILURES: OnceLock<Mutex<HashMap<String, Failures>>> = OnceLock::new();
    FAILURES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loaded and initialised modules, one per path for the whole process (`C_Initialize` may
/// be called once per process; a second context on the same library would fail).
fn contexts() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    CONTEXTS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn ck(what: &str, e: CkError) -> SignerError {
    SignerError::Backend(format!("PKCS#11 {what}: {e}"))
}

fn poisoned() -> SignerError {
    SignerError::Backend("PKCS#11 lock poisoned".into())
}

/// The process-wide context of the module at `module`: loaded and initialised on first use.
pub fn context(module: &Path) -> Result<Pkcs11, SignerError> {
    let mut map = contexts().lock().map_err(|_| poisoned())?;
    if let Some(ctx) = map.get(module) {
        return Ok(ctx.clone());
    }
    if !module.is_file() {
        return Err(SignerError::Backend(format!(
            "PKCS#11 module {} does not exist (SoftHSM2: apt-get install softhsm2, module /usr/lib/softhsm/libsofthsm2.so)",
            module.display()
        )));
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        SignerError::Backend(format!(
            "cannot load PKCS#11 module {}: {e}",
            module.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("C_Initialize", e)),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// The slot holding the token labelled `label`; an error naming the labels found otherwise.
pub fn token_slot(ctx: &Pkcs11, module: &Path, label: &str) -> Result<Slot, SignerError> {
    let mut found = Vec::new();
    let mut hits = Vec::new();
    for slot in ctx
        .get_slots_with_initialized_token()
        .map_err(|e| ck("C_GetSlotList", e))?
    {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| ck("C_GetTokenInfo", e))?;
        let l = info.label().trim_end().to_string();
        if l == label {
            hits.push(slot);
        }
        found.push(l);
    }
    match hits.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(SignerError::TokenNotFound {
            module: module.to_path_buf(),
            wanted: label.to_string(),
            found,
        }),
        _ => Err(SignerError::Backend(format!(
            "{} tokens are labelled `{label}` in {}: relabel one so the choice is unambiguous",
            hits.len(),
            module.display()
        ))),
    }
}

/// Logs `session` in as the user with `pin`, under the node's back-off for this token.
///
/// The failure table stays locked during the attempt, so concurrent attempts cannot slip
/// past the count. A refused attempt never reaches the token.
fn guarded_login(
    session: &Session,
    key: &str,
    token: &str,
    pin: &Zeroizing<String>,
    limits: &LoginLimits,
) -> Result<(), SignerError> {
    let mut table = failures().lock().map_err(|_| poisoned())?;
    if let Some(f) = table.get(key).copied() {
        let since = f.last.elapsed();
        if f.count >= limits.max_failures {
            if since < limits.lockout {
                return Err(SignerError::LoginLockedOut {
                    token: token.to_string(),
                    failures: f.count,
                    retry_after_secs: (limits.lockout - since).as_secs().max(1),
                });
            }
            // The lockout is over: the next failure locks again at once.
            table.insert(
                key.to_string(),
                Failures {
                    count: limits.max_failures - 1,
                    last: f.last,
                },
            );
        } else {
            let delay = backoff_delay(f.count, limits);
            if since < delay {
                return Err(SignerError::LoginBackoff {
                    token: token.to_string(),
                    failures: f.count,
                    retry_after_ms: u64::try_from((delay - since).as_millis())
                        .unwrap_or(u64::MAX)
                        .max(1),
                });
            }
        }
    }
    let auth = AuthPin::from(pin.as_str());
    let attempt = match session.login(UserType::User, Some(&auth)) {
        // Another session of this process is logged in: log out and check this PIN.
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => session
            .logout()
            .and_then(|()| session.login(UserType::User, Some(&auth))),
        r => r,
    };
    match attempt {
        Ok(()) => {
            table.remove(key);
            Ok(())
        }
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
            let count = table.get(key).map_or(0, |f| f.count) + 1;
            table.insert(
                key.to_string(),
                Failures {
                    count,
                    last: Instant::now(),
                },
            );
            Err(SignerError::TokenWrongPin {
                token: token.to_string(),
                tries_left: limits.max_failures.saturating_sub(count),
            })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
            Err(SignerError::PinBlocked { tries_left: 0 })
        }
        Err(e) => Err(ck("C_Login", e)),
    }
}

/// The wait after `count` consecutive failures (count ≥ 1): `first_delay · 2^(count-1)`,
/// at most `max_delay`.
fn backoff_delay(count: u32, limits: &LoginLimits) -> Duration {
    let factor = 1u32 << count.saturating_sub(1).min(20);
    limits
        .first_delay
        .saturating_mul(factor)
        .min(limits.max_delay)
}

/// The 64-byte public key of a `CKA_EC_POINT`: a DER OCTET STRING around `04‖X‖Y`, or the
/// raw 65-byte point some tokens return. The point must be on the curve.
fn parse_ec_point(bytes: &[u8]) -> Option<H512> {
    let point = match bytes {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        raw if raw.len() == 65 => raw,
        _ => return None,
    };
    k256::PublicKey::from_sec1_bytes(point).ok()?;
    let xy = point.strip_prefix(&[0x04])?;
    Some(H512::from_slice(xy))
}

/// One key pair on the token.
#[derive(Debug, Clone)]
struct TokenKey {
    id: Vec<u8>,
    label: String,
    account: Account,
    /// The private key's handle in the current session (only when logged in).
    private: Option<ObjectHandle>,
}

fn attr_bytes(attrs: &[Attribute], want: AttributeType) -> Option<Vec<u8>> {
    attrs.iter().find_map(|a| match (a, want) {
        (Attribute::Id(v), AttributeType::Id)
        | (Attribute::Label(v), AttributeType::Label)
        | (Attribute::EcPoint(v), AttributeType::EcPoint)
        | (Attribute::EcParams(v), AttributeType::EcParams) => Some(v.clone()),
        _ => None,
    })
}

fn attr_bool(attrs: &[Attribute], want: AttributeType) -> Option<bool> {
    attrs.iter().find_map(|a| match (a, want) {
        (Attribute::Sensitive(v), AttributeType::Sensitive)
        | (Attribute::Extractable(v), AttributeType::Extractable)
        | (Attribute::Sign(v), AttributeType::Sign) => Some(*v),
        _ => None,
    })
}

/// The token's secp256k1 key pairs (only those labelled `label`, if given). With
/// `logged_in`, each must have its private key, sensitive, not extractable, able to sign.
fn read_keys(
    session: &Session,
    token: &str,
    label: Option<&str>,
    logged_in: bool,
) -> Result<Vec<TokenKey>, SignerError> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::EC),
    ];
    if let Some(l) = label {
        template.push(Attribute::Label(l.as_bytes().to_vec()));
    }
    let mut keys = Vec::new();
    for handle in session
        .find_objects(&template)
        .map_err(|e| ck("C_FindObjects", e))?
    {
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::EcParams,
                    AttributeType::EcPoint,
                ],
            )
            .map_err(|e| ck("C_GetAttributeValue", e))?;
        if attr_bytes(&attrs, AttributeType::EcParams).as_deref() != Some(&SECP256K1_PARAMS[..]) {
            continue; // another curve: not a Conflux key
        }
        let id = attr_bytes(&attrs, AttributeType::Id).unwrap_or_default();
        let key_label =
            String::from_utf8_lossy(&attr_bytes(&attrs, AttributeType::Label).unwrap_or_default())
                .into_owned();
        let public = attr_bytes(&attrs, AttributeType::EcPoint)
            .and_then(|p| parse_ec_point(&p))
            .ok_or_else(|| {
                SignerError::Backend(format!(
                    "key `{key_label}` on token `{token}`: CKA_EC_POINT is not a secp256k1 point"
                ))
            })?;
        let private = if logged_in {
            Some(private_key(session, token, &id, &key_label)?)
        } else {
            None
        };
        keys.push(TokenKey {
            id,
            label: key_label,
            account: Account::from_public(public),
            private,
        });
    }
    if keys.is_empty() {
        if let Some(l) = label {
            return Err(SignerError::Backend(format!(
                "no secp256k1 key labelled `{l}` on token `{token}` (make one with `cfxlight signer new`)"
            )));
        }
    }
    Ok(keys)
}

/// The private key with `CKA_ID` `id`, checked sensitive, not extractable, able to sign.
fn private_key(
    session: &Session,
    token: &str,
    id: &[u8],
    label: &str,
) -> Result<ObjectHandle, SignerError> {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Id(id.to_vec()),
        ])
        .map_err(|e| ck("C_FindObjects", e))?;
    let [handle] = found.as_slice() else {
        return Err(SignerError::Backend(format!(
            "key `{label}` on token `{token}`: {} private keys have its CKA_ID (expected one)",
            found.len()
        )));
    };
    let attrs = session
        .get_attributes(
            *handle,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Sign,
            ],
        )
        .map_err(|e| ck("C_GetAttributeValue", e))?;
    let sensitive = attr_bool(&attrs, AttributeType::Sensitive) == Some(true);
    let extractable = attr_bool(&attrs, AttributeType::Extractable) != Some(false);
    if !sensitive || extractable {
        return Err(SignerError::Backend(format!(
            "key `{label}` on token `{token}` is {}: refused (make keys with `cfxlight signer new`)",
            if extractable { "extractable" } else { "not sensitive" }
        )));
    }
    if attr_bool(&attrs, AttributeType::Sign) != Some(true) {
        return Err(SignerError::Backend(format!(
            "key `{label}` on token `{token}` may not sign (CKA_SIGN false)"
        )));
    }
    Ok(*handle)
}

/// An open, (when a PIN was given) logged-in session and the keys read through it.
struct Conn {
    session: Session,
    keys: Vec<TokenKey>,
}

/// What every connection needs: the module, the token, the limits, the held PIN.
struct Inner {
    ctx: Pkcs11,
    spec: Pkcs11Spec,
    limits: LoginLimits,
    /// The failure-table key of this token: module path and token label.
    guard_key: String,
    pin: Mutex<Option<Zeroizing<String>>>,
    conn: Mutex<Option<Conn>>,
}

impl Inner {
    /// Finds the token by label, opens a session, logs in with the held PIN (if any) and
    /// reads the keys.
    fn connect(&self) -> Result<Conn, SignerError> {
        let slot = token_slot(&self.ctx, &self.spec.module, &self.spec.token)?;
        let session = self
            .ctx
            .open_ro_session(slot)
            .map_err(|e| ck("C_OpenSession", e))?;
        let logged_in = {
            let mut held = self.pin.lock().map_err(|_| poisoned())?;
            match held.as_ref() {
                Some(pin) => {
                    if let Err(e) = guarded_login(
                        &session,
                        &self.guard_key,
                        &self.spec.token,
                        pin,
                        &self.limits,
                    ) {
                        if matches!(
                            e,
                            SignerError::TokenWrongPin { .. } | SignerError::PinBlocked { .. }
                        ) {
                            *held = None; // never try a refused PIN again
                        }
                        return Err(e);
                    }
                    true
                }
                None => false,
            }
        };
        let keys = read_keys(
            &session,
            &self.spec.token,
            self.spec.key.as_deref(),
            logged_in,
        )?;
        Ok(Conn { session, keys })
    }

    /// Signs `digest` with the key of `id` (raw `CKM_ECDSA`), reconnecting once if the token
    /// dropped the session. Returns the token's 64-byte `r‖s`.
    fn sign(&self, id: &[u8], digest: &[u8; 32]) -> Result<Vec<u8>, SignerError> {
        let mut conn = self.conn.lock().map_err(|_| poisoned())?;
        for attempt in 0..2 {
            if conn.is_none() {
                *conn = Some(self.connect()?);
            }
            let Some(c) = conn.as_ref() else {
                return Err(SignerError::Backend("PKCS#11 session missing".into()));
            };
            let key = c
                .keys
                .iter()
                .find(|k| k.id == id)
                .ok_or_else(|| {
                    SignerError::Backend(format!(
                        "the key of this account is no longer on token `{}`",
                        self.spec.token
                    ))
                })?
                .private
                .ok_or(SignerError::PinRequired)?;
            match c.session.sign(&Mechanism::Ecdsa, key, digest) {
                Ok(sig) => return Ok(sig),
                Err(CkError::Pkcs11(
                    RvError::UserNotLoggedIn
                    | RvError::SessionHandleInvalid
                    | RvError::SessionClosed
                    | RvError::TokenNotPresent
                    | RvError::DeviceRemoved
                    | RvError::ObjectHandleInvalid
                    | RvError::KeyHandleInvalid,
                    _,
                )) if attempt == 0 => *conn = None,
                Err(e) => return Err(ck("C_Sign", e)),
            }
        }
        Err(SignerError::Backend(format!(
            "token `{}` keeps dropping the session",
            self.spec.token
        )))
    }
}

/// A PKCS#11 token behind the [`Signer`] trait.
pub struct Pkcs11Signer {
    inner: Arc<Inner>,
    chain_id: u32,
    /// Each account with its key's `CKA_ID` and `CKA_LABEL`.
    keys: Vec<(Vec<u8>, String, Account)>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("module", &self.inner.spec.module)
            .field("token", &self.inner.spec.token)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

fn guard_key(spec: &Pkcs11Spec) -> String {
    format!("{}\u{0}{}", spec.module.display(), spec.token)
}

impl Pkcs11Signer {
    /// Loads the module, finds the token by label, logs in with `pin` (under the node's
    /// back-off, [`LoginLimits`]) and reads its secp256k1 keys. Without a PIN the accounts
    /// are listed from the public keys and signing answers [`SignerError::PinRequired`].
    /// Blocks.
    pub fn open(
        spec: Pkcs11Spec,
        chain_id: u32,
        pin: Option<Zeroizing<String>>,
        limits: LoginLimits,
    ) -> Result<Pkcs11Signer, SignerError> {
        let ctx = context(&spec.module)?;
        let inner = Inner {
            ctx,
            guard_key: guard_key(&spec),
            spec,
            limits,
            pin: Mutex::new(pin),
            conn: Mutex::new(None),
        };
        let conn = inner.connect()?;
        let keys = conn
            .keys
            .iter()
            .map(|k| (k.id.clone(), k.label.clone(), k.account))
            .collect();
        *inner.conn.lock().map_err(|_| poisoned())? = Some(conn);
        Ok(Pkcs11Signer {
            inner: Arc::new(inner),
            chain_id,
            keys,
        })
    }

    /// Generates a secp256k1 key pair on the token (`CKA_TOKEN`, private key sensitive and
    /// never extractable), labelled `spec.key` or `cfxlight-<random>`; returns its account
    /// and label. Refuses a label already in use. Blocks.
    pub fn generate_key(
        spec: &Pkcs11Spec,
        pin: &Zeroizing<String>,
        limits: LoginLimits,
    ) -> Result<(Account, String), SignerError> {
        let ctx = context(&spec.module)?;
        let slot = token_slot(&ctx, &spec.module, &spec.token)?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| ck("C_OpenSession", e))?;
        guarded_login(&session, &guard_key(spec), &spec.token, pin, &limits)?;
        let id: [u8; 16] = rand::random();
        let label = spec
            .key
            .clone()
            .unwrap_or_else(|| format!("cfxlight-{}", hex::encode(&id[..6])));
        let taken = session
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map_err(|e| ck("C_FindObjects", e))?;
        if !taken.is_empty() {
            return Err(SignerError::Backend(format!(
                "token `{}` already has an object labelled `{label}`: choose another key=<label>",
                spec.token
            )));
        }
        let common = [
            Attribute::Token(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let mut public = common.to_vec();
        public.extend([
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(SECP256K1_PARAMS.to_vec()),
        ]);
        let mut private = common.to_vec();
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Derive(false),
        ]);
        let (public_handle, _) = session
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
            .map_err(|e| match e {
                CkError::Pkcs11(RvError::GeneralError | RvError::CurveNotSupported, _) => {
                    SignerError::Backend(format!(
                        "token `{}` cannot make secp256k1 keys ({e}; SoftHSM needs an OpenSSL with the curve)",
                        spec.token
                    ))
                }
                e => ck("C_GenerateKeyPair", e),
            })?;
        let point = session
            .get_attributes(public_handle, &[AttributeType::EcPoint])
            .map_err(|e| ck("C_GetAttributeValue", e))?;
        let public = attr_bytes(&point, AttributeType::EcPoint)
            .and_then(|p| parse_ec_point(&p))
            .ok_or_else(|| {
                SignerError::Backend("the new key's CKA_EC_POINT is not a secp256k1 point".into())
            })?;
        Ok((Account::from_public(public), label))
    }

    /// The `CKA_LABEL` of each account's key, in account order.
    pub fn key_labels(&self) -> Vec<(H160, String)> {
        self.keys
            .iter()
            .map(|(_, label, a)| (a.address, label.clone()))
            .collect()
    }

    fn key(&self, from: &H160) -> Result<(Vec<u8>, Account), SignerError> {
        self.keys
            .iter()
            .find(|(_, _, a)| a.address == *from)
            .map(|(id, _, a)| (id.clone(), *a))
            .ok_or(SignerError::UnknownAccount(*from))
    }
}

#[async_trait]
impl Signer for Pkcs11Signer {
    fn chain_id(&self) -> u32 {
        self.chain_id
    }

    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        Ok(self.keys.iter().map(|(_, _, a)| *a).collect())
    }

    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        // No blind signing on a hardware key.
        req.check_basic(self.chain_id, false)?;
        let (id, account) = self.key(&req.from())?;
        let digest = req.digest();
        let inner = self.inner.clone();
        let raw = tokio::task::spawn_blocking(move || inner.sign(&id, &digest.0))
            .await
            .map_err(|e| SignerError::Backend(format!("PKCS#11 task failed: {e}")))??;
        let sig = EcdsaSignature::from_slice(&raw).map_err(|_| {
            SignerError::Backend(format!(
                "token `{}` returned {} bytes, not a 64-byte r‖s ECDSA signature",
                self.inner.spec.token,
                raw.len()
            ))
        })?;
        complete_signature(&account, &digest, &sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_in_der_and_raw_form_parse_and_junk_does_not() {
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        let sk = k256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let point = sk.public_key().to_encoded_point(false);
        let raw = point.as_bytes();
        let mut der = vec![0x04, 0x41];
        der.extend_from_slice(raw);
        let a = parse_ec_point(&der).unwrap();
        assert_eq!(parse_ec_point(raw), Some(a));
        assert_eq!(&a.0[..], &raw[1..]);
        assert_eq!(parse_ec_point(&der[..66]), None);
        let mut off_curve = der.clone();
        off_curve[66] ^= 1;
        assert_eq!(parse_ec_point(&off_curve), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let l = LoginLimits::default();
        let d: Vec<u64> = (1..=8).map(|c| backoff_delay(c, &l).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
