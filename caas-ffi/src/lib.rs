//! C ABI of caas-core.
