//! Usage-aware revocation against a real OpenBao and the fake provider: before a previous
//! version's grace window ends, the periodic tick asks the provider (OpenAI `last_used_at`)
//! whether the key is still used, and postpones the end while it is, up to `max_grace` after the
//! planned end.
//!
//! One server and one test for every case, so that the waits for grace windows to pass are
//! shared: a key used until its first postponement, then quiet; a key used throughout that
//! reaches `max_grace`; a key whose provider cannot answer; a key used only by the engine's own
//! key test; and an emergency promotion (grace 0). The test runs the periodic work itself
//! through the plugin's tick hook.

mod keys;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::providers::{
    configure_provider, create_key, creds, provider_body, read_key, rotate, tick_until, version,
    wait_until, SHORT_DEADLINE,
};
use crate::support::checks::{data, history, secret};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Client, Tick};
use keys::{app_uses, event, retired_created_key, time, v2};

/// Grace of the rotation that makes the watched key `previous`. Long enough that the rest of
/// the setup (five more keys, a few seconds; more on a loaded machine) and the test's first tick
/// come well before it ends: from that tick, which postpones "busy-then-quiet", to the next
/// (after the planned end) the key must stay unused for more than its 30 s quiet period.
const GRACE: &str = "60s";
/// The same for OpenRouter, which reports spend, not a time: its first check only records a
/// baseline, and the second, which sees the spend rise, comes in the last wait below, after
/// "busy" reached its max_grace (GRACE + 30 s + a second).
const SPEND_GRACE: &str = "120s";
/// Bound of a wait for a grace window of this test, postponed ones included, to pass.
const WINDOW_DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_previous_key_in_use_is_kept_until_quiet_or_max_grace() {
    let (bao, fake, down) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    for (name, kind, f) in [
        ("oa", "openai", &fake),
        ("down", "openai", &down),
        ("or", "openrouter", &fake),
    ] {
        let admin = secret(&format!("admin-{name}"));
        f.add_admin_key(&admin);
        configure_provider(&client, name, provider_body(kind, f, Some(&admin))).await;
    }
    let quick = json!({ "usage_quiet_period": "30s" });
    let (a_id, a, a_planned) = retired_created_key(
        &client,
        &fake,
        "busy-then-quiet",
        "oa",
        quick.clone(),
        GRACE,
    )
    .await;
    // A key's own max_grace also caps the grace_period a rotation may give (GRACE is longer),
    // so "busy" gets its 30 s cap once it is in its grace window.
    let (b_id, b, b_planned) =
        retired_created_key(&client, &fake, "busy", "oa", quick.clone(), GRACE).await;
    crate::support::checks::write_ok(&client, "ai-keys/keys/busy", json!({ "max_grace": "30s" }))
        .await;
    let (_, c, c_planned) =
        retired_created_key(&client, &down, "unasked", "down", quick, GRACE).await;
    let (_, _, e_planned) =
        retired_created_key(&client, &fake, "own-test", "oa", json!({}), GRACE).await;
    let (_, f, _) = retired_created_key(
        &client,
        &fake,
        "spending",
        "or",
        json!({ "usage_quiet_period": "30s" }),
        SPEND_GRACE,
    )
    .await;
    // The provider holding "unasked" cannot answer admin calls from now on.
    down.set_admin_mode(Mode::ServerError500);
    let started = Utc::now();

    // Emergency promotion (grace 0): a key in use is revoked at once, nothing asked.
    let (d_id, d, _) =
        retired_created_key(&client, &fake, "emergency", "oa", json!({}), GRACE).await;
    assert!(app_uses(&fake, &d).await);
    data(
        &rotate(&client, "emergency", json!({ "grace_period": "0s" })).await,
        "emergency rotate",
    );
    assert_eq!(v2(&client, "emergency").await["state"], "revoked");
    assert!(!fake.is_active(&d_id), "revoked at the provider at once");
    assert!(creds(&client, "emergency")
        .await
        .get("previous_api_key")
        .is_none());

    // Applications keep using "busy-then-quiet", "busy" and "unasked" until the tick has
    // postponed the first two.
    let (fa, fd) = (&fake, &down);
    let (ca, ab, cc) = (&client, (&a, &b), &c);
    assert!(app_uses(fa, ab.0).await && app_uses(fa, ab.1).await && app_uses(fd, cc).await);
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the tick to postpone the grace end of the keys in use",
        SHORT_DEADLINE,
        || async move {
            assert!(app_uses(fa, ab.0).await && app_uses(fa, ab.1).await && app_uses(fd, cc).await);
            // Each tick that sees a key in use postpones it again, so a key the first tick
            // reached may be postponed more than once before the other is.
            let (va, vb) = (v2(ca, "busy-then-quiet").await, v2(ca, "busy").await);
            va["grace_extensions"].as_u64() >= Some(1) && vb["grace_extensions"].as_u64() >= Some(1)
        },
    )
    .await;
    let postponed_at = Utc::now();
    assert!(postponed_at < a_planned, "postponed before the planned end");

    let va = v2(&client, "busy-then-quiet").await;
    let a_postponed = va["grace_extensions"].as_u64().expect("grace_extensions");
    assert_eq!(
        time(&va["planned_grace_expires_time"]),
        a_planned,
        "the plan never moves"
    );
    let a_end = time(&va["grace_expires_time"]);
    assert!(
        a_end >= a_planned + TimeDelta::seconds(30),
        "postponed by the quiet period: {va:#}"
    );
    // OpenAI enforces the moved end too: the key's own expiry there follows it.
    // OpenAI takes the expiry as seconds from the request: the engine rounds up, and the
    // second may turn between its clock and the provider's, so the key dies at the end or up
    // to two seconds after it, never before.
    let at_provider = fake
        .key_expires_at(&a_id)
        .expect("an expiry at the provider");
    assert!(
        (a_end.timestamp()..=a_end.timestamp() + 2).contains(&at_provider),
        "the provider-side expiry {at_provider} follows the postponed end: {va:#}"
    );
    let ext = event(
        &client,
        "busy-then-quiet",
        "grace_extended",
        "last used at ",
    )
    .await
    .expect("a grace_extended event with the evidence");
    assert_eq!(ext["actor"], "scheduler", "{ext:#}");
    let detail = ext["detail"].as_str().unwrap();
    assert!(
        detail.contains("provider's last_used_at") && detail.contains("usage_quiet_period 30s"),
        "{detail}"
    );
    let vb = v2(&client, "busy").await;
    assert_eq!(
        time(&vb["grace_expires_time"]),
        b_planned + TimeDelta::seconds(30),
        "{vb:#}"
    );
    let metrics = client.read("ai-keys/metrics?format=prometheus").await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ai_keys_grace_extensions_total{")
                && l.contains("key=\"busy-then-quiet\"")
                && l.ends_with(&format!(" {a_postponed}"))),
        "{metrics}"
    );

    // "busy-then-quiet" goes quiet now; "busy" stays in use. Past the planned end, creds/ still
    // hands out the postponed key.
    wait_until(
        &bao,
        "the planned grace end",
        WINDOW_DEADLINE,
        || async move {
            app_uses(fa, ab.1).await;
            Utc::now() > a_planned + TimeDelta::seconds(1)
        },
    )
    .await;
    let got = creds(&client, "busy-then-quiet").await;
    assert_eq!(got["previous_api_key"], a.as_str(), "{got:#}");
    assert_eq!(time(&got["previous_expires_time"]), a_end);

    // The provider could not answer for "unasked": the schedule was followed, and said so.
    let unasked = event(&client, "unasked", "usage_checked", "could not say")
        .await
        .expect("why no check");
    assert_eq!(unasked["outcome"], "unavailable", "{unasked:#}");
    wait_until(
        &bao,
        "the planned end of unasked",
        SHORT_DEADLINE,
        // Times are shown to the second: the end itself may lie up to a second later.
        || async move { Utc::now() > c_planned + TimeDelta::seconds(1) },
    )
    .await;
    assert!(creds(&client, "unasked")
        .await
        .get("previous_api_key")
        .is_none());
    assert_eq!(v2(&client, "unasked").await["grace_extensions"], 0);

    // The engine's own key test stamped "own-test"'s last use: not an application's.
    let own = event(
        &client,
        "own-test",
        "usage_checked",
        "engine's own key test",
    )
    .await;
    assert!(own.is_some(), "{:#?}", history(&client, "own-test").await);
    wait_until(
        &bao,
        "the planned end of own-test",
        SHORT_DEADLINE,
        // Shown to the second, as for "unasked".
        || async move { Utc::now() > e_planned + TimeDelta::seconds(1) },
    )
    .await;
    assert!(creds(&client, "own-test")
        .await
        .get("previous_api_key")
        .is_none());

    // Quiet: revoked once its postponed end passes. In use: revoked at max_grace anyway.
    // An OpenRouter key whose spend keeps rising is postponed too (by its second check).
    // "busy" is still used when its max_grace passes, before the tick that revokes it comes
    // (with the host's tick, a minute apart, that was the usual case): the end is kept although
    // it is in use, and OpenAI enforces it.
    let (ia, ib, ff) = (&a_id, &b_id, &f);
    wait_until(
        &bao,
        "max_grace of busy to pass, the key still in use",
        WINDOW_DEADLINE,
        || async move {
            app_uses(fa, ab.1).await;
            Utc::now() > b_planned + TimeDelta::seconds(31)
        },
    )
    .await;
    app_uses(fa, ab.1).await;
    fa.spend(ff, 0.001);
    tick_until(
        &bao,
        Tick::AsTheHost,
        "both postponed keys revoked at the provider",
        WINDOW_DEADLINE,
        || async move {
            app_uses(fa, ab.1).await;
            fa.spend(ff, 0.001);
            let spending = v2(ca, "spending").await["grace_extensions"].as_u64() >= Some(1);
            spending && !fa.is_active(ia) && !fa.is_active(ib)
        },
    )
    .await;
    let rose = event(&client, "spending", "grace_extended", "spend rose from $").await;
    assert!(rose.is_some(), "{:#?}", history(&client, "spending").await);
    assert_eq!(
        v2(&client, "busy-then-quiet").await["grace_extensions"],
        a_postponed,
        "not postponed once quiet"
    );
    let vb = v2(&client, "busy").await;
    assert_eq!(vb["state"], "revoked", "{vb:#}");
    assert_eq!(
        time(&vb["grace_expires_time"]),
        b_planned + TimeDelta::seconds(30),
        "never past max_grace"
    );
    let capped = event(
        &client,
        "busy",
        "grace_extended",
        "max_grace 30s after the planned end reached",
    )
    .await
    .expect("the extension says max_grace ends it");
    assert!(capped["detail"]
        .as_str()
        .unwrap()
        .contains("revoked then even if still in use"));
    // Used up to max_grace, and never past it: OpenAI itself refuses the key from its moved
    // expiry on (provider-enforced grace end), whatever the tick does.
    let last_use = fake.last_used(&b).expect("used");
    let end = (b_planned + TimeDelta::seconds(30)).timestamp();
    assert!(
        (end - 3..=end).contains(&last_use),
        "used until max_grace ({end}) and not after: {last_use}"
    );
    eprintln!(
        "usage e2e: postponed {}s after setup",
        (postponed_at - started).num_seconds()
    );
}

/// The settings: on schedules (defaults 1h and 7d) and as key overrides, bad input refused
/// naming the field; `extend/` is bounded by `max_grace` after the planned end.
#[tokio::test]
async fn usage_settings_and_extend_bounded_by_max_grace() {
    use crate::support::checks::{expect_error, read_ok, write_ok};
    let bao = Bao::start().await;
    let client = bao.client();
    let builtin = read_ok(&client, "ai-keys/schedules/production").await;
    assert_eq!(builtin["usage_quiet_period"], 3600, "{builtin:#}");
    assert_eq!(builtin["max_grace"], 7 * 86_400);
    let s = write_ok(
        &client,
        "ai-keys/schedules/watched",
        json!({ "rotation_period": "30d", "grace_period": "1h", "usage_quiet_period": "10m", "max_grace": "2h" }),
    )
    .await;
    assert_eq!(
        (s["usage_quiet_period"].clone(), s["max_grace"].clone()),
        (json!(600), json!(7200))
    );

    let v0 = secret("v0");
    for (field, bad) in [("usage_quiet_period", "soon"), ("max_grace", "-1h")] {
        let body = json!({ "value": v0, "schedule": "watched", field: bad });
        let refused = client.write("ai-keys/keys/k", body).await;
        expect_error(&refused, 400, &[field], &format!("{field}={bad}"));
    }
    assert_eq!(
        client.read("ai-keys/keys/k").await.status,
        404,
        "nothing created"
    );
    let key = create_key(
        &client,
        "k",
        json!({ "value": v0, "schedule": "watched", "max_grace": "1h" }),
    )
    .await;
    assert_eq!(
        (key["usage_quiet_period"].clone(), key["max_grace"].clone()),
        (json!(600), json!(3600))
    );
    let key = write_ok(
        &client,
        "ai-keys/keys/k",
        json!({ "usage_quiet_period": 0 }),
    )
    .await;
    assert_eq!(key["usage_quiet_period"], 0, "0 turns the check off");

    let rotated = data(
        &rotate(
            &client,
            "k",
            json!({ "value": secret("v1"), "grace_period": "5m" }),
        )
        .await,
        "rotate",
    );
    let planned = time(&rotated["grace_expires_time"]);
    let beyond = client
        .write("ai-keys/extend/k", json!({ "grace_period": "2h" }))
        .await;
    expect_error(
        &beyond,
        400,
        &["max_grace (1h)", "planned end"],
        "extend beyond max_grace",
    );
    let until = planned + TimeDelta::minutes(60);
    let within = write_ok(
        &client,
        "ai-keys/extend/k",
        json!({ "until": until.to_rfc3339() }),
    )
    .await;
    assert_eq!(
        time(&within["grace_expires_time"]),
        until,
        "up to max_grace exactly"
    );
    let key = read_key(&client, "k").await;
    assert_eq!(version(&key, 1)["state"], "previous", "{key:#}");
}
