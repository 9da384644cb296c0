//! Seeded random choices. A test that chooses at random (which operation, which grace period,
//! when to kill a process) takes its choices from generators seeded by one number: the value of
//! `AI_KEYS_TEST_SEED` when set, else a fresh random one. The seed is printed when the test
//! starts, so the output of a failed test names it and the same choices can be made again:
//!
//! ```text
//! AI_KEYS_TEST_SEED=1234 cargo test --features test-hooks --test e2e <test name>
//! ```
//!
//! Tests with several tasks give each its own stream ([`TestSeed::rng`] with the task's index),
//! so a task's choices do not depend on how the tasks interleave. (What a machine's timing
//! decides, such as which request a kill interrupts, a seed cannot replay.) Unique values, such
//! as key values with a UUID in them, are not choices and stay unseeded.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// The variable that replays a run's choices.
pub const SEED_ENV: &str = "AI_KEYS_TEST_SEED";

/// The seed of one test's random choices.
#[derive(Clone, Copy, Debug)]
pub struct TestSeed(u64);

impl TestSeed {
    /// `AI_KEYS_TEST_SEED`, or a random seed; printed (to the test's captured output) with the
    /// test's name.
    pub fn for_test(test: &str) -> TestSeed {
        let seed = match std::env::var(SEED_ENV) {
            Ok(text) => text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{SEED_ENV}={text:?} is not an unsigned integer")),
            Err(_) => rand::random(),
        };
        eprintln!("{test}: random choices seeded with {SEED_ENV}={seed}");
        TestSeed(seed)
    }

    /// The generator of choice stream `stream` (a task's index; 0 for a test with one).
    pub fn rng(self, stream: u64) -> StdRng {
        // Streams differ in all bits: the stream number through a 64-bit odd multiplier.
        StdRng::seed_from_u64(self.0 ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn value(self) -> u64 {
        self.0
    }
}
