//! Regression tests for the trust review (issue 7): each module keeps one family of the review's
//! findings closed against a real OpenBao server and, where a provider is involved, the fake
//! provider. Each test names the numbered item of the issue it covers.

mod inputs;
mod ownership;
mod periodic;
mod records;
mod revocations;
