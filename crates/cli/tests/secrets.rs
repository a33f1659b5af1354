//! No secret in any output (issue 15, item 3). Realistic secrets are planted in every string
//! field of every source's fixture (Azure OpenAI diagnostics and API Management, Bedrock
//! invocation logs, LiteLLM, modelward's LLM log, CloudTrail, S3 server access, Azure Blob and
//! GCS audit logs, and the example diagnostics), then every command and output channel is run
//! over them — hunt as a table, NDJSON, JSON, CSV, OCSF and an HTML report, with ES|QL and
//! Sigma warnings on stderr; incidents listed, shown, reported, their IoCs as CSV and STIX,
//! the `--redact` evidence bundle; `watch --once` — and every byte they wrote is scanned for
//! each secret, and for any 12 characters of its secret part.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::Dir;

/// A secret as planted, and the part of it that must never appear (a provider's prefix, an
/// account name or a URL's host may).
struct Secret {
    name: &'static str,
    planted: String,
    secret: Vec<String>,
}

/// A deterministic stream of characters from `alphabet`, for secrets that look random.
fn random(seed: u64, n: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chars[(x % chars.len() as u64) as usize]
        })
        .collect()
}

const B62: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn secrets() -> Vec<Secret> {
    let one = |name, s: String| Secret {
        name,
        planted: s.clone(),
        secret: vec![s],
    };
    let aws_id = "AKIANACKPBDJXPHV5WRZ".to_string();
    let aws_secret = "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".to_string();
    let account_key = format!("{}==", random(1, 86, B64));
    let pem_body: Vec<String> = (0..12)
        .map(|i| random(100 + i, 64, B64))
        .chain([format!("{}=", random(99, 31, B64))])
        .collect();
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
        pem_body.join("\n")
    );
    let gcp_body: Vec<String> = (0..10).map(|i| random(200 + i, 64, B64)).collect();
    let gcp_key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        gcp_body.join("\n")
    );
    let gcp = serde_json::json!({
        "type": "service_account",
        "project_id": "acme-ml-prod",
        "private_key_id": random(7, 40, "0123456789abcdef"),
        "private_key": gcp_key,
        "client_email": "trainer@acme-ml-prod.iam.gserviceaccount.com",
    })
    .to_string();
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZUBhY21lLmV4YW1wbGUiLCJhdWQiOiJhcGkiLCJleHAiOjE3NDA4MjMyMDB9.{}",
        random(3, 86, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    );
    let password = format!("Vx9{}", random(4, 17, B62));
    vec![
        Secret {
            name: "AWS access key id and secret",
            planted: format!("AWS_ACCESS_KEY_ID={aws_id} AWS_SECRET_ACCESS_KEY={aws_secret}"),
            secret: vec![aws_id[4..].to_string(), aws_secret],
        },
        Secret {
            name: "Azure storage connection string",
            planted: format!(
                "DefaultEndpointsProtocol=https;AccountName=acmemlprod;AccountKey={account_key};EndpointSuffix=core.windows.net"
            ),
            secret: vec![account_key],
        },
        Secret {
            name: "Azure OpenAI api-key",
            planted: format!("api-key: {}", random(5, 32, "0123456789abcdef")),
            secret: vec![random(5, 32, "0123456789abcdef")],
        },
        one("OpenAI key", format!("sk-{}", random(6, 48, B62))),
        Secret {
            name: "OpenAI project key",
            planted: format!(
                "sk-proj-{}T3BlbkFJ{}",
                random(8, 74, B62),
                random(9, 74, B62)
            ),
            secret: vec![random(8, 74, B62), random(9, 74, B62)],
        },
        one("GitHub token", format!("ghp_{}", random(10, 36, B62))),
        one(
            "GitHub fine-grained token",
            format!("github_pat_11{}_{}", random(11, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), random(12, 59, B62)),
        ),
        Secret {
            name: "PEM private key",
            planted: pem,
            secret: pem_body,
        },
        Secret {
            name: "JWT",
            secret: vec![jwt.split('.').nth(2).unwrap().to_string()],
            planted: jwt,
        },
        one(
            "Slack token",
            format!("xoxb-925807075992-3657965612493-{}", random(13, 24, B62)),
        ),
        Secret {
            name: "GCP service account key",
            planted: gcp,
            secret: gcp_body,
        },
        Secret {
            name: "password in a URL",
            planted: format!("postgres://ml_admin:{password}@db.acme.example:5432/models"),
            secret: vec![password],
        },
    ]
}

/// Every secret, in one text as a log field could hold it.
fn bag(secrets: &[Secret]) -> String {
    secrets
        .iter()
        .map(|s| s.planted.as_str())
        .collect::<Vec<_>>()
        .join(" ; ")
}

/// What of the secrets `text` holds: each leak with its secret's name and some context.
/// Every 12-byte window of every secret part is looked up once per position of `text`.
fn leaks(secrets: &[Secret], text: &str) -> Vec<String> {
    let mut windows: std::collections::HashMap<&[u8], &str> = std::collections::HashMap::new();
    for s in secrets {
        for part in &s.secret {
            for w in part.as_bytes().windows(12.min(part.len())) {
                windows.insert(w, s.name);
            }
        }
    }
    let bytes = text.as_bytes();
    let mut found: Vec<String> = Vec::new();
    let mut named: Vec<&str> = Vec::new();
    for (at, w) in bytes.windows(12).enumerate() {
        let Some(&name) = windows.get(w) else {
            continue;
        };
        if named.contains(&name) {
            continue;
        }
        named.push(name);
        let from = (0..=at.saturating_sub(60))
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        let to = (at + 12..=(at + 80).min(text.len()))
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        found.push(format!(
            "{name}: {:?} in …{}…",
            String::from_utf8_lossy(w),
            &text[from..to]
        ));
    }
    found
}

/// Each string of `v`, with a path to it.
fn string_paths(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        serde_json::Value::String(_) => out.push(path.clone()),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                string_paths(item, path, out);
                path.pop();
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                path.push(k.clone());
                string_paths(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut serde_json::Value, path: &[String]) -> &'a mut serde_json::Value {
    path.iter().fold(v, |v, p| match v {
        serde_json::Value::Array(items) => &mut items[p.parse::<usize>().unwrap()],
        other => &mut other[p.as_str()],
    })
}

/// One record a field: each string of `raw` in turn with every secret appended, and one with
/// every string so.
fn planted_json(raw: &serde_json::Value, bag: &str) -> Vec<String> {
    let mut paths = Vec::new();
    string_paths(raw, &mut Vec::new(), &mut paths);
    let mut all = raw.clone();
    let mut out = Vec::new();
    for p in &paths {
        let mut one = raw.clone();
        for v in [at(&mut one, p), at(&mut all, p)] {
            let s = v.as_str().unwrap_or_default().to_string();
            *v = serde_json::Value::String(format!("{s} {bag}"));
        }
        out.push(one.to_string());
    }
    out.push(all.to_string());
    out
}

/// An S3 server access log line with each field in turn replaced by each secret that fits
/// in one field (quoted fields keep their quotes).
fn planted_s3(line: &str, secrets: &[Secret]) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let (close, start) = match rest.as_bytes()[0] {
            b'"' => ('"', 1),
            b'[' => (']', 1),
            _ => (' ', 0),
        };
        let end = rest[start..]
            .find(close)
            .map_or(rest.len(), |i| i + start + start);
        fields.push(rest[..end.min(rest.len())].to_string());
        rest = rest[end.min(rest.len())..].trim_start();
    }
    let mut out = Vec::new();
    for i in 0..fields.len() {
        for s in secrets.iter().filter(|s| !s.planted.contains('\n')) {
            let mut f = fields.clone();
            let quoted = f[i].starts_with('"');
            let value = s.planted.replace([' ', '"'], "+");
            f[i] = if quoted {
                format!("\"{value}\"")
            } else {
                value
            };
            out.push(f.join(" "));
        }
    }
    out
}

/// The planted logs, one file a source.
fn plant(dir: &Dir, secrets: &[Secret]) -> PathBuf {
    let bag = bag(secrets);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join("crates/event/tests/fixtures");
    let mut sources: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    sources.sort();
    assert!(sources.len() >= 8, "{sources:?}");
    for source in sources {
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&source)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".raw."))
            .collect();
        files.sort();
        let mut lines = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            if f.extension().is_some_and(|e| e == "log") {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    lines.extend(planted_s3(line, secrets));
                }
            } else {
                let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
                lines.extend(planted_json(&raw, &bag));
            }
        }
        dir.write(&format!("logs/{name}.log"), lines.join("\n") + "\n");
    }
    // The example diagnostics: their first records.
    let example =
        std::fs::read_to_string(root.join("examples/azure_openai/diagnostics-2025-03-01.ndjson"))
            .unwrap();
    let mut lines = Vec::new();
    for line in example.lines().take(40) {
        let raw: serde_json::Value = serde_json::from_str(line).unwrap();
        lines.extend(planted_json(&raw, &bag));
    }
    dir.write("logs/example.ndjson", lines.join("\n") + "\n");
    dir.path("logs")
}

/// Rules whose evaluation warns with values of the log (conversions that fail, a Sigma
/// value of the wrong type), so that warnings on stderr carry planted text.
fn warning_rules(dir: &Dir) -> PathBuf {
    dir.write(
        "rules/convert.esql",
        "// name: convert\nfrom logs-* | eval n = to_integer(user_agent.original), m = to_long(gen_ai.prompt), u = to_ip(user.name) | where n > 0 or m > 0 or u is not null\n",
    );
    dir.write(
        "rules/anything.yml",
        "title: anything with a user agent\nid: e0000000-0000-4000-8000-00000000f00d\nlogsource: {product: test}\ndetection:\n  sel:\n    user_agent.original|contains: ' '\n  num:\n    http.response.status_code|gt: 0\n  condition: sel or num\nfields: [user_agent.original, gen_ai.prompt, url.original, user.name]\nlevel: high\n",
    );
    dir.path("rules")
}

fn modelward(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelward"));
    for a in args {
        cmd.arg(a);
    }
    cmd.output().unwrap()
}

/// Every file under `path` (or `path` itself), read lossily.
fn files(path: &Path) -> Vec<(PathBuf, String)> {
    if path.is_dir() {
        let mut out = Vec::new();
        for e in std::fs::read_dir(path).unwrap() {
            out.extend(files(&e.unwrap().path()));
        }
        out
    } else {
        let bytes = std::fs::read(path).unwrap_or_default();
        vec![(
            path.to_path_buf(),
            String::from_utf8_lossy(&bytes).into_owned(),
        )]
    }
}

/// Collects what `out` printed and what it wrote at `written`, under the name `what`.
struct Scan<'s> {
    secrets: &'s [Secret],
    found: Vec<String>,
    channels: usize,
}

impl Scan<'_> {
    fn text(&mut self, what: &str, text: &str) {
        self.channels += 1;
        for leak in leaks(self.secrets, text) {
            self.found.push(format!("{what}: {leak}"));
        }
    }

    fn output(&mut self, what: &str, out: &Output) {
        self.text(
            &format!("{what} (stdout)"),
            &String::from_utf8_lossy(&out.stdout),
        );
        self.text(
            &format!("{what} (stderr)"),
            &String::from_utf8_lossy(&out.stderr),
        );
    }

    fn written(&mut self, what: &str, path: &Path) {
        let all = files(path);
        assert!(!all.is_empty(), "{what}: nothing at {}", path.display());
        for (file, text) in all {
            self.text(&format!("{what} ({})", file.display()), &text);
        }
    }
}

#[test]
fn no_planted_secret_reaches_any_output() {
    let secrets = secrets();
    let dir = Dir::new("secrets");
    let logs = plant(&dir, &secrets);
    let rules = warning_rules(&dir);
    let mut scan = Scan {
        secrets: &secrets,
        found: Vec::new(),
        channels: 0,
    };
    // The planted logs hold every secret (else the test proves nothing).
    let planted: String = files(&logs).into_iter().map(|(_, t)| t).collect();
    for s in &secrets {
        for part in &s.secret {
            assert!(planted.contains(part.as_str()), "{} not planted", s.name);
        }
    }

    let db = dir.path("incidents.db");
    let out = modelward(&[
        &"hunt",
        &"--rules",
        &rules,
        &"--format",
        &"table",
        &"-o",
        &"-",
        &"-o",
        &format!("csv:{}", dir.path("alerts.csv").display()),
        &"-o",
        &format!("ndjson:{}", dir.path("alerts.ndjson").display()),
        &"-o",
        &format!("json:{}", dir.path("alerts.json").display()),
        &"-o",
        &format!("ocsf:{}", dir.path("alerts.ocsf").display()),
        &"--report",
        &dir.path("hunt.html"),
        &"--incidents",
        &db,
        &"--dry-run",
        &logs,
    ]);
    scan.output("hunt --format table", &out);
    for f in [
        "alerts.csv",
        "alerts.ndjson",
        "alerts.json",
        "alerts.ocsf",
        "hunt.html",
    ] {
        scan.written(&format!("hunt -o {f}"), &dir.path(f));
    }
    let alerts = std::fs::read_to_string(dir.path("alerts.ndjson")).unwrap();
    let n = alerts.lines().count();
    assert!(
        n > 50,
        "few alerts: {n}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for format in ["ndjson", "json"] {
        let out = modelward(&[&"hunt", &"--rules", &rules, &"--format", &format, &logs]);
        scan.output(&format!("hunt --format {format}"), &out);
    }

    let listed = modelward(&[
        &"incident",
        &"list",
        &"--all",
        &"--format",
        &"ndjson",
        &"--db",
        &db,
    ]);
    scan.output("incident list --format ndjson", &listed);
    let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    assert!(!ids.is_empty(), "no incident");
    let out = modelward(&[&"incident", &"list", &"--all", &"--db", &db]);
    scan.output("incident list", &out);
    let out = modelward(&[&"incident", &"audit", &"--db", &db]);
    scan.output("incident audit", &out);
    let out = modelward(&[&"incident", &"audit", &"--format", &"json", &"--db", &db]);
    scan.output("incident audit --format json", &out);
    for (i, id) in ids.iter().enumerate() {
        for extra in [&[][..], &["--format", "json"][..]] {
            let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"incident", &"show", id];
            args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
            args.push(&"--db");
            args.push(&db);
            scan.output(&format!("incident show {id} {extra:?}"), &modelward(&args));
        }
        for format in ["markdown", "html"] {
            let to = dir.path(&format!("report-{i}.{format}"));
            let out = modelward(&[
                &"incident",
                &"report",
                id,
                &"--format",
                &format,
                &"--output",
                &to,
                &"--db",
                &db,
            ]);
            scan.output(&format!("incident report {format}"), &out);
            scan.written(&format!("incident report {id} {format}"), &to);
        }
        for format in ["csv", "stix"] {
            let out = modelward(&[&"incident", &"iocs", id, &"--format", &format, &"--db", &db]);
            scan.output(&format!("incident iocs {id} {format}"), &out);
        }
        let bundle = dir.path(&format!("bundle-{i}"));
        let out = modelward(&[
            &"incident",
            &"export",
            id,
            &"--redact",
            &"--output",
            &bundle,
            &"--db",
            &db,
        ]);
        scan.output(&format!("incident export {id} --redact"), &out);
        scan.written(&format!("incident export {id} --redact"), &bundle);
    }

    // watch: the same logs, once.
    let config = dir.write(
        "watch.toml",
        format!(
            "[watch]\npaths = [{:?}]\nstart = \"beginning\"\ndatabase = {:?}\nincidents = true\nalerts = {:?}\noutputs = [{:?}]\n",
            logs.display().to_string(),
            dir.path("watch.db").display().to_string(),
            dir.path("watch.ndjson").display().to_string(),
            format!("csv:{}", dir.path("watch.csv").display()),
        ),
    );
    let out = modelward(&[&"watch", &"--config", &config, &"--once"]);
    scan.output("watch --once", &out);
    for f in ["watch.ndjson", "watch.csv"] {
        scan.written(&format!("watch --once {f}"), &dir.path(f));
    }
    let out = modelward(&[
        &"incident",
        &"list",
        &"--all",
        &"--format",
        &"json",
        &"--db",
        &dir.path("watch.db"),
    ]);
    scan.output("watch --once, incident list", &out);

    assert!(scan.channels > 30, "{} channels", scan.channels);
    assert!(
        scan.found.is_empty(),
        "{} leaks:\n{}",
        scan.found.len(),
        scan.found.join("\n")
    );
}
