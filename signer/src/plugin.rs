//! An external signer plugin as a [`Signer`]: a long-lived child process, in any language,
//! speaking JSON-RPC 2.0 with one message per line on stdin/stdout (protocol
//! `cfxlight-signer-plugin` [`PROTOCOL_VERSION`], written down in `signer/PLUGIN.md`).
//!
//! `--signer plugin:<executable> [args…]` (options before a `--` word:
//! `plugin:timeout=300 -- <executable> [args…]`, see [`SignerSpec::plugin`]).
//!
//! What the host does, and does not, trust:
//! - the plugin is started with a cleared environment (only [`PASSED_ENV`] and variables
//!   starting with [`ENV_PREFIX`]; the node's `CFXLIGHT_PIN` / `CFXLIGHT_PASSWORD` never
//!   reach it), in its own process group, stdin/stdout piped, stderr forwarded to our
//!   stderr with a `plugin <name>:` prefix, each line cut at 1 KiB and at most 200 lines per
//!   10 s;
//! - `plugin_hello` checks the protocol's major version, `plugin_accounts` gives public keys
//!   from which the addresses are derived here (a claimed address that does not match its
//!   key is refused);
//! - every signing request carries the content (transaction fields, message, typed data)
//!   *and* the exact bytes hashed and the hash, so the plugin can show and check what it
//!   signs; the answer's `r`, `s` go through [`complete_signature`]: S normalised low, the
//!   recovery id found by trial recovery against the account's key, a signature by any
//!   other key refused. The plugin's `v` is never used;
//! - answers are bounded ([`MAX_LINE`]) and timed ([`START_TIMEOUT`] for the handshake, the
//!   spec's `timeout`, default 120 s, for signing), their `id` must be the request's.
//!
//! **Nothing is signed twice.** Requests go one at a time. When the plugin crashes, hangs
//! past the timeout, closes its output or breaks the protocol, the process (group) is
//! killed and the request fails with [`SignerError::Plugin`] or [`SignerError::Timeout`];
//! it is never resent, to this plugin or to a restarted one. The next request starts a
//! new process (handshake and accounts again), after a back-off when starts keep failing
//! (none after the first failure, then 0.5 s doubling to 30 s; during the back-off requests
//! fail at once, saying when to retry). Request ids grow across restarts, so no answer can
//! be mistaken for another's.
//!
//! The accounts are read at start and re-read at every restart; [`Signer::accounts`]
//! answers from that list without asking the plugin (so `cfx_accounts` never waits behind a
//! confirmation). I/O is blocking, on threads: [`PluginSigner::open`] blocks for the
//! handshake, signing runs on tokio's blocking pool. Raw hash signing is refused.

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::unix::process::CommandExt,
    process::{Child, ChildStderr, ChildStdout, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use cfxlight_primitives::{
    transaction::{Transaction, TxKind},
    H160, H512, U256,
};
use k256::ecdsa::Signature as EcdsaSignature;
use serde_json::{json, Value};

use crate::{
    error::SignerError,
    message::personal_message_payload,
    signer::{complete_signature, Account, SignPayload, SignRequest, Signer, VerifiedSignature},
    spec::PluginSpec,
};

/// The protocol version the host speaks; a plugin with another major version is refused.
pub const PROTOCOL_VERSION: &str = "1.0";
/// The major version, as compared in the handshake.
const PROTOCOL_MAJOR: u64 = 1;
/// The longest line either side may send (bytes, without the newline).
pub const MAX_LINE: usize = 1 << 20;
/// How long `plugin_hello` and `plugin_accounts` may take at each start.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variables passed to the plugin besides those starting with [`ENV_PREFIX`].
pub const PASSED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
];
/// Variables starting with this prefix are passed to the plugin (its own configuration).
pub const ENV_PREFIX: &str = "CFXLIGHT_PLUGIN_";
/// The most accounts one plugin may list.
const MAX_ACCOUNTS: usize = 1000;
/// stderr forwarding: bytes kept of one line, lines per window, window length.
const STDERR_LINE: usize = 1024;
const STDERR_BURST: u32 = 200;
const STDERR_WINDOW: Duration = Duration::from_secs(10);
/// Restart back-off: the second consecutive failure waits this long, doubling to the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The JSON-RPC error codes of the protocol (`signer/PLUGIN.md`, "Errors").
pub mod code {
    /// The line is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON is not a request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters (including a hash that is not keccak of the payload).
    pub const INVALID_PARAMS: i64 = -32602;
    /// The plugin failed internally.
    pub const INTERNAL: i64 = -32603;
    /// The user (or the plugin's own rules) refused.
    pub const USER_REJECTED: i64 = 4001;
    /// The plugin is locked (needs its PIN or passphrase on its side).
    pub const LOCKED: i64 = 4100;
    /// The plugin does not do this kind of signing.
    pub const UNSUPPORTED: i64 = 4200;
    /// The account is not one of the plugin's.
    pub const UNKNOWN_ACCOUNT: i64 = 4301;
}

/// What one line read from the plugin's stdout turned out to be.
enum Line {
    Text(String),
    TooLong,
    Eof,
    Bad(String),
}

/// Why a call did not give a result.
enum CallError {
    /// The plugin answered with a JSON-RPC error: the process is fine.
    Rpc { code: i64, message: String },
    /// The process is unusable (crash, hang, protocol violation): it is killed.
    Transport {
        detail: String,
        timed_out: Option<Duration>,
    },
}

fn transport(detail: impl Into<String>) -> CallError {
    CallError::Transport {
        detail: detail.into(),
        timed_out: None,
    }
}

/// One running plugin process and the threads around its pipes.
struct Process {
    child: Child,
    to_plugin: Option<mpsc::Sender<Vec<u8>>>,
    from_plugin: mpsc::Receiver<Line>,
}

impl Process {
    fn spawn(spec: &PluginSpec, label: &str) -> Result<Self, String> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| {
                k.to_str()
                    .is_some_and(|k| PASSED_ENV.contains(&k) || k.starts_with(ENV_PREFIX))
            }))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", spec.program))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill(&mut child);
            return Err("the plugin's pipes could not be set up".into());
        };
        let (to_plugin, writer_rx) = mpsc::channel::<Vec<u8>>();
        let (reader_tx, from_plugin) = mpsc::channel();
        let mut stdin = stdin;
        let started = thread::Builder::new()
            .name("plugin-stdin".into())
            .spawn(move || {
                for line in writer_rx {
                    if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
                        return;
                    }
                }
            })
            .and_then(|_| {
                thread::Builder::new()
                    .name("plugin-stdout".into())
                    .spawn(move || read_lines(stdout, &reader_tx))
            })
            .and_then(|_| {
                let label = label.to_string();
                thread::Builder::new()
                    .name("plugin-stderr".into())
                    .spawn(move || forward_stderr(stderr, &label))
            });
        if let Err(e) = started {
            kill(&mut child);
            return Err(format!("cannot start the plugin's I/O threads: {e}"));
        }
        Ok(Process {
            child,
            to_plugin: Some(to_plugin),
            from_plugin,
        })
    }

    /// Sends one request and waits for its answer, at most `timeout`.
    fn call(
        &mut self,
        id: u64,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        // Nothing may be pending: a plugin only ever answers requests.
        match self.from_plugin.try_recv() {
            Ok(line @ (Line::Text(_) | Line::TooLong)) => {
                return Err(transport(format!(
                    "the plugin wrote output nobody asked for ({})",
                    describe(&line)
                )))
            }
            Ok(line) => return Err(transport(self.died(&line))),
            Err(mpsc::TryRecvError::Disconnected) => return Err(transport(self.died(&Line::Eof))),
            Err(mpsc::TryRecvError::Empty) => {}
        }
        let mut msg = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .map_err(|e| transport(format!("cannot encode the request: {e}")))?;
        if msg.len() > MAX_LINE {
            // Not sent at all: the plugin is fine, the request is too big.
            return Err(CallError::Rpc {
                code: code::INVALID_PARAMS,
                message: format!(
                    "request of {} bytes exceeds the 1 MiB line limit",
                    msg.len()
                ),
            });
        }
        msg.push(b'\n');
        let sent = self
            .to_plugin
            .as_ref()
            .is_some_and(|tx| tx.send(msg).is_ok());
        if !sent {
            return Err(transport("the plugin's stdin is closed"));
        }
        let deadline = Instant::now() + timeout;
        let line = match self
            .from_plugin
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(Line::Text(t)) => t,
            Ok(other) => return Err(transport(self.died(&other))),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(CallError::Transport {
                    detail: "no answer".into(),
                    timed_out: Some(timeout),
                })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(transport(self.died(&Line::Eof)))
            }
        };
        parse_response(&line, id)
    }

    /// Describes the end of the plugin's output, with its exit status when it has one.
    fn died(&mut self, line: &Line) -> String {
        let what = describe(line);
        if matches!(line, Line::Eof) {
            // Give a crashing process a moment to be reaped, for its status.
            for _ in 0..20 {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return format!("{what}: the plugin exited ({status})");
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        what
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.to_plugin = None;
        kill(&mut self.child);
    }
}

/// Kills the plugin's process group (shell wrappers' children too) and reaps the plugin.
fn kill(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let pid = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = child.kill();
    }
    let _ = child.wait();
}

fn describe(line: &Line) -> String {
    match line {
        Line::Text(t) => format!("a line of {} bytes", t.len()),
        Line::TooLong => format!("a line longer than {MAX_LINE} bytes"),
        Line::Eof => "its output ended".into(),
        Line::Bad(e) => e.clone(),
    }
}

/// Reads newline-terminated lines of at most [`MAX_LINE`] bytes; stops at the first
/// problem (the process is killed then anyway).
fn read_lines(stdout: ChildStdout, tx: &mpsc::Sender<Line>) {
    let mut r = BufReader::with_capacity(64 * 1024, stdout);
    loop {
        let mut buf = Vec::new();
        let line = loop {
            let chunk = match r.fill_buf() {
                Ok(c) => c,
                Err(e) => break Line::Bad(format!("reading its output failed: {e}")),
            };
            if chunk.is_empty() {
                break Line::Eof;
            }
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            buf.extend_from_slice(&chunk[..take]);
            r.consume(take + usize::from(done));
            if buf.len() > MAX_LINE {
                break Line::TooLong;
            }
            if done {
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                break match String::from_utf8(std::mem::take(&mut buf)) {
                    Ok(t) => Line::Text(t),
                    Err(_) => Line::Bad("it wrote a line that is not UTF-8".into()),
                };
            }
        };
        let last = !matches!(line, Line::Text(_));
        if tx.send(line).is_err() || last {
            return;
        }
    }
}

/// Forwards the plugin's stderr to ours, prefixed and bounded.
fn forward_stderr(stderr: ChildStderr, label: &str) {
    let mut r = BufReader::new(stderr);
    let (mut window, mut lines, mut dropped) = (Instant::now(), 0u32, 0u64);
    loop {
        let mut buf = Vec::new();
        match r
            .by_ref()
            .take(STDERR_LINE as u64)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if window.elapsed() > STDERR_WINDOW {
            if dropped > 0 {
                eprintln!("plugin {label}: ({dropped} log lines dropped)");
            }
            (window, lines, dropped) = (Instant::now(), 0, 0);
        }
        lines += 1;
        if lines > STDERR_BURST {
            dropped += 1;
            continue;
        }
        let text = String::from_utf8_lossy(&buf);
        let text: String = text
            .trim_end()
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        eprintln!("plugin {label}: {text}");
    }
}

/// Cuts the plugin's words to something safe to show in one log line.
fn clean(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// Checks one response line for request `id`: the result, or the plugin's error.
fn parse_response(line: &str, id: u64) -> Result<Value, CallError> {
    let v: Value = serde_json::from_str(line).map_err(|_| {
        transport(format!(
            "it wrote something that is not JSON: `{}`",
            clean(line, 80)
        ))
    })?;
    let Some(obj) = v.as_object() else {
        return Err(transport("its answer is not a JSON object"));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(transport("its answer lacks \"jsonrpc\": \"2.0\""));
    }
    if obj.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(transport(format!(
            "answer id {} does not match request id {id}",
            clean(&obj.get("id").map(Value::to_string).unwrap_or_default(), 40)
        )));
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(r), None) => Ok(r.clone()),
        (None, Some(e)) => {
            let code = e.get("code").and_then(Value::as_i64);
            let message = e.get("message").and_then(Value::as_str);
            match (code, message) {
                (Some(code), Some(message)) => Err(CallError::Rpc {
                    code,
                    message: clean(message, 300),
                }),
                _ => Err(transport("its error lacks an integer code or a message")),
            }
        }
        _ => Err(transport(
            "its answer has not exactly one of result and error",
        )),
    }
}

/// Restart state and the running process, behind one lock (one request at a time).
struct State {
    process: Option<Process>,
    /// The plugin's name from its last handshake (its executable before that).
    name: String,
    failures: u32,
    last_failure: Option<Instant>,
}

struct Inner {
    spec: PluginSpec,
    chain_id: u32,
    state: Mutex<State>,
    accounts: Mutex<Vec<Account>>,
    next_id: AtomicU64,
}

fn poisoned() -> SignerError {
    SignerError::Backend("plugin lock poisoned".into())
}

/// How long to wait before the next start after `failures` consecutive failures.
fn backoff(failures: u32) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    BACKOFF_FIRST
        .checked_mul(1u32 << (failures - 2).min(16))
        .map_or(BACKOFF_MAX, |d| d.min(BACKOFF_MAX))
}

impl Inner {
    fn plugin_error(&self, name: &str, operation: &str, detail: impl Into<String>) -> SignerError {
        SignerError::Plugin {
            plugin: name.to_string(),
            operation: operation.to_string(),
            detail: detail.into(),
        }
    }

    /// One call on a running process; a transport failure kills it and counts.
    fn call(
        &self,
        st: &mut State,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let Some(p) = st.process.as_mut() else {
            return Err(transport("the plugin is not running"));
        };
        let out = p.call(id, method, params, timeout);
        if let Err(CallError::Transport { .. }) = out {
            st.process = None; // killed on drop
            st.failures += 1;
            st.last_failure = Some(Instant::now());
        }
        out
    }

    /// Maps a failed call onto the error the caller sees.
    fn error(
        &self,
        name: &str,
        method: &str,
        from: Option<H160>,
        starting: bool,
        e: CallError,
    ) -> SignerError {
        let next = if starting {
            "the next request tries to start it again"
        } else {
            "the plugin was stopped; this request is not resent, the next request restarts the plugin"
        };
        let (code, message) = match e {
            CallError::Transport {
                timed_out: Some(t), ..
            } => {
                return SignerError::Timeout {
                    operation: format!("{method} of plugin `{name}` ({next})"),
                    millis: u64::try_from(t.as_millis()).unwrap_or(u64::MAX),
                }
            }
            CallError::Transport { detail, .. } => {
                return self.plugin_error(name, method, format!("{detail} ({next})"))
            }
            CallError::Rpc { code, message } => (code, message),
        };
        match (code, from) {
            (code::USER_REJECTED, _) => SignerError::PluginRejected {
                plugin: name.to_string(),
                message,
            },
            (code::LOCKED, _) => SignerError::PluginLocked {
                plugin: name.to_string(),
                message,
            },
            (code::UNKNOWN_ACCOUNT, Some(from)) => SignerError::UnknownAccount(from),
            (code::UNSUPPORTED, _) => self.plugin_error(
                name,
                method,
                format!("not supported by the plugin: {message}"),
            ),
            _ => self.plugin_error(name, method, format!("error {code}: {message}")),
        }
    }

    /// Starts the plugin: spawn, handshake, accounts. Counts a failure against the back-off.
    fn start(&self, st: &mut State) -> Result<(), SignerError> {
        if let Some(last) = st.last_failure {
            let wait = backoff(st.failures);
            let since = last.elapsed();
            if since < wait {
                return Err(self.plugin_error(
                    &st.name,
                    "start",
                    format!(
                        "{} consecutive failures: not restarting it for another {} ms",
                        st.failures,
                        (wait - since).as_millis().max(1)
                    ),
                ));
            }
        }
        let fail = |st: &mut State, e: SignerError| {
            st.process = None;
            st.failures += 1;
            st.last_failure = Some(Instant::now());
            e
        };
        let process = match Process::spawn(&self.spec, &st.name) {
            Ok(p) => p,
            Err(e) => {
                let e = self.plugin_error(&st.name, "start", e);
                return Err(fail(st, e));
            }
        };
        st.process = Some(process);
        let hello = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "host": concat!("cfxlight-signer/", env!("CARGO_PKG_VERSION")),
            "chainId": self.chain_id,
        });
        let name = st.name.clone();
        let answer = self
            .call(st, "plugin_hello", &hello, START_TIMEOUT)
            .map_err(|e| self.error(&name, "plugin_hello", None, true, e));
        let answer = match answer.and_then(|a| self.check_hello(&name, &a)) {
            Ok(plugin_name) => plugin_name,
            Err(e) => return Err(fail(st, e)),
        };
        st.name = answer;
        let name = st.name.clone();
        let accounts = self
            .call(st, "plugin_accounts", &json!({}), START_TIMEOUT)
            .map_err(|e| self.error(&name, "plugin_accounts", None, true, e))
            .and_then(|a| {
                parse_accounts(&a).map_err(|d| self.plugin_error(&name, "plugin_accounts", d))
            });
        match accounts {
            Ok(list) => {
                *self.accounts.lock().map_err(|_| poisoned())? = list;
                Ok(())
            }
            Err(e) => Err(fail(st, e)),
        }
    }

    /// The plugin's name, if its handshake is acceptable.
    fn check_hello(&self, name: &str, a: &Value) -> Result<String, SignerError> {
        let version = a
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u64>().ok());
        if major != Some(PROTOCOL_MAJOR) {
            return Err(self.plugin_error(
                name,
                "plugin_hello",
                format!(
                    "it speaks protocol version `{}`, this host speaks {PROTOCOL_VERSION} (major versions must match)",
                    clean(version, 20)
                ),
            ));
        }
        Ok(a.get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map_or_else(|| name.to_string(), |n| clean(n, 64)))
    }

    /// One protocol request, starting the plugin first when it is not running.
    fn request(&self, method: &str, from: H160, params: &Value) -> Result<Value, SignerError> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        if st.process.is_none() {
            self.start(&mut st)?;
            // The restarted plugin may list other accounts.
            let known = self
                .accounts
                .lock()
                .map_err(|_| poisoned())?
                .iter()
                .any(|a| a.address == from);
            if !known {
                return Err(SignerError::UnknownAccount(from));
            }
        }
        let name = st.name.clone();
        let out = self.call(&mut st, method, params, self.spec.timeout);
        if !matches!(out, Err(CallError::Transport { .. })) {
            // An answer, even an error: the plugin works.
            st.failures = 0;
            st.last_failure = None;
        }
        out.map_err(|e| self.error(&name, method, Some(from), false, e))
    }
}

impl Inner {
    /// One signing request: the plugin's `r`, `s` as an ECDSA signature (not yet checked).
    fn sign(
        &self,
        method: &str,
        from: H160,
        params: &Value,
    ) -> Result<EcdsaSignature, SignerError> {
        let answer = self.request(method, from, params)?;
        parse_signature(&answer).map_err(|d| {
            let name = self
                .state
                .lock()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            self.plugin_error(&name, method, format!("unusable signature: {d}"))
        })
    }
}

/// Parses `plugin_accounts`' answer: addresses derived from the public keys, claims checked.
fn parse_accounts(a: &Value) -> Result<Vec<Account>, String> {
    let list = a
        .get("accounts")
        .and_then(Value::as_array)
        .ok_or("the answer has no \"accounts\" array")?;
    if list.len() > MAX_ACCOUNTS {
        return Err(format!("{} accounts (at most {MAX_ACCOUNTS})", list.len()));
    }
    let mut out: Vec<Account> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let public = entry
            .get("publicKey")
            .and_then(Value::as_str)
            .and_then(parse_public)
            .ok_or_else(|| format!("account {i}: publicKey is not a secp256k1 public key"))?;
        let account = Account::from_public(public);
        let claimed = entry
            .get("address")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("0x"))
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() == 20)
            .map(|b| H160::from_slice(&b))
            .ok_or_else(|| format!("account {i}: address is not 0x + 40 hex digits"))?;
        if claimed != account.address {
            return Err(format!(
                "account {i}: address {claimed:?} is not the address of its public key ({:?})",
                account.address
            ));
        }
        if !out.contains(&account) {
            out.push(account);
        }
    }
    Ok(out)
}

/// A public key as 64 bytes `x ‖ y`, 65 bytes `04 ‖ x ‖ y` or 33 compressed bytes, checked
/// to be on the curve.
fn parse_public(s: &str) -> Option<H512> {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let bytes = hex::decode(s.strip_prefix("0x")?).ok()?;
    let sec1 = if bytes.len() == 64 {
        [&[0x04][..], &bytes].concat()
    } else {
        bytes
    };
    let key = k256::PublicKey::from_sec1_bytes(&sec1).ok()?;
    let point = key.to_encoded_point(false);
    Some(H512::from_slice(point.as_bytes().get(1..)?))
}

/// `0x` hex of a quantity.
fn quantity(v: U256) -> String {
    format!("{v:#x}")
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The transaction's fields as the protocol sends them (hex quantities, hex addresses).
pub fn transaction_json(tx: &Transaction) -> Value {
    let access = |list: &[cfxlight_primitives::transaction::AccessListItem]| -> Value {
        list.iter()
            .map(|e| {
                json!({
                    "address": format!("{:?}", e.address),
                    "storageKeys": e.storage_keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>(),
                })
            })
            .collect()
    };
    let mut o = json!({
        "type": tx.tx_type() as u8,
        "nonce": quantity(tx.nonce),
        "gas": quantity(tx.gas),
        "to": tx.action.to().map(|a| format!("{a:?}")),
        "value": quantity(tx.value),
        "storageLimit": format!("{:#x}", tx.storage_limit),
        "epochHeight": format!("{:#x}", tx.epoch_height),
        "chainId": format!("{:#x}", tx.chain_id),
        "data": hex0x(&tx.data),
    });
    match &tx.kind {
        TxKind::Legacy { gas_price } => {
            o["gasPrice"] = quantity(*gas_price).into();
        }
        TxKind::Cip2930 {
            gas_price,
            access_list,
        } => {
            o["gasPrice"] = quantity(*gas_price).into();
            o["accessList"] = access(access_list);
        }
        TxKind::Cip1559 {
            max_priority_fee_per_gas,
            max_fee_per_gas,
            access_list,
        } => {
            o["maxPriorityFeePerGas"] = quantity(*max_priority_fee_per_gas).into();
            o["maxFeePerGas"] = quantity(*max_fee_per_gas).into();
            o["accessList"] = access(access_list);
        }
    }
    o
}

/// The exact bytes a transaction's signing hash is keccak of.
pub fn transaction_payload(tx: &Transaction) -> Vec<u8> {
    tx.signing_payload()
}

/// The protocol method and parameters of a request (hash signing has none).
pub fn request_params(
    req: &SignRequest<'_>,
    chain_id: u32,
) -> Result<(&'static str, Value), SignerError> {
    let account = format!("{:?}", req.from());
    let hash = format!("{:?}", req.digest());
    Ok(match req.payload() {
        SignPayload::Transaction(tx) => (
            "plugin_signTransaction",
            json!({
                "account": account,
                "chainId": chain_id,
                "transaction": transaction_json(tx),
                "signingPayload": hex0x(&transaction_payload(tx)),
                "hash": hash,
            }),
        ),
        SignPayload::Message(m) => (
            "plugin_signMessage",
            json!({
                "account": account,
                "message": hex0x(m),
                "signingPayload": hex0x(&personal_message_payload(m)),
                "hash": hash,
            }),
        ),
        SignPayload::TypedData(d) => (
            "plugin_signTypedData",
            json!({
                "account": account,
                "typedData": serde_json::to_value(d).map_err(|e| SignerError::InvalidTypedData(e.to_string()))?,
                "signingPayload": hex0x(&d.signing_payload()?),
                "hash": hash,
            }),
        ),
        SignPayload::Hash => return Err(SignerError::BlindSigningDisabled),
    })
}

/// `r` and `s` of a signing answer, as an ECDSA signature (any S; `v` is ignored).
fn parse_signature(a: &Value) -> Result<EcdsaSignature, String> {
    let scalar = |k: &str| -> Result<[u8; 32], String> {
        let h = a
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("0x"))
            .filter(|h| !h.is_empty() && h.len() <= 64)
            .ok_or_else(|| format!("`{k}` is not 0x + at most 64 hex digits"))?;
        let v = U256::from_str_radix(h, 16).map_err(|_| format!("`{k}` is not hex"))?;
        Ok(v.to_big_endian())
    };
    let (r, s) = (scalar("r")?, scalar("s")?);
    EcdsaSignature::from_scalars(r, s)
        .map_err(|_| "r or s is zero or not below the curve order".into())
}

/// An external plugin process behind the [`Signer`] trait.
pub struct PluginSigner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSigner")
            .field("program", &self.inner.spec.program)
            .field("chain_id", &self.inner.chain_id)
            .finish_non_exhaustive()
    }
}

impl PluginSigner {
    /// Starts the plugin and does the handshake and the account listing (blocks, at most
    /// [`START_TIMEOUT`] per step).
    pub fn open(spec: PluginSpec, chain_id: u32) -> Result<Self, SignerError> {
        let name = std::path::Path::new(&spec.program).file_name().map_or_else(
            || spec.program.clone(),
            |n| n.to_string_lossy().into_owned(),
        );
        let inner = Arc::new(Inner {
            spec,
            chain_id,
            state: Mutex::new(State {
                process: None,
                name,
                failures: 0,
                last_failure: None,
            }),
            accounts: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        });
        {
            let mut st = inner.state.lock().map_err(|_| poisoned())?;
            inner.start(&mut st)?;
        }
        Ok(PluginSigner { inner })
    }

    /// The plugin's name from its handshake (waits while a request is in progress).
    pub fn name(&self) -> String {
        self.inner
            .state
            .lock()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    /// The process id of the running plugin, if one runs (for tests and diagnostics; waits
    /// while a request is in progress).
    pub fn pid(&self) -> Option<u32> {
        self.inner
            .state
            .lock()
            .ok()?
            .process
            .as_ref()
            .map(|p| p.child.id())
    }
}

#[async_trait]
impl Signer for PluginSigner {
    fn chain_id(&self) -> u32 {
        self.inner.chain_id
    }

    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        Ok(self.inner.accounts.lock().map_err(|_| poisoned())?.clone())
    }

    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        req.check_basic(self.inner.chain_id, false)?;
        let from = req.from();
        let account = self
            .accounts()
            .await?
            .into_iter()
            .find(|a| a.address == from)
            .ok_or(SignerError::UnknownAccount(from))?;
        let (method, params) = request_params(req, self.inner.chain_id)?;
        let inner = self.inner.clone();
        let sig = tokio::task::spawn_blocking(move || inner.sign(method, from, &params))
            .await
            .map_err(|e| SignerError::Backend(format!("plugin task failed: {e}")))??;
        // The account may have been re-read at a restart: use the current key.
        let account = self
            .accounts()
            .await?
            .into_iter()
            .find(|a| a.address == from)
            .unwrap_or(account);
        complete_signature(&account, &req.digest(), &sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfxlight_primitives::transaction::Action;

    #[test]
    fn payloads_hash_to_the_signing_hash_for_every_type() {
        let base = Transaction {
            nonce: 7.into(),
            gas: 21000.into(),
            action: Action::Call(H160::repeat_byte(0x11)),
            value: 5.into(),
            storage_limit: 0,
            epoch_height: 9,
            chain_id: 2029,
            data: vec![1, 2],
            kind: TxKind::Legacy {
                gas_price: 1.into(),
            },
        };
        let mut typed = base.clone();
        typed.kind = TxKind::Cip1559 {
            max_priority_fee_per_gas: 1.into(),
            max_fee_per_gas: 2.into(),
            access_list: vec![],
        };
        for tx in [base, typed] {
            assert_eq!(
                cfxlight_primitives::keccak256(transaction_payload(&tx)),
                tx.signing_hash()
            );
        }
    }

    #[test]
    fn responses_must_match_the_id_and_be_well_formed() {
        assert!(parse_response(r#"{"jsonrpc":"2.0","id":3,"result":{}}"#, 3).is_ok());
        for bad in [
            r#"{"jsonrpc":"2.0","id":4,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":"3","result":{}}"#,
            r#"{"id":3,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":3}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":1,"error":{"code":1,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":"x","message":"x"}}"#,
            "not json",
            "[]",
        ] {
            assert!(
                matches!(parse_response(bad, 3), Err(CallError::Transport { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_response(
                r#"{"jsonrpc":"2.0","id":3,"error":{"code":4001,"message":"no"}}"#,
                3
            ),
            Err(CallError::Rpc { code: 4001, .. })
        ));
    }

    #[test]
    fn backoff_is_immediate_once_then_doubles_to_a_cap() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(1));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }

    #[test]
    fn public_keys_in_three_forms_parse_and_junk_does_not() {
        let raw = "4646ae5047316b4230d0086c8acec687f00b1cd9d1dc634f6cb358ac0a9a8ffffe77b4dd0a4bfb95851f3b7355c781dd60f8418fc8a65d14907aff47c903a559";
        let a = parse_public(&format!("0x{raw}")).unwrap();
        assert_eq!(parse_public(&format!("0x04{raw}")), Some(a));
        assert_eq!(parse_public(&format!("0x03{}", &raw[..64])), Some(a));
        assert_eq!(parse_public("0x1234"), None);
        assert_eq!(parse_public(&format!("0x{}", "00".repeat(64))), None);
    }
}
