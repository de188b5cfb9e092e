//! Arrow C streams across the boundary, in both directions.
//!
//! arrow-rs has both ends of the C Stream interface, but neither fits a boundary that must
//! never crash: its exported callbacks are `extern "C"` functions that panic on some errors
//! (which aborts the process), and its importer panics when a producer reports an error
//! without a message (which the specification allows). So the callbacks here are written
//! over arrow's safe pieces (the C Data structs, `from_ffi_and_data_type`), each behind
//! `catch_unwind`, and imported data is validated before the engine sees it.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use arrow::array::{Array, RecordBatch, RecordBatchOptions, StructArray};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi_and_data_type};
use arrow::ffi_stream::FFI_ArrowArrayStream;

use crate::error::{Error, c_string, panic_message};

/// `errno` values the callbacks return, as the C Stream interface asks.
const EINVAL: c_int = 22;
const EIO: c_int = 5;

/// What an exported stream owns: the batches still to hand out, and the message of the last
/// failed callback (which `get_last_error` lends out).
struct Exported {
    schema: SchemaRef,
    batches: std::vec::IntoIter<RecordBatch>,
    last_error: Option<CString>,
}

/// A C stream over record batches that are already in memory. The stream owns (shares)
/// its batches: it outlives whatever handed them out.
pub(crate) fn export(schema: SchemaRef, batches: Vec<RecordBatch>) -> FFI_ArrowArrayStream {
    let private = Box::new(Exported {
        schema,
        batches: batches.into_iter(),
        last_error: None,
    });
    FFI_ArrowArrayStream {
        get_schema: Some(get_schema),
        get_next: Some(get_next),
        get_last_error: Some(get_last_error),
        release: Some(release),
        private_data: Box::into_raw(private).cast::<c_void>(),
    }
}

/// Runs a callback of an exported stream: checks the stream, catches panics, and records a
/// failure's message for `get_last_error`.
///
/// # Safety
///
/// `stream` is NULL or points to a stream made by [`export`] (possibly released).
unsafe fn callback(
    stream: *mut FFI_ArrowArrayStream,
    body: impl FnOnce(&mut Exported) -> Result<(), String>,
) -> c_int {
    // SAFETY: NULL or a stream of ours, by the caller's contract.
    let Some(stream) = (unsafe { stream.as_mut() }) else {
        return EINVAL;
    };
    let private = stream.private_data.cast::<Exported>();
    if stream.release.is_none() || private.is_null() {
        return EINVAL;
    }
    // SAFETY: a live stream's private data is the `Exported` that `export` boxed.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(unsafe { &mut *private })))
        .unwrap_or_else(|payload| Err(format!("internal error: {}", panic_message(&*payload))));
    // SAFETY: as above; the body's borrow has ended.
    let private = unsafe { &mut *private };
    match outcome {
        Ok(()) => {
            private.last_error = None;
            0
        }
        Err(message) => {
            private.last_error = Some(c_string(&message));
            EIO
        }
    }
}

unsafe extern "C" fn get_schema(
    stream: *mut FFI_ArrowArrayStream,
    out: *mut FFI_ArrowSchema,
) -> c_int {
    if out.is_null() {
        return EINVAL;
    }
    // SAFETY: the consumer passes the stream it got from us.
    unsafe {
        callback(stream, |private| {
            let schema = FFI_ArrowSchema::try_from(private.schema.as_ref())
                .map_err(|e| format!("cannot export the schema: {e}"))?;
            // SAFETY: `out` is not NULL and the consumer's to fill; it may be uninitialised,
            // so it is written, not assigned.
            out.write(schema);
            Ok(())
        })
    }
}

unsafe extern "C" fn get_next(
    stream: *mut FFI_ArrowArrayStream,
    out: *mut FFI_ArrowArray,
) -> c_int {
    if out.is_null() {
        return EINVAL;
    }
    // SAFETY: the consumer passes the stream it got from us.
    unsafe {
        callback(stream, |private| {
            let array = match private.batches.next() {
                Some(batch) => FFI_ArrowArray::new(&StructArray::from(batch).into_data()),
                // A released array marks the end of the stream.
                None => FFI_ArrowArray::empty(),
            };
            // SAFETY: as in `get_schema`.
            out.write(array);
            Ok(())
        })
    }
}

unsafe extern "C" fn get_last_error(stream: *mut FFI_ArrowArrayStream) -> *const c_char {
    panic::catch_unwind(|| {
        // SAFETY: the consumer passes the stream it got from us.
        let stream = unsafe { stream.as_ref() }?;
        let private = stream.private_data.cast::<Exported>();
        if stream.release.is_none() || private.is_null() {
            return None;
        }
        // SAFETY: a live stream's private data is our `Exported`.
        unsafe { &*private }.last_error.as_ref().map(|e| e.as_ptr())
    })
    .ok()
    .flatten()
    .unwrap_or(ptr::null())
}

unsafe extern "C" fn release(stream: *mut FFI_ArrowArrayStream) {
    // Dropping batches cannot reasonably panic, but a panic here would abort the process.
    let _ = panic::catch_unwind(|| {
        // SAFETY: the consumer passes the stream it got from us.
        let Some(stream) = (unsafe { stream.as_mut() }) else {
            return;
        };
        let private = stream.private_data.cast::<Exported>();
        if stream.release.is_some() && !private.is_null() {
            // SAFETY: made by `Box::into_raw` in `export`, and released only once since the
            // fields are cleared below.
            drop(unsafe { Box::from_raw(private) });
        }
        stream.get_schema = None;
        stream.get_next = None;
        stream.get_last_error = None;
        stream.release = None;
        stream.private_data = ptr::null_mut();
    });
}

/// Takes ownership of a C stream and reads it to the end: its schema and its batches,
/// each checked to be valid Arrow data. The stream is released on return, whatever the
/// outcome; `*stream` is left marked released (its `release` is NULL), as the C Stream
/// interface's move semantics ask. Errors name the stream as the argument `argument` and
/// its data as the table `table`.
///
/// # Safety
///
/// `stream` is not NULL and points to an initialised `struct ArrowArrayStream`.
pub(crate) unsafe fn import(
    stream: *mut FFI_ArrowArrayStream,
    argument: &'static str,
    table: &str,
) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
    // SAFETY: readable by the caller's contract.
    if unsafe { (*stream).release.is_none() } {
        return Err(Error::Invalid {
            argument,
            problem: "is released (already consumed or never initialised)".to_string(),
        });
    }
    // Moved out: from here on, dropping `owned` releases the producer's stream.
    // SAFETY: as above.
    let mut owned = unsafe { FFI_ArrowArrayStream::from_raw(stream) };
    let read_error = |message: String| caas_core::CaasError::Registration {
        table: table.to_string(),
        message: format!("cannot read the Arrow stream: {message}"),
    };
    let (Some(get_schema), Some(get_next)) = (owned.get_schema, owned.get_next) else {
        return Err(Error::Invalid {
            argument,
            problem: "has a NULL get_schema or get_next callback".to_string(),
        });
    };

    let mut ffi_schema = FFI_ArrowSchema::empty();
    // SAFETY: a live stream's callback, given the stream and a slot to fill.
    let code = unsafe { get_schema(&mut owned, &mut ffi_schema) };
    if code != 0 {
        return Err(read_error(producer_error(&mut owned, "get_schema", code)).into());
    }
    let schema = Schema::try_from(&ffi_schema)
        .map_err(|e| read_error(format!("unsupported schema: {e}")))?;
    drop(ffi_schema);
    let schema = SchemaRef::new(schema);
    let struct_type = DataType::Struct(schema.fields().clone());

    let mut batches = Vec::new();
    loop {
        let mut ffi_array = FFI_ArrowArray::empty();
        // SAFETY: as for `get_schema`.
        let code = unsafe { get_next(&mut owned, &mut ffi_array) };
        if code != 0 {
            return Err(read_error(producer_error(&mut owned, "get_next", code)).into());
        }
        if ffi_array.is_released() {
            break;
        }
        // SAFETY: an array the producer just handed over, of the stream's schema; its
        // buffers are checked below before anything reads them.
        let data = unsafe { from_ffi_and_data_type(ffi_array, struct_type.clone()) }
            .map_err(|e| read_error(format!("batch {}: {e}", batches.len() + 1)))?;
        data.validate_full()
            .map_err(|e| read_error(format!("batch {} is invalid: {e}", batches.len() + 1)))?;
        let rows = data.len();
        let (_, columns, _) = StructArray::from(data).into_parts();
        let batch = RecordBatch::try_new_with_options(
            schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| read_error(format!("batch {}: {e}", batches.len() + 1)))?;
        batches.push(batch);
    }
    Ok((schema, batches))
}

/// What a producer said about its failed callback.
fn producer_error(stream: &mut FFI_ArrowArrayStream, callback: &str, code: c_int) -> String {
    let detail = stream.get_last_error.and_then(|get_last_error| {
        // SAFETY: a live stream's callback, called right after the failed operation.
        let text = unsafe { get_last_error(stream) };
        (!text.is_null()).then(|| {
            // SAFETY: not NULL, and a NUL-terminated string valid until the next call on
            // the stream, by the interface's contract.
            unsafe { CStr::from_ptr(text) }
                .to_string_lossy()
                .into_owned()
        })
    });
    match detail {
        // A producer's message may quote the cell it failed on.
        Some(detail) => format!(
            "{callback} failed (error {code}): {}",
            caas_core::error::scrub(&detail)
        ),
        None => format!("{callback} failed with error {code}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::Field;

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("person_id", DataType::Int64, false),
            Field::new("sex", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("F"), None, Some("M")])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn exported_batches_import_unchanged() {
        let batches = vec![batch(), batch().slice(1, 2)];
        let mut stream = export(batches[0].schema(), batches.clone());
        // SAFETY: a stream just made by `export`.
        let (schema, imported) = unsafe { import(&mut stream, "stream", "t") }.unwrap();
        assert!(stream.release.is_none(), "the stream is consumed");
        assert_eq!(schema, batches[0].schema());
        assert_eq!(imported, batches);
    }

    #[test]
    fn a_panicking_callback_reports_an_error_instead_of_aborting() {
        let mut stream = export(batch().schema(), vec![batch()]);
        // SAFETY: a stream made by `export`.
        let code = unsafe { callback(&mut stream, |_| panic!("callback bug")) };
        assert_eq!(code, EIO);
        // SAFETY: the stream's own callback after a failure: a NUL-terminated message that
        // lives until the next call on the stream.
        let message = unsafe { CStr::from_ptr(get_last_error(&mut stream)) };
        assert_eq!(message.to_str(), Ok("internal error: callback bug"));
        // The stream is still usable, and released by its drop.
        // SAFETY: a live stream made by `export`.
        let (_, imported) = unsafe { import(&mut stream, "stream", "t") }.unwrap();
        assert_eq!(imported, vec![batch()]);
    }
}
