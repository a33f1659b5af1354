//! Opening the database a command reads, with a hint naming the command that writes it.
//!
//! One SQLite file (`modelward.db` by default) holds inventory, fingerprints, incidents and
//! baselines; the commands that only read a part of it refuse a missing file and say which
//! command creates that part.

use std::path::Path;

use anyhow::{bail, Context, Result};
use modelward_store::Store;

/// What a database is read for: names the part and the command that writes it.
#[derive(Clone, Copy)]
pub enum Purpose {
    Incidents,
    Inventory,
    Fingerprints,
}

impl Purpose {
    fn what(self) -> &'static str {
        match self {
            Purpose::Incidents => "incident database",
            Purpose::Inventory => "inventory database",
            Purpose::Fingerprints => "fingerprint database",
        }
    }

    fn creates(self, db: &Path) -> String {
        let db = db.display();
        match self {
            Purpose::Incidents => format!("`modelward hunt --incidents {db} PATH...` creates it"),
            Purpose::Inventory => {
                format!("`modelward inventory scan --db {db} PATH...` creates it")
            }
            Purpose::Fingerprints => {
                format!("`modelward fingerprint build --db {db} MODEL...` creates it")
            }
        }
    }
}

/// Opens an existing database for `purpose`; a missing file is an error naming the command
/// that creates it.
pub fn open_existing(db: &Path, purpose: Purpose) -> Result<Store> {
    // The error reaches the terminal through `errln!`, which escapes it.
    let shown = db.display();
    if !db.exists() {
        bail!("no {} at {shown}: {}", purpose.what(), purpose.creates(db));
    }
    Store::open_existing(db).with_context(|| format!("{} {shown}", purpose.what()))
}
