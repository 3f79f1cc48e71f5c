//! `bsim-card`: a virtual BSIM card for tests and demos, plugged into pcscd via vpcd.
//!
//! ```text
//! bsim-card init   --state <file> --pin <6 digits> [--iccid <digits>] [--issuer-key <file>] [--pin-tries N] [--force]
//! bsim-card serve  --state <file> [--vpcd 127.0.0.1:35963]
//! bsim-card status --state <file> [--json]
//! bsim-card pull   --state <file>
//! bsim-card insert --state <file>
//! ```

use std::{path::PathBuf, process::ExitCode, sync::atomic::AtomicBool};

use cfxlight_bsim::{
    card::{random_iccid, CardState, VirtualCard, DEFAULT_PIN_TRIES},
    vpcd, Error,
};
use clap::{Parser, Subcommand};
use k256::ecdsa::SigningKey;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "bsim-card",
    about = "A virtual BSIM card served to pcscd through vsmartcard-vpcd"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a new card state file (no keys yet; generate them through the card).
    Init {
        /// State file to create (mode 0600).
        #[arg(long)]
        state: PathBuf,
        /// The card's BPIN: 6 digits.
        #[arg(long)]
        pin: String,
        /// ICCID digits (default: random 20-digit `8986…` with a Luhn check digit).
        #[arg(long)]
        iccid: Option<String>,
        /// File with the issuer's secp256k1 secret (64 hex digits); default: a new demo
        /// issuer key, whose public key is printed.
        #[arg(long)]
        issuer_key: Option<PathBuf>,
        /// BPIN tries before the card blocks (1..=15).
        #[arg(long, default_value_t = DEFAULT_PIN_TRIES)]
        pin_tries: u8,
        /// Overwrite an existing state file.
        #[arg(long)]
        force: bool,
    },
    /// Serve the card to pcscd's vpcd reader until killed.
    Serve {
        /// State file.
        #[arg(long)]
        state: PathBuf,
        /// vpcd address (pcscd listens there in Debian's default server mode).
        #[arg(long, default_value = vpcd::DEFAULT_VPCD_ADDR)]
        vpcd: std::net::SocketAddr,
    },
    /// Show ICCID, keys and addresses, PIN tries (no secrets).
    Status {
        /// State file.
        #[arg(long)]
        state: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Pull the card out of the reader (the serving process disconnects).
    Pull {
        /// State file.
        #[arg(long)]
        state: PathBuf,
    },
    /// Put the card back (the serving process reconnects).
    Insert {
        /// State file.
        #[arg(long)]
        state: PathBuf,
    },
}

fn read_issuer_key(path: &PathBuf) -> Result<SigningKey, Error> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?,
    );
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(t, &mut *secret).map_err(|_| {
        Error::InvalidArgument(format!(
            "{}: expected a secp256k1 secret as 64 hex digits",
            path.display()
        ))
    })?;
    SigningKey::from_bytes(&(*secret).into()).map_err(|_| {
        Error::InvalidArgument(format!("{}: not a valid secp256k1 secret", path.display()))
    })
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.cmd {
        Cmd::Init {
            state,
            pin,
            iccid,
            issuer_key,
            pin_tries,
            force,
        } => {
            let pin = Zeroizing::new(pin);
            if state.exists() && !force {
                return Err(Error::InvalidArgument(format!(
                    "{} exists (use --force to replace the card)",
                    state.display()
                )));
            }
            let (issuer, demo) = match &issuer_key {
                Some(p) => (read_issuer_key(p)?, false),
                None => (SigningKey::random(&mut rand::rngs::OsRng), true),
            };
            let iccid = iccid.unwrap_or_else(random_iccid);
            let card = CardState::new(&iccid, &pin, pin_tries, issuer)?;
            card.save(&state)?;
            // Pulled markers of an older card at this path would confuse `serve`.
            vpcd::insert(&state)?;
            println!("card created: {}", state.display());
            println!("iccid: {}", card.iccid());
            println!(
                "issuer public key{}: {}",
                if demo { " (demo issuer)" } else { "" },
                hex::encode(card.issuer_public())
            );
            Ok(())
        }
        Cmd::Serve { state, vpcd: addr } => {
            let mut card = VirtualCard::open(&state)?;
            let stop = AtomicBool::new(false);
            let marker = vpcd::pulled_marker(&state);
            eprintln!(
                "bsim-card: serving ICCID {} to vpcd {addr} (pull marker {})",
                card.state().iccid(),
                marker.display()
            );
            vpcd::serve(&mut card, addr, Some(&marker), &stop, &mut |e| {
                eprintln!("bsim-card: {e}")
            })
        }
        Cmd::Status { state, json } => {
            let info = CardState::load(&state)?.info();
            let pulled = vpcd::is_pulled(&state);
            if json {
                let mut v = serde_json::to_value(&info).map_err(|e| Error::State {
                    path: state.display().to_string(),
                    reason: e.to_string(),
                })?;
                v["pulled"] = serde_json::Value::Bool(pulled);
                println!("{v:#}");
            } else {
                println!("iccid:          {}", info.iccid);
                println!("version:        {}", info.version);
                println!(
                    "inserted:       {}",
                    if pulled { "no (pulled)" } else { "yes" }
                );
                println!(
                    "pin:            {} ({} of {} tries left)",
                    if info.pin_blocked {
                        "BLOCKED"
                    } else if info.pin_set {
                        "set"
                    } else {
                        "not set"
                    },
                    info.pin_tries_left,
                    info.pin_max_tries
                );
                println!("issuer public:  {}", info.issuer_public);
                println!("keys:           {}", info.keys.len());
                for k in &info.keys {
                    println!(
                        "  coin {} index {}: {} {}",
                        k.coin, k.index, k.address, k.address_mainnet
                    );
                    println!("    public {}", k.public);
                }
            }
            Ok(())
        }
        Cmd::Pull { state } => {
            CardState::load(&state)?;
            vpcd::pull(&state)
        }
        Cmd::Insert { state } => {
            CardState::load(&state)?;
            vpcd::insert(&state)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
