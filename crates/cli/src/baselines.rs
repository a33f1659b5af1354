//! `hunt --state FILE`: the behavioural analyzers' baselines kept in the SQLite store
//! between runs.

use std::path::Path;

use anyhow::{Context, Result};
use modelward_behavior::{SavedProfile, SavedState};
use modelward_store::baselines::ProfileRecord;
use modelward_store::Store;

/// Opens (creating it if needed) the store and reads the baselines of these analyzer codes.
pub fn load(path: &Path, codes: &[&str]) -> Result<(Store, SavedState)> {
    let store = Store::open(path).with_context(|| format!("{}", path.display()))?;
    let mut state = SavedState::default();
    for code in codes {
        let Some(watermark) = store.watermark(code)? else {
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
            .collect();
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
