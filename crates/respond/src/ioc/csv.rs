//! The IoC table as CSV (RFC 4180), for spreadsheets and ticket attachments.
//!
//! Columns: `type,value,source,first_seen,last_seen,alerts`; times in RFC 3339 (UTC,
//! milliseconds); the alert ids separated by `;` in one cell. Lines end with CRLF as RFC 4180
//! says. A field holding a comma, a double quote, CR or LF is quoted, its quotes doubled.
//!
//! **Formula injection** is defused as in every CSV modelward writes: a cell starting with
//! `=`, `+`, `-`, `@`, a tab or CR gets a leading `'` ([`modelward_event::csv::field`]).

use std::io::{self, Write};

use modelward_event::csv::field;
use modelward_event::format_timestamp;

use super::mask::safe_value;
use crate::incident::Ioc;

/// Writes `iocs` as CSV with a header line. API keys are masked again and secrets in other
/// values too, in case the IoCs did not come from [`super::collect`].
pub fn to_csv(iocs: &[Ioc], out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"type,value,source,first_seen,last_seen,alerts\r\n")?;
    for ioc in iocs {
        let value = safe_value(&ioc.kind, &ioc.value);
        let first = format_timestamp(ioc.first_seen);
        let last = format_timestamp(ioc.last_seen);
        let alerts = ioc.alerts.join(";");
        let fields = [
            ioc.kind.as_str(),
            &value,
            &ioc.source,
            &first,
            &last,
            &alerts,
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(field(f).as_bytes())?;
        }
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ioc(kind: &str, value: &str) -> Ioc {
        Ioc {
            kind: kind.into(),
            value: value.into(),
            source: "API gateway logs".into(),
            first_seen: 1_741_126_225_111,
            last_seen: 1_741_126_466_121,
            alerts: vec!["a4c85a6c877a2ee8".into(), "7d4800f40f9a98f2".into()],
        }
    }

    fn csv(iocs: &[Ioc]) -> String {
        let mut out = Vec::new();
        to_csv(iocs, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn header_times_and_alert_list() {
        let text = csv(&[ioc("ip", "203.0.113.66")]);
        assert_eq!(
            text,
            "type,value,source,first_seen,last_seen,alerts\r\n\
             ip,203.0.113.66,API gateway logs,2025-03-04T22:10:25.111Z,2025-03-04T22:14:26.121Z,a4c85a6c877a2ee8;7d4800f40f9a98f2\r\n"
        );
    }

    #[test]
    fn fields_are_quoted_and_defused() {
        let text = csv(&[ioc("user_agent", "a,\"b\"\nc"), ioc("user_agent", "=cmd")]);
        assert!(text.contains(",\"a,\"\"b\"\"\nc\",API gateway logs,"));
        assert!(text.contains("user_agent,'=cmd,"));
    }

    #[test]
    fn api_keys_are_masked_even_when_given_whole_and_key_ids_are_not() {
        let text = csv(&[ioc("api_key", "sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE")]);
        assert!(!text.contains("Q3xv9LmT7rNcA2bKd8YhW4pE"));
        let text = csv(&[ioc("api_key", "key_vTm2A9Gei4Oi")]);
        assert!(text.contains("key_vTm2A9Gei4Oi"));
    }
}
