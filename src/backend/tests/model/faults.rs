//! The faults the model injects into a step, and how often.

use rand::rngs::StdRng;
use rand::Rng;

use super::support::fake_provider::Mode;
use super::world::World;

/// A fault injected into one step.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    None,
    /// The admin endpoints (create, delete, lookups) of both hosts answer this way.
    Admin(Mode),
    /// The key-test endpoint answers this way.
    KeyTest(Mode),
    /// Creates make the key, then answer 503.
    CreatedThen503,
    /// Creates make the key, then never answer (the engine's timeout).
    CreatedThenStall,
    /// The admin endpoints never answer (timeouts).
    AdminStall,
    /// The plugin process dies at the write after this many.
    Kill(usize),
    /// The host's storage refuses the write after this many (once); the request goes on.
    WriteFails(usize),
}

/// How often steps carry a fault, whether faults that cost a timeout (1 s each) are drawn, and
/// whether provider configurations move, go and come back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Faults {
    pub percent: u32,
    pub timeouts: bool,
    pub provider_changes: bool,
}

/// Draws the fault of a step.
pub(super) fn draw_fault(rng: &mut StdRng, faults: Faults) -> Fault {
    if rng.random_range(0..100) >= faults.percent {
        return Fault::None;
    }
    match rng.random_range(0..12) {
        0 => Fault::Admin(Mode::ServerError500),
        1 => Fault::Admin(Mode::RateLimited429),
        2 => Fault::Admin(Mode::Overloaded529),
        3 => Fault::KeyTest(Mode::ServerError500),
        4 => Fault::CreatedThen503,
        5 if faults.timeouts => Fault::CreatedThenStall,
        6 if faults.timeouts => Fault::AdminStall,
        7 | 8 => Fault::WriteFails(rng.random_range(0..5)),
        _ => Fault::Kill(rng.random_range(0..5)),
    }
}

/// Sets `fault` up at both hosts ([`World::heal`] undoes it).
pub(super) fn inject(w: &World, fault: Fault) {
    for f in &w.fakes {
        match fault {
            Fault::Admin(mode) => f.set_admin_mode(mode),
            Fault::KeyTest(mode) => f.set_mode(mode),
            Fault::CreatedThen503 => f.switch(|s| s.unavailable_after_create = true),
            Fault::CreatedThenStall => f.set_stall_after_create(true),
            Fault::AdminStall => f.set_admin_mode(Mode::Stall),
            Fault::None | Fault::Kill(_) | Fault::WriteFails(_) => {}
        }
    }
}
