//! The crash loop's killer: SIGKILLs of the plugin at seeded random moments, some while the
//! fake holds the answer to a create.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;

use super::Tally;
use crate::providers::SHORT_DEADLINE;
use crate::support::fake_provider::FakeProvider;
use crate::support::{process, Bao};

/// SIGKILLs the plugin 150-800 ms after it answers again until `done`; one kill in `held_every` happens while
/// the fake holds the answer to a create (the key exists at the provider, not yet here), which
/// is released after the kill. Returns `(kills, kills that held a create, creates held)`.
pub(super) async fn kill_until(
    bao: Arc<Bao>,
    fake: Arc<FakeProvider>,
    done: Arc<AtomicBool>,
    held_every: usize,
    tally: Arc<Tally>,
    mut rng: StdRng,
) -> (usize, usize, usize) {
    let (mut kills, mut held, mut held_creates) = (0, 0, 0);
    while !done.load(Ordering::SeqCst) {
        // The pause starts once the restarted plugin answers (the host restarts it on the next
        // request), so a slow start on a loaded machine does not turn every kill into a kill
        // of a plugin that never got to work.
        let client = bao.client();
        while !done.load(Ordering::SeqCst)
            && !matches!(client.try_request("LIST", "ai-keys/keys", None).await, Ok(r) if r.status == 200)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pause = rng.random_range(150..800);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let hold = (kills + 1) % held_every == 0;
        if hold {
            fake.set_stall_after_create(true);
        }
        // Counted once the stall is on: every create made from here on is held.
        let before = fake.created_keys().len();
        if hold {
            let deadline = Instant::now() + Duration::from_secs(3);
            while fake.created_keys().len() == before
                && Instant::now() < deadline
                && !done.load(Ordering::SeqCst)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let pids = bao.plugin_pids();
        for &pid in &pids {
            process::signal(pid, "KILL");
        }
        // Creates answered no more once the plugin died: those the fake made while holding.
        let made = fake.created_keys().len().saturating_sub(before);
        let deadline = Instant::now() + SHORT_DEADLINE;
        while pids.iter().any(|&p| process::is_alive(p)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if hold {
            fake.set_stall_after_create(false);
            if !pids.is_empty() && made > 0 {
                held += 1;
                held_creates += made;
            }
        }
        kills += usize::from(!pids.is_empty());
        tally.kills.store(kills, Ordering::SeqCst);
    }
    (kills, held, held_creates)
}
