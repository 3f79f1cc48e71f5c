//! Response budgets: a method that builds a large answer (logs, fee history, blocks with
//! their transactions) charges every piece against two limits *while* it builds, so an
//! answer past either is refused before it is materialised, never trimmed or built first:
//! - one response's limit (`--rpc-max-response-body`), answered as jsonrpsee answers a
//!   serialised response over it (`-32008 "Response is too big"`);
//! - the memory all responses being built at once may hold (`--rpc-max-response-memory`),
//!   answered `-32009 "Server is busy, try again later"`, so 256 connections each asking
//!   for a maximal answer cannot take the node past that figure.
//!
//! Charges are estimates of the serialised size (hex doubles bytes; field names and
//! quotes are counted per item), taken in KiB units from a shared semaphore and given
//! back when the builder drops its [`Charge`].

use std::sync::Arc;

use jsonrpsee::types::ErrorObjectOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// jsonrpsee's code for a response over the size limit.
pub(crate) const OVERSIZED_RESPONSE: i32 = -32008;
/// jsonrpsee's code for "try again later".
pub(crate) const SERVER_BUSY: i32 = -32009;

/// Bytes per semaphore permit.
const UNIT: usize = 1024;

/// The two limits, shared by every request of a node.
#[derive(Debug, Clone)]
pub struct Budgets {
    per_response: usize,
    shared: Arc<Semaphore>,
    shared_bytes: usize,
}

impl Budgets {
    /// At most `per_response` bytes in one answer and `shared` bytes in all answers being built.
    pub fn new(per_response: usize, shared: usize) -> Budgets {
        let units = shared.div_ceil(UNIT).min(Semaphore::MAX_PERMITS);
        Budgets {
            per_response,
            shared: Arc::new(Semaphore::new(units)),
            shared_bytes: shared,
        }
    }

    /// A fresh charge for one response.
    pub(crate) fn start(&self) -> Charge {
        Charge {
            budgets: self.clone(),
            used: 0,
            held: None,
        }
    }

    /// Bytes not held by any response being built now.
    pub fn available(&self) -> usize {
        self.shared.available_permits().saturating_mul(UNIT)
    }
}

impl Default for Budgets {
    /// The server's defaults: 50 MiB per answer, 200 MiB for all at once.
    fn default() -> Budgets {
        Budgets::new(50 << 20, 200 << 20)
    }
}

/// What one response has charged so far; dropping it gives the shared bytes back.
#[derive(Debug)]
pub(crate) struct Charge {
    budgets: Budgets,
    used: usize,
    held: Option<OwnedSemaphorePermit>,
}

impl Charge {
    /// Charges `bytes` more, or says which limit it would pass.
    pub(crate) fn add(&mut self, bytes: usize) -> Result<(), ErrorObjectOwned> {
        let used = self.used.saturating_add(bytes);
        if used > self.budgets.per_response {
            return Err(ErrorObjectOwned::owned(
                OVERSIZED_RESPONSE,
                "Response is too big",
                Some(format!(
                    "Exceeded max limit of {}",
                    self.budgets.per_response
                )),
            ));
        }
        let need = used.div_ceil(UNIT);
        let held = self.held.as_ref().map_or(0, |p| p.num_permits());
        if need > held {
            let more = u32::try_from(need - held).unwrap_or(u32::MAX);
            let permit = self
                .budgets
                .shared
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| {
                    crate::metrics::global().refused(crate::metrics::Refusal::ResponseMemory);
                    ErrorObjectOwned::owned(
                        SERVER_BUSY,
                        "Server is busy, try again later",
                        Some(format!(
                            "answers being built hold the response memory limit of {} bytes",
                            self.budgets.shared_bytes
                        )),
                    )
                })?;
            match &mut self.held {
                Some(p) => p.merge(permit),
                None => self.held = Some(permit),
            }
        }
        self.used = used;
        Ok(())
    }

    /// Bytes charged so far.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used
    }
}

/// An answer with the charge it was built under: the shared bytes stay held until the
/// server has serialised it (the server clones answers only as this `Arc`).
#[derive(Debug, Clone)]
pub(crate) struct Charged<T> {
    value: T,
    _charge: Arc<Charge>,
}

impl<T> Charged<T> {
    /// `value`, built under `charge`.
    pub(crate) fn new(value: T, charge: Charge) -> Charged<T> {
        Charged {
            value,
            _charge: Arc::new(charge),
        }
    }

    /// The answer itself (the charge is given back).
    pub(crate) fn into_inner(self) -> T {
        self.value
    }
}

impl<T: serde::Serialize> serde::Serialize for Charged<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// Serialised size of a hex string of `n` bytes with its quotes and `0x`.
pub(crate) fn hex_len(n: usize) -> usize {
    n.saturating_mul(2).saturating_add(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_answer_past_its_limit_is_refused_as_jsonrpsee_refuses_it() {
        let b = Budgets::new(10_000, 1 << 20);
        let mut c = b.start();
        c.add(6_000).unwrap();
        c.add(4_000).unwrap();
        let e = c.add(1).unwrap_err();
        assert_eq!(e.code(), OVERSIZED_RESPONSE);
        assert_eq!(e.message(), "Response is too big");
        assert_eq!(
            e.data().map(|d| d.get().to_string()).as_deref(),
            Some("\"Exceeded max limit of 10000\"")
        );
        // What was charged stays charged; a refused charge adds nothing.
        assert_eq!(c.used(), 10_000);
    }

    #[test]
    fn answers_being_built_share_one_pool_and_give_it_back_when_done() {
        let b = Budgets::new(1 << 20, 64 * 1024);
        let mut first = b.start();
        first.add(40 * 1024).unwrap();
        let mut second = b.start();
        second.add(20 * 1024).unwrap();
        assert_eq!(b.available(), 4 * 1024);
        let e = second.add(8 * 1024).unwrap_err();
        assert_eq!(e.code(), SERVER_BUSY);
        drop(first);
        assert_eq!(b.available(), 44 * 1024);
        second.add(8 * 1024).unwrap();
        drop(second);
        assert_eq!(b.available(), 64 * 1024);
    }

    #[test]
    fn huge_and_repeated_charges_neither_overflow_nor_panic() {
        let b = Budgets::new(usize::MAX, usize::MAX);
        let mut c = b.start();
        c.add(usize::MAX / 2).err();
        c.add(usize::MAX).err();
        for _ in 0..1000 {
            c.add(1).ok();
        }
        assert_eq!(hex_len(usize::MAX), usize::MAX);
    }
}
