//! `hunt --state FILE`: the behavioural analyzers' baselines kept in the SQLite store
//! between runs.

use std::path::Path;

use anyhow::{Context, Result};
use modelward_behavior::{SavedProfile, SavedState};
use modelward_event::terminal::printable;
use modelward_store::baselines::ProfileRecord;
use modelward_store::Store;

/// Opens (creating it if needed) the store and reads the baselines of these analyzer codes.
///
/// A saved watermark past the wall clock by more than the engine's plausible skew (a
/// database written before event times were checked, from a record dated 9999) would make
/// this run take every real call as already counted: it is brought back to the latest
/// plausible time its profiles saw, and said.
pub fn load(path: &Path, codes: &[&str], skew_ms: Option<i64>) -> Result<(Store, SavedState)> {
    let store = Store::open(path).with_context(|| format!("{}", path.display()))?;
    let mut state = SavedState::default();
    let plausible = crate::respond::now_ms()
        .saturating_add(skew_ms.unwrap_or(modelward_engine::FUTURE_SKEW_MS));
    for code in codes {
        let Some(mut watermark) = store.watermark(code)? else {
            continue;
        };
        let profiles = store
            .profiles(code)?
            .into_iter()
            .map(|r| SavedProfile {
                principal: r.principal,
                // A profile that is not JSON cannot be restored; the analyzer counts it.
                profile: serde_json::from_str(&r.profile).unwrap_or(serde_json::Value::Null),
                last_seen: r.last_seen,
            })
            .collect::<Vec<SavedProfile>>();
        if watermark > plausible {
            let latest = profiles
                .iter()
                .map(|p| p.last_seen)
                .filter(|t| (0..=plausible).contains(t))
                .max()
                .unwrap_or(i64::MIN);
            eprintln!(
                "modelward: warning: {}: the {code} baselines were saved as counted through {}, past the wall clock; counted through {} instead",
                printable(&path.display().to_string()),
                modelward_event::format_timestamp(watermark),
                if latest == i64::MIN {
                    "nothing".to_string()
                } else {
                    modelward_event::format_timestamp(latest)
                }
            );
            watermark = latest;
        }
        state
            .analyzers
            .insert(code.to_string(), (profiles, watermark));
    }
    Ok((store, state))
}

/// Writes the baselines of a run, each analyzer's in place of what it had.
pub fn save(store: &mut Store, state: &SavedState, path: &Path) -> Result<()> {
    let mut batch = store.batch()?;
    for (code, (profiles, watermark)) in &state.analyzers {
        let records: Vec<ProfileRecord> = profiles
            .iter()
            .map(|p| ProfileRecord {
                principal: p.principal.clone(),
                profile: p.profile.to_string(),
                last_seen: p.last_seen,
            })
            .collect();
        batch.replace_profiles(code, &records, *watermark)?;
    }
    batch
        .commit()
        .with_context(|| format!("saving baselines to {}", path.display()))
}
