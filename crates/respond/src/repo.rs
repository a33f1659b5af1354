//! Incidents in the store: the [`Incident`] as a JSON document beside the columns that
//! lists and lookups need.

use modelward_store::incidents::IncidentRecord;
use modelward_store::{Batch, Store, StoreError};

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
        revision: incident.revision,
    }
}

fn parse(r: IncidentRecord) -> Result<Incident, RepoError> {
    let mut incident: Incident =
        serde_json::from_str(&r.doc).map_err(|source| RepoError::Document { id: r.id, source })?;
    incident.revision = r.revision;
    Ok(incident)
}

/// Writes an incident with its entities and alert ids; refused when another command wrote
/// it since it was read ([`modelward_store::StoreError::Conflict`]).
pub fn save(store: &mut Store, incident: &mut Incident) -> Result<(), RepoError> {
    let mut batch = store.batch()?;
    put(&mut batch, incident)?;
    batch.commit()?;
    Ok(())
}

/// [`save`] within a transaction of the caller's. The incident's revision moves on when the
/// write is done; should the transaction not commit, the incident is to be read again.
pub fn put(batch: &mut Batch<'_>, incident: &mut Incident) -> Result<(), RepoError> {
    let alert_ids: Vec<String> = incident.alerts.iter().map(|a| a.id.clone()).collect();
    incident.revision = batch.put_incident(&record(incident), &incident.entities, &alert_ids)?;
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
