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
            next: 237
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
            next: 500
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
