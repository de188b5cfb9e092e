//! The engine handle: creation, registration of tables and cohorts.

use std::ffi::{CString, c_char, c_void};

use arrow::ffi_stream::FFI_ArrowArrayStream;
use caas_core::sql::{Dialect, TableNames};
use caas_core::{
    Engine, EngineOptions, EvaluationOptions, Parameters, TableSpec, with_progress_blocking,
};

use crate::args;
use crate::cohort::CaasCohort;
use crate::error::{CaasStatus, Error, guard, guard_value};
use crate::result::CaasResult;
use crate::stream;

/// An engine: registered tables and cohorts, and the evaluation of cohorts over them.
///
/// Made by `caas_engine_new`, freed by `caas_engine_free`. An engine may be used by several
/// threads at once (registration and evaluation are thread-safe); it must not be freed
/// while another thread uses it.
pub struct CaasEngine {
    pub(crate) engine: Engine,
}

/// Creates an engine.
///
/// `options_json`: NULL for the defaults, or a JSON object with any of
/// `target_partitions` (threads per evaluation; default the machine's cores),
/// `memory_limit` (bytes; over it, evaluation spills to disk), `batch_size` (rows) and the
/// limits that a cohort must keep to be evaluated (`max_expression_depth`,
/// `max_expression_nodes`, `max_variables`, `max_variable_depth`, `max_codelist_codes`; see `caas_cohort_parse_with_options` for
/// all of them), e.g.
/// `{"target_partitions": 2}`. Unknown fields are an error.
///
/// On success `*out` is a new engine that the caller owns and frees with
/// `caas_engine_free`; on failure `*out` is NULL. All engines share one process-wide pool
/// of threads, started by the first engine.
///
/// # Safety
///
/// `options_json` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_new(
    options_json: *const c_char,
    out: *mut *mut CaasEngine,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let out = unsafe { args::out_handle(out, "out") }?;
        // SAFETY: `options_json` is NULL or a NUL-terminated string, by the caller's contract.
        let options: EngineOptions =
            unsafe { args::json_or_default(options_json, "options_json") }?;
        let engine = Engine::with_options(&options)?;
        // Start the runtime now, so that a failure to start it shows here.
        caas_core::runtime()?;
        *out = Box::into_raw(Box::new(CaasEngine { engine }));
        Ok(())
    })
}

/// Frees an engine and what it holds (its tables and cohorts). NULL is ignored. Results
/// and streams obtained from the engine stay valid: they own their data.
///
/// # Safety
///
/// `engine` is NULL or an engine from `caas_engine_new` not yet freed; no other thread is
/// using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_free(engine: *mut CaasEngine) {
    guard_value((), || {
        if !engine.is_null() {
            // SAFETY: made by `Box::into_raw` in `caas_engine_new`, freed once by contract.
            drop(unsafe { Box::from_raw(engine) });
        }
    });
}

/// Registers a table from an Arrow C stream, read to its end now (the data is held in
/// memory). A table of the same name is replaced.
///
/// Each batch is validated as far as the C Data interface allows (offsets in order and
/// within the data their lengths imply, UTF-8 text, dictionary keys): a batch that fails
/// is a `CAAS_ERR_DATA` error. The interface does not carry buffer sizes, so buffers
/// shorter than the producer's lengths and offsets say cannot be detected by any consumer.
///
/// `name`: the table's name, as definitions refer to it. `spec_json`: the table's role,
/// code system and column mapping as JSON, e.g. `{"role": "person"}`,
/// `{"role": "events", "code_system": "snomed_ct"}` or
/// `{"role": "events", "code_system": "icd10", "mapping": {"date": "admidate",
/// "codes": ["DIAG_4_01", "DIAG_4_02"]}}` (roles: `person`, `events`, `periods`; code
/// systems: `snomed_ct`, `dmd`, `icd10`, `opcs4`; mapping parts: `person_id`,
/// `date_of_birth`, `sex`, `date_of_death`, `date`, `code`, `codes`, `code_delimiter`,
/// `primary_code_only`, `value`, `start_date`, `end_date`, `practice`). Date columns may
/// hold text: `"date_format": "%d/%m/%Y"` (or an object of column names and formats) says
/// how it is written, ISO 8601 without it.
///
/// Ownership: the library takes ownership of `*stream` whatever the outcome (unless
/// `stream` is NULL or already released): it reads it, releases it, and leaves `*stream`
/// marked released (`stream->release == NULL`), as the Arrow C Stream interface's move
/// semantics say. The caller must not release it again. A stream that is already released
/// is an invalid argument.
///
/// # Safety
///
/// `engine` is NULL or a live engine; `name` and `spec_json` are NULL or NUL-terminated
/// strings; `stream` is NULL or points to an initialised `struct ArrowArrayStream`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_register_stream(
    engine: *mut CaasEngine,
    name: *const c_char,
    stream: *mut FFI_ArrowArrayStream,
    spec_json: *const c_char,
) -> CaasStatus {
    guard(|| {
        if stream.is_null() {
            return Err(Error::Null("stream"));
        }
        // The stream is consumed before anything else is checked, so that it is released
        // on every path, as documented.
        // SAFETY: the caller's contract, passed on.
        let name_arg = unsafe { args::text(name, "name") };
        let table = name_arg.as_ref().map_or("?", |name| *name);
        // SAFETY: not NULL, initialised by the caller's contract.
        let data = unsafe { stream::import(stream, "stream", table) };
        // SAFETY: the caller's contract, passed on.
        let engine = unsafe { args::handle(engine, "engine") }?;
        let name = name_arg?;
        // SAFETY: `spec_json` is NULL or a NUL-terminated string, by the caller's contract.
        let spec: TableSpec = unsafe { args::json(spec_json, "spec_json") }?;
        let (schema, batches) = data?;
        engine
            .engine
            .register_batches(name, spec, schema, batches)?;
        Ok(())
    })
}

/// Registers a table from a Parquet, CSV or Arrow IPC file, or a folder of them (the
/// format is told by the file extension: `.parquet`, `.csv`, `.arrow`/`.ipc`/`.feather`).
/// The data is read when cohorts are evaluated. `name` and `spec_json` are as for
/// `caas_engine_register_stream`; `path` is the file or folder (relative to the working
/// directory). The library does not keep the argument pointers.
///
/// # Safety
///
/// `engine` is NULL or a live engine; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_register_file(
    engine: *mut CaasEngine,
    name: *const c_char,
    path: *const c_char,
    spec_json: *const c_char,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let engine = unsafe { args::handle(engine, "engine") }?;
        // SAFETY: `name` is NULL or a NUL-terminated string, by the caller's contract.
        let name = unsafe { args::text(name, "name") }?;
        // SAFETY: `path` is NULL or a NUL-terminated string, by the caller's contract.
        let path = unsafe { args::text(path, "path") }?;
        // SAFETY: `spec_json` is NULL or a NUL-terminated string, by the caller's contract.
        let spec: TableSpec = unsafe { args::json(spec_json, "spec_json") }?;
        engine.engine.register_file_blocking(name, path, spec)?;
        Ok(())
    })
}

/// Registers a cohort so that definitions evaluated later can use its membership
/// (`kind: member_of`, by the cohort's id). The engine keeps its own copy: the caller
/// still owns `cohort` and may free it at once.
///
/// # Safety
///
/// `engine` and `cohort` are NULL or live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_register_cohort(
    engine: *mut CaasEngine,
    cohort: *const CaasCohort,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let engine = unsafe { args::handle(engine, "engine") }?;
        // SAFETY: `cohort` is NULL or a live handle, by the caller's contract.
        let cohort = unsafe { args::handle(cohort, "cohort") }?;
        engine.engine.register_cohort(cohort.cohort.clone())?;
        Ok(())
    })
}

/// Evaluates a cohort over the registered tables: its members and attrition.
///
/// `parameters_json`: NULL for the definition's defaults, or a JSON object overriding
/// some of its parameters, e.g. `{"index_date": "2025-08-31", "min_age": 65}` (dates as
/// `YYYY-MM-DD` text). Blocks the calling thread until the evaluation ends; the work runs on
/// the process-wide thread pool.
///
/// The evaluation options are the defaults of `caas_engine_evaluate_with`: the tables'
/// data quality is checked, rows without a person id are excluded, a person id on several
/// rows of the person table fails the evaluation (`CAAS_ERR_DATA`, code `data_quality`),
/// other findings are kept and reported, and members keep their person ids.
///
/// On success `*out` is a new result that the caller owns and frees with
/// `caas_result_free`; on failure `*out` is NULL. A failed evaluation leaves the engine
/// usable. The library does not keep the argument pointers.
///
/// # Safety
///
/// `engine` and `cohort` are NULL or live handles; `parameters_json` is NULL or a
/// NUL-terminated string; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_evaluate(
    engine: *const CaasEngine,
    cohort: *const CaasCohort,
    parameters_json: *const c_char,
    out: *mut *mut CaasResult,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let out = unsafe { args::out_handle(out, "out") }?;
        // SAFETY: `engine` is NULL or a live handle, by the caller's contract.
        let engine = unsafe { args::handle(engine, "engine") }?;
        // SAFETY: `cohort` is NULL or a live handle, by the caller's contract.
        let cohort = unsafe { args::handle(cohort, "cohort") }?;
        // SAFETY: `parameters_json` is NULL or a NUL-terminated string, by the caller's contract.
        let parameters: Parameters =
            unsafe { args::json_or_default(parameters_json, "parameters_json") }?;
        let evaluation = engine
            .engine
            .evaluate_blocking(&cohort.cohort, &parameters)?;
        *out = Box::into_raw(Box::new(CaasResult { evaluation }));
        Ok(())
    })
}

/// Evaluates a cohort as `caas_engine_evaluate` does, with evaluation options: what to do
/// with rows that have data-quality findings, the reference date of "future" dates, and
/// the key of pseudonyms.
///
/// `parameters_json`: as for `caas_engine_evaluate`. `options_json`: NULL for the defaults
/// (then this is `caas_engine_evaluate`), or a JSON object with any of:
///
/// - `quality`: a policy per kind of finding, `"keep"`, `"exclude"` or `"fail"`, e.g.
///   `{"invalid_nhs_number": "exclude", "unknown_person": "fail"}`. Kinds:
///   `invalid_nhs_number`, `missing_person_id`, `duplicate_person`, `unknown_person`,
///   `missing_date`, `future_date`, `date_before_1900`, `date_before_birth`,
///   `invalid_code`. Kinds not given keep their defaults: `exclude` for
///   `missing_person_id`, `fail` for `duplicate_person`, `keep` for the rest.
/// - `reference_date`: the day after which a date is in the future (`YYYY-MM-DD`),
///   normally the day the data was extracted; default the day of the evaluation (UTC).
/// - `pseudonym_key`: a secret key in hexadecimal (at least 16 bytes; 32 random bytes are
///   recommended). With a key, the members' first column is `pseudonym` instead of
///   `person_id`: the HMAC-SHA256 of each member's NHS number (or of the person id as
///   text when the person table has no NHS number) under the key, as 64 lower-case
///   hexadecimal digits, and members are sorted by it.
///
/// Unknown fields are an error (`CAAS_ERR_INVALID_ARGUMENT`, with the line and column in
/// `options_json`), and so is a key that is not hexadecimal or too short; the message never
/// quotes the key.
///
/// The pseudonym key is used for this run and never stored: the result does not hold it,
/// nothing writes or prints it, and the library overwrites the key's bytes before this
/// call returns. The limits, said plainly: the library cannot clear the caller's
/// `options_json` buffer, which is `const` and the caller's — clear it yourself after the
/// call (e.g. with `explicit_bzero`); and two short-lived copies derived from the key (the
/// hexadecimal text the JSON parser reads it into, and the padded key blocks inside the
/// HMAC) are freed before the call returns but not overwritten.
///
/// A finding whose policy is `fail` makes the call fail with `CAAS_ERR_DATA` and the code
/// `data_quality`; the message names the table, the column, the kind and the row count,
/// never a value. Read the findings of a successful evaluation with
/// `caas_result_data_quality_json`.
///
/// On success `*out` is a new result that the caller owns and frees with
/// `caas_result_free`; on failure `*out` is NULL. The library does not keep the argument
/// pointers.
///
/// # Safety
///
/// `engine` and `cohort` are NULL or live handles; `parameters_json` and `options_json`
/// are NULL or NUL-terminated strings; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_evaluate_with(
    engine: *const CaasEngine,
    cohort: *const CaasCohort,
    parameters_json: *const c_char,
    options_json: *const c_char,
    out: *mut *mut CaasResult,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on; no callback.
    unsafe {
        caas_engine_evaluate_with_progress(
            engine,
            cohort,
            parameters_json,
            options_json,
            None,
            std::ptr::null_mut(),
            out,
        )
    }
}

/// The `rows_expected` of a `CaasProgress` call when the table's source cannot say how
/// many rows it holds (CSV files).
pub const CAAS_ROWS_UNKNOWN: u64 = u64::MAX;

/// Told how far an evaluation has read: `table` (a NUL-terminated name, valid during the
/// call), the rows of it read so far and the rows expected (`CAAS_ROWS_UNKNOWN` when its
/// source cannot say; a table read twice, by the data-quality checks and by the cohort, is
/// expected twice), and the caller's `user_data`. Returning `false` cancels the evaluation.
pub type CaasProgress = Option<
    unsafe extern "C" fn(
        table: *const c_char,
        rows_read: u64,
        rows_expected: u64,
        user_data: *mut c_void,
    ) -> bool,
>;

/// `caas_engine_evaluate_with`, telling `progress` how far it has read: about every 100 ms
/// for each table whose count moved, then once for every table it read when it has ended.
/// `progress` is called on the calling thread, never after this returns; when it returns
/// `false` the evaluation stops (no thread of the library stays busy with it) and this
/// fails with `CAAS_ERR_ENGINE` and the code `cancelled`. A NULL `progress` evaluates
/// as `caas_engine_evaluate_with` does.
///
/// # Safety
///
/// As for `caas_engine_evaluate_with`; `progress` is NULL or a function that returns (it
/// must not unwind or jump out of the call), and `user_data` is whatever it expects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_engine_evaluate_with_progress(
    engine: *const CaasEngine,
    cohort: *const CaasCohort,
    parameters_json: *const c_char,
    options_json: *const c_char,
    progress: CaasProgress,
    user_data: *mut c_void,
    out: *mut *mut CaasResult,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let out = unsafe { args::out_handle(out, "out") }?;
        // SAFETY: `engine` is NULL or a live handle, by the caller's contract.
        let engine = unsafe { args::handle(engine, "engine") }?;
        // SAFETY: `cohort` is NULL or a live handle, by the caller's contract.
        let cohort = unsafe { args::handle(cohort, "cohort") }?;
        // SAFETY: `parameters_json` is NULL or a NUL-terminated string, by the caller's contract.
        let parameters: Parameters =
            unsafe { args::json_or_default(parameters_json, "parameters_json") }?;
        // SAFETY: `options_json` is NULL or a NUL-terminated string, by the caller's contract.
        let options: EvaluationOptions =
            unsafe { args::json_or_default(options_json, "options_json") }?;
        let engine = &engine.engine;
        let evaluation = match progress {
            None => engine.evaluate_with_blocking(&cohort.cohort, &parameters, &options)?,
            Some(progress) => {
                let work = engine.evaluate_with(&cohort.cohort, &parameters, &options);
                with_progress_blocking(work, |table, read, expected| {
                    // Registered names come from C strings, so hold no NUL.
                    let table = CString::new(table).unwrap_or_default();
                    let expected = expected.unwrap_or(CAAS_ROWS_UNKNOWN);
                    // SAFETY: `progress` is a function of this signature, by the caller's
                    // contract; `table` outlives the call.
                    unsafe { progress(table.as_ptr(), read, expected, user_data) }
                })?
            }
        };
        *out = Box::into_raw(Box::new(CaasResult { evaluation }));
        Ok(())
    })
}

/// A cohort as SQL for another engine — Apache Spark, PostgreSQL or DuckDB — whose tables
/// have the columns of the registered ones, with the members and attrition that
/// `caas_engine_evaluate_with` gives. The registered tables are read for their columns only.
///
/// `dialect`: `"spark"`, `"postgres"` or `"duckdb"`. `parameters_json` and `options_json`:
/// as for `caas_engine_evaluate_with`; options that the SQL does not honour yet
/// (data-quality policies other than the defaults, pseudonyms) are refused with
/// `CAAS_ERR_INVALID_ARGUMENT` and the code `invalid_option`. `tables_json`: NULL, or a JSON
/// object mapping the definition's table names to the other engine's (`"schema.table"`
/// allowed), e.g. `{"gp_events": "cdm.clinical_events"}`; a table not listed keeps its name.
///
/// On success `*out` is a new NUL-terminated JSON object that the caller owns and frees with
/// `caas_string_free`:
///
/// - `script`: every statement below but the data-quality queries, each ended by `;`,
///   runnable as it is;
/// - `sha256`: the SHA-256 of `script` (hexadecimal), for the run's provenance;
/// - `quality`: `[{table, role, checks: [{kind, column, policy}], query}]`, per table read,
///   a query to run first giving one row: the rows read, the rows excluded, then the rows
///   of each check in turn; a check whose policy is `fail` must count 0, else the run fails
///   as in-process with `data_quality`;
/// - `reference_date`: the day after which a date counts as in the future;
/// - `setup`: the statements to run first, in one session: they create the codelists'
///   (code, variable) tables, then compute every person's outputs and rule results into
///   the temporary table `cohort_table`;
/// - `members`, `attrition`, `population`: the three queries;
/// - `pseudonyms`: null, or with a pseudonym key in `options_json`, `{table, column,
///   missing}`: `missing` must count 0 (members without an NHS number), and the members
///   query binds the parameters `caas_ipad` and `caas_opad`, the hexadecimal inner and
///   outer keys of HMAC-SHA256 (RFC 2104) of the key, which never appear in the SQL;
/// - `dialect`, `cohort`, `code_tables`, `cohort_table`.
///
/// A definition that the dialect cannot express fails with `CAAS_ERR_DEFINITION` and the
/// code `unsupported`, naming the feature and the dialect. The library does not keep the
/// argument pointers.
///
/// # Safety
///
/// `engine` and `cohort` are NULL or live handles; `dialect`, `parameters_json`,
/// `tables_json` and `options_json` are NULL or NUL-terminated strings; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_cohort_to_sql(
    engine: *const CaasEngine,
    cohort: *const CaasCohort,
    dialect: *const c_char,
    parameters_json: *const c_char,
    tables_json: *const c_char,
    options_json: *const c_char,
    out: *mut *mut c_char,
) -> CaasStatus {
    guard(|| {
        // SAFETY: the caller's contract, passed on.
        let out = unsafe { args::out_handle(out, "out") }?;
        // SAFETY: `engine` is NULL or a live handle, by the caller's contract.
        let engine = unsafe { args::handle(engine, "engine") }?;
        // SAFETY: `cohort` is NULL or a live handle, by the caller's contract.
        let cohort = unsafe { args::handle(cohort, "cohort") }?;
        // SAFETY: `dialect` is NULL or a NUL-terminated string, by the caller's contract.
        let dialect: Dialect = unsafe { args::text(dialect, "dialect") }?.parse()?;
        // SAFETY: `parameters_json` is NULL or a NUL-terminated string, by the caller's contract.
        let parameters: Parameters =
            unsafe { args::json_or_default(parameters_json, "parameters_json") }?;
        // SAFETY: `tables_json` is NULL or a NUL-terminated string, by the caller's contract.
        let tables: TableNames = unsafe { args::json_or_default(tables_json, "tables_json") }?;
        // SAFETY: `options_json` is NULL or a NUL-terminated string, by the caller's contract.
        let options: EvaluationOptions =
            unsafe { args::json_or_default(options_json, "options_json") }?;
        let sql = engine
            .engine
            .to_sql(&cohort.cohort, &parameters, dialect, &tables, &options)?;
        *out = crate::string::hand_out(&sql.to_json()?);
        Ok(())
    })
}
