//! Octopus proof of work (CIP-3), the PoW of Conflux mainnet and testnet, as a light
//! verifier: recompute a header's pow hash from one stage's cache and check it against the
//! header's difficulty.
//!
//! Octopus is an Ethash-style memory-hard hash with a polynomial front end. A verifier
//! needs the *cache* of the header's stage (2^19 heights): about 16 MiB + 64 KiB per stage,
//! about a second to build. The dataset a miner uses (4 GiB + 16 MiB per stage) is never
//! built here: the 128 dataset items one hash touches are derived from the cache on the fly.
//!
//! Facts come from conflux-rust `crates/cfxcore/pow/src/`: `shared.rs` (constants, stage,
//! cache and dataset sizes), `seed_compute.rs` (the stage seed), `cache.rs` (the cache),
//! `compute.rs` (the hash and the dataset item), `lib.rs` (lower bound, boundary,
//! quality); the check a node applies is `crates/cfxcore/core/src/verification.rs`
//! `verify_pow`. This is an independent implementation written from the algorithm's
//! description (conflux-rust is GPL-3.0; none of its code is used). Real mainnet and
//! testnet headers pin it in `tests/octopus_vectors.rs`.
//!
//! Everything here is pure (no I/O) and total: bad input is a typed error, never a panic.
//! The byte form of a cache ([`OctopusCache::as_bytes`]) is its little-endian u32 words,
//! as conflux-rust lays it out (conflux-rust itself refuses big-endian targets).

use ethereum_types::{H256, U256};
use sha3::{Digest, Keccak256, Keccak512};
use thiserror::Error;
use zerocopy::IntoBytes;

use crate::header::{pow_quality, validate_pow_hash, BlockHeader};

#[cfg(target_endian = "big")]
compile_error!("Octopus caches are little-endian u32 words; big-endian targets are not supported");

/// Heights per stage: the cache and the dataset size change every 2^19 heights.
pub const STAGE_LENGTH: u64 = 1 << 19;
/// Cache bytes at stage 0, before rounding down to a prime node count.
pub const CACHE_BYTES_INIT: u64 = 1 << 24;
/// Cache bytes added per stage.
pub const CACHE_BYTES_GROWTH: u64 = 1 << 16;
/// Dataset bytes at stage 0, before rounding down to a prime page count.
pub const DATASET_BYTES_INIT: u64 = 1 << 32;
/// Dataset bytes added per stage.
pub const DATASET_BYTES_GROWTH: u64 = 1 << 24;
/// Bytes in a cache node and a dataset item (one keccak-512 output).
pub const NODE_BYTES: usize = 64;
/// Bytes in a dataset page and in the mix (four nodes).
pub const MIX_BYTES: usize = 256;
/// RandMemoHash rounds over the cache.
pub const CACHE_ROUNDS: usize = 3;
/// Dataset pages one hash reads.
pub const ACCESSES: usize = 32;
/// Cache nodes folded into one dataset item.
pub const DATASET_PARENTS: u32 = 256;
/// The prime field of the polynomial step (`POW_MOD`).
pub const POW_MOD: u64 = 1_032_193;
/// The generator the polynomial's parameters are powers of (`POW_MOD_B`).
pub const POW_MOD_B: u64 = 11;
/// Coefficients of the polynomial (`POW_N` = 2^10).
pub const POW_N: usize = 1 << 10;
/// Nonces that share one set of coefficients (`POW_WARP_SIZE`).
pub const WARP_SIZE: u64 = 32;
/// The 32-bit FNV prime; `fnv(x, y) = x·prime ⊕ y`.
pub const FNV_PRIME: u32 = 0x0100_0193;
/// Highest stage this implementation accepts (heights below 2^31, ~80 years of mainnet at
/// today's rate; a cache of 272 MiB): keeps every index in u32 and bounds what a header's
/// claimed height can make a verifier allocate.
pub const MAX_STAGE: u64 = 4095;

const NODE_WORDS: usize = NODE_BYTES / 4;
const MIX_NODES: usize = MIX_BYTES / NODE_BYTES;
const DATA_PER_THREAD: usize = POW_N / WARP_SIZE as usize;
/// Extra words allocated so the nodes can start on a 64-byte (cache-line) boundary.
const ALIGN_SLACK_WORDS: usize = NODE_WORDS - 1;

type Node = [u32; NODE_WORDS];

/// Why an Octopus computation or check was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OctopusError {
    /// The stage is above [`MAX_STAGE`].
    #[error("Octopus stage {stage} is above the supported maximum {MAX_STAGE}")]
    StageTooHigh {
        /// The stage asked for.
        stage: u64,
    },
    /// The cache belongs to another stage than the header's height.
    #[error(
        "Octopus cache of stage {cache_stage} cannot verify height {height} (stage {height_stage})"
    )]
    WrongStage {
        /// The cache's stage.
        cache_stage: u64,
        /// The height asked for.
        height: u64,
        /// That height's stage.
        height_stage: u64,
    },
    /// Cache bytes of the wrong length for their stage.
    #[error("Octopus cache of stage {stage} must be {expected} bytes, got {found}")]
    CacheLength {
        /// The stage.
        stage: u64,
        /// `cache_size(stage)`.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// Difficulty 0 (conflux-rust `BlockError::InvalidDifficulty`).
    #[error("difficulty 0 is invalid")]
    ZeroDifficulty,
    /// The pow hash is not below the difficulty's boundary.
    #[error("pow hash {pow_hash:#x} does not meet difficulty {difficulty}")]
    InsufficientWork {
        /// The computed pow hash.
        pow_hash: H256,
        /// The header's difficulty.
        difficulty: U256,
    },
}

/// The stage of a height: `height / 2^19`.
pub fn stage(height: u64) -> u64 {
    height / STAGE_LENGTH
}

fn check_stage(stage: u64) -> Result<(), OctopusError> {
    if stage > MAX_STAGE {
        Err(OctopusError::StageTooHigh { stage })
    } else {
        Ok(())
    }
}

/// Cache bytes of a stage: from `16 MiB + 64 KiB·stage − 64` down in steps of 128 until
/// the node count (bytes / 64) is prime.
pub fn cache_size(stage: u64) -> Result<usize, OctopusError> {
    check_stage(stage)?;
    let unit = NODE_BYTES as u64;
    let mut size = CACHE_BYTES_INIT + CACHE_BYTES_GROWTH * stage - unit;
    while !is_prime(size / unit) {
        size -= 2 * unit;
    }
    // At most 272 MiB (MAX_STAGE), so it fits any 32- or 64-bit usize.
    usize::try_from(size).map_err(|_| OctopusError::StageTooHigh { stage })
}

/// Dataset pages of a stage (dataset bytes / 256): from `4 GiB + 16 MiB·stage − 256` down
/// in steps of 512 bytes until the page count is prime. Only this count is ever used.
pub fn dataset_pages(stage: u64) -> Result<u64, OctopusError> {
    check_stage(stage)?;
    let unit = MIX_BYTES as u64;
    let mut size = DATASET_BYTES_INIT + DATASET_BYTES_GROWTH * stage - unit;
    while !is_prime(size / unit) {
        size -= 2 * unit;
    }
    Ok(size / unit)
}

/// The seed of a stage: keccak-256 applied `stage` times to 32 zero bytes.
pub fn seed(stage: u64) -> Result<H256, OctopusError> {
    check_stage(stage)?;
    let mut seed = [0u8; 32];
    for _ in 0..stage {
        seed = Keccak256::digest(seed).into();
    }
    Ok(H256(seed))
}

/// The cache of one stage: the cache nodes every pow hash of that stage is derived from.
pub struct OctopusCache {
    stage: u64,
    /// The nodes as u32 words, starting at `offset` so node 0 is 64-byte aligned and no
    /// node straddles two cache lines (each dataset item reads 256 random nodes).
    words: Vec<u32>,
    offset: usize,
    nodes: usize,
    /// `dataset_pages(stage)`, kept to spare the prime search per hash.
    pages: u32,
}

impl std::fmt::Debug for OctopusCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OctopusCache")
            .field("stage", &self.stage)
            .field("bytes", &(self.nodes * NODE_BYTES))
            .finish_non_exhaustive()
    }
}

impl OctopusCache {
    /// A zero-filled cache of the stage's size, its nodes cache-line aligned.
    fn zeroed(stage: u64) -> Result<OctopusCache, OctopusError> {
        let nodes = cache_size(stage)? / NODE_BYTES;
        let pages = u32::try_from(dataset_pages(stage)?)
            .map_err(|_| OctopusError::StageTooHigh { stage })?;
        // Zeroed memory comes from the allocator as fresh zero pages; the buffer is never
        // grown, so the address (and the alignment offset) stays put.
        let words = vec![0u32; nodes * NODE_WORDS + ALIGN_SLACK_WORDS];
        let misalignment = words.as_ptr().addr() % NODE_BYTES;
        let offset = ((NODE_BYTES - misalignment) % NODE_BYTES) / 4;
        Ok(OctopusCache {
            stage,
            words,
            offset,
            nodes,
            pages,
        })
    }

    /// Builds the cache of a stage (CPU-bound: about a second in an optimised build).
    pub fn build(stage: u64) -> Result<OctopusCache, OctopusError> {
        let mut cache = OctopusCache::zeroed(stage)?;
        let seed = seed(stage)?;
        let n = cache.nodes;
        let region = cache.region_mut();

        // A keccak-512 chain from the seed …
        let mut node = keccak512_words(seed.as_bytes());
        put_node(region, 0, &node);
        for i in 1..n {
            node = keccak512_node(&node);
            put_node(region, i, &node);
        }
        // … then RandMemoHash rounds, in place: node i becomes the hash of its (already
        // updated) predecessor XOR the node its first word points at.
        for _ in 0..CACHE_ROUNDS {
            for i in 0..n {
                let prev = if i == 0 { n - 1 } else { i - 1 };
                let cur = get_node(region, i);
                let other = get_node(region, cur[0] as usize % n);
                let mut mixed = get_node(region, prev);
                for (m, o) in mixed.iter_mut().zip(other.iter()) {
                    *m ^= o;
                }
                put_node(region, i, &keccak512_node(&mixed));
            }
        }
        Ok(cache)
    }

    /// Reads a cache of `stage` through `fill`, which must fill the whole buffer it is given
    /// with the bytes of [`OctopusCache::as_bytes`]. The buffer is the cache's own memory,
    /// so loading costs no second copy. The bytes are trusted as given: check them before
    /// use (e.g. a checksum over `as_bytes()`); a wrong byte only gives wrong pow hashes.
    pub fn load_with<E: From<OctopusError>>(
        stage: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<OctopusCache, E> {
        let mut cache = OctopusCache::zeroed(stage)?;
        fill(cache.region_mut().as_mut_bytes())?;
        Ok(cache)
    }

    /// A cache from its bytes ([`OctopusCache::as_bytes`]); the length must be
    /// [`cache_size`]`(stage)`. The contents are trusted as given.
    pub fn from_bytes(stage: u64, bytes: &[u8]) -> Result<OctopusCache, OctopusError> {
        OctopusCache::load_with(stage, |buf: &mut [u8]| {
            if buf.len() != bytes.len() {
                return Err(OctopusError::CacheLength {
                    stage,
                    expected: buf.len(),
                    found: bytes.len(),
                });
            }
            buf.copy_from_slice(bytes);
            Ok(())
        })
    }

    /// The stage this cache verifies.
    pub fn stage(&self) -> u64 {
        self.stage
    }

    /// The cache as bytes: its nodes' u32 words, little-endian, `cache_size(stage)` long.
    pub fn as_bytes(&self) -> &[u8] {
        self.region().as_bytes()
    }

    fn region(&self) -> &[u32] {
        let end = self.offset + self.nodes * NODE_WORDS;
        self.words.get(self.offset..end).unwrap_or(&[])
    }

    fn region_mut(&mut self) -> &mut [u32] {
        let end = self.offset + self.nodes * NODE_WORDS;
        self.words.get_mut(self.offset..end).unwrap_or(&mut [])
    }

    /// The Octopus pow hash of a problem hash and nonce at a height of this cache's stage
    /// (conflux-rust `PowComputer::compute`; only the nonce's low 64 bits take part).
    pub fn compute(
        &self,
        problem_hash: &H256,
        nonce: &U256,
        height: u64,
    ) -> Result<H256, OctopusError> {
        let height_stage = stage(height);
        if height_stage != self.stage {
            return Err(OctopusError::WrongStage {
                cache_stage: self.stage,
                height,
                height_stage,
            });
        }
        Ok(self.hash(problem_hash, nonce.low_u64()))
    }

    /// `hash_compute` of conflux-rust `compute.rs`, step by step.
    fn hash(&self, problem_hash: &H256, nonce: u64) -> H256 {
        let h = problem_hash.as_fixed_bytes();
        let v = [0, 1, 2, 3].map(|i| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&h[8 * i..8 * i + 8]);
            u64::from_le_bytes(word)
        });

        // The polynomial's parameters: powers of 11 picked by the problem hash, with c
        // moved on until the quadratic's discriminant is non-zero.
        let a = remap(v[0]);
        let b = remap(v[1]);
        let w = remap(v[3]);
        let mut c_seed = v[2];
        let c = loop {
            let c = remap(c_seed);
            if b * b % POW_MOD != 4 * a * c % POW_MOD {
                break c;
            }
            c_seed = c_seed.wrapping_add(1);
        };

        // 1,024 coefficients from 32 SipHash lanes, one per nonce of the warp.
        let mut coeffs = [0u32; POW_N];
        let warp_start = nonce - nonce % WARP_SIZE;
        for lane in 0..WARP_SIZE as usize {
            let mut sip = SipState(v);
            sip.absorb(warp_start + lane as u64);
            for j in 0..DATA_PER_THREAD {
                sip.round();
                coeffs[j * WARP_SIZE as usize + lane] =
                    ((sip.xor_lanes() & 0xffff_ffff) % POW_MOD) as u32;
            }
        }

        // Evaluate the polynomial at x_t = a·w^(2e) + b·w^e + c, e = nonce mod 32 + 32t,
        // all 32 points at once (independent Horner chains overlap in the CPU).
        let offset = nonce % WARP_SIZE;
        let w2 = w * w % POW_MOD;
        let step = pow_mod(w, WARP_SIZE);
        let step2 = pow_mod(w2, WARP_SIZE);
        let (mut wpow, mut w2pow) = (pow_mod(w, offset), pow_mod(w2, offset));
        let mut points = [0u64; DATA_PER_THREAD];
        for x in points.iter_mut() {
            *x = (a * w2pow + b * wpow + c) % POW_MOD;
            wpow = wpow * step % POW_MOD;
            w2pow = w2pow * step2 % POW_MOD;
        }
        let mut values = [0u64; DATA_PER_THREAD];
        for &coeff in coeffs.iter().rev() {
            for (value, x) in values.iter_mut().zip(points.iter()) {
                *value = (*value * x + u64::from(coeff)) % POW_MOD;
            }
        }
        let folded = values.iter().fold(0u64, |acc, &value| {
            acc.wrapping_mul(u64::from(FNV_PRIME)) ^ value
        });

        // The mix: keccak-512(problem hash ‖ folded) four times over, then 32 dataset pages.
        let mut seed_input = [0u8; 40];
        seed_input[..32].copy_from_slice(h);
        seed_input[32..].copy_from_slice(&folded.to_le_bytes());
        let seed_bytes: [u8; NODE_BYTES] = Keccak512::digest(seed_input).into();
        let seed_node = words_of(&seed_bytes);
        let mut mix = [seed_node; MIX_NODES];
        let region = self.region();
        for (i, &value) in values.iter().enumerate().take(ACCESSES) {
            let i = i as u32;
            let mix_word = mix[(i as usize / NODE_WORDS) % MIX_NODES][i as usize % NODE_WORDS];
            let page = fnv(seed_node[0] ^ i ^ value as u32, mix_word) % self.pages;
            let items = dataset_items(region, self.nodes, page.wrapping_mul(MIX_NODES as u32));
            for (node, item) in mix.iter_mut().zip(items.iter()) {
                for (m, x) in node.iter_mut().zip(item.iter()) {
                    *m = fnv(*m, *x);
                }
            }
        }

        // Compress: each quad of mix words FNV-reduces to one word; word i of the result
        // joins quad i and quad 8 + i.
        let mut quads = [0u32; 4 * MIX_NODES];
        for (quad, words) in quads
            .iter_mut()
            .zip(mix.iter().flat_map(|node| node.chunks_exact(4)))
        {
            *quad = words.iter().copied().reduce(fnv).unwrap_or(0);
        }
        let (lo, hi) = quads.split_at(quads.len() / 2);
        let mut out = Keccak256::new();
        out.update(seed_bytes);
        for (l, h) in lo.iter().zip(hi.iter()) {
            out.update(fnv(*l, *h).to_le_bytes());
        }
        H256(out.finalize().into())
    }
}

/// The boundary check conflux-rust's `verify_pow` applies to a pow hash (of Octopus or of
/// the test PoW): difficulty 0 is refused, `(pow_hash − lower_bound) mod 2^256` must be
/// below `⌊2^256 / difficulty⌋`. Returns the quality (the RPC's `powQuality`).
pub fn check_pow_hash(
    pow_hash: &H256,
    nonce: &U256,
    difficulty: &U256,
) -> Result<U256, OctopusError> {
    if difficulty.is_zero() {
        return Err(OctopusError::ZeroDifficulty);
    }
    if !validate_pow_hash(pow_hash, nonce, difficulty) {
        return Err(OctopusError::InsufficientWork {
            pow_hash: *pow_hash,
            difficulty: *difficulty,
        });
    }
    Ok(pow_quality(pow_hash, nonce))
}

/// Verifies a header's Octopus PoW with its stage's cache; returns its quality
/// (`powQuality`, at least the difficulty).
pub fn verify(cache: &OctopusCache, header: &BlockHeader) -> Result<U256, OctopusError> {
    // Refused before the hash is spent on it.
    if header.difficulty.is_zero() {
        return Err(OctopusError::ZeroDifficulty);
    }
    let pow_hash = cache.compute(&header.problem_hash(), &header.nonce, header.height)?;
    check_pow_hash(&pow_hash, &header.nonce, &header.difficulty)
}

/// Four consecutive dataset items (one page) from the cache: each starts from a cache
/// node, folds in 256 parents picked by its own words, and is hashed at both ends. The four
/// parent chains are independent, so they are walked side by side: their random cache
/// reads overlap instead of waiting on each other.
fn dataset_items(region: &[u32], nodes: usize, first: u32) -> [Node; MIX_NODES] {
    let n = nodes as u32;
    let mut items = [[0u32; NODE_WORDS]; MIX_NODES];
    for (k, item) in items.iter_mut().enumerate() {
        let index = first.wrapping_add(k as u32);
        let mut start = get_node(region, (index % n) as usize);
        start[0] ^= index;
        *item = keccak512_node(&start);
    }
    for round in 0..DATASET_PARENTS {
        for (k, item) in items.iter_mut().enumerate() {
            let index = first.wrapping_add(k as u32);
            let parent = fnv(index ^ round, item[round as usize % NODE_WORDS]) % n;
            let parent = node_ref(region, parent as usize);
            for (x, p) in item.iter_mut().zip(parent.iter()) {
                *x = fnv(*x, *p);
            }
        }
    }
    items.map(|item| keccak512_node(&item))
}

const ZERO_NODE: Node = [0; NODE_WORDS];

/// Node `i` of a cache region (indices are always reduced mod the node count, so the
/// fallback is never taken; it only keeps the code free of panicking paths).
#[inline(always)]
fn node_ref(region: &[u32], i: usize) -> &Node {
    region
        .get(i * NODE_WORDS..)
        .and_then(|rest| rest.first_chunk::<NODE_WORDS>())
        .unwrap_or(&ZERO_NODE)
}

#[inline(always)]
fn get_node(region: &[u32], i: usize) -> Node {
    *node_ref(region, i)
}

#[inline(always)]
fn put_node(region: &mut [u32], i: usize, node: &Node) {
    if let Some(dst) = region
        .get_mut(i * NODE_WORDS..)
        .and_then(|rest| rest.first_chunk_mut::<NODE_WORDS>())
    {
        *dst = *node;
    }
}

#[inline(always)]
fn fnv(x: u32, y: u32) -> u32 {
    x.wrapping_mul(FNV_PRIME) ^ y
}

fn words_of(bytes: &[u8; NODE_BYTES]) -> Node {
    let mut node = [0u32; NODE_WORDS];
    for (w, chunk) in node.iter_mut().zip(bytes.chunks_exact(4)) {
        let mut b = [0u8; 4];
        b.copy_from_slice(chunk);
        *w = u32::from_le_bytes(b);
    }
    node
}

fn keccak512_words(input: &[u8]) -> Node {
    words_of(&Keccak512::digest(input).into())
}

fn keccak512_node(node: &Node) -> Node {
    keccak512_words(node.as_bytes())
}

/// `x ↦ 11^e mod p`, `e = x mod (p − 2) + 1` divided by its common factors with `p − 1`
/// until coprime (so the result is a generator of the same order as 11).
fn remap(x: u64) -> u64 {
    let mut e = x % (POW_MOD - 2) + 1;
    loop {
        let g = gcd(e, POW_MOD - 1);
        if g == 1 {
            break;
        }
        e /= g;
    }
    pow_mod(POW_MOD_B, e)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `base^exp mod POW_MOD` (operands below 2^20, so products fit u64).
fn pow_mod(mut base: u64, mut exp: u64) -> u64 {
    let mut result = 1u64;
    base %= POW_MOD;
    while exp > 0 {
        if exp & 1 == 1 {
            result = result * base % POW_MOD;
        }
        base = base * base % POW_MOD;
        exp >>= 1;
    }
    result
}

/// A SipHash state keyed directly with the problem hash's four words (no SipHash key
/// schedule), and its rounds.
struct SipState([u64; 4]);

impl SipState {
    #[inline(always)]
    fn round(&mut self) {
        let [v0, v1, v2, v3] = &mut self.0;
        *v0 = v0.wrapping_add(*v1);
        *v2 = v2.wrapping_add(*v3);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v1);
        *v0 = v0.wrapping_add(*v3);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.rotate_left(32);
    }

    /// One message word, two compression and four finalisation rounds (SipHash-2-4).
    fn absorb(&mut self, m: u64) {
        self.0[3] ^= m;
        self.round();
        self.round();
        self.0[0] ^= m;
        self.0[2] ^= 0xff;
        for _ in 0..4 {
            self.round();
        }
    }

    fn xor_lanes(&self) -> u64 {
        self.0[0] ^ self.0[1] ^ self.0[2] ^ self.0[3]
    }
}

/// Deterministic Miller–Rabin for u64 (these twelve bases decide every n < 3.3·10^24).
fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    let mul = |a: u64, b: u64| ((u128::from(a) * u128::from(b)) % u128::from(n)) as u64;
    'bases: for a in BASES {
        let (mut x, mut base, mut e) = (1u64, a, d);
        while e > 0 {
            if e & 1 == 1 {
                x = mul(x, base);
            }
            base = mul(base, base);
            e >>= 1;
        }
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul(x, x);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial_division(n: u64) -> bool {
        n >= 2
            && (2..)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
    }

    #[test]
    fn miller_rabin_agrees_with_trial_division() {
        for n in 0..20_000 {
            assert_eq!(is_prime(n), trial_division(n), "{n}");
        }
        // Around the sizes actually searched (cache nodes, dataset pages).
        for n in (262_100..262_200).chain(16_777_150..16_777_250) {
            assert_eq!(is_prime(n), trial_division(n), "{n}");
        }
        // Strong pseudoprimes to small bases, and a large prime.
        assert!(!is_prime(3_215_031_751));
        assert!(!is_prime(341_550_071_728_321));
        assert!(is_prime(18_446_744_073_709_551_557));
    }

    #[test]
    fn remap_is_a_power_of_eleven_with_a_coprime_exponent() {
        // x = 0: e = 1, coprime, so 11.
        assert_eq!(remap(0), 11);
        // x = 1: e = 2 shares 2 with p − 1; 2/2 = 1, so 11 again.
        assert_eq!(remap(1), 11);
        // x = 4: e = 5, gcd(5, 1032192 = 2^14·3^2·7) = 1: 11^5.
        assert_eq!(remap(4), 161_051);
        assert_eq!(pow_mod(11, POW_MOD - 1), 1, "Fermat");
    }

    #[test]
    fn sip_round_is_standard_siphash() {
        // SipHash-2-4 of the empty message with key 00..0f (the reference test vector
        // 0x726fdb47dd0e0e31), built from our round: standard key schedule, the length
        // word 0 absorbed with 2 rounds, then 0xff and 4 rounds.
        let k0 = 0x0706_0504_0302_0100u64;
        let k1 = 0x0f0e_0d0c_0b0a_0908u64;
        let mut s = SipState([
            k0 ^ 0x736f_6d65_7073_6575,
            k1 ^ 0x646f_7261_6e64_6f6d,
            k0 ^ 0x6c79_6765_6e65_7261,
            k1 ^ 0x7465_6462_7974_6573,
        ]);
        s.absorb(0);
        assert_eq!(s.xor_lanes(), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    fn stage_limit_is_a_typed_error() {
        let too_high = MAX_STAGE + 1;
        let err = OctopusError::StageTooHigh { stage: too_high };
        assert_eq!(cache_size(too_high), Err(err.clone()));
        assert_eq!(dataset_pages(too_high), Err(err.clone()));
        assert_eq!(seed(too_high), Err(err.clone()));
        assert_eq!(OctopusCache::build(too_high).err(), Some(err.clone()));
        assert_eq!(
            OctopusCache::from_bytes(u64::MAX, &[]).err(),
            Some(OctopusError::StageTooHigh { stage: u64::MAX })
        );
        assert!(cache_size(MAX_STAGE).is_ok());
        assert_eq!(stage(u64::MAX), u64::MAX >> 19);
    }
}
