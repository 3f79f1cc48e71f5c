//! Behaviour of the bundled specs, overrides, and located errors for bad spec files.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use cfxlight_chainspec::{ChainSpec, Checkpoint, PowMode, SpecError, H256};

const DEVNET: &str = include_str!("../specs/devnet.toml");

fn devnet_with(from: &str, to: &str) -> String {
    assert!(
        DEVNET.contains(from),
        "fixture text {from:?} not in devnet.toml"
    );
    DEVNET.replacen(from, to, 1)
}

/// The devnet text from `from` through `to` (inclusive), to cut a section out.
fn devnet_text_between(from: &str, to: &str) -> String {
    let start = DEVNET.find(from).expect("start");
    let end = DEVNET[start..].find(to).expect("end") + start + to.len();
    DEVNET[start..end].to_string()
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not found"))
}

fn parse_err(text: &str) -> SpecError {
    match ChainSpec::parse(text, "specs/x.toml") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// Asserts that the error message names the file, the line and the field.
fn assert_located(e: &SpecError, line: usize, field: &str) {
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("specs/x.toml:{line}: field `{field}`")),
        "message {msg:?} should start with specs/x.toml:{line}: field `{field}`"
    );
    let at = e.location().expect("a location");
    assert_eq!((at.line, at.field.as_deref()), (line, Some(field)));
}

#[test]
fn mainnet_spec_has_conflux_mainnet_ids_bootnodes_and_forks() {
    let spec = ChainSpec::load("mainnet").expect("bundled mainnet parses");
    assert_eq!(spec.name, "mainnet");
    assert_eq!(spec.source, "builtin:mainnet");
    assert_eq!(
        (spec.chain_id, spec.evm_chain_id, spec.network_id),
        (1029, 1030, 1029)
    );
    assert_eq!(spec.bootnodes.len(), 23);
    assert!(spec.bootnodes[0].starts_with("cfxnode://25265e1aa470d9d8"));
    assert!(spec.bootnodes.iter().all(|b| b.ends_with(":32323")));
    assert_eq!(spec.pow, PowMode::Octopus);
    assert_eq!(spec.forks.tanzanite_height, 3_615_000);
    assert_eq!(spec.forks.pos_reference_height, 37_400_000);
    assert_eq!(spec.forks.cip1559_height, 101_900_000);
    assert_eq!(spec.forks.cip1559_number, 247_480_000);
    assert_eq!(spec.forks.eoa_code_height, 129_680_000);
    assert_eq!(spec.forks.osaka_height, None);
    assert_eq!(spec.snapshot_epoch_count, 2000);
    assert_eq!(spec.address_prefix(), "cfx");
    // The pivot at epoch 999,900 of conflux-rust's sample_pivot_hint.bin (real mainnet data).
    let cp = spec.checkpoint.expect("mainnet bundles a checkpoint");
    assert_eq!(cp.epoch, 999_900);
    assert_eq!(
        format!("{:?}", cp.hash),
        "0xdfb71b9e45d558714ef9772a868e5c62954c42a57df0adb1d6e21544dd40df2d"
    );
    assert!(cp.timestamp.is_some_and(|t| t < 1_700_000_000));
    assert_eq!(spec.rules.initial_difficulty, 20_000_000_000);
    assert_eq!(spec.trust.min_votes, 10);
}

#[test]
fn mainnet_and_testnet_pin_their_genesis_hashes() {
    for (name, hash) in [
        (
            "mainnet",
            "0xf6cec5af1ee95f56038fc30589bcfeb4b960075c3c76b8a0eaa6d36e8e623b50",
        ),
        (
            "testnet",
            "0x3fb9d350f95424c3c27fcf248d9a6f633a83c2a75c11ef887ea41540c85e7804",
        ),
    ] {
        let spec = ChainSpec::load(name).expect("bundled spec parses");
        let pinned = spec.require_genesis_hash().expect("pinned");
        assert_eq!(format!("{pinned:?}"), hash, "{name}");
        // The look-alike (mainnet's code with chain id 1) is refused for testnet.
        let look_alike: H256 = "0x71367f36b8799418feea0d8ec635e016e22c33a27e0e01c7e166d587601a32db"
            .parse()
            .expect("hash");
        assert!(spec.with_genesis_hash(look_alike).is_err());
    }
    // The devnet's genesis depends on its secrets: still required from the user.
    let devnet = ChainSpec::load("devnet").expect("parses");
    let msg = devnet
        .require_genesis_hash()
        .expect_err("no hash")
        .to_string();
    assert!(msg.contains("--genesis-hash"), "{msg}");
}

#[test]
fn testnet_has_its_own_tanzanite_difficulty_and_seven_custom_prefixes() {
    let spec = ChainSpec::load("testnet").expect("parses");
    assert_eq!(spec.forks.tanzanite_height, 4_990_000);
    assert_eq!(spec.rules.initial_difficulty, 5_000_000);
    assert_eq!(spec.custom_prefix(4_989_999), None);
    for (height, prefix) in [
        (4_990_000, 1),
        (88_099_999, 1),
        (88_100_000, 2),
        (101_760_001, 3),
        (103_400_000, 4),
        (129_100_000, 5),
        (132_220_000, 6),
        (175_599_999, 6),
        (175_600_000, 7),
        (u64::MAX, 7),
    ] {
        assert_eq!(spec.custom_prefix(height), Some(prefix), "height {height}");
    }
    // Mainnet keeps the four-step schedule over its fork heights.
    let main = ChainSpec::load("mainnet").expect("parses");
    assert_eq!(main.custom_prefix(101_900_000), Some(4));
    assert_eq!(main.custom_prefix(3_614_999), None);
}

#[test]
fn difficulty_period_shortens_above_the_hydra_height() {
    let spec = ChainSpec::load("mainnet").expect("parses");
    assert_eq!(spec.difficulty_period(36_935_000), 5000);
    assert_eq!(spec.difficulty_period(36_935_001), 250);
    let dev = ChainSpec::load("devnet").expect("parses");
    assert!(dev.rules.fixed_difficulty);
    assert_eq!(
        (dev.difficulty_period(0), dev.difficulty_period(1000)),
        (20, 20)
    );
    // The devnet keeps the blame rule, with fewer votes.
    assert!(dev.trust.min_votes > 1 && dev.trust.max_blame_ratio < 1.0);
}

#[test]
fn rules_and_trust_default_to_conflux_production_values_and_are_checked() {
    // A file without [rules] / [trust] (written before they existed) still loads.
    let text = devnet_with(&devnet_text_between("\n[rules]", "max_rewind = 100"), "");
    let spec = ChainSpec::parse(&text, "old.toml").expect("loads");
    assert_eq!(spec.rules.initial_difficulty, 20_000_000_000);
    assert_eq!(spec.trust.min_votes, 10);
    // Bad values are located.
    let e = parse_err(&devnet_with("min_votes = 3", "min_votes = 0"));
    assert_located(
        &e,
        line_of(
            &devnet_with("min_votes = 3", "min_votes = 0"),
            "min_votes = 0",
        ),
        "trust.min_votes",
    );
    let text = devnet_with("initial_difficulty = 4", "initial_difficulty = 0");
    assert_located(
        &parse_err(&text),
        line_of(&text, "initial_difficulty = 0"),
        "rules.initial_difficulty",
    );
}

#[test]
fn checkpoint_flag_form_parses_epoch_hash_and_block_number() {
    let h = format!("0x{}", "ab".repeat(32));
    let c: Checkpoint = format!("1200:{h}").parse().expect("parses");
    assert_eq!(
        (c.epoch, c.hash, c.block_number),
        (1200, H256::repeat_byte(0xab), None)
    );
    let c: Checkpoint = format!("1200:{h}:3400").parse().expect("parses");
    assert_eq!(c.block_number, Some(3400));
    for bad in [
        "",
        "1200",
        "x:{h}",
        "1200:0x12",
        &format!("1200:{h}:x"),
        &format!("1:{h}:2:3"),
    ] {
        assert!(bad.parse::<Checkpoint>().is_err(), "{bad:?}");
    }
}

#[test]
fn testnet_spec_models_separate_cip107_and_cip118_numbers() {
    let spec = ChainSpec::load("testnet").expect("bundled testnet parses");
    assert_eq!(
        (spec.chain_id, spec.evm_chain_id, spec.network_id),
        (1, 71, 1)
    );
    assert_eq!(spec.bootnodes.len(), 7);
    assert_eq!(spec.forks.cip107_number, 167_000_000);
    assert_eq!(spec.forks.cip118_number, 171_570_000);
    assert_eq!(spec.forks.cip119_number, 171_570_000);
    assert_eq!(spec.forks.osaka_height, Some(259_240_000));
    assert_eq!(spec.address_prefix(), "cfxtest");
}

#[test]
fn devnet_activates_everything_from_one_with_test_pow_and_no_bootnodes() {
    let spec = ChainSpec::load("devnet").expect("bundled devnet parses");
    assert_eq!(
        (spec.chain_id, spec.evm_chain_id, spec.network_id),
        (2029, 2030, 2029)
    );
    assert_eq!(spec.pow, PowMode::Test);
    assert!(spec.bootnodes.is_empty());
    assert_eq!(spec.genesis_hash, None);
    assert_eq!(spec.forks.cip1559_height, 1);
    assert_eq!(spec.custom_prefix(1), Some(4));
    assert!(spec.forks.osaka_active(1));
    // v3.0 keeps mainnet's height in dev mode, as the real dev node's gas shows.
    assert_eq!(spec.forks.eoa_code_height, 129_680_000);
    assert_eq!(spec.forks.required_custom_first_element(1), Some(4));
    assert_eq!(spec.address_prefix(), "net2029");
}

#[test]
fn builtin_names_all_load() {
    assert_eq!(ChainSpec::builtin_names(), ["mainnet", "testnet", "devnet"]);
    for name in ChainSpec::builtin_names() {
        assert_eq!(ChainSpec::load(name).expect("parses").name, *name);
    }
    assert!(ChainSpec::builtin("nosuchnet").is_none());
}

#[test]
fn devnet_chain_id_override_moves_network_id_and_address_prefix() {
    let spec = ChainSpec::load("devnet")
        .and_then(|s| s.with_chain_id(4242))
        .expect("override");
    assert_eq!(spec.chain_id, 4242);
    assert_eq!(spec.network_id, 4242);
    assert_eq!(spec.address_prefix(), "net4242");
    // devnet.toml sets evm_chain_id explicitly, so it stays.
    assert_eq!(spec.evm_chain_id, 2030);
}

#[test]
fn chain_id_override_moves_evm_id_when_the_file_left_it_to_default() {
    let text = devnet_with("evm_chain_id = 2030\n", "");
    let spec = ChainSpec::parse(&text, "dev.toml").expect("parses");
    assert_eq!(spec.evm_chain_id, 2029);
    let spec = spec.with_chain_id(77).expect("override");
    assert_eq!(
        (spec.chain_id, spec.evm_chain_id, spec.network_id),
        (77, 77, 77)
    );
}

#[test]
fn explicit_network_id_survives_a_chain_id_override() {
    let text = devnet_with("chain_id = 2029\n", "chain_id = 2029\nnetwork_id = 9\n");
    let spec = ChainSpec::parse(&text, "dev.toml")
        .and_then(|s| s.with_chain_id(5))
        .expect("ok");
    assert_eq!((spec.chain_id, spec.network_id), (5, 9));
    assert_eq!(spec.address_prefix(), "net9");
}

#[test]
fn mainnet_refuses_a_chain_id_override() {
    let err = ChainSpec::load("mainnet")
        .and_then(|s| s.with_chain_id(4242))
        .expect_err("fixed");
    assert!(matches!(
        err,
        SpecError::ChainIdNotOverridable { current: 1029, .. }
    ));
    assert!(err.to_string().contains("mainnet"));
}

#[test]
fn chain_id_override_of_zero_is_refused() {
    let err = ChainSpec::load("devnet")
        .and_then(|s| s.with_chain_id(0))
        .expect_err("zero");
    assert!(matches!(err, SpecError::BadOverride { .. }));
}

#[test]
fn genesis_hash_override_fills_an_unknown_hash() {
    let h = H256::repeat_byte(0x11);
    let spec = ChainSpec::load("devnet")
        .and_then(|s| s.with_genesis_hash(h))
        .expect("ok");
    assert_eq!(spec.require_genesis_hash().expect("set"), h);
}

#[test]
fn genesis_hash_override_that_differs_from_the_spec_names_both_hashes() {
    let pinned = format!("0x{}", "ab".repeat(32));
    let text = devnet_with(
        "bootnodes = []",
        &format!("bootnodes = []\ngenesis_hash = \"{pinned}\""),
    );
    let spec = ChainSpec::parse(&text, "dev.toml").expect("parses");
    let same = spec
        .clone()
        .with_genesis_hash(H256::repeat_byte(0xab))
        .expect("same hash is fine");
    assert_eq!(same.genesis_hash, Some(H256::repeat_byte(0xab)));
    let err = spec
        .with_genesis_hash(H256::repeat_byte(0xcd))
        .expect_err("mismatch");
    let msg = err.to_string();
    assert!(msg.contains(&pinned), "{msg}");
    assert!(msg.contains(&format!("0x{}", "cd".repeat(32))), "{msg}");
}

#[test]
fn custom_file_with_checkpoint_and_pinned_genesis_loads_from_disk() {
    let dir = std::env::temp_dir().join(format!("cfxlight-chainspec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mychain.toml");
    let text = devnet_with("name = \"devnet\"", "name = \"mychain\"")
        + &format!(
            "\n[checkpoint]\nepoch = 4000\nhash = \"0x{}\"\n",
            "12".repeat(32)
        );
    std::fs::write(&path, text).expect("write");
    let path_str = path.to_str().expect("utf-8 path");
    let spec = ChainSpec::load(path_str).expect("loads");
    assert_eq!(spec.name, "mychain");
    assert_eq!(spec.source, path_str);
    let cp = spec.checkpoint.expect("checkpoint");
    assert_eq!((cp.epoch, cp.hash), (4000, H256::repeat_byte(0x12)));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn header_rules_follow_mainnet_fork_heights() {
    let f = ChainSpec::load("mainnet").expect("parses").forks;
    assert_eq!(f.required_custom_first_element(3_614_999), None);
    assert_eq!(f.required_custom_first_element(3_615_000), Some(1));
    assert_eq!(f.required_custom_first_element(56_800_000), Some(2));
    assert_eq!(f.required_custom_first_element(79_050_000), Some(3));
    assert_eq!(f.required_custom_first_element(101_900_000), Some(4));
    assert!(!f.pos_reference_enabled(37_399_999));
    assert!(f.pos_reference_enabled(37_400_000));
    assert!(!f.base_price_enabled(101_899_999));
    assert!(f.base_price_enabled(101_900_000));
    assert!(f.custom_items_are_bytes(79_050_000));
    assert!(!f.osaka_active(u64::MAX));
}

// ---- errors: each names the file, the line and the field ----

#[test]
fn unreadable_file_error_names_the_path() {
    let err = ChainSpec::load("/nonexistent/dir/spec.toml").expect_err("missing");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/dir/spec.toml"), "{msg}");
    assert!(msg.contains("mainnet, testnet, devnet"), "{msg}");
}

#[test]
fn malformed_toml_error_names_line_and_field() {
    let text = devnet_with("pow = \"test\"", "pow = \"test");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::Malformed { .. }), "{err}");
    assert_located(&err, line_of(&text, "pow = "), "pow");
}

#[test]
fn typo_in_a_field_name_is_an_error_naming_line_and_field() {
    let text = devnet_with("chain_id = 2029", "chian_id = 2029\nchain_id = 2029");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::UnknownField { .. }), "{err}");
    assert_located(&err, line_of(&text, "chian_id"), "chian_id");
}

#[test]
fn typo_in_a_fork_name_is_an_error_naming_the_table_field() {
    let text = devnet_with("c2_fix_height = 1", "c2_fix_height = 1\nc2fix_height = 1");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::UnknownField { .. }), "{err}");
    assert_located(&err, line_of(&text, "c2fix_height"), "forks.c2fix_height");
}

#[test]
fn missing_field_error_names_the_field() {
    let text = devnet_with("hydra_number = 1\n", "");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::MissingField { .. }), "{err}");
    assert_located(&err, line_of(&text, "[forks]"), "forks.hydra_number");
}

#[test]
fn missing_top_level_field_error_names_the_field() {
    let text = devnet_with("snapshot_epoch_count = 2000\n", "");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::MissingField { .. }), "{err}");
    let at = err.location().expect("location");
    assert_eq!(at.field.as_deref(), Some("snapshot_epoch_count"));
    assert!(err.to_string().starts_with("specs/x.toml:"), "{err}");
}

#[test]
fn wrong_type_error_names_line_and_field() {
    let text = devnet_with("chain_id = 2029", "chain_id = \"2029\"");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::WrongType { .. }), "{err}");
    assert_located(&err, line_of(&text, "chain_id = \"2029\""), "chain_id");
}

#[test]
fn unknown_pow_mode_is_a_wrong_type_error() {
    let text = devnet_with("pow = \"test\"", "pow = \"ethash\"");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::WrongType { .. }), "{err}");
    assert_located(&err, line_of(&text, "pow = "), "pow");
}

#[test]
fn short_genesis_hash_is_a_bad_value_naming_line_and_field() {
    let text = devnet_with("bootnodes = []", "bootnodes = []\ngenesis_hash = \"0x12\"");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::BadValue { .. }), "{err}");
    assert_located(&err, line_of(&text, "genesis_hash = "), "genesis_hash");
    assert!(
        err.to_string()
            .ends_with("expected 32-byte 0x-hex hash, got \"0x12\""),
        "{err}"
    );
}

#[test]
fn bad_bootnode_url_is_a_bad_value_naming_its_line_and_index() {
    let good = format!("cfxnode://{}@10.0.0.1:32323", "a".repeat(128));
    let text = devnet_with(
        "bootnodes = []",
        &format!("bootnodes = [\n    \"{good}\",\n    \"cfxnode://abc@10.0.0.2:32323\",\n]"),
    );
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::BadValue { .. }), "{err}");
    assert_located(&err, line_of(&text, "cfxnode://abc@"), "bootnodes[1]");
}

#[test]
fn chain_id_zero_is_a_bad_value_naming_line_and_field() {
    let text = devnet_with("chain_id = 2029", "chain_id = 0");
    let err = parse_err(&text);
    assert!(matches!(err, SpecError::BadValue { .. }), "{err}");
    assert_located(&err, line_of(&text, "chain_id = 0"), "chain_id");
}

#[test]
fn port_zero_is_a_bad_value_naming_the_table_field() {
    let text = devnet_with("rpc_ws = 12535", "rpc_ws = 0");
    let err = parse_err(&text);
    assert_located(&err, line_of(&text, "rpc_ws = 0"), "ports.rpc_ws");
}

#[test]
fn cip1559_before_pos_reference_is_refused_like_conflux_rust() {
    let text = devnet_with("pos_reference_height = 1", "pos_reference_height = 10");
    let err = parse_err(&text);
    assert_located(
        &err,
        line_of(&text, "cip1559_height"),
        "forks.cip1559_height",
    );
}

#[test]
fn bad_checkpoint_hash_names_the_checkpoint_field() {
    let text = format!("{DEVNET}\n[checkpoint]\nepoch = 2000\nhash = \"0xzz\"\n");
    let err = parse_err(&text);
    assert_located(&err, line_of(&text, "hash = \"0xzz\""), "checkpoint.hash");
}
