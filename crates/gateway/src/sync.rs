//! The gateway and its database in step: every `refresh` the measures in force and the
//! virtual keys are read and put in use, and what the gateway did is written back (schema
//! version 5, `modelward_store::gateway`): that it runs (`gateway_instances`), which
//! measures it has in force since when, and how many requests each changed or refused
//! (`enforcement_applied`). That record is what lets a report say a containment step was
//! carried out rather than only decided.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use modelward_store::gateway::Applied;
use modelward_store::{Store, StoreError};

use crate::keys::Keys;
use crate::measures::{Measures, Row};
use crate::Gateway;

/// One gateway's connection to its database.
pub struct StoreSync {
    gateway: Arc<Gateway>,
    store: Store,
    started_at: i64,
    /// Measures already recorded as in force at this gateway.
    noted: HashSet<Arc<Row>>,
    /// Keys whose limits could not be read, said once.
    said: HashSet<String>,
}

impl StoreSync {
    /// Opens (creates, migrates) the database.
    pub fn open(gateway: Arc<Gateway>, database: &Path) -> Result<StoreSync, StoreError> {
        Ok(StoreSync {
            gateway,
            store: Store::open(database)?,
            started_at: crate::now_ms(),
            noted: HashSet::new(),
            said: HashSet::new(),
        })
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// One pass: read, put in use, write back.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        let now = crate::now_ms();
        let measures = Measures::new(&self.store.measures(now)?);
        let keys = Keys::new(&self.store.keys()?);
        for id in &keys.unreadable {
            if self.said.insert(id.clone()) {
                crate::say::say(
                    crate::say::Level::Warn,
                    "",
                    &format!("virtual key {id}: its limits cannot be read; it is refused until they are mended"),
                );
            }
        }
        let rows: Vec<Arc<Row>> = measures.rows().cloned().collect();
        self.gateway.set_measures(measures);
        self.gateway.set_keys(keys);
        let applied = self.gateway.take_applied();
        let name = self.gateway.settings.name.clone();
        let written = (|| {
            let mut batch = self.store.batch()?;
            batch.gateway_seen(&name, self.started_at, now)?;
            for row in rows.iter().filter(|r| !self.noted.contains(*r)) {
                batch.note_applied(&applied_row(row, &name, now))?;
            }
            for (row, t) in &applied {
                batch.note_applied(&Applied {
                    first_applied: Some(t.first),
                    last_applied: Some(t.last),
                    requests: t.requests,
                    ..applied_row(row, &name, t.first)
                })?;
            }
            batch.commit()
        })();
        match written {
            Ok(()) => {
                self.noted = rows.into_iter().collect();
                Ok(())
            }
            Err(e) => {
                // Kept for the next pass.
                self.gateway.restore_applied(applied);
                Err(e)
            }
        }
    }
}

fn applied_row(row: &Row, gateway: &str, in_force_at: i64) -> Applied {
    Applied {
        measure: row.measure.clone(),
        target_kind: row.target_kind.clone(),
        target: row.target.clone(),
        incident_id: row.incident_id.clone(),
        gateway: gateway.to_string(),
        in_force_at,
        ..Applied::default()
    }
}
