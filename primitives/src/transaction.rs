//! Native (core space) transactions: legacy (CIP-155 style), CIP-2930 and CIP-1559, and
//! [`BlockTransaction`], either space's transaction in the form a block body holds.
//!
//! Wire facts (conflux-rust `crates/primitives/src/transaction/`):
//! - legacy unsigned = `rlp([nonce, gasPrice, gas, to, value, storageLimit, epochHeight,
//!   chainId, data])`, signed = `rlp([unsigned, v, r, s])`;
//! - typed signed = `"cfx" ‖ type ‖ rlp([fields, v, r, s])` with type 1 (2930) or 2 (1559),
//!   and signing hash `keccak("cfx" ‖ type ‖ rlp(fields))`;
//! - inside blocks and light-protocol messages a typed transaction is an RLP *string*
//!   holding those bytes; the transaction hash is always keccak of the raw form;
//! - a block body also holds eSpace transactions ([`crate::eth_transaction`]): a 9-item
//!   list (EIP-155) or a string opening with 0x01, 0x02 or 0x04; the body's form tells the
//!   spaces apart (4-item list or `cfx` prefix: Native).

use ethereum_types::{H160, H256, H512, U256};
use k256::ecdsa::SigningKey;
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};
use thiserror::Error;

use crate::{
    crypto::{self, Signature, SignatureError},
    eth_transaction::EthSignedTransaction,
    hash::keccak256,
    rlp_util::{check_exact, expect_list_len, list_at},
};

/// The three bytes that open a typed transaction.
pub const TYPED_TX_PREFIX: &[u8; 3] = b"cfx";

/// Why raw transaction bytes were refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TxError {
    /// Malformed or non-canonical RLP, wrong field count or out-of-range field.
    #[error("invalid transaction RLP: {0}")]
    Rlp(#[from] DecoderError),
    /// A `cfx`-prefixed transaction with a type byte we do not know.
    #[error("unknown transaction type {0}")]
    UnknownType(u8),
    /// Empty input.
    #[error("empty transaction bytes")]
    Empty,
    /// The signature cannot be valid.
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
}

/// Transaction envelope type, as in the RPC's `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxType {
    /// Type 0: `gasPrice`, no access list.
    Legacy = 0,
    /// Type 1: CIP-2930, `gasPrice` and an access list.
    Cip2930 = 1,
    /// Type 2: CIP-1559, fee cap, priority fee and an access list.
    Cip1559 = 2,
}

/// Where a transaction goes: a new contract or an existing address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Deploys a contract (`to` is the empty string on the wire).
    #[default]
    Create,
    /// Calls or pays an address.
    Call(H160),
}

impl Action {
    /// The recipient, or `None` for a deployment.
    pub fn to(&self) -> Option<H160> {
        match self {
            Action::Create => None,
            Action::Call(a) => Some(*a),
        }
    }
}

impl Encodable for Action {
    fn rlp_append(&self, s: &mut RlpStream) {
        // A single value: write it without counting (the caller's `append` counts it).
        match self {
            Action::Create => s.encoder().encode_value(&[]),
            Action::Call(a) => s.encoder().encode_value(a.as_bytes()),
        }
    }
}

impl Decodable for Action {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if rlp.is_empty() {
            if rlp.is_data() {
                Ok(Action::Create)
            } else {
                Err(DecoderError::RlpExpectedToBeData)
            }
        } else {
            Ok(Action::Call(rlp.as_val()?))
        }
    }
}

/// One entry of a CIP-2930 access list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AccessListItem {
    /// Address whose storage is pre-declared.
    pub address: H160,
    /// Storage slots of that address.
    pub storage_keys: Vec<H256>,
}

impl Encodable for AccessListItem {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        s.append(&self.address);
        s.append_list(&self.storage_keys);
    }
}

impl Decodable for AccessListItem {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 2)?;
        Ok(AccessListItem {
            address: rlp.val_at(0)?,
            storage_keys: list_at(rlp, 1)?,
        })
    }
}

/// A CIP-2930 access list.
pub type AccessList = Vec<AccessListItem>;

/// The fields that differ between the three transaction types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// Type 0.
    Legacy {
        /// Price per gas in drip.
        gas_price: U256,
    },
    /// Type 1 (CIP-2930).
    Cip2930 {
        /// Price per gas in drip.
        gas_price: U256,
        /// Pre-declared addresses and slots.
        access_list: AccessList,
    },
    /// Type 2 (CIP-1559).
    Cip1559 {
        /// Tip per gas for the block author.
        max_priority_fee_per_gas: U256,
        /// Cap on base price + tip per gas.
        max_fee_per_gas: U256,
        /// Pre-declared addresses and slots.
        access_list: AccessList,
    },
}

/// An unsigned native transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// Sender's nonce.
    pub nonce: U256,
    /// Gas limit.
    pub gas: U256,
    /// Recipient or deployment.
    pub action: Action,
    /// Value in drip.
    pub value: U256,
    /// Storage collateral limit in bytes.
    pub storage_limit: u64,
    /// Epoch the transaction is anchored to (valid within ±100,000 epochs).
    pub epoch_height: u64,
    /// Core-space chain id (1029 mainnet, 1 testnet).
    pub chain_id: u32,
    /// Call data or init code.
    pub data: Vec<u8>,
    /// Type-specific fee fields and access list.
    pub kind: TxKind,
}

impl Transaction {
    /// The envelope type.
    pub fn tx_type(&self) -> TxType {
        match self.kind {
            TxKind::Legacy { .. } => TxType::Legacy,
            TxKind::Cip2930 { .. } => TxType::Cip2930,
            TxKind::Cip1559 { .. } => TxType::Cip1559,
        }
    }

    /// `gasPrice` as the RPC reports it (the fee cap for CIP-1559).
    pub fn gas_price(&self) -> U256 {
        match &self.kind {
            TxKind::Legacy { gas_price } | TxKind::Cip2930 { gas_price, .. } => *gas_price,
            TxKind::Cip1559 {
                max_fee_per_gas, ..
            } => *max_fee_per_gas,
        }
    }

    /// The access list of a typed transaction.
    pub fn access_list(&self) -> Option<&AccessList> {
        match &self.kind {
            TxKind::Legacy { .. } => None,
            TxKind::Cip2930 { access_list, .. } | TxKind::Cip1559 { access_list, .. } => {
                Some(access_list)
            }
        }
    }

    /// Appends the unsigned field list in this type's order.
    fn append_fields(&self, s: &mut RlpStream) {
        match &self.kind {
            TxKind::Legacy { gas_price } => {
                s.begin_list(9);
                s.append(&self.nonce).append(gas_price).append(&self.gas);
                self.append_common_tail(s);
            }
            TxKind::Cip2930 {
                gas_price,
                access_list,
            } => {
                s.begin_list(10);
                s.append(&self.nonce).append(gas_price).append(&self.gas);
                self.append_common_tail(s);
                s.append_list(access_list);
            }
            TxKind::Cip1559 {
                max_priority_fee_per_gas,
                max_fee_per_gas,
                access_list,
            } => {
                s.begin_list(11);
                s.append(&self.nonce)
                    .append(max_priority_fee_per_gas)
                    .append(max_fee_per_gas)
                    .append(&self.gas);
                self.append_common_tail(s);
                s.append_list(access_list);
            }
        }
    }

    fn append_common_tail(&self, s: &mut RlpStream) {
        s.append(&self.action)
            .append(&self.value)
            .append(&self.storage_limit)
            .append(&self.epoch_height)
            .append(&self.chain_id)
            .append(&self.data);
    }

    /// RLP of the unsigned field list.
    pub fn fields_rlp(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.append_fields(&mut s);
        s.out().to_vec()
    }

    /// The exact bytes [`Transaction::signing_hash`] is keccak of: the field list, behind
    /// `"cfx" ‖ type` for typed ones (what a remote signer or a plugin is sent).
    pub fn signing_payload(&self) -> Vec<u8> {
        let fields = self.fields_rlp();
        match self.tx_type() {
            TxType::Legacy => fields,
            t => [&TYPED_TX_PREFIX[..], &[t as u8], &fields].concat(),
        }
    }

    /// Decodes [`Transaction::signing_payload`]'s form strictly (canonical RLP, exact field
    /// counts, no trailing bytes), so a signer can judge what it is asked to sign.
    pub fn decode_signing_payload(raw: &[u8]) -> Result<Transaction, TxError> {
        let (ty, body) = match raw {
            [] => return Err(TxError::Empty),
            [b'c', b'f', b'x', t, rest @ ..] => match t {
                1 => (TxType::Cip2930, rest),
                2 => (TxType::Cip1559, rest),
                other => return Err(TxError::UnknownType(*other)),
            },
            _ => (TxType::Legacy, raw),
        };
        let rlp = Rlp::new(body);
        check_exact(&rlp, body.len())?;
        Ok(Transaction::decode_fields(&rlp, ty)?)
    }

    /// The hash a signer signs: keccak of the fields, behind `"cfx" ‖ type` for typed ones.
    pub fn signing_hash(&self) -> H256 {
        let fields = self.fields_rlp();
        match self.tx_type() {
            TxType::Legacy => keccak256(&fields),
            t => crate::hash::keccak256_concat(&[TYPED_TX_PREFIX, &[t as u8], &fields]),
        }
    }

    /// Attaches a signature (not checked here: see [`SignedTransaction::recover_sender`]).
    pub fn with_signature(self, sig: Signature) -> SignedTransaction {
        SignedTransaction::new(self, sig)
    }

    /// Signs with a local key. Hardware signers use [`Transaction::signing_hash`] and
    /// [`Transaction::with_signature`] instead.
    pub fn sign(self, key: &SigningKey) -> Result<SignedTransaction, SignatureError> {
        let sig = crypto::sign_hash(key, &self.signing_hash())?;
        Ok(self.with_signature(sig))
    }

    fn decode_fields(rlp: &Rlp<'_>, ty: TxType) -> Result<Transaction, DecoderError> {
        let (n, fee_items) = match ty {
            TxType::Legacy => (9, 1),
            TxType::Cip2930 => (10, 1),
            TxType::Cip1559 => (11, 2),
        };
        expect_list_len(rlp, n)?;
        let base = 1 + fee_items; // index of `gas`
        let kind = match ty {
            TxType::Legacy => TxKind::Legacy {
                gas_price: rlp.val_at(1)?,
            },
            TxType::Cip2930 => TxKind::Cip2930 {
                gas_price: rlp.val_at(1)?,
                access_list: list_at(rlp, 9)?,
            },
            TxType::Cip1559 => TxKind::Cip1559 {
                max_priority_fee_per_gas: rlp.val_at(1)?,
                max_fee_per_gas: rlp.val_at(2)?,
                access_list: list_at(rlp, 10)?,
            },
        };
        Ok(Transaction {
            nonce: rlp.val_at(0)?,
            gas: rlp.val_at(base)?,
            action: rlp.val_at(base + 1)?,
            value: rlp.val_at(base + 2)?,
            storage_limit: rlp.val_at(base + 3)?,
            epoch_height: rlp.val_at(base + 4)?,
            chain_id: rlp.val_at(base + 5)?,
            data: rlp.val_at(base + 6)?,
            kind,
        })
    }
}

/// A transaction with its signature; its hash is computed once, from the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedTransaction {
    /// The signed fields.
    pub tx: Transaction,
    /// The signature over [`Transaction::signing_hash`].
    pub signature: Signature,
    hash: H256,
}

impl SignedTransaction {
    /// Pairs fields with a signature and computes the transaction hash.
    pub fn new(tx: Transaction, signature: Signature) -> Self {
        let mut st = SignedTransaction {
            tx,
            signature,
            hash: H256::zero(),
        };
        st.hash = keccak256(st.encode());
        st
    }

    /// The transaction hash: keccak of [`SignedTransaction::encode`].
    pub fn hash(&self) -> H256 {
        self.hash
    }

    /// The raw form `cfx_sendRawTransaction` takes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.append_signed_list(&mut s);
        let body = s.out();
        match self.tx.tx_type() {
            TxType::Legacy => body.to_vec(),
            t => {
                let mut out = Vec::with_capacity(4 + body.len());
                out.extend_from_slice(TYPED_TX_PREFIX);
                out.push(t as u8);
                out.extend_from_slice(&body);
                out
            }
        }
    }

    /// Appends `[fields, v, r, s]` as one list item.
    fn append_signed_list(&self, s: &mut RlpStream) {
        s.begin_list(4);
        self.tx.append_fields(s);
        s.append(&self.signature.v)
            .append(&self.signature.r)
            .append(&self.signature.s);
    }

    /// Decodes the raw form strictly: canonical RLP, exact field counts, no trailing bytes.
    pub fn decode(raw: &[u8]) -> Result<Self, TxError> {
        let (ty, body) = match raw {
            [] => return Err(TxError::Empty),
            [b'c', b'f', b'x', t, rest @ ..] => {
                let ty = match t {
                    1 => TxType::Cip2930,
                    2 => TxType::Cip1559,
                    other => return Err(TxError::UnknownType(*other)),
                };
                (ty, rest)
            }
            _ => (TxType::Legacy, raw),
        };
        let rlp = Rlp::new(body);
        check_exact(&rlp, body.len())?;
        expect_list_len(&rlp, 4)?;
        let tx = Transaction::decode_fields(&rlp.at(0)?, ty)?;
        let signature = Signature {
            v: rlp.val_at(1)?,
            r: rlp.val_at(2)?,
            s: rlp.val_at(3)?,
        };
        if signature.v > 1 {
            return Err(SignatureError::InvalidV(signature.v).into());
        }
        // Hash the bytes we were given: they are canonical, so equal to our re-encoding.
        Ok(SignedTransaction {
            tx,
            signature,
            hash: keccak256(raw),
        })
    }

    /// Recovers the signer's public key and Conflux address.
    pub fn recover_sender(&self) -> Result<(H160, H512), SignatureError> {
        let public = crypto::recover(&self.tx.signing_hash(), &self.signature)?;
        Ok((crypto::public_to_address(&public), public))
    }
}

/// In blocks and light-protocol messages: a list for legacy, an RLP string for typed.
impl Encodable for SignedTransaction {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self.tx.tx_type() {
            TxType::Legacy => self.append_signed_list(s),
            _ => s.encoder().encode_value(&self.encode()),
        }
    }
}

impl Decodable for SignedTransaction {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let map = |e: TxError| match e {
            TxError::Rlp(d) => d,
            _ => DecoderError::Custom("invalid transaction"),
        };
        if rlp.is_list() {
            SignedTransaction::decode(rlp.as_raw()).map_err(map)
        } else {
            let bytes: Vec<u8> = rlp.as_val()?;
            if !bytes.starts_with(TYPED_TX_PREFIX) {
                return Err(DecoderError::Custom("typed transaction without cfx prefix"));
            }
            SignedTransaction::decode(&bytes).map_err(map)
        }
    }
}

/// Which space a transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// Core space (Conflux addresses, `cfx_*` RPC).
    Native,
    /// eSpace (Ethereum addresses, `eth_*` RPC).
    Ethereum,
}

/// One transaction of a block body, of either space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BlockTransaction {
    /// A Core-space transaction.
    Native(SignedTransaction),
    /// An eSpace transaction.
    Ethereum(EthSignedTransaction),
}

impl BlockTransaction {
    /// The transaction hash (what the block's transactions root commits to).
    pub fn hash(&self) -> H256 {
        match self {
            BlockTransaction::Native(t) => t.hash(),
            BlockTransaction::Ethereum(t) => t.hash(),
        }
    }

    /// The space it runs in.
    pub fn space(&self) -> Space {
        match self {
            BlockTransaction::Native(_) => Space::Native,
            BlockTransaction::Ethereum(_) => Space::Ethereum,
        }
    }

    /// The Core transaction, if it is one.
    pub fn as_native(&self) -> Option<&SignedTransaction> {
        match self {
            BlockTransaction::Native(t) => Some(t),
            BlockTransaction::Ethereum(_) => None,
        }
    }

    /// The raw form (as sent to `cfx_`/`eth_sendRawTransaction`).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            BlockTransaction::Native(t) => t.encode(),
            BlockTransaction::Ethereum(t) => t.encode(),
        }
    }

    /// Recovers the sender: a Conflux address for Native, an Ethereum one for eSpace.
    pub fn recover_sender(&self) -> Result<(H160, H512), SignatureError> {
        match self {
            BlockTransaction::Native(t) => t.recover_sender(),
            BlockTransaction::Ethereum(t) => t.recover_sender(),
        }
    }
}

/// Block form: legacy transactions of both spaces as bare lists, typed ones as an RLP
/// string around their raw bytes.
impl Encodable for BlockTransaction {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self {
            BlockTransaction::Native(t) => t.rlp_append(s),
            BlockTransaction::Ethereum(t) => match t.tx.type_id() {
                0 => t.append_legacy_list(s),
                _ => s.encoder().encode_value(&t.encode()),
            },
        }
    }
}

impl Decodable for BlockTransaction {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        let map = |e: TxError| match e {
            TxError::Rlp(d) => d,
            _ => DecoderError::Custom("invalid transaction"),
        };
        if rlp.is_list() {
            // 4 items: Core `[unsigned, v, r, s]`; 9: eSpace EIP-155.
            match rlp.item_count()? {
                4 => Ok(BlockTransaction::Native(rlp.as_val()?)),
                9 => EthSignedTransaction::decode(rlp.as_raw())
                    .map(BlockTransaction::Ethereum)
                    .map_err(map),
                _ => Err(DecoderError::RlpIncorrectListLen),
            }
        } else {
            let bytes: Vec<u8> = rlp.as_val()?;
            match bytes.first() {
                Some(b'c') => Ok(BlockTransaction::Native(rlp.as_val()?)),
                // The legacy list has its own form above; wrapped in a string it is refused.
                Some(t) if *t < 0xc0 => EthSignedTransaction::decode(&bytes)
                    .map(BlockTransaction::Ethereum)
                    .map_err(map),
                _ => Err(DecoderError::Custom("unknown typed transaction")),
            }
        }
    }
}

impl From<SignedTransaction> for BlockTransaction {
    fn from(t: SignedTransaction) -> Self {
        BlockTransaction::Native(t)
    }
}

impl From<EthSignedTransaction> for BlockTransaction {
    fn from(t: EthSignedTransaction) -> Self {
        BlockTransaction::Ethereum(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.trim_start_matches("0x")).unwrap()
    }

    fn sdk_key() -> SigningKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(&h(
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ));
        crypto::signing_key(&k).unwrap()
    }

    fn legacy_vector_tx() -> Transaction {
        Transaction {
            nonce: 0.into(),
            gas: 21000.into(),
            action: Action::Call("0123456789012345678901234567890123456789".parse().unwrap()),
            value: 0.into(),
            storage_limit: 0,
            epoch_height: 0,
            chain_id: 1,
            data: vec![],
            kind: TxKind::Legacy {
                gas_price: 1.into(),
            },
        }
    }

    // js-conflux-sdk test/transaction.test.js, legacy vector (hash recomputed in
    // conflux-protocol.md §4).
    const SDK_LEGACY_RAW: &str = "0xf863df8001825208940123456789012345678901234567890123456789808080018001a0ef53e4af065905cb5134f7de4e9434e71656f824e3e268a9babb4f14ff808113a0407f05f44f79c1fd19262665d3efc29368e317fe5e77be27c0c1314b6a242a1e";

    #[test]
    fn legacy_vector_signs_encodes_and_hashes_like_js_conflux_sdk() {
        let tx = legacy_vector_tx();
        assert_eq!(
            tx.signing_hash(),
            "0x2151bffa4593ac774e7f686254e4ef2d98443600664ba4b91b8a7ccc56e1101f"
                .parse()
                .unwrap()
        );
        let signed = tx.sign(&sdk_key()).unwrap();
        assert_eq!(signed.signature.v, 1);
        assert_eq!(
            hex::encode(signed.encode()),
            SDK_LEGACY_RAW.trim_start_matches("0x")
        );
        assert_eq!(
            signed.hash(),
            "0x9e463f32428c7c4026575d132e8c4e5d6fe387322fce5234103e52f4ab39b053"
                .parse()
                .unwrap()
        );
        let decoded = SignedTransaction::decode(&h(SDK_LEGACY_RAW)).unwrap();
        assert_eq!(decoded, signed);
        let (from, _) = decoded.recover_sender().unwrap();
        assert_eq!(
            crate::address::encode(&from, 1),
            "cfxtest:aasm4c231py7j34fghntcfkdt2nm9xv1tu6jd3r1s7"
        );
    }

    fn typed_vector(kind_1559: bool) -> Transaction {
        // js-conflux-sdk typed vectors: every number 100, data "Hello, World", one entry.
        let access_list = vec![AccessListItem {
            address: "19578cf3c71eab48cf810c78b5175d5c9e6ef441".parse().unwrap(),
            storage_keys: vec![
                "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
                    .parse()
                    .unwrap(),
            ],
        }];
        let kind = if kind_1559 {
            TxKind::Cip1559 {
                max_priority_fee_per_gas: 100.into(),
                max_fee_per_gas: 100.into(),
                access_list,
            }
        } else {
            TxKind::Cip2930 {
                gas_price: 100.into(),
                access_list,
            }
        };
        Transaction {
            nonce: 100.into(),
            gas: 100.into(),
            action: Action::Call("19578cf3c71eab48cf810c78b5175d5c9e6ef441".parse().unwrap()),
            value: 100.into(),
            storage_limit: 100,
            epoch_height: 100,
            chain_id: 100,
            data: b"Hello, World".to_vec(),
            kind,
        }
    }

    // js-conflux-sdk test/transaction.test.js "2930 tx encode" / "1559 tx encode" (r = s = 1, v = 0).
    #[test]
    fn typed_vectors_match_js_conflux_sdk() {
        let one = Signature {
            v: 0,
            r: 1.into(),
            s: 1.into(),
        };
        let t2930 = typed_vector(false);
        assert_eq!(
            t2930.signing_hash(),
            "0x690d58e271b90254e7954147846d5de0f76f3649510bb58a5f26e4fef8d601ba"
                .parse()
                .unwrap()
        );
        assert_eq!(
            hex::encode(t2930.with_signature(one).encode()),
            "63667801f868f8636464649419578cf3c71eab48cf810c78b5175d5c9e6ef441646464648c48656c6c6f2c20576f726c64f838f79419578cf3c71eab48cf810c78b5175d5c9e6ef441e1a01234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef800101"
        );
        let t1559 = typed_vector(true);
        assert_eq!(
            t1559.signing_hash(),
            "0x3da56dbe2b76c41135c2429f3035cd79b1abb68902cf588075c30d4912e71cf3"
                .parse()
                .unwrap()
        );
        assert_eq!(
            hex::encode(t1559.with_signature(one).encode()),
            "63667802f869f864646464649419578cf3c71eab48cf810c78b5175d5c9e6ef441646464648c48656c6c6f2c20576f726c64f838f79419578cf3c71eab48cf810c78b5175d5c9e6ef441e1a01234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef800101"
        );
    }

    #[test]
    fn signing_payloads_hash_to_the_signing_hash_and_decode_back_strictly() {
        for tx in [legacy_vector_tx(), typed_vector(false), typed_vector(true)] {
            let payload = tx.signing_payload();
            assert_eq!(keccak256(&payload), tx.signing_hash());
            assert_eq!(Transaction::decode_signing_payload(&payload).unwrap(), tx);
            // A trailing byte, a cut, another type byte: refused.
            let mut longer = payload.clone();
            longer.push(0);
            assert!(Transaction::decode_signing_payload(&longer).is_err());
            assert!(Transaction::decode_signing_payload(&payload[..payload.len() - 1]).is_err());
        }
        let mut wrong_type = typed_vector(true).signing_payload();
        wrong_type[3] = 1; // a 1559 field list under the 2930 type: wrong field count
        assert!(Transaction::decode_signing_payload(&wrong_type).is_err());
        wrong_type[3] = 9;
        assert!(matches!(
            Transaction::decode_signing_payload(&wrong_type),
            Err(TxError::UnknownType(9))
        ));
        assert!(matches!(
            Transaction::decode_signing_payload(&[]),
            Err(TxError::Empty)
        ));
    }

    // js-conflux-sdk "decodeRaw2930Tx" / "decodeRaw1559Tx": real signatures.
    #[test]
    fn js_conflux_sdk_signed_typed_transactions_decode() {
        let raw2930 = h("0x63667801f8a8f8636464649419578cf3c71eab48cf810c78b5175d5c9e6ef441646464648c48656c6c6f2c20576f726c64f838f79419578cf3c71eab48cf810c78b5175d5c9e6ef441e1a01234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef01a0e3e73f1ae5a109b01f5f64b97c7eae0c870da2c050969916d0a440ac2eef0ca3a04e8c4415db648707bd6d4c7708793b04f5404ff38e873fb78f1a6474e36a2579");
        let raw1559 = h("0x63667802f8a9f864646464649419578cf3c71eab48cf810c78b5175d5c9e6ef441646464648c48656c6c6f2c20576f726c64f838f79419578cf3c71eab48cf810c78b5175d5c9e6ef441e1a01234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef80a069a44af3ab58ea8be86d21262e900279adc674248a23df5771406545163c1383a0248424d9019fb6c0ecb59c0df3841623fada8fe829cf15e77b6d777accc7cfec");
        let sdk_addr = crypto::public_to_address(&crypto::public_of(sdk_key().verifying_key()));
        for (raw, is_1559) in [(raw2930, false), (raw1559, true)] {
            let tx = SignedTransaction::decode(&raw).unwrap();
            assert_eq!(tx.tx, typed_vector(is_1559));
            assert_eq!(tx.encode(), raw);
            assert_eq!(tx.recover_sender().unwrap().0, sdk_addr);
            // Our own signature over the same fields is the same (RFC 6979 is deterministic).
            assert_eq!(
                typed_vector(is_1559).sign(&sdk_key()).unwrap().encode(),
                raw
            );
        }
    }

    // js-conflux-sdk "starts with 0x00": a signature whose s has a leading zero nibble.
    #[test]
    fn signature_with_short_s_encodes_like_js_conflux_sdk() {
        let mut tx = legacy_vector_tx();
        tx.nonce = 127.into();
        let signed = tx.sign(&sdk_key()).unwrap();
        assert_eq!(
            hex::encode(signed.encode()),
            "f863df7f01825208940123456789012345678901234567890123456789808080018001a0bde07fe87c58cf83c50a4787c637a05a521d5f8372bd8acb207504e8af2daee4a0233f41b647de5846856106a8bc0fb67ba4dc3c184d328e565547928adedc8f3c"
        );
    }

    #[test]
    fn typed_transactions_round_trip_through_raw_and_block_forms() {
        let key = sdk_key();
        for is_1559 in [false, true] {
            let signed = typed_vector(is_1559).sign(&key).unwrap();
            let raw = signed.encode();
            assert_eq!(&raw[..3], b"cfx");
            assert_eq!(raw[3], if is_1559 { 2 } else { 1 });
            let back = SignedTransaction::decode(&raw).unwrap();
            assert_eq!(back, signed);
            assert_eq!(back.hash(), keccak256(&raw));
            // Block form: an RLP string around the raw bytes.
            let in_block = rlp::encode(&signed);
            assert_eq!(rlp::decode::<SignedTransaction>(&in_block).unwrap(), signed);
            let (from, _) = back.recover_sender().unwrap();
            assert_eq!(
                from,
                crypto::public_to_address(&crypto::public_of(key.verifying_key()))
            );
        }
        // Legacy in block form is the bare list.
        let legacy = legacy_vector_tx().sign(&key).unwrap();
        assert_eq!(rlp::encode(&legacy).to_vec(), legacy.encode());
    }

    #[test]
    fn malformed_raw_transactions_are_typed_errors() {
        let raw = h(SDK_LEGACY_RAW);
        assert_eq!(SignedTransaction::decode(&[]), Err(TxError::Empty));
        assert_eq!(
            SignedTransaction::decode(b"cfx\x03\xc0"),
            Err(TxError::UnknownType(3))
        );
        let mut tail = raw.clone();
        tail.push(0);
        assert!(matches!(
            SignedTransaction::decode(&tail),
            Err(TxError::Rlp(_))
        ));
        assert!(matches!(
            SignedTransaction::decode(&raw[..raw.len() - 1]),
            Err(TxError::Rlp(_))
        ));
        // v = 2 is refused.
        let mut v2 = raw.clone();
        let v_pos = 2 + 32; // f863 ‖ df…(32 bytes of fields) ‖ v
        assert_eq!(v2[v_pos], 0x01);
        v2[v_pos] = 0x02;
        assert_eq!(
            SignedTransaction::decode(&v2),
            Err(TxError::Signature(SignatureError::InvalidV(2)))
        );
        // A typed body carrying a legacy field count is refused.
        let legacy_fields = legacy_vector_tx().fields_rlp();
        let mut s = RlpStream::new_list(4);
        s.append_raw(&legacy_fields, 1)
            .append(&0u8)
            .append(&1u8)
            .append(&1u8);
        let mut bad = b"cfx\x02".to_vec();
        bad.extend_from_slice(&s.out());
        assert!(matches!(
            SignedTransaction::decode(&bad),
            Err(TxError::Rlp(_))
        ));
    }
}

#[cfg(test)]
mod block_form_tests {
    use super::*;
    use crate::eth_transaction::{EthTransaction, EthTxKind};

    fn eth(kind: EthTxKind) -> EthSignedTransaction {
        EthTransaction {
            nonce: 1.into(),
            gas: 21000.into(),
            action: Action::Call(H160::repeat_byte(9)),
            value: 5.into(),
            data: vec![],
            kind,
        }
        .sign(&crypto::signing_key(&[0x22; 32]).unwrap())
        .unwrap()
    }

    #[test]
    fn both_spaces_round_trip_through_the_block_form_and_keep_their_hashes() {
        let native: BlockTransaction = Transaction {
            nonce: 0.into(),
            gas: 21000.into(),
            action: Action::Call(H160::repeat_byte(1)),
            value: 0.into(),
            storage_limit: 0,
            epoch_height: 0,
            chain_id: 1,
            data: vec![],
            kind: TxKind::Cip1559 {
                max_priority_fee_per_gas: 1.into(),
                max_fee_per_gas: 2.into(),
                access_list: vec![],
            },
        }
        .sign(&crypto::signing_key(&[0x22; 32]).unwrap())
        .unwrap()
        .into();
        let legacy = eth(EthTxKind::Legacy {
            gas_price: 1.into(),
            chain_id: Some(2030),
        });
        let typed = eth(EthTxKind::Eip1559 {
            chain_id: 2030,
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 2.into(),
            access_list: vec![],
        });
        // The legacy eSpace form is its bare list, a typed one a string around its bytes.
        assert_eq!(
            rlp::encode(&BlockTransaction::from(legacy.clone())).to_vec(),
            legacy.encode()
        );
        assert_eq!(
            rlp::encode(&BlockTransaction::from(typed.clone())).to_vec(),
            rlp::encode(&typed.encode()).to_vec()
        );
        let body = vec![native.clone(), legacy.into(), typed.into()];
        let mut s = RlpStream::new_list(body.len());
        for t in &body {
            s.append(t);
        }
        let bytes = s.out();
        let back: Vec<BlockTransaction> =
            crate::rlp_util::decode_exact::<RlpList>(&bytes).unwrap().0;
        assert_eq!(back, body);
        assert_eq!(back[0].space(), Space::Native);
        assert_eq!(back[1].space(), Space::Ethereum);
        // A body of Native transactions only is also a valid list of SignedTransaction
        // (the store's earlier form).
        let mut s = RlpStream::new_list(1);
        s.append(&native);
        let old: Vec<SignedTransaction> = Rlp::new(&s.out()).as_list().unwrap();
        assert_eq!(BlockTransaction::from(old[0].clone()), native);
    }

    struct RlpList(Vec<BlockTransaction>);
    impl Decodable for RlpList {
        fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
            Ok(RlpList(rlp.as_list()?))
        }
    }

    #[test]
    fn other_list_lengths_and_type_bytes_are_refused() {
        let mut s = RlpStream::new_list(5);
        for i in 0..5u8 {
            s.append(&i);
        }
        assert!(rlp::decode::<BlockTransaction>(&s.out()).is_err());
        // A 9-item list of the wrong shape is refused (the old code let it pass as "unknown").
        let mut s = RlpStream::new_list(9);
        for i in 0..9u8 {
            s.append(&i);
        }
        assert!(rlp::decode::<BlockTransaction>(&s.out()).is_err());
        for t in [0x00u8, 0x03, 0x05, 0x7f] {
            assert!(rlp::decode::<BlockTransaction>(&rlp::encode(&vec![t, 0xc0])).is_err());
        }
        assert!(rlp::decode::<BlockTransaction>(&rlp::encode(&b"cfy\x01\xc0".to_vec())).is_err());
    }
}
