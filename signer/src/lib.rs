//! The signing subsystem of cfxlight.
//!
//! Every signature the node hands out comes from a backend behind one `Signer` trait: a
//! BSIM card over PC/SC, a software keystore, a PKCS#11 token, a plugin or a remote signer.
//! The node itself never holds a key. This crate is a placeholder until the signer issue
//! fills it; for now it only parses the backend spec so the CLI contract can be fixed early.

use thiserror::Error;

/// Why a signer spec string could not be understood.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    /// The part before the first `:` names no known backend.
    #[error("unknown signer backend `{0}` (known: bsim, keystore, pkcs11, plugin, remote)")]
    UnknownBackend(String),
    /// The spec string was empty.
    #[error("empty signer spec")]
    Empty,
}

/// A parsed `--signer` value: which backend, and its backend-specific argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerSpec {
    /// Backend name, e.g. `bsim` or `keystore`.
    pub backend: String,
    /// Everything after the first `:`, uninterpreted here (e.g. `reader=<name>` or a directory).
    pub arg: Option<String>,
}

impl std::str::FromStr for SignerSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SpecError::Empty);
        }
        let (backend, arg) = match s.split_once(':') {
            Some((b, a)) => (b, Some(a.to_string())),
            None => (s, None),
        };
        match backend {
            "bsim" | "keystore" | "pkcs11" | "plugin" | "remote" => Ok(SignerSpec {
                backend: backend.to_string(),
                arg,
            }),
            other => Err(SpecError::UnknownBackend(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_and_argument() {
        let s: SignerSpec = "bsim:reader=Virtual PCD 00 00".parse().unwrap();
        assert_eq!(s.backend, "bsim");
        assert_eq!(s.arg.as_deref(), Some("reader=Virtual PCD 00 00"));
        let k: SignerSpec = "keystore".parse().unwrap();
        assert_eq!(k.arg, None);
        assert_eq!(
            "ledger".parse::<SignerSpec>(),
            Err(SpecError::UnknownBackend("ledger".into()))
        );
        assert_eq!("  ".parse::<SignerSpec>(), Err(SpecError::Empty));
    }
}
