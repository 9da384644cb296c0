//! The periodic tick through the engine: grace windows ending, and the index of due times.

mod due_index;
mod grace;
mod health;
