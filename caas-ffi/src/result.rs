//! The result handle: what an evaluation returned, read out as Arrow C streams.

use arrow::array::RecordBatch;
use arrow::ffi_stream::FFI_ArrowArrayStream;
use caas_core::Evaluation;

use crate::args;
use crate::error::{CaasStatus, Error, guard, guard_value};
use crate::stream;

/// The result of evaluating a cohort: its members and its attrition, and what explains
/// them (explanations of people, the provenance manifest, the data-quality findings, the
/// report, the audit table).
///
/// Made by `caas_engine_evaluate` or `caas_engine_evaluate_with`, freed by
/// `caas_result_free`. A result is immutable: it may be read by several threads at once.
/// It does not refer to the engine or the cohort, which may be freed before it.
pub struct CaasResult {
    pub(crate) evaluation: Evaluation,
}

/// Writes a stream of one batch, made from the result by `make`, into a caller's
/// `struct ArrowArrayStream`, or a released stream when the call fails.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
pub(crate) unsafe fn write_stream(
    result: *const CaasResult,
    out: *mut FFI_ArrowArrayStream,
    make: impl FnOnce(&Evaluation) -> Result<RecordBatch, Error>,
) -> CaasStatus {
    guard(|| {
        if out.is_null() {
            return Err(Error::Null("out"));
        }
        // SAFETY: not NULL, writable by the caller's contract; it may be uninitialised, so
        // it is written, never read or dropped.
        unsafe { out.write(FFI_ArrowArrayStream::empty()) };
        // SAFETY: the caller's contract, passed on.
        let result = unsafe { args::handle(result, "result") }?;
        let batch = make(&result.evaluation)?;
        let exported = stream::export(batch.schema(), vec![batch]);
        // SAFETY: as above; the empty stream written first owns nothing.
        unsafe { out.write(exported) };
        Ok(())
    })
}

/// The members: one row per person in the cohort, sorted by person id, with the column
/// `person_id` then the definition's output columns. Evaluated with a pseudonym key
/// (`caas_engine_evaluate_with`), the first column is `pseudonym` instead, and the rows
/// are sorted by it.
///
/// On success `*out` is a new Arrow C stream that the caller owns: read it with its
/// `get_schema` and `get_next` callbacks and release it with `out->release(out)`. The stream
/// owns its data: it stays valid after `caas_result_free`. On failure `*out` is a released
/// stream (`out->release == NULL`).
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or points to writable memory for a
/// `struct ArrowArrayStream` (its previous content is overwritten, not released).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_members(
    result: *const CaasResult,
    out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_stream(result, out, |e| Ok(e.members.clone())) }
}

/// The attrition: one row per rule, in order, with the columns `step` (int64, 1-based),
/// `rule` (utf8), `action` (utf8: `include` or `exclude`), `before`, `after` and `removed`
/// (int64, people). For purposes other than `direct_care`, the first step is the removal
/// of people with a national data opt-out or a type 1 opt-out (rule `national data
/// opt-out or type 1 opt-out`, action `exclude`).
///
/// Ownership: as for `caas_result_members`.
///
/// # Safety
///
/// As for `caas_result_members`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_attrition(
    result: *const CaasResult,
    out: *mut FFI_ArrowArrayStream,
) -> CaasStatus {
    // SAFETY: the caller's contract, passed on.
    unsafe { write_stream(result, out, |e| Ok(e.attrition.clone())) }
}

/// How many people are in the cohort (the members' row count), into `*out`.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_member_count(
    result: *const CaasResult,
    out: *mut u64,
) -> CaasStatus {
    guard(|| {
        if out.is_null() {
            return Err(Error::Null("out"));
        }
        // SAFETY: the caller's contract, passed on.
        let result = unsafe { args::handle(result, "result") }?;
        // SAFETY: not NULL, writable by the caller's contract.
        unsafe { out.write(result.evaluation.member_count() as u64) };
        Ok(())
    })
}

/// How many people the person table holds, less the rows that a data-quality policy
/// excluded, before any opt-out or rule, into `*out`.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_population(
    result: *const CaasResult,
    out: *mut u64,
) -> CaasStatus {
    guard(|| {
        if out.is_null() {
            return Err(Error::Null("out"));
        }
        // SAFETY: the caller's contract, passed on.
        let result = unsafe { args::handle(result, "result") }?;
        // SAFETY: not NULL, writable by the caller's contract.
        unsafe { out.write(result.evaluation.population) };
        Ok(())
    })
}

/// Frees a result. NULL is ignored. Streams already obtained from it stay valid.
///
/// # Safety
///
/// `result` is NULL or a result from `caas_engine_evaluate` or
/// `caas_engine_evaluate_with` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_free(result: *mut CaasResult) {
    guard_value((), || {
        if !result.is_null() {
            // SAFETY: made by `Box::into_raw` in `caas_engine_evaluate` or
            // `caas_engine_evaluate_with`, freed once by contract.
            drop(unsafe { Box::from_raw(result) });
        }
    });
}
