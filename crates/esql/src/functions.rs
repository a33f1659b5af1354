//! Scalar functions and type conversions.
//!
//! Each function takes its evaluated arguments; a function that is not multi-value aware
//! returns null with a warning when given a multi-valued argument, as ES|QL does. Conversion
//! functions (`TO_*`), `TO_LOWER` and `TO_UPPER` apply to each value of a multi-value.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Timelike, Utc};
use modelward_event::ip::{parse_ip, IpRange};
use modelward_event::parse_timestamp;

use crate::value::{compare, format_double, parse_bool, parse_number, total_cmp, DataType, Value};

type Run = fn(&[Value], i64) -> Result<Value, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multi {
    /// Any multi-valued argument makes the result null, with a warning.
    Reject,
    /// The function applies to each value of its first argument.
    EachValue,
    /// The function handles multi-values itself.
    Accept,
}

#[derive(Clone, Copy)]
pub struct Function {
    def: &'static Def,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

struct Def {
    names: &'static [&'static str],
    min: usize,
    max: usize,
    multi: Multi,
    run: Run,
}

const MANY: usize = usize::MAX;

macro_rules! def {
    ($names:expr, $min:expr, $max:expr, $multi:ident, $run:expr) => {
        Def {
            names: $names,
            min: $min,
            max: $max,
            multi: Multi::$multi,
            run: $run,
        }
    };
}

static DEFS: &[Def] = &[
    def!(&["to_lower"], 1, 1, EachValue, |a, _| str_map(&a[0], |s| s
        .to_lowercase())),
    def!(&["to_upper"], 1, 1, EachValue, |a, _| str_map(&a[0], |s| s
        .to_uppercase())),
    def!(&["length"], 1, 1, Reject, |a, _| Ok(Value::Int(
        str_arg(&a[0])?.chars().count() as i32
    ))),
    def!(&["byte_length"], 1, 1, Reject, |a, _| Ok(Value::Int(
        str_arg(&a[0])?.len() as i32
    ))),
    def!(&["substring"], 2, 3, Reject, substring),
    def!(&["left"], 2, 2, Reject, |a, _| {
        let n = int_arg(&a[1])?.max(0) as usize;
        Ok(Value::Str(str_arg(&a[0])?.chars().take(n).collect()))
    }),
    def!(&["right"], 2, 2, Reject, |a, _| {
        let s = str_arg(&a[0])?;
        let n = int_arg(&a[1])?.max(0) as usize;
        let len = s.chars().count();
        Ok(Value::Str(s.chars().skip(len.saturating_sub(n)).collect()))
    }),
    def!(&["concat"], 2, MANY, Reject, |a, _| Ok(Value::Str(
        a.iter().map(|v| v.to_string()).collect()
    ))),
    def!(&["replace"], 3, 3, Reject, replace),
    def!(&["starts_with"], 2, 2, Reject, |a, _| Ok(Value::Bool(
        str_arg(&a[0])?.starts_with(str_arg(&a[1])?.as_str())
    ))),
    def!(&["ends_with"], 2, 2, Reject, |a, _| Ok(Value::Bool(
        str_arg(&a[0])?.ends_with(str_arg(&a[1])?.as_str())
    ))),
    def!(&["trim"], 1, 1, EachValue, |a, _| str_map(&a[0], |s| s
        .trim()
        .to_string())),
    def!(&["ltrim"], 1, 1, EachValue, |a, _| str_map(&a[0], |s| s
        .trim_start()
        .to_string())),
    def!(&["rtrim"], 1, 1, EachValue, |a, _| str_map(&a[0], |s| s
        .trim_end()
        .to_string())),
    def!(&["split"], 2, 2, Reject, |a, _| {
        let (s, d) = (str_arg(&a[0])?, str_arg(&a[1])?);
        if d.is_empty() {
            return Err("delimiter must not be empty".into());
        }
        Ok(Value::from_values(
            s.split(d.as_str())
                .map(|p| Value::Str(p.to_string()))
                .collect(),
        ))
    }),
    def!(&["locate"], 2, 3, Reject, locate),
    def!(&["repeat"], 2, 2, Reject, |a, _| {
        let n = int_arg(&a[1])?;
        if n < 0 {
            return Err("number must not be negative".into());
        }
        Ok(Value::Str(str_arg(&a[0])?.repeat(n as usize)))
    }),
    def!(&["reverse"], 1, 1, Reject, |a, _| Ok(Value::Str(
        str_arg(&a[0])?.chars().rev().collect()
    ))),
    def!(&["coalesce"], 1, MANY, Accept, |a, _| Ok(a
        .iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))),
    def!(&["case"], 1, MANY, Accept, case),
    def!(&["greatest"], 1, MANY, Reject, |a, _| extreme(
        a,
        std::cmp::Ordering::Greater
    )),
    def!(&["least"], 1, MANY, Reject, |a, _| extreme(
        a,
        std::cmp::Ordering::Less
    )),
    def!(&["date_trunc"], 2, 2, Reject, date_trunc),
    def!(&["date_diff"], 3, 3, Reject, date_diff),
    def!(&["date_extract"], 2, 2, Reject, date_extract),
    def!(&["date_format"], 1, 2, Reject, date_format),
    def!(&["date_parse"], 1, 2, Reject, date_parse),
    def!(&["now"], 0, 0, Reject, |_, now| Ok(Value::Date(now))),
    def!(&["to_string", "to_str"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Keyword
    )),
    def!(&["to_integer", "to_int"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Integer
    )),
    def!(&["to_long"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Long
    )),
    def!(&["to_double", "to_dbl"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Double
    )),
    def!(&["to_boolean", "to_bool"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Boolean
    )),
    def!(&["to_ip"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Ip
    )),
    def!(&["to_datetime", "to_dt"], 1, 1, EachValue, |a, _| convert(
        &a[0],
        DataType::Date
    )),
    def!(&["cidr_match"], 2, MANY, Accept, cidr_match),
    def!(&["ip_prefix"], 3, 3, Reject, ip_prefix),
    def!(&["mv_count"], 1, 1, Accept, |a, _| Ok(
        match a[0].values().len() {
            0 => Value::Null,
            n => Value::Int(n as i32),
        }
    )),
    def!(&["mv_first"], 1, 1, Accept, |a, _| Ok(a[0]
        .values()
        .first()
        .cloned()
        .unwrap_or(Value::Null))),
    def!(&["mv_last"], 1, 1, Accept, |a, _| Ok(a[0]
        .values()
        .last()
        .cloned()
        .unwrap_or(Value::Null))),
    def!(&["mv_concat"], 2, 2, Accept, |a, _| {
        let d = str_arg(&a[1])?;
        let parts: Vec<String> = a[0].values().iter().map(|v| v.to_string()).collect();
        Ok(if parts.is_empty() {
            Value::Null
        } else {
            Value::Str(parts.join(&d))
        })
    }),
    def!(&["mv_dedupe"], 1, 1, Accept, |a, _| {
        let mut out: Vec<Value> = Vec::new();
        for v in a[0].values() {
            if !out.iter().any(|o| total_cmp(o, v).is_eq()) {
                out.push(v.clone());
            }
        }
        Ok(Value::from_values(out))
    }),
    def!(&["mv_min"], 1, 1, Accept, |a, _| Ok(a[0]
        .values()
        .iter()
        .min_by(|x, y| total_cmp(x, y))
        .cloned()
        .unwrap_or(Value::Null))),
    def!(&["mv_max"], 1, 1, Accept, |a, _| Ok(a[0]
        .values()
        .iter()
        .max_by(|x, y| total_cmp(x, y))
        .cloned()
        .unwrap_or(Value::Null))),
    def!(&["mv_sum"], 1, 1, Accept, |a, _| numeric_fold(&a[0], false)),
    def!(&["mv_avg"], 1, 1, Accept, |a, _| numeric_fold(&a[0], true)),
    def!(&["mv_median"], 1, 1, Accept, |a, _| {
        let mut xs: Vec<f64> = a[0].values().iter().filter_map(Value::as_f64).collect();
        Ok(crate::agg::percentile_of(&mut xs, 50.0).map_or(Value::Null, Value::Double))
    }),
    def!(&["mv_sort"], 1, 2, Accept, |a, _| {
        let mut vs = a[0].values().to_vec();
        vs.sort_by(total_cmp);
        if a.len() > 1 && str_arg(&a[1])?.eq_ignore_ascii_case("desc") {
            vs.reverse();
        }
        Ok(Value::from_values(vs))
    }),
    def!(&["mv_slice"], 2, 3, Accept, mv_slice),
    def!(&["abs"], 1, 1, Reject, |a, _| Ok(match &a[0] {
        Value::Int(i) => Value::Int(i.checked_abs().ok_or("integer overflow")?),
        Value::Long(l) => Value::Long(l.checked_abs().ok_or("long overflow")?),
        v => Value::Double(num_arg(v)?.abs()),
    })),
    def!(&["round"], 1, 2, Reject, round),
    def!(&["floor"], 1, 1, Reject, |a, _| float_or_same(
        &a[0],
        f64::floor
    )),
    def!(&["ceil"], 1, 1, Reject, |a, _| float_or_same(
        &a[0],
        f64::ceil
    )),
    def!(&["signum"], 1, 1, Reject, |a, _| Ok(Value::Double(
        num_arg(&a[0])?.signum()
    ))),
    def!(&["pow"], 2, 2, Reject, |a, _| finite(
        num_arg(&a[0])?.powf(num_arg(&a[1])?)
    )),
    def!(&["sqrt"], 1, 1, Reject, |a, _| finite(
        num_arg(&a[0])?.sqrt()
    )),
    def!(&["log10"], 1, 1, Reject, |a, _| finite(
        num_arg(&a[0])?.log10()
    )),
    def!(&["log"], 1, 2, Reject, |a, _| match a.len() {
        1 => finite(num_arg(&a[0])?.ln()),
        _ => finite(num_arg(&a[1])?.log(num_arg(&a[0])?)),
    }),
    def!(&["exp"], 1, 1, Reject, |a, _| finite(num_arg(&a[0])?.exp())),
    def!(&["pi"], 0, 0, Reject, |_, _| Ok(Value::Double(
        std::f64::consts::PI
    ))),
    def!(&["e"], 0, 0, Reject, |_, _| Ok(Value::Double(
        std::f64::consts::E
    ))),
];

/// Finds a function by its lower-case name and checks the argument count.
pub fn lookup(name: &str, argc: usize) -> Result<Function, String> {
    let Some(def) = DEFS.iter().find(|d| d.names.contains(&name)) else {
        return Err(format!("Unknown function [{name}]"));
    };
    if argc < def.min || argc > def.max {
        let expected = match (def.min, def.max) {
            (a, b) if a == b => format!("{a}"),
            (a, MANY) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(format!(
            "function [{name}] takes {expected} arguments, got {argc}"
        ));
    }
    Ok(Function { def })
}

/// Whether a function of that name exists (for `rules explain` and validation).
pub fn exists(name: &str) -> bool {
    DEFS.iter().any(|d| d.names.contains(&name))
}

const MULTI_VALUE: &str =
    "java.lang.IllegalArgumentException: single-value function encountered multi-value";

impl Function {
    pub fn name(&self) -> &'static str {
        self.def.names[0]
    }

    /// Applies the function with its multi-value policy. A null result of a null argument
    /// is not an error; errors become null with a warning in the caller.
    pub fn call(&self, args: &[Value], now: i64) -> Result<Value, String> {
        match self.def.multi {
            Multi::Accept => (self.def.run)(args, now),
            Multi::Reject => {
                if args.iter().any(|a| matches!(a, Value::Multi(_))) {
                    return Err(MULTI_VALUE.into());
                }
                if self.def.min > 0 && args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                (self.def.run)(args, now)
            }
            Multi::EachValue => {
                if args.iter().skip(1).any(|a| matches!(a, Value::Multi(_))) {
                    return Err(MULTI_VALUE.into());
                }
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                let mut out = Vec::new();
                for v in args[0].values() {
                    let mut call_args = args.to_vec();
                    call_args[0] = v.clone();
                    out.push((self.def.run)(&call_args, now)?);
                }
                Ok(Value::from_values(out))
            }
        }
    }
}

fn str_arg(v: &Value) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "expected a string, got [{}]",
            other.data_type().name()
        )),
    }
}

fn int_arg(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("expected an integer, got [{}]", v.data_type().name()))
}

fn num_arg(v: &Value) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("expected a number, got [{}]", v.data_type().name()))
}

fn date_arg(v: &Value) -> Result<i64, String> {
    match v {
        Value::Date(ms) => Ok(*ms),
        Value::Str(s) => parse_timestamp(s).ok_or_else(|| format!("cannot parse [{s}] as a date")),
        other => Err(format!(
            "expected a date, got [{}]",
            other.data_type().name()
        )),
    }
}

fn finite(x: f64) -> Result<Value, String> {
    if x.is_finite() {
        Ok(Value::Double(x))
    } else {
        Err("java.lang.ArithmeticException: result is not a finite number".into())
    }
}

fn str_map(v: &Value, f: impl Fn(&str) -> String) -> Result<Value, String> {
    Ok(Value::Str(f(&str_arg(v)?)))
}

fn substring(a: &[Value], _: i64) -> Result<Value, String> {
    let s: Vec<char> = str_arg(&a[0])?.chars().collect();
    let len = s.len() as i64;
    let mut start = int_arg(&a[1])?;
    // 1-based; a negative start counts from the end; 0 is taken as 1.
    if start < 0 {
        start = (len + start).max(0);
    } else if start > 0 {
        start -= 1;
    }
    let start = start.min(len);
    let count = match a.get(2) {
        Some(v) => int_arg(v)?.max(0),
        None => len,
    };
    let end = (start + count).min(len);
    Ok(Value::Str(s[start as usize..end as usize].iter().collect()))
}

/// Compiled size allowed to a `replace` pattern that comes from the data, compiled per row:
/// its cost per row is bounded by it.
const ROW_REGEX_SIZE_LIMIT: usize = 1 << 20;

fn replace(a: &[Value], _: i64) -> Result<Value, String> {
    let (s, pattern, with) = (str_arg(&a[0])?, str_arg(&a[1])?, str_arg(&a[2])?);
    let re = regex::RegexBuilder::new(&pattern)
        .size_limit(ROW_REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex [{pattern}]: {e}"))?;
    Ok(Value::Str(re.replace_all(&s, with.as_str()).into_owned()))
}

/// `replace` with its pattern compiled at load (a constant): the same multi-value and null
/// rules as the function.
pub fn replace_compiled(re: &regex::Regex, a: &[Value]) -> Result<Value, String> {
    if a.iter().any(|v| matches!(v, Value::Multi(_))) {
        return Err(MULTI_VALUE.into());
    }
    if a.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let (s, with) = (str_arg(&a[0])?, str_arg(&a[2])?);
    Ok(Value::Str(re.replace_all(&s, with.as_str()).into_owned()))
}

fn locate(a: &[Value], _: i64) -> Result<Value, String> {
    let s: Vec<char> = str_arg(&a[0])?.chars().collect();
    let needle: Vec<char> = str_arg(&a[1])?.chars().collect();
    let from = match a.get(2) {
        Some(v) => (int_arg(v)? - 1).max(0) as usize,
        None => 0,
    };
    if needle.is_empty() {
        return Ok(Value::Int((from + 1).min(s.len() + 1) as i32));
    }
    let found = (from..s.len()).find(|&i| s[i..].starts_with(&needle));
    Ok(Value::Int(found.map_or(0, |i| i as i32 + 1)))
}

fn case(a: &[Value], _: i64) -> Result<Value, String> {
    let mut i = 0;
    while i + 1 < a.len() {
        if a[i] == Value::Bool(true) {
            return Ok(a[i + 1].clone());
        }
        i += 2;
    }
    Ok(if a.len() % 2 == 1 {
        a[a.len() - 1].clone()
    } else {
        Value::Null
    })
}

fn extreme(a: &[Value], want: std::cmp::Ordering) -> Result<Value, String> {
    let mut best: Option<&Value> = None;
    for v in a {
        if v.is_null() {
            return Ok(Value::Null);
        }
        best = match best {
            None => Some(v),
            Some(b) => match compare(v, b) {
                Some(o) if o == want => Some(v),
                Some(_) => Some(b),
                None => return Err("arguments of different types".into()),
            },
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn numeric_fold(v: &Value, average: bool) -> Result<Value, String> {
    let values = v.values();
    if values.is_empty() {
        return Ok(Value::Null);
    }
    let all_int = values.iter().all(|x| x.as_i64().is_some());
    if all_int && !average {
        let mut sum: i64 = 0;
        for x in values {
            sum = sum
                .checked_add(x.as_i64().unwrap_or(0))
                .ok_or("long overflow")?;
        }
        return Ok(match values[0] {
            Value::Int(_) => i32::try_from(sum)
                .map(Value::Int)
                .map_err(|_| "integer overflow")?,
            _ => Value::Long(sum),
        });
    }
    let sum: f64 = values.iter().map(num_arg).sum::<Result<f64, String>>()?;
    Ok(Value::Double(if average {
        sum / values.len() as f64
    } else {
        sum
    }))
}

fn mv_slice(a: &[Value], _: i64) -> Result<Value, String> {
    let values = a[0].values();
    let len = values.len() as i64;
    let norm = |i: i64| if i < 0 { len + i } else { i };
    let start = norm(int_arg(&a[1])?);
    let end = match a.get(2) {
        Some(v) => norm(int_arg(v)?),
        None => start,
    };
    if start < 0 || end < start || start >= len {
        return Ok(Value::Null);
    }
    let end = end.min(len - 1);
    Ok(Value::from_values(
        values[start as usize..=end as usize].to_vec(),
    ))
}

fn round(a: &[Value], _: i64) -> Result<Value, String> {
    let decimals = match a.get(1) {
        Some(v) => int_arg(v)?,
        None => 0,
    };
    match &a[0] {
        Value::Int(_) | Value::Long(_) if decimals >= 0 => Ok(a[0].clone()),
        Value::Int(_) | Value::Long(_) => {
            let x = a[0].as_i64().unwrap_or(0);
            let p = 10i64.checked_pow((-decimals) as u32).ok_or("overflow")?;
            let r = ((x as f64 / p as f64).round() as i64).saturating_mul(p);
            Ok(match a[0] {
                Value::Int(_) => Value::Int(r as i32),
                _ => Value::Long(r),
            })
        }
        v => {
            let x = num_arg(v)?;
            let p = 10f64.powi(decimals as i32);
            // Half away from zero, like Java's Math.round on the scaled value.
            Ok(Value::Double((x * p).round() / p))
        }
    }
}

fn float_or_same(v: &Value, f: fn(f64) -> f64) -> Result<Value, String> {
    match v {
        Value::Int(_) | Value::Long(_) => Ok(v.clone()),
        other => Ok(Value::Double(f(num_arg(other)?))),
    }
}

/// Adds a time span to a date.
pub fn date_add(ms: i64, span: &Value) -> Result<i64, String> {
    match span {
        Value::Duration(d) => ms
            .checked_add(*d)
            .ok_or_else(|| "date overflow".to_string()),
        Value::Period { months, days } => {
            let dt = DateTime::<Utc>::from_timestamp_millis(ms).ok_or("date out of range")?;
            let dt = if *months >= 0 {
                dt.checked_add_months(Months::new(*months as u32))
            } else {
                dt.checked_sub_months(Months::new(months.unsigned_abs()))
            }
            .ok_or("date out of range")?;
            let dt = dt
                .checked_add_signed(Duration::days(i64::from(*days)))
                .ok_or("date out of range")?;
            Ok(dt.timestamp_millis())
        }
        other => Err(format!(
            "cannot add [{}] to a date",
            other.data_type().name()
        )),
    }
}

/// Rounds a date down to a multiple of the interval, as DATE_TRUNC and BUCKET do: fixed
/// spans from the epoch, days from midnight, weeks from Monday, months and years from the
/// start of the month or year.
pub fn truncate_date(ms: i64, interval: &Value) -> Result<i64, String> {
    match interval {
        Value::Duration(d) if *d > 0 => Ok(ms.div_euclid(*d) * d),
        Value::Period { months: 0, days } if *days > 0 => {
            let day_ms = 86_400_000i64;
            if *days % 7 == 0 {
                // Weeks start on Monday; 1970-01-05 was a Monday.
                let week = day_ms * i64::from(*days);
                let monday = 4 * day_ms;
                Ok((ms - monday).div_euclid(week) * week + monday)
            } else {
                let span = day_ms * i64::from(*days);
                Ok(ms.div_euclid(span) * span)
            }
        }
        Value::Period { months, days: 0 } if *months > 0 => {
            let dt = DateTime::<Utc>::from_timestamp_millis(ms).ok_or("date out of range")?;
            let total = dt.year() as i64 * 12 + i64::from(dt.month0());
            let start = total.div_euclid(i64::from(*months)) * i64::from(*months);
            let (year, month0) = (start.div_euclid(12), start.rem_euclid(12));
            let date = NaiveDate::from_ymd_opt(year as i32, month0 as u32 + 1, 1)
                .ok_or("date out of range")?;
            Ok(date
                .and_hms_opt(0, 0, 0)
                .ok_or("date out of range")?
                .and_utc()
                .timestamp_millis())
        }
        other => Err(format!("invalid interval [{other}] for DATE_TRUNC")),
    }
}

fn date_trunc(a: &[Value], _: i64) -> Result<Value, String> {
    truncate_date(date_arg(&a[1])?, &a[0]).map(Value::Date)
}

fn date_diff(a: &[Value], _: i64) -> Result<Value, String> {
    let unit = str_arg(&a[0])?.to_ascii_lowercase();
    let (start, end) = (date_arg(&a[1])?, date_arg(&a[2])?);
    let fixed = |per: i64| Value::Long((end - start) / per);
    let months = || -> Result<i64, String> {
        let s = DateTime::<Utc>::from_timestamp_millis(start).ok_or("date out of range")?;
        let e = DateTime::<Utc>::from_timestamp_millis(end).ok_or("date out of range")?;
        let mut m = (e.year() as i64 - s.year() as i64) * 12 + e.month() as i64 - s.month() as i64;
        // Only complete months count, as java.time's `until` counts them: compare the rest
        // of each date (day of month, then time of day).
        let rest = |d: &DateTime<Utc>| {
            (
                d.day(),
                d.num_seconds_from_midnight(),
                d.timestamp_subsec_nanos(),
            )
        };
        if m > 0 && rest(&e) < rest(&s) {
            m -= 1;
        } else if m < 0 && rest(&e) > rest(&s) {
            m += 1;
        }
        Ok(m)
    };
    let v = match unit.as_str() {
        "year" | "years" | "yy" | "yyyy" => Value::Long(months()? / 12),
        "quarter" | "quarters" | "qq" | "q" => Value::Long(months()? / 3),
        "month" | "months" | "mm" | "m" => Value::Long(months()?),
        "week" | "weeks" | "wk" | "ww" => fixed(7 * 86_400_000),
        "day" | "days" | "dd" | "d" | "dayofyear" | "dy" | "y" | "weekday" | "weekdays" | "dw" => {
            fixed(86_400_000)
        }
        "hour" | "hours" | "hh" => fixed(3_600_000),
        "minute" | "minutes" | "mi" | "n" => fixed(60_000),
        "second" | "seconds" | "ss" | "s" => fixed(1_000),
        "millisecond" | "milliseconds" | "ms" => fixed(1),
        "microsecond" | "microseconds" | "mcs" => {
            Value::Long((end - start).checked_mul(1_000).ok_or("overflow")?)
        }
        "nanosecond" | "nanoseconds" | "ns" => {
            Value::Long((end - start).checked_mul(1_000_000).ok_or("overflow")?)
        }
        other => return Err(format!("invalid time unit [{other}]")),
    };
    // DATE_DIFF returns an integer; a difference that does not fit is an error.
    match v {
        Value::Long(l) => i32::try_from(l)
            .map(Value::Int)
            .map_err(|_| "integer overflow".into()),
        v => Ok(v),
    }
}

fn date_extract(a: &[Value], _: i64) -> Result<Value, String> {
    let part = str_arg(&a[0])?.to_ascii_lowercase();
    let ms = date_arg(&a[1])?;
    let dt = DateTime::<Utc>::from_timestamp_millis(ms).ok_or("date out of range")?;
    let v: i64 = match part.as_str() {
        "year" => i64::from(dt.year()),
        "month_of_year" => i64::from(dt.month()),
        "day_of_month" => i64::from(dt.day()),
        "day_of_year" => i64::from(dt.ordinal()),
        "day_of_week" => i64::from(dt.weekday().number_from_monday()),
        "hour_of_day" => i64::from(dt.hour()),
        "minute_of_hour" => i64::from(dt.minute()),
        "minute_of_day" => i64::from(dt.hour() * 60 + dt.minute()),
        "second_of_minute" => i64::from(dt.second()),
        "second_of_day" => i64::from(dt.num_seconds_from_midnight()),
        "milli_of_second" => i64::from(dt.timestamp_subsec_millis()),
        "epoch_day" => ms.div_euclid(86_400_000),
        "aligned_week_of_year" => i64::from((dt.ordinal() - 1) / 7 + 1),
        "quarter_of_year" => i64::from(dt.month0() / 3 + 1),
        other => return Err(format!("unsupported date part [{other}]")),
    };
    Ok(Value::Long(v))
}

/// Translates a Java DateTimeFormatter pattern (the common letters) to chrono's strftime.
fn java_to_strftime(pattern: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', _) => "%9f",
            ('E', 4) => "%A",
            ('E', _) => "%a",
            ('a', _) => "%p",
            ('X' | 'Z' | 'x', _) => "%:z",
            ('z', _) => "%Z",
            (c, n) => {
                out.extend(std::iter::repeat_n(c, n));
                i += n;
                continue;
            }
        };
        out.push_str(piece);
        i += n;
    }
    out
}

fn date_format(a: &[Value], _: i64) -> Result<Value, String> {
    let (pattern, date) = match a {
        [d] => (None, d),
        [p, d] => (Some(str_arg(p)?), d),
        _ => return Err("DATE_FORMAT takes a format and a date".into()),
    };
    let ms = date_arg(date)?;
    let dt = DateTime::<Utc>::from_timestamp_millis(ms).ok_or("date out of range")?;
    Ok(Value::Str(match pattern {
        None => modelward_event::format_timestamp(ms),
        Some(p) => {
            let mut out = String::new();
            use std::fmt::Write;
            write!(out, "{}", dt.format(&java_to_strftime(&p)))
                .map_err(|_| format!("invalid date format [{p}]"))?;
            out
        }
    }))
}

fn date_parse(a: &[Value], _: i64) -> Result<Value, String> {
    let (pattern, text) = match a {
        [t] => (None, str_arg(t)?),
        [p, t] => (Some(str_arg(p)?), str_arg(t)?),
        _ => return Err("DATE_PARSE takes a format and a string".into()),
    };
    let parsed = match pattern {
        None => parse_timestamp(&text),
        Some(p) => {
            let fmt = java_to_strftime(&p);
            chrono::DateTime::parse_from_str(&text, &fmt)
                .map(|d| d.timestamp_millis())
                .ok()
                .or_else(|| {
                    chrono::NaiveDateTime::parse_from_str(&text, &fmt)
                        .ok()
                        .map(|n| n.and_utc().timestamp_millis())
                })
                .or_else(|| {
                    NaiveDate::parse_from_str(&text, &fmt)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|n| n.and_utc().timestamp_millis())
                })
        }
    };
    parsed.map(Value::Date).ok_or_else(|| {
        format!("java.lang.IllegalArgumentException: failed to parse date field [{text}]")
    })
}

/// Converts one value to a type (the `TO_*` functions and `::` casts).
pub fn convert(v: &Value, ty: DataType) -> Result<Value, String> {
    if let Value::Multi(values) = v {
        let out: Result<Vec<Value>, String> = values.iter().map(|x| convert(x, ty)).collect();
        return out.map(Value::from_values);
    }
    if v.is_null() {
        return Ok(Value::Null);
    }
    let fail = || {
        format!(
            "cannot convert [{v}] of type [{}] to [{}]",
            v.data_type().name(),
            ty.name()
        )
    };
    Ok(match ty {
        DataType::Null => Value::Null,
        DataType::Keyword => Value::Str(match v {
            Value::Double(d) => format_double(*d),
            other => other.to_string(),
        }),
        DataType::Long => match v {
            Value::Int(i) => Value::Long(i64::from(*i)),
            Value::Long(_) => v.clone(),
            Value::Double(d) => to_whole(*d).ok_or_else(fail)?,
            Value::Bool(b) => Value::Long(i64::from(*b)),
            Value::Date(ms) => Value::Long(*ms),
            Value::Str(s) => match parse_number(s).ok_or_else(fail)? {
                Value::Double(d) => to_whole(d).ok_or_else(fail)?,
                n => n,
            },
            _ => return Err(fail()),
        },
        DataType::Integer => match convert(v, DataType::Long)? {
            Value::Long(l) => Value::Int(i32::try_from(l).map_err(|_| fail())?),
            _ => return Err(fail()),
        },
        DataType::Double => match v {
            Value::Bool(b) => Value::Double(f64::from(u8::from(*b))),
            Value::Date(ms) => Value::Double(*ms as f64),
            Value::Str(s) => {
                Value::Double(parse_number(s).and_then(|n| n.as_f64()).ok_or_else(fail)?)
            }
            other => Value::Double(other.as_f64().ok_or_else(fail)?),
        },
        DataType::Boolean => match v {
            Value::Bool(_) => v.clone(),
            Value::Str(s) => Value::Bool(parse_bool(s).unwrap_or(false)),
            Value::Int(_) | Value::Long(_) | Value::Double(_) => {
                Value::Bool(v.as_f64() != Some(0.0))
            }
            _ => return Err(fail()),
        },
        DataType::Date => match v {
            Value::Date(_) => v.clone(),
            Value::Str(s) => Value::Date(parse_timestamp(s).ok_or_else(fail)?),
            Value::Int(_) | Value::Long(_) => Value::Date(v.as_i64().unwrap_or(0)),
            Value::Double(d) => Value::Date(*d as i64),
            _ => return Err(fail()),
        },
        DataType::Ip => match v {
            Value::Ip(_) => v.clone(),
            Value::Str(s) => Value::Ip(parse_ip(s).ok_or_else(fail)?),
            _ => return Err(fail()),
        },
        DataType::TimeDuration | DataType::DatePeriod => match v {
            Value::Duration(_) | Value::Period { .. } => v.clone(),
            _ => return Err(fail()),
        },
    })
}

fn to_whole(d: f64) -> Option<Value> {
    if d.is_finite() && d.abs() < 9.2e18 {
        Some(Value::Long(d.trunc() as i64))
    } else {
        None
    }
}

/// `CIDR_MATCH(ip, block1, block2, ...)`: true when the address is in any block.
fn cidr_match(a: &[Value], _: i64) -> Result<Value, String> {
    let ip = match &a[0] {
        Value::Null => return Ok(Value::Null),
        Value::Ip(ip) => *ip,
        Value::Str(s) => parse_ip(s).ok_or_else(|| format!("[{s}] is not an IP address"))?,
        Value::Multi(_) => return Err(MULTI_VALUE.into()),
        other => {
            return Err(format!(
                "expected an ip, got [{}]",
                other.data_type().name()
            ))
        }
    };
    for block in a[1..].iter().flat_map(Value::values) {
        let text = str_arg(block)?;
        let block: IpRange = text
            .parse()
            .map_err(|_| format!("invalid CIDR block [{text}]"))?;
        if block.contains(ip) {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// `IP_PREFIX(ip, v4_bits, v6_bits)`: the address with host bits cleared.
fn ip_prefix(a: &[Value], _: i64) -> Result<Value, String> {
    let ip = match &a[0] {
        Value::Ip(ip) => *ip,
        Value::Str(s) => parse_ip(s).ok_or("not an IP address")?,
        other => {
            return Err(format!(
                "expected an ip, got [{}]",
                other.data_type().name()
            ))
        }
    };
    let (v4, v6) = (int_arg(&a[1])?, int_arg(&a[2])?);
    Ok(Value::Ip(match ip {
        IpAddr::V4(addr) => {
            if !(0..=32).contains(&v4) {
                return Err("prefix length for IPv4 must be in [0, 32]".into());
            }
            let mask = if v4 == 0 { 0 } else { u32::MAX << (32 - v4) };
            IpAddr::V4((u32::from(addr) & mask).into())
        }
        IpAddr::V6(addr) => {
            if !(0..=128).contains(&v6) {
                return Err("prefix length for IPv6 must be in [0, 128]".into());
            }
            let mask = if v6 == 0 { 0 } else { u128::MAX << (128 - v6) };
            IpAddr::V6((u128::from(addr) & mask).into())
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Value {
        lookup(name, args.len()).unwrap().call(args, 0).unwrap()
    }

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn strings() {
        assert_eq!(
            call("substring", &[s("hello"), Value::Int(2), Value::Int(3)]),
            s("ell")
        );
        assert_eq!(call("substring", &[s("hello"), Value::Int(-3)]), s("llo"));
        assert_eq!(call("concat", &[s("a"), Value::Int(1)]), s("a1"));
        assert_eq!(call("concat", &[s("a"), Value::Null]), Value::Null);
        assert_eq!(call("replace", &[s("a1b22"), s("\\d+"), s("#")]), s("a#b#"));
        assert_eq!(call("locate", &[s("hello"), s("ll")]), Value::Int(3));
        assert_eq!(call("length", &[s("héllo")]), Value::Int(5));
        assert_eq!(
            call("to_lower", &[Value::Multi(vec![s("A"), s("B")])]),
            Value::Multi(vec![s("a"), s("b")])
        );
    }

    #[test]
    fn multi_values_rejected_by_single_value_functions() {
        let f = lookup("length", 1).unwrap();
        assert!(f.call(&[Value::Multi(vec![s("a"), s("b")])], 0).is_err());
    }

    #[test]
    fn dates() {
        let t = 1_714_567_384_123; // 2024-05-01T12:43:04.123Z
        assert_eq!(
            truncate_date(t, &Value::Duration(3_600_000)),
            Ok(1_714_564_800_000)
        );
        assert_eq!(
            truncate_date(t, &Value::Period { months: 1, days: 0 }),
            Ok(1_714_521_600_000)
        );
        assert_eq!(
            truncate_date(
                t,
                &Value::Period {
                    months: 12,
                    days: 0
                }
            ),
            Ok(1_704_067_200_000)
        );
        // 2024-04-29 was a Monday.
        assert_eq!(
            truncate_date(t, &Value::Period { months: 0, days: 7 }),
            Ok(1_714_348_800_000)
        );
        let diff = call(
            "date_diff",
            &[s("minute"), Value::Date(0), Value::Date(125_000)],
        );
        assert_eq!(diff, Value::Int(2));
        let jan31 = 1_706_659_200_000; // 2024-01-31
        let feb29 = 1_709_164_800_000; // 2024-02-29
        assert_eq!(
            call(
                "date_diff",
                &[s("month"), Value::Date(jan31), Value::Date(feb29)]
            ),
            Value::Int(0)
        );
        assert_eq!(
            call("date_format", &[s("yyyy-MM-dd HH:mm"), Value::Date(t)]),
            s("2024-05-01 12:43")
        );
        assert_eq!(
            call("date_extract", &[s("HOUR_OF_DAY"), Value::Date(t)]),
            Value::Long(12)
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(convert(&s("42"), DataType::Integer), Ok(Value::Int(42)));
        assert_eq!(
            convert(&Value::Double(2.7), DataType::Long),
            Ok(Value::Long(2))
        );
        assert!(convert(&s("x"), DataType::Long).is_err());
        assert_eq!(
            convert(&s("true"), DataType::Boolean),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            convert(&Value::Double(1.0), DataType::Keyword),
            Ok(s("1.0"))
        );
    }

    #[test]
    fn cidr() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let cidr_match =
            |ip: Value, block: &str| lookup("cidr_match", 2).unwrap().call(&[ip, s(block)], 0);
        for (block, expected) in [
            ("10.0.0.0/8", true),
            ("10.1.2.3", true),
            ("192.168.0.0/16", false),
            ("0.0.0.0/0", true),
            ("::ffff:10.0.0.0/104", true),
        ] {
            assert_eq!(
                cidr_match(Value::Ip(ip), block),
                Ok(Value::Bool(expected)),
                "{block}"
            );
        }
        assert_eq!(
            cidr_match(s("2001:db8::1"), "2001:db8::/32"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            cidr_match(s("::ffff:10.1.2.3"), "10.0.0.0/8"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            cidr_match(Value::Ip(ip), "10.0.0.0/33"),
            Err("invalid CIDR block [10.0.0.0/33]".into())
        );
        assert_eq!(
            call(
                "cidr_match",
                &[Value::Ip(ip), s("192.168.0.0/16"), s("10.1.0.0/16")]
            ),
            Value::Bool(true)
        );
    }

    #[test]
    fn case_and_coalesce() {
        assert_eq!(
            call(
                "case",
                &[Value::Bool(false), s("a"), Value::Null, s("b"), s("c")]
            ),
            s("c")
        );
        assert_eq!(call("case", &[Value::Bool(false), s("a")]), Value::Null);
        assert_eq!(call("coalesce", &[Value::Null, s("x")]), s("x"));
    }
}
