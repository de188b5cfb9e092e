//! Reading the arguments of exported functions: pointers are checked before they are
//! dereferenced, text is checked to be UTF-8, JSON is parsed into the engine's types.

use std::ffi::{CStr, c_char};

use serde::de::DeserializeOwned;

use crate::error::Error;

/// The text behind a required C string argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(
    ptr: *const c_char,
    argument: &'static str,
) -> Result<&'a str, Error> {
    // SAFETY: the caller guarantees a NUL-terminated string when not NULL.
    unsafe { optional_text(ptr, argument) }?.ok_or(Error::Null(argument))
}

/// The text behind an optional C string argument (NULL is `None`).
///
/// # Safety
///
/// As for [`text`].
pub(crate) unsafe fn optional_text<'a>(
    ptr: *const c_char,
    argument: &'static str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL, and NUL-terminated by the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|_| Error::Utf8(argument))
}

/// A value read from an optional JSON text argument; NULL gives the default.
///
/// # Safety
///
/// As for [`text`].
pub(crate) unsafe fn json_or_default<T: DeserializeOwned + Default>(
    ptr: *const c_char,
    argument: &'static str,
) -> Result<T, Error> {
    // SAFETY: passed on from the caller.
    match unsafe { optional_text(ptr, argument) }? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| Error::json(argument, &e)),
    }
}

/// A value read from a required JSON text argument.
///
/// # Safety
///
/// As for [`text`].
pub(crate) unsafe fn json<T: DeserializeOwned>(
    ptr: *const c_char,
    argument: &'static str,
) -> Result<T, Error> {
    // SAFETY: passed on from the caller.
    let text = unsafe { text(ptr, argument) }?;
    serde_json::from_str(text).map_err(|e| Error::json(argument, &e))
}

/// The handle behind a required pointer argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a live `T` that outlives `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, argument: &'static str) -> Result<&'a T, Error> {
    // SAFETY: the caller guarantees a live value when not NULL.
    unsafe { ptr.as_ref() }.ok_or(Error::Null(argument))
}

/// An out-parameter for a new handle: checked not to be NULL and set to NULL at once, so
/// that it is NULL whenever the call fails.
///
/// # Safety
///
/// `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn out_handle<'a, T>(
    out: *mut *mut T,
    argument: &'static str,
) -> Result<&'a mut *mut T, Error> {
    if out.is_null() {
        return Err(Error::Null(argument));
    }
    // SAFETY: not NULL and writable by the caller's contract; written before it is borrowed,
    // since the caller may pass an uninitialised slot.
    unsafe {
        out.write(std::ptr::null_mut());
        Ok(&mut *out)
    }
}
