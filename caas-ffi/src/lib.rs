//! # caas: the C library of caas-core
//!
//! A stable C ABI over the one engine of `caas-core`, for systems that call caas from C
//! (or from any language with a C foreign-function interface). It builds as a shared
//! library (`libcaas.so`) and a static one (`libcaas.a`); its header, `include/caas.h`,
//! is generated from this crate by cbindgen, so the documentation below and on each
//! function is what C programmers read.
//!
//! ## The shape of the API
//!
//! - Three opaque handles, each made by one function and freed by one NULL-safe free
//!   function: `CaasEngine` (tables and cohorts registered with it), `CaasCohort` (a
//!   checked definition) and `CaasResult` (an evaluation's members and attrition, and what
//!   explains them).
//! - Structured values cross as JSON text: engine options, table specifications (role, code
//!   system, column mapping), run-time parameters, evaluation options (data-quality
//!   policies, pseudonym key) and report options. Definitions cross as YAML or JSON text,
//!   exactly as `caas-core` reads them.
//! - Data crosses as Arrow C streams (`struct ArrowArrayStream`): tables in, members,
//!   attrition and the audit table out without copies; a previous run's members in, who
//!   joined and who left out.
//! - Clinical assurance and governance come out as JSON or report text: the explanation of
//!   a person, the provenance manifest, the data-quality findings, and the report as
//!   Markdown, self-contained HTML or an SVG funnel. Each such string is the caller's, freed
//!   with `caas_string_free`.
//! - Every function that can fail returns a `CaasStatus` and sets the thread's last error
//!   (message, stable code, line and column), read with `caas_last_error_message` and its
//!   siblings. No Rust panic unwinds into C: each exported function, and each callback of
//!   every stream the library hands out, catches it and reports `CAAS_ERR_PANIC` (or an
//!   error code from the stream callback). NULL and invalid arguments are reported, never
//!   dereferenced.
//! - One process-wide thread pool (`caas_core::runtime`) runs every evaluation; calls
//!   block the calling thread until they finish.
//!
//! ## Ownership
//!
//! Every pointer the library returns says who owns it: handles belong to the caller until
//! their free function; streams written into a caller's `struct ArrowArrayStream` belong to
//! the caller, who releases them with their `release` callback; strings returned through a
//! `char **out` argument belong to the caller, who frees each once with `caas_string_free`;
//! strings from the `caas_last_error_*` functions belong to the library and live until the
//! thread's next call that returns a status; `caas_version` is static. The library keeps
//! no argument pointer after a call returns, and takes ownership only of the streams it
//! registers and of the previous members given to `caas_result_diff`.
//!
//! ## Example (C)
//!
//! ```c
//! #include <stdio.h>
//! #include "caas.h"
//!
//! int main(void) {
//!     CaasEngine *engine = NULL;
//!     CaasCohort *cohort = NULL;
//!     CaasResult *result = NULL;
//!     uint64_t members = 0;
//!     if (caas_engine_new(NULL, &engine) != CAAS_OK
//!         || caas_engine_register_file(engine, "persons", "persons.parquet",
//!                                      "{\"role\": \"person\"}") != CAAS_OK
//!         || caas_cohort_parse("id: all\ntitle: All\npurpose: direct_care\n"
//!                              "variables: {}\nrules: []\noutput: {columns: []}\n",
//!                              CAAS_FORMAT_YAML, NULL, &cohort) != CAAS_OK
//!         || caas_engine_evaluate(engine, cohort, NULL, &result) != CAAS_OK
//!         || caas_result_member_count(result, &members) != CAAS_OK) {
//!         fprintf(stderr, "%s error: %s\n", caas_last_error_code(), caas_last_error_message());
//!     } else {
//!         printf("%llu members\n", (unsigned long long)members);
//!     }
//!     caas_result_free(result);
//!     caas_cohort_free(cohort);
//!     caas_engine_free(engine);
//!     return 0;
//! }
//! ```

// cbindgen writes the functions in the order of these modules: engine, cohort, result,
// assurance, strings, then the last error.
mod engine;

mod cohort;

mod result;

mod assurance;

mod string;

mod error;

mod args;
mod stream;

use std::ffi::{CStr, c_char};

pub use assurance::{
    CAAS_REPORT_FUNNEL_SVG, CAAS_REPORT_HTML, CAAS_REPORT_MARKDOWN, CaasReportFormat,
};
pub use cohort::{CAAS_FORMAT_JSON, CAAS_FORMAT_YAML, CaasCohort};
pub use engine::{CAAS_ROWS_UNKNOWN, CaasEngine, CaasProgress};
pub use error::CaasStatus;
pub use result::CaasResult;

/// The version of the C ABI. It changes only when a function's signature or meaning, or a
/// type's layout, changes incompatibly; adding functions keeps it. A program compares the
/// `CAAS_ABI_VERSION` it was compiled with against `caas_abi_version()` at run time.
pub const CAAS_ABI_VERSION: u32 = 1;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => c"unknown",
    };

/// The library's version (that of caas), e.g. `0.1.0`. Static: never freed, never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn caas_version() -> *const c_char {
    // Guarded although nothing here can panic: the rule "every exported function runs
    // behind catch_unwind" then has no exceptions to audit.
    error::guard_value(c"unknown".as_ptr(), || VERSION.as_ptr())
}

/// The C ABI version of the loaded library; see `CAAS_ABI_VERSION`.
#[unsafe(no_mangle)]
pub extern "C" fn caas_abi_version() -> u32 {
    error::guard_value(CAAS_ABI_VERSION, || CAAS_ABI_VERSION)
}
