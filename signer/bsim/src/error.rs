//! The crate's one error type: card status words, host-side failures, emulator failures.

use crate::sw;

/// Everything that can go wrong talking to (or being) a BSIM card.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `63Cx`: wrong BPIN, `tries_left` tries remain (`x`, 1..=15).
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin {
        /// Tries remaining before the PIN blocks.
        tries_left: u8,
    },
    /// `6983` or `63C0`: the BPIN is blocked; the card refuses to verify or sign.
    #[error("PIN blocked: the card is locked (status 6983/63C0)")]
    PinBlocked,
    /// The card has fewer tries left than an unattended VERIFY may risk
    /// ([`crate::applet::MIN_TRIES_TO_VERIFY`]): the PIN was not sent, no try was spent.
    #[error(
        "the card has only {tries_left} PIN try left: the PIN was not sent, so no try was spent"
    )]
    PinLastTry {
        /// Tries the card reports left (1 unless the minimum is raised).
        tries_left: u8,
    },
    /// `6982`: the operation needs a verified BPIN (verify it first; it is never retried).
    #[error("PIN required: verify the card PIN first (status 6982)")]
    PinRequired,
    /// `6A82`: applet (AID) not found on the card.
    #[error("applet not found on the card (status 6A82)")]
    NotFound,
    /// `6A83`: no key at that coin type and index.
    #[error("key not found on the card (status 6A83)")]
    KeyNotFound,
    /// Any other status word.
    #[error("card answered {sw:04X} ({meaning})")]
    Status {
        /// SW1 SW2.
        sw: u16,
        /// Short meaning of the status word.
        meaning: &'static str,
    },
    /// The card's answer does not parse (truncated TLV, bad DER, …).
    #[error("malformed card response: {0}")]
    Malformed(&'static str),
    /// A PIN that is not six ASCII digits: refused before it could burn a try.
    #[error("PIN must be exactly 6 ASCII digits")]
    InvalidPinFormat,
    /// A bad argument from the caller.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No card in the reader (removed, or never inserted).
    #[error("card absent: no card in reader {0:?}")]
    CardAbsent(String),
    /// No PC/SC reader at all (or none with that name).
    #[error("no smart-card reader{0}")]
    NoReader(String),
    /// The card in the reader is not the one this client was bound to.
    #[error("wrong card: expected {expected}, found {found}")]
    WrongCard {
        /// What the remembered card looked like (ICCID, key).
        expected: String,
        /// What the card in the reader looks like.
        found: String,
    },
    /// The card's signature does not recover to the key it was asked to sign with.
    #[error("card signature does not match public key of index {index}")]
    SignatureMismatch {
        /// Key index that was asked to sign.
        index: u8,
    },
    /// An issuer attestation does not verify.
    #[error("attestation does not verify for this public key, ICCID and issuer")]
    AttestationInvalid,
    /// A PC/SC error that is not one of the cases above.
    #[error("PC/SC: {0}")]
    Pcsc(#[from] pcsc::Error),
    /// I/O on a state file or socket.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A virtual-card state file that does not parse or is inconsistent.
    #[error("card state {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// The typed error of a non-`9000` status word.
    pub fn from_status(status: u16) -> Error {
        match status {
            0x63C0 | sw::PIN_BLOCKED => Error::PinBlocked,
            x if x & 0xFFF0 == sw::TRIES_LEFT_MASK => Error::WrongPin {
                tries_left: (x & 0x0F) as u8,
            },
            sw::SECURITY_STATUS => Error::PinRequired,
            sw::NOT_FOUND => Error::NotFound,
            sw::RECORD_NOT_FOUND => Error::KeyNotFound,
            other => Error::Status {
                sw: other,
                meaning: sw::meaning(other),
            },
        }
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
