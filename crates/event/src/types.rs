//! Field types: what Elasticsearch's index mapping would say a field is.
//!
//! Without a mapping, a JSON number is a long or a double and a string is a keyword. The
//! schema adds what a mapping adds: which fields are dates and which are IP addresses, so that
//! `@timestamp` compares as a date and `source.ip` matches `cidr_match`.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Keyword,
    Long,
    Double,
    Boolean,
    Date,
    Ip,
}

/// Known field types, by exact path and by last path segment.
#[derive(Debug, Clone)]
pub struct Schema {
    exact: HashMap<String, FieldType>,
    by_leaf: HashMap<String, FieldType>,
}

impl Default for Schema {
    /// ECS dates and addresses, and the date fields of the sources modelward normalizes.
    fn default() -> Schema {
        let mut schema = Schema {
            exact: HashMap::new(),
            by_leaf: HashMap::new(),
        };
        for path in [
            "@timestamp",
            "event.created",
            "event.ingested",
            "event.start",
            "event.end",
            "kibana.alert.original_time",
            "azure.open_ai.properties.request_time",
            "azure.open_ai.properties.response_time",
            "file.created",
            "file.mtime",
            "file.accessed",
        ] {
            schema.exact.insert(path.to_string(), FieldType::Date);
        }
        schema.by_leaf.insert("ip".to_string(), FieldType::Ip);
        schema
            .by_leaf
            .insert("timestamp".to_string(), FieldType::Date);
        schema
    }
}

impl Schema {
    /// A schema that knows no field: every string is a keyword.
    pub fn empty() -> Schema {
        Schema {
            exact: HashMap::new(),
            by_leaf: HashMap::new(),
        }
    }

    pub fn set(&mut self, path: &str, ty: FieldType) {
        self.exact.insert(path.to_string(), ty);
    }

    /// The declared type of `path`, if the schema knows one.
    pub fn field_type(&self, path: &str) -> Option<FieldType> {
        if let Some(ty) = self.exact.get(path) {
            return Some(*ty);
        }
        let leaf = path.rsplit('.').next().unwrap_or(path);
        self.by_leaf.get(leaf).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_dates_and_ips() {
        let s = Schema::default();
        assert_eq!(s.field_type("@timestamp"), Some(FieldType::Date));
        assert_eq!(s.field_type("source.ip"), Some(FieldType::Ip));
        assert_eq!(s.field_type("client.nat.ip"), Some(FieldType::Ip));
        assert_eq!(s.field_type("user.name"), None);
        assert_eq!(s.field_type("zip"), None);
    }
}
