//! The HTTP front's own reading of a JSON-RPC body (`node/src/rpc/http.rs`, `read_call`,
//! through `rpc::fuzzing`): never panics, and whatever it takes as a single call it
//! reads exactly as jsonrpsee would (same id, method and params), since the front
//! answers those calls itself and must answer them as jsonrpsee's server does.
#![no_main]

use cfxlight_node::rpc::fuzzing;
use jsonrpsee::types::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((id, method, params)) = fuzzing::read_call(data) else {
        return;
    };
    let theirs: Request<'_> = match serde_json::from_slice(data) {
        Ok(r) => r,
        Err(e) => panic!("the front took a body jsonrpsee refuses ({e})"),
    };
    assert_eq!(theirs.id, id, "id read differently");
    assert_eq!(theirs.method, method, "method read differently");
    assert_eq!(
        theirs.params.as_ref().map(|p| p.get()),
        params.map(|p| p.get()),
        "params read differently"
    );
});
