//! Merkle proofs over Conflux's Merkle Patricia Trie: state-entry and storage-root proofs
//! (delta, intermediate and snapshot tries) and the "simple MPT" that commits a block's
//! transactions and an epoch's receipts (conflux-rust `crates/dbs/storage/src/impls/`
//! `merkle_patricia_trie/{trie_proof,trie_node,merkle,compressed_path,walk,simple_mpt}.rs`,
//! `state_proof.rs`, `node_merkle_proof.rs`, and `crates/cfxcore/core/src/verification.rs`).
//!
//! This module is the light node's line of defence against lying peers. conflux-rust's
//! own `TrieProof` indexes nodes by the merkle each node *claims* and never re-hashes
//! them, so a peer can change a leaf value without touching any merkle. Here every node's
//! path merkle is recomputed from its content and compared with its claim before the walk
//! starts, and the walk looks only at what those hashes commit to: the nibble a path
//! "starts without" is not hashed, so it is never compared with the key. The facts behind
//! the formulas were checked byte by byte against a real node (see
//! `tests/mpt_vectors.rs` and `tests/data/`).

use std::collections::HashMap;

use ethereum_types::{H160, H256};
use rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};
use thiserror::Error;

use crate::{
    hash::{keccak256_concat, KECCAK_EMPTY},
    receipt::Receipt,
    rlp_util::expect_list_len,
    storage_key::{delta_mpt_padding, StorageKey},
};

/// The root of an empty trie and the content of an empty child slot: `keccak("")`.
pub const MERKLE_NULL_NODE: H256 = KECCAK_EMPTY;

/// Children per trie node (one per nibble value).
pub const CHILDREN_COUNT: usize = 16;

/// Most nodes a proof may hold; conflux-rust's decoder refuses longer proofs, so an honest
/// peer never sends one (`TrieProof::MAX_NODES`).
pub const MAX_PROOF_NODES: usize = 1000;

/// Mask bits of a compressed path that starts at the low nibble of its first byte.
const NO_FIRST_NIBBLE: u8 = 0x0f;
/// Mask bits of a compressed path that ends at the high nibble of its last byte.
const NO_LAST_NIBBLE: u8 = 0xf0;

/// Which trie of a state a proof is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trie {
    /// The delta trie (recent changes, keys padded with the current padding).
    Delta,
    /// The intermediate delta trie (previous period's delta, previous padding).
    Intermediate,
    /// The snapshot trie (raw keys).
    Snapshot,
}

impl std::fmt::Display for Trie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trie::Delta => "delta",
            Trie::Intermediate => "intermediate",
            Trie::Snapshot => "snapshot",
        })
    }
}

/// Why a proof does not establish the claimed fact.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// A node's claimed merkle differs from the hash of its content.
    #[error("node merkle mismatch at proof node {index}: claims {claimed:?}, content hashes to {computed:?}")]
    NodeMerkleMismatch {
        /// Position of the node in the proof.
        index: usize,
        /// The merkle the node carries.
        claimed: H256,
        /// The path merkle recomputed from its children, value and path.
        computed: H256,
    },
    /// The walk needs a node the proof does not contain.
    #[error("missing child node at depth {depth}: no proof node hashes to {merkle:?}")]
    MissingNode {
        /// Nodes walked before the missing one (0 = the root).
        depth: usize,
        /// The merkle the parent (or the trusted root) expects.
        merkle: H256,
    },
    /// A compressed path claims to start mid-byte where the key is at a byte boundary, or
    /// the other way round; no trie built by conflux-rust has such a node.
    #[error("compressed path at depth {depth} is not aligned with the key")]
    MisalignedPath {
        /// Depth of the offending node.
        depth: usize,
    },
    /// A trie with content was given no proof.
    #[error("{trie} proof missing while {trie} root is not null")]
    MissingTrieProof {
        /// The trie whose proof is missing.
        trie: Trie,
    },
    /// The snapshot proof, which ends every fall-through, is missing.
    #[error("snapshot proof missing")]
    MissingSnapshotProof,
    /// An intermediate proof came without the state root that gives its key padding.
    #[error("intermediate proof present without prev_snapshot_state_root")]
    MissingPrevSnapshotRoot,
    /// The proof establishes something other than the claimed entry.
    #[error("{trie} trie proves {proven} for the key, not the claimed {claimed}")]
    ValueMismatch {
        /// The trie that decided.
        trie: Trie,
        /// What it proves: "a value", "another value", "a node", "another node", "a
        /// tombstone" or "absence".
        proven: &'static str,
        /// What was claimed: "value", "node", "tombstone" or "absence".
        claimed: &'static str,
    },
    /// A state entry was claimed to be the empty byte string, which the state cannot hold
    /// (an empty value is a deletion marker).
    #[error("claimed state value is empty")]
    EmptyClaimedValue,
    /// A simple-MPT index is not below the key count.
    #[error("index {index} out of range for a simple MPT of {count} keys")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The number of keys in the trie.
        count: usize,
    },
    /// A simple-MPT proof shows no value under the key.
    #[error("simple MPT proof holds no value at index {index}")]
    NoValue {
        /// The index asked for.
        index: usize,
    },
}

/// What a verified walk found under a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// A value.
    Value(Vec<u8>),
    /// An empty value: in a delta trie it marks the key deleted.
    Tombstone,
    /// Nothing: the path diverts, ends in an empty child slot, or reaches a node
    /// without value.
    Absent,
}

/// What one trie holds at a key, as a storage root reports it (conflux-rust
/// `MptValue<H256>`): on the wire `[0]`, `[1]` or `[2, merkle]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeMerkle {
    /// No node at the key.
    Absent,
    /// A node whose value is empty: the key was deleted in this (delta) trie.
    Tombstone,
    /// The node merkle (hash without compressed path) of the node at the key.
    Node(H256),
}

/// Wire tags of [`NodeMerkle`] (conflux-rust `impl Encodable for MptValue<H256>`).
const NODE_MERKLE_ABSENT: u8 = 0;
const NODE_MERKLE_TOMBSTONE: u8 = 1;
const NODE_MERKLE_NODE: u8 = 2;

impl NodeMerkle {
    /// How a proof shows it, in an error.
    fn proven(&self) -> &'static str {
        match self {
            NodeMerkle::Absent => "absence",
            NodeMerkle::Tombstone => "a tombstone",
            NodeMerkle::Node(_) => "a node",
        }
    }

    /// How a claim of it reads, in an error.
    fn claimed(&self) -> &'static str {
        match self {
            NodeMerkle::Absent => "absence",
            NodeMerkle::Tombstone => "tombstone",
            NodeMerkle::Node(_) => "node",
        }
    }
}

impl From<Option<H256>> for NodeMerkle {
    fn from(o: Option<H256>) -> Self {
        o.map_or(NodeMerkle::Absent, NodeMerkle::Node)
    }
}

impl Encodable for NodeMerkle {
    fn rlp_append(&self, s: &mut RlpStream) {
        match self {
            NodeMerkle::Absent => {
                s.begin_list(1).append(&NODE_MERKLE_ABSENT);
            }
            NodeMerkle::Tombstone => {
                s.begin_list(1).append(&NODE_MERKLE_TOMBSTONE);
            }
            NodeMerkle::Node(h) => {
                s.begin_list(2).append(&NODE_MERKLE_NODE).append(h);
            }
        }
    }
}

impl Decodable for NodeMerkle {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        // conflux-rust reads the tag and ignores extra items; an honest peer sends none,
        // so the length is exact here.
        match rlp.val_at::<u8>(0)? {
            NODE_MERKLE_ABSENT => {
                expect_list_len(rlp, 1)?;
                Ok(NodeMerkle::Absent)
            }
            NODE_MERKLE_TOMBSTONE => {
                expect_list_len(rlp, 1)?;
                Ok(NodeMerkle::Tombstone)
            }
            NODE_MERKLE_NODE => {
                expect_list_len(rlp, 2)?;
                Ok(NodeMerkle::Node(rlp.val_at(1)?))
            }
            _ => Err(DecoderError::Custom("unknown node merkle tag")),
        }
    }
}

/// A compressed path: `bytes` with `mask` telling whether the first byte's high nibble
/// and the last byte's low nibble are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CompressedPath {
    /// `0x0f` bit: starts without first nibble; `0xf0` bit: ends without last nibble.
    pub mask: u8,
    /// The path bytes as sent (the left-out first nibble repeats the child index).
    pub bytes: Vec<u8>,
}

impl CompressedPath {
    fn no_first_nibble(&self) -> bool {
        self.mask & NO_FIRST_NIBBLE != 0
    }

    fn no_last_nibble(&self) -> bool {
        self.mask & NO_LAST_NIBBLE != 0
    }

    /// Number of nibbles in the path.
    pub fn steps(&self) -> usize {
        (2 * self.bytes.len())
            .saturating_sub(usize::from(self.no_first_nibble()))
            .saturating_sub(usize::from(self.no_last_nibble()))
    }

    /// Nibble `i` of the path (0-based from the first nibble that belongs to it).
    fn nibble(&self, i: usize) -> Option<u8> {
        nibble_at(&self.bytes, i + usize::from(self.no_first_nibble()))
    }
}

/// One node of a proof as sent on the wire:
/// `[merkle, children, Option<value>, ([mask, path])?]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProofNode {
    /// The merkle the node claims (never trusted: see [`ProofNode::path_merkle`]).
    pub merkle: H256,
    /// Path merkles of the 16 children (`MERKLE_NULL_NODE` = no child); `None` is the
    /// wire form `[]` of a node without children.
    pub children: Option<[H256; CHILDREN_COUNT]>,
    /// `None`: no value; `Some(empty)`: tombstone; otherwise the value.
    pub value: Option<Vec<u8>>,
    /// The compressed path leading from the parent's child slot to this node.
    pub path: CompressedPath,
}

impl ProofNode {
    /// `keccak("n" ‖ 16 child merkles ‖ ("v" ‖ value)?)`, the hash of the node without
    /// its path.
    pub fn node_merkle(&self) -> H256 {
        let children = self.children.as_ref().unwrap_or(&[MERKLE_NULL_NODE; 16]);
        let mut parts: Vec<&[u8]> = Vec::with_capacity(CHILDREN_COUNT + 3);
        parts.push(b"n");
        parts.extend(children.iter().map(|c| c.as_bytes()));
        if let Some(v) = &self.value {
            parts.push(b"v");
            parts.push(v);
        }
        keccak256_concat(&parts)
    }

    /// The merkle this node's parent stores for it, recomputed from the node's content.
    pub fn path_merkle(&self) -> H256 {
        path_merkle(&self.path, &self.node_merkle())
    }

    fn child(&self, index: u8) -> Option<H256> {
        let c = *self.children.as_ref()?.get(usize::from(index))?;
        (c != MERKLE_NULL_NODE).then_some(c)
    }

    fn lookup_value(&self) -> Lookup {
        match &self.value {
            None => Lookup::Absent,
            Some(v) if v.is_empty() => Lookup::Tombstone,
            Some(v) => Lookup::Value(v.clone()),
        }
    }
}

/// `keccak(info ‖ path ‖ node_merkle)` for a path of at least one nibble, else the node
/// merkle itself; `info = 128 + 64·no_first_nibble + steps % 63` and the left-out first
/// nibble is zeroed. A left-out last nibble is hashed as it is (builders zero it).
fn path_merkle(path: &CompressedPath, node_merkle: &H256) -> H256 {
    let steps = path.steps();
    if steps == 0 {
        return *node_merkle;
    }
    let no_first = path.no_first_nibble();
    // steps % 63 < 63, so the sum stays below 256.
    let info = 128 + 64 * u8::from(no_first) + (steps % 63) as u8;
    let mut bytes = path.bytes.clone();
    if no_first {
        if let Some(b) = bytes.first_mut() {
            *b &= 0x0f;
        }
    }
    keccak256_concat(&[&[info], &bytes, node_merkle.as_bytes()])
}

impl Encodable for ProofNode {
    fn rlp_append(&self, s: &mut RlpStream) {
        let has_path = !self.path.bytes.is_empty();
        s.begin_list(if has_path { 4 } else { 3 });
        s.append(&self.merkle);
        match &self.children {
            None => {
                s.begin_list(0);
            }
            Some(table) => {
                s.append_list(&table[..]);
            }
        }
        match &self.value {
            None => {
                s.begin_list(0);
            }
            Some(v) => {
                s.begin_list(1).append(v);
            }
        }
        if has_path {
            s.begin_list(2)
                .append(&self.path.mask)
                .append(&self.path.bytes);
        }
    }
}

impl Decodable for ProofNode {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        let n = rlp.item_count()?;
        if n != 3 && n != 4 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let children_rlp = rlp.at(1)?;
        if !children_rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        // Only the vanilla table is used in proofs: `[]` or all 16 slots.
        let children = match children_rlp.item_count()? {
            0 => None,
            CHILDREN_COUNT => {
                let mut table = [MERKLE_NULL_NODE; CHILDREN_COUNT];
                for (i, slot) in table.iter_mut().enumerate() {
                    *slot = children_rlp.val_at(i)?;
                }
                Some(table)
            }
            _ => {
                return Err(DecoderError::Custom(
                    "children table is neither [] nor 16 hashes",
                ))
            }
        };
        let path = if n == 4 {
            let p = rlp.at(3)?;
            expect_list_len(&p, 2)?;
            let mask: u8 = p.val_at(0)?;
            let bytes: Vec<u8> = p.val_at(1)?;
            // The 4th item is sent only for a non-empty path.
            if bytes.is_empty() {
                return Err(DecoderError::Custom(
                    "empty compressed path sent explicitly",
                ));
            }
            // Each half of the mask is a flag, all zeros or all ones. conflux-rust reads
            // any set bit as the flag and only the flag is hashed, so a mask like 0x01
            // would hash like 0x0f: refused as ambiguous.
            if !matches!(mask & NO_FIRST_NIBBLE, 0 | NO_FIRST_NIBBLE)
                || !matches!(mask & NO_LAST_NIBBLE, 0 | NO_LAST_NIBBLE)
            {
                return Err(DecoderError::Custom("invalid compressed path mask"));
            }
            CompressedPath { mask, bytes }
        } else {
            CompressedPath::default()
        };
        Ok(ProofNode {
            merkle: rlp.val_at(0)?,
            children,
            value: decode_option(&rlp.at(2)?)?,
            path,
        })
    }
}

/// A Merkle proof: the nodes on the path(s) to one or more keys, root first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TrieProof {
    nodes: Vec<ProofNode>,
}

impl TrieProof {
    /// Wraps nodes (root first); nothing is trusted until [`TrieProof::lookup`].
    pub fn new(nodes: Vec<ProofNode>) -> Self {
        TrieProof { nodes }
    }

    /// The nodes as sent.
    pub fn nodes(&self) -> &[ProofNode] {
        &self.nodes
    }

    /// The nodes, for rebuilding a proof (fault injection in tests).
    pub fn into_nodes(self) -> Vec<ProofNode> {
        self.nodes
    }

    /// Walk `key` from `root`; Ok(Lookup) only when every node on the path re-hashes correctly.
    ///
    /// In fact every node of the proof must re-hash to the merkle it claims, on the path
    /// or not. An empty trie (`root == MERKLE_NULL_NODE`) holds nothing, whatever the
    /// proof says.
    pub fn lookup(&self, key: &[u8], root: &H256) -> Result<Lookup, ProofError> {
        self.lookup_from(key, root, 0)
    }

    /// The walk, starting at nibble `start` of `key` (1 when the proof's first node is
    /// child 0 of a removed simple-MPT root).
    fn lookup_from(&self, key: &[u8], root: &H256, start: usize) -> Result<Lookup, ProofError> {
        Ok(self
            .walk_from(key, root, start)?
            .map_or(Lookup::Absent, ProofNode::lookup_value))
    }

    /// What the trie under `root` holds at `key` in the form a storage root reports it
    /// (conflux-rust `TrieProof::is_valid_node_merkle`): the node merkle (its hash without
    /// the compressed path) of the node `key` arrives at, a tombstone when that node's
    /// value is empty, or absence. As in [`TrieProof::lookup`], every node of the proof
    /// must re-hash to the merkle it claims.
    pub fn node_merkle_at(&self, key: &[u8], root: &H256) -> Result<NodeMerkle, ProofError> {
        Ok(match self.walk_from(key, root, 0)? {
            None => NodeMerkle::Absent,
            Some(node) if node.value.as_ref().is_some_and(Vec::is_empty) => NodeMerkle::Tombstone,
            Some(node) => NodeMerkle::Node(node.node_merkle()),
        })
    }

    /// The walk: the node `key` arrives at (from nibble `start`), or None when the key
    /// is proven to have no node (a diverting path, an empty child slot, an empty trie).
    fn walk_from(
        &self,
        key: &[u8],
        root: &H256,
        start: usize,
    ) -> Result<Option<&ProofNode>, ProofError> {
        let by_merkle = self.verified_nodes()?;
        if *root == MERKLE_NULL_NODE {
            return Ok(None);
        }
        let mut pos = start;
        let mut merkle = *root;
        // Each round consumes at least one key nibble, so the walk is at most 2·len(key) deep.
        let mut depth = 0;
        loop {
            let node = *by_merkle
                .get(&merkle)
                .ok_or(ProofError::MissingNode { depth, merkle })?;
            let steps = node.path.steps();
            if steps > 0 {
                // A path's first nibble sits at an odd key position exactly when the path
                // starts without first nibble; the flag is hashed, so this is committed.
                if node.path.no_first_nibble() != (pos % 2 == 1) {
                    return Err(ProofError::MisalignedPath { depth });
                }
                for i in 0..steps {
                    // Key used up inside the path, or a differing nibble: the path diverts.
                    match (nibble_at(key, pos + i), node.path.nibble(i)) {
                        (Some(k), Some(p)) if k == p => {}
                        _ => return Ok(None),
                    }
                }
                pos += steps;
            }
            let Some(child_index) = nibble_at(key, pos) else {
                // The key ends exactly at this node: the path check above fails first
                // when the key ends inside the path.
                return Ok(Some(node));
            };
            pos += 1;
            match node.child(child_index) {
                None => return Ok(None),
                Some(child) => merkle = child,
            }
            depth += 1;
        }
    }

    /// Re-hashes every node and indexes the nodes by that hash.
    fn verified_nodes(&self) -> Result<HashMap<H256, &ProofNode>, ProofError> {
        let mut by_merkle = HashMap::with_capacity(self.nodes.len());
        for (index, node) in self.nodes.iter().enumerate() {
            let computed = node.path_merkle();
            if computed != node.merkle {
                return Err(ProofError::NodeMerkleMismatch {
                    index,
                    claimed: node.merkle,
                    computed,
                });
            }
            by_merkle.insert(computed, node);
        }
        Ok(by_merkle)
    }
}

impl Encodable for TrieProof {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.append_list(&self.nodes);
    }
}

impl Decodable for TrieProof {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if !rlp.is_list() {
            return Err(DecoderError::RlpExpectedToBeList);
        }
        if rlp.item_count()? > MAX_PROOF_NODES {
            return Err(DecoderError::Custom("proof has too many nodes"));
        }
        Ok(TrieProof {
            nodes: rlp.as_list()?,
        })
    }
}

/// The three trie roots of a state (`[snapshot_root, intermediate_delta_root, delta_root]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StateRoot {
    /// Root of the snapshot trie.
    pub snapshot_root: H256,
    /// Root of the intermediate delta trie.
    pub intermediate_delta_root: H256,
    /// Root of the delta trie.
    pub delta_root: H256,
}

impl StateRoot {
    /// `keccak(snapshot ‖ intermediate ‖ delta)`, the 96-byte concatenation (not RLP): what
    /// a header's `deferred_state_root` commits to when its blame is 0.
    pub fn hash(&self) -> H256 {
        keccak256_concat(&[
            self.snapshot_root.as_bytes(),
            self.intermediate_delta_root.as_bytes(),
            self.delta_root.as_bytes(),
        ])
    }

    /// The padding that keys of this state's delta trie are built with.
    pub fn delta_padding(&self) -> H256 {
        delta_mpt_padding(&self.snapshot_root, &self.intermediate_delta_root)
    }
}

impl Encodable for StateRoot {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3)
            .append(&self.snapshot_root)
            .append(&self.intermediate_delta_root)
            .append(&self.delta_root);
    }
}

impl Decodable for StateRoot {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 3)?;
        Ok(StateRoot {
            snapshot_root: rlp.val_at(0)?,
            intermediate_delta_root: rlp.val_at(1)?,
            delta_root: rlp.val_at(2)?,
        })
    }
}

/// Proofs for one key in the three tries of a state; a trie the decision never reaches
/// may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct StateProof {
    /// Proof in the delta trie.
    pub delta: Option<TrieProof>,
    /// Proof in the intermediate delta trie.
    pub intermediate: Option<TrieProof>,
    /// Proof in the snapshot trie.
    pub snapshot: Option<TrieProof>,
}

impl Encodable for StateProof {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3);
        for p in [&self.delta, &self.intermediate, &self.snapshot] {
            append_option(s, p.as_ref());
        }
    }
}

impl Decodable for StateProof {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 3)?;
        Ok(StateProof {
            delta: decode_option(&rlp.at(0)?)?,
            intermediate: decode_option(&rlp.at(1)?)?,
            snapshot: decode_option(&rlp.at(2)?)?,
        })
    }
}

/// The proof part of a `StateEntries` item: `[StateProof, StateRoot, Option<StateRoot>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct StateEntryProof {
    /// Proofs in the three tries.
    pub state_proof: StateProof,
    /// The state the entry is read from.
    pub state_root: StateRoot,
    /// The state root one snapshot period (2,000 epochs) earlier; it gives the key
    /// padding of the intermediate trie. Absent in the first period.
    pub prev_snapshot_state_root: Option<StateRoot>,
}

impl Encodable for StateEntryProof {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3)
            .append(&self.state_proof)
            .append(&self.state_root);
        append_option(s, self.prev_snapshot_state_root.as_ref());
    }
}

impl Decodable for StateEntryProof {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 3)?;
        Ok(StateEntryProof {
            state_proof: rlp.val_at(0)?,
            state_root: rlp.val_at(1)?,
            prev_snapshot_state_root: decode_option(&rlp.at(2)?)?,
        })
    }
}

/// Checks that `value` (None = absent) is what the state with root `proof.state_root` holds for `key`.
/// The CALLER checks state_root.hash() against the verified header and prev_snapshot_state_root against epoch-2000.
///
/// The delta trie decides first, then the intermediate trie, then the snapshot: a trie
/// that proves the key absent passes the question on, a tombstone in the delta or
/// intermediate trie proves absence, and any other value that is not the claimed one
/// makes the proof fail (conflux-rust `StateProof::is_valid_kv`).
pub fn verify_state_entry(
    key: &StorageKey,
    value: Option<&[u8]>,
    proof: &StateEntryProof,
) -> Result<(), ProofError> {
    if value.is_some_and(<[u8]>::is_empty) {
        return Err(ProofError::EmptyClaimedValue);
    }
    let roots = &proof.state_root;
    let tries = &proof.state_proof;
    if tries.intermediate.is_some() && proof.prev_snapshot_state_root.is_none() {
        return Err(ProofError::MissingPrevSnapshotRoot);
    }

    let delta_key = key.to_delta_mpt_key_bytes(&roots.delta_padding());
    if delta_trie_decides(
        Trie::Delta,
        tries.delta.as_ref(),
        &delta_key,
        &roots.delta_root,
        value,
    )? {
        return Ok(());
    }
    // The intermediate trie was the delta trie of the previous period and is keyed with
    // that period's padding. Without prev_snapshot_state_root the key stays empty and is
    // never walked: an intermediate proof was refused above, and without one only an
    // empty intermediate root passes.
    let intermediate_key = proof
        .prev_snapshot_state_root
        .map(|prev| key.to_delta_mpt_key_bytes(&prev.delta_padding()))
        .unwrap_or_default();
    if delta_trie_decides(
        Trie::Intermediate,
        tries.intermediate.as_ref(),
        &intermediate_key,
        &roots.intermediate_delta_root,
        value,
    )? {
        return Ok(());
    }

    let snapshot = tries
        .snapshot
        .as_ref()
        .ok_or(ProofError::MissingSnapshotProof)?;
    let found = snapshot.lookup(&key.to_key_bytes(), &roots.snapshot_root)?;
    match (&found, value) {
        (Lookup::Value(v), Some(want)) if v.as_slice() == want => Ok(()),
        (Lookup::Absent, None) => Ok(()),
        _ => Err(mismatch(Trie::Snapshot, &found, value)),
    }
}

/// One step of the delta → intermediate fall-through: Ok(true) when the trie proves the
/// claim, Ok(false) when it proves the key absent (the next trie decides).
fn delta_trie_decides(
    trie: Trie,
    proof: Option<&TrieProof>,
    key: &[u8],
    root: &H256,
    value: Option<&[u8]>,
) -> Result<bool, ProofError> {
    let Some(proof) = proof else {
        return if *root == MERKLE_NULL_NODE {
            Ok(false)
        } else {
            Err(ProofError::MissingTrieProof { trie })
        };
    };
    let found = proof.lookup(key, root)?;
    match (&found, value) {
        (Lookup::Absent, _) => Ok(false),
        (Lookup::Value(v), Some(want)) if v.as_slice() == want => Ok(true),
        // A tombstone is this trie's record that the key was deleted.
        (Lookup::Tombstone, None) => Ok(true),
        _ => Err(mismatch(trie, &found, value)),
    }
}

/// The error for a trie that settles the question against the claim.
fn mismatch(trie: Trie, found: &Lookup, value: Option<&[u8]>) -> ProofError {
    ProofError::ValueMismatch {
        trie,
        proven: match (found, value) {
            (Lookup::Value(_), None) => "a value",
            (Lookup::Value(_), Some(_)) => "another value",
            (Lookup::Tombstone, _) => "a tombstone",
            (Lookup::Absent, _) => "absence",
        },
        claimed: if value.is_some() { "value" } else { "absence" },
    }
}

/// An account's storage root: the node at its storage-root key (`addr ‖ "data"`) in each
/// trie of a state (conflux-rust `StorageRoot` = `NodeMerkleTriplet`). The snapshot trie
/// holds no tombstones, so its part is a plain option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StorageRoot {
    /// In the delta trie.
    pub delta: NodeMerkle,
    /// In the intermediate delta trie.
    pub intermediate: NodeMerkle,
    /// In the snapshot trie.
    pub snapshot: Option<H256>,
}

impl Encodable for StorageRoot {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3)
            .append(&self.delta)
            .append(&self.intermediate);
        append_option(s, self.snapshot.as_ref());
    }
}

impl Decodable for StorageRoot {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        expect_list_len(rlp, 3)?;
        Ok(StorageRoot {
            delta: rlp.val_at(0)?,
            intermediate: rlp.val_at(1)?,
            snapshot: decode_option(&rlp.at(2)?)?,
        })
    }
}

/// The proof part of a `StorageRoots` item: `[NodeMerkleProof, StateRoot, Option<StateRoot>]`.
/// conflux-rust's `NodeMerkleProof` is three optional trie proofs in StateProof's order,
/// so the layout is exactly [`StateEntryProof`]'s.
pub type StorageRootProof = StateEntryProof;

/// Checks that `claimed` is the storage root of `address` in the state with root
/// `proof.state_root`. The CALLER checks state_root.hash() against the verified header
/// and prev_snapshot_state_root against epoch − 2000, exactly as for [`verify_state_entry`].
///
/// Unlike a state entry, a storage root has a part in every trie, so there is no
/// fall-through: each trie's proof must show exactly its part, the node at the
/// storage-root key (delta and intermediate keys padded, snapshot key raw), with every
/// proof node re-hashed (conflux-rust `NodeMerkleProof::is_valid`, which trusts the
/// merkles the nodes claim). A trie may come without proof only when its root is null,
/// and then its part is absence.
pub fn verify_storage_root(
    address: &H160,
    claimed: &StorageRoot,
    proof: &StorageRootProof,
) -> Result<(), ProofError> {
    let key = StorageKey::StorageRoot(*address);
    let roots = &proof.state_root;
    let tries = &proof.state_proof;

    let delta_key = key.to_delta_mpt_key_bytes(&roots.delta_padding());
    trie_shows(
        Trie::Delta,
        tries.delta.as_ref(),
        &delta_key,
        &roots.delta_root,
        &claimed.delta,
    )?;

    // The intermediate trie is keyed with the previous period's padding; a proof without
    // the state root that gives it cannot be walked.
    let intermediate_key = match (&tries.intermediate, &proof.prev_snapshot_state_root) {
        (Some(_), None) => return Err(ProofError::MissingPrevSnapshotRoot),
        (_, Some(prev)) => key.to_delta_mpt_key_bytes(&prev.delta_padding()),
        (None, None) => vec![],
    };
    trie_shows(
        Trie::Intermediate,
        tries.intermediate.as_ref(),
        &intermediate_key,
        &roots.intermediate_delta_root,
        &claimed.intermediate,
    )?;

    trie_shows(
        Trie::Snapshot,
        tries.snapshot.as_ref(),
        &key.to_key_bytes(),
        &roots.snapshot_root,
        &NodeMerkle::from(claimed.snapshot),
    )
}

/// One trie's part of a storage root: Ok when the proof shows exactly `claimed` at `key`.
fn trie_shows(
    trie: Trie,
    proof: Option<&TrieProof>,
    key: &[u8],
    root: &H256,
    claimed: &NodeMerkle,
) -> Result<(), ProofError> {
    let found = match proof {
        Some(proof) => proof.node_merkle_at(key, root)?,
        None if *root == MERKLE_NULL_NODE => NodeMerkle::Absent,
        None => return Err(ProofError::MissingTrieProof { trie }),
    };
    if found == *claimed {
        return Ok(());
    }
    Err(ProofError::ValueMismatch {
        trie,
        proven: match (found, claimed) {
            (NodeMerkle::Node(_), NodeMerkle::Node(_)) => "another node",
            (found, _) => found.proven(),
        },
        claimed: claimed.claimed(),
    })
}

/// Simple MPT (conflux `simple_mpt.rs`): keys = big-endian index bytes of minimal width for `count` keys.
pub fn simple_mpt_key(index: usize, count: usize) -> Vec<u8> {
    let width = simple_mpt_key_width(count);
    let be = index.to_be_bytes();
    // The width never exceeds size_of::<usize>() because count − 1 fits in a usize.
    be.get(be.len().saturating_sub(width)..)
        .unwrap_or(&be)
        .to_vec()
}

/// Bytes needed for the largest index `count − 1` (0 for an empty trie, 1 for one key).
fn simple_mpt_key_width(count: usize) -> usize {
    match count {
        0 => 0,
        1 => 1,
        n => {
            let largest = n - 1;
            (usize::BITS - largest.leading_zeros()).div_ceil(8) as usize
        }
    }
}

/// Whether the simple MPT of `count` keys has its root replaced by the root's only child:
/// all keys share their first nibble exactly when the largest key's first byte is below
/// 0x10 (key 0 starts with nibble 0, so the shared nibble, and the child, is 0).
fn simple_mpt_root_removed(count: usize) -> bool {
    count > 0
        && simple_mpt_key(count - 1, count)
            .first()
            .is_some_and(|b| *b < 0x10)
}

/// The simple-MPT root of `values` (keyed by index): MERKLE_NULL_NODE when empty, and the
/// merkle of child 0 when every key starts with nibble 0 ("root has one child → use child merkle").
pub fn simple_mpt_root(values: &[&[u8]]) -> H256 {
    let count = values.len();
    if count == 0 {
        return MERKLE_NULL_NODE;
    }
    let items: Vec<(Vec<u8>, &[u8])> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (simple_mpt_key(i, count), *v))
        .collect();
    let children = children_merkles(&items, 0);
    let occupied: Vec<&H256> = children
        .iter()
        .filter(|c| **c != MERKLE_NULL_NODE)
        .collect();
    match occupied.as_slice() {
        [only] => **only,
        _ => ProofNode {
            children: Some(children),
            ..ProofNode::default()
        }
        .node_merkle(),
    }
}

/// Children table of a node whose children branch at nibble `pos` of the (sorted,
/// distinct, equal-length) keys of `items`.
fn children_merkles(items: &[(Vec<u8>, &[u8])], pos: usize) -> [H256; CHILDREN_COUNT] {
    let mut table = [MERKLE_NULL_NODE; CHILDREN_COUNT];
    let mut rest = items;
    while let Some((first, _)) = rest.first() {
        // Callers branch only before the keys' end, so every key has nibble `pos`.
        let Some(nibble) = nibble_at(first, pos) else {
            break;
        };
        let len = rest
            .iter()
            .take_while(|(k, _)| nibble_at(k, pos) == Some(nibble))
            .count();
        let (group, tail) = rest.split_at(len);
        if let Some(slot) = table.get_mut(usize::from(nibble)) {
            *slot = subtree_merkle(group, pos + 1);
        }
        rest = tail;
    }
    table
}

/// Path merkle of the (non-root) node holding `items`, whose path starts at nibble
/// `start`. As in conflux-rust's MptMerger, a node without value and with one child is
/// folded into its child's path, so the path is the items' longest common prefix.
fn subtree_merkle(items: &[(Vec<u8>, &[u8])], start: usize) -> H256 {
    let Some((first, first_value)) = items.first() else {
        return MERKLE_NULL_NODE;
    };
    let key_nibbles = 2 * first.len();
    let mut end = start;
    while end < key_nibbles
        && items
            .iter()
            .all(|(k, _)| nibble_at(k, end) == nibble_at(first, end))
    {
        end += 1;
    }
    let node = if end == key_nibbles {
        // Keys are distinct and of equal length, so only one item can end here.
        ProofNode {
            value: Some(first_value.to_vec()),
            ..ProofNode::default()
        }
    } else {
        ProofNode {
            children: Some(children_merkles(items, end)),
            ..ProofNode::default()
        }
    };
    let path = path_between(first, start, end);
    path_merkle(&path, &node.node_merkle())
}

/// The compressed path for nibbles `start..end` of `key`, shaped as conflux-rust builds
/// it: whole bytes from the one holding nibble `start`; a left-out last nibble is zeroed
/// (`CompressedPathRaw::new_and_apply_mask`).
fn path_between(key: &[u8], start: usize, end: usize) -> CompressedPath {
    if start == end {
        return CompressedPath::default();
    }
    let mut bytes = key
        .get(start / 2..end.div_ceil(2))
        .unwrap_or_default()
        .to_vec();
    let mut mask = 0;
    if start % 2 == 1 {
        mask |= NO_FIRST_NIBBLE;
    }
    if end % 2 == 1 {
        mask |= NO_LAST_NIBBLE;
        if let Some(last) = bytes.last_mut() {
            *last &= 0xf0;
        }
    }
    CompressedPath { mask, bytes }
}

/// header.transactions_root: the simple MPT of the block's transaction hashes.
pub fn transactions_root(tx_hashes: &[H256]) -> H256 {
    let values: Vec<&[u8]> = tx_hashes.iter().map(|h| h.as_bytes()).collect();
    simple_mpt_root(&values)
}

/// The simple MPT of one block's receipts, each as its RLP.
pub fn block_receipts_root(receipts: &[Receipt]) -> H256 {
    let encoded: Vec<Vec<u8>> = receipts.iter().map(|r| rlp::encode(r).to_vec()).collect();
    let values: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    simple_mpt_root(&values)
}

/// header(e+5).deferred_receipts_root: the simple MPT of the epoch's block receipts roots,
/// in epoch order (pivot last).
pub fn epoch_receipts_root(block_receipts_roots: &[H256]) -> H256 {
    transactions_root(block_receipts_roots)
}

/// Verify a TxInfos-style inclusion proof: the value at simple_mpt_key(index,count) under `root`.
///
/// When the trie's root had a single child, conflux-rust drops the root node from the
/// proof and the root hash is that child's merkle; `count` tells which case applies, so
/// the walk then starts at the child, with the key's first nibble (0) already consumed.
pub fn simple_mpt_proof_value(
    proof: &TrieProof,
    root: &H256,
    index: usize,
    count: usize,
) -> Result<Vec<u8>, ProofError> {
    if index >= count {
        return Err(ProofError::IndexOutOfRange { index, count });
    }
    let key = simple_mpt_key(index, count);
    let start = usize::from(simple_mpt_root_removed(count));
    match proof.lookup_from(&key, root, start)? {
        Lookup::Value(v) => Ok(v),
        Lookup::Tombstone | Lookup::Absent => Err(ProofError::NoValue { index }),
    }
}

/// Nibble `i` of `bytes` (high nibble first), or None past the end.
fn nibble_at(bytes: &[u8], i: usize) -> Option<u8> {
    let b = bytes.get(i / 2)?;
    Some(if i.is_multiple_of(2) {
        b >> 4
    } else {
        b & 0x0f
    })
}

/// parity rlp's `Option<T>`: `[]` or `[v]`.
fn append_option<T: Encodable>(s: &mut RlpStream, v: Option<&T>) {
    match v {
        None => {
            s.begin_list(0);
        }
        Some(v) => {
            s.begin_list(1).append(v);
        }
    }
}

/// Decodes parity rlp's `Option<T>`, refusing anything but a list of 0 or 1 items.
fn decode_option<T: Decodable>(rlp: &Rlp<'_>) -> Result<Option<T>, DecoderError> {
    if !rlp.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    match rlp.item_count()? {
        0 => Ok(None),
        1 => Ok(Some(rlp.val_at(0)?)),
        _ => Err(DecoderError::RlpIncorrectListLen),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ethereum_types::H160;

    fn h(s: &str) -> H256 {
        s.parse().unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// Node 1 of the worked example (conflux-state-proofs.md §8): the leaf of account
    /// 0x1cbd…07fb in the delta trie at epoch 277 of a young devnet, as the node sent it.
    const EXAMPLE_LEAF: &str =
        "f857 a0 9b0ad6c329dd0bb30fda6d6326a0ddfdb86d66fea119b85ebec91a15a46728e0 c0 \
         d1 90 cf8a021e19e0c9bab240000080808080 \
         e2 0f a0 8dc6f3b4f51eda1795d840601cbdd86a2fa8dc4bddd8a8f69dba48572eec07fb";
    const EXAMPLE_ACCOUNT: &str = "cf8a021e19e0c9bab240000080808080";

    fn example_leaf() -> ProofNode {
        crate::rlp_util::decode_exact(&hex(EXAMPLE_LEAF)).unwrap()
    }

    /// A root whose only child is the example leaf in slot 8, so that walks start at
    /// nibble 0 (the real root's other 15 slots are not in the write-up).
    fn root_over(leaf: &ProofNode) -> ProofNode {
        let mut children = [MERKLE_NULL_NODE; 16];
        children[8] = leaf.merkle;
        let mut root = ProofNode {
            children: Some(children),
            ..ProofNode::default()
        };
        root.merkle = root.path_merkle();
        root
    }

    fn example_key() -> Vec<u8> {
        let address: H160 = "1cbdd86a2fa8dc4bddd8a8f69dba48572eec07fb".parse().unwrap();
        let root = StateRoot {
            snapshot_root: MERKLE_NULL_NODE,
            intermediate_delta_root: MERKLE_NULL_NODE,
            delta_root: h("a0bf6e8821a3a40246eeb94eba8bd7f8284ae4a58b62d1d607bd105bd806c64b"),
        };
        StorageKey::Account(address).to_delta_mpt_key_bytes(&root.delta_padding())
    }

    #[test]
    fn worked_example_from_a_real_young_chain() {
        // StateRoot → header commitment and the genesis-period padding.
        let root = StateRoot {
            snapshot_root: MERKLE_NULL_NODE,
            intermediate_delta_root: MERKLE_NULL_NODE,
            delta_root: h("a0bf6e8821a3a40246eeb94eba8bd7f8284ae4a58b62d1d607bd105bd806c64b"),
        };
        assert_eq!(
            root.hash(),
            h("7d12c2e0eb406e64a87d952210f99f0b8176cbaab97828d830658c2537063b11")
        );
        assert_eq!(
            root.delta_padding(),
            h("9c6b2c1b0d0b25a008e6c882cc7b415f309965c72ad2b944ac0931048ca31cd5")
        );
        let key = example_key();
        assert_eq!(
            key,
            hex("8dc6f3b4f51eda1795d84060 1cbdd86a2fa8dc4bddd8a8f69dba48572eec07fb")
        );

        // The leaf: no children, the account value, a 63-nibble path starting mid-byte.
        let leaf = example_leaf();
        assert_eq!(leaf.children, None);
        assert_eq!(leaf.value, Some(hex(EXAMPLE_ACCOUNT)));
        assert_eq!(leaf.path.mask, 0x0f);
        assert_eq!(leaf.path.steps(), 63);
        assert_eq!(
            leaf.node_merkle(),
            h("3e00b9860f77dc1f92b0fd8e7f0354211972034f0e6f309399b90f5f0f60e3a9")
        );
        // info byte 128 + 64 + 63 % 63 = 0xc0, and the leading 8 of 8d is zeroed.
        let mut preimage = vec![0xc0];
        preimage.extend_from_slice(&hex(
            "0dc6f3b4f51eda1795d840601cbdd86a2fa8dc4bddd8a8f69dba48572eec07fb",
        ));
        preimage.extend_from_slice(leaf.node_merkle().as_bytes());
        assert_eq!(leaf.path_merkle(), crate::hash::keccak256(&preimage));
        assert_eq!(leaf.path_merkle(), leaf.merkle);

        // The walk: child 8 of the root (high nibble of 0x8d), then all 63 path nibbles.
        let root_node = root_over(&leaf);
        let proof = TrieProof::new(vec![root_node.clone(), leaf.clone()]);
        assert_eq!(
            proof.lookup(&key, &root_node.merkle),
            Ok(Lookup::Value(hex(EXAMPLE_ACCOUNT)))
        );
        // The same leaf as the first node, entered as child 8 (nibble 0 consumed).
        let alone = TrieProof::new(vec![leaf.clone()]);
        assert_eq!(
            alone.lookup_from(&key, &leaf.merkle, 1),
            Ok(Lookup::Value(hex(EXAMPLE_ACCOUNT)))
        );
        // Entered at nibble 0, a path that starts mid-byte cannot be aligned.
        assert_eq!(
            alone.lookup(&key, &leaf.merkle),
            Err(ProofError::MisalignedPath { depth: 0 })
        );
        // Other keys through the same proof: a differing path nibble, an empty slot.
        let mut other = key.clone();
        other[31] ^= 1;
        assert_eq!(proof.lookup(&other, &root_node.merkle), Ok(Lookup::Absent));
        other[0] = 0x1d;
        assert_eq!(proof.lookup(&other, &root_node.merkle), Ok(Lookup::Absent));
        // A shorter key ends inside the path.
        assert_eq!(
            proof.lookup(&key[..20], &root_node.merkle),
            Ok(Lookup::Absent)
        );
    }

    #[test]
    fn a_changed_value_is_caught_even_with_the_old_merkle_claimed() {
        let leaf = example_leaf();
        let root = root_over(&leaf);
        let mut forged = leaf.clone();
        let mut value = hex(EXAMPLE_ACCOUNT);
        value[3] ^= 0x40; // a different balance, merkle field left as it was
        forged.value = Some(value);
        let proof = TrieProof::new(vec![root.clone(), forged]);
        assert!(matches!(
            proof.lookup(&example_key(), &root.merkle),
            Err(ProofError::NodeMerkleMismatch { index: 1, .. })
        ));
        // Re-hashing the forged leaf honestly does not help: the root no longer points at it.
        let mut rehashed = proof.into_nodes();
        rehashed[1].merkle = rehashed[1].path_merkle();
        let proof = TrieProof::new(rehashed);
        assert!(matches!(
            proof.lookup(&example_key(), &root.merkle),
            Err(ProofError::MissingNode { depth: 1, .. })
        ));
    }

    #[test]
    fn the_unhashed_first_nibble_cannot_fake_absence() {
        // The nibble a path starts without is not hashed, so a peer may set it freely;
        // conflux-rust compares it with the key and would then report the key absent.
        let mut leaf = example_leaf();
        leaf.path.bytes[0] = 0x3d; // was 0x8d
        assert_eq!(leaf.path_merkle(), leaf.merkle);
        let root = root_over(&leaf);
        let proof = TrieProof::new(vec![root.clone(), leaf]);
        assert_eq!(
            proof.lookup(&example_key(), &root.merkle),
            Ok(Lookup::Value(hex(EXAMPLE_ACCOUNT)))
        );
    }

    #[test]
    fn a_zero_step_path_is_ignored_by_the_walk() {
        // Mask 0xff with one byte = 0 nibbles (seen at odd depth); its byte is not hashed.
        let leaf = example_leaf();
        let mut children = [MERKLE_NULL_NODE; 16];
        children[0xd] = leaf.merkle; // low nibble of key byte 0x8d
        let mut branch = ProofNode {
            children: Some(children),
            path: CompressedPath {
                mask: 0xff,
                bytes: vec![0x70],
            },
            ..ProofNode::default()
        };
        branch.merkle = branch.path_merkle();
        assert_eq!(branch.merkle, branch.node_merkle());
        // The leaf below the branch starts at nibble 2, a byte boundary.
        let mut low = leaf.clone();
        low.path = CompressedPath {
            mask: 0,
            bytes: example_key()[1..].to_vec(),
        };
        low.merkle = low.path_merkle();
        branch.children.as_mut().unwrap()[0xd] = low.merkle;
        branch.merkle = branch.path_merkle();
        let mut root_children = [MERKLE_NULL_NODE; 16];
        root_children[8] = branch.merkle;
        let mut root = ProofNode {
            children: Some(root_children),
            ..ProofNode::default()
        };
        root.merkle = root.path_merkle();
        let proof = TrieProof::new(vec![root.clone(), branch, low]);
        assert_eq!(
            proof.lookup(&example_key(), &root.merkle),
            Ok(Lookup::Value(hex(EXAMPLE_ACCOUNT)))
        );
    }

    #[test]
    fn an_empty_trie_holds_nothing_and_a_missing_node_is_an_error() {
        let empty_root_node = ProofNode {
            merkle: ProofNode::default().node_merkle(),
            ..ProofNode::default()
        };
        // What the node sends for a NULL snapshot root; its merkle is not NULL.
        assert_eq!(
            empty_root_node.merkle,
            h("120f189af4787997f54bad7cc719352c70243ba3c8e896c9992e98ce933a82df")
        );
        let proof = TrieProof::new(vec![empty_root_node]);
        assert_eq!(
            proof.lookup(b"any key", &MERKLE_NULL_NODE),
            Ok(Lookup::Absent)
        );
        assert_eq!(
            TrieProof::default().lookup(b"k", &H256::repeat_byte(7)),
            Err(ProofError::MissingNode {
                depth: 0,
                merkle: H256::repeat_byte(7)
            })
        );
    }

    #[test]
    fn tombstones_are_reported_as_such() {
        let mut leaf = ProofNode {
            value: Some(vec![]),
            path: CompressedPath {
                mask: 0,
                bytes: vec![0xab],
            },
            ..ProofNode::default()
        };
        leaf.merkle = leaf.path_merkle();
        // The tombstone still adds "v" to the node hash.
        assert_eq!(
            leaf.node_merkle(),
            keccak256_concat(&[b"n", &[MERKLE_NULL_NODE.as_bytes(); 16].concat(), b"v"])
        );
        let proof = TrieProof::new(vec![leaf.clone()]);
        assert_eq!(proof.lookup(&[0xab], &leaf.merkle), Ok(Lookup::Tombstone));
    }

    #[test]
    fn node_merkle_at_reports_the_node_hash_without_its_path() {
        let leaf = example_leaf();
        let root = root_over(&leaf);
        let proof = TrieProof::new(vec![root.clone(), leaf.clone()]);
        let found = proof.node_merkle_at(&example_key(), &root.merkle);
        // The node merkle, not the path merkle its parent stores.
        assert_eq!(
            found,
            Ok(NodeMerkle::Node(h(
                "3e00b9860f77dc1f92b0fd8e7f0354211972034f0e6f309399b90f5f0f60e3a9"
            )))
        );
        assert_ne!(found, Ok(NodeMerkle::Node(leaf.merkle)));
        // A key ending inside the path has no node; an empty trie has none.
        assert_eq!(
            proof.node_merkle_at(&example_key()[..20], &root.merkle),
            Ok(NodeMerkle::Absent)
        );
        assert_eq!(
            proof.node_merkle_at(&example_key(), &MERKLE_NULL_NODE),
            Ok(NodeMerkle::Absent)
        );
        // The root itself is a node with an empty key.
        assert_eq!(
            proof.node_merkle_at(&[], &root.merkle),
            Ok(NodeMerkle::Node(root.node_merkle()))
        );
    }

    /// A trie holding `value` under `key` alone: a root with one child, the leaf, whose
    /// path is the rest of the key. Returns (root, leaf).
    fn single_leaf_trie(key: &[u8], value: Vec<u8>) -> (ProofNode, ProofNode) {
        let mut leaf = ProofNode {
            value: Some(value),
            path: path_between(key, 1, 2 * key.len()),
            ..ProofNode::default()
        };
        leaf.merkle = leaf.path_merkle();
        let mut children = [MERKLE_NULL_NODE; 16];
        children[usize::from(key[0] >> 4)] = leaf.merkle;
        let mut root = ProofNode {
            children: Some(children),
            ..ProofNode::default()
        };
        root.merkle = root.path_merkle();
        (root, leaf)
    }

    /// The storage layout value conflux-rust writes at a contract's storage-root key.
    const LAYOUT_V0: [u8; 2] = [0, 0];

    /// A state whose delta trie holds `value` at the storage-root key of `address` (the
    /// other tries null), with its proof.
    fn delta_storage_root_state(address: H160, value: Vec<u8>) -> (StorageRootProof, ProofNode) {
        let mut roots = StateRoot {
            snapshot_root: MERKLE_NULL_NODE,
            intermediate_delta_root: MERKLE_NULL_NODE,
            delta_root: H256::zero(),
        };
        let key = StorageKey::StorageRoot(address).to_delta_mpt_key_bytes(&roots.delta_padding());
        assert_eq!(key.len(), 36);
        let (root, leaf) = single_leaf_trie(&key, value);
        roots.delta_root = root.merkle;
        let empty_root = ProofNode {
            merkle: ProofNode::default().node_merkle(),
            ..ProofNode::default()
        };
        let proof = StorageRootProof {
            state_proof: StateProof {
                delta: Some(TrieProof::new(vec![root, leaf.clone()])),
                intermediate: None,
                snapshot: Some(TrieProof::new(vec![empty_root])),
            },
            state_root: roots,
            prev_snapshot_state_root: None,
        };
        (proof, leaf)
    }

    #[test]
    fn a_storage_root_is_checked_in_every_trie() {
        let a: H160 = "8000000000000000000000000000000000000001".parse().unwrap();
        let (proof, leaf) = delta_storage_root_state(a, LAYOUT_V0.to_vec());
        let right = StorageRoot {
            delta: NodeMerkle::Node(leaf.node_merkle()),
            intermediate: NodeMerkle::Absent,
            snapshot: None,
        };
        assert_eq!(verify_storage_root(&a, &right, &proof), Ok(()));
        // The path merkle, another address, absence, or a part in a null trie: refused.
        let path_merkle = StorageRoot {
            delta: NodeMerkle::Node(leaf.merkle),
            ..right
        };
        assert_eq!(
            verify_storage_root(&a, &path_merkle, &proof),
            Err(ProofError::ValueMismatch {
                trie: Trie::Delta,
                proven: "another node",
                claimed: "node"
            })
        );
        let other: H160 = "8000000000000000000000000000000000000002".parse().unwrap();
        assert!(verify_storage_root(&other, &right, &proof).is_err());
        let absent = StorageRoot {
            delta: NodeMerkle::Absent,
            ..right
        };
        assert!(verify_storage_root(&a, &absent, &proof).is_err());
        for wrong in [
            StorageRoot {
                intermediate: NodeMerkle::Node(leaf.node_merkle()),
                ..right
            },
            StorageRoot {
                snapshot: Some(leaf.node_merkle()),
                ..right
            },
        ] {
            assert!(verify_storage_root(&a, &wrong, &proof).is_err());
        }
        // A non-null trie needs its proof; an intermediate proof needs the previous root.
        let mut no_delta = proof.clone();
        no_delta.state_proof.delta = None;
        assert_eq!(
            verify_storage_root(&a, &absent, &no_delta),
            Err(ProofError::MissingTrieProof { trie: Trie::Delta })
        );
        let mut stray = proof.clone();
        stray.state_proof.intermediate = Some(TrieProof::default());
        assert_eq!(
            verify_storage_root(&a, &right, &stray),
            Err(ProofError::MissingPrevSnapshotRoot)
        );
        // A changed leaf value with the old merkles claimed is caught by re-hashing.
        let mut forged = proof.clone();
        let mut nodes = forged.state_proof.delta.take().unwrap().into_nodes();
        nodes[1].value = Some(vec![0, 1]);
        forged.state_proof.delta = Some(TrieProof::new(nodes.clone()));
        let forged_claim = StorageRoot {
            delta: NodeMerkle::Node(nodes[1].node_merkle()),
            ..right
        };
        assert!(matches!(
            verify_storage_root(&a, &forged_claim, &forged),
            Err(ProofError::NodeMerkleMismatch { index: 1, .. })
        ));
    }

    #[test]
    fn a_deleted_storage_root_is_a_tombstone() {
        let a: H160 = "8000000000000000000000000000000000000003".parse().unwrap();
        let (proof, leaf) = delta_storage_root_state(a, vec![]);
        let tombstone = StorageRoot {
            delta: NodeMerkle::Tombstone,
            intermediate: NodeMerkle::Absent,
            snapshot: None,
        };
        assert_eq!(verify_storage_root(&a, &tombstone, &proof), Ok(()));
        // Not the tombstone node's hash, and not absence.
        for wrong in [NodeMerkle::Node(leaf.node_merkle()), NodeMerkle::Absent] {
            let claim = StorageRoot {
                delta: wrong,
                ..tombstone
            };
            assert_eq!(
                verify_storage_root(&a, &claim, &proof),
                Err(ProofError::ValueMismatch {
                    trie: Trie::Delta,
                    proven: "a tombstone",
                    claimed: claim.delta.claimed(),
                })
            );
        }
    }

    #[test]
    fn a_snapshot_storage_root_uses_the_raw_key() {
        let a: H160 = "8000000000000000000000000000000000000004".parse().unwrap();
        let key = StorageKey::StorageRoot(a).to_key_bytes();
        assert_eq!(&key[20..], b"data");
        let (root, leaf) = single_leaf_trie(&key, LAYOUT_V0.to_vec());
        let proof = StorageRootProof {
            state_proof: StateProof {
                delta: None,
                intermediate: None,
                snapshot: Some(TrieProof::new(vec![root.clone(), leaf.clone()])),
            },
            state_root: StateRoot {
                snapshot_root: root.merkle,
                intermediate_delta_root: MERKLE_NULL_NODE,
                delta_root: MERKLE_NULL_NODE,
            },
            prev_snapshot_state_root: None,
        };
        let claim = StorageRoot {
            delta: NodeMerkle::Absent,
            intermediate: NodeMerkle::Absent,
            snapshot: Some(leaf.node_merkle()),
        };
        assert_eq!(verify_storage_root(&a, &claim, &proof), Ok(()));
        let none = StorageRoot {
            snapshot: None,
            ..claim
        };
        assert!(verify_storage_root(&a, &none, &proof).is_err());
        // Without the snapshot proof only a null snapshot root passes.
        let mut missing = proof;
        missing.state_proof.snapshot = None;
        assert_eq!(
            verify_storage_root(&a, &claim, &missing),
            Err(ProofError::MissingTrieProof {
                trie: Trie::Snapshot
            })
        );
    }

    #[test]
    fn node_merkles_and_storage_roots_have_conflux_rlp() {
        // conflux-rust storage.rs test_mpt_value_rlp: [0] = c1 80, [1] = c1 01, [2, h].
        assert_eq!(rlp::encode(&NodeMerkle::Absent).to_vec(), vec![0xc1, 0x80]);
        assert_eq!(
            rlp::encode(&NodeMerkle::Tombstone).to_vec(),
            vec![0xc1, 0x01]
        );
        let node = NodeMerkle::Node(MERKLE_NULL_NODE);
        let mut want = vec![0xc0 + 34, 0x02, 0xa0];
        want.extend_from_slice(MERKLE_NULL_NODE.as_bytes());
        assert_eq!(rlp::encode(&node).to_vec(), want);
        let root = StorageRoot {
            delta: node,
            intermediate: NodeMerkle::Tombstone,
            snapshot: Some(H256::repeat_byte(3)),
        };
        let bytes = rlp::encode(&root).to_vec();
        assert_eq!(
            crate::rlp_util::decode_exact::<StorageRoot>(&bytes),
            Ok(root)
        );
        // Unknown tags, extra items, a bare byte and a two-item option are refused.
        for bad in [
            &[0xc1, 0x03][..],
            &[0xc2, 0x80, 0x80],
            &[0xc2, 0x01, 0x80],
            &[0x80],
            &[0xc1, 0x02],
        ] {
            assert!(
                crate::rlp_util::decode_exact::<NodeMerkle>(bad).is_err(),
                "{bad:02x?}"
            );
        }
        let mut s = RlpStream::new_list(3);
        s.append(&NodeMerkle::Absent).append(&NodeMerkle::Absent);
        s.begin_list(2).append(&H256::zero()).append(&H256::zero());
        assert!(crate::rlp_util::decode_exact::<StorageRoot>(&s.out()).is_err());
    }

    #[test]
    fn strict_node_decoding() {
        let leaf = example_leaf();
        let bytes = rlp::encode(&leaf).to_vec();
        assert_eq!(bytes, hex(EXAMPLE_LEAF));
        let node_with = |path_item: &[u8]| {
            let mut s = RlpStream::new_list(4);
            s.append(&leaf.merkle).begin_list(0).begin_list(0);
            s.append_raw(path_item, 1);
            s.out().to_vec()
        };
        // [0x0f, 0xab] is fine; mask 0x01, mask 0x0f with no bytes and an explicit empty
        // path are not.
        assert!(
            crate::rlp_util::decode_exact::<ProofNode>(&node_with(&[0xc3, 0x0f, 0x81, 0xab]))
                .is_ok()
        );
        assert!(
            crate::rlp_util::decode_exact::<ProofNode>(&node_with(&[0xc3, 0x01, 0x81, 0xab]))
                .is_err()
        );
        assert!(
            crate::rlp_util::decode_exact::<ProofNode>(&node_with(&[0xc2, 0x0f, 0x80])).is_err()
        );
        assert!(
            crate::rlp_util::decode_exact::<ProofNode>(&node_with(&[0xc2, 0x80, 0x80])).is_err()
        );
        // A children table of 15 hashes.
        let mut s = RlpStream::new_list(3);
        s.append(&leaf.merkle)
            .append_list(&[MERKLE_NULL_NODE; 15][..])
            .begin_list(0);
        assert!(crate::rlp_util::decode_exact::<ProofNode>(&s.out()).is_err());
        // A value option of two items.
        let mut s = RlpStream::new_list(3);
        s.append(&leaf.merkle)
            .begin_list(0)
            .begin_list(2)
            .append(&1u8)
            .append(&2u8);
        assert!(crate::rlp_util::decode_exact::<ProofNode>(&s.out()).is_err());
        // Too many nodes.
        let many = TrieProof::new(vec![ProofNode::default(); MAX_PROOF_NODES + 1]);
        assert!(crate::rlp_util::decode_exact::<TrieProof>(&rlp::encode(&many)).is_err());
    }

    #[test]
    fn simple_mpt_keys_have_minimal_width() {
        // The cases of conflux-rust's simple_mpt.rs tests.
        assert_eq!(simple_mpt_key(0, 0), Vec::<u8>::new());
        assert_eq!(simple_mpt_key(0x01, 1), vec![0x01]);
        assert_eq!(simple_mpt_key(0x01, 256), vec![0x01]);
        assert_eq!(simple_mpt_key(0x01, 257), vec![0x00, 0x01]);
        assert_eq!(simple_mpt_key(0x01, 65536), vec![0x00, 0x01]);
        assert_eq!(simple_mpt_key(0x01, 65537), vec![0x00, 0x00, 0x01]);
        assert_eq!(simple_mpt_key(0x0102, 0x1_0000_0000), vec![0, 0, 1, 2]);
        assert_eq!(simple_mpt_key(usize::MAX - 1, usize::MAX).len(), 8);
        assert!(simple_mpt_root_removed(1));
        assert!(simple_mpt_root_removed(16));
        assert!(!simple_mpt_root_removed(17));
        assert!(!simple_mpt_root_removed(256));
        assert!(simple_mpt_root_removed(257));
        assert!(simple_mpt_root_removed(0x1000));
        assert!(!simple_mpt_root_removed(0x1001));
    }

    #[test]
    fn simple_mpt_root_of_one_value_is_its_leaf() {
        assert_eq!(simple_mpt_root(&[]), MERKLE_NULL_NODE);
        // Key [0x00]: the root's only child is a leaf whose path is nibble 1 (the 0 of 0x00).
        let value = [0x5a; 32];
        let leaf = keccak256_concat(&[
            b"n",
            &[MERKLE_NULL_NODE.as_bytes(); 16].concat(),
            b"v",
            &value,
        ]);
        let expected = keccak256_concat(&[&[0xc1, 0x00], leaf.as_bytes()]);
        assert_eq!(simple_mpt_root(&[&value]), expected);
    }

    #[test]
    fn path_between_zeroes_a_left_out_last_nibble() {
        let key = [0x01, 0x2f, 0x34];
        assert_eq!(path_between(&key, 2, 2), CompressedPath::default());
        assert_eq!(
            path_between(&key, 2, 3),
            CompressedPath {
                mask: 0xf0,
                bytes: vec![0x20]
            }
        );
        assert_eq!(
            path_between(&key, 1, 6),
            CompressedPath {
                mask: 0x0f,
                bytes: key.to_vec()
            }
        );
        assert_eq!(path_between(&key, 1, 3).steps(), 2);
    }
}
