//! `rotation_schedule`: five-field cron expressions in UTC, exactly the language Vault's own
//! engines accept (`sdk/rotation`: robfig/cron v3 with the Minute, Hour, Dom, Month and Dow
//! fields, no seconds, no descriptors, the location forced to UTC), parsed here into one bit set
//! per field, so refusals name the field, and handed in a canonical numeric form to the `croner`
//! crate, which finds the scheduled times.
//!
//! The grammar, per field: a comma-separated list of `*` or `?` (every value), `N`, `N-M`, each
//! optionally followed by `/STEP` (`N/STEP` runs from N to the field's maximum). Months accept
//! `jan`..`dec` and weekdays `sun`..`sat` (any case). Ranges: minute 0-59, hour 0-23,
//! day-of-month 1-31, month 1-12, day-of-week 0-6 (0 is Sunday; 7 is refused, as in Vault).
//! When both day fields are restricted a day matches either of them (standard cron); when one
//! is `*` (without a step above 1), both must match.
//!
//! Refused although Vault's parser lets them through, because they cannot mean what they say:
//! a `TZ=`/`CRON_TZ=` prefix (Vault silently uses UTC anyway), `*-N`, signed numbers, empty
//! list items, and an expression that never fires (such as the 30th of February).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use croner::parser::{CronParser, Seconds, Year};

/// Longest `rotation_schedule` accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 256;

/// Set in a field when it was written `*` or `?` (with no step above 1), as in robfig/cron: it
/// decides how the two day fields combine.
const STAR: u64 = 1 << 63;

/// One field of the expression.
struct FieldDef {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for the values from `min` on, if the field has names.
    names: &'static [&'static str],
}

const FIELDS: [FieldDef; 5] = [
    FieldDef {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    FieldDef {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    FieldDef {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    FieldDef {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    FieldDef {
        name: "day-of-week",
        min: 0,
        max: 6,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

const MINUTE: usize = 0;
const HOUR: usize = 1;
const DOM: usize = 2;
const MONTH: usize = 3;
const DOW: usize = 4;

/// Why an expression was refused (the message names the field; the caller adds
/// `rotation_schedule:`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

/// A parsed cron expression: which minutes, hours, days of the month, months and weekdays it
/// selects, and its text as written (trimmed). `Copy` (the text is inline), so resolved key
/// settings stay `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CronSpec {
    fields: [u64; 5],
    text: [u8; MAX_EXPRESSION_LEN],
    text_len: usize,
}

impl std::fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CronSpec({:?})", self.as_str())
    }
}

impl std::fmt::Display for CronSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CronSpec {
    type Err = CronError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CronSpec::parse(s)
    }
}

impl CronSpec {
    /// Parses `expr` as Vault's engines do, refusing what they refuse (and the few things
    /// listed in the module documentation).
    pub fn parse(expr: &str) -> Result<CronSpec, CronError> {
        let fail = |m: String| Err(CronError(m));
        if expr.len() > MAX_EXPRESSION_LEN {
            return fail(format!("longer than {MAX_EXPRESSION_LEN} characters"));
        }
        let trimmed = expr.trim();
        if trimmed.is_empty() {
            return fail("empty: give five fields, e.g. \"0 3 * * *\"".into());
        }
        if trimmed.starts_with("TZ=") || trimmed.starts_with("CRON_TZ=") {
            return fail(
                "always in UTC: a TZ= or CRON_TZ= prefix is not accepted (Vault would ignore it)"
                    .into(),
            );
        }
        if trimmed.starts_with('@') {
            return fail(format!(
                "descriptors such as {:?} are not accepted (Vault's engines refuse them too): \
                 write five fields, e.g. \"0 0 * * *\" for @daily",
                trimmed.split_whitespace().next().unwrap_or(trimmed)
            ));
        }
        let parts: Vec<&str> = trimmed.split_whitespace().collect();
        if parts.len() != 5 {
            let hint = if parts.len() == 6 {
                ": a seconds field is not accepted"
            } else {
                ""
            };
            return fail(format!(
                "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
                parts.len()
            ));
        }
        let mut fields = [0u64; 5];
        for (i, (text, def)) in parts.iter().zip(FIELDS.iter()).enumerate() {
            fields[i] = parse_field(text, def)
                .map_err(|m| CronError(format!("{} field {text:?}: {m}", def.name)))?;
        }
        let mut text = [0u8; MAX_EXPRESSION_LEN];
        text[..trimmed.len()].copy_from_slice(trimmed.as_bytes());
        let spec = CronSpec {
            fields,
            text,
            text_len: trimmed.len(),
        };
        if !spec.can_fire() {
            return fail(
                "day-of-month field: none of the selected months has any of the selected days, \
                 so the schedule would never fire"
                    .into(),
            );
        }
        Ok(spec)
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.text_len]).unwrap_or_default()
    }

    /// Whether some day matches (only AND-combined day fields can rule out every day).
    fn can_fire(&self) -> bool {
        if self.fields[DOW] & STAR == 0 {
            return true;
        }
        (1..=12u32).any(|m| {
            let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
            self.has(MONTH, m) && (1..=longest).any(|d| self.has(DOM, d))
        })
    }

    fn has(&self, field: usize, value: u32) -> bool {
        self.fields[field] & (1u64 << value) != 0
    }

    /// Whether the day `date` is selected.
    fn day_matches(&self, date: NaiveDate) -> bool {
        if !self.has(MONTH, date.month()) {
            return false;
        }
        let dom = self.has(DOM, date.day());
        let dow = self.has(DOW, date.weekday().num_days_from_sunday());
        if (self.fields[DOM] | self.fields[DOW]) & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether `t` (to the minute) is a scheduled time.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        use chrono::Timelike;
        self.has(MINUTE, t.minute()) && self.has(HOUR, t.hour()) && self.day_matches(t.date_naive())
    }

    /// The expression in numbers only (`*` for starred fields), the form given to `croner`.
    pub fn canonical(&self) -> String {
        self.fields
            .iter()
            .zip(FIELDS.iter())
            .map(|(bits, def)| {
                if bits & STAR != 0 {
                    "*".to_string()
                } else {
                    (def.min..=def.max)
                        .filter(|v| bits & (1u64 << v) != 0)
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn cron(&self) -> Option<croner::Cron> {
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&self.canonical())
            .ok()
    }

    /// The first scheduled time strictly after `t` (robfig's `Next`), or `None` if there is
    /// none before the year 5000.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron()?.find_next_occurrence(&t, false).ok()
    }

    /// The last scheduled time at or before `t`, or `None` if there is none after the year 1.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron()?.find_previous_occurrence(&t, true).ok()
    }

    /// The longest time between two consecutive scheduled times (seconds), over the eight
    /// years from 2024 (two leap days, no skipped century leap year): what a rotation period
    /// would have to be to allow the same ages. Cached per expression.
    pub fn longest_interval_secs(&self) -> i64 {
        static CACHE: Mutex<Option<HashMap<[u64; 5], i64>>> = Mutex::new(None);
        let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cache = guard.get_or_insert_with(HashMap::new);
        if let Some(v) = cache.get(&self.fields) {
            return *v;
        }
        let v = self.compute_longest_interval();
        if cache.len() >= 1024 {
            cache.clear();
        }
        cache.insert(self.fields, v);
        v
    }

    fn compute_longest_interval(&self) -> i64 {
        const HORIZON_DAYS: i64 = 8 * 366;
        // Checked when compiling: an invalid date would fail the build.
        const START: NaiveDate = match NaiveDate::from_ymd_opt(2024, 1, 1) {
            Some(date) => date,
            None => panic!("2024-01-01 is a date"),
        };
        // Times of day, in seconds, ascending.
        let times: Vec<i64> = (0..24)
            .filter(|h| self.has(HOUR, *h))
            .flat_map(|h| {
                (0..60)
                    .filter(|m| self.has(MINUTE, *m))
                    .map(move |m| i64::from(h) * 3600 + i64::from(m) * 60)
            })
            .collect();
        let (Some(first), Some(last)) = (times.first(), times.last()) else {
            return HORIZON_DAYS * 86_400;
        };
        let mut longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let mut previous: Option<i64> = None;
        for offset in 0..HORIZON_DAYS {
            let Some(date) = START.checked_add_signed(TimeDelta::days(offset)) else {
                break;
            };
            if self.day_matches(date) {
                if let Some(p) = previous {
                    longest = longest.max((offset - p) * 86_400 - last + first);
                }
                previous = Some(offset);
            }
        }
        if previous.is_none() {
            return HORIZON_DAYS * 86_400;
        }
        longest.max(60)
    }
}

fn parse_field(text: &str, def: &FieldDef) -> Result<u64, String> {
    let mut bits = 0;
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty list item".into());
        }
        bits |= parse_range(item, def)?;
    }
    Ok(bits)
}

fn parse_range(item: &str, def: &FieldDef) -> Result<u64, String> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => {
            if step.contains('/') {
                return Err(format!("too many '/' in {item:?}"));
            }
            (range, Some(number(step)?))
        }
        None => (item, None),
    };
    let (start, end, star) = if range == "*" || range == "?" {
        (def.min, def.max, true)
    } else if let Some((low, high)) = range.split_once('-') {
        if high.contains('-') {
            return Err(format!("too many '-' in {item:?}"));
        }
        (value(low, def)?, value(high, def)?, false)
    } else {
        let v = value(range, def)?;
        // "N/STEP" runs from N to the field's maximum.
        (v, if step.is_some() { def.max } else { v }, false)
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err("a step must be at least 1".into());
    }
    if start < def.min {
        return Err(format!("{start} is below the minimum {}", def.min));
    }
    if end > def.max {
        return Err(format!("{end} is above the maximum {}", def.max));
    }
    if start > end {
        return Err(format!("the range starts at {start}, after its end {end}"));
    }
    let mut bits = 0u64;
    let mut v = start;
    while v <= end {
        bits |= 1u64 << v;
        v = v.saturating_add(step);
    }
    if star && step == 1 {
        bits |= STAR;
    }
    Ok(bits)
}

/// A field value: a number or (months, weekdays) a three-letter name.
fn value(text: &str, def: &FieldDef) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = def.names.iter().position(|n| *n == lower) {
        return Ok(def.min + i as u32);
    }
    number(text)
}

/// Plain decimal digits (no sign), at most four of them.
fn number(text: &str) -> Result<u32, String> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a number"));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}
