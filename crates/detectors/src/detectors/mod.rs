//! The built-in detectors, one per file.

pub mod ascii_smuggling;
pub mod suspicious_user_agent;
pub mod tor_access;
