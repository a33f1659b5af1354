//! Behavioural analyzers of LLM traffic: stateful, per principal, over event time. They
//! raise the behavioural AI-workload alerts of Microsoft Defender for Cloud's catalogue
//! (denial of wallet by recurring identical requests or by volume, access anomalies,
//! sensitive-data anomalies) from the logs users have.
//!
//! Per-event work stays parallel: the engine extracts one compact [`Call`] from each LLM
//! call event. At the end of a hunt, [`Behavior::analyze`] sorts the calls by event time
//! (stably) and runs every enabled analyzer over them in order. Each analyzer keeps plain,
//! serializable per-principal profiles in a bounded map: when it is full, the principals
//! seen least recently are evicted (their pending findings are reported first) and counted.
//!
//! One analyzer is one file in `analyzers/` whose `//!` documentation (`## What it detects`,
//! `## Why it matters`, `## Example`, `## False positives`, `## Response`, `## References`)
//! is what `modelward rules explain` prints, and two lines in `analyzers/mod.rs`: its
//! `pub mod` and its line in the registry, which gives [`CODES`], the sorted table, and the
//! analyzers [`Behavior`] builds.
//!
//! ```
//! use modelward_behavior::{Behavior, Call, Settings};
//! let behavior = Behavior::new(&Settings::default()).unwrap();
//! let calls: Vec<Call> = (0..60)
//!     .map(|i| Call::test("key-1", i * 1000).with_prompt("What is my balance?"))
//!     .collect();
//! let outcome = behavior.analyze(calls);
//! assert_eq!(outcome.findings[0].code, "MW-AI-0012");
//! ```

mod analyzer;
pub mod analyzers;
mod call;
mod code;
mod features;
mod finding;
mod profiles;
mod settings;
pub mod stats;
mod text;
mod theft_settings;
mod window;

pub use analyzer::{Analyzer, Behavior, Keyer, Outcome, Run, SavedProfile, SavedState, GLOBAL_KEY};
pub use call::{Call, Params, Storage, BIAS_KEPT, SENSITIVE_DATA_CODE};
pub use code::{meta, Code, CODES};
pub use features::{ip_range, prompt_hash, user_agent_family};
pub use finding::{Finding, Sample};
pub use profiles::{Pending, ProfileStore, Profiles};
pub use settings::{
    AccessSettings, PrincipalKind, RecurringSettings, SensitiveSettings, Settings, SettingsError,
    Span, VolumeSettings,
};
pub use text::{dot, hamming, shared, vector_distance, PromptFeatures};
pub use theft_settings::{
    BulkSettings, DistillationSettings, FloodSettings, LogitSettings, PradaSettings,
    SideChannelSettings, TheftSettings, WeightsSettings,
};
pub use window::{Bucket, BucketedBaseline, Crossed, Open, Report};
