//! Log lines for a person at a terminal: `2026-11-25T21:28:09Z INFO …` on stderr.

use std::time::{SystemTime, UNIX_EPOCH};

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
    eprintln!("{} INFO  {msg}", now());
}

/// A warning line.
pub fn warn(msg: &str) {
    eprintln!("{} WARN  {msg}", now());
}
