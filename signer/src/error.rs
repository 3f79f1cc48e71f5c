//! The one error type of the signing subsystem.
//!
//! Every variant says what went wrong and what the user can do about it: a card to insert,
//! a PIN to enter, a policy rule to change. Backends map their own failures (status words,
//! I/O, KDF errors) onto these variants so the node and the CLI can react without knowing
//! which backend is in use.

use std::path::PathBuf;

use cfxlight_primitives::H160;
use thiserror::Error;

/// Why a signer could not list accounts or produce a signature.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SignerError {
    /// No card (or token) is present in the reader.
    #[error("no card present{}: insert the card and retry", reader_suffix(.reader))]
    CardAbsent {
        /// The reader that was looked at, if one was named.
        reader: Option<String>,
    },
    /// The backend needs a PIN or password and none was given.
    #[error("a PIN or password is required: pass --pin-file, set CFXLIGHT_PIN/CFXLIGHT_PASSWORD, or run on a terminal to be prompted")]
    PinRequired,
    /// The card refused a PIN: `tries_left` more wrong PINs block it.
    #[error("wrong PIN ({tries_left} tries left before the card blocks)")]
    WrongPin {
        /// Attempts remaining on the card.
        tries_left: u8,
    },
    /// The card's PIN is blocked (status word `63C0` or `6983`).
    #[error("PIN blocked on the card (tries left: {tries_left}): unblock it with the PUK or the operator's tool")]
    PinBlocked {
        /// Attempts remaining (0 once blocked).
        tries_left: u8,
    },
    /// The card has one PIN try left: the PIN (from a file or the environment) was not
    /// sent, so a wrong one cannot block the card.
    #[error("the card has only {tries_left} PIN try left, so the PIN was not sent (no try spent): check the PIN file / CFXLIGHT_PIN; if it is right, run once with CFXLIGHT_BSIM_SPEND_LAST_TRY=1 (a right PIN restores all tries, a wrong one blocks the card)")]
    PinLastTry {
        /// Attempts remaining on the card.
        tries_left: u8,
    },
    /// The card present is not the one the account was bound to.
    #[error("wrong card: expected {expected}, found {found}; insert the original card")]
    WrongCard {
        /// What the card the signer was opened with looked like (ICCID, key).
        expected: String,
        /// What the card in the reader looks like.
        found: String,
    },
    /// The policy refused the request; `rule` names the rule that refused it.
    #[error("refused by policy rule `{rule}`: {detail}")]
    PolicyRefused {
        /// The rule's name as written in the policy file (e.g. `max_value_per_tx`).
        rule: String,
        /// Why the request broke the rule.
        detail: String,
    },
    /// The backend did not answer in time.
    #[error("signer timed out after {millis} ms during {operation}")]
    Timeout {
        /// What was being done.
        operation: String,
        /// How long was waited.
        millis: u64,
    },
    /// The transaction (or request) names a chain the signer is not bound to.
    #[error("wrong chain id: this signer is bound to chain {expected}, the request is for chain {actual}")]
    WrongChainId {
        /// The signer's chain id.
        expected: u32,
        /// The chain id in the request.
        actual: u32,
    },
    /// No account of this signer has the address.
    #[error(
        "unknown account {0:?}: not one of this signer's accounts (see `cfxlight signer list`)"
    )]
    UnknownAccount(H160),
    /// The password does not open the keystore (its MAC does not match).
    #[error("wrong password for keystore {}", .path.display())]
    WrongPassword {
        /// The key file.
        path: PathBuf,
    },
    /// A keystore file or directory could not be read or written.
    #[error("keystore I/O error at {}: {source}", .path.display())]
    KeystoreIo {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A keystore file is not a V3 keystore we can read.
    #[error("invalid keystore {}: {reason}", .path.display())]
    KeystoreFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Raw-hash signing was asked for but the backend was not configured to allow it.
    #[error("blind (raw hash) signing is disabled for this signer: sign a transaction, message or typed data instead, or enable it explicitly")]
    BlindSigningDisabled,
    /// The backend's signature did not verify against the account's public key.
    #[error("the signature from the backend does not recover to account {0:?}'s public key (corrupted I/O or a swapped key): refused")]
    SignatureCheckFailed(H160),
    /// The typed data (CIP-23) could not be encoded.
    #[error("invalid typed data: {0}")]
    InvalidTypedData(String),
    /// No token with the wanted label is in the PKCS#11 module's slots.
    #[error("no PKCS#11 token labelled `{wanted}` in {}; tokens found: {}", .module.display(), labels(.found))]
    TokenNotFound {
        /// The module that was searched.
        module: PathBuf,
        /// The label asked for.
        wanted: String,
        /// The labels of the initialised tokens that are there.
        found: Vec<String>,
    },
    /// The token refused the PIN; cfxlight counts this failure against its own limit.
    #[error("wrong PIN for token `{token}` ({tries_left} more failures and cfxlight stops trying for a while; the token itself has no lockout)")]
    TokenWrongPin {
        /// The token's label.
        token: String,
        /// Failures left before cfxlight's lockout.
        tries_left: u32,
    },
    /// A login was not attempted: too soon after a failed one (cfxlight's back-off).
    #[error("not trying the PIN of token `{token}` yet: {failures} failed logins, retry in {retry_after_ms} ms (cfxlight's back-off; check the PIN first)")]
    LoginBackoff {
        /// The token's label.
        token: String,
        /// Consecutive failed logins so far.
        failures: u32,
        /// How long until the next attempt is allowed.
        retry_after_ms: u64,
    },
    /// A login was not attempted: too many failed ones (cfxlight's lockout).
    #[error("PIN of token `{token}` locked out by cfxlight after {failures} failed logins: no attempt for another {retry_after_secs} s")]
    LoginLockedOut {
        /// The token's label.
        token: String,
        /// Consecutive failed logins.
        failures: u32,
        /// How long the lockout still lasts.
        retry_after_secs: u64,
    },
    /// The plugin's user (or its own rules) refused the request (plugin error 4001).
    #[error("signer plugin `{plugin}` refused the request: {message}")]
    PluginRejected {
        /// The plugin's name (from its handshake, else its executable).
        plugin: String,
        /// The plugin's own words.
        message: String,
    },
    /// The plugin is locked and must be unlocked on its side (plugin error 4100).
    #[error("signer plugin `{plugin}` is locked: {message} (unlock it with its own PIN or UI, then retry)")]
    PluginLocked {
        /// The plugin's name.
        plugin: String,
        /// The plugin's own words.
        message: String,
    },
    /// The plugin process failed: it could not start, crashed, broke the protocol or gave
    /// an unusable answer. The request was not resent; the next request restarts it.
    #[error("signer plugin `{plugin}` failed during {operation}: {detail}")]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// The protocol method that was in progress.
        operation: String,
        /// What went wrong, and what happens next.
        detail: String,
    },
    /// The remote signer could not be reached or the exchange failed (transport, handshake,
    /// an answer of the wrong kind). Nothing was signed that the node will use.
    #[error("remote signer {peer} failed during {operation}: {detail}")]
    Remote {
        /// The pinned peer id.
        peer: String,
        /// What was being done.
        operation: String,
        /// What went wrong, and what happens next.
        detail: String,
    },
    /// The remote signer refused the request (its device, its own rules).
    #[error("remote signer {peer} refused the request: {message}")]
    RemoteRefused {
        /// The pinned peer id.
        peer: String,
        /// The serving side's own words.
        message: String,
    },
    /// The spec names a backend this build does not provide.
    #[error("signer backend `{0}` is not available in this build (available: {avail})", avail = crate::spec::Backend::available())]
    UnsupportedBackend(crate::spec::Backend),
    /// The spec or its options are malformed.
    #[error("invalid signer spec: {0}")]
    InvalidSpec(String),
    /// The policy file or its state file is unusable.
    #[error("policy error: {0}")]
    Policy(String),
    /// The audit log could not be written (the request is refused: nothing is signed unlogged).
    #[error("audit log error: {0}")]
    Audit(String),
    /// Any other backend failure, with the backend's own words.
    #[error("signer backend error: {0}")]
    Backend(String),
}

fn labels(found: &[String]) -> String {
    if found.is_empty() {
        return "none (initialise one: softhsm2-util --init-token --free --label <label>)".into();
    }
    found
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reader_suffix(reader: &Option<String>) -> String {
    reader
        .as_ref()
        .map(|r| format!(" in reader `{r}`"))
        .unwrap_or_default()
}
