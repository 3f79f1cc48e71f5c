//! eSpace (Ethereum-space) transactions as Core blocks carry them: EIP-155 legacy,
//! EIP-2930, EIP-1559 and EIP-7702, with Ethereum's signing hashes, transaction hashes
//! and sender addresses.
//!
//! Wire facts (conflux-rust `crates/primitives/src/transaction/mod.rs`,
//! `TransactionWithSignatureSerializePart`, and `eth_transaction.rs`):
//! - legacy = `rlp([nonce, gasPrice, gas, to, value, data, v, r, s])` with
//!   `v = 35 + 2·chainId + parity` (EIP-155) or `27 + parity` (no chain id); a chain id
//!   of 2^32 or more is refused; signing hash `keccak(rlp([.., data, chainId, 0, 0]))`
//!   (6 items without a chain id);
//! - typed = `type ‖ rlp([chainId, fields…, yParity, r, s])` with type 0x01 (2930,
//!   11 items), 0x02 (1559, 12 items) or 0x04 (7702, 13 items, the authorization list
//!   after the access list); signing hash `keccak(type ‖ rlp([chainId, fields…]))`;
//! - in a block a legacy transaction is the bare list, a typed one an RLP string holding
//!   those bytes; the hash is keccak of the list, or of the typed bytes;
//! - the sender is `keccak(public)[12..]`, Ethereum's address (no Conflux type nibble).
//!
//! Decoding is strict like the rest of the crate: canonical RLP, exact item counts, no
//! trailing bytes, `yParity` 0 or 1, legacy `v` only 27, 28 or ≥ 35.

use ethereum_types::{H160, H256, H512, U256};
use k256::ecdsa::SigningKey;
use rlp::{DecoderError, Rlp, RlpStream};

use crate::{
    crypto::{self, Signature, SignatureError},
    hash::{keccak256, keccak256_concat},
    rlp_util::{check_exact, expect_list_len, list_at},
    transaction::{AccessList, Action, TxError},
};

/// Type byte of an EIP-2930 transaction.
pub const EIP2930_TYPE: u8 = 0x01;
/// Type byte of an EIP-1559 transaction.
pub const EIP1559_TYPE: u8 = 0x02;
/// Type byte of an EIP-7702 transaction.
pub const EIP7702_TYPE: u8 = 0x04;
/// The byte that opens the signed payload of an EIP-7702 authorization.
pub const AUTH_MAGIC: u8 = 0x05;

/// One signed EIP-7702 authorization: `[chainId, address, nonce, yParity, r, s]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Authorization {
    /// Chain the authorization is valid on (0: any).
    pub chain_id: U256,
    /// Code the authority delegates to.
    pub address: H160,
    /// The authority's nonce.
    pub nonce: u64,
    /// y-parity of the authority's signature (kept as sent: checked at execution).
    pub y_parity: u8,
    /// Signature r.
    pub r: U256,
    /// Signature s.
    pub s: U256,
}

impl rlp::Encodable for Authorization {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(6)
            .append(&self.chain_id)
            .append(&self.address)
            .append(&self.nonce)
            .append(&self.y_parity)
            .append(&self.r)
            .append(&self.s);
    }
}

impl rlp::Decodable for Authorization {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 6)?;
        Ok(Authorization {
            chain_id: rlp.val_at(0)?,
            address: rlp.val_at(1)?,
            nonce: rlp.val_at(2)?,
            y_parity: rlp.val_at(3)?,
            r: rlp.val_at(4)?,
            s: rlp.val_at(5)?,
        })
    }
}

impl Authorization {
    /// The hash the authority signed: `keccak(0x05 ‖ rlp([chainId, address, nonce]))`.
    pub fn signing_hash(&self) -> H256 {
        let mut s = RlpStream::new_list(3);
        s.append(&self.chain_id)
            .append(&self.address)
            .append(&self.nonce);
        keccak256_concat(&[&[AUTH_MAGIC], &s.out()])
    }

    /// The authority's address, when the signature recovers one.
    pub fn authority(&self) -> Result<H160, SignatureError> {
        let sig = Signature {
            v: self.y_parity,
            r: self.r,
            s: self.s,
        };
        Ok(eth_address(&crypto::recover(&self.signing_hash(), &sig)?))
    }
}

/// The fields that differ between the eSpace transaction types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EthTxKind {
    /// Legacy; `chain_id` None for a pre-EIP-155 signature (`v` 27/28).
    Legacy {
        /// Price per gas.
        gas_price: U256,
        /// EIP-155 chain id, when the signature carries one.
        chain_id: Option<u32>,
    },
    /// EIP-2930.
    Eip2930 {
        /// Chain id.
        chain_id: u32,
        /// Price per gas.
        gas_price: U256,
        /// Pre-declared addresses and slots.
        access_list: AccessList,
    },
    /// EIP-1559.
    Eip1559 {
        /// Chain id.
        chain_id: u32,
        /// Tip per gas.
        max_priority_fee_per_gas: U256,
        /// Cap on base fee + tip per gas.
        max_fee_per_gas: U256,
        /// Pre-declared addresses and slots.
        access_list: AccessList,
    },
    /// EIP-7702 (the action is always a call).
    Eip7702 {
        /// Chain id.
        chain_id: u32,
        /// Tip per gas.
        max_priority_fee_per_gas: U256,
        /// Cap on base fee + tip per gas.
        max_fee_per_gas: U256,
        /// Pre-declared addresses and slots.
        access_list: AccessList,
        /// Code delegations signed by their authorities.
        authorization_list: Vec<Authorization>,
    },
}

/// An unsigned eSpace transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthTransaction {
    /// Sender's nonce.
    pub nonce: U256,
    /// Gas limit.
    pub gas: U256,
    /// Recipient or deployment (never a deployment for EIP-7702).
    pub action: Action,
    /// Value in wei (drip).
    pub value: U256,
    /// Call data or init code.
    pub data: Vec<u8>,
    /// Type-specific fields.
    pub kind: EthTxKind,
}

impl EthTransaction {
    /// The EIP-2718 type: 0 legacy, 1, 2 or 4.
    pub fn type_id(&self) -> u8 {
        match self.kind {
            EthTxKind::Legacy { .. } => 0,
            EthTxKind::Eip2930 { .. } => EIP2930_TYPE,
            EthTxKind::Eip1559 { .. } => EIP1559_TYPE,
            EthTxKind::Eip7702 { .. } => EIP7702_TYPE,
        }
    }

    /// The chain id (None only for a pre-EIP-155 legacy transaction).
    pub fn chain_id(&self) -> Option<u32> {
        match self.kind {
            EthTxKind::Legacy { chain_id, .. } => chain_id,
            EthTxKind::Eip2930 { chain_id, .. }
            | EthTxKind::Eip1559 { chain_id, .. }
            | EthTxKind::Eip7702 { chain_id, .. } => Some(chain_id),
        }
    }

    /// `gasPrice` as an RPC reports it (the fee cap for 1559 and 7702).
    pub fn gas_price(&self) -> U256 {
        match &self.kind {
            EthTxKind::Legacy { gas_price, .. } | EthTxKind::Eip2930 { gas_price, .. } => {
                *gas_price
            }
            EthTxKind::Eip1559 {
                max_fee_per_gas, ..
            }
            | EthTxKind::Eip7702 {
                max_fee_per_gas, ..
            } => *max_fee_per_gas,
        }
    }

    /// Appends the typed fields `chainId, …, accessList(, authorizationList)` into an
    /// already opened list ([`EthTransaction::typed_field_count`] items).
    fn append_typed_fields(&self, s: &mut RlpStream) {
        match &self.kind {
            EthTxKind::Legacy { .. } => {}
            EthTxKind::Eip2930 {
                chain_id,
                gas_price,
                access_list,
            } => {
                s.append(chain_id)
                    .append(&self.nonce)
                    .append(gas_price)
                    .append(&self.gas)
                    .append(&self.action)
                    .append(&self.value)
                    .append(&self.data)
                    .append_list(access_list);
            }
            EthTxKind::Eip1559 {
                chain_id,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                access_list,
            } => {
                s.append(chain_id)
                    .append(&self.nonce)
                    .append(max_priority_fee_per_gas)
                    .append(max_fee_per_gas)
                    .append(&self.gas)
                    .append(&self.action)
                    .append(&self.value)
                    .append(&self.data)
                    .append_list(access_list);
            }
            EthTxKind::Eip7702 {
                chain_id,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                access_list,
                authorization_list,
            } => {
                s.append(chain_id)
                    .append(&self.nonce)
                    .append(max_priority_fee_per_gas)
                    .append(max_fee_per_gas)
                    .append(&self.gas)
                    .append(&self.action)
                    .append(&self.value)
                    .append(&self.data)
                    .append_list(access_list)
                    .append_list(authorization_list);
            }
        }
    }

    /// Number of unsigned items of a typed transaction.
    fn typed_field_count(&self) -> usize {
        match self.kind {
            EthTxKind::Legacy { .. } => 0,
            EthTxKind::Eip2930 { .. } => 8,
            EthTxKind::Eip1559 { .. } => 9,
            EthTxKind::Eip7702 { .. } => 10,
        }
    }

    fn append_legacy_head(&self, s: &mut RlpStream, gas_price: &U256) {
        s.append(&self.nonce)
            .append(gas_price)
            .append(&self.gas)
            .append(&self.action)
            .append(&self.value)
            .append(&self.data);
    }

    /// The hash a signer signs (Ethereum's rules for each type).
    pub fn signing_hash(&self) -> H256 {
        let mut s = RlpStream::new();
        match &self.kind {
            EthTxKind::Legacy {
                gas_price,
                chain_id,
            } => {
                match chain_id {
                    Some(id) => {
                        s.begin_list(9);
                        self.append_legacy_head(&mut s, gas_price);
                        s.append(id).append(&0u8).append(&0u8);
                    }
                    None => {
                        s.begin_list(6);
                        self.append_legacy_head(&mut s, gas_price);
                    }
                }
                keccak256(s.out())
            }
            _ => {
                s.begin_list(self.typed_field_count());
                self.append_typed_fields(&mut s);
                keccak256_concat(&[&[self.type_id()], &s.out()])
            }
        }
    }

    /// Signs with a local key (tests and tools; the node never signs eSpace transactions).
    pub fn sign(self, key: &SigningKey) -> Result<EthSignedTransaction, SignatureError> {
        let sig = crypto::sign_hash(key, &self.signing_hash())?;
        Ok(EthSignedTransaction::new(self, sig))
    }
}

/// The Ethereum address of an uncompressed public key: `keccak(pub64)[12..]`.
pub fn eth_address(public: &H512) -> H160 {
    H160::from_slice(&keccak256(public.as_bytes())[12..])
}

/// A signed eSpace transaction; its hash is computed once, from the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthSignedTransaction {
    /// The signed fields.
    pub tx: EthTransaction,
    /// The signature; `v` is the y-parity (the EIP-155 `v` is rebuilt on encoding).
    pub signature: Signature,
    hash: H256,
}

impl EthSignedTransaction {
    /// Pairs fields with a signature and computes the transaction hash.
    pub fn new(tx: EthTransaction, signature: Signature) -> Self {
        let mut st = EthSignedTransaction {
            tx,
            signature,
            hash: H256::zero(),
        };
        st.hash = keccak256(st.encode());
        st
    }

    /// The transaction hash: keccak of [`EthSignedTransaction::encode`].
    pub fn hash(&self) -> H256 {
        self.hash
    }

    /// The raw form `eth_sendRawTransaction` takes: the legacy list, or `type ‖ rlp(list)`.
    pub fn encode(&self) -> Vec<u8> {
        let sig = &self.signature;
        let mut s = RlpStream::new();
        match &self.tx.kind {
            EthTxKind::Legacy { .. } => {
                self.append_legacy_list(&mut s);
                s.out().to_vec()
            }
            _ => {
                s.begin_list(self.tx.typed_field_count() + 3);
                self.tx.append_typed_fields(&mut s);
                s.append(&sig.v).append(&sig.r).append(&sig.s);
                let body = s.out();
                let mut out = Vec::with_capacity(1 + body.len());
                out.push(self.tx.type_id());
                out.extend_from_slice(&body);
                out
            }
        }
    }

    /// Appends a legacy transaction's signed 9-item list as one item (no-op for typed).
    pub(crate) fn append_legacy_list(&self, s: &mut RlpStream) {
        let EthTxKind::Legacy {
            gas_price,
            chain_id,
        } = &self.tx.kind
        else {
            return;
        };
        let sig = &self.signature;
        let v = match chain_id {
            Some(id) => 35 + 2 * u64::from(*id) + u64::from(sig.v),
            None => 27 + u64::from(sig.v),
        };
        s.begin_list(9);
        self.tx.append_legacy_head(s, gas_price);
        s.append(&v).append(&sig.r).append(&sig.s);
    }

    /// Decodes the raw form strictly: canonical RLP, exact item counts, no trailing bytes.
    pub fn decode(raw: &[u8]) -> Result<Self, TxError> {
        let (ty, body) = match raw.split_first() {
            None => return Err(TxError::Empty),
            Some((t @ (&EIP2930_TYPE | &EIP1559_TYPE | &EIP7702_TYPE), rest)) => (*t, rest),
            Some((t, _)) if *t < 0xc0 => return Err(TxError::UnknownType(*t)),
            Some(_) => (0, raw),
        };
        let rlp = Rlp::new(body);
        check_exact(&rlp, body.len())?;
        let (tx, signature) = match ty {
            0 => decode_legacy(&rlp)?,
            _ => decode_typed(&rlp, ty)?,
        };
        // Hash the bytes we were given: they are canonical, so equal to our re-encoding.
        Ok(EthSignedTransaction {
            tx,
            signature,
            hash: keccak256(raw),
        })
    }

    /// Recovers the signer's public key and Ethereum address.
    pub fn recover_sender(&self) -> Result<(H160, H512), SignatureError> {
        let public = crypto::recover(&self.tx.signing_hash(), &self.signature)?;
        Ok((eth_address(&public), public))
    }
}

fn decode_legacy(rlp: &Rlp<'_>) -> Result<(EthTransaction, Signature), TxError> {
    expect_list_len(rlp, 9)?;
    let legacy_v: u64 = rlp.val_at(6)?;
    let (parity, chain_id) = match legacy_v {
        27 | 28 => (legacy_v - 27, None),
        35.. => {
            let id = u32::try_from((legacy_v - 35) / 2)
                .map_err(|_| DecoderError::Custom("chain id of 2^32 or more"))?;
            ((legacy_v - 35) % 2, Some(id))
        }
        _ => return Err(TxError::Rlp(DecoderError::Custom("invalid legacy v"))),
    };
    let tx = EthTransaction {
        nonce: rlp.val_at(0)?,
        gas: rlp.val_at(2)?,
        action: rlp.val_at(3)?,
        value: rlp.val_at(4)?,
        data: rlp.val_at(5)?,
        kind: EthTxKind::Legacy {
            gas_price: rlp.val_at(1)?,
            chain_id,
        },
    };
    let signature = Signature {
        // parity is 0 or 1 by construction.
        v: u8::from(parity == 1),
        r: rlp.val_at(7)?,
        s: rlp.val_at(8)?,
    };
    Ok((tx, signature))
}

fn decode_typed(rlp: &Rlp<'_>, ty: u8) -> Result<(EthTransaction, Signature), TxError> {
    let n = match ty {
        EIP2930_TYPE => 11,
        EIP1559_TYPE => 12,
        _ => 13,
    };
    expect_list_len(rlp, n)?;
    let chain_id: u32 = rlp.val_at(0)?;
    let (kind, base) = match ty {
        EIP2930_TYPE => (
            EthTxKind::Eip2930 {
                chain_id,
                gas_price: rlp.val_at(2)?,
                access_list: list_at(rlp, 7)?,
            },
            3,
        ),
        EIP1559_TYPE => (
            EthTxKind::Eip1559 {
                chain_id,
                max_priority_fee_per_gas: rlp.val_at(2)?,
                max_fee_per_gas: rlp.val_at(3)?,
                access_list: list_at(rlp, 8)?,
            },
            4,
        ),
        _ => (
            EthTxKind::Eip7702 {
                chain_id,
                max_priority_fee_per_gas: rlp.val_at(2)?,
                max_fee_per_gas: rlp.val_at(3)?,
                access_list: list_at(rlp, 8)?,
                authorization_list: list_at(rlp, 9)?,
            },
            4,
        ),
    };
    // `gas, to, value, data` follow the fee fields in every type.
    let action = if ty == EIP7702_TYPE {
        // A 7702 destination is an address, never the empty string of a deployment.
        Action::Call(rlp.val_at(base + 1)?)
    } else {
        rlp.val_at(base + 1)?
    };
    let tx = EthTransaction {
        nonce: rlp.val_at(1)?,
        gas: rlp.val_at(base)?,
        action,
        value: rlp.val_at(base + 2)?,
        data: rlp.val_at(base + 3)?,
        kind,
    };
    let sig_at = n - 3;
    let signature = Signature {
        v: rlp.val_at(sig_at)?,
        r: rlp.val_at(sig_at + 1)?,
        s: rlp.val_at(sig_at + 2)?,
    };
    if signature.v > 1 {
        return Err(SignatureError::InvalidV(signature.v).into());
    }
    Ok((tx, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::AccessListItem;

    fn key() -> SigningKey {
        crypto::signing_key(&[0x11; 32]).unwrap()
    }

    fn sample(kind: EthTxKind) -> EthTransaction {
        EthTransaction {
            nonce: 3.into(),
            gas: 30000.into(),
            action: Action::Call(H160::repeat_byte(0xab)),
            value: 12345.into(),
            data: vec![0xde, 0xad],
            kind,
        }
    }

    fn kinds() -> Vec<EthTxKind> {
        let al = vec![AccessListItem {
            address: H160::repeat_byte(1),
            storage_keys: vec![H256::repeat_byte(2)],
        }];
        vec![
            EthTxKind::Legacy {
                gas_price: 7.into(),
                chain_id: Some(2030),
            },
            EthTxKind::Legacy {
                gas_price: 7.into(),
                chain_id: None,
            },
            EthTxKind::Eip2930 {
                chain_id: 2030,
                gas_price: 7.into(),
                access_list: al.clone(),
            },
            EthTxKind::Eip1559 {
                chain_id: 2030,
                max_priority_fee_per_gas: 1.into(),
                max_fee_per_gas: 9.into(),
                access_list: al.clone(),
            },
            EthTxKind::Eip7702 {
                chain_id: 2030,
                max_priority_fee_per_gas: 1.into(),
                max_fee_per_gas: 9.into(),
                access_list: al,
                authorization_list: vec![Authorization {
                    chain_id: 2030.into(),
                    address: H160::repeat_byte(3),
                    nonce: 4,
                    y_parity: 1,
                    r: 5.into(),
                    s: 6.into(),
                }],
            },
        ]
    }

    #[test]
    fn every_type_round_trips_and_recovers_its_ethereum_sender() {
        let k = key();
        let want = eth_address(&crypto::public_of(k.verifying_key()));
        for kind in kinds() {
            let signed = sample(kind).sign(&k).unwrap();
            let raw = signed.encode();
            let back = EthSignedTransaction::decode(&raw).unwrap();
            assert_eq!(back, signed);
            assert_eq!(back.hash(), keccak256(&raw));
            assert_eq!(back.encode(), raw);
            assert_eq!(back.recover_sender().unwrap().0, want);
        }
    }

    // Ethereum's EIP-155 example (the spec's own vector): key 0x46…46, chain id 1.
    #[test]
    fn eip155_spec_vector() {
        let tx = EthTransaction {
            nonce: 9.into(),
            gas: 21000.into(),
            action: Action::Call("3535353535353535353535353535353535353535".parse().unwrap()),
            value: U256::from(10).pow(18.into()),
            data: vec![],
            kind: EthTxKind::Legacy {
                gas_price: U256::from(20_000_000_000u64),
                chain_id: Some(1),
            },
        };
        assert_eq!(
            tx.signing_hash(),
            "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
                .parse()
                .unwrap()
        );
        let signed = tx.sign(&crypto::signing_key(&[0x46; 32]).unwrap()).unwrap();
        assert_eq!(
            hex::encode(signed.encode()),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
    }

    #[test]
    fn malformed_forms_are_refused() {
        let k = key();
        assert_eq!(EthSignedTransaction::decode(&[]), Err(TxError::Empty));
        assert_eq!(
            EthSignedTransaction::decode(&[0x03, 0xc0]),
            Err(TxError::UnknownType(3))
        );
        for kind in kinds() {
            let raw = sample(kind).sign(&k).unwrap().encode();
            let mut tail = raw.clone();
            tail.push(0);
            assert!(EthSignedTransaction::decode(&tail).is_err());
            assert!(EthSignedTransaction::decode(&raw[..raw.len() - 1]).is_err());
        }
        // Legacy v outside 27, 28, ≥ 35 and chain ids ≥ 2^32 are refused.
        let legacy = |v: u64| {
            let mut s = RlpStream::new_list(9);
            for _ in 0..3 {
                s.append(&1u8);
            }
            s.append(&H160::zero())
                .append(&0u8)
                .append(&Vec::<u8>::new());
            s.append(&v).append(&1u8).append(&1u8);
            s.out().to_vec()
        };
        assert!(EthSignedTransaction::decode(&legacy(27)).is_ok());
        assert!(EthSignedTransaction::decode(&legacy(35)).is_ok());
        assert!(EthSignedTransaction::decode(&legacy(29)).is_err());
        assert!(EthSignedTransaction::decode(&legacy(0)).is_err());
        let max = 35 + 2 * u64::from(u32::MAX) + 1;
        assert_eq!(
            EthSignedTransaction::decode(&legacy(max))
                .unwrap()
                .tx
                .chain_id(),
            Some(u32::MAX)
        );
        assert!(EthSignedTransaction::decode(&legacy(max + 1)).is_err());
        // A typed y-parity of 2 is refused.
        let mut t = sample(kinds()[3].clone()).sign(&k).unwrap();
        t.signature.v = 2;
        assert!(matches!(
            EthSignedTransaction::decode(&t.encode()),
            Err(TxError::Signature(SignatureError::InvalidV(2)))
        ));
    }
}
