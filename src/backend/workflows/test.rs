//! Testing a version against its provider and recording the outcome.

use std::sync::Arc;

use super::locked::{rotation_error, Locked};
use crate::backend::provider_ops;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::TestResult;

/// Runs a provider test on `version` (or the pending one) and records it on the locked key.
pub(crate) async fn run_test(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    locked: &mut Locked,
    version: Option<u32>,
) -> Result<(u32, TestResult), Error> {
    let versions = &locked.key_ref().versions;
    let target = match version {
        Some(n) => versions.get(n),
        None => versions.pending(),
    };
    let Some(target) = target else {
        return Err(match version {
            Some(n) => Error::BadRequest(format!("version {n} does not exist")),
            None => Error::BadRequest("no version is pending; stage one first".into()),
        });
    };
    let number = target.number;
    let Some(value) = target.value.clone() else {
        return Err(Error::BadRequest(format!(
            "version {number} is {} and has no value to test",
            target.state.as_str()
        )));
    };
    let provider = locked.key_ref().provider.clone();
    let result = provider_ops::test(shared, storage, provider.as_deref(), &value).await?;
    let changes = locked
        .key()
        .versions
        .record_test(Some(number), result.clone())
        .map_err(rotation_error)?;
    let outcome = result.outcome.as_str();
    *locked
        .key()
        .stats
        .test_outcomes
        .entry(outcome.to_string())
        .or_default() += 1;
    locked.record(&changes, Some(outcome));
    Ok((number, result))
}
