//! The backend: routing, validation, help, existence checks and rollback.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::Error;
use super::field::FieldData;
use super::help;
use super::path::{HandlerResult, Path};
use super::request::{Operation, Request, Response};

mod rollback;

#[cfg(feature = "test-hooks")]
pub(crate) use rollback::Rollback;
pub use rollback::{PeriodicFn, WalOutcome, WalRollbackFn};

/// Default minimum age of a WAL entry before it is rolled back.
const DEFAULT_WAL_MIN_AGE: Duration = Duration::from_secs(600);

/// The answer to the host's existence check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExistenceResult {
    /// Whether the route has an existence check (if not, writes are updates).
    pub check_found: bool,
    /// Whether the object exists (meaningful when `check_found`).
    pub exists: bool,
}

/// A Vault-style backend: paths in declaration order plus the callbacks the
/// rollback tick drives.
pub struct Backend {
    /// Root help text (`bao path-help <mount>/`).
    pub help: String,
    /// Routes, matched in declaration order; the first match wins.
    pub paths: Vec<Path>,
    /// Periodic work run by `rollback`.
    pub periodic: Option<PeriodicFn>,
    /// WAL rollback handler run by `rollback`.
    pub wal_rollback: Option<WalRollbackFn>,
    /// Entries younger than this are left alone (default 10 minutes).
    pub wal_min_age: Duration,
    /// No new WAL entry is started after this much time in one rollback (none by default).
    pub wal_budget: Option<Duration>,
    version: String,
    /// Held while a rollback runs (see [`Rollback`]).
    rollback_running: Arc<tokio::sync::Mutex<()>>,
}

impl Backend {
    /// A backend without paths.
    pub fn new(help: &str) -> Backend {
        Backend {
            help: help.to_owned(),
            paths: Vec::new(),
            periodic: None,
            wal_rollback: None,
            wal_min_age: DEFAULT_WAL_MIN_AGE,
            wal_budget: None,
            version: String::new(),
            rollback_running: Arc::default(),
        }
    }

    /// Adds a route after the existing ones.
    pub fn path(mut self, p: Path) -> Backend {
        self.paths.push(p);
        self
    }

    /// Sets the periodic function.
    pub fn periodic(mut self, f: PeriodicFn) -> Backend {
        self.periodic = Some(f);
        self
    }

    /// Sets the WAL rollback handler and the minimum entry age.
    pub fn wal_rollback(mut self, f: WalRollbackFn, min_age: Duration) -> Backend {
        self.wal_rollback = Some(f);
        self.wal_min_age = min_age;
        self
    }

    /// Bounds the time one rollback spends starting WAL entries; the rest wait for the next.
    pub fn wal_budget(mut self, budget: Duration) -> Backend {
        self.wal_budget = Some(budget);
        self
    }

    /// Adds the test hooks' paths (see [`super::test_hooks`]): `test-hooks/tick` runs what the
    /// host's periodic `rollback` call runs, now. Call it after [`Backend::periodic`],
    /// [`Backend::wal_rollback`] and [`Backend::wal_budget`]: the hook keeps what they set.
    /// Only in builds with the `test-hooks` feature, which release builds never have.
    #[cfg(feature = "test-hooks")]
    pub fn test_hooks(mut self) -> Backend {
        let rollback = self.rollback();
        self.paths.push(super::test_hooks::tick_path(rollback));
        self
    }

    /// Sets the version reported as `info.version` in help's OpenAPI document.
    pub fn version(mut self, v: &str) -> Backend {
        self.version = v.to_owned();
        self
    }

    /// The version set with [`Backend::version`] (default "").
    pub fn version_str(&self) -> &str {
        &self.version
    }

    /// The first route matching `path`, with its named captures.
    pub fn route(&self, path: &str) -> Option<(&Path, Vec<(String, String)>)> {
        self.paths
            .iter()
            .find_map(|p| p.captures(path).map(|c| (p, c)))
    }

    /// Handles one request, as Go's `framework.Backend.HandleRequest` does:
    ///
    /// - `rollback`: the periodic function, then WAL rollback of entries older
    ///   than `wal_min_age` (all of them when the data has `immediate`);
    ///   failures are joined into one [`Error::Internal`] after trying all.
    /// - `resolve-path`: [`Error::UnsupportedOperation`] (the host then keeps
    ///   the original path).
    /// - `help` on `""`: root help; elsewhere help of the matching route.
    /// - anything else: the first route whose pattern matches the whole path
    ///   ([`Error::UnsupportedPath`] if none), its handler for the operation
    ///   ([`Error::UnsupportedOperation`] if none), named captures laid over
    ///   the body (warning when they replace a body value), every declared
    ///   field validated against its type and constraints ([`Error::BadRequest`]
    ///   naming the field), on a create or update every required field given
    ///   (the same 400 otherwise), undeclared
    ///   body keys reported in a warning (refused with [`Error::BadRequest`] on a
    ///   [`Path::strict`] path). Warnings go into the handler's
    ///   response; a write that returned nothing gets an empty response to
    ///   carry them, while a read, list or scan that returned nothing stays
    ///   "not found".
    pub async fn handle_request(&self, req: Request) -> HandlerResult {
        match req.operation {
            Operation::Rollback => return self.handle_rollback(req).await,
            Operation::ResolvePath => return Err(Error::UnsupportedOperation),
            Operation::Help if req.path.is_empty() => return Ok(Some(self.root_help(&req))),
            _ => {}
        }
        let Some((path, captures)) = self.route(&req.path) else {
            return Err(Error::UnsupportedPath);
        };
        let spec = path.operation_spec(req.operation);
        if req.operation == Operation::Help && spec.is_none() {
            return Ok(Some(help::path_help(self, path, &req)));
        }
        let Some(spec) = spec else {
            return Err(Error::UnsupportedOperation);
        };

        let mut warnings = Vec::new();
        let mut ignored: Vec<&str> = req
            .data
            .keys()
            .filter(|k| path.fields.iter().all(|f| &f.name != *k))
            .map(String::as_str)
            .collect();
        ignored.sort_unstable();
        if path.strict && !ignored.is_empty() {
            return Err(Error::BadRequest(unknown_fields_message(&ignored)));
        }
        if !ignored.is_empty() {
            warnings.push(format!(
                "Endpoint ignored these unrecognized parameters: [{}]",
                ignored.join(" ")
            ));
        }
        let (raw, replaced) = merge_captures(&req.data, captures);
        if !replaced.is_empty() {
            warnings.push(format!(
                "Endpoint replaced the value of these parameters with the values captured \
                 from the endpoint's path: [{}]",
                replaced.join(" ")
            ));
        }
        let data = FieldData::new(&path.fields, &raw)?;
        let op = req.operation;
        if matches!(op, Operation::Create | Operation::Update) {
            if let Some(missing) = path
                .fields
                .iter()
                .find(|f| f.required && !data.is_set(&f.name))
            {
                return Err(Error::BadRequest(format!(
                    "Field validation failed: field \"{}\": is required",
                    missing.name
                )));
            }
        }
        let resp = (spec.handler)(req, data).await?;
        Ok(add_warnings(op, resp, warnings))
    }

    /// Answers the host's existence check for a write (`create`/`update`).
    pub async fn handle_existence_check(&self, req: Request) -> Result<ExistenceResult, Error> {
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return Err(Error::Internal(format!(
                "incorrect operation type {} for an existence check",
                req.operation
            )));
        }
        let Some((path, captures)) = self.route(&req.path) else {
            return Err(Error::UnsupportedPath);
        };
        let Some(check) = path.existence_check.clone() else {
            return Ok(ExistenceResult {
                check_found: false,
                exists: false,
            });
        };
        // A bad field value is the handler's 400 to give, with its message: failing here would
        // make the host log "failed to run existence check" at ERROR for a typo.
        let (raw, _) = merge_captures(&req.data, captures);
        let data = FieldData::lenient(&path.fields, &raw);
        let exists = check(req, data).await?;
        Ok(ExistenceResult {
            check_found: true,
            exists,
        })
    }

    /// The OpenAPI 3.0.2 document for every path, `info.version` = `version`.
    pub fn openapi(&self, version: &str) -> Value {
        let paths: Vec<&Path> = self.paths.iter().collect();
        super::openapi::document(&paths, version, "")
    }

    fn root_help(&self, req: &Request) -> Response {
        help::root_help(self, req)
    }

    async fn handle_rollback(&self, req: Request) -> HandlerResult {
        self.rollback().run(req, None).await
    }
}

/// The 400 of a [`Path::strict`] path for fields it does not declare (names only: they are
/// the caller's own keys, never values).
fn unknown_fields_message(unknown: &[&str]) -> String {
    format!(
        "unknown fields: [{}]; this path refuses fields it does not know instead of ignoring \
         them, so that a misspelt field never lets it act with settings you did not mean (see \
         path-help for its fields)",
        unknown.join(" ")
    )
}

/// Request data with the named captures laid over it, and the names whose
/// (non-null) body value a capture replaced, sorted.
fn merge_captures(
    data: &Map<String, Value>,
    captures: Vec<(String, String)>,
) -> (Map<String, Value>, Vec<String>) {
    let mut raw = data.clone();
    let mut replaced = Vec::new();
    for (name, value) in captures {
        if let Some(old) = raw.insert(name.clone(), Value::String(value)) {
            if !old.is_null() {
                replaced.push(name);
            }
        }
    }
    replaced.sort_unstable();
    (raw, replaced)
}

/// Merges framework warnings into the handler's response. A missing response
/// gets one only for writes: for read, list and scan no response means "not
/// found" (404), which an empty response would turn into a 200.
fn add_warnings(op: Operation, resp: Option<Response>, warnings: Vec<String>) -> Option<Response> {
    if warnings.is_empty() {
        return resp;
    }
    let mut resp = match resp {
        Some(resp) => resp,
        None if matches!(op, Operation::Read | Operation::List | Operation::Scan) => return None,
        None => Response::default(),
    };
    resp.warnings.extend(warnings);
    Some(resp)
}

#[cfg(test)]
mod tests;
