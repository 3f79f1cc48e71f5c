//! Header sync: follow the pivot chain epoch by epoch from a trusted start, and derive the
//! verified deferred roots of each epoch.
//!
//! Per round (conflux-protocol.md §2 "Header sync"): ask a provider for the block hashes of
//! up to 128 epochs (flattened, each epoch's pivot last), fetch their headers (each hashed
//! from the received bytes by the peer layer), then walk the pivot chain *backwards* from
//! the last hash by parent links: every pivot must be among the hashes of the batch, at the
//! height of its epoch, with valid PoW, and the walk must land on the pivot we already
//! trust. Nothing is stored unless the whole batch checks out, and it is stored in one
//! atomic write.
//!
//! Deferred roots: the pivot header at height `h` carries the state/receipts/bloom roots of
//! epoch `h − 5`. A header with blame 0 carries them plainly; one with blame `b > 0` carries
//! the fold of the correct roots of heights `h, h−1, …, h−b`, which a GetWitnessInfo answer
//! must reproduce (`fold(r) = keccak(r0 ‖ fold(r1..))`), and which then also corrects the
//! roots of the blamed ancestors.
//!
//! Trust assumptions (also in the README): the pivot chain the providers show is the one
//! the network's consensus chose; we check its linkage and PoW, not GHAST weights.

use std::{collections::HashMap, future::Future, sync::Arc};

use cfxlight_chainspec::PowMode;
use cfxlight_primitives::{header::BlockHeader, keccak256, H256};
use thiserror::Error;

use crate::{
    light::{
        message::WitnessInfo,
        peer::{LightPeer, PeerError},
    },
    store::{EpochRecord, Store, StoreError, VerifiedRoots},
};

/// Epochs between a pivot header and the epoch whose roots it carries.
pub const DEFERRED_STATE_EPOCHS: u64 = 5;
/// Epochs per GetBlockHashesByEpoch (the provider's cap is 128).
pub const EPOCH_BATCH: u64 = 128;
/// Headers per GetBlockHeaders (the provider's cap is 512).
pub const HEADER_BATCH: usize = 512;
/// How far back a reorg is looked for at a time.
pub const REORG_STEP: u64 = 16;

/// Why a sync round failed.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The peer failed or misbehaved at the protocol level.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The peer's data does not verify: it is dropped and nothing it sent is kept.
    #[error("peer sent unverifiable data: {0}")]
    Invalid(String),
}

/// What a round achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// New epochs were verified and stored, up to this one.
    Advanced(u64),
    /// Already at the peer's tip.
    AtTip,
    /// The recent pivot chain changed; stored epochs above this one were dropped.
    Rewound(u64),
}

/// Follows the pivot chain into the store.
pub struct Syncer {
    store: Arc<Store>,
    pow: PowMode,
    genesis: H256,
}

fn fold(roots: &[H256]) -> Option<H256> {
    let (last, rest) = roots.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, r| {
        keccak256([r.as_bytes(), acc.as_bytes()].concat())
    }))
}

impl Syncer {
    /// A syncer writing to `store` for a chain with this genesis and PoW mode.
    pub fn new(store: Arc<Store>, pow: PowMode, genesis: H256) -> Syncer {
        Syncer {
            store,
            pow,
            genesis,
        }
    }

    fn check_pow(&self, h: &BlockHeader) -> Result<(), SyncError> {
        match self.pow {
            PowMode::Test => h
                .verify_test_pow()
                .map_err(|e| SyncError::Invalid(format!("header {:?}: {e}", h.hash()))),
            // Octopus is not implemented yet; start-up says so (see `commands::node`).
            PowMode::Octopus => Ok(()),
        }
    }

    /// Stores the genesis header (epoch 0) if the store is empty.
    pub async fn init(&self, peer: &LightPeer) -> Result<(), SyncError> {
        if self.store.best_epoch()?.is_some() {
            return Ok(());
        }
        let headers = peer.block_headers(&[self.genesis]).await?;
        let g = headers
            .into_iter()
            .next()
            .ok_or_else(|| SyncError::Invalid("peer does not have the genesis header".into()))?;
        if g.height != 0 {
            return Err(SyncError::Invalid(
                "genesis header is not at height 0".into(),
            ));
        }
        self.store.commit(
            &[EpochRecord {
                epoch: 0,
                pivot: g.hash(),
                blocks: vec![g.hash()],
                headers: vec![(g.hash(), g.rlp())],
            }],
            &[],
        )?;
        Ok(())
    }

    /// One round against `peer`.
    pub async fn round(&self, peer: &LightPeer) -> Result<Progress, SyncError> {
        let best = self.store.best_epoch()?.unwrap_or(0);
        let tip = peer.status().best_epoch;
        if best >= tip {
            return Ok(Progress::AtTip);
        }
        let from = best + 1;
        let to = tip.min(best + EPOCH_BATCH);
        let epochs: Vec<u64> = (from..=to).collect();
        let hashes = peer.block_hashes_by_epoch(&epochs).await?;
        let Some(&last) = hashes.last() else {
            return Err(SyncError::Invalid(format!(
                "no block hashes for epochs {from}..={to}"
            )));
        };
        let mut headers: HashMap<H256, BlockHeader> = HashMap::with_capacity(hashes.len());
        for chunk in hashes.chunks(HEADER_BATCH) {
            for h in peer.block_headers(chunk).await? {
                headers.insert(h.hash(), h);
            }
        }
        // Walk back from the batch's last pivot; the provider's order is only a hint.
        let mut pivots: Vec<&BlockHeader> = Vec::with_capacity(epochs.len());
        let mut cursor = last;
        for epoch in (from..=to).rev() {
            let h = headers.get(&cursor).ok_or_else(|| {
                SyncError::Invalid(format!(
                    "pivot of epoch {epoch} ({cursor:?}) is not among the epoch hashes"
                ))
            })?;
            if h.height != epoch {
                return Err(SyncError::Invalid(format!(
                    "pivot {cursor:?} has height {} for epoch {epoch}",
                    h.height
                )));
            }
            self.check_pow(h)?;
            pivots.push(h);
            cursor = h.parent_hash;
        }
        pivots.reverse();
        let anchor = self.store.pivot(best)?;
        if anchor != Some(cursor) {
            // Our recent pivot chain is no longer the peer's: step back and refetch.
            let back = best.saturating_sub(REORG_STEP);
            let roots_to = back.checked_sub(DEFERRED_STATE_EPOCHS);
            self.store.rewind_to(back, roots_to)?;
            return Ok(Progress::Rewound(back));
        }
        // Partition the flattened list at the pivots: epoch e's blocks end at pivot(e).
        let mut records = Vec::with_capacity(pivots.len());
        let mut start = 0;
        for p in &pivots {
            let end = hashes[start..]
                .iter()
                .position(|h| *h == p.hash())
                .map(|i| start + i)
                .ok_or_else(|| SyncError::Invalid("epoch hashes out of order".into()))?;
            let blocks = hashes[start..=end].to_vec();
            let hdrs = blocks
                .iter()
                .filter_map(|b| headers.get(b).map(|h| (*b, h.rlp())))
                .collect();
            records.push(EpochRecord {
                epoch: p.height,
                pivot: p.hash(),
                blocks,
                headers: hdrs,
            });
            start = end + 1;
        }
        let roots = self.verified_roots(peer, &pivots).await?;
        self.store.commit(&records, &roots)?;
        Ok(Progress::Advanced(to))
    }

    /// Roots carried by these pivot headers, with blamed ones resolved through witnesses.
    async fn verified_roots(
        &self,
        peer: &LightPeer,
        pivots: &[&BlockHeader],
    ) -> Result<Vec<(u64, VerifiedRoots)>, SyncError> {
        roots_of(pivots, |height| async move {
            Ok(peer.witness_info(&[height]).await?.into_iter().next())
        })
        .await
    }
}

/// The verified roots a run of pivot headers carries. A header with blame 0 carries its
/// epoch's roots plainly; one with blame `b` carries the fold of the true roots of heights
/// `h … h−b`, which the witness from `witness(h)` must reproduce before it is believed
/// (and it then corrects the roots of the blamed ancestors).
pub async fn roots_of<F, Fut>(
    pivots: &[&BlockHeader],
    mut witness: F,
) -> Result<Vec<(u64, VerifiedRoots)>, SyncError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Option<WitnessInfo>, SyncError>>,
{
    let mut out: Vec<(u64, VerifiedRoots)> = Vec::new();
    for p in pivots {
        if p.blame == 0 {
            if let Some(epoch) = p.height.checked_sub(DEFERRED_STATE_EPOCHS) {
                out.retain(|(e, _)| *e != epoch);
                out.push((
                    epoch,
                    VerifiedRoots {
                        state_root: p.deferred_state_root,
                        receipts_root: p.deferred_receipts_root,
                        logs_bloom_hash: p.deferred_logs_bloom_hash,
                    },
                ));
            }
            continue;
        }
        let w = witness(p.height).await?.ok_or_else(|| {
            SyncError::Invalid(format!("no witness for blamed height {}", p.height))
        })?;
        let n = p.blame as usize + 1;
        let ok = w.height == p.height
            && w.state_root_hashes.len() == n
            && w.receipt_hashes.len() == n
            && w.bloom_hashes.len() == n
            && fold(&w.state_root_hashes) == Some(p.deferred_state_root)
            && fold(&w.receipt_hashes) == Some(p.deferred_receipts_root)
            && fold(&w.bloom_hashes) == Some(p.deferred_logs_bloom_hash);
        if !ok {
            return Err(SyncError::Invalid(format!(
                "witness for height {} fails the fold check",
                p.height
            )));
        }
        for i in 0..n {
            let Some(epoch) = p.height.checked_sub(i as u64 + DEFERRED_STATE_EPOCHS) else {
                break;
            };
            let roots = VerifiedRoots {
                state_root: w.state_root_hashes[i],
                receipts_root: w.receipt_hashes[i],
                logs_bloom_hash: w.bloom_hashes[i],
            };
            // A later witness corrects what an earlier (blamed) header said.
            out.retain(|(e, _)| *e != epoch);
            out.push((epoch, roots));
        }
    }
    out.sort_by_key(|(e, _)| *e);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(height: u64, blame: u32, roots: [H256; 3]) -> BlockHeader {
        let mut s = rlp::RlpStream::new_list(14);
        s.append(&H256::repeat_byte(1))
            .append(&height)
            .append(&1_700_000_000u64);
        s.append(&cfxlight_primitives::H160::repeat_byte(0x10));
        s.append(&H256::repeat_byte(2));
        for r in &roots {
            s.append(r);
        }
        s.append(&blame)
            .append(&cfxlight_primitives::U256::from(4))
            .append(&0u8);
        s.append(&cfxlight_primitives::U256::from(30_000_000u64));
        s.append_list::<H256, H256>(&[]);
        s.append(&cfxlight_primitives::U256::zero());
        BlockHeader::decode(&s.out()).unwrap()
    }

    fn witness(height: u64, roots: &[H256]) -> WitnessInfo {
        WitnessInfo {
            height,
            state_root_hashes: roots.to_vec(),
            receipt_hashes: roots.to_vec(),
            bloom_hashes: roots.to_vec(),
        }
    }

    #[tokio::test]
    async fn a_blamed_header_needs_a_witness_that_folds_to_its_roots() {
        let r: Vec<H256> = (10..14u8).map(H256::repeat_byte).collect();
        let plain = header(20, 0, [r[3]; 3]);
        let folded = fold(&r[..2]).unwrap();
        let blamed = header(21, 1, [folded; 3]);
        // An honest witness: epoch 16 gets r0, and epoch 15 is corrected to r1.
        let good = roots_of(&[&plain, &blamed], |h| {
            let w = witness(h, &r[..2]);
            async move { Ok(Some(w)) }
        })
        .await
        .unwrap();
        assert_eq!(
            good.iter()
                .map(|(e, v)| (*e, v.state_root))
                .collect::<Vec<_>>(),
            vec![(15, r[1]), (16, r[0])]
        );
        // A lying witness (one root altered) fails the fold check; nothing is returned.
        let lie = roots_of(&[&plain, &blamed], |h| {
            let w = witness(h, &[r[0], r[2]]);
            async move { Ok(Some(w)) }
        })
        .await;
        assert!(matches!(lie, Err(SyncError::Invalid(m)) if m.contains("fold check")));
        // A witness of the wrong length, or none at all, is refused too.
        let short = roots_of(&[&blamed], |h| {
            let w = witness(h, &r[..1]);
            async move { Ok(Some(w)) }
        })
        .await;
        assert!(short.is_err());
        let none = roots_of(&[&blamed], |_| async { Ok(None) }).await;
        assert!(none.is_err());
    }

    #[test]
    fn fold_matches_conflux_blame_root() {
        let r: Vec<H256> = (1..=3u8).map(H256::repeat_byte).collect();
        let inner = keccak256([r[1].as_bytes(), r[2].as_bytes()].concat());
        let expected = keccak256([r[0].as_bytes(), inner.as_bytes()].concat());
        assert_eq!(fold(&r), Some(expected));
        assert_eq!(fold(&r[..1]), Some(r[0]));
        assert_eq!(fold(&[]), None);
    }
}
