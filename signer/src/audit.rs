//! The append-only, hash-chained audit log of every signing request.
//!
//! One JSON object per line (JSON Lines). Each line carries `seq` (0, 1, 2, …) and `prev`,
//! the keccak-256 of the previous line's exact bytes (without its newline; all zeros for
//! the first line), then the request summary, the decision and the signature:
//!
//! ```text
//! {"seq":0,"prev":"0x00…00","time":"2026-11-25T21:56:00Z","method":"sign_transaction","chain_id":2029,
//!  "from":"0x1…","to":"0x1…","value":"0xde0b6b3a7640000","max_fee":"0x…","nonce":"0x0",
//!  "tx_type":2,"digest":"0x…","tx_hash":"0x…","decision":"allowed","signature":"0x…(65 bytes r‖s‖v)"}
//! ```
//!
//! No secrets, PINs or passwords are ever written; a personal message is recorded by its
//! length and digest only. Every append is `fsync`ed before the signature is released (a
//! request that cannot be logged is refused), then `<log>.head` is replaced atomically
//! (temp file, fsync, rename, directory fsync) with the line count and the last line's
//! hash, so a cut-off tail is detected too.
//!
//! Crashes: a crash mid-append leaves either a torn last line (no newline; its signature
//! was never released) or a head one line behind a complete last line. [`AuditLog::open`]
//! repairs exactly these two and appends a line recording the repair,
//! `{"seq":…,"prev":…,"time":…,"event":"audit_repair","detail":…}`; every other mismatch
//! still refuses to open. The writer holds an exclusive `flock` on the log, so a second
//! process (or a second [`AuditLog`]) cannot fork the chain.
//!
//! [`verify_audit`] (read-only) names the first line that is edited, reordered, deleted or
//! incomplete, and reports the two crash states as [`AuditError::Interrupted`].
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
    /// A crash mid-append left a torn last line or a head one line behind; the chain
    /// before it is intact. [`AuditLog::open`] repairs this.
    #[error("audit log {}: {reason}; opening the log (the node, or a signer command with --audit-log) repairs it", .path.display())]
    Interrupted {
        /// The log.
        path: PathBuf,
        /// Which crash state.
        reason: String,
    },
    /// Another process (or another handle in this one) has the log open for writing.
    #[error("audit log {} is locked by another process (a running node or signer command): two writers would fork the chain", .path.display())]
    Locked {
        /// The log.
        path: PathBuf,
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
struct Line<'a, T> {
    seq: u64,
    prev: H256,
    #[serde(flatten)]
    record: &'a T,
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

/// An open audit log, appended to under a lock (a mutex in this process, an exclusive
/// `flock` on the file against other processes).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<State>,
    repaired: Option<String>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Takes an exclusive, non-blocking `flock` on `file`: `Ok(false)` when another open file
/// (another process, or another handle in this one) holds it. Released when `file` closes.
pub(crate) fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// fsyncs the directory holding `path`, so a file created or renamed there survives a
/// power cut (the rename itself lives in the directory).
pub(crate) fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

impl AuditLog {
    /// Opens (or creates) a log and locks it for this process; an existing one must
    /// verify first: nothing is appended to a broken chain.
    ///
    /// The two states a crash in [`Self::append`] can leave are repaired, not refused:
    /// a torn last line (no newline; its signature was never released) is cut off, and a
    /// head one line behind a complete, chained last line is brought up to date. Each
    /// repair is then recorded as an `audit_repair` line ([`Self::repaired`] says what).
    /// A second open of the same log while one is open fails with [`AuditError::Locked`].
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let existed = path.exists();
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path).map_err(io(path))?;
        if !try_lock_exclusive(&file).map_err(io(path))? {
            return Err(AuditError::Locked {
                path: path.to_path_buf(),
            });
        }
        if !existed {
            sync_parent_dir(path).map_err(io(path))?;
        }
        let scan = scan(path)?;
        let (seq, prev, repair) = match judge(path, &scan)? {
            Verdict::Clean { .. } => (scan.lines, scan.last, None),
            Verdict::TornTail => {
                let tail = scan.tail.as_ref().map_or(0, |t| t.len);
                file.set_len(scan.complete_len)
                    .and_then(|_| file.sync_all())
                    .map_err(io(path))?;
                let why = format!(
                    "cut off a torn last line ({tail} bytes, keccak {:?}) left by a crash mid-append; its signature was never released",
                    scan.tail.as_ref().map(|t| t.hash).unwrap_or_default()
                );
                (scan.lines, scan.last, Some(why))
            }
            Verdict::HeadOneBehind => {
                write_head(
                    path,
                    &Head {
                        lines: scan.lines,
                        last: scan.last,
                    },
                )?;
                let why = format!(
                    "the head file was one line behind (a crash after line {} was written): head brought up to date",
                    scan.lines
                );
                (scan.lines, scan.last, Some(why))
            }
        };
        let log = AuditLog {
            path: path.to_path_buf(),
            state: Mutex::new(State { file, seq, prev }),
            repaired: repair.clone(),
        };
        if let Some(detail) = repair {
            log.append_value(&RepairEvent {
                time: crate::time::utc_rfc3339(crate::time::now_secs()),
                event: "audit_repair",
                detail: &detail,
            })?;
        }
        Ok(log)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What [`Self::open`] repaired after a crash, if anything (also logged in the file).
    pub fn repaired(&self) -> Option<&str> {
        self.repaired.as_deref()
    }

    /// Appends one record, fsyncs it, updates the head; returns the new line's hash.
    pub fn append(&self, record: &AuditRecord) -> Result<H256, AuditError> {
        self.append_value(record)
    }

    fn append_value<T: Serialize>(&self, record: &T) -> Result<H256, AuditError> {
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
        st.seq = st.seq.saturating_add(1);
        st.prev = hash;
        // A crash here leaves the head one line behind: `open` repairs exactly that.
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

/// The line `open` appends after repairing a crash state (no request, no signature).
#[derive(Serialize)]
struct RepairEvent<'a> {
    time: String,
    event: &'static str,
    detail: &'a str,
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
    sync_parent_dir(&hp).map_err(io(&hp))?;
    Ok(())
}

/// Bytes after the last newline: a line being written, or torn by a crash.
#[derive(Debug)]
struct Tail {
    len: u64,
    hash: H256,
}

/// What reading a log found, before the head file is consulted.
#[derive(Debug)]
struct Scan {
    /// Complete lines (each ending in a newline), all chained.
    lines: u64,
    /// keccak of the last complete line (zero if none).
    last: H256,
    /// keccak of the line before it (zero if fewer than two).
    before_last: H256,
    /// Byte length of the complete lines.
    complete_len: u64,
    /// Bytes after the last newline, if any.
    tail: Option<Tail>,
    /// The head file, if present.
    head: Option<Head>,
}

/// How a scanned log stands against its head file.
enum Verdict {
    /// Everything matches (or there is no head file).
    Clean { head_checked: bool },
    /// A torn last line after complete lines the head file agrees with.
    TornTail,
    /// No torn line; the head file records one line fewer and that line's hash.
    HeadOneBehind,
}

/// Reads every line and checks the chain; does not judge the head file.
fn scan(path: &Path) -> Result<Scan, AuditError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let broken = |line: u64, reason: String| AuditError::Broken {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut prev = H256::zero();
    let mut before_last = H256::zero();
    let mut n: u64 = 0;
    let mut complete_len: u64 = 0;
    let mut tail = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if read == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            // Only the very end of the file can lack a newline (read_until reads to EOF).
            tail = Some(Tail {
                len: buf.len() as u64,
                hash: keccak256(&buf),
            });
            break;
        }
        let lineno = n.saturating_add(1);
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
        before_last = prev;
        prev = keccak256(content);
        n = lineno;
        complete_len = complete_len.saturating_add(read as u64);
    }
    let hp = head_path(path);
    let head = match fs::read_to_string(&hp) {
        Ok(text) => {
            Some(
                serde_json::from_str::<Head>(&text).map_err(|e| AuditError::HeadMismatch {
                    path: path.to_path_buf(),
                    reason: format!("head file {} unreadable: {e}", hp.display()),
                })?,
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&hp)(e)),
    };
    Ok(Scan {
        lines: n,
        last: prev,
        before_last,
        complete_len,
        tail,
        head,
    })
}

/// Compares a scan with its head file: clean, one of the two crash states, or an error.
fn judge(path: &Path, s: &Scan) -> Result<Verdict, AuditError> {
    let n = s.lines;
    if s.tail.is_some() {
        // Torn: the head (if any) must vouch for every complete line before it.
        return match &s.head {
            None => Ok(Verdict::TornTail),
            Some(h) if h.lines == n && h.last == s.last => Ok(Verdict::TornTail),
            Some(_) => Err(AuditError::Broken {
                path: path.to_path_buf(),
                line: n.saturating_add(1),
                reason: "incomplete last line (no newline), and the head file does not match the lines before it: cut off or edited".into(),
            }),
        };
    }
    let Some(h) = &s.head else {
        return Ok(Verdict::Clean {
            head_checked: false,
        });
    };
    if h.lines == n {
        if h.last != s.last {
            return Err(AuditError::Broken {
                path: path.to_path_buf(),
                line: n,
                reason: "edited: its hash does not match the head file's (last line)".into(),
            });
        }
        return Ok(Verdict::Clean { head_checked: true });
    }
    if n > 0 && h.lines == n - 1 && h.last == s.before_last {
        return Ok(Verdict::HeadOneBehind);
    }
    let reason = if h.lines > n {
        format!(
            "the head file records {} lines but the log has {n}: lines were cut off the end",
            h.lines
        )
    } else {
        format!(
            "the head file records {} lines but the log has {n}: the head file is stale or was replaced, or lines were appended by something else",
            h.lines
        )
    };
    Err(AuditError::HeadMismatch {
        path: path.to_path_buf(),
        reason,
    })
}

/// Verifies a log's hash chain (and its head file, if present). Read-only: it takes no
/// lock and repairs nothing.
///
/// The first bad line is named: a line whose `seq` is out of order (reordered or deleted
/// lines), a line whose content changed (the next line's `prev` no longer matches it, or
/// the head's hash for the last line), a line that is not JSON or lacks its newline. The
/// two states a crash mid-append leaves are [`AuditError::Interrupted`]: opening the log
/// ([`AuditLog::open`], which the node and every signer command with `--audit-log` do)
/// repairs them.
pub fn verify_audit(path: &Path) -> Result<AuditSummary, AuditError> {
    let s = scan(path)?;
    let interrupted = |reason: String| AuditError::Interrupted {
        path: path.to_path_buf(),
        reason,
    };
    match judge(path, &s)? {
        Verdict::Clean { head_checked } => Ok(AuditSummary {
            lines: s.lines,
            last_hash: s.last,
            head_checked,
        }),
        Verdict::TornTail => Err(interrupted(format!(
            "line {}: incomplete last line (no newline) after {} intact lines: a crash mid-append (its signature was never released)",
            s.lines.saturating_add(1),
            s.lines
        ))),
        Verdict::HeadOneBehind => Err(interrupted(format!(
            "the head file is one line behind the {} intact lines: a crash after the last line was written",
            s.lines
        ))),
    }
}
