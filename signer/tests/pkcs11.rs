#![allow(clippy::unwrap_used, missing_docs)]
//! The `pkcs11` backend against real SoftHSM2 (Debian's `softhsm2`): keys made on the token,
//! listing, signing of every transaction type and of messages, the private key's attributes
//! read back, wrong PINs and the node's own back-off, token choice by label, policy and audit
//! over a token, and the `cfxlight signer` commands.
//!
//! Each test process gets its own SoftHSM token directory (`SOFTHSM2_CONF` pointing at a
//! config in a temp dir) with one token per test, all initialised by `softhsm2-util` before
//! the module is first loaded (SoftHSM reads its slots at `C_Initialize`). Without the module
//! the tests are skipped with a message, except under CI (`CI` set), where that is a failure.

#[cfg(feature = "pkcs11")]
mod pkcs11 {
    use std::{
        path::{Path, PathBuf},
        process::Command,
        sync::OnceLock,
        time::Duration,
    };

    use cfxlight_primitives::{
        crypto::{public_to_address, recover},
        transaction::SignedTransaction,
        H160, U256,
    };
    #[cfg(feature = "cli")]
    use cfxlight_signer::cli::{run_with, SignerCommand};
    use cfxlight_signer::{
        message::personal_message_hash,
        open_signer,
        pkcs11::{context, token_slot, LoginLimits},
        txjson::parse_tx_json,
        verify_audit, AuditLog, OpenOptions, Pkcs11Signer, Pkcs11Spec, Policy, PolicySigner,
        Signer, SignerError, SignerSpec,
    };
    #[cfg(feature = "cli")]
    use clap::Parser;
    use cryptoki::{
        object::{Attribute, AttributeType, ObjectClass},
        session::UserType,
        types::AuthPin,
    };
    use zeroize::Zeroizing;

    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    const PIN: &str = "246810";
    const CHAIN: u32 = 2029;
    /// One token per test, so tests running side by side in one process never share one.
    const TOKENS: &[&str] = &[
        "cfx-sign",
        "cfx-cli",
        "cfx-attrs",
        "cfx-pin",
        "cfx-policy",
        "cfx-nopin",
    ];

    struct Hsm {
        _dir: tempfile::TempDir,
    }

    /// The process's SoftHSM token directory with [`TOKENS`] initialised, or None (skipped).
    fn softhsm() -> Option<&'static Hsm> {
        static HSM: OnceLock<Option<Hsm>> = OnceLock::new();
        HSM.get_or_init(|| {
            if !Path::new(MODULE).is_file() {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI needs SoftHSM2 ({MODULE}): apt-get install softhsm2 (.ci/run does)"
                );
                eprintln!("skipped: {MODULE} missing (apt-get install softhsm2)");
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let tokens = dir.path().join("tokens");
            std::fs::create_dir(&tokens).unwrap();
            let conf = dir.path().join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .unwrap();
            // Before any thread loads the module: SoftHSM reads the variable at C_Initialize.
            std::env::set_var("SOFTHSM2_CONF", &conf);
            for label in TOKENS {
                let out = Command::new("softhsm2-util")
                    .args(["--init-token", "--free", "--label", label])
                    .args(["--so-pin", "13579246", "--pin", PIN])
                    .env("SOFTHSM2_CONF", &conf)
                    .output()
                    .expect("softhsm2-util (apt-get install softhsm2)");
                assert!(
                    out.status.success(),
                    "softhsm2-util --init-token {label}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(Hsm { _dir: dir })
        })
        .as_ref()
    }

    fn spec(token: &str, key: Option<&str>) -> Pkcs11Spec {
        Pkcs11Spec {
            module: PathBuf::from(MODULE),
            token: token.into(),
            key: key.map(Into::into),
        }
    }

    fn spec_str(token: &str) -> String {
        format!("pkcs11:module={MODULE},token={token}")
    }

    fn pin(p: &str) -> Zeroizing<String> {
        Zeroizing::new(p.to_string())
    }

    fn open(token: &str) -> Box<dyn Signer> {
        let s: SignerSpec = spec_str(token).parse().unwrap();
        open_signer(
            &s,
            CHAIN,
            OpenOptions {
                secret: Some(pin(PIN)),
                allow_blind_signing: false,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn half_order() -> U256 {
        U256::from_str_radix(
            "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
            16,
        )
        .unwrap()
    }

    const TO: &str = "0x1386b4185a223ef49592233b69291bbe5a80c527";

    /// The three transaction types in `signer/src/txjson.rs`'s js-conflux-sdk JSON form.
    fn tx_jsons(nonce: u64) -> [String; 3] {
        let base = format!(
            r#""to":"{TO}","nonce":{nonce},"gas":21000,"storageLimit":0,"epochHeight":7,"value":"0xde0b6b3a7640000""#
        );
        [
            format!(r#"{{{base},"gasPrice":1}}"#),
            format!(r#"{{{base},"type":1,"gasPrice":2,"accessList":[]}}"#),
            format!(r#"{{{base},"maxFeePerGas":10,"maxPriorityFeePerGas":1}}"#),
        ]
    }

    #[tokio::test]
    async fn a_key_made_on_the_token_signs_all_transaction_types_and_messages_low_s() {
        if softhsm().is_none() {
            return;
        }
        let (made, label) = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::generate_key(
                &spec("cfx-sign", Some("k1")),
                &pin(PIN),
                LoginLimits::default(),
            )
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(label, "k1");
        assert_eq!(made.address, public_to_address(&made.public));
        let signer = tokio::task::spawn_blocking(|| open("cfx-sign"))
            .await
            .unwrap();
        assert_eq!(signer.accounts().await.unwrap(), vec![made]);
        let me = made.address;

        let mut v1_seen = 0;
        for nonce in 0..20u64 {
            for json in tx_jsons(nonce) {
                let req = parse_tx_json(&json, CHAIN).unwrap();
                let signed = signer.sign_transaction(&me, &req.tx).await.unwrap();
                assert!(signed.signature.s <= half_order(), "high S left in");
                let decoded = SignedTransaction::decode(&signed.encode()).unwrap();
                assert_eq!(decoded.recover_sender().unwrap().0, me);
                assert_eq!(decoded.tx, req.tx);
                v1_seen += usize::from(signed.signature.v == 1);
            }
        }
        // Both recovery ids occur: the trial recovery is doing work, not always picking 0.
        assert!(v1_seen > 0 && v1_seen < 60, "{v1_seen}");

        let sig = signer.sign_message(&me, b"Hello world!").await.unwrap();
        assert!(sig.s <= half_order());
        let public = recover(&personal_message_hash(b"Hello world!"), &sig).unwrap();
        assert_eq!(public_to_address(&public), me);

        // Blind hash signing and other accounts are refused; a tx for another chain too.
        let err = signer
            .sign_hash(&me, &Default::default())
            .await
            .unwrap_err();
        assert!(matches!(err, SignerError::BlindSigningDisabled), "{err}");
        let other = H160::repeat_byte(9);
        let err = signer.sign_message(&other, b"x").await.unwrap_err();
        assert!(matches!(err, SignerError::UnknownAccount(_)), "{err}");
        let wrong_chain = parse_tx_json(&tx_jsons(0)[0], 1).unwrap();
        let err = signer
            .sign_transaction(&me, &wrong_chain.tx)
            .await
            .unwrap_err();
        assert!(matches!(err, SignerError::WrongChainId { .. }), "{err}");

        // A second key: both listed; `key=` selects one.
        let (second, _) = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::generate_key(&spec("cfx-sign", None), &pin(PIN), LoginLimits::default())
        })
        .await
        .unwrap()
        .unwrap();
        let both = tokio::task::spawn_blocking(|| open("cfx-sign"))
            .await
            .unwrap();
        let mut listed = both.accounts().await.unwrap();
        listed.sort_by_key(|a| a.address);
        let mut want = vec![made, second];
        want.sort_by_key(|a| a.address);
        assert_eq!(listed, want);
        let only_k1 = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::open(
                spec("cfx-sign", Some("k1")),
                CHAIN,
                Some(pin(PIN)),
                LoginLimits::default(),
            )
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(only_k1.accounts().await.unwrap(), vec![made]);
        assert_eq!(only_k1.key_labels(), vec![(me, "k1".to_string())]);
    }

    #[tokio::test]
    async fn without_a_pin_accounts_are_listed_and_signing_asks_for_the_pin() {
        if softhsm().is_none() {
            return;
        }
        let (made, _) = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::generate_key(&spec("cfx-nopin", None), &pin(PIN), LoginLimits::default())
        })
        .await
        .unwrap()
        .unwrap();
        let signer = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::open(spec("cfx-nopin", None), CHAIN, None, LoginLimits::default())
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(signer.accounts().await.unwrap(), vec![made]);
        let err = signer.sign_message(&made.address, b"x").await.unwrap_err();
        assert!(matches!(err, SignerError::PinRequired), "{err}");

        // PKCS#11 login is per process: while one signer is logged in, a second one opened
        // with a wrong PIN must still be refused (not waved through as "already logged in").
        let first = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::open(
                spec("cfx-nopin", None),
                CHAIN,
                Some(pin(PIN)),
                LoginLimits::default(),
            )
        })
        .await
        .unwrap()
        .unwrap();
        first.sign_message(&made.address, b"x").await.unwrap();
        let err = tokio::task::spawn_blocking(|| {
            Pkcs11Signer::open(
                spec("cfx-nopin", None),
                CHAIN,
                Some(pin("111111")),
                LoginLimits::default(),
            )
            .map(|_| ())
        })
        .await
        .unwrap()
        .unwrap_err();
        assert!(matches!(err, SignerError::TokenWrongPin { .. }), "{err}");
        // That check logged the process out; the first signer logs in again with its own PIN
        // once the back-off allows, and signs.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let sig = first.sign_message(&made.address, b"again").await.unwrap();
        let public = recover(&personal_message_hash(b"again"), &sig).unwrap();
        assert_eq!(public_to_address(&public), made.address);
    }

    #[tokio::test]
    async fn the_private_key_is_on_the_token_sensitive_and_never_extractable() {
        if softhsm().is_none() {
            return;
        }
        tokio::task::spawn_blocking(|| {
            Pkcs11Signer::generate_key(
                &spec("cfx-attrs", Some("kx")),
                &pin(PIN),
                LoginLimits::default(),
            )
            .unwrap();
            // Read back with cryptoki directly, in a session of our own.
            let ctx = context(Path::new(MODULE)).unwrap();
            let slot = token_slot(&ctx, Path::new(MODULE), "cfx-attrs").unwrap();
            let session = ctx.open_ro_session(slot).unwrap();
            match session.login(UserType::User, Some(&AuthPin::from(PIN))) {
                Ok(())
                | Err(cryptoki::error::Error::Pkcs11(
                    cryptoki::error::RvError::UserAlreadyLoggedIn,
                    _,
                )) => {}
                Err(e) => panic!("login: {e}"),
            }
            let keys = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Label(b"kx".to_vec()),
                ])
                .unwrap();
            assert_eq!(keys.len(), 1);
            let attrs = session
                .get_attributes(
                    keys[0],
                    &[
                        AttributeType::Token,
                        AttributeType::Private,
                        AttributeType::Sensitive,
                        AttributeType::Extractable,
                        AttributeType::AlwaysSensitive,
                        AttributeType::NeverExtractable,
                        AttributeType::Local,
                        AttributeType::EcParams,
                    ],
                )
                .unwrap();
            for want in [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::AlwaysSensitive(true),
                Attribute::NeverExtractable(true),
                Attribute::Local(true),
                Attribute::EcParams(vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]),
            ] {
                assert!(attrs.contains(&want), "{want:?} not in {attrs:?}");
            }
            // Raw CKM_ECDSA answers are r‖s, 64 bytes, and high-S about half the time: the
            // normalisation in `complete_signature` is needed, not decorative.
            let key = keys[0];
            let mut high = 0;
            for i in 0..100u8 {
                let raw = session
                    .sign(&cryptoki::mechanism::Mechanism::Ecdsa, key, &[i; 32])
                    .unwrap();
                assert_eq!(raw.len(), 64);
                high += usize::from(U256::from_big_endian(&raw[32..]) > half_order());
            }
            eprintln!("high-S in {high} of 100 raw SoftHSM signatures");
            assert!(high > 10 && high < 90, "{high}");
            // The secret value itself cannot be read.
            let value = session.get_attributes(keys[0], &[AttributeType::Value]);
            assert!(
                !matches!(&value, Ok(v) if !v.is_empty()),
                "CKA_VALUE readable: {value:?}"
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn wrong_pins_are_clear_back_off_and_lock_out_without_touching_the_token() {
        if softhsm().is_none() {
            return;
        }
        let limits = LoginLimits {
            max_failures: 3,
            first_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(2),
            lockout: Duration::from_secs(3),
        };
        let try_open = move |p: &str| {
            Pkcs11Signer::open(spec("cfx-pin", None), CHAIN, Some(pin(p)), limits).map(|_| ())
        };
        tokio::task::spawn_blocking(move || {
            let e = try_open("000000").unwrap_err();
            assert!(
                matches!(e, SignerError::TokenWrongPin { tries_left: 2, .. }),
                "{e}"
            );
            assert!(
                e.to_string().starts_with("wrong PIN for token `cfx-pin`"),
                "{e}"
            );
            // Too soon: even the right PIN is not tried.
            let e = try_open(PIN).unwrap_err();
            assert!(
                matches!(e, SignerError::LoginBackoff { failures: 1, .. }),
                "{e}"
            );
            assert!(e.to_string().contains("retry in"), "{e}");
            std::thread::sleep(Duration::from_millis(350));
            let e = try_open("000001").unwrap_err();
            assert!(
                matches!(e, SignerError::TokenWrongPin { tries_left: 1, .. }),
                "{e}"
            );
            // The delay doubled: 350 ms later it is still too soon.
            std::thread::sleep(Duration::from_millis(350));
            let e = try_open(PIN).unwrap_err();
            assert!(
                matches!(e, SignerError::LoginBackoff { failures: 2, .. }),
                "{e}"
            );
            std::thread::sleep(Duration::from_millis(300));
            let e = try_open("000002").unwrap_err();
            assert!(
                matches!(e, SignerError::TokenWrongPin { tries_left: 0, .. }),
                "{e}"
            );
            // Locked out: the right PIN is refused for the lockout's length.
            std::thread::sleep(Duration::from_millis(1300));
            let e = try_open(PIN).unwrap_err();
            assert!(
                matches!(e, SignerError::LoginLockedOut { failures: 3, .. }),
                "{e}"
            );
            assert!(e.to_string().contains("locked out by cfxlight"), "{e}");
            std::thread::sleep(Duration::from_millis(1800));
            // After the lockout the right PIN works (SoftHSM itself never locked) …
            try_open(PIN).unwrap();
            // … and the count starts again from zero.
            let e = try_open("000003").unwrap_err();
            assert!(
                matches!(e, SignerError::TokenWrongPin { tries_left: 2, .. }),
                "{e}"
            );
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_token_label_that_does_not_exist_names_the_labels_found() {
        if softhsm().is_none() {
            return;
        }
        let s: SignerSpec = format!("pkcs11:module={MODULE},token=no-such-token")
            .parse()
            .unwrap();
        let err = tokio::task::spawn_blocking(move || {
            open_signer(&s, CHAIN, OpenOptions::default()).map(|_| ())
        })
        .await
        .unwrap()
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SignerError::TokenNotFound { .. }), "{msg}");
        assert!(msg.contains("`no-such-token`"), "{msg}");
        for label in TOKENS {
            assert!(msg.contains(&format!("`{label}`")), "{msg}");
        }
        let s: SignerSpec = "pkcs11:module=/nonexistent/libx.so,token=a"
            .parse()
            .unwrap();
        let err = open_signer(&s, CHAIN, OpenOptions::default())
            .map(|_| ())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/libx.so does not exist"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn policy_and_audit_wrap_a_token() {
        if softhsm().is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        tokio::task::spawn_blocking(|| {
            Pkcs11Signer::generate_key(&spec("cfx-policy", None), &pin(PIN), LoginLimits::default())
        })
        .await
        .unwrap()
        .unwrap();
        let token = tokio::task::spawn_blocking(|| open("cfx-policy"))
            .await
            .unwrap();
        let me = token.accounts().await.unwrap()[0].address;
        let audit_path = dir.path().join("audit.jsonl");
        let policy =
            Policy::from_toml_str("chain_id = 2029\nmax_value_per_tx = \"1 CFX\"", dir.path())
                .unwrap();
        let signer =
            PolicySigner::new(token, policy, Some(AuditLog::open(&audit_path).unwrap())).unwrap();
        let mut too_much = parse_tx_json(&tx_jsons(0)[2], CHAIN).unwrap().tx;
        too_much.value = U256::exp10(18) + 1;
        let err = signer.sign_transaction(&me, &too_much).await.unwrap_err();
        assert!(err.to_string().contains("`max_value_per_tx`"), "{err}");
        let ok = parse_tx_json(&tx_jsons(0)[2], CHAIN).unwrap().tx;
        let signed = signer.sign_transaction(&me, &ok).await.unwrap();
        assert_eq!(signed.recover_sender().unwrap().0, me);
        let summary = verify_audit(&audit_path).unwrap();
        assert_eq!(summary.lines, 2);
    }

    #[cfg(feature = "cli")]
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: SignerCommand,
    }

    #[cfg(feature = "cli")]
    async fn cli(args: &[&str]) -> anyhow::Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("signer").chain(args.iter().copied()))?;
        let mut out = Vec::new();
        run_with(cli.cmd, &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[cfg(feature = "cli")]
    #[tokio::test]
    async fn signer_new_list_sign_tx_and_sign_message_on_a_token() {
        if softhsm().is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        let pin_file = pin_file.display().to_string();
        let with_key = format!("{},key=cli-key", spec_str("cfx-cli"));
        let new = cli(&["new", "--signer", &with_key, "--pin-file", &pin_file])
            .await
            .unwrap();
        let address = new.split_whitespace().next().unwrap().to_string();
        assert!(address.starts_with("cfx:"), "{new}");
        // The same label twice is refused: a key label must pick one key.
        let err = cli(&["new", "--signer", &with_key, "--pin-file", &pin_file])
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("already has an object labelled `cli-key`"),
            "{err}"
        );

        let spec = spec_str("cfx-cli");
        let json = cli(&[
            "list",
            "--signer",
            &spec,
            "--pin-file",
            &pin_file,
            "--json",
            "--network-id",
            "1029",
        ])
        .await
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(v[0]["address"], address.as_str());
        let hex_address: H160 = v[0]["hexAddress"].as_str().unwrap().parse().unwrap();

        for json in tx_jsons(3) {
            let raw = cli(&[
                "sign-tx",
                "--signer",
                &spec,
                "--pin-file",
                &pin_file,
                "--chain-id",
                "2029",
                &json,
            ])
            .await
            .unwrap();
            let decoded =
                SignedTransaction::decode(&hex::decode(&raw.trim()[2..]).unwrap()).unwrap();
            assert_eq!(decoded.recover_sender().unwrap().0, hex_address);
            assert!(decoded.signature.s <= half_order());
        }
        let sig = cli(&[
            "sign-message",
            "--signer",
            &spec,
            "--pin-file",
            &pin_file,
            "Hello world!",
        ])
        .await
        .unwrap();
        let bytes = hex::decode(&sig.trim()[2..]).unwrap();
        let sig = cfxlight_primitives::crypto::Signature {
            r: U256::from_big_endian(&bytes[..32]),
            s: U256::from_big_endian(&bytes[32..64]),
            v: bytes[64],
        };
        assert!(sig.s <= half_order());
        let public = recover(&personal_message_hash(b"Hello world!"), &sig).unwrap();
        assert_eq!(public_to_address(&public), hex_address);

        // A wrong PIN through the CLI is one clear line.
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "999999").unwrap();
        let err = cli(&[
            "list",
            "--signer",
            &spec,
            "--pin-file",
            &bad.display().to_string(),
        ])
        .await
        .unwrap_err();
        assert!(
            err.to_string().starts_with("wrong PIN for token `cfx-cli`"),
            "{err}"
        );
    }
}
