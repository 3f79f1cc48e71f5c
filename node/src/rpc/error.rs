//! Error objects in conflux-rust's codes and words: the codes the RPC answers with, and
//! how a failed verified read ([`QueryError`]) reaches a dapp.

use jsonrpsee::types::ErrorObjectOwned;

use crate::query::QueryError;

/// conflux-rust's "invalid parameters" code.
pub(crate) const INVALID_PARAMS: i32 = -32602;
/// conflux-rust's generic "cannot serve this / invalid input" code.
pub(crate) const UNSUPPORTED: i32 = -32000;
/// Internal error.
pub(crate) const INTERNAL: i32 = -32603;
/// conflux-rust's NO_PEERS.
pub(crate) const NO_PEERS: i32 = -32066;

/// `-32603` with the message as given.
pub(crate) fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, e.to_string(), None::<()>)
}

/// `-32602 "Invalid params: <msg>"`, as jsonrpc-core words parse failures.
pub(crate) fn invalid_params(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("Invalid params: {msg}."),
        None::<()>,
    )
}

/// `-32602 "Invalid parameters: <field>"` with the reason as a JSON-encoded string in
/// `data`, as conflux-rust's `invalid_params` helper writes it.
pub(crate) fn invalid_param_data(field: &str, why: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        INVALID_PARAMS,
        format!("Invalid parameters: {field}"),
        Some(format!("{:?}", why.to_string())),
    )
}

pub(crate) fn unsupported(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(UNSUPPORTED, msg.to_string(), None::<()>)
}

/// conflux-rust's light-node wording for an epoch past what is verified.
pub(crate) fn unverifiable(epoch: u64, latest: u64) -> String {
    format!(
        "Filter error: {}",
        QueryError::NotVerifiable { epoch, latest }
    )
}

/// How a failed verified read reaches a dapp.
pub(crate) fn query_error(e: QueryError) -> ErrorObjectOwned {
    match e {
        QueryError::NotVerifiable { epoch, latest } => {
            invalid_param_data("epoch", unverifiable(epoch, latest))
        }
        QueryError::NoPeers => ErrorObjectOwned::owned(NO_PEERS, e.to_string(), None::<()>),
        QueryError::Store(e) => internal(e),
        e @ (QueryError::Unverified(_) | QueryError::NotServed(_)) => unsupported(e),
    }
}
