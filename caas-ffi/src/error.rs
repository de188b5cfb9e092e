//! Status codes, the thread-local last error, and the guard that every exported function
//! runs its body in.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{self, AssertUnwindSafe};

use caas_core::CaasError;

/// What a caas function returns: `CAAS_OK`, or the kind of error. The details (message,
/// error code, line and column) are in the thread's last error (`caas_last_error_message`
/// and the functions after it).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The C names, prefixed as C has no namespaces, are the names.
#[allow(non_camel_case_types)]
pub enum CaasStatus {
    /// Success.
    CAAS_OK = 0,
    /// An argument is NULL, not valid UTF-8, not valid JSON, out of range, or a stream that
    /// was already released: a mistake in the calling program. Also an argument whose
    /// value refers to nothing or cannot be used: an evaluation option such as a pseudonym
    /// key that is too short (code `invalid_option`), a person id that is not in the person
    /// table (code `unknown_person`).
    CAAS_ERR_INVALID_ARGUMENT = 1,
    /// The cohort definition or its parameters are wrong (syntax, unknown names, types,
    /// cycles, windows, codelists).
    CAAS_ERR_DEFINITION = 2,
    /// A table cannot be registered or used: a missing file, a missing column or one of the
    /// wrong type, a table that is not registered or has another role, unreadable Arrow data;
    /// rows with a data-quality finding whose policy is `fail` (code `data_quality`); data
    /// given after an evaluation that cannot be used, such as a previous run's members
    /// without ids or a person id on several rows of the person table (code
    /// `invalid_input`).
    CAAS_ERR_DATA = 3,
    /// Evaluation failed inside the engine (DataFusion or Arrow), the async runtime could
    /// not start, or a report could not be rendered (code `report`).
    CAAS_ERR_ENGINE = 4,
    /// A bug in caas: a Rust panic was caught at the boundary. The handles passed to the
    /// failing call may be unusable; free them.
    CAAS_ERR_PANIC = 5,
}

/// Everything that can go wrong in a call to the C library.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// An error of the engine, with its own code and place.
    #[error(transparent)]
    Caas(#[from] CaasError),
    /// A pointer argument is NULL.
    #[error("argument `{0}` is NULL")]
    Null(&'static str),
    /// A text argument is not valid UTF-8.
    #[error("argument `{0}` is not valid UTF-8")]
    Utf8(&'static str),
    /// A JSON argument does not parse, or does not fit what it describes.
    #[error(
        "argument `{argument}` is not valid: JSON error at line {line}, column {column}: {message}"
    )]
    Json {
        /// The argument's name.
        argument: &'static str,
        /// 1-based line in the JSON text.
        line: usize,
        /// 1-based column in the JSON text.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// Any other unusable argument.
    #[error("argument `{argument}` {problem}")]
    Invalid {
        /// The argument's name.
        argument: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A Rust panic, caught before it could unwind into C.
    #[error("internal error (a panic in caas): {0}")]
    Panic(String),
}

impl Error {
    /// A JSON error of the argument `argument`, with serde_json's location.
    pub(crate) fn json(argument: &'static str, err: &serde_json::Error) -> Self {
        Error::Json {
            argument,
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        }
    }

    pub(crate) fn status(&self) -> CaasStatus {
        match self {
            Error::Caas(err) => caas_status(err),
            Error::Null(_) | Error::Utf8(_) | Error::Json { .. } | Error::Invalid { .. } => {
                CaasStatus::CAAS_ERR_INVALID_ARGUMENT
            }
            Error::Panic(_) => CaasStatus::CAAS_ERR_PANIC,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Caas(err) => err.code(),
            Error::Null(_) | Error::Utf8(_) | Error::Json { .. } | Error::Invalid { .. } => {
                "invalid_argument"
            }
            Error::Panic(_) => "panic",
        }
    }

    /// Line and column: in the definition text for syntax errors, in the JSON argument for
    /// JSON errors; for expression syntax errors no line and the character position in the
    /// expression as the column.
    fn location(&self) -> (usize, usize) {
        match self {
            Error::Caas(CaasError::ExpressionSyntax { column, .. }) => (0, *column),
            Error::Caas(err) => err.line_column().unwrap_or((0, 0)),
            Error::Json { line, column, .. } => (*line, *column),
            _ => (0, 0),
        }
    }
}

fn caas_status(err: &CaasError) -> CaasStatus {
    match err {
        CaasError::Syntax { .. }
        | CaasError::ExpressionSyntax { .. }
        | CaasError::UnknownReference { .. }
        | CaasError::TypeMismatch { .. }
        | CaasError::Cycle { .. }
        | CaasError::EmptyWindow { .. }
        | CaasError::UnknownParameter { .. }
        | CaasError::CodeSystemMismatch { .. }
        | CaasError::InvalidDefinition { .. }
        | CaasError::Codelist { .. } => CaasStatus::CAAS_ERR_DEFINITION,
        CaasError::Table { .. }
        | CaasError::Registration { .. }
        | CaasError::MissingColumn { .. }
        | CaasError::ColumnType { .. }
        | CaasError::Io { .. }
        | CaasError::DataQuality { .. }
        | CaasError::InvalidInput { .. } => CaasStatus::CAAS_ERR_DATA,
        CaasError::InvalidOption { .. } | CaasError::UnknownPerson { .. } => {
            CaasStatus::CAAS_ERR_INVALID_ARGUMENT
        }
        // `Engine`, `Report`, and whatever variant a later caas-core adds.
        _ => CaasStatus::CAAS_ERR_ENGINE,
    }
}

/// The last error of a thread, kept as C strings so that the accessors can hand out
/// pointers into it.
struct LastError {
    status: CaasStatus,
    message: CString,
    code: CString,
    line: usize,
    column: usize,
}

impl LastError {
    fn none() -> Self {
        LastError {
            status: CaasStatus::CAAS_OK,
            message: CString::default(),
            code: CString::default(),
            line: 0,
            column: 0,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError::none());
}

/// A C string of `text`; a NUL byte inside (which C could not see past) becomes U+FFFD.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

fn set_last_error(error: LastError) {
    // During thread teardown the slot may be gone; the status code still tells the caller.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = error;
        }
    });
}

fn read_last_error<T>(read: impl FnOnce(&LastError) -> T, default: T) -> T {
    LAST_ERROR
        .try_with(|slot| slot.try_borrow().map(|e| read(&e)).ok())
        .ok()
        .flatten()
        .unwrap_or(default)
}

/// The text of a panic's payload (what `panic!` was given), when it is text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string())
}

/// Runs the body of an exported function: catches any panic, records the outcome as the
/// thread's last error (cleared on success), and returns the status.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> CaasStatus {
    let outcome = panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(Error::Panic(panic_message(payload.as_ref()))));
    match outcome {
        Ok(()) => {
            set_last_error(LastError::none());
            CaasStatus::CAAS_OK
        }
        Err(err) => {
            let status = err.status();
            let (line, column) = err.location();
            set_last_error(LastError {
                status,
                message: c_string(&err.to_string()),
                code: c_string(err.code()),
                line,
                column,
            });
            status
        }
    }
}

/// Runs the body of an exported function that returns no status (a free function, an
/// accessor): a panic is swallowed and `fallback` returned, since there is no status to
/// report it with.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The status of the last call on this thread that returned a `CaasStatus`.
#[unsafe(no_mangle)]
pub extern "C" fn caas_last_error_status() -> CaasStatus {
    guard_value(CaasStatus::CAAS_ERR_PANIC, || {
        read_last_error(|e| e.status, CaasStatus::CAAS_OK)
    })
}

/// The message of the last error on this thread, in English, naming the place at fault
/// (line and column, variable, rule, table, column, argument); never patient data. The
/// empty string when the last call succeeded.
///
/// Ownership: the string belongs to the library. It stays valid until the next call on
/// the same thread of a function that returns a `CaasStatus`; copy it to keep it. Never
/// NULL.
#[unsafe(no_mangle)]
pub extern "C" fn caas_last_error_message() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        read_last_error(|e| e.message.as_ptr(), c"".as_ptr())
    })
}

/// The stable code of the last error on this thread, for programs that react to kinds of
/// error without parsing messages: one of `syntax`, `expression_syntax`,
/// `unknown_reference`, `type_mismatch`, `cycle`, `empty_window`, `unknown_parameter`,
/// `code_system_mismatch`, `invalid_definition`, `codelist`, `table`, `registration`,
/// `missing_column`, `column_type`, `io`, `engine`, `unknown_person`, `invalid_input`,
/// `report`, `data_quality`, `invalid_option` (the engine's codes), `invalid_argument` or
/// `panic`. The empty string when the last call succeeded.
///
/// Ownership: as for `caas_last_error_message`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn caas_last_error_code() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        read_last_error(|e| e.code.as_ptr(), c"".as_ptr())
    })
}

/// The 1-based line of the last error on this thread: in the definition text for `syntax`
/// errors, in the JSON argument for invalid JSON. 0 when the error has no line (and for
/// `expression_syntax` errors, whose place is given by the column).
#[unsafe(no_mangle)]
pub extern "C" fn caas_last_error_line() -> usize {
    guard_value(0, || read_last_error(|e| e.line, 0))
}

/// The 1-based column of the last error on this thread: with the line for `syntax` and
/// JSON errors; for `expression_syntax` errors, the character position inside the
/// expression. 0 when unknown.
#[unsafe(no_mangle)]
pub extern "C" fn caas_last_error_column() -> usize {
    guard_value(0, || read_last_error(|e| e.column, 0))
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last_message() -> String {
        // SAFETY: a NUL-terminated string owned by this thread's last error.
        unsafe { CStr::from_ptr(caas_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom at the boundary"));
        assert_eq!(status, CaasStatus::CAAS_ERR_PANIC);
        assert_eq!(caas_last_error_status(), CaasStatus::CAAS_ERR_PANIC);
        assert_eq!(
            last_message(),
            "internal error (a panic in caas): boom at the boundary"
        );
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(caas_last_error_code()) }, c"panic");

        assert_eq!(guard(|| Ok(())), CaasStatus::CAAS_OK);
        assert_eq!(last_message(), "");
    }

    #[test]
    fn engine_errors_keep_their_code_and_place() {
        let status = guard(|| {
            Err(CaasError::Engine {
                kind: caas_core::EngineFailure::Io,
                message: "out of disk".into(),
            }
            .into())
        });
        assert_eq!(status, CaasStatus::CAAS_ERR_ENGINE);
        assert_eq!(last_message(), "evaluation failed: out of disk");

        let status = guard(|| {
            Err(CaasError::ExpressionSyntax {
                place: caas_core::Place::Variable("x".into()),
                column: 7,
                message: "unexpected `)`".into(),
            }
            .into())
        });
        assert_eq!(status, CaasStatus::CAAS_ERR_DEFINITION);
        assert_eq!((caas_last_error_line(), caas_last_error_column()), (0, 7));
    }

    #[test]
    fn assurance_errors_have_their_documented_status() {
        let cases = [
            (
                CaasError::DataQuality {
                    table: "persons".into(),
                    column: "person_id".into(),
                    kind: caas_core::quality::FindingKind::DuplicatePerson,
                    count: 2,
                },
                CaasStatus::CAAS_ERR_DATA,
            ),
            (
                CaasError::InvalidInput {
                    what: "previous members".into(),
                    message: "1 rows have no person_id".into(),
                },
                CaasStatus::CAAS_ERR_DATA,
            ),
            (
                CaasError::InvalidOption {
                    option: "pseudonym_key",
                    message: "too short".into(),
                },
                CaasStatus::CAAS_ERR_INVALID_ARGUMENT,
            ),
            (
                CaasError::UnknownPerson {
                    table: "persons".into(),
                },
                CaasStatus::CAAS_ERR_INVALID_ARGUMENT,
            ),
            (
                CaasError::Report("no template".into()),
                CaasStatus::CAAS_ERR_ENGINE,
            ),
        ];
        for (err, status) in cases {
            let code = err.code();
            assert_eq!(guard(|| Err(err.into())), status, "{code}");
            // SAFETY: a NUL-terminated string owned by this thread's last error.
            assert_eq!(
                unsafe { CStr::from_ptr(caas_last_error_code()) }.to_str(),
                Ok(code)
            );
        }
    }

    #[test]
    fn nul_bytes_cannot_cut_a_message_short() {
        assert_eq!(c_string("a\0b").to_str(), Ok("a\u{FFFD}b"));
    }
}
