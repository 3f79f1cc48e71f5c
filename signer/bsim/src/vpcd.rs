//! The card side of vsmartcard's vpcd protocol: plugs a [`VirtualCard`] into real pcscd.
//!
//! Protocol (vsmartcard `src/vpcd/vpcd.c`, `ifd-vpcd.c`; bsim-and-signers.md §4): TCP,
//! every message is a 2-byte big-endian length then the payload. A 1-byte payload from the
//! reader is a control byte: `00` power off, `01` power on, `02` reset (no answer), `04`
//! GET ATR (answer: the ATR). Any longer payload is a command APDU, answered with the
//! response APDU. Debian's vpcd runs in server mode (pcscd listens on 35963 for slot 0),
//! so the card *connects to* pcscd; a closed socket is a removed card.
//!
//! Latency: without `TCP_QUICKACK` a round trip through pcscd costs 44–88 ms (delayed
//! ACKs); with it, re-armed before every read because Linux leaves quick-ACK mode on its
//! own, about 0.1 ms (measured, §4 "Timings"). `TCP_NODELAY` alone does not help.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use crate::card::{VirtualCard, ATR};
use crate::error::Error;

/// pcscd's vpcd port for the first slot, "Virtual PCD 00 00" (Debian
/// `/etc/reader.conf.d/vpcd`: `CHANNELID 0x8C7B`).
pub const DEFAULT_VPCD_ADDR: &str = "127.0.0.1:35963";

/// vpcd control byte: power off.
pub const CTRL_POWER_OFF: u8 = 0;
/// vpcd control byte: power on.
pub const CTRL_POWER_ON: u8 = 1;
/// vpcd control byte: reset.
pub const CTRL_RESET: u8 = 2;
/// vpcd control byte: get ATR.
pub const CTRL_GET_ATR: u8 = 4;

/// How often the serving loop looks at the pull marker and the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// The marker file whose existence means "card pulled out": `<state>.pulled`.
pub fn pulled_marker(state: &Path) -> PathBuf {
    let mut s = state.as_os_str().to_os_string();
    s.push(".pulled");
    PathBuf::from(s)
}

/// Pulls the card out: the serving process disconnects from vpcd within ~50 ms.
pub fn pull(state: &Path) -> Result<(), Error> {
    let m = pulled_marker(state);
    std::fs::write(&m, b"pulled\n").map_err(|e| Error::io(format!("creating {}", m.display()), e))
}

/// Puts the card back: the serving process reconnects to vpcd.
pub fn insert(state: &Path) -> Result<(), Error> {
    let m = pulled_marker(state);
    match std::fs::remove_file(&m) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", m.display()), e)),
    }
}

/// Whether the card of `state` is pulled out.
pub fn is_pulled(state: &Path) -> bool {
    pulled_marker(state).exists()
}

/// Why one connection ended.
enum End {
    /// The reader closed the socket (pcscd stopped): reconnect.
    Closed,
    /// The card was pulled or the server asked to stop.
    Pulled,
}

/// Serves `card` to the vpcd reader at `addr` until `stop` is set.
///
/// Connects (retrying every 200 ms while pcscd is not there), answers the reader, and
/// disconnects while `<state>.pulled` exists (`pulled` is that marker's path); pcscd
/// sees a removal, then an insertion when the marker goes. `on_event` gets one line per
/// connection event (for logs).
pub fn serve(
    card: &mut VirtualCard,
    addr: SocketAddr,
    pulled: Option<&Path>,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let is_pulled = |p: Option<&Path>| p.is_some_and(Path::exists);
    let mut said_waiting = false;
    while !stop.load(Ordering::Relaxed) {
        if is_pulled(pulled) {
            std::thread::sleep(POLL);
            continue;
        }
        let stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => s,
            Err(e) => {
                if !said_waiting {
                    on_event(&format!("waiting for vpcd at {addr}: {e}"));
                    said_waiting = true;
                }
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        said_waiting = false;
        on_event(&format!("inserted into vpcd reader at {addr}"));
        card.power_off();
        let end = connection(card, stream, pulled, stop);
        card.power_off();
        match end {
            Ok(End::Pulled) => on_event("card pulled out"),
            Ok(End::Closed) => on_event("reader closed the connection"),
            Err(e) => on_event(&format!("connection lost: {e}")),
        }
    }
    Ok(())
}

fn connection(
    card: &mut VirtualCard,
    stream: TcpStream,
    pulled: Option<&Path>,
    stop: &AtomicBool,
) -> Result<End, Error> {
    let io = |what: &str, e| Error::io(format!("vpcd {what}"), e);
    stream.set_nodelay(true).map_err(|e| io("TCP_NODELAY", e))?;
    stream
        .set_read_timeout(Some(POLL))
        .map_err(|e| io("read timeout", e))?;
    let sock = socket2::SockRef::from(&stream);
    let mut buf = vec![0u8; 0x1_0000];
    let is_pulled = || pulled.is_some_and(Path::exists);
    // When the card is pulled, the socket is closed on pcscd's next presence poll (a GET
    // ATR, every ~0.4 s) rather than at once: vpcd ejects a card whose socket fails in a
    // transmit and accepts the next card on the following poll, so pcscd may never
    // report a removal (seen here: a swapped card stayed "mute" until the end). Closing
    // in answer to the poll makes pcscd see "removed" before any other card comes in.
    let mut pull_seen: Option<std::time::Instant> = None;
    let hang_up = |stream: &TcpStream| {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        Ok(End::Pulled)
    };
    loop {
        // Re-armed before every read: the kernel drops out of quick-ACK mode by itself.
        sock.set_tcp_quickack(true)
            .map_err(|e| io("TCP_QUICKACK", e))?;
        let mut len = [0u8; 2];
        match read_full(&stream, &mut len, || {
            stop.load(Ordering::Relaxed) || is_pulled()
        })? {
            Read_::Done => {}
            Read_::Eof => return Ok(End::Closed),
            Read_::Interrupted => {
                if stop.load(Ordering::Relaxed) {
                    return hang_up(&stream);
                }
                let since = *pull_seen.get_or_insert_with(std::time::Instant::now);
                // Fallback if no presence poll comes.
                if since.elapsed() > Duration::from_secs(2) {
                    return hang_up(&stream);
                }
                continue;
            }
        }
        let n = usize::from(u16::from_be_bytes(len));
        let msg = &mut buf[..n];
        // Once a header arrived, the payload follows: do not abandon it half-read.
        match read_full(&stream, msg, || false)? {
            Read_::Done => {}
            Read_::Eof | Read_::Interrupted => return Ok(End::Closed),
        }
        let reply: Option<Vec<u8>> = match msg {
            [] => None,
            [CTRL_POWER_OFF] | [CTRL_RESET] => {
                card.power_off();
                None
            }
            [CTRL_POWER_ON] => {
                card.power_off();
                None
            }
            [CTRL_GET_ATR] if is_pulled() => return hang_up(&stream),
            [CTRL_GET_ATR] => Some(ATR.to_vec()),
            [_] => None,
            apdu => Some(card.process(apdu)),
        };
        if let Some(r) = reply {
            let len = u16::try_from(r.len())
                .map_err(|_| Error::InvalidArgument("response longer than a vpcd frame".into()))?;
            let mut frame = Vec::with_capacity(2 + r.len());
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&r);
            (&stream).write_all(&frame).map_err(|e| io("write", e))?;
        }
    }
}

enum Read_ {
    Done,
    Eof,
    Interrupted,
}

/// Fills `buf`, waking every [`POLL`] to ask `interrupt` whether to give up (only while
/// nothing of `buf` has arrived yet).
fn read_full(
    mut stream: &TcpStream,
    buf: &mut [u8],
    interrupt: impl Fn() -> bool,
) -> Result<Read_, Error> {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Ok(Read_::Eof),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if got == 0 && interrupt() {
                    return Ok(Read_::Interrupted);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("vpcd read", e)),
        }
    }
    Ok(Read_::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A fake vpcd reader on loopback: the card answers ATR and APDUs in frames.
    #[test]
    fn answers_vpcd_frames_and_stops_when_pulled() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("card.json");
        let issuer = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        crate::card::CardState::new("8986000000000000001", "123456", 3, issuer)
            .unwrap()
            .save(&state)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = AtomicBool::new(false);
        let marker = pulled_marker(&state);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut card = VirtualCard::open(&state).unwrap();
                serve(&mut card, addr, Some(&marker), &stop, &mut |_| {}).unwrap();
            });
            let (mut c, _) = listener.accept().unwrap();
            c.write_all(&[0, 1, CTRL_POWER_ON]).unwrap();
            let mut exchange = |payload: &[u8]| -> Vec<u8> {
                let mut f = (payload.len() as u16).to_be_bytes().to_vec();
                f.extend_from_slice(payload);
                c.write_all(&f).unwrap();
                let mut len = [0u8; 2];
                c.read_exact(&mut len).unwrap();
                let mut r = vec![0u8; u16::from_be_bytes(len).into()];
                c.read_exact(&mut r).unwrap();
                r
            };
            assert_eq!(exchange(&[CTRL_GET_ATR]), ATR);
            let sel = crate::apdu::cmd::select(&crate::apdu::consts::BSIM_AID)
                .to_bytes()
                .unwrap();
            assert_eq!(exchange(&sel), [0x90, 0x00]);
            assert_eq!(
                exchange(&[0x00, 0xCA, 0x00, 0x00, 0x02]),
                [0x01, 0x00, 0x90, 0x00]
            );
            pull(&state).unwrap();
            // The card hangs up on the next presence poll (GET ATR), unanswered.
            c.write_all(&[0, 1, CTRL_GET_ATR]).unwrap();
            let mut b = [0u8; 1];
            assert_eq!(c.read(&mut b).unwrap(), 0);
            stop.store(true, Ordering::Relaxed);
        });
        assert!(is_pulled(&state));
        insert(&state).unwrap();
        assert!(!is_pulled(&state));
    }
}
