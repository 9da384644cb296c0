//! Vault's duration grammar (`parseutil.ParseDurationSecond`), hand-written
//! because general-purpose parsers disagree with Vault: `humantime` rejects
//! bare integers and reads `M` as months.
//!
//! Accepted, in this order:
//! 1. the empty string: 0;
//! 2. an optionally signed decimal integer: seconds;
//! 3. an optionally signed integer followed by `d`: whole days (no fractions,
//!    no mixing with other units);
//! 4. a Go duration (`time.ParseDuration`): a sign, then one or more
//!    `<number><unit>` with units `ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`,
//!    and decimal fractions allowed (`1.5h`, `1h30m`, `300ms`).
//!
//! Results are whole seconds, truncated toward zero (`1.9s` is 1, `-1.5s` is
//! -1). Error messages never repeat the input: it may be a mistyped secret.
//!
//! The grammar alone allows any `i64` of seconds; a field of type
//! [`super::FieldType::Duration`] further bounds it with [`check_duration_bounds`]
//! (never negative, at most [`MAX_DURATION_SECS`]), so no handler does date
//! arithmetic on a value that cannot be a real period.

use serde_json::Value;

const NANOS_PER_SECOND: u128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// The longest duration a field accepts: 100 years of 365.25 days (36525d). Periods, windows
/// and grace periods longer than that are typos, and bounding them keeps every `now + period`
/// far inside the range of a date.
pub(super) const MAX_DURATION_SECS: i64 = 36_525 * SECONDS_PER_DAY;

/// The bounds of a duration field: `Err` says why `secs` is refused (without the value).
pub(super) fn check_duration_bounds(secs: i64) -> Result<i64, String> {
    if secs < 0 {
        Err("must not be negative".into())
    } else if secs > MAX_DURATION_SECS {
        Err(too_long())
    } else {
        Ok(secs)
    }
}

/// The message for a duration beyond [`MAX_DURATION_SECS`] (or beyond what the grammar holds).
pub(crate) fn too_long() -> String {
    format!("must be at most 100 years (36525d, {MAX_DURATION_SECS} seconds)")
}

/// Parses a JSON duration: an integer is seconds, a string follows
/// [`parse_duration_str`], `null` is 0. Numbers with a fraction or an
/// exponent are rejected, as Vault rejects them (`1.5` has no unit).
pub fn parse_duration(v: &Value) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => match n.as_i64() {
            Some(secs) => Ok(secs),
            None if n.is_u64() => Err("duration out of range".into()),
            // Vault sees the number's text, which has no unit.
            None => Err("missing unit in duration".into()),
        },
        Value::String(s) => parse_duration_str(s),
        _ => Err("could not parse duration from input".into()),
    }
}

/// Parses a duration string (see the module documentation) into seconds.
pub fn parse_duration_str(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    match s.parse::<i64>() {
        Ok(secs) => return Ok(secs),
        Err(e) if is_overflow(&e) => return Err("duration out of range".into()),
        Err(_) => {}
    }
    if let Some(days) = s.strip_suffix('d') {
        let days: i64 = days.parse().map_err(|e| {
            if is_overflow(&e) {
                "duration out of range"
            } else {
                "invalid duration: days must be a whole number like \"30d\""
            }
        })?;
        return days
            .checked_mul(SECONDS_PER_DAY)
            .ok_or_else(|| "duration out of range".to_owned());
    }
    parse_go_duration(s)
}

fn is_overflow(e: &std::num::ParseIntError) -> bool {
    matches!(
        e.kind(),
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
    )
}

/// Go's `time.ParseDuration`, limited like Go to ±(2^63-1) nanoseconds.
fn parse_go_duration(s: &str) -> Result<i64, String> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("invalid duration".into());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, tail) = parse_component(rest)?;
        total = total.saturating_add(nanos);
        if total > 1u128 << 63 {
            return Err("duration out of range".into());
        }
        rest = tail;
    }
    if !negative && total > (1u128 << 63) - 1 {
        return Err("duration out of range".into());
    }
    let secs = i64::try_from(total / NANOS_PER_SECOND).map_err(|_| "duration out of range")?;
    Ok(if negative { -secs } else { secs })
}

/// Parses one `<number><unit>` component, returning nanoseconds and the rest.
fn parse_component(s: &str) -> Result<(u128, &str), String> {
    let bytes = s.as_bytes();
    let int_end = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let (int_digits, mut rest) = s.split_at(int_end);
    let mut frac_digits = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let frac_end = after_dot.bytes().take_while(|b| b.is_ascii_digit()).count();
        frac_digits = &after_dot[..frac_end];
        rest = &after_dot[frac_end..];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err("invalid duration".into());
    }
    let unit_end = rest
        .char_indices()
        .find(|(_, c)| *c == '.' || c.is_ascii_digit())
        .map_or(rest.len(), |(i, _)| i);
    let (unit, rest) = rest.split_at(unit_end);
    let unit_nanos: u128 = match unit {
        "" => return Err("missing unit in duration".into()),
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        _ => return Err("unknown unit in duration".into()),
    };
    let mut nanos: u128 = 0;
    for d in int_digits.bytes() {
        nanos = nanos * 10 + u128::from(d - b'0');
        if nanos > 1u128 << 63 {
            return Err("duration out of range".into());
        }
    }
    nanos *= unit_nanos;
    // Fraction digits past nanosecond precision of the largest unit cannot
    // change the result; keep 20 at most so the arithmetic cannot overflow.
    let mut frac: u128 = 0;
    let mut scale: u128 = 1;
    for d in frac_digits.bytes().take(20) {
        frac = frac * 10 + u128::from(d - b'0');
        scale *= 10;
    }
    nanos += frac * unit_nanos / scale;
    Ok((nanos, rest))
}

#[cfg(test)]
mod tests;
