//! Log lines on stderr: for a person at a terminal (`2026-11-25T21:28:09Z INFO …`) or, with
//! `--log-format json`, one JSON object a line for a log collector. `--log-level` (or
//! `RUST_LOG`) sets the lowest level written: `error`, `warn`, `info` (default), `debug`.

use std::{
    sync::atomic::{AtomicBool, AtomicU8, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// How severe a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error = 0,
    /// Something is wrong or refused.
    Warn = 1,
    /// Progress a person follows.
    Info = 2,
    /// Detail for debugging.
    Debug = 3,
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Level, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(Level::Error),
            "warn" | "warning" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            "debug" | "trace" => Ok(Level::Debug),
            other => Err(format!(
                "unknown log level {other:?} (error, warn, info, debug)"
            )),
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JSON: AtomicBool = AtomicBool::new(false);

/// Sets the lowest level written, and whether lines are JSON.
pub fn configure(level: Level, json: bool) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    JSON.store(json, Ordering::Relaxed);
}

/// The level `RUST_LOG` asks for, if it names one (its first `level` or `cfxlight=level`).
pub fn level_from_env() -> Option<Level> {
    let v = std::env::var("RUST_LOG").ok()?;
    v.split(',')
        .map(|d| d.rsplit('=').next().unwrap_or(d))
        .find_map(|l| l.parse().ok())
}

fn write(level: Level, msg: &str) {
    if level as u8 > LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let name = ["ERROR", "WARN", "INFO", "DEBUG"][level as usize];
    if JSON.load(Ordering::Relaxed) {
        let line =
            serde_json::json!({"time": now(), "level": name.to_ascii_lowercase(), "msg": msg});
        eprintln!("{line}");
    } else {
        eprintln!("{} {name:<5} {msg}", now());
    }
}

/// Seconds since the Unix epoch now (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now() -> String {
    utc_time(unix_now())
}

/// `YYYY-MM-DD` of a Unix time (UTC).
pub fn utc_date(secs: u64) -> String {
    utc_time(secs)[..10].to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
fn utc_time(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// An informational line.
pub fn info(msg: &str) {
    write(Level::Info, msg);
}

/// A warning line.
pub fn warn(msg: &str) {
    write(Level::Warn, msg);
}

/// An error line.
pub fn error(msg: &str) {
    write(Level::Error, msg);
}

/// A debugging line.
pub fn debug(msg: &str) {
    write(Level::Debug, msg);
}
