//! The built-in detectors, one per file.

pub mod ascii_smuggling;
pub mod jailbreak_blocked;
pub mod jailbreak_detected;
mod shield_verdict;
pub mod suspicious_user_agent;
pub mod tor_access;
