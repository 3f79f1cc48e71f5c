//! The BSIM applet's APDU set: one table of constants, command builders, and response
//! parsers that never panic.
//!
//! Source of the command set: Conflux's Fluent wallet, `fluent-wallet/venus`
//! `modules/BSIM/src/core/params.ts` (builders), `core/workflows.ts` (flows),
//! `core/errors.ts` (status words) and `core/utils.ts` (DER / TLV parsing). There is no
//! public BSIM specification; where this module goes beyond what Fluent shows, the item
//! says so and calls it an *extension* (the virtual card implements it, a real card may
//! answer `6D00`).

use zeroize::{Zeroize, Zeroizing};

use crate::error::Error;

/// The constants of the BSIM command set: AIDs, CLA/INS/P1/P2, algorithms, coin types.
pub mod consts {
    /// BSIM applet AID (Fluent `params.ts` `BSIM_AID`).
    pub const BSIM_AID: [u8; 16] = [
        0xA0, 0x00, 0x00, 0x05, 0x33, 0xC0, 0x00, 0xFF, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
        0x4D,
    ];
    /// AID selected before reading the ICCID (Fluent `params.ts` `ICCID_AID`).
    pub const ICCID_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];

    /// ISO 7816-4 interindustry class (SELECT, GET VERSION).
    pub const CLA_ISO: u8 = 0x00;
    /// Proprietary class of every other BSIM command.
    pub const CLA_BSIM: u8 = 0x80;

    /// SELECT by AID: `00 A4 04 00 Lc AID`.
    pub const INS_SELECT: u8 = 0xA4;
    /// P1 of SELECT: select by DF name (AID).
    pub const P1_SELECT_BY_AID: u8 = 0x04;
    /// VERIFY BPIN: `80 7C 00 00`.
    pub const INS_VERIFY_BPIN: u8 = 0x7C;
    /// SET BPIN: `80 7A 00 00 06 <6 ASCII digits>`.
    pub const INS_SET_BPIN: u8 = 0x7A;
    /// UPDATE BPIN: `80 7E 00 00`.
    pub const INS_UPDATE_BPIN: u8 = 0x7E;
    /// GENERATE / DERIVE key: `80 A8 00 02 05 coin(4) alg(1)`.
    pub const INS_GENERATE_KEY: u8 = 0xA8;
    /// P2 of GENERATE / DERIVE key as Fluent sends it.
    pub const P2_GENERATE_KEY: u8 = 0x02;
    /// SIGN: `80 AC 00 00 Lc coin(4) index(1) hash(32)`, answer DER `SEQUENCE{r, s}`.
    pub const INS_SIGN: u8 = 0xAC;
    /// EXPORT PUBKEYS: `80 C8 00 P2 00`, records TLV `C2`, `6300` = more pages.
    pub const INS_EXPORT_PUBKEYS: u8 = 0xC8;
    /// P2 of EXPORT PUBKEYS: first page.
    pub const P2_EXPORT_FIRST: u8 = 0x00;
    /// P2 of EXPORT PUBKEYS: next page.
    pub const P2_EXPORT_NEXT: u8 = 0x01;
    /// GET VERSION `00 CA 00 00 02` and GET ICCID `80 CA 00 11 00` share this INS.
    pub const INS_GET_DATA: u8 = 0xCA;
    /// P2 of GET ICCID (sent to the ICCID applet).
    pub const P2_ICCID: u8 = 0x11;
    /// Extension: GET ATTESTATION `80 C4 00 00 05 coin(4) index(1)` → 64-byte `r ‖ s`.
    pub const INS_GET_ATTESTATION: u8 = 0xC4;
    /// Extension: GET STATUS `80 F2 00 00 00` → `tries_left max_tries pin_set key_count
    /// pin_verified` (modelled on Keycard's GET STATUS, INS F2).
    pub const INS_GET_STATUS: u8 = 0xF2;

    /// Key algorithm byte: ECDSA over secp256k1 (Fluent `constants.ts`).
    pub const ALG_SECP256K1: u8 = 0x01;
    /// Key algorithm byte: Ed25519 (not supported by this crate's card).
    pub const ALG_ED25519: u8 = 0x02;
    /// SLIP-44 coin type of Conflux.
    pub const COIN_CONFLUX: u32 = 503;
    /// SLIP-44 coin type of Ethereum (what Fluent's EVM accounts use).
    pub const COIN_ETHEREUM: u32 = 60;

    /// Tag of one public-key record in the EXPORT PUBKEYS stream.
    pub const TAG_PUBKEY_RECORD: u8 = 0xC2;
    /// Fluent stops reading after this many `6300` pages (`workflows.ts`).
    pub const MAX_EXPORT_PAGES: usize = 64;
    /// Key indexes are one byte; index 0 is reserved by the card, Fluent skips it
    /// (`accountUtils.ts` `filterAndSortBSIMRecords`) and caps accounts at 127
    /// (`constants.ts` `BSIM_ACCOUNT_LIMIT`).
    pub const MAX_KEY_INDEX: u8 = 127;
    /// The BPIN is exactly six ASCII characters (`buildSetBpin`).
    pub const BPIN_LEN: usize = 6;
}

// The status words live in their own module (`crate::sw`) so `error` can name them
// without importing the APDU layer that returns `error::Error`.
pub use crate::sw;

/// A command APDU (ISO 7816-4 short form). Its data is wiped on drop: it may carry a PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Data field (at most 255 bytes: no extended APDUs).
    pub data: Vec<u8>,
    /// Expected response length; `Some(0)` is the `00` P3 byte Fluent sends on
    /// data-less commands (ISO case 2, "up to 256 bytes").
    pub le: Option<u8>,
}

impl std::fmt::Debug for Command {
    // Never print the data field: VERIFY/SET/UPDATE BPIN carry the PIN.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes)",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len()
        )
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl Command {
    /// A command without data and without Le (ISO case 1).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// Adds a data field.
    pub fn with_data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    /// Adds an Le byte.
    pub fn with_le(mut self, le: u8) -> Self {
        self.le = Some(le);
        self
    }

    /// The wire bytes, in a buffer wiped on drop.
    ///
    /// Panics never; a data field over 255 bytes is an [`Error::InvalidArgument`].
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut out = Zeroizing::new(Vec::with_capacity(6 + self.data.len()));
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            let lc = u8::try_from(self.data.len()).map_err(|_| {
                Error::InvalidArgument("APDU data over 255 bytes (no extended APDUs)".into())
            })?;
            out.push(lc);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        Ok(out)
    }

    /// Parses the wire bytes of a short APDU (the card side). Errors are the status word
    /// to answer.
    pub fn parse(bytes: &[u8]) -> Result<Command, u16> {
        let (header, body) = match bytes.split_first_chunk::<4>() {
            Some(x) => x,
            None => return Err(sw::WRONG_LENGTH),
        };
        let [cla, ins, p1, p2] = *header;
        let mut cmd = Command::new(cla, ins, p1, p2);
        match body {
            [] => {}
            [le] => cmd.le = Some(*le),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                // Lc = 0 followed by more bytes would be an extended APDU: not supported.
                if lc == 0 {
                    return Err(sw::WRONG_LENGTH);
                }
                if rest.len() == lc {
                    cmd.data = rest.to_vec();
                } else if rest.len() == lc + 1 {
                    cmd.data = rest[..lc].to_vec();
                    cmd.le = rest.last().copied();
                } else {
                    return Err(sw::WRONG_LENGTH);
                }
            }
        }
        Ok(cmd)
    }
}

/// A response APDU: data and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data (without SW1 SW2).
    pub data: Vec<u8>,
    /// SW1 SW2.
    pub sw: u16,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} bytes, SW {:04X})", self.data.len(), self.sw)
    }
}

impl Response {
    /// Splits raw response bytes into data and status word.
    pub fn parse(raw: &[u8]) -> Result<Response, Error> {
        match raw.split_last_chunk::<2>() {
            Some((data, sw)) => Ok(Response {
                data: data.to_vec(),
                sw: u16::from_be_bytes(*sw),
            }),
            None => Err(Error::Malformed("response shorter than a status word")),
        }
    }

    /// A response with data and a status word (card side).
    pub fn new(data: Vec<u8>, sw: u16) -> Response {
        Response { data, sw }
    }

    /// The wire bytes: data ‖ SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }

    /// The data when the status is `9000`, else the typed error of the status word.
    pub fn ok(self) -> Result<Vec<u8>, Error> {
        if self.sw == sw::OK {
            Ok(self.data)
        } else {
            Err(Error::from_status(self.sw))
        }
    }
}

/// Validates a BPIN: exactly six ASCII digits.
pub fn check_pin_format(pin: &str) -> Result<[u8; consts::BPIN_LEN], Error> {
    let b = pin.as_bytes();
    if b.len() != consts::BPIN_LEN || !b.iter().all(u8::is_ascii_digit) {
        return Err(Error::InvalidPinFormat);
    }
    let mut out = [0u8; consts::BPIN_LEN];
    out.copy_from_slice(b);
    Ok(out)
}

/// Builders for every command this crate sends, exactly as Fluent `params.ts` encodes
/// them unless marked as an extension.
pub mod cmd {
    use super::consts::*;
    use super::Command;

    /// `00 A4 04 00 Lc <aid>`.
    pub fn select(aid: &[u8]) -> Command {
        Command::new(CLA_ISO, INS_SELECT, P1_SELECT_BY_AID, 0x00).with_data(aid)
    }

    /// `80 7C 00 00 06 <6 ASCII>`.
    ///
    /// Fluent sends `80 7C 00 00 00` with no PIN: on a real BSIM the BPIN is entered on
    /// the card side (inference from the data-less APDU). This host-entered form with the
    /// PIN encoded as in SET BPIN is an extension the virtual card implements.
    pub fn verify_bpin(pin: &[u8; BPIN_LEN]) -> Command {
        Command::new(CLA_BSIM, INS_VERIFY_BPIN, 0x00, 0x00).with_data(pin)
    }

    /// `80 7C 00 00 00`: VERIFY BPIN as Fluent sends it (PIN entered on the card side).
    pub fn verify_bpin_on_card() -> Command {
        Command::new(CLA_BSIM, INS_VERIFY_BPIN, 0x00, 0x00).with_le(0x00)
    }

    /// `80 7A 00 00 06 <6 ASCII>`.
    pub fn set_bpin(pin: &[u8; BPIN_LEN]) -> Command {
        Command::new(CLA_BSIM, INS_SET_BPIN, 0x00, 0x00).with_data(pin)
    }

    /// `80 7E 00 00 0C <old 6 ASCII> <new 6 ASCII>`. Fluent sends it without data
    /// (card-side entry); the data form is an extension of the virtual card.
    pub fn update_bpin(old: &[u8; BPIN_LEN], new: &[u8; BPIN_LEN]) -> Command {
        let mut data = [0u8; 2 * BPIN_LEN];
        data[..BPIN_LEN].copy_from_slice(old);
        data[BPIN_LEN..].copy_from_slice(new);
        let c = Command::new(CLA_BSIM, INS_UPDATE_BPIN, 0x00, 0x00).with_data(&data);
        zeroize::Zeroize::zeroize(&mut data);
        c
    }

    /// `80 A8 00 02 05 coin(4, BE) alg(1)`: generate (Fluent: "derive") the next key of a
    /// coin type inside the card.
    pub fn generate_key(coin: u32, alg: u8) -> Command {
        let mut data = coin.to_be_bytes().to_vec();
        data.push(alg);
        Command::new(CLA_BSIM, INS_GENERATE_KEY, 0x00, P2_GENERATE_KEY).with_data(&data)
    }

    /// `80 AC 00 00 25 coin(4) index(1) hash(32)`.
    pub fn sign(coin: u32, index: u8, hash: &[u8; 32]) -> Command {
        let mut data = coin.to_be_bytes().to_vec();
        data.push(index);
        data.extend_from_slice(hash);
        Command::new(CLA_BSIM, INS_SIGN, 0x00, 0x00).with_data(&data)
    }

    /// `80 C8 00 P2 00`: P2 `00` first page, `01` next page.
    pub fn export_pubkeys(next: bool) -> Command {
        let p2 = if next {
            P2_EXPORT_NEXT
        } else {
            P2_EXPORT_FIRST
        };
        Command::new(CLA_BSIM, INS_EXPORT_PUBKEYS, 0x00, p2).with_le(0x00)
    }

    /// `00 CA 00 00 02`.
    pub fn get_version() -> Command {
        Command::new(CLA_ISO, INS_GET_DATA, 0x00, 0x00).with_le(0x02)
    }

    /// `80 CA 00 11 00`, sent after selecting [`ICCID_AID`].
    pub fn get_iccid() -> Command {
        Command::new(CLA_BSIM, INS_GET_DATA, 0x00, P2_ICCID).with_le(0x00)
    }

    /// Extension: `80 C4 00 00 05 coin(4) index(1)` → issuer attestation `r ‖ s`.
    pub fn get_attestation(coin: u32, index: u8) -> Command {
        let mut data = coin.to_be_bytes().to_vec();
        data.push(index);
        Command::new(CLA_BSIM, INS_GET_ATTESTATION, 0x00, 0x00).with_data(&data)
    }

    /// Extension: `80 F2 00 00 00` → PIN counters and key count, without spending a try.
    pub fn get_status() -> Command {
        Command::new(CLA_BSIM, INS_GET_STATUS, 0x00, 0x00).with_le(0x00)
    }
}

/// One BER-TLV item with a one-byte tag (all BSIM tags are one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Tag byte.
    pub tag: u8,
    /// Value bytes.
    pub value: &'a [u8],
}

/// Splits `bytes` into TLV items: one-byte tag, length in short form or `81 xx` / `82 xx
/// xx`, value. Any truncation or other length form is an error, never a panic.
pub fn parse_tlvs(bytes: &[u8]) -> Result<Vec<Tlv<'_>>, Error> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((&tag, after_tag)) = rest.split_first() {
        let (&first, after_len) = after_tag
            .split_first()
            .ok_or(Error::Malformed("TLV without a length"))?;
        let (len, after_len) = match first {
            0x00..=0x7F => (usize::from(first), after_len),
            0x81 => {
                let (&b, r) = after_len
                    .split_first()
                    .ok_or(Error::Malformed("truncated TLV length"))?;
                (usize::from(b), r)
            }
            0x82 => {
                let (b, r) = after_len
                    .split_first_chunk::<2>()
                    .ok_or(Error::Malformed("truncated TLV length"))?;
                (usize::from(u16::from_be_bytes(*b)), r)
            }
            _ => return Err(Error::Malformed("unsupported TLV length form")),
        };
        if after_len.len() < len {
            return Err(Error::Malformed("TLV value shorter than its length"));
        }
        let (value, r) = after_len.split_at(len);
        out.push(Tlv { tag, value });
        rest = r;
    }
    Ok(out)
}

/// One record of EXPORT PUBKEYS: `C2: coin(4) index(1) alg(1) len(1) pubkey(len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubkeyRecord {
    /// SLIP-44 coin type.
    pub coin: u32,
    /// Key index on the card (1..=127; 0 is reserved).
    pub index: u8,
    /// Algorithm byte ([`consts::ALG_SECP256K1`], …).
    pub alg: u8,
    /// The public key as the card sent it (65-byte SEC1 uncompressed for secp256k1).
    pub key: Vec<u8>,
}

impl PubkeyRecord {
    /// The 64-byte `x ‖ y` of a secp256k1 key (the `04` prefix dropped), if it is one.
    pub fn secp256k1_pub64(&self) -> Option<[u8; 64]> {
        if self.alg != consts::ALG_SECP256K1 {
            return None;
        }
        match self.key.as_slice() {
            [0x04, rest @ ..] => rest.try_into().ok(),
            raw => raw.try_into().ok(),
        }
    }

    /// Encodes the record as the card sends it (TLV `C2`).
    pub fn to_tlv(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(9 + self.key.len());
        v.push(consts::TAG_PUBKEY_RECORD);
        // Records are 7 + 65 = 72 bytes: always the short length form.
        v.push((7 + self.key.len()) as u8);
        v.extend_from_slice(&self.coin.to_be_bytes());
        v.push(self.index);
        v.push(self.alg);
        v.push(self.key.len() as u8);
        v.extend_from_slice(&self.key);
        v
    }
}

/// Parses the concatenated pages of EXPORT PUBKEYS into records.
///
/// Fluent's `parsePubkeyChunk` accepts a record with or without the key-length byte
/// (it uses the byte only when it matches the remaining length); so does this.
pub fn parse_pubkey_records(bytes: &[u8]) -> Result<Vec<PubkeyRecord>, Error> {
    let mut out = Vec::new();
    for tlv in parse_tlvs(bytes)? {
        if tlv.tag != consts::TAG_PUBKEY_RECORD {
            return Err(Error::Malformed(
                "unexpected tag in EXPORT PUBKEYS (want C2)",
            ));
        }
        let (head, rest) = tlv
            .value
            .split_first_chunk::<6>()
            .ok_or(Error::Malformed("public-key record too short"))?;
        let coin = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let (index, alg) = (head[4], head[5]);
        let key = match rest.split_first() {
            Some((&len, key)) if usize::from(len) == key.len() && !key.is_empty() => key,
            _ => rest,
        };
        if key.is_empty() {
            return Err(Error::Malformed("public-key record without a key"));
        }
        out.push(PubkeyRecord {
            coin,
            index,
            alg,
            key: key.to_vec(),
        });
    }
    Ok(out)
}

/// Parses a DER `SEQUENCE { INTEGER r, INTEGER s }` (the SIGN answer) into 32-byte
/// big-endian scalars. Lenient only where Fluent's `extractSignature` is (non-minimal
/// leading zero bytes are stripped); every length is checked, nothing trails.
pub fn parse_der_signature(der: &[u8]) -> Result<([u8; 32], [u8; 32]), Error> {
    fn read_len(b: &[u8]) -> Result<(usize, &[u8]), Error> {
        match b.split_first() {
            Some((&l, r)) if l < 0x80 => Ok((usize::from(l), r)),
            Some((&0x81, r)) => match r.split_first() {
                Some((&l, r)) => Ok((usize::from(l), r)),
                None => Err(Error::Malformed("truncated DER length")),
            },
            Some(_) => Err(Error::Malformed("unsupported DER length")),
            None => Err(Error::Malformed("truncated DER")),
        }
    }
    fn read_int(b: &[u8]) -> Result<([u8; 32], &[u8]), Error> {
        let (&tag, r) = b.split_first().ok_or(Error::Malformed("truncated DER"))?;
        if tag != 0x02 {
            return Err(Error::Malformed("DER: expected INTEGER"));
        }
        let (len, r) = read_len(r)?;
        if len == 0 || r.len() < len {
            return Err(Error::Malformed("DER INTEGER length"));
        }
        let (int, rest) = r.split_at(len);
        if int[0] & 0x80 != 0 {
            return Err(Error::Malformed("DER INTEGER is negative"));
        }
        let start = int.iter().position(|&x| x != 0).unwrap_or(int.len());
        let digits = &int[start..];
        if digits.len() > 32 {
            return Err(Error::Malformed("DER INTEGER over 32 bytes"));
        }
        let mut out = [0u8; 32];
        out[32 - digits.len()..].copy_from_slice(digits);
        Ok((out, rest))
    }
    let (&tag, r) = der.split_first().ok_or(Error::Malformed("empty DER"))?;
    if tag != 0x30 {
        return Err(Error::Malformed("DER: expected SEQUENCE"));
    }
    let (len, body) = read_len(r)?;
    if body.len() != len {
        return Err(Error::Malformed("DER SEQUENCE length mismatch"));
    }
    let (r, rest) = read_int(body)?;
    let (s, rest) = read_int(rest)?;
    if !rest.is_empty() {
        return Err(Error::Malformed("bytes after DER signature"));
    }
    Ok((r, s))
}

/// Encodes `(r, s)` as DER `SEQUENCE { INTEGER r, INTEGER s }` (card side).
pub fn encode_der_signature(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, x: &[u8; 32]) {
        let start = x.iter().position(|&b| b != 0).unwrap_or(31);
        let digits = &x[start..];
        let pad = digits[0] & 0x80 != 0;
        out.push(0x02);
        out.push((digits.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }
    let mut body = Vec::with_capacity(70);
    int(&mut body, r);
    int(&mut body, s);
    let mut out = Vec::with_capacity(72);
    out.push(0x30);
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    out
}

/// The ICCID as stored in EF_ICCID (ETSI TS 102 221 §13.2): BCD, nibbles swapped, `F`
/// padding. Fluent only hex-prints what GET ICCID returns; that the BSIM applet returns
/// the EF_ICCID encoding is an assumption of this crate.
pub fn encode_iccid(digits: &str) -> Result<Vec<u8>, Error> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidArgument(format!(
            "ICCID must be 1 to 20 decimal digits, got {digits:?}"
        )));
    }
    let nib: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    Ok(nib
        .chunks(2)
        .map(|c| {
            let lo = c[0];
            let hi = c.get(1).copied().unwrap_or(0x0F);
            (hi << 4) | lo
        })
        .collect())
}

/// Decodes an EF_ICCID byte string (see [`encode_iccid`]) into its digits.
pub fn decode_iccid(bytes: &[u8]) -> Result<String, Error> {
    let mut s = String::with_capacity(bytes.len() * 2);
    let mut ended = false;
    for &b in bytes {
        for nib in [b & 0x0F, b >> 4] {
            match nib {
                0..=9 if !ended => s.push(char::from(b'0' + nib)),
                0x0F => ended = true,
                _ => return Err(Error::Malformed("ICCID is not BCD")),
            }
        }
    }
    if s.is_empty() || s.len() > 20 {
        return Err(Error::Malformed("ICCID length"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_encoding_matches_fluent_bytes() {
        let sel = cmd::select(&consts::BSIM_AID).to_bytes().unwrap();
        assert_eq!(
            hex::encode_upper(&*sel),
            "00A4040010A000000533C000FF860000000000054D"
        );
        assert_eq!(
            hex::encode_upper(&*cmd::export_pubkeys(true).to_bytes().unwrap()),
            "80C8000100"
        );
        assert_eq!(
            hex::encode_upper(&*cmd::generate_key(503, 1).to_bytes().unwrap()),
            "80A8000205000001F701"
        );
        assert_eq!(
            hex::encode_upper(&*cmd::get_version().to_bytes().unwrap()),
            "00CA000002"
        );
        assert_eq!(
            hex::encode_upper(&*cmd::get_iccid().to_bytes().unwrap()),
            "80CA001100"
        );
        assert_eq!(
            hex::encode_upper(&*cmd::verify_bpin_on_card().to_bytes().unwrap()),
            "807C000000"
        );
        let sign = cmd::sign(503, 3, &[0xAB; 32]).to_bytes().unwrap();
        assert_eq!(&sign[..11], &[0x80, 0xAC, 0, 0, 37, 0, 0, 1, 0xF7, 3, 0xAB]);
    }

    #[test]
    fn command_parse_round_trips_all_cases() {
        for c in [
            cmd::select(&consts::ICCID_AID),
            cmd::get_version(),
            Command::new(0x80, 0x10, 1, 2),
            cmd::sign(503, 1, &[7; 32]).with_le(0),
        ] {
            let bytes = c.to_bytes().unwrap();
            assert_eq!(Command::parse(&bytes).unwrap(), c);
        }
        assert_eq!(Command::parse(&[0x80]), Err(sw::WRONG_LENGTH));
        assert_eq!(
            Command::parse(&[0x80, 1, 2, 3, 5, 1]),
            Err(sw::WRONG_LENGTH)
        );
    }

    #[test]
    fn der_round_trip_with_high_bits_and_leading_zeros() {
        let mut r = [0u8; 32];
        r[0] = 0x80;
        r[31] = 1;
        let mut s = [0u8; 32];
        s[5] = 0x01;
        let der = encode_der_signature(&r, &s);
        assert_eq!(der[3], 33, "r needs a 00 pad byte");
        assert_eq!(parse_der_signature(&der).unwrap(), (r, s));
        assert!(parse_der_signature(&der[..der.len() - 1]).is_err());
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(parse_der_signature(&trailing).is_err());
    }

    #[test]
    fn pubkey_records_with_and_without_length_byte() {
        let rec = PubkeyRecord {
            coin: 503,
            index: 2,
            alg: 1,
            key: [&[4u8][..], &[9u8; 64]].concat(),
        };
        let mut stream = rec.to_tlv();
        stream.extend_from_slice(&rec.to_tlv());
        let got = parse_pubkey_records(&stream).unwrap();
        assert_eq!(got, vec![rec.clone(), rec.clone()]);
        assert_eq!(got[0].secp256k1_pub64(), Some([9u8; 64]));
        // Without the length byte, as Fluent's parser also accepts.
        let mut short = vec![0xC2, 6 + 65];
        short.extend_from_slice(&503u32.to_be_bytes());
        short.extend_from_slice(&[2, 1]);
        short.extend_from_slice(&rec.key);
        assert_eq!(parse_pubkey_records(&short).unwrap(), vec![rec]);
        assert!(parse_pubkey_records(&[0xC2, 0x05, 1, 2]).is_err());
        assert!(parse_pubkey_records(&[0xC3, 0x00]).is_err());
    }

    #[test]
    fn iccid_bcd_round_trip() {
        let enc = encode_iccid("8986001234567890123").unwrap();
        assert_eq!(hex::encode_upper(&enc), "986800214365870921F3");
        assert_eq!(decode_iccid(&enc).unwrap(), "8986001234567890123");
        assert!(decode_iccid(&[0xAB]).is_err());
        assert!(encode_iccid("12a").is_err());
    }

    #[test]
    fn status_words_map_to_typed_errors() {
        assert!(matches!(
            Error::from_status(0x63C3),
            Error::WrongPin { tries_left: 3 }
        ));
        assert!(matches!(Error::from_status(0x63C0), Error::PinBlocked));
        assert!(matches!(Error::from_status(0x6983), Error::PinBlocked));
        assert!(matches!(Error::from_status(0x6982), Error::PinRequired));
        assert!(matches!(Error::from_status(0x6A82), Error::NotFound));
        assert!(matches!(Error::from_status(0x6A83), Error::KeyNotFound));
        assert!(matches!(
            Error::from_status(0x6A88),
            Error::WrongPin { .. } | Error::Status { .. }
        ));
        let e = Error::from_status(0x6D00);
        assert_eq!(
            e.to_string(),
            "card answered 6D00 (instruction not supported)"
        );
    }
}
