//! The messages of `/cfxlight/signer/1`: one JSON request, one JSON response per stream.
//!
//! ```text
//! {"method":"hello","version":1,"chain_id":1029}        → {"result":"hello","version":1,"chain_id":1029,"name":"bsim"}
//! {"method":"accounts"}                                  → {"result":"accounts","public_keys":["0x<64 bytes>",…]}
//! {"method":"sign_transaction","from":"0x1…","payload":"0x…"}   (Transaction::signing_payload)
//! {"method":"sign_message","from":"0x1…","message":"0x…"}
//! {"method":"sign_typed_data","from":"0x1…","typed_data":{…CIP-23…}}
//!                                                        → {"result":"signature","v":0,"r":"0x…","s":"0x…"}
//! any                                                    → {"result":"error","kind":"policy","message":"…","rule":"max_value_per_tx"}
//! ```
//! Addresses, keys and numbers use ethereum-types' hex forms. Unknown fields are refused.

use cfxlight_primitives::{crypto::Signature, transaction::Transaction, H160, H512, U256};
use serde::{Deserialize, Serialize};

use crate::{error::SignerError, signer::SignRequest, typed_data::TypedData};

/// The protocol version both sides must agree on in `hello`.
pub const VERSION: u32 = 1;

/// A request from the node to the signer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Version and chain handshake; sent first on every connection.
    Hello {
        /// [`VERSION`].
        version: u32,
        /// The chain id the node runs on.
        chain_id: u32,
    },
    /// The accounts the signer holds (a struct variant, so unknown fields are refused).
    Accounts {},
    /// Sign a transaction given by its signing payload (the bytes its hash is keccak of).
    SignTransaction {
        /// The account to sign with.
        from: H160,
        /// `Transaction::signing_payload`, `0x` hex.
        payload: HexBytes,
    },
    /// Sign a personal message (Conflux prefix added by the signer).
    SignMessage {
        /// The account to sign with.
        from: H160,
        /// The message bytes, `0x` hex.
        message: HexBytes,
    },
    /// Sign CIP-23 typed data.
    SignTypedData {
        /// The account to sign with.
        from: H160,
        /// The typed data.
        typed_data: TypedData,
    },
}

/// The signer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// The handshake's answer.
    Hello {
        /// [`VERSION`].
        version: u32,
        /// The chain id the serving signer is bound to.
        chain_id: u32,
        /// What serves (`bsim`, `keystore`, …), for messages.
        name: String,
    },
    /// The public keys (64 bytes, no `04` prefix); the node derives the addresses.
    Accounts {
        /// One per account.
        public_keys: Vec<H512>,
    },
    /// A signature (the node re-checks it against the account's key).
    Signature {
        /// Recovery id, 0 or 1.
        v: u8,
        /// r.
        r: U256,
        /// s.
        s: U256,
    },
    /// A refusal or a failure on the signer's side.
    Error {
        /// What kind of failure ([`ErrorKind`]).
        kind: ErrorKind,
        /// The serving signer's own words.
        message: String,
        /// For `policy`: the rule that refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
}

/// Why a remote request failed, so the node can tell the user what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The serving side's policy refused it.
    Policy,
    /// No such account on the serving side.
    UnknownAccount,
    /// The device is absent, locked or needs a PIN there.
    Device,
    /// A malformed or unsupported request (wrong version or chain, bad payload).
    BadRequest,
    /// The serving signer is busy with too many requests.
    Busy,
    /// Anything else.
    Other,
}

/// Bytes as a `0x` hex string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(&self.0)))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let h = s
            .strip_prefix("0x")
            .ok_or_else(|| serde::de::Error::custom("bytes must be 0x-prefixed hex"))?;
        hex::decode(h)
            .map(HexBytes)
            .map_err(|_| serde::de::Error::custom("bytes are not hex"))
    }
}

impl Request {
    /// The wire form of a signing request (a raw hash is never sent remotely).
    pub fn from_sign_request(req: &SignRequest<'_>) -> Result<Self, SignerError> {
        use crate::signer::SignPayload;
        Ok(match req.payload() {
            SignPayload::Transaction(tx) => Request::SignTransaction {
                from: req.from(),
                payload: HexBytes(tx.signing_payload()),
            },
            SignPayload::Message(m) => Request::SignMessage {
                from: req.from(),
                message: HexBytes(m.to_vec()),
            },
            SignPayload::TypedData(d) => Request::SignTypedData {
                from: req.from(),
                typed_data: d.clone(),
            },
            SignPayload::Hash => return Err(SignerError::BlindSigningDisabled),
        })
    }
}

/// A signing request as the serving side rebuilds it: the content decoded, so the digest is
/// computed here from what will be judged, never taken from the wire.
#[derive(Debug, Clone)]
pub enum Owned {
    /// A transaction.
    Transaction(H160, Transaction),
    /// A personal message.
    Message(H160, Vec<u8>),
    /// Typed data.
    TypedData(H160, TypedData),
}

impl Owned {
    /// The borrowed [`SignRequest`] over this content.
    pub fn request(&self) -> Result<SignRequest<'_>, SignerError> {
        Ok(match self {
            Owned::Transaction(from, tx) => SignRequest::transaction(*from, tx),
            Owned::Message(from, m) => SignRequest::message(*from, m),
            Owned::TypedData(from, d) => SignRequest::typed_data(*from, d)?,
        })
    }
}

impl Response {
    /// The wire form of a signature.
    pub fn signature(sig: &Signature) -> Self {
        Response::Signature {
            v: sig.v,
            r: sig.r,
            s: sig.s,
        }
    }

    /// The wire form of a refusal, keeping what kind it was.
    pub fn error(e: &SignerError) -> Self {
        let (kind, rule) = match e {
            SignerError::PolicyRefused { rule, .. } => (ErrorKind::Policy, Some(rule.clone())),
            SignerError::UnknownAccount(_) => (ErrorKind::UnknownAccount, None),
            SignerError::CardAbsent { .. }
            | SignerError::PinRequired
            | SignerError::WrongPin { .. }
            | SignerError::PinBlocked { .. }
            | SignerError::PinLastTry { .. }
            | SignerError::WrongCard { .. }
            | SignerError::PluginLocked { .. } => (ErrorKind::Device, None),
            SignerError::WrongChainId { .. }
            | SignerError::InvalidTypedData(_)
            | SignerError::BlindSigningDisabled => (ErrorKind::BadRequest, None),
            _ => (ErrorKind::Other, None),
        };
        Response::Error {
            kind,
            message: e.to_string(),
            rule,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_have_the_documented_json_form_and_refuse_unknown_fields() {
        let r = Request::Hello {
            version: 1,
            chain_id: 1029,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"method":"hello","version":1,"chain_id":1029}"#
        );
        let s = Request::SignMessage {
            from: H160::repeat_byte(0x11),
            message: HexBytes(b"hi".to_vec()),
        };
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(
            j,
            r#"{"method":"sign_message","from":"0x1111111111111111111111111111111111111111","message":"0x6869"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&j).unwrap(), s);
        assert!(serde_json::from_str::<Request>(r#"{"method":"accounts","x":1}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"method":"sign_hash"}"#).is_err());
        assert!(serde_json::from_str::<Request>(
            r#"{"method":"sign_message","from":"0x1111111111111111111111111111111111111111","message":"6869"}"#
        )
        .is_err());
        let e = Response::error(&SignerError::PolicyRefused {
            rule: "max_value_per_tx".into(),
            detail: "too much".into(),
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"result":"error","kind":"policy","message":"refused by policy rule `max_value_per_tx`: too much","rule":"max_value_per_tx"}"#
        );
    }
}
