//! Pages: numbering, paging with cursors, trimming, interrupted writes, sizes.

use super::*;
use crate::framework::InMemoryStorage;

fn event(i: u64) -> HistoryEvent {
    HistoryEvent {
        time: DateTime::<Utc>::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
        event: "updated".into(),
        version: None,
        actor: Actor::Scheduler,
        request_id: None,
        outcome: None,
        detail: format!("event {i}"),
    }
}

fn numbers(events: &[HistoryEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.detail["event ".len()..].parse().unwrap())
        .collect()
}

/// Appends `count` events one write at a time, as requests do.
async fn grow(s: &InMemoryStorage, log: HistoryLog, count: u64, limit: i64) -> HistoryLog {
    let mut log = log;
    for i in log.next..log.next + count {
        let done = append(s, "k", log, &[event(i)], limit).await.unwrap();
        delete_stale(s, "k", &done.stale).await;
        log = done.log;
    }
    log
}

#[tokio::test]
async fn pages_read_newest_first_and_cursors_cover_every_event_once() {
    let s = InMemoryStorage::new();
    let log = grow(&s, HistoryLog::default(), 237, 1000).await;
    assert_eq!(
        log,
        HistoryLog {
            first: 0,
            next: 237,
            incarnation: 1
        }
    );
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let (events, next) = page(&s, "k", log, after, 40).await.unwrap();
        assert!(events.len() <= 40);
        seen.extend(numbers(&events));
        match next {
            Some(n) => after = Some(parse_cursor(&cursor(n)).unwrap()),
            None => break,
        }
    }
    let expected: Vec<u64> = (0..237).rev().collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_limit_keeps_the_newest_events_and_deletes_old_pages() {
    let s = InMemoryStorage::new();
    let log = grow(&s, HistoryLog::default(), 500, 120).await;
    assert_eq!(
        log,
        HistoryLog {
            first: 380,
            next: 500,
            incarnation: 1
        }
    );
    let (events, next) = page(&s, "k", log, None, 1000).await.unwrap();
    assert_eq!(numbers(&events), (380..500).rev().collect::<Vec<_>>());
    assert_eq!(next, None);
    let pages = s
        .keys()
        .iter()
        .filter(|k| k.starts_with("history/k/"))
        .count();
    // 120 events span at most 4 pages of 50.
    assert!(pages <= 4, "{pages} pages left: {:?}", s.keys());
}

#[tokio::test]
async fn events_past_the_log_left_by_an_interrupted_write_are_ignored_then_replaced() {
    let s = InMemoryStorage::new();
    let log = grow(&s, HistoryLog::default(), 10, 1000).await;
    // A write whose record never got stored: its events sit in the page past `next`.
    append(&s, "k", log, &[event(900), event(901)], 1000)
        .await
        .unwrap();
    let (events, _) = page(&s, "k", log, None, 100).await.unwrap();
    assert_eq!(numbers(&events), (0..10).rev().collect::<Vec<_>>());
    let log = grow(&s, log, 1, 1000).await;
    let (events, _) = page(&s, "k", log, None, 100).await.unwrap();
    assert_eq!(numbers(&events), (0..11).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_page_entry_stays_small_whatever_the_details() {
    let s = InMemoryStorage::new();
    let mut events = Vec::new();
    for i in 0..PAGE_EVENTS {
        let mut e = event(i);
        e.detail = "é".repeat(100_000);
        events.push(e.bounded());
    }
    append(&s, "k", HistoryLog::default(), &events, 1000)
        .await
        .unwrap();
    let raw = s.get("history/k/0").await.unwrap().unwrap();
    assert!(raw.len() < 128 * 1024, "page of {} bytes", raw.len());
}

#[test]
fn a_legacy_list_pages_like_the_new_layout() {
    let events: Vec<HistoryEvent> = (0..7).map(event).collect();
    let (first, next) = legacy_page(&events, None, 3);
    assert_eq!(numbers(&first), [6, 5, 4]);
    let (second, next) = legacy_page(&events, next, 3);
    assert_eq!(numbers(&second), [3, 2, 1]);
    let (last, next) = legacy_page(&events, next, 3);
    assert_eq!(numbers(&last), [0]);
    assert_eq!(next, None);
}

#[test]
fn cursors_are_checked() {
    assert_eq!(parse_cursor(&cursor(42)), Some(42));
    for bad in ["", "42", "e", "e-1", "ex"] {
        assert_eq!(parse_cursor(bad), None, "{bad}");
    }
}

fn deleter(who: &str) -> Actor {
    Actor::Client {
        entity_id: who.into(),
        display_name: format!("userpass-{who}"),
        accessor: format!("acc-{who}"),
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

/// Every stored page of key `k` with its bytes.
async fn pages(s: &InMemoryStorage) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for k in s.keys() {
        if k.starts_with("history/k/") {
            let v = s.get(&k).await.unwrap().unwrap();
            out.push((k, v));
        }
    }
    out
}

async fn archived(s: &InMemoryStorage) -> Vec<Incarnation> {
    match load_archive(s, "k").await.unwrap() {
        Some(StoredArchive::Incarnations(all)) => all,
        _ => panic!("no index"),
    }
}

#[tokio::test]
async fn a_new_incarnation_starts_on_a_page_of_its_own_and_never_touches_the_old_pages() {
    let s = InMemoryStorage::new();
    let old = grow(&s, HistoryLog::default(), 73, 1000).await;
    archive(&s, "k", old, &deleter("bob"), at(0)).await.unwrap();
    let before = pages(&s).await;
    let fresh = fresh_log(&s, "k").await.unwrap();
    assert_eq!(
        fresh,
        HistoryLog {
            first: 100,
            next: 100,
            incarnation: 2
        }
    );
    // Many events, trimmed to a few: the new incarnation's writes and deletions stay on its
    // own pages.
    let new = grow(&s, fresh, 400, 60).await;
    assert_eq!(new.incarnation, 2);
    assert_eq!(new.first, 440);
    let after = pages(&s).await;
    for page in &before {
        assert!(after.contains(page), "{} changed or deleted", page.0);
    }
    let (events, _) = page(&s, "k", old, None, 1000).await.unwrap();
    assert_eq!(numbers(&events), (0..73).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn the_index_names_who_deleted_each_incarnation_newest_first() {
    let s = InMemoryStorage::new();
    let mut log = HistoryLog::default();
    for (i, who) in ["ann", "bob", "cid"].iter().enumerate() {
        log = fresh_log(&s, "k").await.unwrap();
        assert_eq!(log.incarnation, i as u32 + 1);
        log = grow(&s, log, 3, 1000).await;
        archive(&s, "k", log, &deleter(who), at(i as i64))
            .await
            .unwrap();
    }
    let all = archived(&s).await;
    let who: Vec<(u32, Option<DateTime<Utc>>, Option<Actor>)> = all
        .iter()
        .map(|i| (i.log.incarnation, i.deleted_time, i.deleted_by.clone()))
        .collect();
    assert_eq!(
        who,
        [
            (3, Some(at(2)), Some(deleter("cid"))),
            (2, Some(at(1)), Some(deleter("bob"))),
            (1, Some(at(0)), Some(deleter("ann"))),
        ]
    );
    assert_eq!(all[0].log, log);
    // The newest one's log is where the format before incarnations kept its one log.
    let raw: serde_json::Value =
        serde_json::from_slice(&s.get("history/k").await.unwrap().unwrap()).unwrap();
    assert_eq!(
        (raw["first"].clone(), raw["next"].clone()),
        (100.into(), 103.into())
    );
}

#[tokio::test]
async fn archiving_the_same_incarnation_again_replaces_its_entry() {
    let s = InMemoryStorage::new();
    let first = grow(&s, HistoryLog::default(), 3, 1000).await;
    archive(&s, "k", first, &deleter("ann"), at(0))
        .await
        .unwrap();
    let second = grow(&s, fresh_log(&s, "k").await.unwrap(), 2, 1000).await;
    archive(&s, "k", second, &deleter("bob"), at(1))
        .await
        .unwrap();
    // A delete interrupted after the index, retried with one more event.
    let second = grow(&s, second, 1, 1000).await;
    archive(&s, "k", second, &deleter("bob"), at(2))
        .await
        .unwrap();
    let all = archived(&s).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].log, second);
    assert_eq!(all[0].deleted_time, Some(at(2)));
    assert_eq!(all[1].log, first);
}

#[tokio::test]
async fn a_live_key_ignores_index_entries_of_its_own_incarnation() {
    let s = InMemoryStorage::new();
    let first = grow(&s, HistoryLog::default(), 3, 1000).await;
    archive(&s, "k", first, &deleter("ann"), at(0))
        .await
        .unwrap();
    let live = grow(&s, fresh_log(&s, "k").await.unwrap(), 2, 1000).await;
    // A delete of the live key got as far as the index, not the record.
    archive(&s, "k", live, &deleter("bob"), at(1))
        .await
        .unwrap();
    let found = find(&s, "k", Some(Events::Pages(live)), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.incarnation, 2);
    assert_eq!(found.previous.unwrap().log, first);
    // Without a live key, the newest deleted one is the default.
    let found = find(&s, "k", None, None).await.unwrap().unwrap();
    assert_eq!(found.incarnation, 2);
    assert_eq!(found.previous.unwrap().deleted_by, Some(deleter("ann")));
}

#[tokio::test]
async fn a_previous_release_list_becomes_the_first_incarnation_when_the_name_is_created() {
    let s = InMemoryStorage::new();
    let mut events: Vec<HistoryEvent> = (0..4).map(event).collect();
    events[3].event = "deleted".into();
    events[3].actor = deleter("ann");
    crate::framework::put_json(&s, "history/k", &events)
        .await
        .unwrap();
    // Read as it is (a standby writes nothing).
    let found = find(&s, "k", None, None).await.unwrap().unwrap();
    assert_eq!(found.incarnation, 1);
    assert!(matches!(found.events, Events::List(ref l) if l.len() == 4));
    let fresh = fresh_log(&s, "k").await.unwrap();
    assert_eq!(
        fresh,
        HistoryLog {
            first: 50,
            next: 50,
            incarnation: 2
        }
    );
    // A create interrupted here and retried gets the same log.
    assert_eq!(fresh_log(&s, "k").await.unwrap(), fresh);
    let all = archived(&s).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].deleted_by, Some(deleter("ann")));
    assert_eq!(all[0].deleted_time, Some(events[3].time));
    let (kept, _) = page(&s, "k", all[0].log, None, 10).await.unwrap();
    assert_eq!(numbers(&kept), [3, 2, 1, 0]);
}

#[tokio::test]
async fn an_archive_of_the_format_before_incarnations_is_the_first_incarnation() {
    let s = InMemoryStorage::new();
    let mut log = grow(&s, HistoryLog::default(), 2, 1000).await;
    let mut deleted = event(2);
    deleted.event = "deleted".into();
    deleted.actor = deleter("ann");
    let done = append(&s, "k", log, &[deleted.clone()], 1000)
        .await
        .unwrap();
    log = done.log;
    s.put(
        "history/k",
        format!(r#"{{"format":2,"first":0,"next":{}}}"#, log.next).into_bytes(),
    )
    .await
    .unwrap();
    let found = find(&s, "k", None, None).await.unwrap().unwrap();
    assert_eq!(found.incarnation, 1);
    assert!(matches!(found.events, Events::Pages(l) if l == log));
    let fresh = fresh_log(&s, "k").await.unwrap();
    assert_eq!((fresh.first, fresh.incarnation), (50, 2));
    let all = archived(&s).await;
    assert_eq!(all[0].deleted_by, Some(deleter("ann")));
    assert_eq!(all[0].deleted_time, Some(deleted.time));
}

/// A deleted incarnation gains later events (a revocation confirmed after the delete) on its own
/// pages, and never one that would land on a page a later incarnation of the name starts on,
/// nor on an archived entry of the live incarnation (a leftover of an interrupted delete).
#[tokio::test]
async fn a_deleted_incarnation_grows_only_on_pages_of_its_own() {
    let s = InMemoryStorage::new();
    let old = grow(&s, HistoryLog::default(), 49, 1000).await;
    archive(&s, "k", old, &deleter("bob"), at(0)).await.unwrap();
    // Alone: it grows, into a new page if need be.
    assert!(append_to_deleted(&s, "k", 1, None, &[event(49), event(50)])
        .await
        .unwrap());
    let grown = archived(&s).await[0].log;
    assert_eq!((grown.first, grown.next), (0, 51));
    let (events, _) = page(&s, "k", grown, None, 1000).await.unwrap();
    assert_eq!(numbers(&events), (0..51).rev().collect::<Vec<_>>());

    // A later incarnation starts on the next free page: the deleted one may fill its last
    // page, never reach that one.
    let fresh = fresh_log(&s, "k").await.unwrap();
    assert_eq!(fresh.first, 100);
    let live = grow(&s, fresh, 3, 1000).await;
    let before = pages(&s).await;
    let past = (51..101).map(event).collect::<Vec<_>>();
    assert!(!append_to_deleted(&s, "k", 1, Some(2), &past).await.unwrap());
    assert_eq!(pages(&s).await, before);
    assert!(append_to_deleted(&s, "k", 1, Some(2), &past[..49])
        .await
        .unwrap());
    assert_eq!(archived(&s).await[0].log.next, 100);
    let (events, _) = page(&s, "k", live, None, 1000).await.unwrap();
    assert_eq!(numbers(&events), vec![102, 101, 100]);

    // The live incarnation's own leftover entry, and one not kept, gain nothing.
    let before = pages(&s).await;
    assert!(!append_to_deleted(&s, "k", 2, Some(2), &[event(7)])
        .await
        .unwrap());
    assert!(!append_to_deleted(&s, "k", 5, None, &[event(7)])
        .await
        .unwrap());
    assert_eq!(pages(&s).await, before);
}
