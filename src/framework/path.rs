//! Routes: a pattern, its fields and one handler per operation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use regex_lite::Regex;

use super::error::Error;
use super::field::{Field, FieldData};
use super::request::{Operation, Request, Response};

/// What a handler returns: a response, nothing (404 for reads, 204 for
/// writes), or an error.
pub type HandlerResult = Result<Option<Response>, Error>;

/// An operation handler.
pub type Handler = Arc<
    dyn Fn(Request, FieldData) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>> + Send + Sync,
>;

/// An existence check: does the object at this path exist? Decides whether a
/// write is a `create` or an `update` for ACL purposes.
pub type ExistenceCheck = Arc<
    dyn Fn(Request, FieldData) -> Pin<Box<dyn Future<Output = Result<bool, Error>> + Send>>
        + Send
        + Sync,
>;

/// Wraps an async function or closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |req, data| Box::pin(f(req, data)))
}

/// Wraps an async function or closure as an [`ExistenceCheck`].
pub fn existence_check<F, Fut>(f: F) -> ExistenceCheck
where
    F: Fn(Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, Error>> + Send + 'static,
{
    Arc::new(move |req, data| Box::pin(f(req, data)))
}

/// A named capture for one path segment: any run of characters up to the next `/`.
///
/// Deliberately wider than Vault's `GenericNameRegex`: the segment is validated by its field
/// (declare it as [`super::FieldType::Name`]), so a name that breaks the rule (`-x`, `x.`,
/// 129 characters) gets a 400 naming the rule instead of a 404 "unsupported path", as the API
/// contract asks.
pub fn generic_name_regex(name: &str) -> String {
    format!("(?P<{name}>[^/]+)")
}

/// One operation of a path: its documentation summary and handler.
#[derive(Clone)]
pub struct OperationSpec {
    /// The operation served.
    pub op: Operation,
    /// One-line summary for OpenAPI.
    pub summary: String,
    /// The handler.
    pub handler: Handler,
}

/// A route of the backend.
#[derive(Clone)]
pub struct Path {
    /// The regular expression, without `^` and `$` (added automatically).
    pub pattern: String,
    /// Declared fields: body/query parameters and named captures.
    pub fields: Vec<Field>,
    /// Supported operations (help is always supported).
    pub operations: Vec<OperationSpec>,
    /// Optional existence check (see [`ExistenceCheck`]).
    pub existence_check: Option<ExistenceCheck>,
    /// One-line help, also the OpenAPI path description.
    pub synopsis: String,
    /// Long help text.
    pub description: String,
    /// Unknown request fields are refused with a 400 instead of ignored with a warning; see
    /// [`Path::strict`].
    pub strict: bool,
    regex: Regex,
}

impl Path {
    /// A path for `pattern`, compiled as `^(?:pattern)$`.
    ///
    /// # Panics
    /// If the pattern is not a valid regular expression.
    pub fn new(pattern: &str) -> Path {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .unwrap_or_else(|e| panic!("invalid path pattern {pattern:?}: {e}"));
        Path {
            pattern: pattern.to_owned(),
            fields: Vec::new(),
            operations: Vec::new(),
            existence_check: None,
            synopsis: String::new(),
            description: String::new(),
            strict: false,
            regex,
        }
    }

    /// Declares a field.
    ///
    /// # Panics
    /// If a field of that name is already declared, a constraint does not suit the field's
    /// type (or its bounds are out of order), or the default value does not coerce to the
    /// field's type and meet its constraints.
    pub fn field(mut self, f: Field) -> Path {
        assert!(
            self.fields.iter().all(|x| x.name != f.name),
            "field {:?} declared twice on path {:?}",
            f.name,
            self.pattern
        );
        if let Err(problem) = f.check_constraints() {
            panic!("constraints of field {:?} are invalid: {problem}", f.name);
        }
        if let Err(problem) = f.check_default() {
            panic!("default of field {:?} is invalid: {problem}", f.name);
        }
        self.fields.push(f);
        self
    }

    /// Adds an operation. A later registration of the same operation
    /// replaces the earlier one.
    pub fn operation(mut self, op: Operation, summary: &str, h: Handler) -> Path {
        self.operations.retain(|o| o.op != op);
        self.operations.push(OperationSpec {
            op,
            summary: summary.to_owned(),
            handler: h,
        });
        self
    }

    /// Sets the existence check.
    pub fn existence(mut self, c: ExistenceCheck) -> Path {
        self.existence_check = Some(c);
        self
    }

    /// Refuses unknown request fields with a 400 naming them, instead of Vault's default of
    /// ignoring them with a warning. For paths whose every call acts at once (at a provider, on
    /// a key's versions): there a misspelt field (`vaule=...`) would be ignored and the action
    /// would run with settings the caller did not mean. Path help says so.
    pub fn strict(mut self) -> Path {
        self.strict = true;
        self
    }

    /// Sets the help synopsis and description.
    pub fn help(mut self, synopsis: &str, description: &str) -> Path {
        self.synopsis = synopsis.to_owned();
        self.description = description.to_owned();
        self
    }

    /// The handler for `op`, if registered.
    pub fn operation_spec(&self, op: Operation) -> Option<&OperationSpec> {
        self.operations.iter().find(|o| o.op == op)
    }

    /// Whether the path supports `op` (help aside).
    pub fn supports(&self, op: Operation) -> bool {
        self.operation_spec(op).is_some()
    }

    /// The route as shown in help: `^pattern$`.
    pub fn route(&self) -> String {
        format!("^{}$", self.pattern)
    }

    /// The named captures when `path` matches the whole pattern. Groups that
    /// did not take part in the match are left out.
    pub fn captures(&self, path: &str) -> Option<Vec<(String, String)>> {
        let caps = self.regex.captures(path)?;
        Some(
            self.regex
                .capture_names()
                .flatten()
                .filter_map(|n| caps.name(n).map(|m| (n.to_owned(), m.as_str().to_owned())))
                .collect(),
        )
    }

    /// Whether `path` matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }
}
