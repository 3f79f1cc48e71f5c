//! Header proof-of-work checks, shared by everything that accepts a header.
//!
//! [`PowVerifier`] follows the chain spec's [`PowMode`]: the keccak test PoW of dev chains,
//! or Octopus on mainnet and testnet (`cfxlight_primitives::octopus`). Octopus needs the
//! cache of the header's stage (2^19 heights; 16 MiB + 64 KiB per stage, about a second to
//! build). The verifier keeps the most recently used one in memory by default (at today's
//! mainnet stage 267 one cache is 34 MB; two would put a node at about 70 MB, past the
//! 64 MB aim), builds a missing one on demand, at most once at a time per stage, and keeps
//! a copy on disk so a restart, or a switch back to the neighbouring stage at a boundary,
//! loads it (≈ 0.07 s) instead of building (≈ 1 s).
//! Either way, like conflux-rust's `verify_pow`, difficulty 0 is refused and the pow hash
//! must be below `2^256 / difficulty`; the result is the header's quality (`powQuality`).
//!
//! **Blocking.** [`PowVerifier::verify`] is synchronous and may spend a second building a
//! cache; from async code call [`PowVerifier::verify_async`], which runs it under
//! `tokio::task::spawn_blocking`.
//!
//! **Disk.** `<dir>/octopus/stage-<N>.bin`: a 60-byte header (magic `CFXOCTOP`, format
//! version u32, stage u64, content length u64, keccak-256 of the content; integers
//! little-endian) then the cache bytes. Files are written to a temporary name, fsynced and
//! renamed (mode 0644). A file that fails any check is rebuilt and replaced, never used;
//! disk errors only cost a rebuild, never a verification. After a build, files of stages
//! no longer in memory are removed, so headers claiming many stages cannot fill the disk.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Instant,
};

use cfxlight_chainspec::PowMode;
use cfxlight_primitives::{
    header::{test_pow_hash, BlockHeader},
    keccak256,
    octopus::{self, OctopusCache, OctopusError},
    H256, U256,
};
use thiserror::Error;

use crate::log;

/// Stage caches kept in memory by [`PowVerifier::new`] (the disk keeps the neighbours).
pub const DEFAULT_MAX_CACHES: usize = 1;

const MAGIC: [u8; 8] = *b"CFXOCTOP";
const FORMAT_VERSION: u32 = 1;
const FILE_HEADER_LEN: usize = 8 + 4 + 8 + 8 + 32;

/// Why a header's proof of work was not accepted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PowError {
    /// The header fails the check (bad work, difficulty 0, unsupported height).
    #[error("invalid proof of work: {0}")]
    Invalid(#[from] OctopusError),
    /// The blocking task running the check failed (panicked or was cancelled).
    #[error("proof-of-work task failed: {0}")]
    Worker(String),
}

/// Checks headers' proof of work; cheap to clone, one per node.
#[derive(Clone)]
pub struct PowVerifier {
    inner: Arc<Inner>,
}

enum Inner {
    Test,
    Octopus(Caches),
}

impl std::fmt::Debug for PowVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Inner::Test => f.write_str("PowVerifier(test)"),
            Inner::Octopus(c) => f
                .debug_struct("PowVerifier")
                .field("dir", &c.dir)
                .field("stages", &c.stages())
                .finish(),
        }
    }
}

impl PowVerifier {
    /// A verifier for `mode`, keeping Octopus caches under `<cache_dir>/octopus/` (none on
    /// disk if `None`) and at most [`DEFAULT_MAX_CACHES`] in memory.
    pub fn new(mode: PowMode, cache_dir: Option<PathBuf>) -> PowVerifier {
        PowVerifier::with_max_caches(mode, cache_dir, DEFAULT_MAX_CACHES)
    }

    /// Like [`PowVerifier::new`], keeping at most `max_caches` (at least 1) caches in
    /// memory: at mainnet's stage 267 one cache is 33 MiB, so two are 65 MiB.
    pub fn with_max_caches(
        mode: PowMode,
        cache_dir: Option<PathBuf>,
        max_caches: usize,
    ) -> PowVerifier {
        let inner = match mode {
            PowMode::Test => Inner::Test,
            PowMode::Octopus => Inner::Octopus(Caches {
                dir: cache_dir.map(|d| d.join("octopus")),
                max: max_caches.max(1),
                slots: Mutex::new(Vec::new()),
                built: AtomicU64::new(0),
                loaded: AtomicU64::new(0),
            }),
        };
        PowVerifier {
            inner: Arc::new(inner),
        }
    }

    /// The PoW this verifier checks.
    pub fn mode(&self) -> PowMode {
        match &*self.inner {
            Inner::Test => PowMode::Test,
            Inner::Octopus(_) => PowMode::Octopus,
        }
    }

    /// Checks a header's proof of work and returns its quality (`powQuality`). May block
    /// for a cache build (about a second); async callers use [`PowVerifier::verify_async`].
    pub fn verify(&self, header: &BlockHeader) -> Result<U256, PowError> {
        match &*self.inner {
            Inner::Test => {
                let pow_hash = test_pow_hash(&header.problem_hash(), &header.nonce);
                Ok(octopus::check_pow_hash(
                    &pow_hash,
                    &header.nonce,
                    &header.difficulty,
                )?)
            }
            Inner::Octopus(caches) => {
                // Refused before a cache is built for it.
                if header.difficulty.is_zero() {
                    return Err(OctopusError::ZeroDifficulty.into());
                }
                let cache = caches.get(octopus::stage(header.height))?;
                Ok(octopus::verify(&cache, header)?)
            }
        }
    }

    /// [`PowVerifier::verify`] on tokio's blocking pool.
    pub async fn verify_async(&self, header: BlockHeader) -> Result<U256, PowError> {
        let verifier = self.clone();
        tokio::task::spawn_blocking(move || verifier.verify(&header))
            .await
            .map_err(|e| PowError::Worker(e.to_string()))?
    }

    /// Makes sure the cache for `height`'s stage is in memory (loading or building it),
    /// e.g. at start-up for the stage of the trusted checkpoint. Blocking, like `verify`.
    pub fn warm(&self, height: u64) -> Result<(), PowError> {
        match &*self.inner {
            Inner::Test => Ok(()),
            Inner::Octopus(caches) => caches.get(octopus::stage(height)).map(drop),
        }
    }

    /// Caches built (not loaded from disk) by this verifier so far.
    pub fn built_caches(&self) -> u64 {
        self.caches().map_or(0, |c| c.built.load(Ordering::Relaxed))
    }

    /// Caches loaded from disk by this verifier so far.
    pub fn loaded_caches(&self) -> u64 {
        self.caches()
            .map_or(0, |c| c.loaded.load(Ordering::Relaxed))
    }

    /// Stages whose cache is held in memory now, least recently used first.
    pub fn cached_stages(&self) -> Vec<u64> {
        self.caches().map_or_else(Vec::new, Caches::stages)
    }

    fn caches(&self) -> Option<&Caches> {
        match &*self.inner {
            Inner::Test => None,
            Inner::Octopus(c) => Some(c),
        }
    }
}

/// The in-memory stage caches, least recently used first. Each stage has its own lock, so
/// a build blocks only the callers that need that stage, and a stage is built at most
/// once at a time.
struct Caches {
    dir: Option<PathBuf>,
    max: usize,
    slots: Mutex<Vec<(u64, Arc<Slot>)>>,
    built: AtomicU64,
    loaded: AtomicU64,
}

#[derive(Default)]
struct Slot {
    cache: Mutex<Option<Arc<OctopusCache>>>,
}

impl Slot {
    /// Holds a cache and nobody is loading or building it now. Never waits: a slot under
    /// construction reads as not built.
    fn is_built(&self) -> bool {
        matches!(self.cache.try_lock(), Ok(held) if held.is_some())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Caches {
    fn stages(&self) -> Vec<u64> {
        lock(&self.slots)
            .iter()
            .filter(|(_, slot)| slot.is_built())
            .map(|(stage, _)| *stage)
            .collect()
    }

    fn get(&self, stage: u64) -> Result<Arc<OctopusCache>, PowError> {
        // Refuse unsupported stages before taking a slot for them.
        octopus::cache_size(stage)?;
        let slot = {
            let mut slots = lock(&self.slots);
            let slot = match slots.iter().position(|(s, _)| *s == stage) {
                Some(i) => slots.remove(i).1,
                None => Arc::default(),
            };
            slots.push((stage, slot.clone()));
            slot
        };
        // Make room before a load or build, not after: the caches beyond `max` are freed
        // first, so a stage switch never holds one cache more than configured (at today's
        // mainnet stage that is 34 MB at the peak).
        self.trim();
        let (cache, built) = {
            let mut held = lock(&slot.cache);
            match &*held {
                Some(cache) => (cache.clone(), false),
                None => {
                    let (cache, built) = self.load_or_build(stage)?;
                    let cache = Arc::new(cache);
                    *held = Some(cache.clone());
                    (cache, built)
                }
            }
        };
        self.trim();
        if built {
            self.prune();
        }
        Ok(cache)
    }

    /// Drops the least recently used caches beyond `max`. Only built slots go: one being
    /// loaded or built (or about to be) stays, so a stage is never built twice at once.
    /// A dropped cache is freed once in-flight verifications are done with it.
    fn trim(&self) {
        let mut slots = lock(&self.slots);
        let mut excess = slots.len().saturating_sub(self.max);
        slots.retain(|(_, slot)| {
            if excess > 0 && slot.is_built() {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }

    /// Removes stored caches of stages neither held (nor being built) nor next to one held,
    /// so the directory holds at most three files per held stage however many stages
    /// headers have claimed, and a sync crossing a stage boundary loads rather than builds.
    fn prune(&self) {
        let Some(dir) = &self.dir else { return };
        let keep: Vec<u64> = lock(&self.slots)
            .iter()
            .flat_map(|(s, _)| [s.saturating_sub(1), *s, s.saturating_add(1)])
            .collect();
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let stage = name
                .to_str()
                .and_then(|n| n.strip_prefix("stage-")?.strip_suffix(".bin")?.parse().ok());
            if stage.is_some_and(|s: u64| !keep.contains(&s)) {
                if let Err(e) = fs::remove_file(entry.path()) {
                    log::warn(&format!("could not remove {}: {e}", entry.path().display()));
                }
            }
        }
    }

    /// The stage's cache from disk, or built (and then stored); `true` if built.
    fn load_or_build(&self, stage: u64) -> Result<(OctopusCache, bool), PowError> {
        let path = self.dir.as_ref().map(|d| stage_path(d, stage));
        if let Some(path) = &path {
            let started = Instant::now();
            match load(path, stage) {
                Ok(Some(cache)) => {
                    self.loaded.fetch_add(1, Ordering::Relaxed);
                    log::info(&format!(
                        "loaded the Octopus cache of stage {stage} from {} in {:.2} s",
                        path.display(),
                        started.elapsed().as_secs_f64()
                    ));
                    return Ok((cache, false));
                }
                Ok(None) => {}
                Err(e) => log::warn(&format!(
                    "Octopus cache {} is unusable ({e}); rebuilding it",
                    path.display()
                )),
            }
        }
        let started = Instant::now();
        let cache = OctopusCache::build(stage)?;
        self.built.fetch_add(1, Ordering::Relaxed);
        log::info(&format!(
            "built the Octopus cache of stage {stage} ({:.1} MiB) in {:.2} s",
            cache.as_bytes().len() as f64 / f64::from(1 << 20),
            started.elapsed().as_secs_f64()
        ));
        if let Some(path) = &path {
            if let Err(e) = store(path, &cache) {
                log::warn(&format!(
                    "could not save the Octopus cache to {}: {e}",
                    path.display()
                ));
            }
        }
        Ok((cache, true))
    }
}

fn stage_path(dir: &Path, stage: u64) -> PathBuf {
    dir.join(format!("stage-{stage}.bin"))
}

/// Why a stored cache file was not used.
#[derive(Debug, Error)]
enum FileError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Octopus(#[from] OctopusError),
    #[error("not a cache file of stage {stage}, format {FORMAT_VERSION}, {length} bytes")]
    Header { stage: u64, length: usize },
    #[error("file is {found} bytes, expected {expected}")]
    Length { expected: u64, found: u64 },
    #[error("checksum mismatch")]
    Checksum,
}

fn file_header(stage: u64, length: usize, checksum: &H256) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&stage.to_le_bytes());
    h[20..28].copy_from_slice(&(length as u64).to_le_bytes());
    h[28..].copy_from_slice(checksum.as_bytes());
    h
}

/// The cache stored at `path`, `None` if there is no file, an error if it fails a check.
fn load(path: &Path, stage: u64) -> Result<Option<OctopusCache>, FileError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let length = octopus::cache_size(stage)?;
    let expected = (FILE_HEADER_LEN + length) as u64;
    let found = file.metadata()?.len();
    if found != expected {
        return Err(FileError::Length { expected, found });
    }
    let mut header = [0u8; FILE_HEADER_LEN];
    file.read_exact(&mut header)?;
    let mut checksum = [0u8; 32];
    checksum.copy_from_slice(&header[28..]);
    let checksum = H256(checksum);
    if header != file_header(stage, length, &checksum) {
        return Err(FileError::Header { stage, length });
    }
    // Read straight into the cache's memory: no second 16–34 MiB buffer.
    let cache = OctopusCache::load_with(stage, |buf| file.read_exact(buf).map_err(FileError::Io))?;
    if keccak256(cache.as_bytes()) != checksum {
        return Err(FileError::Checksum);
    }
    Ok(Some(cache))
}

/// Writes `cache` to `path` atomically: a temporary file in the same directory, fsynced,
/// renamed over `path`, then the directory fsynced so the rename survives a crash.
fn store(path: &Path, cache: &OctopusCache) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".stage-{}.bin.{}-{}.tmp",
        cache.stage(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        // The umask may have narrowed the mode; a cache is no secret.
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        let bytes = cache.as_bytes();
        f.write_all(&file_header(cache.stage(), bytes.len(), &keccak256(bytes)))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    let result = write();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = include_str!("../../primitives/tests/data/mainnet-testnet-headers.json");

    /// The real header at this height (of either network) and its powQuality.
    fn real(height: u64) -> (BlockHeader, U256) {
        let rows: Vec<serde_json::Value> = serde_json::from_str(DATA).unwrap();
        let row = rows
            .iter()
            .find(|r| r["height"].as_u64() == Some(height) && !r["pow_hash"].is_null())
            .unwrap();
        let rlp = row["header_rlp"].as_str().unwrap().trim_start_matches("0x");
        let header = BlockHeader::decode(&hex::decode(rlp).unwrap()).unwrap();
        (
            header,
            row["pow_quality"].as_str().unwrap().parse().unwrap(),
        )
    }

    fn stage0_file(dir: &Path) -> PathBuf {
        dir.join("octopus").join("stage-0.bin")
    }

    fn assert_file_is_valid(path: &Path) {
        let cache = load(path, 0).unwrap().unwrap();
        assert_eq!(cache.stage(), 0);
    }

    #[test]
    fn the_cache_is_built_once_stored_then_loaded_and_a_bad_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let (header, quality) = real(70); // testnet, stage 0: the smallest cache
        let file = stage0_file(dir.path());

        // First verify: built and written.
        let first = PowVerifier::new(PowMode::Octopus, Some(dir.path().into()));
        assert_eq!(first.verify(&header), Ok(quality));
        assert_eq!((first.built_caches(), first.loaded_caches()), (1, 0));
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(meta.len(), 60 + 16_776_896);
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_file_is_valid(&file);
        // Only the final file is left, no temporary.
        assert_eq!(fs::read_dir(file.parent().unwrap()).unwrap().count(), 1);
        // A second header of the stage uses the cache in memory.
        let (other, other_quality) = real(65_536);
        assert_eq!(first.verify(&other), Ok(other_quality));
        assert_eq!((first.built_caches(), first.loaded_caches()), (1, 0));

        // A new verifier on the same directory loads it.
        let second = PowVerifier::new(PowMode::Octopus, Some(dir.path().into()));
        assert_eq!(second.verify(&header), Ok(quality));
        assert_eq!((second.built_caches(), second.loaded_caches()), (0, 1));

        // A flipped bit in the content, a truncated file, a wrong magic: each is rebuilt
        // (not trusted) and the rebuilt cache replaces the file.
        type Corrupt = fn(&Path);
        let corruptions: [(&str, Corrupt); 3] = [
            ("flipped bit", |p| {
                let mut bytes = fs::read(p).unwrap();
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x10;
                fs::write(p, bytes).unwrap();
            }),
            ("truncated", |p| {
                let f = OpenOptions::new().write(true).open(p).unwrap();
                f.set_len(60 + 4096).unwrap();
            }),
            ("wrong magic", |p| {
                let mut bytes = fs::read(p).unwrap();
                bytes[0] ^= 0xff;
                fs::write(p, bytes).unwrap();
            }),
        ];
        for (what, corrupt) in corruptions {
            corrupt(&file);
            assert!(load(&file, 0).is_err(), "{what}: accepted by load");
            let verifier = PowVerifier::new(PowMode::Octopus, Some(dir.path().into()));
            assert_eq!(verifier.verify(&header), Ok(quality), "{what}");
            assert_eq!(
                (verifier.built_caches(), verifier.loaded_caches()),
                (1, 0),
                "{what}"
            );
            assert_file_is_valid(&file);
        }
    }

    #[test]
    fn octopus_refuses_bad_work_zero_difficulty_and_unsupported_heights() {
        let verifier = PowVerifier::new(PowMode::Octopus, None);
        let (header, _) = real(70);

        let mut zero = header.clone();
        zero.difficulty = U256::zero();
        assert_eq!(
            verifier.verify(&zero),
            Err(PowError::Invalid(OctopusError::ZeroDifficulty))
        );
        let mut far = header.clone();
        far.height = u64::MAX;
        assert_eq!(
            verifier.verify(&far),
            Err(PowError::Invalid(OctopusError::StageTooHigh {
                stage: octopus::stage(u64::MAX)
            }))
        );
        // Neither needed a cache.
        assert_eq!(verifier.built_caches(), 0);
        assert!(verifier.cached_stages().is_empty());

        let mut bumped = header.clone();
        bumped.nonce += U256::one();
        assert!(matches!(
            verifier.verify(&bumped),
            Err(PowError::Invalid(OctopusError::InsufficientWork { .. }))
        ));
        assert_eq!(verifier.built_caches(), 1);
    }

    #[test]
    fn concurrent_callers_share_one_build_and_only_two_stages_stay_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let verifier = PowVerifier::with_max_caches(PowMode::Octopus, Some(dir.path().into()), 2);
        let stored = || {
            let mut names: Vec<String> = fs::read_dir(dir.path().join("octopus"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let (h0, q0) = real(70); // stage 0
        let (h15, q15) = real(7_939_958); // mainnet, stage 15
        let (h30, q30) = real(16_240_412); // mainnet, stage 30

        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let v = verifier.clone();
                    let h = &h0;
                    s.spawn(move || v.verify(h))
                })
                .collect();
            for handle in handles {
                assert_eq!(handle.join().unwrap(), Ok(q0));
            }
        });
        assert_eq!(verifier.built_caches(), 1);
        assert_eq!(stored(), ["stage-0.bin"]);

        assert_eq!(verifier.verify(&h15), Ok(q15));
        assert_eq!(verifier.cached_stages(), vec![0, 15]);
        assert_eq!(verifier.verify(&h30), Ok(q30));
        // Stage 0 was the least recently used: out of memory and off the disk.
        assert_eq!(verifier.cached_stages(), vec![15, 30]);
        assert_eq!(stored(), ["stage-15.bin", "stage-30.bin"]);
        assert_eq!(verifier.verify(&h15), Ok(q15));
        assert_eq!(verifier.cached_stages(), vec![30, 15]);
        assert_eq!(verifier.built_caches(), 3);
        // Stage 0 is gone from memory and disk: a rebuild, which evicts stage 30.
        assert_eq!(verifier.verify(&h0), Ok(q0));
        assert_eq!((verifier.built_caches(), verifier.loaded_caches()), (4, 0));
        assert_eq!(verifier.cached_stages(), vec![15, 0]);
        assert_eq!(stored(), ["stage-0.bin", "stage-15.bin"]);
    }

    #[test]
    fn the_default_keeps_one_stage_in_memory_and_its_neighbours_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let verifier = PowVerifier::new(PowMode::Octopus, Some(dir.path().into()));
        let (a, qa) = real(68_782_249); // testnet, stage 131
        let (b, qb) = real(69_343_785); // testnet, stage 132
        assert_eq!(verifier.verify(&a), Ok(qa));
        assert_eq!(verifier.verify(&b), Ok(qb));
        assert_eq!(verifier.cached_stages(), vec![132]);
        // Back across the boundary: the neighbour is loaded from disk, not rebuilt.
        assert_eq!(verifier.verify(&a), Ok(qa));
        assert_eq!((verifier.built_caches(), verifier.loaded_caches()), (2, 1));
    }

    #[test]
    fn a_single_cache_verifier_keeps_one_stage() {
        let verifier = PowVerifier::with_max_caches(PowMode::Octopus, None, 1);
        let (h0, q0) = real(70);
        assert_eq!(verifier.verify(&h0), Ok(q0));
        verifier.warm(7_939_958).unwrap();
        assert_eq!(verifier.cached_stages(), vec![15]);
        assert_eq!(verifier.built_caches(), 2);
    }

    #[tokio::test]
    async fn test_mode_checks_the_keccak_pow_and_refuses_difficulty_zero() {
        let verifier = PowVerifier::new(PowMode::Test, None);
        assert_eq!(verifier.mode(), PowMode::Test);
        let (mut header, _) = real(70);
        header.difficulty = U256::from(4);
        // About one nonce in four solves difficulty 4.
        let solving = (0u64..1000)
            .map(U256::from)
            .find(|n| {
                header.nonce = *n;
                header.verify_test_pow().is_ok()
            })
            .unwrap();
        header.nonce = solving;
        let quality = header.test_pow_quality();
        assert!(quality >= U256::from(4));
        assert_eq!(verifier.verify_async(header.clone()).await, Ok(quality));

        // (The difficulty is in the problem hash, so this is a new hash: one in 2^64 passes.)
        let mut hard = header.clone();
        hard.difficulty = U256::from(u64::MAX);
        assert!(matches!(
            verifier.verify(&hard),
            Err(PowError::Invalid(OctopusError::InsufficientWork { .. }))
        ));
        // header.rs's verify_test_pow accepts difficulty 0 (boundary MAX); we do not.
        let mut zero = header.clone();
        zero.difficulty = U256::zero();
        assert!(zero.verify_test_pow().is_ok());
        assert_eq!(
            verifier.verify_async(zero).await,
            Err(PowError::Invalid(OctopusError::ZeroDifficulty))
        );
        assert_eq!(verifier.built_caches(), 0);
    }
}
