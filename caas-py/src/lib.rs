//! Python bindings of caas-core.
