//! The built-in detectors, one per file.

pub mod ascii_smuggling;
pub mod credential_theft;
pub mod jailbreak_blocked;
pub mod jailbreak_detected;
pub mod jailbreak_score;
pub mod phishing;
pub mod phishing_in_application;
pub mod phishing_in_prompt;
pub mod phishing_in_response;
pub mod phishing_urls;
pub mod sensitive_data;
mod shield_verdict;
pub mod suspicious_ip;
pub mod suspicious_user_agent;
pub mod tor_access;
