//! Any text as a configuration file's sections, in TOML: the gateway's `[gateway]` (parsed,
//! then resolved with files and keys left out), the analyzers' `[behavior]` (parsed and
//! validated), and the values of `[[exceptions]]` (address ranges, days, times of day,
//! timestamps, windows, the exceptions prepared and matched against times). Each must
//! return an error for what it refuses, never panic.
//!
//! The `[[exceptions]]` entry and `[watch]` structures themselves are in the `modelward`
//! binary, which a fuzz target cannot link; the readers of their values are here.
//! `[[outputs]]` (`modelward-sinks`) is left out: it links librdkafka and OpenSSL, built
//! from source, too long a build for this package.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_engine::{Exception, Exceptions, IpRange, TimeOfDay, Timestamp, Weekday, Window};
use serde::Deserialize;

/// One exception's values as `[[exceptions]]` holds them.
#[derive(Debug, Default, Deserialize)]
struct ExceptionValues {
    name: Option<String>,
    rules: Option<Vec<String>>,
    principals: Option<Vec<String>>,
    ips: Option<Vec<IpRange>>,
    user_agents: Option<Vec<String>>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    days: Option<Vec<Weekday>>,
    from: Option<TimeOfDay>,
    to: Option<TimeOfDay>,
    expires: Option<Timestamp>,
}

#[derive(Debug, Default, Deserialize)]
struct File {
    gateway: Option<modelward_gateway::settings::Options>,
    behavior: Option<modelward_behavior::Settings>,
    exceptions: Option<Vec<ExceptionValues>>,
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(file) = toml::from_str::<File>(&text) else {
        return;
    };
    if let Some(mut gateway) = file.gateway {
        // No file is read: certificates, keys and paths left out.
        gateway.tls_cert = None;
        gateway.tls_key = None;
        for u in gateway.upstreams.iter_mut().flatten() {
            u.ca_file = None;
        }
        if let Ok(settings) = gateway.resolve(&|var| Some(format!("{var}-0123456789abcdef"))) {
            let _ = settings.upstream_for(Some("gpt-4o"));
            let _ = settings.upstream_for(None);
        }
    }
    if let Some(behavior) = file.behavior {
        let _ = behavior.validate();
    }
    let mut list = Vec::new();
    for x in file.exceptions.into_iter().flatten() {
        let mut windows = Vec::new();
        if let (Some(start), Some(end)) = (x.start, x.end) {
            windows.extend(Window::between(start, end).ok());
        }
        if let (Some(from), Some(to)) = (x.from, x.to) {
            windows.extend(Window::weekly(&x.days.unwrap_or_default(), from, to).ok());
        }
        for w in &windows {
            for ts in [i64::MIN, -1, 0, 1_740_787_200_000, i64::MAX] {
                let _ = w.contains(ts);
            }
        }
        list.push(Exception {
            name: x.name.unwrap_or_default(),
            rules: x.rules.unwrap_or_default(),
            principals: x.principals.unwrap_or_default(),
            ips: x.ips.unwrap_or_default(),
            user_agents: x.user_agents.unwrap_or_default(),
            windows,
            reason: None,
            expires: x.expires.map(|t| t.0),
        });
    }
    if let Ok(exceptions) = Exceptions::new(list, 1_740_787_200_000) {
        let _ = exceptions.expired().count();
    }
});
