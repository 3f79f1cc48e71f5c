//! Strict RLP helpers shared by every decoder in this crate.
//!
//! parity `rlp` 0.6 already rejects non-canonical integers and indirections, but happily
//! ignores bytes after the first item; a transaction or header with a tail is malformed
//! input here, so every top-level decode goes through [`decode_exact`].

use rlp::{Decodable, DecoderError, Rlp};

/// Decodes `bytes` as exactly one `T`, refusing trailing bytes.
pub fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T, DecoderError> {
    let rlp = Rlp::new(bytes);
    check_exact(&rlp, bytes.len())?;
    rlp.as_val()
}

/// Fails unless the first RLP item spans all `len` bytes.
pub fn check_exact(rlp: &Rlp<'_>, len: usize) -> Result<(), DecoderError> {
    let total = rlp.payload_info()?.total();
    if total != len {
        return Err(DecoderError::Custom("trailing bytes after RLP item"));
    }
    Ok(())
}

/// Fails unless `rlp` is a list of exactly `n` items.
pub fn expect_list_len(rlp: &Rlp<'_>, n: usize) -> Result<(), DecoderError> {
    if !rlp.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    if rlp.item_count()? != n {
        return Err(DecoderError::RlpIncorrectListLen);
    }
    Ok(())
}

/// Decodes a conflux-rust `StrictBool`: exactly `0x00` or `0x01` (rlp-0.4 style, not `0x80`).
pub fn strict_bool(rlp: &Rlp<'_>) -> Result<bool, DecoderError> {
    rlp.decoder().decode_value(|bytes| match bytes {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(DecoderError::Custom("expected 0x00 or 0x01")),
    })
}

/// Appends a `StrictBool` the way conflux-rust does: the raw byte `0x00` or `0x01`.
pub fn append_strict_bool(s: &mut rlp::RlpStream, b: bool) {
    s.append_raw(&[u8::from(b)], 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_refused() {
        assert_eq!(decode_exact::<u64>(&[0x05]), Ok(5));
        assert!(decode_exact::<u64>(&[0x05, 0x00]).is_err());
        // Non-canonical forms are refused by rlp itself.
        assert!(decode_exact::<u64>(&[0x81, 0x05]).is_err());
        assert!(decode_exact::<u64>(&[0x82, 0x00, 0x05]).is_err());
    }

    #[test]
    fn strict_bool_is_zero_or_one_byte() {
        assert_eq!(strict_bool(&Rlp::new(&[0x00])), Ok(false));
        assert_eq!(strict_bool(&Rlp::new(&[0x01])), Ok(true));
        assert!(strict_bool(&Rlp::new(&[0x80])).is_err());
        let mut s = rlp::RlpStream::new_list(2);
        append_strict_bool(&mut s, false);
        append_strict_bool(&mut s, true);
        assert_eq!(s.out().to_vec(), vec![0xc2, 0x00, 0x01]);
    }
}
