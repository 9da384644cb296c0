//! Path tests on in-memory storage.
