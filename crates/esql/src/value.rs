//! ES|QL values and data types.

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

use modelward_event::ip::parse_ip;
use modelward_event::{format_timestamp, parse_timestamp, FieldType};
use serde_json::Value as Json;

/// The data type of a value, with ES|QL's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Null,
    Boolean,
    Integer,
    Long,
    Double,
    Keyword,
    Date,
    Ip,
    TimeDuration,
    DatePeriod,
}

impl DataType {
    pub fn name(self) -> &'static str {
        match self {
            DataType::Null => "null",
            DataType::Boolean => "boolean",
            DataType::Integer => "integer",
            DataType::Long => "long",
            DataType::Double => "double",
            DataType::Keyword => "keyword",
            DataType::Date => "datetime",
            DataType::Ip => "ip",
            DataType::TimeDuration => "time_duration",
            DataType::DatePeriod => "date_period",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Integer | DataType::Long | DataType::Double)
    }
}

/// One value of a column in one row. A multi-valued field is [`Value::Multi`] with two or more
/// values, never nested, never containing null.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
    /// Milliseconds since the Unix epoch, UTC.
    Date(i64),
    Ip(IpAddr),
    /// A fixed span of time in milliseconds (`1 hour`).
    Duration(i64),
    /// A calendar span (`1 month`, `2 days`).
    Period {
        months: i32,
        days: i32,
    },
    Multi(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Null,
            Value::Bool(_) => DataType::Boolean,
            Value::Int(_) => DataType::Integer,
            Value::Long(_) => DataType::Long,
            Value::Double(_) => DataType::Double,
            Value::Str(_) => DataType::Keyword,
            Value::Date(_) => DataType::Date,
            Value::Ip(_) => DataType::Ip,
            Value::Duration(_) => DataType::TimeDuration,
            Value::Period { .. } => DataType::DatePeriod,
            Value::Multi(values) => values.first().map_or(DataType::Null, Value::data_type),
        }
    }

    /// The values of this field: none for null, one for a scalar, all for a multi-value.
    pub fn values(&self) -> &[Value] {
        match self {
            Value::Null => &[],
            Value::Multi(values) => values,
            other => std::slice::from_ref(other),
        }
    }

    /// Builds a field value from its values: null when empty, scalar when one.
    pub fn from_values(mut values: Vec<Value>) -> Value {
        values.retain(|v| !v.is_null());
        match values.len() {
            0 => Value::Null,
            1 => values.pop().unwrap_or(Value::Null),
            _ => Value::Multi(values),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(f64::from(*i)),
            Value::Long(l) => Some(*l as f64),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i64::from(*i)),
            Value::Long(l) => Some(*l),
            _ => None,
        }
    }

    /// Converts JSON values of one field into an ES|QL value, typed by the schema where it
    /// knows the field. Like doc values, multi-values come back sorted, and keyword
    /// multi-values without duplicates.
    pub fn from_json(values: &[&Json], ty: Option<FieldType>) -> Value {
        let mut out: Vec<Value> = values.iter().map(|v| scalar_from_json(v, ty)).collect();
        out.retain(|v| !v.is_null());
        if out.len() > 1 {
            out.sort_by(total_cmp);
            if out
                .iter()
                .all(|v| matches!(v, Value::Str(_) | Value::Ip(_)))
            {
                out.dedup();
            }
        }
        Value::from_values(out)
    }

    /// The JSON rendering used in results and alerts (dates as ISO 8601 strings).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Long(l) => Json::from(*l),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.clone()),
            Value::Date(ms) => Json::String(format_timestamp(*ms)),
            Value::Ip(ip) => Json::String(ip.to_string()),
            Value::Duration(_) | Value::Period { .. } => Json::String(self.to_string()),
            Value::Multi(values) => Json::Array(values.iter().map(Value::to_json).collect()),
        }
    }
}

fn scalar_from_json(value: &Json, ty: Option<FieldType>) -> Value {
    match (ty, value) {
        (_, Json::Null) => Value::Null,
        (Some(FieldType::Date), Json::String(s)) => {
            parse_timestamp(s).map_or(Value::Null, Value::Date)
        }
        (Some(FieldType::Date), Json::Number(n)) => n.as_i64().map_or(Value::Null, Value::Date),
        (Some(FieldType::Ip), Json::String(s)) => parse_ip(s).map_or(Value::Null, Value::Ip),
        (Some(FieldType::Keyword), Json::Number(n)) => Value::Str(n.to_string()),
        (Some(FieldType::Keyword), Json::Bool(b)) => Value::Str(b.to_string()),
        (Some(FieldType::Long), Json::String(s)) => {
            s.trim().parse().map_or(Value::Null, Value::Long)
        }
        (Some(FieldType::Double), Json::String(s)) => {
            s.trim().parse().map_or(Value::Null, Value::Double)
        }
        (Some(FieldType::Double), Json::Number(n)) => n.as_f64().map_or(Value::Null, Value::Double),
        (_, Json::Bool(b)) => Value::Bool(*b),
        (_, Json::Number(n)) => match n.as_i64() {
            Some(l) => Value::Long(l),
            None => n.as_f64().map_or(Value::Null, Value::Double),
        },
        (_, Json::String(s)) => Value::Str(s.clone()),
        (_, Json::Array(_) | Json::Object(_)) => Value::Str(value.to_string()),
    }
}

/// IPs compare as Elasticsearch sorts them: by their 16-byte IPv6 form.
fn ip_key(ip: &IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Compares two non-null scalars of compatible types; `None` when they cannot be compared.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Int(_) | Long(_), Int(_) | Long(_)) => Some(a.as_i64()?.cmp(&b.as_i64()?)),
        (Int(_) | Long(_) | Double(_), Int(_) | Long(_) | Double(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Str(x), Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Ip(x), Ip(y)) => Some(ip_key(x).cmp(&ip_key(y))),
        (Duration(x), Duration(y)) => Some(x.cmp(y)),
        // A string literal against a typed value is cast to that type.
        (Str(s), Date(_)) => compare(&Date(parse_timestamp(s)?), b),
        (Date(_), Str(s)) => compare(a, &Date(parse_timestamp(s)?)),
        (Str(s), Ip(_)) => compare(&Ip(parse_ip(s)?), b),
        (Ip(_), Str(s)) => compare(a, &Ip(parse_ip(s)?)),
        (Str(s), Int(_) | Long(_) | Double(_)) => compare(&parse_number(s)?, b),
        (Int(_) | Long(_) | Double(_), Str(s)) => compare(a, &parse_number(s)?),
        (Str(s), Bool(_)) => compare(&Bool(parse_bool(s)?), b),
        (Bool(_), Str(s)) => compare(a, &Bool(parse_bool(s)?)),
        _ => None,
    }
}

pub fn parse_number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(l) = text.parse::<i64>() {
        return Some(Value::Long(l));
    }
    text.parse::<f64>()
        .ok()
        .filter(|d| d.is_finite())
        .map(Value::Double)
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A total order over all values, for sorting and grouping: by type, then by value.
pub fn total_cmp(a: &Value, b: &Value) -> Ordering {
    if let Some(ord) = compare(a, b) {
        if !matches!((a, b), (Value::Str(_), Value::Str(_))) || a.data_type() == b.data_type() {
            return ord;
        }
    }
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.total_cmp(y),
        (Value::Multi(x), Value::Multi(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ord = total_cmp(p, q);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Long(_) | Value::Double(_) => 2,
        Value::Str(_) => 3,
        Value::Date(_) => 4,
        Value::Ip(_) => 5,
        Value::Duration(_) => 6,
        Value::Period { .. } => 7,
        Value::Multi(_) => 8,
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Long(l) => write!(f, "{l}"),
            Value::Double(d) => write!(f, "{}", format_double(*d)),
            Value::Str(s) => f.write_str(s),
            Value::Date(ms) => f.write_str(&format_timestamp(*ms)),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Duration(ms) => write!(f, "{ms}ms"),
            Value::Period { months, days } => write!(f, "P{months}M{days}D"),
            Value::Multi(values) => {
                f.write_str("[")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Renders a double as Java does for whole numbers (`1.0`), else shortest round-trip.
pub fn format_double(d: f64) -> String {
    if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{d:.1}")
    } else {
        format!("{d}")
    }
}

/// A hashable, totally ordered wrapper for grouping keys.
#[derive(Debug, Clone)]
pub struct Key(pub Value);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0.data_type() == other.0.data_type() && total_cmp(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_value(&self.0, state);
    }
}

fn hash_value<H: std::hash::Hasher>(v: &Value, state: &mut H) {
    use std::hash::Hash;
    std::mem::discriminant(v).hash(state);
    match v {
        Value::Null => {}
        Value::Bool(b) => b.hash(state),
        Value::Int(i) => i.hash(state),
        Value::Long(l) | Value::Date(l) | Value::Duration(l) => l.hash(state),
        Value::Double(d) => d.to_bits().hash(state),
        Value::Str(s) => s.hash(state),
        Value::Ip(ip) => ip.hash(state),
        Value::Period { months, days } => (months, days).hash(state),
        Value::Multi(values) => values.iter().for_each(|x| hash_value(x, state)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_conversion_follows_schema() {
        let ts = json!("2024-05-01T12:00:00.5Z");
        assert_eq!(
            Value::from_json(&[&ts], Some(FieldType::Date)),
            Value::Date(1_714_564_800_500)
        );
        assert_eq!(
            Value::from_json(&[&ts], None),
            Value::Str("2024-05-01T12:00:00.5Z".into())
        );
        let ip = json!("10.0.0.1");
        assert!(matches!(
            Value::from_json(&[&ip], Some(FieldType::Ip)),
            Value::Ip(_)
        ));
        assert_eq!(Value::from_json(&[&json!(3)], None), Value::Long(3));
        assert_eq!(Value::from_json(&[&json!(2.5)], None), Value::Double(2.5));
        assert_eq!(Value::from_json(&[], None), Value::Null);
    }

    #[test]
    fn multi_values_sorted_keywords_deduplicated() {
        let (b, a) = (json!("b"), json!("a"));
        let v = Value::from_json(&[&b, &a, &b], None);
        assert_eq!(
            v,
            Value::Multi(vec![Value::Str("a".into()), Value::Str("b".into())])
        );
        let (three, one) = (json!(3), json!(1));
        let v = Value::from_json(&[&three, &one, &three], None);
        assert_eq!(
            v,
            Value::Multi(vec![Value::Long(1), Value::Long(3), Value::Long(3)])
        );
    }

    #[test]
    fn literal_strings_cast_to_typed_side() {
        let d = Value::Date(1_714_564_800_000);
        assert_eq!(
            compare(&d, &Value::Str("2024-05-01T12:00:00Z".into())),
            Some(Ordering::Equal)
        );
        let ip = Value::Ip("10.0.0.1".parse().unwrap());
        assert_eq!(
            compare(&Value::Str("10.0.0.1".into()), &ip),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&Value::Long(2), &Value::Double(2.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(compare(&Value::Bool(true), &Value::Long(1)), None);
    }
}
