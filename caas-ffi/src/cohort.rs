//! The cohort handle: a definition read from text and checked.

use std::ffi::{CString, c_char};
use std::path::Path;

use caas_core::{Cohort, EngineOptions, Format};

use crate::args;
use crate::error::{CaasStatus, Error, c_string, guard, guard_value};

/// The format of a definition's text: YAML.
pub const CAAS_FORMAT_YAML: u32 = 0;
/// The format of a definition's text: JSON.
pub const CAAS_FORMAT_JSON: u32 = 1;

/// A checked cohort definition: every name resolved, every expression typed, the codelist
/// files read.
///
/// Made by `caas_cohort_parse`, freed by `caas_cohort_free`. A cohort is immutable: it may
/// be evaluated by several threads at once.
pub struct CaasCohort {
    pub(crate) cohort: Cohort,
    id: CString,
}

/// Reads and checks a cohort definition.
///
/// `text`: the definition (YAML or JSON). `format`: `CAAS_FORMAT_YAML` or
/// `CAAS_FORMAT_JSON`. `base_dir`: the folder that codelist files named in the definition
/// (`file: ...`) are read from; NULL for the working directory.
///
/// On success `*out` is a new cohort that the caller owns and frees with
/// `caas_cohort_free`; on failure `*out` is NULL and the last error says what is wrong and
/// where (for YAML/JSON errors, `caas_last_error_line` and `caas_last_error_column`; for
/// expression errors, the line of the expression and the column inside it). The library
/// does not keep the argument pointers. The definition is read within the default limits; see
/// `caas_cohort_parse_with_options`.
///
/// # Safety
///
/// `text` and `base_dir` are NULL or NUL-terminated strings; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_cohort_parse(
    text: *const c_char,
    format: u32,
    base_dir: *const c_char,
    out: *mut *mut CaasCohort,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on; NULL options are the defaults.
    unsafe { caas_cohort_parse_with_options(text, format, base_dir, std::ptr::null(), out) }
}

/// `caas_cohort_parse` within limits: `options_json` is NULL for the defaults, or the JSON
/// object of engine options that `caas_engine_new` takes, of which the limits apply here:
/// `max_expression_depth`, `max_expression_nodes`, `max_definition_bytes`,
/// `max_variables`, `max_variable_depth`, `max_codelist_codes` and `max_file_bytes`, e.g.
/// `{"max_expression_depth": 500}`. Going over one is `CAAS_ERR_DEFINITION` with the code
/// `limit_exceeded`.
///
/// # Safety
///
/// `text`, `base_dir` and `options_json` are NULL or NUL-terminated strings; `out` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_cohort_parse_with_options(
    text: *const c_char,
    format: u32,
    base_dir: *const c_char,
    options_json: *const c_char,
    out: *mut *mut CaasCohort,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let out = unsafe { args::out_handle(out, "out") }?;
        // SAFETY: `text` is NULL or a NUL-terminated string, by the caller's contract.
        let text = unsafe { args::text(text, "text") }?;
        // SAFETY: `base_dir` is NULL or a NUL-terminated string, by the caller's contract.
        let base_dir = unsafe { args::optional_text(base_dir, "base_dir") }?.unwrap_or(".");
        // SAFETY: `options_json` is NULL or a NUL-terminated string, by the caller's contract.
        let options: EngineOptions =
            unsafe { args::json_or_default(options_json, "options_json") }?;
        let format = match format {
            CAAS_FORMAT_YAML => Format::Yaml,
            CAAS_FORMAT_JSON => Format::Json,
            other => {
                return Err(Error::Invalid {
                    argument: "format",
                    problem: format!(
                        "is {other}, neither CAAS_FORMAT_YAML (0) nor CAAS_FORMAT_JSON (1)"
                    ),
                });
            }
        };
        let cohort = Cohort::from_str_with(text, format, Path::new(base_dir), &options.limits())?;
        let id = c_string(cohort.id());
        *out = Box::into_raw(Box::new(CaasCohort { cohort, id }));
        Ok(())
    })
}

/// The cohort's id (its definition's `id`), the name by which other definitions use its
/// membership. NULL when `cohort` is NULL.
///
/// Ownership: the string belongs to the cohort and is valid until `caas_cohort_free`.
///
/// # Safety
///
/// `cohort` is NULL or a live cohort.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_cohort_id(cohort: *const CaasCohort) -> *const c_char {
    // SAFETY: NULL or a live cohort, by the caller's contract.
    guard_value(std::ptr::null(), || match unsafe { cohort.as_ref() } {
        Some(cohort) => cohort.id.as_ptr(),
        None => std::ptr::null(),
    })
}

/// Frees a cohort. NULL is ignored. Engines it was registered with keep their own copy,
/// and results of evaluating it stay valid.
///
/// # Safety
///
/// `cohort` is NULL or a cohort from `caas_cohort_parse` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_cohort_free(cohort: *mut CaasCohort) {
    guard_value((), || {
        if !cohort.is_null() {
            // SAFETY: made by `Box::into_raw` in `caas_cohort_parse`, freed once by contract.
            drop(unsafe { Box::from_raw(cohort) });
        }
    });
}
