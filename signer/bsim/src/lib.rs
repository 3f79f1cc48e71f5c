//! BSIM card support for cfxlight: the card's APDU protocol, a virtual card, and a host
//! client over PC/SC.
//!
//! A BSIM is a SIM card whose secure element generates and keeps blockchain keys. Its only
//! public description is the code of Conflux's Fluent wallet (`fluent-wallet/venus`,
//! `modules/BSIM/`); this crate speaks the same APDUs (see [`apdu`] for the table).
//!
//! - [`apdu`]: constants, command builders, response parsers (TLV, DER) that never panic.
//! - [`applet`]: the host-side flows (select, verify PIN, list, generate, sign, …) over any
//!   [`applet::Transport`], with every signature checked against the key's public key.
//! - `card`: a virtual BSIM card (the applet emulated, state in a 0600 file); `vpcd`:
//!   plugs it into real pcscd through vsmartcard's vpcd driver (binary `bsim-card`). Both
//!   only with the `emulator` feature (off by default), so a host that talks to a real card
//!   does not ship a card emulator and its key file format.
//! - [`sw`]: the status words.
//! - [`host`]: [`BsimCard`], the PC/SC client a Conflux `Signer` is built on: reader
//!   selection, one exchange at a time, card removal / swap / pcscd restart handled.
//! - [`attest`]: the issuer attestation binding each key to the card's ICCID.
//!
//! What this crate is not: it holds no policy and builds no transactions. It signs
//! 32-byte hashes it is given; the signer layer above decides what may be signed.
//!
//! ## Virtual card state file (`bsim-card --state <file>`)
//!
//! JSON, mode 0600, replaced atomically (temp file + rename) on every change:
//!
//! ```json
//! { "format": "cfxlight-bsim-card/1",
//!   "iccid": "89860000000000000017",
//!   "pin": { "salt": "<16 bytes hex>", "keccak": "<keccak256(domain ‖ salt ‖ pin) hex>" },
//!   "pin_max_tries": 5, "pin_tries_left": 5,
//!   "issuer_secret": "<32 bytes hex>", "issuer_public": "<64 bytes hex>",
//!   "keys": [ { "coin": 503, "index": 1, "alg": 1, "secret": "<32 bytes hex>",
//!               "public": "<64 bytes hex>", "attestation": "<64 bytes hex r‖s>" } ] }
//! ```
//!
//! `<file>.pulled` existing means the card is pulled out (`bsim-card pull|insert`).

pub mod apdu;
pub mod applet;
pub mod attest;
#[cfg(feature = "emulator")]
pub mod card;
pub mod error;
pub mod host;
pub mod sw;
#[cfg(feature = "emulator")]
pub mod vpcd;

pub use applet::{Applet, CardKeyId, CardSignature, PinStatus, Transport};
pub use attest::verify_attestation;
pub use error::Error;
pub use host::{BsimCard, BsimOptions};
