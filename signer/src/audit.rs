//! The append-only, hash-chained audit log of every signing request.
//!
//! One JSON object per line (JSON Lines). Each line carries `seq` (0, 1, 2, …) and `prev`,
//! the keccak-256 of the previous line's exact bytes (without its newline; all zeros for
//! the first line), then the request summary, the decision and the signature:
//!
//! ```text
//! {"seq":0,"prev":"0x00…00","time":"2026-11-25T21:56:00Z","method":"sign_transaction","chain_id":2029,
//!  "from":"0x1…","to":"0x1…","value":"0xde0b6b3a7640000","nonce":"0x0","tx_type":2,
//!  "digest":"0x…","tx_hash":"0x…","decision":"allowed","signature":"0x…(65 bytes r‖s‖v)"}
//! ```
//!
//! No secrets, PINs or passwords are ever written; a personal message is recorded by its
//! length and digest only. Every append is `fsync`ed before the signature is released (a
//! request that cannot be logged is refused), then `<log>.head` is replaced atomically
//! with the line count and the last line's hash, so a cut-off tail is detected too.
//!
//! [`verify_audit`] names the first line that is edited, reordered, deleted or incomplete.
//! What this does and does not prove: anyone who can write the file can rebuild the whole
//! chain; the chain detects edits by anyone who does not, and accidents. To anchor it,
//! copy the head hash ([`AuditSummary::last_hash`]) somewhere the signer host cannot write.

use std::{
    fs::{self, File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use cfxlight_primitives::{keccak256, H256};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Why an audit log failed verification or could not be written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Line `line` (1-based) is not what the chain says it should be.
    #[error("audit log {}: line {line}: {reason}", .path.display())]
    Broken {
        /// The log.
        path: PathBuf,
        /// 1-based line number of the first bad line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The head file disagrees with the log: lines were cut off the end, or it was edited.
    #[error("audit log {}: {reason}", .path.display())]
    HeadMismatch {
        /// The log.
        path: PathBuf,
        /// What disagrees.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("audit log {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    /// Number of lines.
    pub lines: u64,
    /// keccak of the last line (zero for an empty log): the value to anchor elsewhere.
    pub last_hash: H256,
    /// Whether a head file was present and matched (else a cut-off tail is undetectable).
    pub head_checked: bool,
}

/// The decision recorded for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Allowed by policy and signed.
    Allowed,
    /// Refused by a policy rule (see `rule`).
    Refused,
    /// Allowed by policy but the backend failed (see `error`).
    Failed,
}

/// One request's summary, as written after `seq` and `prev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time of the decision.
    pub time: String,
    /// `sign_transaction`, `sign_message`, `sign_typed_data` or `sign_hash`.
    pub method: String,
    /// The transaction's chain id (transactions), else the signer's.
    pub chain_id: u32,
    /// The signing account (0x-hex).
    pub from: String,
    /// Recipient (0x-hex), for transactions; absent for deployments and non-transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Value in drip (0x-hex), for transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The transaction's maximum fee in drip (0x-hex): gas × price plus storage collateral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee: Option<String>,
    /// Nonce (0x-hex), for transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Transaction type 0/1/2, for transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_type: Option<u8>,
    /// Message length in bytes, for personal messages (the text itself is not logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_len: Option<usize>,
    /// CIP-23 primary type, for typed data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_type: Option<String>,
    /// The digest signed (the transaction's signing hash, the message or typed-data hash).
    pub digest: String,
    /// The signed transaction's hash, once signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// Allowed, refused or failed.
    pub decision: Decision,
    /// The rule that refused the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why it was refused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The signature, `0x` r‖s‖v (65 bytes), when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    seq: u64,
    prev: H256,
    #[serde(flatten)]
    record: &'a AuditRecord,
}

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    lines: u64,
    last: H256,
}

/// The head file beside a log: `<log>.head`.
pub fn head_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

#[derive(Debug)]
struct State {
    file: File,
    seq: u64,
    prev: H256,
}

/// An open audit log, appended to under a lock.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<State>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl AuditLog {
    /// Opens (or creates) a log; an existing one must verify first: nothing is appended
    /// to a broken chain.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let (seq, prev) = if path.exists() {
            let s = verify_audit(path)?;
            (s.lines, s.last_hash)
        } else {
            (0, H256::zero())
        };
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path).map_err(io(path))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            state: Mutex::new(State { file, seq, prev }),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record, fsyncs it, updates the head; returns the new line's hash.
    pub fn append(&self, record: &AuditRecord) -> Result<H256, AuditError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let line = serde_json::to_string(&Line {
            seq: st.seq,
            prev: st.prev,
            record,
        })
        .map_err(|e| AuditError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        // One write call so a concurrent reader never sees half a line from us.
        st.file.write_all(&bytes).map_err(io(&self.path))?;
        st.file.sync_data().map_err(io(&self.path))?;
        let hash = keccak256(line.as_bytes());
        st.seq += 1;
        st.prev = hash;
        write_head(
            &self.path,
            &Head {
                lines: st.seq,
                last: hash,
            },
        )?;
        Ok(hash)
    }
}

fn write_head(path: &Path, head: &Head) -> Result<(), AuditError> {
    let hp = head_path(path);
    let mut tmp = hp.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string(head).unwrap_or_default();
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, &hp).map_err(io(&hp))?;
    Ok(())
}

/// Verifies a log's hash chain (and its head file, if present).
///
/// The first bad line is named: a line whose `seq` is out of order (reordered or deleted
/// lines), a line whose content changed (the next line's `prev` no longer matches it, or
/// the head's hash for the last line), a line that is not JSON or lacks its newline.
pub fn verify_audit(path: &Path) -> Result<AuditSummary, AuditError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let broken = |line: u64, reason: String| AuditError::Broken {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut prev = H256::zero();
    let mut n: u64 = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if read == 0 {
            break;
        }
        let lineno = n + 1;
        if buf.last() != Some(&b'\n') {
            return Err(broken(
                lineno,
                "incomplete last line (no newline): cut off or being written".into(),
            ));
        }
        let content = &buf[..buf.len() - 1];
        let v: Value = serde_json::from_slice(content)
            .map_err(|e| broken(lineno, format!("not a JSON object: {e}")))?;
        let seq = v.get("seq").and_then(Value::as_u64);
        if seq != Some(n) {
            return Err(broken(
                lineno,
                format!(
                    "sequence number is {} where {n} was expected: lines were deleted, inserted or reordered",
                    seq.map_or("missing".to_string(), |s| s.to_string())
                ),
            ));
        }
        let line_prev = v
            .get("prev")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<H256>().ok());
        if line_prev != Some(prev) {
            return Err(if n == 0 {
                broken(lineno, "first line's prev is not zero".into())
            } else {
                broken(
                    n,
                    format!("edited: its hash no longer matches line {lineno}'s prev"),
                )
            });
        }
        prev = keccak256(content);
        n += 1;
    }
    let hp = head_path(path);
    let head_checked = match fs::read_to_string(&hp) {
        Ok(text) => {
            let head: Head = serde_json::from_str(&text).map_err(|e| AuditError::HeadMismatch {
                path: path.to_path_buf(),
                reason: format!("head file {} unreadable: {e}", hp.display()),
            })?;
            if head.lines != n {
                return Err(AuditError::HeadMismatch {
                    path: path.to_path_buf(),
                    reason: format!(
                        "the head file records {} lines but the log has {n}: lines were cut off the end",
                        head.lines
                    ),
                });
            }
            if head.last != prev {
                return Err(broken(
                    n,
                    "edited: its hash does not match the head file's (last line)".into(),
                ));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io(&hp)(e)),
    };
    Ok(AuditSummary {
        lines: n,
        last_hash: prev,
        head_checked,
    })
}
