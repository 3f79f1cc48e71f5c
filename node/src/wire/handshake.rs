//! The dialler's side of conflux-rust's handshake (`crates/network/src/handshake.rs`):
//! `auth` = ECIES(my_pub ‖ my_nonce) (209 bytes), `ack_of_auth` = ECIES(my_nonce ‖
//! their_nonce) (177 bytes), `ack_of_ack` = ECIES(their_nonce) (145 bytes). Sizes are exact
//! and the echoed nonce must match: only the owner of the dialled node id can answer.

use k256::{PublicKey, SecretKey};
use rand::RngCore;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{ecies, frame};

/// Size of `auth`.
pub const AUTH_LEN: usize = ecies::OVERHEAD + 64 + 32;
/// Size of `ack_of_auth`.
pub const ACK_LEN: usize = ecies::OVERHEAD + 64;

/// Why the handshake failed.
#[derive(Debug, Error)]
pub enum HandshakeError {
    /// The connection failed or closed.
    #[error("handshake I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The peer answered with something that is not an `ack_of_auth`.
    #[error("peer's handshake reply has {0} bytes, expected {ACK_LEN}")]
    BadLength(usize),
    /// The reply does not decrypt with our key.
    #[error("peer's handshake reply: {0}")]
    Ecies(#[from] ecies::EciesError),
    /// The reply does not echo our nonce: the peer does not own the node id we dialled.
    #[error("peer did not echo our nonce: it does not hold the dialled node id")]
    NonceMismatch,
}

/// Runs the handshake as dialler over `stream` against the peer whose id is `remote`.
pub async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    my_key: &SecretKey,
    remote: &PublicKey,
) -> Result<(), HandshakeError> {
    let mut nonce = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut plain = Vec::with_capacity(96);
    plain.extend_from_slice(ecies::node_id(&my_key.public_key()).as_bytes());
    plain.extend_from_slice(&nonce);
    frame::write(stream, &ecies::encrypt(remote, &plain)).await?;

    let ack = frame::read(stream, ACK_LEN).await?;
    if ack.len() != ACK_LEN {
        return Err(HandshakeError::BadLength(ack.len()));
    }
    let reply = ecies::decrypt(my_key, &ack)?;
    if reply.len() != 64 || reply[..32] != nonce {
        return Err(HandshakeError::NonceMismatch);
    }
    frame::write(stream, &ecies::encrypt(remote, &reply[32..64])).await?;
    Ok(())
}
