//! Strings the library hands to the caller through `char **out` arguments, and the one
//! function that frees them.

use std::ffi::{CString, c_char};

use crate::error::{c_string, guard_value};

/// Hands `text` to the caller: a new NUL-terminated copy, which only `caas_string_free`
/// may free. A NUL byte inside `text` (which C could not see past) becomes U+FFFD.
pub(crate) fn hand_out(text: &str) -> *mut c_char {
    c_string(text).into_raw()
}

/// Frees a string that the library returned through a `char **out` argument
/// (`caas_result_explain_json`, `caas_result_provenance_json`,
/// `caas_result_data_quality_json`, `caas_result_report`). NULL is ignored.
///
/// Every such string is the caller's from the moment the call returns, independent of the
/// result it came from, and must be freed exactly once with this function — not with
/// `free()`, since the library's allocator may not be the C library's. The caller may read
/// it but must not change its length (by writing a NUL inside it) before freeing it.
///
/// Strings the library lends instead of handing out (`caas_version`, `caas_cohort_id`,
/// `caas_last_error_message`, `caas_last_error_code`, a stream's `get_last_error`) are never
/// passed here.
///
/// # Safety
///
/// `text` is NULL or a string from a `char **out` argument of this library, not yet freed
/// and of the length it was returned with.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn caas_string_free(text: *mut c_char) {
    guard_value((), || {
        if !text.is_null() {
            // SAFETY: made by `CString::into_raw` in `hand_out`, freed once by contract, its
            // length (found again by its NUL) unchanged by contract.
            drop(unsafe { CString::from_raw(text) });
        }
    });
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn strings_handed_out_are_freed_by_caas_string_free() {
        let text = hand_out("a\0b");
        // SAFETY: just handed out, NUL-terminated.
        assert_eq!(unsafe { CStr::from_ptr(text) }.to_str(), Ok("a\u{FFFD}b"));
        // SAFETY: handed out above, freed once.
        unsafe { caas_string_free(text) };
        // SAFETY: NULL is allowed.
        unsafe { caas_string_free(std::ptr::null_mut()) };
    }
}
