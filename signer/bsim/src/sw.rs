//! Status words (SW1 SW2) the BSIM applet answers, as Fluent `errors.ts` lists them, plus
//! the ISO 7816-4 meanings this crate relies on. Apart from the APDU layer so the error
//! type can describe them without an import circle.

/// Success.
pub const OK: u16 = 0x9000;
/// More data: EXPORT PUBKEYS has another page (Fluent `APDU_STATUS.PENDING`).
pub const MORE_DATA: u16 = 0x6300;
/// `63Cx`: verification failed, `x` tries left (Fluent lists up to `63CA`).
pub const TRIES_LEFT_MASK: u16 = 0x63C0;
/// Memory failure (the card could not persist its state).
pub const MEMORY_FAILURE: u16 = 0x6581;
/// Wrong length.
pub const WRONG_LENGTH: u16 = 0x6700;
/// Security status not satisfied: BPIN not verified (Fluent: "not yet certified").
pub const SECURITY_STATUS: u16 = 0x6982;
/// Authentication method blocked: BPIN blocked, card locked.
pub const PIN_BLOCKED: u16 = 0x6983;
/// Referenced data invalidated.
pub const DATA_INVALIDATED: u16 = 0x6984;
/// Conditions of use not satisfied (e.g. no applet selected).
pub const CONDITIONS: u16 = 0x6985;
/// Incorrect data field.
pub const WRONG_DATA: u16 = 0x6A80;
/// Applet / file not found (SELECT of an unknown AID).
pub const NOT_FOUND: u16 = 0x6A82;
/// Record not found: no key at that (coin, index).
pub const RECORD_NOT_FOUND: u16 = 0x6A83;
/// Not enough memory: no free key slot.
pub const NO_MEMORY: u16 = 0x6A84;
/// Incorrect P1/P2.
pub const WRONG_P1P2: u16 = 0x6A86;
/// Fluent maps `6A88` to "wrong BPIN" (its `errors.ts`) and also to "recovery mode".
pub const WRONG_BPIN: u16 = 0x6A88;
/// Instruction not supported.
pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
/// Class not supported.
pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;

/// A short English meaning of a status word, for error messages.
pub fn meaning(sw: u16) -> &'static str {
    match sw {
        OK => "success",
        MORE_DATA => "more data",
        MEMORY_FAILURE => "memory failure",
        WRONG_LENGTH => "wrong length",
        SECURITY_STATUS => "security status not satisfied (BPIN not verified)",
        PIN_BLOCKED => "BPIN blocked (card locked)",
        DATA_INVALIDATED => "referenced data invalidated",
        CONDITIONS => "conditions of use not satisfied",
        WRONG_DATA => "incorrect data",
        NOT_FOUND => "applet not found",
        RECORD_NOT_FOUND => "key not found",
        NO_MEMORY => "no free key slot",
        WRONG_P1P2 => "incorrect P1/P2",
        WRONG_BPIN => "wrong BPIN",
        INS_NOT_SUPPORTED => "instruction not supported",
        CLA_NOT_SUPPORTED => "class not supported",
        x if x & 0xFFF0 == TRIES_LEFT_MASK => "verification failed",
        _ => "unknown status",
    }
}
