//! The result handle: what an evaluation returned, read out as Arrow C streams.

use arrow::array::RecordBatch;
use arrow::ffi_stream::FFI_ArrowArrayStream;
use caas_core::Evaluation;

use crate::args;
use crate::error::{CaasStatus, Error, guard, guard_value};
use crate::stream;

/// The result of evaluating a cohort: its members and its attrition.
///
/// Made by `caas_engine_evaluate`, freed by `caas_result_free`. A result is immutable: it
/// may be read by several threads at once. It does not refer to the engine or the cohort,
/// which may be freed before it.
pub struct CaasResult {
    pub(crate) evaluation: Evaluation,
}

/// Writes a stream of one batch into a caller's `struct ArrowArrayStream`, or a released
/// stream when the call fails before that.
///
/// # Safety
///
/// `result` is NULL or a live result; `out` is NULL or writable.
unsafe fn write_stream(
    result: *const CaasResult,
    out: *mut FFI_ArrowArrayStream,
    pick: impl FnOnce(&Evaluation) -> &RecordBatch,
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
        let batch = pick(&result.evaluation);
        let exported = stream::export(batch.schema(), vec![batch.clone()]);
        // SAFETY: as above; the empty stream written first owns nothing.
        unsafe { out.write(exported) };
        Ok(())
    })
}

/// The members: one row per person in the cohort, sorted by person id, with the column
/// `person_id` then the definition's output columns.
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
    unsafe { write_stream(result, out, |e| &e.members) }
}

/// The attrition: one row per rule, in order, with the columns `step` (int64, 1-based),
/// `rule` (utf8), `action` (utf8: `include` or `exclude`), `before`, `after` and `removed`
/// (int64, people).
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
    unsafe { write_stream(result, out, |e| &e.attrition) }
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

/// How many people the person table holds (before the first rule), into `*out`.
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
/// `result` is NULL or a result from `caas_engine_evaluate` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_result_free(result: *mut CaasResult) {
    guard_value((), || {
        if !result.is_null() {
            // SAFETY: made by `Box::into_raw` in `caas_engine_evaluate`, freed once by
            // contract.
            drop(unsafe { Box::from_raw(result) });
        }
    });
}
