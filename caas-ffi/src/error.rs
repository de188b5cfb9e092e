//! Status codes, the thread-local last error, and the guard that every exported function
//! runs its body in.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{self, AssertUnwindSafe};

use caas_core::{CaasError, Category};

use crate::args::optional_text;

/// What a caas function returns: `CAAS_OK`, or the kind of error. The details (message,
/// error code, line and column) are in the thread's last error (`caas_last_error_message`
/// and the functions after it).
///
/// Each error code belongs to one kind, decided by the engine for all of caas's front ends;
/// `caas_error_code_status` gives the status of a code. New statuses are only ever added
/// at the end, so a program should treat a status it does not know as an error.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The C names, prefixed as C has no namespaces, are the names.
#[allow(non_camel_case_types)]
pub enum CaasStatus {
    /// Success.
    CAAS_OK = 0,
    /// An argument cannot be used: a mistake in the calling program. Codes:
    /// `invalid_argument` (an argument that is NULL, not valid UTF-8, not valid JSON, out of
    /// range, or a stream that was already released) and `invalid_option` (an evaluation
    /// option such as a pseudonym key that is too short).
    CAAS_ERR_INVALID_ARGUMENT = 1,
    /// The cohort definition or its parameters are wrong. Codes: `syntax`,
    /// `expression_syntax`, `unknown_reference`, `type_mismatch`, `cycle`, `empty_window`,
    /// `unknown_parameter`, `code_system_mismatch`, `invalid_definition`, `codelist` (a
    /// codelist file that cannot be used), `unsupported` (something a SQL dialect cannot
    /// express), `limit_exceeded` (a definition over one of the limits of
    /// `caas_cohort_parse_with_options`).
    CAAS_ERR_DEFINITION = 2,
    /// A table, a file, or data given after an evaluation cannot be used. Codes: `table` (not
    /// registered, or of another role), `registration`, `missing_column`, `column_type`,
    /// `io` (a file that cannot be read), `data_quality` (rows with a finding whose policy is
    /// `fail`, or values that arithmetic left missing under `arithmetic_error: fail`),
    /// `invalid_input` (such as a previous run's members without ids, or a person id
    /// on several rows of the person table) and `unknown_person` (a person id that is not in
    /// the person table).
    CAAS_ERR_DATA = 3,
    /// Evaluation failed inside the engine. Codes: `engine` (DataFusion or Arrow failed, or
    /// the async runtime could not start), `resources_exhausted` (memory ran out under the
    /// engine's memory limit), `report` (a report could not be rendered) and `cancelled`
    /// (the work was cancelled before it ended).
    CAAS_ERR_ENGINE = 4,
    /// A bug in caas: a Rust panic was caught at the boundary (code `panic`). The handles
    /// passed to the failing call may be unusable; free them.
    CAAS_ERR_PANIC = 5,
    /// A bug in caas: the engine found one of its own invariants broken (code `internal`).
    /// Please report it.
    CAAS_ERR_INTERNAL = 6,
}

/// The code of the errors this library finds in its arguments before the engine sees them.
const INVALID_ARGUMENT: &str = "invalid_argument";

/// The code of a panic caught at the boundary.
const PANIC: &str = "panic";

/// The status of each category of error: the C form of the engine's one mapping from error
/// codes to categories.
fn category_status(category: Category) -> CaasStatus {
    match category {
        Category::Definition => CaasStatus::CAAS_ERR_DEFINITION,
        Category::Data => CaasStatus::CAAS_ERR_DATA,
        Category::InvalidArgument => CaasStatus::CAAS_ERR_INVALID_ARGUMENT,
        Category::Engine => CaasStatus::CAAS_ERR_ENGINE,
        Category::Internal => CaasStatus::CAAS_ERR_INTERNAL,
        // A category that a later caas-core adds before this library maps it: a gap in caas
        // itself, which the tests of every code's status catch.
        _ => CaasStatus::CAAS_ERR_INTERNAL,
    }
}

/// The status that errors with this code are returned with: `CAAS_OK` for the empty code
/// (no error), `None` for text that is no code of caas.
fn code_status(code: &str) -> Option<CaasStatus> {
    match code {
        "" => Some(CaasStatus::CAAS_OK),
        PANIC => Some(CaasStatus::CAAS_ERR_PANIC),
        INVALID_ARGUMENT => Some(category_status(Category::InvalidArgument)),
        _ => Category::of_code(code).map(category_status),
    }
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

    /// The status this error is returned with.
    pub(crate) fn status(&self) -> CaasStatus {
        match self {
            Error::Caas(err) => category_status(err.category()),
            Error::Null(_) | Error::Utf8(_) | Error::Json { .. } | Error::Invalid { .. } => {
                category_status(Category::InvalidArgument)
            }
            Error::Panic(_) => CaasStatus::CAAS_ERR_PANIC,
        }
    }

    /// The stable code of `caas_last_error_code`.
    fn code(&self) -> &'static str {
        match self {
            Error::Caas(err) => err.code(),
            Error::Null(_) | Error::Utf8(_) | Error::Json { .. } | Error::Invalid { .. } => {
                INVALID_ARGUMENT
            }
            Error::Panic(_) => PANIC,
        }
    }

    /// Line and column: in the definition text for syntax errors, in the JSON argument for
    /// JSON errors; for expression syntax errors the line of the expression in the
    /// definition's text (0 where unknown) and the character position in the expression as
    /// the column.
    fn location(&self) -> (usize, usize) {
        match self {
            Error::Caas(CaasError::ExpressionSyntax { column, line, .. }) => {
                let line = line.and_then(|l| usize::try_from(l).ok()).unwrap_or(0);
                (line, *column)
            }
            Error::Caas(err) => err.line_column().unwrap_or((0, 0)),
            Error::Json { line, column, .. } => (*line, *column),
            _ => (0, 0),
        }
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
/// error without parsing messages: one of the codes listed at `CaasStatus`, under the status
/// they are returned with (`caas_error_code_status` gives it). The empty string when the
/// last call succeeded.
///
/// Ownership: as for `caas_last_error_message`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn caas_last_error_code() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        read_last_error(|e| e.code.as_ptr(), c"".as_ptr())
    })
}

/// The 1-based line of the last error on this thread: in the definition text for `syntax`
/// errors and for `expression_syntax` errors whose expression was found in it, in the JSON
/// argument for invalid JSON. 0 when the error has no line.
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

/// The status that errors with the code `code` are returned with, as listed at
/// `CaasStatus`: for every code `caas_last_error_code` can give, so that a program (or a
/// test) needs no table of its own. `CAAS_OK` for the empty string, the code of no error.
/// `CAAS_ERR_INVALID_ARGUMENT` also when `code` is NULL, not valid UTF-8 or not a code of
/// caas. The thread's last error is left as it is, so
/// `caas_error_code_status(caas_last_error_code())` is `caas_last_error_status()`.
///
/// # Safety
///
/// `code` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_error_code_status(code: *const c_char) -> CaasStatus {
    guard_value(CaasStatus::CAAS_ERR_PANIC, || {
        // SAFETY: NULL or NUL-terminated, by the caller's contract.
        match unsafe { optional_text(code, "code") } {
            Ok(Some(code)) => code_status(code).unwrap_or(CaasStatus::CAAS_ERR_INVALID_ARGUMENT),
            Ok(None) | Err(_) => CaasStatus::CAAS_ERR_INVALID_ARGUMENT,
        }
    })
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

    fn last_code() -> String {
        // SAFETY: a NUL-terminated string owned by this thread's last error.
        unsafe { CStr::from_ptr(caas_last_error_code()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The status of the code of this thread's last error.
    fn status_of_last_code() -> CaasStatus {
        // SAFETY: a NUL-terminated string owned by this thread's last error, which
        // `caas_error_code_status` reads before anything could change it.
        unsafe { caas_error_code_status(caas_last_error_code()) }
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
        assert_eq!(last_code(), "panic");

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
                expression: "a + b )".into(),
                line: Some(12),
                suggestion: None,
            }
            .into())
        });
        assert_eq!(status, CaasStatus::CAAS_ERR_DEFINITION);
        assert_eq!((caas_last_error_line(), caas_last_error_column()), (12, 7));
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
                CaasStatus::CAAS_ERR_DATA,
            ),
            (
                CaasError::Report("no template".into()),
                CaasStatus::CAAS_ERR_ENGINE,
            ),
            (
                CaasError::Engine {
                    kind: caas_core::EngineFailure::ResourcesExhausted,
                    message: "memory limit reached".into(),
                },
                CaasStatus::CAAS_ERR_ENGINE,
            ),
            (
                CaasError::Internal("a plan without its person table".into()),
                CaasStatus::CAAS_ERR_INTERNAL,
            ),
        ];
        for (err, status) in cases {
            let code = err.code();
            assert_eq!(guard(|| Err(err.into())), status, "{code}");
            assert_eq!(last_code(), code);
        }
    }

    /// The status each category must have in C: the C form of the categories, written out
    /// here so that a change to [`category_status`] is a visible, reviewed change of the ABI.
    const STATUS_OF_CATEGORY: [(Category, CaasStatus); 5] = [
        (Category::Definition, CaasStatus::CAAS_ERR_DEFINITION),
        (Category::Data, CaasStatus::CAAS_ERR_DATA),
        (
            Category::InvalidArgument,
            CaasStatus::CAAS_ERR_INVALID_ARGUMENT,
        ),
        (Category::Engine, CaasStatus::CAAS_ERR_ENGINE),
        (Category::Internal, CaasStatus::CAAS_ERR_INTERNAL),
    ];

    fn code_status_of(code: &CStr) -> CaasStatus {
        // SAFETY: a NUL-terminated string.
        unsafe { caas_error_code_status(code.as_ptr()) }
    }

    #[test]
    fn every_code_of_the_engine_has_the_status_of_its_category() {
        for (code, category) in caas_core::error::ERROR_CODES {
            let Some((_, expected)) = STATUS_OF_CATEGORY.iter().find(|(c, _)| c == category) else {
                panic!("category `{category}` of `{code}` has no status in C");
            };
            assert_eq!(category_status(*category), *expected, "{code}");
            let text = CString::new(*code).unwrap();
            assert_eq!(code_status_of(&text), *expected, "{code}");
        }
    }

    #[test]
    fn the_library_s_own_codes_have_their_status() {
        let own = [
            Error::Null("engine"),
            Error::Utf8("name"),
            Error::Invalid {
                argument: "format",
                problem: "is not a format".into(),
            },
            Error::Panic("boom".into()),
        ];
        for err in own {
            let code = CString::new(err.code()).unwrap();
            assert_eq!(code_status_of(&code), err.status(), "{err}");
        }
        assert_eq!(
            code_status_of(c"invalid_argument"),
            CaasStatus::CAAS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(code_status_of(c"panic"), CaasStatus::CAAS_ERR_PANIC);
    }

    #[test]
    fn a_code_s_status_is_that_of_the_last_error_and_leaves_it_alone() {
        let status = guard(|| {
            Err(CaasError::UnknownPerson {
                table: "persons".into(),
            }
            .into())
        });
        assert_eq!(status, CaasStatus::CAAS_ERR_DATA);
        assert_eq!(status_of_last_code(), status);
        assert_eq!(caas_last_error_status(), status);
        assert_eq!(
            last_message(),
            "person table `persons` has no person with the given id"
        );

        assert_eq!(
            code_status_of(c"no_such_code"),
            CaasStatus::CAAS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            code_status_of(c"\xff"),
            CaasStatus::CAAS_ERR_INVALID_ARGUMENT
        );
        // SAFETY: NULL is allowed.
        let of_null = unsafe { caas_error_code_status(std::ptr::null()) };
        assert_eq!(of_null, CaasStatus::CAAS_ERR_INVALID_ARGUMENT);
        assert_eq!(
            caas_last_error_status(),
            status,
            "the last error is unchanged"
        );

        assert_eq!(guard(|| Ok(())), CaasStatus::CAAS_OK);
        assert_eq!(status_of_last_code(), CaasStatus::CAAS_OK);
    }

    /// The header documents each status with its codes; every code must be listed under
    /// exactly the status it is returned with, so the documentation cannot drift either.
    #[test]
    fn the_header_lists_each_code_under_its_status() {
        let header = include_str!("../../include/caas.h");
        let start = header.find("typedef enum CaasStatus {").unwrap();
        let end = start + header[start..].find("} CaasStatus;").unwrap();
        // Each variant's doc comment comes before its name.
        let mut docs = Vec::new();
        let mut doc = String::new();
        for line in header[start..end].lines() {
            let line = line.trim();
            match line.strip_prefix("CAAS_") {
                Some(name) => {
                    let name = name.split(' ').next().unwrap();
                    docs.push((format!("CAAS_{name}"), std::mem::take(&mut doc)));
                }
                None => doc.push_str(&format!(" {}", line.trim_start_matches(['/', '*']))),
            }
        }
        let name = |status: CaasStatus| format!("{status:?}");
        let own = [INVALID_ARGUMENT, PANIC];
        let codes = caas_core::error::ERROR_CODES.iter().map(|(code, _)| *code);
        for code in codes.chain(own) {
            let status = code_status(code).unwrap();
            let listed: Vec<&str> = docs
                .iter()
                .filter(|(_, doc)| doc.contains(&format!("`{code}`")))
                .map(|(variant, _)| variant.as_str())
                .collect();
            assert_eq!(listed, [name(status)], "`{code}` in the header");
        }
    }

    #[test]
    fn nul_bytes_cannot_cut_a_message_short() {
        assert_eq!(c_string("a\0b").to_str(), Ok("a\u{FFFD}b"));
    }
}
