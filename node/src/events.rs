//! Chain events: what the follow loop and the served-state loop tell the rest of the node.
//!
//! The follow loop publishes when the verified chain advances, when a heavier fork replaces
//! epochs above a fork point, and when `latest_state` moves; the served-state loop
//! publishes once the RPC serves a new state. The RPC's subscriptions, the served-state
//! update and the pending pool wait on these instead of polling the store. Events carry
//! only what changed; receivers read the facts from the store themselves, so a receiver
//! that lags (and misses events) still never skips an epoch.

use tokio::sync::broadcast;

/// One change of the verified chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEvent {
    /// The best epoch, `latest_state` or the served state moved forward.
    Advanced,
    /// A fork switch: epochs above this one were replaced.
    Revert {
        /// The last epoch kept.
        to: u64,
    },
}

/// Fan-out of chain events; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<ChainEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    /// Publishes an event (dropped when nobody listens).
    pub fn publish(&self, e: ChainEvent) {
        let _ = self.tx.send(e);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.tx.subscribe()
    }

    /// Waits for the next event, or `timeout` (whichever comes first); a receiver that
    /// lagged behind just wakes up.
    pub async fn wait(rx: &mut broadcast::Receiver<ChainEvent>, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, rx.recv()).await;
    }
}
