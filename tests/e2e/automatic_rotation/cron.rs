//! Cron schedules (`rotation_schedule`, UTC) against a real server and its periodic tick: keys
//! due at a chosen minute are rotated by the scheduler in that minute (through a schedule, and
//! through a key's own override), a key whose override is a period is not, a key whose window
//! closed records `rotation_window_missed` and waits for the next day, reads show
//! `next_rotation_time`, and refused expressions are 400s that change nothing.
//!
//! One server for all of it: the chosen minute starts 20 to 80 s after the test does, every
//! check that needs no tick is made before it, and then the test runs the tick itself (the
//! plugin's tick hook) until the keys have rotated.

use std::time::Duration;

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Timelike, Utc};
use serde_json::{json, Value};

use crate::providers::{
    configure_provider, create_key, provider_body, read_key, tick_until, version, wait_until,
    SHORT_DEADLINE,
};
use crate::support::checks::{expect_error, history, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client, Tick};

/// The chosen minute starts at most 80 s after the start.
const CRON_DEADLINE: Duration = Duration::from_secs(90);
/// The set-up before the chosen minute: creates and checks, a few seconds (more on a loaded
/// machine).
const SETUP: TimeDelta = TimeDelta::seconds(20);

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// "M H * * *" for the minute of `t`.
fn daily_at(t: DateTime<Utc>) -> String {
    format!("{} {} * * *", t.minute(), t.hour())
}

/// The time of `event` on version `v` by the scheduler, if recorded.
async fn scheduler_event(client: &Client, key: &str, event: &str, v: u64) -> Option<DateTime<Utc>> {
    history(client, key)
        .await
        .into_iter()
        .find(|e| e["event"] == event && e["version"] == v && e["actor"] == "scheduler")
        .map(|e| parse(&e["time"]))
}

/// Refused expressions on a schedule and on a key: 400 naming the field, nothing changed.
async fn refusals_change_nothing(client: &Client) {
    let before_schedule = read_ok(client, "ai-keys/schedules/at-minute").await;
    let before_key = read_key(client, "on-schedule").await;
    for (expr, needle) in [
        ("0 0 3 * * *", "expected exactly 5 fields"),
        ("@daily", "descriptors"),
        ("*/5 * * * 7", "day-of-week field"),
        ("0 24 * * *", "hour field"),
        ("0 0 30 2 *", "never fire"),
    ] {
        for path in ["ai-keys/schedules/at-minute", "ai-keys/keys/on-schedule"] {
            let reply = client
                .write(path, json!({ "rotation_schedule": expr }))
                .await;
            expect_error(&reply, 400, &["rotation_schedule", needle], path);
        }
    }
    let both = json!({ "rotation_schedule": "0 3 * * *", "rotation_period": "1d" });
    let reply = client.write("ai-keys/schedules/at-minute", both).await;
    expect_error(&reply, 400, &["mutually exclusive"], "both cadences");
    let reply = client
        .write(
            "ai-keys/schedules/at-minute",
            json!({ "rotation_window": "30m" }),
        )
        .await;
    expect_error(&reply, 400, &["rotation_window", "1h"], "a short window");
    assert_eq!(
        read_ok(client, "ai-keys/schedules/at-minute").await,
        before_schedule
    );
    let after_key = read_key(client, "on-schedule").await;
    assert_eq!(
        after_key["rotation_schedule"],
        before_key["rotation_schedule"]
    );
    assert_eq!(
        after_key["next_rotation_time"],
        before_key["next_rotation_time"]
    );
}

#[tokio::test]
async fn cron_schedules_rotate_in_their_minute_on_the_tick() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;

    // A minute that starts after the set-up: the test ticks from then on (the host's own tick
    // may fall inside it too).
    let now = Utc::now();
    let minute = (now + SETUP)
        .duration_trunc(TimeDelta::minutes(1))
        .expect("truncate")
        + TimeDelta::minutes(1);
    let expr = daily_at(minute);
    let schedule = write_ok(
        &client,
        "ai-keys/schedules/at-minute",
        json!({ "rotation_schedule": expr, "grace_period": "1h", "rotation_window": "1h" }),
    )
    .await;
    assert_eq!(schedule["rotation_schedule"], expr.as_str(), "{schedule:#}");
    assert_eq!(schedule["rotation_period"], 0, "{schedule:#}");

    let auto = |value: &str| json!({ "value": value, "provider": "oa", "auto_rotate": true });
    let mut keys = Vec::new();
    for (name, extra) in [
        // through the schedule
        ("on-schedule", json!({ "schedule": "at-minute" })),
        // through a key's own cron override on a period schedule
        (
            "own-cron",
            json!({ "schedule": "production", "rotation_schedule": expr }),
        ),
        // a key's period override replaces the schedule's cron expression
        (
            "own-period",
            json!({ "schedule": "at-minute", "rotation_period": "30d" }),
        ),
    ] {
        let value = secret(name);
        fake.add_key(&value);
        let mut body = auto(&value);
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let key = create_key(&client, name, body).await;
        keys.push((name, key));
    }
    for (name, key) in &keys[..2] {
        assert_eq!(key["rotation_schedule"], expr.as_str(), "{name}: {key:#}");
        assert_eq!(
            key["next_rotation_time"],
            rfc3339(minute),
            "{name}: {key:#}"
        );
        let c = read_ok(&client, &format!("ai-keys/creds/{name}")).await;
        let ttl = c["ttl"].as_i64().expect("ttl");
        assert!(
            ttl > 0 && ttl <= (minute - now).num_seconds() + 1,
            "{name}: {c:#}"
        );
    }
    let own_period = &keys[2].1;
    assert_eq!(own_period["rotation_schedule"], "", "{own_period:#}");
    assert_eq!(own_period["rotation_period"], 30 * 86_400, "{own_period:#}");

    // Imported three hours old, due daily two hours ago with a 1h window: that time's window
    // has closed, so the tick records it and the key waits for tomorrow.
    let missed = (now - TimeDelta::hours(2))
        .duration_trunc(TimeDelta::minutes(1))
        .expect("truncate");
    let late = secret("late");
    fake.add_key(&late);
    let key = create_key(
        &client,
        "late",
        json!({
            "value": late, "provider": "oa", "auto_rotate": true, "schedule": "at-minute",
            "rotation_schedule": daily_at(missed), "rotation_window": "1h",
            "created_time": rfc3339(now - TimeDelta::hours(3)),
        }),
    )
    .await;
    assert_eq!(key["missed_rotation_time"], rfc3339(missed), "{key:#}");
    assert_eq!(
        key["next_rotation_time"],
        rfc3339(missed + TimeDelta::days(1)),
        "{key:#}"
    );
    assert_eq!(key["overdue"], true, "{key:#}");
    let overdue = read_ok(&client, "ai-keys/overdue").await;
    let listed: Vec<&Value> = overdue["keys"].as_array().unwrap().iter().collect();
    assert!(
        listed.len() == 1 && listed[0]["key"] == "late",
        "only the late key is overdue: {overdue:#}"
    );

    refusals_change_nothing(&client).await;

    wait_until(&bao, "the chosen minute", CRON_DEADLINE, || async move {
        Utc::now() >= minute
    })
    .await;
    let c = &client;
    for name in ["on-schedule", "own-cron"] {
        tick_until(
            &bao,
            Tick::AsTheHost,
            &format!("the tick to rotate {name}"),
            SHORT_DEADLINE,
            || async move {
                c.read(&format!("ai-keys/keys/{name}")).await.data()["current_version"] == 2
            },
        )
        .await;
        let started = scheduler_event(&client, name, "staged", 2)
            .await
            .unwrap_or_else(|| panic!("{name}: no staged event by the scheduler"));
        assert!(
            started >= minute && started < minute + TimeDelta::minutes(1),
            "{name}: the automatic rotation started at {started}, outside the scheduled minute {minute}"
        );
        let key = read_key(&client, name).await;
        assert_eq!(version(&key, 2)["engine_created"], true, "{key:#}");
        assert!(key["last_error"].is_null(), "{key:#}");
        assert_eq!(
            key["next_rotation_time"],
            rfc3339(minute + TimeDelta::days(1)),
            "{name}: the next one is tomorrow: {key:#}"
        );
    }
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the missed window to be recorded",
        SHORT_DEADLINE,
        || async move {
            history(c, "late")
                .await
                .iter()
                .any(|e| e["event"] == "rotation_window_missed")
        },
    )
    .await;
    let events = history(&client, "late").await;
    let event = events
        .iter()
        .find(|e| e["event"] == "rotation_window_missed")
        .expect("event");
    assert_eq!(event["actor"], "scheduler", "{event:#}");
    assert!(
        event["detail"].as_str().unwrap().contains(&rfc3339(missed)),
        "{event:#}"
    );
    for name in ["own-period", "late"] {
        let key = read_key(&client, name).await;
        assert_eq!(key["current_version"], 1, "{name} is not due: {key:#}");
    }
    // The ticks that rotated the others left these alone; the fake created exactly two keys.
    assert_eq!(fake.created_keys().len(), 2, "{:?}", fake.created_keys());
}
