//! Personal messages (`cfx_sign` style) with Conflux's prefix.
//!
//! js-conflux-sdk 2.6.0 `src/PersonalMessage.js`: `PREFIX = '\x19Conflux Signed Message:\n'`,
//! the signed text is `PREFIX + byteLength + message` and the digest is its keccak-256.
//! A message given as `0x…` hex is signed as the bytes it denotes.
//!
//! One quirk of the SDK: it rebuilds the message with `Buffer#toString()` (UTF-8), so bytes
//! that are not valid UTF-8 come out as U+FFFD and the SDK signs something other than the
//! bytes given. We always sign the exact bytes (what a verifier that follows the format
//! recomputes); for UTF-8 text, which is what wallets show, both agree (tested).

use cfxlight_primitives::{hash::keccak256_concat, H256};

/// The prefix js-conflux-sdk's `PersonalMessage` puts before the decimal byte length.
pub const PERSONAL_MESSAGE_PREFIX: &str = "\x19Conflux Signed Message:\n";

/// keccak256(`"\x19Conflux Signed Message:\n"` ‖ decimal length ‖ message).
pub fn personal_message_hash(message: &[u8]) -> H256 {
    let len = message.len().to_string();
    keccak256_concat(&[PERSONAL_MESSAGE_PREFIX.as_bytes(), len.as_bytes(), message])
}

/// The exact bytes [`personal_message_hash`] hashes: prefix ‖ decimal length ‖ message.
pub fn personal_message_payload(message: &[u8]) -> Vec<u8> {
    let mut out = PERSONAL_MESSAGE_PREFIX.as_bytes().to_vec();
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.extend_from_slice(message);
    out
}

/// Interprets a command-line message: `0x…` hex as bytes, anything else as UTF-8 text.
pub fn message_bytes(arg: &str) -> Vec<u8> {
    if let Some(hex_part) = arg.strip_prefix("0x") {
        if let Ok(bytes) = hex::decode(hex_part) {
            return bytes;
        }
    }
    arg.as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cfxlight_primitives::keccak256;

    #[test]
    fn prefix_and_decimal_length_precede_the_message() {
        assert_eq!(
            personal_message_hash(b"Hello world!"),
            keccak256(b"\x19Conflux Signed Message:\n12Hello world!")
        );
        assert_eq!(message_bytes("0x48656c6c6f"), b"Hello".to_vec());
        // Not hex after 0x: signed as text.
        assert_eq!(message_bytes("0xzz"), b"0xzz".to_vec());
    }
}
