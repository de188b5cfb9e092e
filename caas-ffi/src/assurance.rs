//! What a result tells beyond its members, for clinical assurance and information
//! governance: why a person is in or out, the provenance manifest, the data-quality findings
//! and the report, as text the caller frees with `caas_string_free`; the audit table, the
//! members' characterisation, the difference with an earlier run and the attrition under
//! changed rules, as Arrow C streams.

use std::ffi::c_char;

use arrow::compute::concat_batches;
use arrow::ffi_stream::FFI_ArrowArrayStream;
use caas_core::results::RuleChanges;
use caas_core::{CaasError, CharacteriseOptions, Difference, Evaluation, PersonId, ReportOptions};

use crate::args;
use crate::error::{CaasStatus, Error, guard};
use crate::result::{CaasResult, write_stream};
use crate::stream;
use crate::string::hand_out;

/// Which rendering of the report `caas_result_report` returns: one of `CAAS_REPORT_*`.
pub type CaasReportFormat = u32;
/// The report as Markdown.
pub const CAAS_REPORT_MARKDOWN: CaasReportFormat = 0;
/// The report as one self-contained HTML page: inline CSS and SVG, no scripts, nothing
/// loaded from elsewhere.
pub const CAAS_REPORT_HTML: CaasReportFormat = 1;
/// The attrition funnel alone, as an SVG image.
pub const CAAS_REPORT_FUNNEL_SVG: CaasReportFormat = 2;

/// The name of the earlier members in messages.
const PREVIOUS: &str = "previous members";

/// Runs `make` on a result and hands its text to the caller through `out`, which is NULL
/// whenever the call fails.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
unsafe fn write_text(
    result: *const CaasResult,
    out: *mut *mut c_char,
    make: impl FnOnce(&Evaluation) -> Result<String, Error>,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let out = unsafe { args::out_handle(out, "out") }?;
        // SAFETY: `result` is NULL or a live handle, by the caller's contract.
        let result = unsafe { args::handle(result, "result") }?;
        let text = make(&result.evaluation)?;
        *out = hand_out(&text);
        Ok(())
    })
}

/// Why one person is in the cohort or not, as JSON: the cohort's id, the person's id (as
/// the text given), the verdict, each rule's outcome and each variable's value with the
/// rows behind it. For example (abridged):
///
/// ```json
/// {
///   "cohort": "flu",
///   "person_id": "2",
///   "verdict": { "verdict": "out", "step": 2, "rule": "eligible" },
///   "rules": [
///     { "step": 1, "name": "alive", "action": "include", "condition": "alive",
///       "sentence": "...", "outcome": "true", "passed": true }, ...
///   ],
///   "variables": [
///     { "name": "asthma_dat", "kind": "events", "sentence": "...", "value": "2024-10-04",
///       "selected": 2,
///       "events": [ { "table": "gp", "date": "2024-10-04", "code": "195967001",
///                     "value": null } ] }, ...
///   ]
/// }
/// ```
///
/// `verdict` is `{"verdict": "in"}` for a member, else `{"verdict": "out", "step": N,
/// "rule": NAME}` naming the first rule the person did not pass. A rule's `outcome` is
/// `"true"`, `"false"` or `"unknown"` (a value it needs is missing). A variable's `value` is
/// null, a boolean, a number, or text (dates as `YYYY-MM-DD`); `selected` (event and period
/// variables) counts the rows it selected; `events` (`table`, `date`, `code`, `value`) and
/// `periods` (`table`, `start_date`, `end_date`, `practice`) are the rows behind the value:
/// the row chosen for a first/last variable, every row counted for a count, the first row
/// for `exists`. Keys without content are left out.
///
/// The explanation reads only this person's rows of the tables the evaluation read (after
/// the rows a data-quality policy excluded); it does not evaluate the cohort again.
///
/// `person_id`: the person's id as text: the decimal digits of an integer id (`"42"`), or
/// a text id as it is. A person who is not in the person table is `CAAS_ERR_DATA` with
/// the code `unknown_person`; an id on several rows of the person table is
/// `CAAS_ERR_DATA` with the code `invalid_input`. Neither message prints the id.
///
/// On success `*out` is a new NUL-terminated UTF-8 string that the caller owns and frees
/// with `caas_string_free`; on failure `*out` is NULL.
///
/// # Safety
///
/// `result` is NULL or a live result; `person_id` is NULL or a NUL-terminated string;
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_explain_json(
    result: *const CaasResult,
    person_id: *const c_char,
    out: *mut *mut c_char,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        write_text(result, out, |evaluation| {
            let person = args::text(person_id, "person_id")?;
            let explanation = evaluation.explain_blocking(PersonId::from(person))?;
            Ok(explanation.to_json()?)
        })
    }
}

/// The provenance manifest of the evaluation, as JSON (format `caas-provenance/1`, schema
/// `schema/provenance.schema.json`): the SHA-256 of the definition's canonical form
/// (`definition_sha256`, the same whatever the formatting or key order of the definition's
/// text), each codelist's size and hash, each input table's name, role, row count and
/// columns, the parameters, the purpose, the caas and DataFusion versions, the start and
/// end times, the population, the member count and the attrition. Counts are exact: it is
/// the data controller's record of the run.
///
/// On success `*out` is a new NUL-terminated UTF-8 string that the caller owns and frees
/// with `caas_string_free`; on failure `*out` is NULL.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_provenance_json(
    result: *const CaasResult,
    out: *mut *mut c_char,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_text(result, out, |e| Ok(e.provenance.to_json()?)) }
}

/// The data-quality findings of the evaluation, as JSON:
///
/// ```json
/// {
///   "reference_date": "2026-01-31",
///   "tables": [
///     { "table": "persons", "role": "person", "rows": 5, "rows_excluded": 0,
///       "findings": [
///         { "kind": "invalid_nhs_number", "column": "nhs_number", "count": 1,
///           "policy": "keep", "excluded": 0 }, ...
///       ] }, ...
///   ]
/// }
/// ```
///
/// One entry per table read (the person table first), with one finding per kind checked
/// in it, found or not (see `caas_engine_evaluate_with` for the kinds and policies).
/// `count` is the rows with the finding, `excluded` those removed by an `exclude` policy,
/// `rows_excluded` the table's rows removed (a row with several findings counts once).
///
/// On success `*out` is a new NUL-terminated UTF-8 string that the caller owns and frees
/// with `caas_string_free`; on failure `*out` is NULL.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_data_quality_json(
    result: *const CaasResult,
    out: *mut *mut c_char,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_text(result, out, |e| Ok(e.data_quality.to_json()?)) }
}

/// The report a programme receives with its cohort: the cohort's metadata, the definition
/// in plain English (each variable and rule as a sentence), the codelists with their sizes
/// and hashes, the attrition with a funnel picture, the data-quality findings and the
/// provenance.
///
/// `options_json`: NULL for the defaults, or `{"disclosure_control": true}` to put the
/// counts under disclosure control (1 to 7 shown as `*`, others rounded to the nearest 5)
/// even for `direct_care`; for every other purpose they always are. `format`:
/// `CAAS_REPORT_MARKDOWN`, `CAAS_REPORT_HTML` (one self-contained page, with nothing loaded
/// from elsewhere) or `CAAS_REPORT_FUNNEL_SVG` (the attrition funnel alone).
///
/// On success `*out` is a new NUL-terminated UTF-8 string that the caller owns and frees
/// with `caas_string_free`; on failure `*out` is NULL.
///
/// # Safety
///
/// `result` is NULL or a live result; `options_json` is NULL or a NUL-terminated string;
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_report(
    result: *const CaasResult,
    options_json: *const c_char,
    format: CaasReportFormat,
    out: *mut *mut c_char,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        write_text(result, out, |evaluation| {
            let options: ReportOptions = args::json_or_default(options_json, "options_json")?;
            if !matches!(
                format,
                CAAS_REPORT_MARKDOWN | CAAS_REPORT_HTML | CAAS_REPORT_FUNNEL_SVG
            ) {
                return Err(Error::Invalid {
                    argument: "format",
                    problem: format!(
                        "is {format}, none of CAAS_REPORT_MARKDOWN (0), CAAS_REPORT_HTML (1) \
                         and CAAS_REPORT_FUNNEL_SVG (2)"
                    ),
                });
            }
            let report = evaluation.report(&options)?;
            Ok(match format {
                CAAS_REPORT_MARKDOWN => report.markdown,
                CAAS_REPORT_HTML => report.html,
                _ => report.funnel_svg,
            })
        })
    }
}

/// The audit table: every person's rule outcomes, sorted by person id, with the columns
/// `person_id`, one nullable boolean column per rule named after it (the value of its
/// condition: true, false, or null for unknown — before `include` or `exclude` applies),
/// `member` (boolean) and `removed_by` (utf8: the first rule the person did not pass; null
/// for members). It covers everyone in the person table (after the rows a data-quality
/// policy excluded), and it runs the cohort's plan again.
///
/// Ownership: as for `caas_result_members`: on success `*out` is a new stream that the
/// caller owns and releases; on failure it is a released stream.
///
/// # Safety
///
/// As for `caas_result_members`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_audit(
    result: *const CaasResult,
    out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_stream(result, out, |e| Ok(e.audit_blocking()?)) }
}

/// The characterisation of the members ("Table 1"): their number, their ages on the
/// cohort's date parameter in bands and in years, their sex and region (from the person
/// table), their practices, and each output variable's distribution — one row per
/// statistic, with the columns `section`, `variable`, `category` (nullable), `statistic`
/// (utf8), `value` (float64, nullable), `date` (date32, nullable) and `shown` (utf8: the
/// text the report shows). For every purpose but `direct_care` it is under the report's
/// disclosure control: counts of 1 to 7 are null and shown as `*`, others rounded to the
/// nearest 5; values held by 1 to 7 people are counted in `(other)`; minima, maxima,
/// earliest and latest dates are never shown, a median needs 16 values, quartiles 32 and
/// a mean 8. It reads the person table, for the members only.
///
/// `options_json`: NULL for the defaults, or an object with any of `disclosure_control`
/// (true puts a `direct_care` characterisation under control too), `age_on` (the date
/// parameter of the ages; by default `index_date`, else the first date parameter),
/// `age_bands` (the bands' lower bounds from 0, ascending; by default `[0, 18, 30, 40, 50,
/// 60, 70, 80]`), `region` (the person table's column of regions; by default `region` when
/// it has one) and `top` (the values listed per text variable; by default 10). Text that
/// is not such an object is `CAAS_ERR_INVALID_ARGUMENT`; options that cannot be used
/// (bands not ascending from 0, `top` 0, a parameter or column that is not there) are
/// `CAAS_ERR_DATA` with the code `invalid_input`.
///
/// Ownership: as for `caas_result_members`: on success `*out` is a new stream that the
/// caller owns and releases; on failure it is a released stream.
///
/// # Safety
///
/// `result` is NULL or a live result; `options_json` is NULL or a NUL-terminated string;
/// `out` is NULL or points to writable memory for a `struct ArrowArrayStream` (its previous
/// content is overwritten, not released).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_characterise(
    result: *const CaasResult,
    options_json: *const c_char,
    out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        write_stream(result, out, |evaluation| {
            let options: CharacteriseOptions = args::json_or_default(options_json, "options_json")?;
            Ok(evaluation.characterise_blocking(&options)?.table)
        })
    }
}

/// The two out-streams of a difference, each checked not to be NULL and set to a released
/// stream at once, so that both are released streams whenever the call fails.
///
/// # Safety
///
/// Each pointer is NULL or writable.
unsafe fn difference_outs<'a>(
    joined_out: *mut FFI_ArrowArrayStream,
    left_out: *mut FFI_ArrowArrayStream,
) -> Result<(&'a mut FFI_ArrowArrayStream, &'a mut FFI_ArrowArrayStream), Error> {
    for out in [joined_out, left_out] {
        if !out.is_null() {
            // SAFETY: writable by the caller's contract; it may be uninitialised, so it is
            // written, never read or dropped.
            unsafe { out.write(FFI_ArrowArrayStream::empty()) };
        }
    }
    if joined_out.is_null() {
        return Err(Error::Null("joined_out"));
    }
    if left_out.is_null() {
        return Err(Error::Null("left_out"));
    }
    if joined_out == left_out {
        return Err(Error::Invalid {
            argument: "left_out",
            problem: "is the same stream as `joined_out`".to_string(),
        });
    }
    // SAFETY: not NULL, distinct, and initialised just above.
    Ok(unsafe { (&mut *joined_out, &mut *left_out) })
}

/// Writes a difference's two tables into the out-streams.
fn export_difference(
    difference: Difference,
    joined_out: &mut FFI_ArrowArrayStream,
    left_out: &mut FFI_ArrowArrayStream,
) {
    // Assignment drops the released streams written by `difference_outs`, which own nothing.
    *joined_out = stream::export(difference.joined.schema(), vec![difference.joined]);
    *left_out = stream::export(difference.left.schema(), vec![difference.left]);
}

/// Who joined the cohort and who left it since an earlier run, so that a campaign
/// refreshed every week invites nobody twice.
///
/// `previous`: the earlier run's members as an Arrow C stream with this result's
/// identifier column: `person_id` of the same kind (integers or text), or `pseudonym`
/// (text) when both runs were evaluated with the same pseudonym key; other columns are
/// ignored. A stream without that column, with ids of the other kind or with missing ids
/// is `CAAS_ERR_DATA` (codes `missing_column`, `column_type`, `invalid_input`), naming the
/// problem and never an id; so is a stream that fails or holds invalid data (code
/// `registration`).
///
/// On success `*joined_out` is a stream of the people in this result and not in
/// `previous`, `*left_out` one of the people in `previous` and not in this result: each
/// one column, the identifier (`person_id` or `pseudonym`), sorted, each person once. How many stayed is this result's member
/// count less the rows of `*joined_out`. The caller owns both streams and releases each
/// with its `release` callback; they stay valid after `caas_result_free`. On failure both
/// are released streams (`release == NULL`). `joined_out` and `left_out` must differ; either
/// may be `previous` itself, which is free once taken over.
///
/// Ownership of `previous`: the library takes it over whatever the outcome (unless it is
/// NULL or already released): it reads it to its end, releases it and leaves `*previous`
/// marked released, as for `caas_engine_register_stream`. An already released stream is an
/// invalid argument.
///
/// # Safety
///
/// `result` is NULL or a live result; `previous` is NULL or points to an initialised
/// `struct ArrowArrayStream`; `joined_out` and `left_out` are NULL or point to writable
/// memory for a `struct ArrowArrayStream` (their previous content is overwritten, not
/// released).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_diff(
    result: *const CaasResult,
    previous: *mut FFI_ArrowArrayStream,
    joined_out: *mut FFI_ArrowArrayStream,
    left_out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    guard(|| {
        // Taken over before anything else is checked, so that it is released on every path,
        // as documented; and before the out-streams are written, which may be `previous`.
        let data = if previous.is_null() {
            Err(Error::Null("previous"))
        } else {
            // SAFETY: not NULL, initialised by the caller's contract.
            unsafe { stream::import(previous, "previous", PREVIOUS) }
        };
        // SAFETY: the caller's contract, passed on.
        let (joined, left) = unsafe { difference_outs(joined_out, left_out) }?;
        // SAFETY: `result` is NULL or a live handle, by the caller's contract.
        let result = unsafe { args::handle(result, "result") }?;
        let (schema, batches) = data?;
        let previous = concat_batches(&schema, &batches).map_err(CaasError::from)?;
        let difference = result.evaluation.diff(&previous)?;
        export_difference(difference, joined, left);
        Ok(())
    })
}

/// As `caas_result_diff`, with the earlier run's members read from a Parquet, Arrow IPC
/// (`.arrow`, `.ipc`, `.feather`) or CSV file, or a folder of them (`path`, relative to
/// the working directory). From CSV, the ids are read as the kind this result's ids are.
/// A missing file is `CAAS_ERR_DATA` with the code `io`; one of another format
/// `CAAS_ERR_DATA` with the code `invalid_input`; other errors are as for
/// `caas_result_diff`.
///
/// Ownership: as for `caas_result_diff`'s out-streams. The library does not keep `path`.
///
/// # Safety
///
/// `result` is NULL or a live result; `path` is NULL or a NUL-terminated string;
/// `joined_out` and `left_out` are as for `caas_result_diff`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_diff_path(
    result: *const CaasResult,
    path: *const c_char,
    joined_out: *mut FFI_ArrowArrayStream,
    left_out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let (joined, left) = unsafe { difference_outs(joined_out, left_out) }?;
        // SAFETY: `result` is NULL or a live handle, by the caller's contract.
        let result = unsafe { args::handle(result, "result") }?;
        // SAFETY: `path` is NULL or a NUL-terminated string, by the caller's contract.
        let path = unsafe { args::text(path, "path") }?;
        let difference = result.evaluation.diff_path_blocking(path)?;
        export_difference(difference, joined, left);
        Ok(())
    })
}

/// The attrition had the rules been changed as `changes_json` says, recounted from the rule
/// outcomes the result holds for every person (no table is read again), into `*out` with
/// the columns of `caas_result_attrition`. The changes are JSON with optional keys:
/// `{"drop": ["rule name", ...], "order": ["rule name", ...], "add": [{"name": "...",
/// "include": "expression"}, {"name": "...", "exclude": "expression"}]}` — `drop` leaves
/// rules out; `order` names rules (kept or added) to apply first, in that order; `add`
/// appends rules over the parameters and the variables the result holds: those its rules
/// name and every true/false one. The members the changed rules keep are the last step's
/// `after` (the population when there is no step).
///
/// Errors: an unknown rule name, a variable not held or malformed JSON is `CAAS_ERR_DATA`
/// with the code `invalid_input`; an added rule that a definition would refuse is
/// `CAAS_ERR_DEFINITION` with that error's code and place.
///
/// Ownership: as for `caas_result_members`. The library does not keep `changes_json`.
///
/// # Safety
///
/// `result` is NULL or a live result; `changes_json` is NULL or a NUL-terminated string;
/// `out` is as for `caas_result_members`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_what_if(
    result: *const CaasResult,
    changes_json: *const c_char,
    out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        write_stream(result, out, |evaluation| {
            // SAFETY: `changes_json` is NULL or a NUL-terminated string, by the caller's
            // contract.
            let text = args::text(changes_json, "changes_json")?;
            let changes = RuleChanges::from_json(text)?;
            Ok(evaluation.what_if_blocking(&changes)?.attrition)
        })
    }
}
