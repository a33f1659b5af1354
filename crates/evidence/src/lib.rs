//! Signed evidence reports (work in progress).
