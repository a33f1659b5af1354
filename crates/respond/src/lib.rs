//! Response: from alerts to a classified, contained, documented incident.
//!
//! modelward runs playbook PB-53 ("AI Model Theft / Exfiltration Response") as data:
//!
//! 1. [`grouping`]: alerts about the same entity (principal, address, API key, resource)
//!    close in time become one [`Incident`], kept in SQLite ([`repo`]).
//! 2. [`playbook`]: a playbook file (TOML; PB-53 built in) holds the triage checks, the
//!    theft-vector classification, the scope questions, the escalation criteria, the decision
//!    matrix with owners and SLAs, the containment, recovery and post-incident checklists.
//!    [`analyze`] answers what the logs and alerts allow and turns the rest into tasks.
//! 3. [`action`]: the decisions' containment actions, typed, carried out by executors
//!    (enforcement state for the gateway, signed webhooks, commands), every one recorded in
//!    an append-only audit log; dry runs show what would happen.
//! 4. [`evidence`]: the raw log records behind the alerts, preserved as read, and exported
//!    as a bundle with a SHA-256 manifest; [`ioc`]: the IoC table, as CSV and STIX 2.1;
//!    [`report`]: Markdown and self-contained HTML.
//!
//! ```
//! use modelward_respond::playbook::Playbook;
//!
//! let pb53 = Playbook::builtin();
//! assert_eq!(pb53.id, "PB-53");
//! assert_eq!(pb53.vectors.len(), 5);
//! ```

pub mod action;
pub mod alert_view;
pub mod analyze;
pub mod evidence;
pub mod grouping;
pub mod incident;
pub mod ioc;
pub mod objects;
pub mod playbook;
pub mod repo;
pub mod report;
pub mod responder;
pub mod stix;
pub mod text;
pub mod volume;

pub use alert_view::{AlertView, SampleRef};
pub use incident::{Analysis, Incident, Stage, Status, Task, TaskState};
pub use playbook::Playbook;
pub use responder::{Change, Logs, RespondError, Responder};
