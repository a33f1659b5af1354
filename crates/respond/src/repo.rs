//! Incidents in the store: the [`Incident`] as a JSON document beside the columns that
//! lists and lookups need.

use modelward_store::incidents::IncidentRecord;
use modelward_store::{Store, StoreError};

use crate::incident::Incident;

/// Why an incident cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("incident {id}: stored document unreadable: {source}")]
    Document {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no incident {0}")]
    NotFound(String),
    #[error("`{id}` names {} incidents ({}): give more of the id", .matches.len(), .matches.join(", "))]
    Ambiguous { id: String, matches: Vec<String> },
}

fn record(incident: &Incident) -> IncidentRecord {
    IncidentRecord {
        id: incident.id.clone(),
        status: incident.status.as_str().to_string(),
        stage: incident.stage.as_str().to_string(),
        severity: incident.severity.clone(),
        title: incident.title.clone(),
        created_at: incident.created_at,
        first_seen: incident.first_seen,
        last_seen: incident.last_seen,
        doc: serde_json::to_string(incident).unwrap_or_default(),
    }
}

fn parse(r: IncidentRecord) -> Result<Incident, RepoError> {
    serde_json::from_str(&r.doc).map_err(|source| RepoError::Document { id: r.id, source })
}

/// Writes an incident with its entities and alert ids.
pub fn save(store: &mut Store, incident: &Incident) -> Result<(), RepoError> {
    let alert_ids: Vec<String> = incident.alerts.iter().map(|a| a.id.clone()).collect();
    let mut batch = store.batch()?;
    batch.put_incident(&record(incident), &incident.entities, &alert_ids)?;
    batch.commit()?;
    Ok(())
}

/// The shortest prefix `load` takes: `INC-` and four hex digits.
const SHORTEST_PREFIX: usize = 8;

/// Reads one incident; `id` may be a unique prefix of at least four hex digits (`INC-3f2a`).
pub fn load(store: &Store, id: &str) -> Result<Incident, RepoError> {
    if let Some(r) = store.incident(id)? {
        return parse(r);
    }
    if id.len() < SHORTEST_PREFIX {
        return Err(RepoError::NotFound(id.to_string()));
    }
    let mut matches: Vec<IncidentRecord> = store
        .incidents(false)?
        .into_iter()
        .filter(|r| {
            r.id.get(..id.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(id))
        })
        .collect();
    match matches.len() {
        0 => Err(RepoError::NotFound(id.to_string())),
        1 => parse(matches.remove(0)),
        _ => Err(RepoError::Ambiguous {
            id: id.to_string(),
            matches: matches.into_iter().map(|r| r.id).collect(),
        }),
    }
}

/// Every incident (only open ones with `open_only`), newest first.
pub fn list(store: &Store, open_only: bool) -> Result<Vec<Incident>, RepoError> {
    store.incidents(open_only)?.into_iter().map(parse).collect()
}
