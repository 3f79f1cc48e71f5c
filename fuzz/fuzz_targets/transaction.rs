//! Transactions of both spaces: `SignedTransaction::decode` (Core raw forms),
//! `EthSignedTransaction::decode` (eSpace raw forms) and the block-body form
//! `BlockTransaction`. Never panic; what decodes re-encodes to the very same bytes.
#![no_main]

use cfxlight_primitives::{
    eth_transaction::EthSignedTransaction,
    rlp_util::decode_exact,
    transaction::{BlockTransaction, SignedTransaction},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTransaction::decode(data) {
        let _ = tx.recover_sender();
        let _ = tx.tx.signing_hash();
        let _ = tx.hash();
        assert_eq!(tx.encode(), data, "Core raw form re-encodes to itself");
        let block: BlockTransaction = tx.clone().into();
        let back =
            rlp::decode::<BlockTransaction>(&rlp::encode(&block)).expect("block form decodes");
        assert_eq!(back, block);
    }
    let _ = rlp::decode::<SignedTransaction>(data);
    if let Ok(tx) = EthSignedTransaction::decode(data) {
        let _ = tx.recover_sender();
        let _ = tx.tx.signing_hash();
        let _ = tx.tx.chain_id();
        assert_eq!(tx.encode(), data, "eSpace raw form re-encodes to itself");
        let block: BlockTransaction = tx.clone().into();
        let back =
            rlp::decode::<BlockTransaction>(&rlp::encode(&block)).expect("block form decodes");
        assert_eq!(back, block);
    }
    if let Ok(tx) = decode_exact::<BlockTransaction>(data) {
        let _ = tx.recover_sender();
        let _ = tx.hash();
        assert_eq!(
            rlp::encode(&tx).as_ref(),
            data,
            "block form re-encodes to itself"
        );
    }
    let _ = rlp::decode::<BlockTransaction>(data);
    // A block body's list (`rlp::decode_list` panics on bad input by design, "trusted
    // rlp": only for bytes this process wrote; a body from a peer is read like this).
    let r = rlp::Rlp::new(data);
    if r.is_list() && cfxlight_primitives::rlp_util::check_exact(&r, data.len()).is_ok() {
        let _ = r.as_list::<BlockTransaction>();
    }
});
