//! Aggregate functions for STATS. Aggregates ignore nulls; each value of a multi-valued
//! field counts (`COUNT(field)` counts values, `COUNT(*)` counts rows).

use std::collections::HashSet;

use crate::value::{total_cmp, Key, Value};

const AGGREGATES: [&str; 13] = [
    "count",
    "count_distinct",
    "min",
    "max",
    "sum",
    "avg",
    "median",
    "median_absolute_deviation",
    "percentile",
    "values",
    "top",
    "std_dev",
    "variance",
];

pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggKind {
    CountRows,
    Count,
    CountDistinct,
    Min,
    Max,
    Sum,
    Avg,
    Median,
    MedianAbsoluteDeviation,
    Percentile(f64),
    Values,
    Top { limit: usize, descending: bool },
    StdDev,
    Variance,
}

impl AggKind {
    /// The aggregate for a call, given its constant extra arguments.
    pub fn from_call(
        name: &str,
        star: bool,
        argc: usize,
        consts: &[Value],
    ) -> Result<AggKind, String> {
        let want = |n: usize| {
            if argc == n {
                Ok(())
            } else {
                Err(format!(
                    "aggregate [{name}] takes {n} argument(s), got {argc}"
                ))
            }
        };
        Ok(match name {
            "count" if star || argc == 0 => AggKind::CountRows,
            "count" => {
                want(1)?;
                AggKind::Count
            }
            "count_distinct" => {
                if argc != 1 && argc != 2 {
                    return Err("COUNT_DISTINCT takes a field and an optional precision".into());
                }
                AggKind::CountDistinct
            }
            "min" => want(1).map(|_| AggKind::Min)?,
            "max" => want(1).map(|_| AggKind::Max)?,
            "sum" => want(1).map(|_| AggKind::Sum)?,
            "avg" => want(1).map(|_| AggKind::Avg)?,
            "median" => want(1).map(|_| AggKind::Median)?,
            "median_absolute_deviation" => want(1).map(|_| AggKind::MedianAbsoluteDeviation)?,
            "std_dev" => want(1).map(|_| AggKind::StdDev)?,
            "variance" => want(1).map(|_| AggKind::Variance)?,
            "values" => want(1).map(|_| AggKind::Values)?,
            "percentile" => {
                want(2)?;
                let p = consts
                    .first()
                    .and_then(Value::as_f64)
                    .ok_or("PERCENTILE needs a constant percentile")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("percentile must be in [0, 100], got [{p}]"));
                }
                AggKind::Percentile(p)
            }
            "top" => {
                want(3)?;
                let limit = consts
                    .first()
                    .and_then(Value::as_i64)
                    .filter(|n| *n > 0)
                    .ok_or("TOP needs a positive constant limit")?;
                let order = match consts.get(1) {
                    Some(Value::Str(s)) => s.to_ascii_lowercase(),
                    _ => return Err("TOP needs a constant order, \"asc\" or \"desc\"".into()),
                };
                if order != "asc" && order != "desc" {
                    return Err(format!("invalid order [{order}] for TOP"));
                }
                AggKind::Top {
                    limit: limit as usize,
                    descending: order == "desc",
                }
            }
            other => return Err(format!("Unknown aggregate [{other}]")),
        })
    }
}

/// The running state of one aggregate in one group.
#[derive(Debug, Clone, Default)]
pub struct AggState {
    rows: i64,
    values: Vec<Value>,
}

impl AggState {
    pub fn add_row(&mut self) {
        self.rows += 1;
    }

    pub fn add(&mut self, kind: AggKind, value: &Value) {
        match kind {
            AggKind::CountRows => self.rows += 1,
            AggKind::Count => self.rows += value.values().len() as i64,
            _ => self.values.extend(value.values().iter().cloned()),
        }
    }

    pub fn finish(&mut self, kind: AggKind) -> Result<Value, String> {
        let values = &mut self.values;
        Ok(match kind {
            AggKind::CountRows | AggKind::Count => Value::Long(self.rows),
            AggKind::CountDistinct => {
                let set: HashSet<Key> = values.iter().cloned().map(Key).collect();
                Value::Long(set.len() as i64)
            }
            AggKind::Min => values
                .iter()
                .min_by(|a, b| total_cmp(a, b))
                .cloned()
                .unwrap_or(Value::Null),
            AggKind::Max => values
                .iter()
                .max_by(|a, b| total_cmp(a, b))
                .cloned()
                .unwrap_or(Value::Null),
            AggKind::Sum => sum(values)?,
            AggKind::Avg => match numbers(values)? {
                xs if xs.is_empty() => Value::Null,
                xs => Value::Double(xs.iter().sum::<f64>() / xs.len() as f64),
            },
            AggKind::Median => {
                percentile_of(&mut numbers(values)?, 50.0).map_or(Value::Null, Value::Double)
            }
            AggKind::Percentile(p) => {
                percentile_of(&mut numbers(values)?, p).map_or(Value::Null, Value::Double)
            }
            AggKind::MedianAbsoluteDeviation => {
                let mut xs = numbers(values)?;
                match percentile_of(&mut xs, 50.0) {
                    None => Value::Null,
                    Some(m) => {
                        let mut dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
                        percentile_of(&mut dev, 50.0).map_or(Value::Null, Value::Double)
                    }
                }
            }
            AggKind::StdDev | AggKind::Variance => {
                let xs = numbers(values)?;
                if xs.is_empty() {
                    Value::Null
                } else {
                    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
                    Value::Double(if kind == AggKind::StdDev {
                        var.sqrt()
                    } else {
                        var
                    })
                }
            }
            AggKind::Values => {
                values.sort_by(total_cmp);
                values.dedup_by(|a, b| total_cmp(a, b).is_eq());
                Value::from_values(std::mem::take(values))
            }
            AggKind::Top { limit, descending } => {
                values.sort_by(total_cmp);
                if descending {
                    values.reverse();
                }
                values.truncate(limit);
                Value::from_values(std::mem::take(values))
            }
        })
    }
}

fn numbers(values: &[Value]) -> Result<Vec<f64>, String> {
    values
        .iter()
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| format!("expected a number, got [{}]", v.data_type().name()))
        })
        .collect()
}

fn sum(values: &[Value]) -> Result<Value, String> {
    if values.is_empty() {
        return Ok(Value::Null);
    }
    if values.iter().all(|v| v.as_i64().is_some()) {
        let mut total: i64 = 0;
        for v in values {
            total = total
                .checked_add(v.as_i64().unwrap_or(0))
                .ok_or("java.lang.ArithmeticException: long overflow")?;
        }
        return Ok(Value::Long(total));
    }
    Ok(Value::Double(numbers(values)?.iter().sum()))
}

/// The p-th percentile with linear interpolation between closest ranks (exact, where
/// Elasticsearch approximates with a t-digest; the two agree on small inputs).
pub fn percentile_of(xs: &mut [f64], p: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (xs.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(xs[lo] + (xs[hi] - xs[lo]) * (rank - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        assert_eq!(percentile_of(&mut [1.0, 2.0, 3.0, 4.0], 50.0), Some(2.5));
        assert_eq!(percentile_of(&mut [5.0], 99.0), Some(5.0));
        assert_eq!(percentile_of(&mut [], 50.0), None);
    }

    #[test]
    fn count_counts_values_of_multi_valued_fields() {
        let mut s = AggState::default();
        s.add(
            AggKind::Count,
            &Value::Multi(vec![Value::Long(1), Value::Long(2)]),
        );
        s.add(AggKind::Count, &Value::Null);
        assert_eq!(s.finish(AggKind::Count), Ok(Value::Long(2)));
    }

    #[test]
    fn sums_and_nulls() {
        let mut s = AggState::default();
        assert_eq!(s.finish(AggKind::Sum), Ok(Value::Null));
        s.add(AggKind::Sum, &Value::Long(2));
        s.add(AggKind::Sum, &Value::Int(3));
        assert_eq!(s.finish(AggKind::Sum), Ok(Value::Long(5)));
    }
}
