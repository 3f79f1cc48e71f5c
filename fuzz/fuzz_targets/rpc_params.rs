//! JSON-RPC parameter parsing (`node/src/rpc/mod.rs`, through `rpc::fuzzing`): `Args::of`
//! and every per-argument reader never panic on any `params` text, and what they accept
//! round-trips: a hash is the hex it was written as, an address re-encoded for its
//! network parses to the same address, an epoch or block number written back as
//! `0x…` parses to the same number.
#![no_main]

use cfxlight_node::rpc::fuzzing::{self, Args};
use cfxlight_primitives::{
    address,
    rpc::{Bytes, RpcAddress},
    U256, U64,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NETWORKS: [u64; 3] = [1029, 1, 2029];

fn check_value(v: &Value) {
    if let Ok(h) = fuzzing::parse_hash(v) {
        let s = v.as_str().expect("a hash is a string");
        let digits = s.strip_prefix("0x").unwrap_or(s);
        assert_eq!(digits.to_ascii_lowercase(), hex::encode(h.as_bytes()));
    }
    for net in NETWORKS {
        if let Ok(a) = fuzzing::parse_address(v, net) {
            let again = Value::String(address::encode(&a, net));
            assert_eq!(fuzzing::parse_address(&again, net).ok(), Some(a));
        }
    }
    if let Ok(Some(n)) = fuzzing::parse_epoch(v) {
        let again = Value::String(format!("{n:#x}"));
        assert_eq!(fuzzing::parse_epoch(&again).ok(), Some(Some(n)));
    }
    if let Ok(n) = fuzzing::parse_u64_hex(v) {
        let again = Value::String(format!("{n:#x}"));
        assert_eq!(fuzzing::parse_u64_hex(&again).ok(), Some(n));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The count checks (each wording of a wrong count) on one fixed and one ranged arity.
    let _ = Args::of(Some(text), 1, 1);
    let _ = Args::of(Some(text), 2, 3);
    let _ = Args::of(None, 0, 1);
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        check_value(&v);
    }
    let Ok(args) = Args::of(Some(text), 0, 16) else {
        return;
    };
    assert_eq!(args.is_empty(), args.len() == 0);
    for i in 0..=args.len() {
        let _ = args.hash(i);
        for net in NETWORKS {
            let _ = args.address(i, net);
        }
        if let Ok(Some(Some(n))) = args.epoch(i) {
            assert_eq!(
                fuzzing::parse_epoch(&Value::String(format!("{n:#x}"))).ok(),
                Some(Some(n))
            );
        }
        let _ = args.state_epoch(i);
        let _ = args.typed::<U256>(i);
        let _ = args.typed::<U64>(i);
        let _ = args.typed::<Bytes>(i);
        let _ = args.typed::<RpcAddress>(i);
        let _ = args.typed::<Vec<f64>>(i);
        let _ = args.typed::<bool>(i);
        let _ = args.typed::<String>(i);
        if let Some(v) = args.get(i) {
            check_value(v);
        }
    }
});
