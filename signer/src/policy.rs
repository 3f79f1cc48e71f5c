//! Signing policy and the [`PolicySigner`] wrapper that enforces it for any backend.
//!
//! A policy is a TOML file of declarative rules (after Clef's rules and the limits users ask
//! for in signatory/web3signer threads, `shared/docs/bsim-and-signers.md` §3 and §6). Every
//! key is optional; an absent rule allows everything:
//!
//! ```toml
//! chain_id = 1029                      # the only chain this signer may sign for
//! methods = ["sign_transaction", "sign_message"]   # sign_typed_data, sign_hash also exist
//! max_value_per_tx = "10 CFX"          # value of one transaction ("drip", "GDrip", "CFX"; or 0x/decimal drip)
//! max_value_per_day = "100 CFX"        # sum of values plus maximum fees signed in one UTC day
//! max_fee_per_tx = "100000000 GDrip"   # maximum fee of one transaction (0.1 CFX; see below)
//! max_gas_price = "1000 GDrip"         # price per gas (type 2: maxFeePerGas)
//! max_tx_per_day = 50                  # transactions signed in one UTC day
//! allowed_recipients = ["cfx:aajg4wt2mbmbb44sp6szd783ry0jtad5bea80xdy7p", "0x1…"]
//! state_file = "policy-state.json"     # relative to this file; default: next to the audit log
//! ```
//!
//! A transaction's *maximum fee* ([`max_fee`]) is the most it can take from the balance
//! besides its value: `gas × price` (`gasPrice`, or `maxFeePerGas` for type 2) plus the
//! storage collateral `storageLimit` may lock (1/1024 CFX per byte; refundable later, but
//! taken from the balance unless a sponsor pays). `max_value_per_tx` caps the value alone,
//! `max_fee_per_tx` the maximum fee, `max_value_per_day` the sum of both over the day (so
//! fees cannot drain what the value caps protect). All sums saturate: no field can wrap
//! past a cap. With an allow-list, contract deployments (no recipient) are refused. The
//! daily totals live in a small JSON state file, replaced atomically (temp file, fsync,
//! rename, fsync of the directory) after every signed transaction, so a restart does not
//! reset the day; the file is locked (`<state>.lock`) so two processes cannot both count
//! against it. A refused request is a [`SignerError::PolicyRefused`] naming the rule, and
//! (with an audit log) is logged like every other request.

use std::{
    collections::BTreeSet,
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use async_trait::async_trait;
use cfxlight_primitives::{
    transaction::{SignedTransaction, Transaction, TxKind},
    H160, H256, U256,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::{
    audit::{AuditLog, AuditRecord, Decision},
    error::SignerError,
    numbers::parse_u256,
    signer::{
        signature_to_bytes, Account, Method, SignPayload, SignRequest, Signer, VerifiedSignature,
    },
    time::{now_secs, utc_date, utc_rfc3339},
    typed_data::parse_address,
};

/// The parsed rules of a policy file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `chain_id`: the only chain id allowed.
    pub chain_id: Option<u32>,
    /// `methods`: the signing methods allowed.
    pub methods: Option<BTreeSet<Method>>,
    /// `max_value_per_tx`: cap on one transaction's value, in drip.
    pub max_value_per_tx: Option<U256>,
    /// `max_value_per_day`: cap on the sum of values and maximum fees per UTC day, in drip.
    pub max_value_per_day: Option<U256>,
    /// `max_fee_per_tx`: cap on one transaction's [`max_fee`], in drip.
    pub max_fee_per_tx: Option<U256>,
    /// `max_gas_price`: cap on the price per gas (type 2: `maxFeePerGas`), in drip.
    pub max_gas_price: Option<U256>,
    /// `max_tx_per_day`: cap on the number of transactions per UTC day.
    pub max_tx_per_day: Option<u64>,
    /// `allowed_recipients`: the only recipients allowed.
    pub allowed_recipients: Option<BTreeSet<H160>>,
    /// Where the daily totals are kept (resolved to an absolute path when loaded from a file).
    pub state_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    chain_id: Option<u32>,
    methods: Option<Vec<String>>,
    max_value_per_tx: Option<toml::Value>,
    max_value_per_day: Option<toml::Value>,
    max_fee_per_tx: Option<toml::Value>,
    max_gas_price: Option<toml::Value>,
    max_tx_per_day: Option<u64>,
    allowed_recipients: Option<Vec<String>>,
    state_file: Option<PathBuf>,
}

fn policy_err(msg: impl Into<String>) -> SignerError {
    SignerError::Policy(msg.into())
}

/// A value in drip: a TOML integer, or a string `"<integer> [drip|GDrip|CFX]"` / `"0x…"`.
fn parse_value(key: &str, v: &toml::Value) -> Result<U256, SignerError> {
    let bad = |why: String| policy_err(format!("`{key}`: {why}"));
    match v {
        toml::Value::Integer(i) if *i >= 0 => Ok(U256::from(*i as u64)),
        toml::Value::String(s) => {
            let mut parts = s.split_whitespace();
            let number = parts.next().ok_or_else(|| bad("empty value".into()))?;
            let unit = parts.next().unwrap_or("drip");
            if parts.next().is_some() {
                return Err(bad(format!("cannot read `{s}`")));
            }
            let n = parse_u256(number).map_err(bad)?;
            let scale = match unit {
                "drip" => U256::one(),
                "GDrip" | "gdrip" => U256::exp10(9),
                "CFX" | "cfx" => U256::exp10(18),
                other => return Err(bad(format!("unknown unit `{other}` (drip, GDrip, CFX)"))),
            };
            n.checked_mul(scale)
                .ok_or_else(|| bad(format!("`{s}` overflows 256 bits")))
        }
        other => Err(bad(format!(
            "expected a non-negative integer or a string, got {other}"
        ))),
    }
}

impl Policy {
    /// A policy with no rules: allows everything (still audited when wrapped with a log).
    pub fn allow_all() -> Self {
        Policy::default()
    }

    /// Parses policy TOML; a relative `state_file` is resolved against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, SignerError> {
        let f: PolicyFile = toml::from_str(text).map_err(|e| policy_err(e.to_string()))?;
        let methods = match f.methods {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|m| {
                        m.parse::<Method>()
                            .map_err(|e| policy_err(format!("`methods`: {e}")))
                    })
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
        };
        let allowed_recipients = match f.allowed_recipients {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|a| {
                        parse_address(a)
                            .map_err(|e| policy_err(format!("`allowed_recipients`: {e}")))
                    })
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
        };
        Ok(Policy {
            chain_id: f.chain_id,
            methods,
            max_value_per_tx: f
                .max_value_per_tx
                .as_ref()
                .map(|v| parse_value("max_value_per_tx", v))
                .transpose()?,
            max_value_per_day: f
                .max_value_per_day
                .as_ref()
                .map(|v| parse_value("max_value_per_day", v))
                .transpose()?,
            max_fee_per_tx: f
                .max_fee_per_tx
                .as_ref()
                .map(|v| parse_value("max_fee_per_tx", v))
                .transpose()?,
            max_gas_price: f
                .max_gas_price
                .as_ref()
                .map(|v| parse_value("max_gas_price", v))
                .transpose()?,
            max_tx_per_day: f.max_tx_per_day,
            allowed_recipients,
            state_file: f.state_file.map(|p| base_dir.join(p)),
        })
    }

    /// Loads a policy file.
    pub fn load(path: &Path) -> Result<Self, SignerError> {
        let text = fs::read_to_string(path)
            .map_err(|e| policy_err(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, base).map_err(|e| match e {
            SignerError::Policy(m) => policy_err(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn has_daily_caps(&self) -> bool {
        self.max_value_per_day.is_some() || self.max_tx_per_day.is_some()
    }

    /// The first rule `req` breaks, given today's totals: `(rule, detail)`.
    fn check(
        &self,
        chain_id: u32,
        req: &SignRequest<'_>,
        today: &DayTotals,
    ) -> Result<(), (String, String)> {
        let refuse = |rule: &str, detail: String| Err((rule.to_string(), detail));
        if let Some(methods) = &self.methods {
            if !methods.contains(&req.method()) {
                return refuse(
                    "methods",
                    format!("`{}` is not an allowed method", req.method()),
                );
            }
        }
        if let Some(pinned) = self.chain_id {
            if chain_id != pinned {
                return refuse(
                    "chain_id",
                    format!("the signer is bound to chain {chain_id}, the policy pins {pinned}"),
                );
            }
        }
        match req.payload() {
            SignPayload::Transaction(tx) => {
                if let Some(pinned) = self.chain_id {
                    if tx.chain_id != pinned {
                        return refuse(
                            "chain_id",
                            format!(
                                "transaction is for chain {}, the policy pins {pinned}",
                                tx.chain_id
                            ),
                        );
                    }
                }
                if let Some(list) = &self.allowed_recipients {
                    match tx.action.to() {
                        None => {
                            return refuse(
                                "allowed_recipients",
                                "contract deployment (no recipient) is not allowed".into(),
                            )
                        }
                        Some(to) if !list.contains(&to) => {
                            return refuse(
                                "allowed_recipients",
                                format!("recipient {to:?} is not in the allow-list"),
                            )
                        }
                        Some(_) => {}
                    }
                }
                if let Some(cap) = self.max_value_per_tx {
                    if tx.value > cap {
                        return refuse(
                            "max_value_per_tx",
                            format!("value {} drip exceeds the cap of {cap} drip", tx.value),
                        );
                    }
                }
                if let Some(cap) = self.max_gas_price {
                    let (name, price) = gas_price_cap(tx);
                    if price > cap {
                        return refuse(
                            "max_gas_price",
                            format!("{name} {price} drip per gas exceeds the cap of {cap} drip"),
                        );
                    }
                }
                let fee = max_fee(tx);
                if let Some(cap) = self.max_fee_per_tx {
                    if fee > cap {
                        return refuse(
                            "max_fee_per_tx",
                            format!(
                                "maximum fee {fee} drip (gas {} × price {} + collateral for {} bytes) exceeds the cap of {cap} drip",
                                tx.gas,
                                gas_price_cap(tx).1,
                                tx.storage_limit
                            ),
                        );
                    }
                }
                if let Some(cap) = self.max_tx_per_day {
                    if today.count >= cap {
                        return refuse(
                            "max_tx_per_day",
                            format!(
                                "{} transactions already signed today (cap {cap})",
                                today.count
                            ),
                        );
                    }
                }
                if let Some(cap) = self.max_value_per_day {
                    let spent = today.spent();
                    let this = tx.value.saturating_add(fee);
                    if spent.saturating_add(this) > cap {
                        return refuse(
                            "max_value_per_day",
                            format!("{spent} drip signed today plus {this} drip (value {} + maximum fee {fee}) exceeds the daily cap of {cap} drip", tx.value),
                        );
                    }
                }
            }
            SignPayload::TypedData(td) => {
                // A CIP-23 domain names its chain: pin it too when both are given.
                if let (Some(pinned), Some(id)) = (
                    self.chain_id,
                    td.domain.get("chainId").and_then(|v| v.as_u64()),
                ) {
                    if id != u64::from(pinned) {
                        return refuse(
                            "chain_id",
                            format!(
                                "typed data domain is for chain {id}, the policy pins {pinned}"
                            ),
                        );
                    }
                }
            }
            SignPayload::Message(_) | SignPayload::Hash => {}
        }
        Ok(())
    }
}

/// Drip of storage collateral per byte of `storageLimit` (1/1024 CFX, conflux-rust's
/// `DRIPS_PER_STORAGE_COLLATERAL_UNIT / 64`).
pub const COLLATERAL_DRIP_PER_BYTE: u64 = 976_562_500_000_000;

/// The price per gas a transaction may pay at most, with its field name: `gasPrice`
/// (types 0, 1) or `maxFeePerGas` (type 2).
fn gas_price_cap(tx: &Transaction) -> (&'static str, U256) {
    match &tx.kind {
        TxKind::Legacy { gas_price } | TxKind::Cip2930 { gas_price, .. } => {
            ("gasPrice", *gas_price)
        }
        TxKind::Cip1559 {
            max_fee_per_gas,
            max_priority_fee_per_gas,
            ..
        } => (
            "maxFeePerGas",
            (*max_fee_per_gas).max(*max_priority_fee_per_gas),
        ),
    }
}

/// The most a transaction can take from the balance besides its value, in drip:
/// `gas × (gasPrice | maxFeePerGas)` plus the collateral for `storageLimit` bytes.
/// Saturates at 2^256 − 1 (which every cap refuses) instead of wrapping.
pub fn max_fee(tx: &Transaction) -> U256 {
    let gas = tx.gas.saturating_mul(gas_price_cap(tx).1);
    let collateral =
        U256::from(tx.storage_limit).saturating_mul(U256::from(COLLATERAL_DRIP_PER_BYTE));
    gas.saturating_add(collateral)
}

/// Totals of one UTC day, as persisted in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DayTotals {
    /// `YYYY-MM-DD` (UTC).
    day: String,
    /// Sum of values signed that day, in drip.
    value: U256,
    /// Sum of the maximum fees signed that day, in drip (absent in files written before
    /// fees were counted: zero).
    #[serde(default)]
    fees: U256,
    /// Transactions signed that day.
    count: u64,
}

impl DayTotals {
    fn empty(day: &str) -> Self {
        DayTotals {
            day: day.to_string(),
            value: U256::zero(),
            fees: U256::zero(),
            count: 0,
        }
    }

    /// What `max_value_per_day` counts: values plus maximum fees.
    fn spent(&self) -> U256 {
        self.value.saturating_add(self.fees)
    }
}

struct StateStore {
    path: Option<PathBuf>,
    totals: DayTotals,
    // `<state>.lock`, flocked for as long as this store lives (the state file itself is
    // replaced by rename, so it cannot carry the lock).
    _lock: Option<fs::File>,
}

/// Opens and exclusively locks `<state>.lock`: two processes counting against the same
/// totals would overwrite each other's.
fn lock_state(p: &Path) -> Result<fs::File, SignerError> {
    let mut lp = p.as_os_str().to_owned();
    lp.push(".lock");
    let lp = PathBuf::from(lp);
    let f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lp)
        .map_err(|e| policy_err(format!("cannot open lock file {}: {e}", lp.display())))?;
    match crate::audit::try_lock_exclusive(&f) {
        Ok(true) => Ok(f),
        Ok(false) => Err(policy_err(format!(
            "state file {} is in use by another process (a running node or signer command holds {})",
            p.display(),
            lp.display()
        ))),
        Err(e) => Err(policy_err(format!("cannot lock {}: {e}", lp.display()))),
    }
}

impl StateStore {
    fn load(path: Option<PathBuf>) -> Result<Self, SignerError> {
        let lock = path.as_deref().map(lock_state).transpose()?;
        let empty = DayTotals::empty("");
        let totals = match &path {
            Some(p) => match fs::read_to_string(p) {
                Ok(text) => serde_json::from_str(&text).map_err(|e| {
                    policy_err(format!("state file {} is corrupt: {e}", p.display()))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => empty,
                Err(e) => {
                    return Err(policy_err(format!(
                        "cannot read state file {}: {e}",
                        p.display()
                    )))
                }
            },
            None => empty,
        };
        Ok(StateStore {
            path,
            totals,
            _lock: lock,
        })
    }

    /// Today's totals (zero on a new day).
    fn today(&self, day: &str) -> DayTotals {
        if self.totals.day == day {
            self.totals.clone()
        } else {
            DayTotals::empty(day)
        }
    }

    /// Replaces the totals and writes them atomically (temp file, fsync, rename).
    fn commit(&mut self, totals: DayTotals) -> Result<(), SignerError> {
        if let Some(p) = &self.path {
            let mut tmp = p.as_os_str().to_owned();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            let text = serde_json::to_string(&totals).map_err(|e| policy_err(e.to_string()))?;
            let write = || -> std::io::Result<()> {
                let mut f = fs::File::create(&tmp)?;
                f.write_all(text.as_bytes())?;
                f.sync_all()?;
                fs::rename(&tmp, p)?;
                crate::audit::sync_parent_dir(p)
            };
            write()
                .map_err(|e| policy_err(format!("cannot write state file {}: {e}", p.display())))?;
        }
        self.totals = totals;
        Ok(())
    }
}

/// A clock in Unix seconds (replaceable in tests to cross a day boundary).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Wraps any [`Signer`]: enforces a [`Policy`] and writes every request to an audit log.
pub struct PolicySigner<S> {
    inner: S,
    policy: Policy,
    audit: Option<AuditLog>,
    // One decision at a time: check, sign, commit totals (two concurrent requests must not
    // both pass a daily cap).
    state: Mutex<StateStore>,
    clock: Clock,
}

impl<S: Signer> PolicySigner<S> {
    /// Wraps `inner`. The state file is the policy's `state_file`, else
    /// `<audit log>.policy-state.json`; daily caps without either are refused (a restart
    /// would silently reset them).
    pub fn new(inner: S, policy: Policy, audit: Option<AuditLog>) -> Result<Self, SignerError> {
        if let Some(pinned) = policy.chain_id {
            if pinned != inner.chain_id() {
                return Err(policy_err(format!(
                    "rule `chain_id` pins chain {pinned} but the signer is bound to chain {}",
                    inner.chain_id()
                )));
            }
        }
        let state_path = policy.state_file.clone().or_else(|| {
            audit.as_ref().map(|a| {
                let mut p = a.path().as_os_str().to_owned();
                p.push(".policy-state.json");
                PathBuf::from(p)
            })
        });
        if policy.has_daily_caps() && state_path.is_none() {
            return Err(policy_err(
                "daily caps need a state file: set `state_file` in the policy or use an audit log",
            ));
        }
        Ok(PolicySigner {
            inner,
            policy,
            audit,
            state: Mutex::new(StateStore::load(state_path)?),
            clock: Arc::new(now_secs),
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The wrapped signer.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn record(&self, now: u64, req: &SignRequest<'_>) -> AuditRecord {
        let mut r = AuditRecord {
            time: utc_rfc3339(now),
            method: req.method().as_str().to_string(),
            chain_id: self.inner.chain_id(),
            from: format!("{:?}", req.from()),
            to: None,
            value: None,
            max_fee: None,
            nonce: None,
            tx_type: None,
            message_len: None,
            primary_type: None,
            digest: format!("{:?}", req.digest()),
            tx_hash: None,
            decision: Decision::Allowed,
            rule: None,
            detail: None,
            signature: None,
        };
        match req.payload() {
            SignPayload::Transaction(tx) => {
                r.chain_id = tx.chain_id;
                r.to = tx.action.to().map(|a| format!("{a:?}"));
                r.value = Some(format!("{:#x}", tx.value));
                r.max_fee = Some(format!("{:#x}", max_fee(tx)));
                r.nonce = Some(format!("{:#x}", tx.nonce));
                r.tx_type = Some(tx.tx_type() as u8);
            }
            SignPayload::Message(m) => r.message_len = Some(m.len()),
            SignPayload::TypedData(td) => r.primary_type = Some(td.primary_type.clone()),
            SignPayload::Hash => {}
        }
        r
    }

    fn log(&self, record: &AuditRecord) -> Result<(), SignerError> {
        match &self.audit {
            Some(log) => log
                .append(record)
                .map(|_| ())
                .map_err(|e| SignerError::Audit(e.to_string())),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl<S: Signer> Signer for PolicySigner<S> {
    fn chain_id(&self) -> u32 {
        self.inner.chain_id()
    }

    fn blind_signing_enabled(&self) -> bool {
        self.inner.blind_signing_enabled()
    }

    async fn accounts(&self) -> Result<Vec<Account>, SignerError> {
        self.inner.accounts().await
    }

    async fn sign_request(&self, req: &SignRequest<'_>) -> Result<VerifiedSignature, SignerError> {
        let mut state = self.state.lock().await;
        let now = (self.clock)();
        let today = state.today(&utc_date(now));
        let mut record = self.record(now, req);

        if let Err((rule, detail)) = self.policy.check(self.inner.chain_id(), req, &today) {
            record.decision = Decision::Refused;
            record.rule = Some(rule.clone());
            record.detail = Some(detail.clone());
            self.log(&record)?;
            return Err(SignerError::PolicyRefused { rule, detail });
        }

        let signed = self.inner.sign_request(req).await.and_then(|sig| {
            // The backend checked it against the key; here only that it answers this request.
            if sig.is_for(req) {
                Ok(sig)
            } else {
                Err(SignerError::SignatureCheckFailed(req.from()))
            }
        });
        let sig = match signed {
            Ok(sig) => sig,
            Err(e) => {
                record.decision = Decision::Failed;
                record.detail = Some(e.to_string());
                self.log(&record)?;
                return Err(e);
            }
        };

        if let SignPayload::Transaction(tx) = req.payload() {
            record.tx_hash = Some(format!("{:?}", tx.clone().with_signature(*sig).hash()));
            let totals = DayTotals {
                day: today.day.clone(),
                value: today.value.saturating_add(tx.value),
                fees: today.fees.saturating_add(max_fee(tx)),
                count: today.count.saturating_add(1),
            };
            // Persist the totals before releasing the signature: fail closed.
            state.commit(totals)?;
        }
        record.signature = Some(format!("0x{}", hex::encode(signature_to_bytes(&sig))));
        self.log(&record)?;
        Ok(sig)
    }

    // Overridden so that every request, even one the defaults would refuse before
    // `sign_request` (wrong chain, blind signing off), is judged and audited here.
    async fn sign_transaction(
        &self,
        from: &H160,
        tx: &Transaction,
    ) -> Result<SignedTransaction, SignerError> {
        let sig = self
            .sign_request(&SignRequest::transaction(*from, tx))
            .await?;
        Ok(tx.clone().with_signature(sig.into_signature()))
    }

    async fn sign_hash(&self, from: &H160, hash: &H256) -> Result<VerifiedSignature, SignerError> {
        self.sign_request(&SignRequest::hash(*from, *hash)).await
    }
}
