//! The signing subsystem of cfxlight: who signs, under which rules, with what record.
//!
//! Every signature the node hands out comes from a backend behind one [`Signer`] trait: a
//! BSIM card over PC/SC, a software keystore, a PKCS#11 token, a plugin or a remote signer.
//! The node itself never holds a key. What this crate provides:
//! - [`Signer`] (module [`signer`]): accounts, native transactions (the signer computes the
//!   signing hash and is bound to one chain id), personal messages ([`message`]), CIP-23
//!   typed data ([`typed_data`]); raw hash signing only when explicitly enabled. Every
//!   signature is checked against the account's public key before it is returned.
//! - Backends, one cargo feature each except the keystore ([`Backend`] names them): the
//!   software keystore ([`keystore`], V3 JSON as conflux-rust and js-conflux-sdk write it,
//!   always built), the BSIM card (`bsim`, over the `cfxlight-bsim` PC/SC client, behind
//!   the `bsim` feature, on by default),
//!   PKCS#11 tokens (`pkcs11`, behind the `pkcs11` feature, on by default), external
//!   plugins in any language (`plugin`, JSON-RPC over stdio, behind the `plugin` feature,
//!   on by default; protocol in `signer/PLUGIN.md`), a signer on another machine over
//!   libp2p (`remote`, behind the `remote` feature, on by default; `cfxlight signer serve`
//!   is its other end).
//! - [`SignerSpec`], [`open`] (backend plus policy and audit) and [`open_signer`] (module
//!   [`spec`]):
//!   `--signer bsim|keystore:<dir>|pkcs11:module=<path>,token=<label>|plugin:<exe> [args]|remote:<multiaddr>/p2p/<peer id>`.
//! - [`PolicySigner`] (module [`policy`]): a wrapper for any backend that enforces a policy
//!   file (chain id, value and fee caps, daily caps, recipient and method allow-lists) and
//!   writes a hash-chained audit log ([`audit`]).
//! - `cli` (the `cli` feature, off by default): the `cfxlight signer …` subcommands for
//!   the node binary, the only place clap and anyhow are used.
//!
//! What it is not: it does not talk to the network (no nonces or gas estimation) and does
//! not decide what to sign; that is the node's and the user's job.

pub mod audit;
#[cfg(feature = "bsim")]
pub mod bsim;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod keystore;
pub mod message;
pub mod numbers;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
#[cfg(feature = "plugin")]
pub mod plugin;
pub mod policy;
#[cfg(feature = "remote")]
pub mod remote;
pub mod signer;
pub mod spec;
pub mod time;
pub mod txjson;
pub mod typed_data;

pub use audit::{verify_audit, AuditLog};
pub use error::SignerError;
pub use keystore::KeystoreSigner;
#[cfg(feature = "pkcs11")]
pub use pkcs11::Pkcs11Signer;
#[cfg(feature = "plugin")]
pub use plugin::PluginSigner;
pub use policy::{Policy, PolicySigner};
#[cfg(feature = "remote")]
pub use remote::RemoteSigner;
pub use signer::{Account, Method, SignRequest, Signer, VerifiedSignature};
pub use spec::{
    open, open_signer, Backend, OpenOptions, Pkcs11Spec, PluginSpec, SignerSpec, SpecError,
};
pub use typed_data::TypedData;
