//! What the binary's integration tests share: a scratch folder removed when dropped.

#![allow(dead_code)]

use std::path::PathBuf;

/// A fresh folder under the system's temporary directory, named for the test and process.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("mw-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    /// A path inside it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file (and its folders) inside it.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Each check of a `verify` document (`evidence verify`, `incident verify`) as (check,
/// result), in order.
pub fn checks(doc: &serde_json::Value) -> Vec<(&str, &str)> {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["check"].as_str().unwrap(), c["result"].as_str().unwrap()))
        .collect()
}
