//! Behaviour of the bundled specs, overrides, and located errors for bad spec files.

#![allow(clippy::unwrap_used, missing_docs)] // a test may stop at the first surprise

use cfxlight_chainspec::{ChainSpec, PowMode, SpecError, H256};

const DEVNET: &str = include_str!("../specs/devnet.toml");

fn devnet_with(from: &str, to: &str) -> String {
    assert!(
        DEVNET.contains(from),
        "fixture text {from:?} not in devnet.toml"
    );
    DEVNET.replacen(from, to, 1)
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
    assert_eq!(spec.checkpoint, None);
}

#[test]
fn mainnet_and_testnet_have_no_genesis_hash_so_the_node_needs_one() {
    for name in ["mainnet", "testnet"] {
        let spec = ChainSpec::load(name).expect("bundled spec parses");
        assert_eq!(spec.genesis_hash, None);
        let msg = spec
            .require_genesis_hash()
            .expect_err("no hash")
            .to_string();
        assert!(msg.contains("--genesis-hash"), "{msg}");
        assert!(msg.contains(name), "{msg}");
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
    assert!(spec.forks.osaka_active(1));
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
