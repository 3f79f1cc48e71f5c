//! Receipts (`primitives/src/receipt.rs`): `Receipt`, `BlockReceipts`, `LogEntry`,
//! `StorageChange` decoded strictly never panic and re-encode to the same bytes; a
//! block's receipts root and each log's bloom compute without panic.
#![no_main]

use cfxlight_primitives::{
    mpt,
    receipt::{BlockReceipts, LogEntry, Receipt, StorageChange},
    rlp_util::decode_exact,
};
use libfuzzer_sys::fuzz_target;

fn round_trip<T: rlp::Decodable + rlp::Encodable>(data: &[u8]) -> Option<T> {
    let v = decode_exact::<T>(data).ok()?;
    assert_eq!(
        rlp::encode(&v).as_ref(),
        data,
        "re-encodes to the same bytes"
    );
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    if let Some(r) = round_trip::<Receipt>(data) {
        for l in &r.logs {
            let _ = l.bloom();
        }
        let _ = mpt::block_receipts_root(std::slice::from_ref(&r));
    }
    if let Some(b) = round_trip::<BlockReceipts>(data) {
        let _ = mpt::block_receipts_root(&b.receipts);
    }
    if let Some(l) = round_trip::<LogEntry>(data) {
        let _ = l.bloom();
    }
    round_trip::<StorageChange>(data);
    let _ = rlp::decode::<Receipt>(data);
    let _ = rlp::decode::<BlockReceipts>(data);
});
