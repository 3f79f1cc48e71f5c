//! Strict RLP helpers shared by every decoder in this crate.
//!
//! parity `rlp` 0.6 rejects non-canonical integers and indirections, but it ignores bytes
//! after the first item, and inside a list it stops counting items at the first one that
//! does not parse (so `item_count` can silently skip a garbage tail). Malformed input must
//! be refused here, so every top-level decode goes through [`check_exact`], which walks the
//! whole structure and requires every list payload to be exactly filled by its items.

use rlp::{Decodable, DecoderError, Rlp};

/// Decodes `bytes` as exactly one `T`, refusing trailing bytes.
pub fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T, DecoderError> {
    let rlp = Rlp::new(bytes);
    check_exact(&rlp, bytes.len())?;
    rlp.as_val()
}

/// Fails unless the first RLP item spans all `len` bytes and is well formed throughout.
pub fn check_exact(rlp: &Rlp<'_>, len: usize) -> Result<(), DecoderError> {
    let total = rlp.payload_info()?.total();
    if total != len {
        return Err(DecoderError::Custom("trailing bytes after RLP item"));
    }
    check_well_formed(rlp.as_raw())
}

/// Walks an RLP item (iteratively: nesting depth is attacker-chosen) and requires each list
/// payload to be exactly a sequence of well-formed items.
pub fn check_well_formed(item: &[u8]) -> Result<(), DecoderError> {
    let mut pending: Vec<&[u8]> = vec![item];
    while let Some(bytes) = pending.pop() {
        let r = Rlp::new(bytes);
        let info = r.payload_info()?;
        if !r.is_list() {
            continue;
        }
        let mut payload = &bytes[info.header_len..info.header_len + info.value_len];
        while !payload.is_empty() {
            let child = Rlp::new(payload).payload_info()?;
            let (this, rest) = payload.split_at(child.total());
            pending.push(this);
            payload = rest;
        }
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

/// Decodes item `i` as a list of `T`; unlike `Rlp::list_at`, a non-list item is an error
/// (parity rlp treats a byte string as an empty list there).
pub fn list_at<T: Decodable>(rlp: &Rlp<'_>, i: usize) -> Result<Vec<T>, DecoderError> {
    let item = rlp.at(i)?;
    if !item.is_list() {
        return Err(DecoderError::RlpExpectedToBeList);
    }
    item.as_list()
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
    fn garbage_inside_a_list_is_refused() {
        // [1, 2] followed, inside the list payload, by a truncated item.
        let bytes = [0xc4, 0x01, 0x02, 0xf8, 0x62];
        assert!(check_exact(&Rlp::new(&bytes), bytes.len()).is_err());
        assert!(check_exact(&Rlp::new(&[0xc2, 0x01, 0x02]), 3).is_ok());
        // Deep nesting (200,000 lists) is walked without recursion. Headers are built
        // innermost first, then laid out outermost first.
        let mut headers: Vec<Vec<u8>> = Vec::new();
        let mut payload_len = 1usize; // the innermost empty list, 0xc0
        for _ in 0..200_000 {
            let h = if payload_len < 56 {
                vec![0xc0 + payload_len as u8]
            } else {
                let lb = (payload_len as u32).to_be_bytes();
                let skip = lb.iter().take_while(|b| **b == 0).count();
                let mut h = vec![0xf7 + (4 - skip) as u8];
                h.extend_from_slice(&lb[skip..]);
                h
            };
            payload_len += h.len();
            headers.push(h);
        }
        let mut deep: Vec<u8> = headers.into_iter().rev().flatten().collect();
        deep.push(0xc0);
        assert!(check_exact(&Rlp::new(&deep), deep.len()).is_ok());
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
