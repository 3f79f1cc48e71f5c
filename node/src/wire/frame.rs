//! Conflux's frame codec (conflux-rust `crates/network/src/connection.rs`,
//! `PacketWithLenAssembler`): a 3-byte little-endian length, then the payload with its
//! first three bytes moved to the end (a quirk of the original implementation that the
//! wire kept). `[1,2,3,4,5]` travels as `[5,0,0, 4,5,1,2,3]`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest payload a 3-byte length can carry.
pub const MAX_FRAME: usize = (1 << 24) - 1;

/// Frames `payload` for the wire.
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    if payload.len() > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "frame of {} bytes exceeds the 16 MiB wire limit",
                payload.len()
            ),
        ));
    }
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(3 + payload.len());
    out.extend_from_slice(&len.to_le_bytes()[..3]);
    if payload.len() >= 3 {
        out.extend_from_slice(&payload[3..]);
        out.extend_from_slice(&payload[..3]);
    } else {
        out.extend_from_slice(payload);
    }
    Ok(out)
}

/// Undoes the rotation of a received frame body.
pub fn unrotate(mut body: Vec<u8>) -> Vec<u8> {
    if body.len() >= 3 {
        body.rotate_right(3);
    }
    body
}

/// Reads one frame; `max` bounds what a peer can make us allocate.
pub async fn read<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len[..3]).await?;
    let n = u32::from_le_bytes(len) as usize;
    if n > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("peer sent a {n}-byte frame (limit {max})"),
        ));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body).await?;
    Ok(unrotate(body))
}

/// Writes one frame.
pub async fn write<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&encode(payload)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_matches_conflux_vector() {
        assert_eq!(
            encode(&[1, 2, 3, 4, 5]).unwrap(),
            vec![5, 0, 0, 4, 5, 1, 2, 3]
        );
        assert_eq!(encode(&[9, 8]).unwrap(), vec![2, 0, 0, 9, 8]);
        assert_eq!(unrotate(vec![4, 5, 1, 2, 3]), vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn read_write_round_trip_and_size_limit() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        write(&mut a, b"hello world").await.unwrap();
        assert_eq!(read(&mut b, 1024).await.unwrap(), b"hello world");
        write(&mut a, &[0u8; 2000]).await.unwrap();
        assert!(read(&mut b, 1024).await.is_err());
    }
}
