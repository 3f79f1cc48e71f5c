//! `--signer` specs and the factory that opens a backend from one.
//!
//! A spec is `<backend>[:<argument>]`. Backends: `bsim` (`bsim:reader=<name>,coins=503+60`),
//! `keystore` (`keystore:<dir>` or `keystore:dir=<dir>,account=<addr>,blind_signing=true`),
//! `pkcs11` (`pkcs11:module=<path>,token=<label>[,key=<label>]`, built with the `pkcs11`
//! feature), `plugin` (`plugin:<executable> [args…]`, `plugin:timeout=<s> -- <executable>
//! [args…]`, built with the `plugin` feature; words split as [`split_words`] says),
//! `remote` (`remote:<multiaddr>/p2p/<peer id>[,key=<path>][,timeout=<s>]`, or
//! `remote:mdns/p2p/<peer id>[,…]` to find it by mDNS, built with the
//! `remote` feature). The argument of a key=value form is a comma-separated
//! list of `key=value` pairs; a keystore argument without `=` is the directory itself, so
//! any path works.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

use cfxlight_primitives::H160;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::{
    error::SignerError,
    keystore::{KeystoreOptions, KeystoreSigner},
    signer::Signer,
    typed_data::parse_address,
};

/// The coin types of `bsim:coins=…`: SLIP-44 numbers joined by `+` (`503+60`), each
/// once; 503 (Conflux) and 60 (Ethereum, as Fluent provisions) are the ones a BSIM card
/// holds secp256k1 keys for.
pub fn parse_coins(s: &str) -> Result<Vec<u32>, SpecError> {
    let bad = |why: String| SpecError::BadOption(format!("coins={s}: {why}"));
    let mut out = vec![];
    for part in s.split('+') {
        let coin: u32 = part
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{part}` is not a coin type number")))?;
        if ![503, 60].contains(&coin) {
            return Err(bad(format!(
                "coin type {coin}: a BSIM card's secp256k1 keys are 503 (Conflux) or 60 (Ethereum)"
            )));
        }
        if out.contains(&coin) {
            return Err(bad(format!("coin type {coin} given twice")));
        }
        out.push(coin);
    }
    Ok(out)
}

/// Why a signer spec string could not be understood.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    /// The part before the first `:` names no known backend.
    #[error("unknown signer backend `{0}` (known: bsim, keystore, pkcs11, plugin, remote)")]
    UnknownBackend(String),
    /// The spec string was empty.
    #[error("empty signer spec")]
    Empty,
    /// An option is not `key=value`, is repeated, or is not known to the backend.
    #[error("bad signer option `{0}`")]
    BadOption(String),
}

/// The signer backends a `--signer` spec can name (the part before the first `:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// A BSIM card over PC/SC (`bsim`, the `bsim` feature).
    Bsim,
    /// A directory of V3 key files (`keystore`, always built).
    Keystore,
    /// A PKCS#11 token (`pkcs11`, the `pkcs11` feature).
    Pkcs11,
    /// An external plugin over stdio (`plugin`, the `plugin` feature).
    Plugin,
    /// A signer on another machine over libp2p (`remote`, the `remote` feature).
    Remote,
}

impl Backend {
    /// Every backend, in the order messages list them.
    pub const ALL: [Backend; 5] = [
        Backend::Keystore,
        Backend::Bsim,
        Backend::Pkcs11,
        Backend::Plugin,
        Backend::Remote,
    ];

    /// The name a spec uses (`bsim`, `keystore`, …).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Bsim => "bsim",
            Backend::Keystore => "keystore",
            Backend::Pkcs11 => "pkcs11",
            Backend::Plugin => "plugin",
            Backend::Remote => "remote",
        }
    }

    /// Whether this build can open the backend (its cargo feature is on).
    pub fn is_built(self) -> bool {
        match self {
            Backend::Bsim => cfg!(feature = "bsim"),
            Backend::Keystore => true,
            Backend::Pkcs11 => cfg!(feature = "pkcs11"),
            Backend::Plugin => cfg!(feature = "plugin"),
            Backend::Remote => cfg!(feature = "remote"),
        }
    }

    /// Whether opening it needs a password or PIN up front (so a CLI knows to prompt): a
    /// keystore to decrypt, a card or token to unlock. A plugin asks for its own secrets
    /// and a remote signer's serving side holds them.
    pub fn needs_secret(self) -> bool {
        matches!(self, Backend::Keystore | Backend::Bsim | Backend::Pkcs11)
    }

    /// The backends this build opens, comma-separated (for messages).
    pub fn available() -> String {
        Backend::ALL
            .iter()
            .filter(|b| b.is_built())
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| SpecError::UnknownBackend(s.to_string()))
    }
}

/// A parsed `--signer` value: which backend, and its backend-specific argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerSpec {
    /// Which backend.
    pub backend: Backend,
    /// Everything after the first `:`, uninterpreted here (e.g. `reader=<name>` or a directory).
    pub arg: Option<String>,
}

impl std::str::FromStr for SignerSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SpecError::Empty);
        }
        let (backend, arg) = match s.split_once(':') {
            Some((b, a)) => (b, Some(a.to_string())),
            None => (s, None),
        };
        Ok(SignerSpec {
            backend: backend.parse()?,
            arg,
        })
    }
}

impl fmt::Display for SignerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(a) => write!(f, "{}:{a}", self.backend),
            None => write!(f, "{}", self.backend),
        }
    }
}

impl SignerSpec {
    /// The argument as `key=value` pairs (`a=1,b=2`); empty without an argument.
    pub fn options(&self) -> Result<BTreeMap<String, String>, SpecError> {
        let mut out = BTreeMap::new();
        let Some(arg) = self.arg.as_deref().filter(|a| !a.is_empty()) else {
            return Ok(out);
        };
        for part in arg.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| SpecError::BadOption(part.to_string()))?;
            let k = k.trim();
            if k.is_empty() || out.insert(k.to_string(), v.to_string()).is_some() {
                return Err(SpecError::BadOption(part.to_string()));
            }
        }
        Ok(out)
    }

    /// The keystore settings of a `keystore:` spec.
    pub fn keystore(&self) -> Result<KeystoreSpec, SpecError> {
        if self.backend != Backend::Keystore {
            return Err(SpecError::BadOption(format!(
                "`{}` is not a keystore spec",
                self.backend
            )));
        }
        let arg = self.arg.as_deref().unwrap_or_default();
        if arg.is_empty() {
            return Err(SpecError::BadOption(
                "keystore needs a directory: keystore:<dir>".into(),
            ));
        }
        if !arg.starts_with("dir=") {
            return Ok(KeystoreSpec {
                dir: PathBuf::from(arg),
                account: None,
                blind_signing: false,
            });
        }
        let mut spec = KeystoreSpec {
            dir: PathBuf::new(),
            account: None,
            blind_signing: false,
        };
        for (k, v) in self.options()? {
            match k.as_str() {
                "dir" => spec.dir = PathBuf::from(v),
                "account" => {
                    spec.account = Some(
                        parse_address(&v)
                            .map_err(|_| SpecError::BadOption(format!("account={v}")))?,
                    )
                }
                "blind_signing" => {
                    spec.blind_signing = match v.as_str() {
                        "true" | "on" | "1" => true,
                        "false" | "off" | "0" => false,
                        _ => return Err(SpecError::BadOption(format!("blind_signing={v}"))),
                    }
                }
                other => {
                    return Err(SpecError::BadOption(format!(
                        "{other} (keystore knows dir, account, blind_signing)"
                    )))
                }
            }
        }
        Ok(spec)
    }

    /// The command and options of a `plugin:` spec.
    ///
    /// `plugin:<executable> [args…]` runs the words as they are. Options go before a `--`
    /// word: `plugin:timeout=300 -- <executable> [args…]` (comma-separated `key=value`, as
    /// in the other specs); words before a `--` are options only when every one of them is
    /// `key=value`, so a command that itself uses `--` needs no escaping.
    pub fn plugin(&self) -> Result<PluginSpec, SpecError> {
        if self.backend != Backend::Plugin {
            return Err(SpecError::BadOption(format!(
                "`{}` is not a plugin spec",
                self.backend
            )));
        }
        let words = split_words(self.arg.as_deref().unwrap_or_default())?;
        let (options, command) = match words.iter().position(|w| w == "--") {
            Some(i) if i > 0 && words[..i].iter().all(|w| w.contains('=')) => {
                (&words[..i], &words[i + 1..])
            }
            _ => (&words[..0], &words[..]),
        };
        let mut timeout = PLUGIN_DEFAULT_TIMEOUT;
        for part in options.iter().flat_map(|w| w.split(',')) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| SpecError::BadOption(part.to_string()))?;
            match k {
                "timeout" => timeout = parse_timeout(v)?,
                other => {
                    return Err(SpecError::BadOption(format!(
                        "{other} (plugin knows timeout)"
                    )))
                }
            }
        }
        let Some((program, args)) = command.split_first() else {
            return Err(SpecError::BadOption(
                "plugin needs a command: plugin:<executable> [args…] (e.g. plugin:python3 signer/plugins/example_plugin.py --key-file key.hex)".into(),
            ));
        };
        Ok(PluginSpec {
            program: program.clone(),
            args: args.to_vec(),
            timeout,
        })
    }

    /// The token settings of a `pkcs11:module=<path>,token=<label>[,key=<label>]` spec.
    pub fn pkcs11(&self) -> Result<Pkcs11Spec, SpecError> {
        if self.backend != Backend::Pkcs11 {
            return Err(SpecError::BadOption(format!(
                "`{}` is not a pkcs11 spec",
                self.backend
            )));
        }
        let (mut module, mut token, mut key) = (None, None, None);
        for (k, v) in self.options()? {
            if v.is_empty() {
                return Err(SpecError::BadOption(format!("{k}= is empty")));
            }
            match k.as_str() {
                "module" => module = Some(PathBuf::from(v)),
                "token" => token = Some(v),
                "key" => key = Some(v),
                other => {
                    return Err(SpecError::BadOption(format!(
                        "{other} (pkcs11 knows module, token, key)"
                    )))
                }
            }
        }
        match (module, token) {
            (Some(module), Some(token)) => Ok(Pkcs11Spec { module, token, key }),
            _ => Err(SpecError::BadOption(
                "pkcs11 needs module=<path> and token=<label>: pkcs11:module=/usr/lib/softhsm/libsofthsm2.so,token=<label>[,key=<label>]".into(),
            )),
        }
    }
}

/// The settings of a `remote:` spec (parsed in every build; opened only with the `remote`
/// feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// `<multiaddr>/p2p/<peer id>`: where the serving signer listens and its identity.
    pub address: String,
    /// This side's identity key file (default: the node's `<datadir>/remote-signer.key`).
    pub key: Option<PathBuf>,
    /// How long a signing request may take (default 120 s: a human may be confirming).
    pub timeout: Duration,
}

impl SignerSpec {
    /// The settings of a `remote:<multiaddr>/p2p/<peer id>[,key=<path>][,timeout=<s>]` spec
    /// (a multiaddr has no commas, so options follow it).
    pub fn remote(&self) -> Result<RemoteSpec, SpecError> {
        if self.backend != Backend::Remote {
            return Err(SpecError::BadOption(format!(
                "`{}` is not a remote spec",
                self.backend
            )));
        }
        let arg = self.arg.as_deref().unwrap_or_default();
        let mut parts = arg.split(',');
        let address = parts.next().unwrap_or_default().trim().to_string();
        let placed = address.starts_with('/') && address.contains("/p2p/");
        if !placed && !address.starts_with("mdns/p2p/") {
            return Err(SpecError::BadOption(format!(
                "remote needs <multiaddr>/p2p/<peer id> (e.g. remote:/ip4/192.168.1.20/tcp/4100/p2p/12D3KooW…) or mdns/p2p/<peer id> (found on the local network, announced by `signer serve --mdns`), got `{address}`"
            )));
        }
        // The remote default is the plugin's (`remote::DEFAULT_SIGN_TIMEOUT` is this value).
        let (mut key, mut timeout) = (None, PLUGIN_DEFAULT_TIMEOUT);
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| SpecError::BadOption(part.to_string()))?;
            match k {
                "key" if !v.is_empty() => key = Some(PathBuf::from(v)),
                "timeout" => timeout = parse_timeout(v)?,
                other => {
                    return Err(SpecError::BadOption(format!(
                        "{other} (remote knows key, timeout)"
                    )))
                }
            }
        }
        Ok(RemoteSpec {
            address,
            key,
            timeout,
        })
    }
}

/// A `timeout=` value: whole seconds, > 0, an optional `s` suffix.
fn parse_timeout(v: &str) -> Result<Duration, SpecError> {
    v.strip_suffix('s')
        .unwrap_or(v)
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| SpecError::BadOption(format!("timeout={v} (whole seconds, > 0)")))
}

/// The default per-request timeout of a plugin's signing methods: long enough for a human
/// to read and confirm on a device.
pub const PLUGIN_DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The settings of a `plugin:` spec (parsed in every build; opened only with the `plugin`
/// feature): `plugin:<executable> [args…]`, or `plugin:<options> -- <executable> [args…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// The executable (looked up on `PATH` when it has no `/`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long a signing request may take (the user may be confirming on a device).
    pub timeout: Duration,
}

/// Splits a plugin command line into words: whitespace separates, `'…'` quotes literally,
/// `"…"` quotes with `\\` and `\"` escapes, `\` escapes one character outside quotes. No
/// variables, globs or other shell expansion.
pub fn split_words(line: &str) -> Result<Vec<String>, SpecError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    let bad = |m: &str| SpecError::BadOption(format!("plugin command: {m}"));
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(bad("unterminated '")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(bad("unterminated \"")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(bad("unterminated \"")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err(bad("trailing \\")),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The settings of a `pkcs11:` spec (parsed in every build; opened only with the `pkcs11`
/// feature). Values cannot contain commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Spec {
    /// The PKCS#11 module (shared library) to load.
    pub module: PathBuf,
    /// The token's label (`CKA_LABEL` of the token, as `softhsm2-util --init-token --label`).
    pub token: String,
    /// Only the key pair with this `CKA_LABEL` (all secp256k1 keys when absent); for
    /// `signer new`, the new key's label.
    pub key: Option<String>,
}

/// The settings of a `keystore:` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreSpec {
    /// The key directory.
    pub dir: PathBuf,
    /// Only this account's key file, if given.
    pub account: Option<H160>,
    /// Whether raw hash signing is allowed.
    pub blind_signing: bool,
}

/// Run-time settings for [`open_signer`] that do not belong in a spec string.
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// The PIN or password, if the caller has one (keystore: required to list or sign).
    pub secret: Option<Zeroizing<String>>,
    /// Allow raw hash signing regardless of the spec (off by default).
    pub allow_blind_signing: bool,
    /// BSIM: refuse the card unless every key carries this issuer's attestation bound to
    /// the card's ICCID (`--require-attestation`; the issuer's 64-byte public key).
    pub require_attestation: Option<[u8; 64]>,
    /// Remote: this side's identity key file when the spec names none (the node passes
    /// `<datadir>/remote-signer.key`).
    pub remote_key: Option<PathBuf>,
}

impl fmt::Debug for OpenOptions {
    // By hand: the secret must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("allow_blind_signing", &self.allow_blind_signing)
            .finish()
    }
}

/// Opens the backend a spec names, bound to `chain_id`.
///
/// `keystore`, `bsim`, `pkcs11` when built with that feature (PIN from `options.secret`,
/// the default [`LoginLimits`](crate::pkcs11::LoginLimits)), `plugin` when built with
/// that feature (the plugin asks for its own secrets; `options.secret` is not passed on),
/// and `remote` when built with that feature (the serving side holds its own secrets).
/// Every other backend is an [`SignerError::UnsupportedBackend`].
pub fn open_signer(
    spec: &SignerSpec,
    chain_id: u32,
    options: OpenOptions,
) -> Result<Box<dyn Signer>, SignerError> {
    match spec.backend {
        Backend::Keystore => {
            let ks = spec
                .keystore()
                .map_err(|e| SignerError::InvalidSpec(e.to_string()))?;
            let signer = KeystoreSigner::open(
                &ks.dir,
                chain_id,
                KeystoreOptions {
                    password: options.secret,
                    account: ks.account,
                    allow_blind_signing: ks.blind_signing || options.allow_blind_signing,
                },
            )?;
            Ok(Box::new(signer))
        }
        #[cfg(feature = "bsim")]
        Backend::Bsim => {
            let opts = spec
                .options()
                .map_err(|e| SignerError::InvalidSpec(e.to_string()))?;
            if let Some(k) = opts
                .keys()
                .find(|k| !["reader", "coins"].contains(&k.as_str()))
            {
                return Err(SignerError::InvalidSpec(format!(
                    "unknown bsim option `{k}` (known: reader, coins)"
                )));
            }
            let reader = opts.get("reader").cloned();
            let coins = match opts.get("coins") {
                None => vec![],
                Some(c) => parse_coins(c).map_err(|e| SignerError::InvalidSpec(e.to_string()))?,
            };
            let signer = crate::bsim::BsimSigner::open(
                crate::bsim::BsimSpec {
                    reader,
                    coins,
                    require_attestation: options.require_attestation,
                },
                chain_id,
                options.secret,
            )?;
            Ok(Box::new(signer))
        }
        #[cfg(feature = "pkcs11")]
        Backend::Pkcs11 => {
            let p = spec
                .pkcs11()
                .map_err(|e| SignerError::InvalidSpec(e.to_string()))?;
            let signer = crate::pkcs11::Pkcs11Signer::open(
                p,
                chain_id,
                options.secret,
                crate::pkcs11::LoginLimits::default(),
            )?;
            Ok(Box::new(signer))
        }
        #[cfg(feature = "plugin")]
        Backend::Plugin => {
            let p = spec
                .plugin()
                .map_err(|e| SignerError::InvalidSpec(e.to_string()))?;
            Ok(Box::new(crate::plugin::PluginSigner::open(p, chain_id)?))
        }
        #[cfg(feature = "remote")]
        Backend::Remote => {
            let r = spec
                .remote()
                .map_err(|e| SignerError::InvalidSpec(e.to_string()))?;
            let key_path = r.key.or(options.remote_key).ok_or_else(|| {
                SignerError::InvalidSpec(
                    "remote: no identity key: add ,key=<path> (make one and see its peer id with `cfxlight signer remote-id --key <path>`)".into(),
                )
            })?;
            let key = crate::remote::load_or_create_identity(&key_path)?;
            Ok(Box::new(crate::remote::RemoteSigner::open(
                crate::remote::RemoteOptions {
                    address: r.address,
                    key,
                    sign_timeout: r.timeout,
                },
                chain_id,
            )?))
        }
        #[allow(unreachable_patterns)] // every backend built: nothing left to refuse
        other => Err(SignerError::UnsupportedBackend(other)),
    }
}

/// Opens the backend a spec names, bound to `chain_id`, and wraps it in a
/// [`PolicySigner`](crate::PolicySigner) when a policy or an audit log is given (a missing
/// policy then allows everything, so an audit log alone records without refusing).
/// What a node or a command line calls; [`open_signer`] is the bare backend.
pub fn open(
    spec: &SignerSpec,
    chain_id: u32,
    options: OpenOptions,
    policy: Option<crate::Policy>,
    audit: Option<crate::AuditLog>,
) -> Result<Box<dyn Signer>, SignerError> {
    let signer = open_signer(spec, chain_id, options)?;
    if policy.is_none() && audit.is_none() {
        return Ok(signer);
    }
    Ok(Box::new(crate::PolicySigner::new(
        signer,
        policy.unwrap_or_else(crate::Policy::allow_all),
        audit,
    )?))
}

/// Whether opening this backend needs a password or PIN up front ([`Backend::needs_secret`]).
pub fn needs_secret(spec: &SignerSpec) -> bool {
    spec.backend.needs_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_and_argument() {
        let s: SignerSpec = "bsim:reader=Virtual PCD 00 00".parse().unwrap();
        assert_eq!(s.backend, Backend::Bsim);
        assert_eq!(s.arg.as_deref(), Some("reader=Virtual PCD 00 00"));
        let k: SignerSpec = "keystore".parse().unwrap();
        assert_eq!(k.arg, None);
        assert_eq!(
            "ledger".parse::<SignerSpec>(),
            Err(SpecError::UnknownBackend("ledger".into()))
        );
        assert_eq!("  ".parse::<SignerSpec>(), Err(SpecError::Empty));
    }

    #[test]
    fn key_value_options_and_keystore_forms() {
        let s: SignerSpec = "bsim:reader=Virtual PCD 00 00".parse().unwrap();
        assert_eq!(
            s.options().unwrap().get("reader").map(String::as_str),
            Some("Virtual PCD 00 00")
        );
        let plain: SignerSpec = "keystore:/tmp/a=b,c".parse().unwrap();
        assert_eq!(plain.keystore().unwrap().dir, PathBuf::from("/tmp/a=b,c"));
        let kv: SignerSpec =
            "keystore:dir=/k,account=0x1111111111111111111111111111111111111111,blind_signing=on"
                .parse()
                .unwrap();
        let ks = kv.keystore().unwrap();
        assert_eq!(ks.dir, PathBuf::from("/k"));
        assert_eq!(ks.account, Some(H160::repeat_byte(0x11)));
        assert!(ks.blind_signing);
        let bad: SignerSpec = "keystore:dir=/k,colour=red".parse().unwrap();
        assert!(matches!(bad.keystore(), Err(SpecError::BadOption(_))));
        let none: SignerSpec = "keystore".parse().unwrap();
        assert!(none.keystore().is_err());
        assert_eq!(
            kv.to_string(),
            "keystore:dir=/k,account=0x1111111111111111111111111111111111111111,blind_signing=on"
        );
    }

    #[test]
    fn pkcs11_specs_need_module_and_token() {
        let s: SignerSpec = "pkcs11:module=/m.so,token=cfx,key=k1".parse().unwrap();
        assert_eq!(
            s.pkcs11().unwrap(),
            Pkcs11Spec {
                module: PathBuf::from("/m.so"),
                token: "cfx".into(),
                key: Some("k1".into())
            }
        );
        let no_key: SignerSpec = "pkcs11:token=cfx,module=/m.so".parse().unwrap();
        assert_eq!(no_key.pkcs11().unwrap().key, None);
        for bad in [
            "pkcs11",
            "pkcs11:/usr/lib/softhsm/libsofthsm2.so",
            "pkcs11:module=/m.so",
            "pkcs11:module=/m.so,token=",
            "pkcs11:module=/m.so,token=a,slot=0",
        ] {
            let spec: SignerSpec = bad.parse().unwrap();
            assert!(spec.pkcs11().is_err(), "{bad}");
            assert!(
                matches!(
                    open_signer(&spec, 1, OpenOptions::default()),
                    Err(SignerError::InvalidSpec(_) | SignerError::UnsupportedBackend(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn plugin_specs_split_words_and_take_options_before_a_separator() {
        let p = |s: &str| s.parse::<SignerSpec>().unwrap().plugin();
        let plain = p("plugin:python3 signer/plugins/example_plugin.py --key-file /k").unwrap();
        assert_eq!(plain.program, "python3");
        assert_eq!(
            plain.args,
            ["signer/plugins/example_plugin.py", "--key-file", "/k"]
        );
        assert_eq!(plain.timeout, PLUGIN_DEFAULT_TIMEOUT);
        let quoted = p(r#"plugin:'/opt/my signer/run' "a b" c\ d "e\"f""#).unwrap();
        assert_eq!(quoted.program, "/opt/my signer/run");
        assert_eq!(quoted.args, ["a b", "c d", "e\"f"]);
        let opts = p("plugin:timeout=5 -- /bin/plug -- x").unwrap();
        assert_eq!(opts.timeout, Duration::from_secs(5));
        assert_eq!(opts.program, "/bin/plug");
        assert_eq!(opts.args, ["--", "x"]);
        // `--` after a word that is not key=value belongs to the command.
        let cmd = p("plugin:/bin/plug -- x").unwrap();
        assert_eq!((cmd.program.as_str(), cmd.args.len()), ("/bin/plug", 2));
        for bad in [
            "plugin",
            "plugin:",
            "plugin:timeout=5 --",
            "plugin:timeout=0 -- x",
            "plugin:colour=red -- x",
            "plugin:'unterminated",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remote_specs_need_an_address_with_a_peer_id_and_take_key_and_timeout() {
        let p = |s: &str| s.parse::<SignerSpec>().unwrap().remote();
        let id = "12D3KooWGjMCzXjfquzpEEvbs7qGfDjqXGDCP38Zw6ZtYdzUUmUk";
        let plain = p(&format!("remote:/ip4/10.0.0.1/tcp/4100/p2p/{id}")).unwrap();
        assert_eq!(plain.address, format!("/ip4/10.0.0.1/tcp/4100/p2p/{id}"));
        assert_eq!((plain.key, plain.timeout), (None, PLUGIN_DEFAULT_TIMEOUT));
        let opts = p(&format!(
            "remote:/ip4/10.0.0.1/tcp/4100/p2p/{id},key=/k/id.key,timeout=300s"
        ))
        .unwrap();
        assert_eq!(opts.key, Some(PathBuf::from("/k/id.key")));
        assert_eq!(opts.timeout, Duration::from_secs(300));
        let found = p(&format!("remote:mdns/p2p/{id},timeout=30")).unwrap();
        assert_eq!(found.address, format!("mdns/p2p/{id}"));
        for bad in [
            "remote".to_string(),
            format!("remote:mdns/{id}"),
            "remote:/ip4/10.0.0.1/tcp/4100".into(),
            format!("remote:10.0.0.1:4100/p2p/{id}"),
            format!("remote:/ip4/10.0.0.1/tcp/4100/p2p/{id},timeout=0"),
            format!("remote:/ip4/10.0.0.1/tcp/4100/p2p/{id},colour=red"),
        ] {
            assert!(p(&bad).is_err(), "{bad}");
        }
        #[cfg(feature = "remote")]
        {
            // No identity key given anywhere: refused before any dial.
            let spec: SignerSpec = format!("remote:/ip4/127.0.0.1/tcp/9/p2p/{id}")
                .parse()
                .unwrap();
            match open_signer(&spec, 1, OpenOptions::default()) {
                Err(SignerError::InvalidSpec(m)) => assert!(m.contains("remote-id"), "{m}"),
                other => panic!("{:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn backends_not_built_are_unsupported_not_silently_ignored() {
        #[cfg(not(feature = "pkcs11"))]
        let pkcs11 = Some("pkcs11:module=/usr/lib/softhsm/libsofthsm2.so,token=t");
        #[cfg(feature = "pkcs11")]
        let pkcs11 = None;
        #[cfg(not(feature = "plugin"))]
        let plugin = Some("plugin:x");
        #[cfg(feature = "plugin")]
        let plugin = None;
        #[cfg(not(feature = "remote"))]
        let remote = Some("remote:/ip4/10.0.0.1/tcp/4100/p2p/12D3KooWGjMCzXjfquzpEEvbs7qGfDjqXGDCP38Zw6ZtYdzUUmUk");
        #[cfg(feature = "remote")]
        let remote: Option<&str> = None;
        for s in remote.into_iter().chain(pkcs11).chain(plugin) {
            let spec: SignerSpec = s.parse().unwrap();
            match open_signer(&spec, 1, OpenOptions::default()) {
                Err(SignerError::UnsupportedBackend(b)) => assert_eq!(b, spec.backend),
                other => panic!("{s}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn backend_names_round_trip_and_the_build_lists_what_it_opens() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>(), Ok(b));
            let spec: SignerSpec = format!("{b}:x=1").parse().unwrap();
            assert_eq!(
                (spec.backend, spec.to_string()),
                (b, format!("{}:x=1", b.name()))
            );
        }
        assert_eq!(
            "Bsim".parse::<Backend>(),
            Err(SpecError::UnknownBackend("Bsim".into()))
        );
        let listed = Backend::available();
        assert!(listed.starts_with("keystore"), "{listed}");
        for b in Backend::ALL {
            assert_eq!(
                listed.split(", ").any(|n| n == b.name()),
                b.is_built(),
                "{listed}"
            );
        }
        let e = SignerError::UnsupportedBackend(Backend::Pkcs11).to_string();
        assert!(
            e.contains("`pkcs11` is not available") && e.contains(&listed),
            "{e}"
        );
    }

    #[test]
    fn coin_types_are_503_and_60_each_once() {
        assert_eq!(parse_coins("503+60"), Ok(vec![503, 60]));
        assert_eq!(parse_coins("60"), Ok(vec![60]));
        for bad in ["", "503+", "61", "503+503", "sixty"] {
            assert!(parse_coins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bsim_with_a_reader_that_does_not_exist_says_card_absent() {
        let spec: SignerSpec = "bsim:reader=No Such Reader 99".parse().unwrap();
        match open_signer(&spec, 1, OpenOptions::default()) {
            // Without pcscd at all the context fails; either way the user is told clearly.
            Err(SignerError::CardAbsent { reader }) => {
                assert_eq!(reader.as_deref(), Some("No Such Reader 99"))
            }
            Err(SignerError::Backend(m)) => assert!(m.contains("BSIM"), "{m}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
