use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "modelward",
    version,
    about = "Detect and answer theft and abuse of AI models",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the rules over log files and report alerts.
    Hunt(HuntArgs),
    /// List, explain and check rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Inventory of model artifacts: scan, verify integrity, find model files by their bytes.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Weight fingerprints: record a model's, and recognise it in converted, quantized,
    /// renamed or fine-tuned copies with a false-match probability.
    #[command(subcommand)]
    Fingerprint(FingerprintCommand),
    /// Incidents and playbook PB-53: list, show, move along the flow, act, report, export.
    Incident(IncidentArgs),
    /// The inline OpenAI-compatible gateway: proxies LLM calls, applies the measures in
    /// force, writes the LLM request log.
    Gateway(GatewayArgs),
    /// Live detection: the engine over files as they grow, an HTTP ingest endpoint and stdin,
    /// alerts as they are raised, checkpointed across restarts.
    Watch(WatchArgs),
    /// Proof of work: solve a gateway's challenge (the reference client).
    #[command(subcommand)]
    Pow(PowCommand),
    /// Output watermarks: test texts for the greenlist watermark Transformers' generate()
    /// adds with a WatermarkingConfig.
    #[command(subcommand)]
    Watermark(crate::watermark::WatermarkCommand),
    /// Signed evidence reports (--evidence of fingerprint match and watermark verify): make a
    /// signing key, verify reports.
    #[command(subcommand)]
    Evidence(crate::evidence::EvidenceCommand),
}

#[derive(Subcommand)]
pub enum PowCommand {
    /// Print the `x-modelward-pow` header value that solves CHALLENGE (from the gateway's
    /// `x-modelward-pow-challenge` header).
    Solve {
        /// The challenge as the gateway sent it.
        challenge: String,
    },
}

#[derive(Args)]
pub struct GatewayArgs {
    /// The configuration file with its `[gateway]` section.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    #[command(subcommand)]
    pub command: Option<GatewayCommand>,
}

#[derive(Args)]
pub struct WatchArgs {
    /// The configuration file with its `[watch]` section.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Read what there is, close every window as at the end of a hunt, and stop.
    #[arg(long)]
    pub once: bool,
}

#[derive(Subcommand)]
pub enum GatewayCommand {
    /// Virtual keys the gateway issues (kept as hashes in `[gateway] database`).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Issue a key; it is printed once and never again (only its hash is kept).
    Create {
        /// Who the key is for: the principal its calls and incidents name.
        #[arg(long)]
        principal: String,
        /// The team whose limits it shares (`[gateway.teams.NAME]`).
        #[arg(long)]
        team: Option<String>,
        /// A name for people (what the key is used by).
        #[arg(long, default_value = "")]
        name: String,
        /// Requests a minute allowed to this key.
        #[arg(long, value_name = "N")]
        requests_per_minute: Option<u32>,
        /// Tokens a minute allowed to this key.
        #[arg(long, value_name = "N")]
        tokens_per_minute: Option<u64>,
        /// A model this key may call (`*` globs); repeatable; none: any.
        #[arg(long = "model", value_name = "GLOB")]
        models: Vec<String>,
        /// The key expires after this long (`30d`, `12h`).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Who issues it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
    },
    /// The keys issued: id, principal, team, limits, state.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a key (by its id, `key-…`); refused from the next refresh on.
    Revoke {
        /// The key's id (`key-…`, as `keys list` shows it).
        id: String,
        /// Who revokes it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Ndjson,
    Json,
}

#[derive(Args, Clone)]
pub struct RuleSource {
    /// Rule files or directories (.toml Elastic rules, .esql, .yml Sigma); repeatable.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    pub no_builtin: bool,
    /// Sigma processing pipelines (pySigma's YAML) applied to Sigma rules; repeatable.
    #[arg(long = "pipeline", value_name = "FILE")]
    pub pipelines: Vec<PathBuf>,
}

fn parse_severity(text: &str) -> Result<modelward_rule::Severity, String> {
    modelward_rule::Severity::parse(text)
        .ok_or_else(|| format!("`{text}` is not a severity: low, medium, high or critical"))
}

fn parse_time(text: &str) -> Result<i64, String> {
    modelward_event::parse_timestamp(text).ok_or_else(|| {
        format!(
            "`{text}` is not a time: write 2025-03-14T09:30:00Z, 2025-03-14 09:30:00 or 2025-03-14"
        )
    })
}

#[derive(Args)]
pub struct HuntArgs {
    #[command(flatten)]
    pub rules: RuleSource,
    /// A TOML configuration file (see docs/configuration.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Format of stdout and plain files [default: table on a terminal, else ndjson].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Where alerts go instead of stdout; repeatable: a FILE (in --format), `-` (stdout),
    /// ndjson:FILE, json:FILE, csv:FILE, ocsf:FILE (OCSF Detection Findings),
    /// elasticsearch+https://HOST:9200/DATA_STREAM, splunk+https://HOST:8088[?index=NAME],
    /// sentinel+https://DCE/dataCollectionRules/DCR_ID/streams/STREAM, or the name of an
    /// [[outputs]] section of --config. Secrets come from the environment (docs/outputs.md).
    #[arg(long, short, value_name = "TARGET")]
    pub output: Vec<String>,
    /// Log format of the inputs: auto (per event), json, azure_openai, aws_bedrock, litellm,
    /// modelward_llm, s3_access, cloudtrail, azure_blob, gcs_audit, otel_genai, openai_audit,
    /// azure_activity, vertex_ai.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Report every execution's alerts instead of once per group per look-back window.
    #[arg(long)]
    pub every_execution: bool,
    /// Check the JSON syntax of every record, also of those no rule can match (slower).
    #[arg(long)]
    pub validate: bool,
    /// Worker threads [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Read an event's time from this field (repeatable: the first that holds a time) rather
    /// than `@timestamp`; overrides `[input] timestamp_fields` (docs/sigma.md#event-time).
    #[arg(long = "timestamp-field", value_name = "FIELD")]
    pub timestamp_fields: Vec<String>,
    /// Report only alerts of this severity or above: low, medium, high, critical (to every
    /// output, the summary, --report and --incidents).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<modelward_rule::Severity>,
    /// Report only alerts at or after this time (event time: RFC 3339, or a date for its
    /// midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<i64>,
    /// Report only alerts at or before this time (as --since).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<i64>,
    /// Report only alerts of this rule: its id or name, any case, `*` matching any run of
    /// characters (`--rule 'MW-TH-*'`); repeatable.
    #[arg(long = "rule", value_name = "RULE")]
    pub only_rules: Vec<String>,
    /// Also write a self-contained HTML summary of the hunt (timeline, top entities and
    /// rules, a table per rule) to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Keep the behavioural analyzers' baselines in this SQLite database (created if needed):
    /// start from what it holds, save what this run learned.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Group the alerts into incidents in this SQLite database (created if needed), run the
    /// playbook over them and carry out its containment actions (see --dry-run).
    #[arg(long, value_name = "FILE")]
    pub incidents: Option<PathBuf>,
    /// With --incidents: show the actions the playbook calls for, carry out none.
    #[arg(long)]
    pub dry_run: bool,
    /// With --incidents: a playbook file in place of the built-in PB-53.
    #[arg(long, value_name = "FILE")]
    pub playbook: Option<PathBuf>,
    /// Log files or directories; `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Args)]
pub struct IncidentArgs {
    /// The incident database (`hunt --incidents FILE` writes it).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "modelward.db",
        global = true
    )]
    pub db: PathBuf,
    /// A TOML configuration file ([respond]: playbook, executors, organisation).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The playbook the incidents were built with, when not the built-in PB-53 or the
    /// configured one (the commands that re-run it refuse another).
    #[arg(long, value_name = "FILE", global = true)]
    pub playbook: Option<PathBuf>,
    #[command(subcommand)]
    pub command: IncidentCommand,
}

/// Output of `incident list` and `incident show`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IncidentFormat {
    Table,
    Markdown,
    /// One JSON document a line.
    Ndjson,
    /// One JSON document (`list`: an array).
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IocFormat {
    Csv,
    Stix,
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// List incidents with stage, vector, decisions and SLA state (overdue ones flagged).
    List {
        /// Closed incidents too.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: IncidentFormat,
        /// Judge SLAs at this time (RFC 3339) instead of now.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Show one incident: triage, vectors, scope, decisions, actions, tasks.
    Show {
        /// Incident id (or a unique prefix).
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: IncidentFormat,
    },
    /// Move an incident to the next stage of PB-53's flow (or to --to).
    Advance {
        /// Incident id (or a unique prefix).
        id: String,
        /// detect, analyze, contain, eradicate, recover, lessons.
        #[arg(long, value_name = "STAGE")]
        to: Option<String>,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
        /// A note for the audit log.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Close an incident.
    Close {
        /// Incident id (or a unique prefix).
        id: String,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
        /// Why: resolved, false positive, ...
        #[arg(long, value_name = "TEXT")]
        resolution: String,
    },
    /// Set a task's state (done, open, n/a).
    Task {
        /// Incident id (or a unique prefix).
        id: String,
        /// The task id (`contain.2.1.4`, `decision.rate_limit`, ...).
        task: String,
        /// done, open or n/a.
        #[arg(long, value_name = "STATE")]
        state: String,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
        /// A note for the audit log.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Set a fact the playbook's conditions read (insider_confirmed=true, explained=true,
    /// ...) and re-run the playbook.
    Fact {
        /// Incident id (or a unique prefix).
        id: String,
        /// NAME=true or NAME=false.
        fact: String,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
    },
    /// Carry out the incident's planned actions now (after a dry run, or once executors are
    /// configured); actions already done are not repeated.
    Act {
        /// Incident id (or a unique prefix).
        id: String,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
        /// Show what would be done.
        #[arg(long)]
        dry_run: bool,
        /// Output format: a line an action, or JSON documents, one per action as
        /// `incident audit` writes them (its outcome, target, detail, executor).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write the incident report.
    Report {
        /// Incident id (or a unique prefix).
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write the incident's IoCs as CSV or a STIX 2.1 bundle.
    Iocs {
        /// Incident id (or a unique prefix).
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: IocFormat,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write the evidence bundle: alerts, raw log records, actions, IoCs, reports, and a
    /// SHA-256 manifest.
    Export {
        /// Incident id (or a unique prefix).
        id: String,
        /// The bundle's folder (must not exist or be empty).
        #[arg(long, short, value_name = "DIR", required_unless_present = "out")]
        output: Option<PathBuf>,
        /// Deprecated spelling of --output.
        #[arg(long, value_name = "DIR", hide = true, conflicts_with = "output")]
        out: Option<PathBuf>,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
        /// Mask secrets in the log records (API keys, tokens, passwords) for a wider
        /// audience; the records are then no longer the bytes as read (their original
        /// SHA-256 stays in the index).
        #[arg(long)]
        redact: bool,
        /// A signed evidence report (`fingerprint match` or `watermark verify` with
        /// --evidence) to carry in the bundle as attribution/NN-KIND.json (repeatable; each
        /// must verify, and `incident verify` checks its signature again).
        #[arg(long, value_name = "FILE")]
        attribution: Vec<PathBuf>,
    },
    /// Check an evidence bundle against its manifest (exit 1 on any difference).
    Verify {
        /// The bundle's folder (`incident export` writes it).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Output format: lines of text, or one JSON document: what was checked, each
        /// check's result and the verdict (docs/incidents.md).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Lift the containment measures an incident put in force (recovery), all or those on
    /// one target; each lift goes into the audit log.
    Lift {
        /// Incident id (or a unique prefix).
        id: String,
        /// Who does it, for the audit log [default: the user running modelward: $USER,
        /// else $USERNAME, else the operating system's account name].
        #[arg(long, value_name = "NAME", default_value_t = current_user(), hide_default_value = true)]
        by: String,
        /// Only the measures on this target (a principal, address, key id).
        #[arg(long, value_name = "VALUE")]
        target: Option<String>,
    },
    /// The action audit log (of one incident, or all).
    Audit {
        /// Incident id (or a unique prefix) [default: every incident].
        id: Option<String>,
        /// Output format: a table with RFC 3339 UTC times, or JSON documents, one per entry
        /// (`at` in milliseconds and `at_time` in RFC 3339) [default: table on a terminal,
        /// else ndjson].
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The containment measures in force (what a gateway enforces).
    Enforcement {
        /// Output format: a table, or JSON documents, one per measure (`until` and each
        /// gateway's `since` in RFC 3339 UTC) [default: table on a terminal, else ndjson].
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print the playbook in use (the built-in PB-53, or the configured one) as TOML.
    Playbook,
}

#[derive(Subcommand)]
pub enum RulesCommand {
    /// List the loaded rules.
    List {
        #[command(flatten)]
        rules: RuleSource,
        /// Output format: a table, one JSON document per rule, or one JSON array.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Deprecated: --format ndjson.
        #[arg(long, hide = true, conflicts_with = "format")]
        json: bool,
    },
    /// Print a rule's documentation: metadata, schedule, query and investigation guide.
    Explain {
        /// Rule id (or a unique prefix of it, or the name; any case).
        id: String,
        #[command(flatten)]
        rules: RuleSource,
    },
    /// Load rule files and report every one that fails; non-zero exit on any failure.
    Check {
        /// Rule files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Sigma processing pipelines to apply; repeatable.
        #[arg(long = "pipeline", value_name = "FILE")]
        pipelines: Vec<PathBuf>,
        /// Output format: a summary (each failure on stderr), or one JSON document with
        /// the counts and every failure's file, line, column and message (docs/sigma.md).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run each rule's own test events (`modelward_tests`): true positives must alert, true
    /// negatives must not; non-zero exit on any failure.
    Test {
        /// Rule files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Sigma processing pipelines to apply; repeatable.
        #[arg(long = "pipeline", value_name = "FILE")]
        pipelines: Vec<PathBuf>,
        /// Output format: a line a failure and a summary, or one JSON document with the
        /// counts, every failure, the untested rules and the load errors (docs/sigma.md).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Output of the inventory commands.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    /// One JSON document a line.
    Ndjson,
    /// The same documents in one array.
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashChoice {
    Sha256,
    Blake3,
}

#[derive(Subcommand)]
pub enum InventoryCommand {
    /// Identify model artifacts under PATHs by their bytes, hash them and record them (a scan
    /// accepts what it finds: changed artifacts are updated, vanished ones forgotten).
    Scan {
        /// Files or folders to scan.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The inventory database (SQLite), created if missing.
        #[arg(long, value_name = "FILE", default_value = "modelward.db")]
        db: PathBuf,
        /// Content hash.
        #[arg(long, value_enum, default_value = "sha256")]
        hash: HashChoice,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Re-hash every recorded artifact; report modified, missing and new ones (exit 1 on any).
    Verify {
        /// The inventory database written by `inventory scan`.
        #[arg(long, value_name = "FILE", default_value = "modelward.db")]
        db: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Find model files by their bytes, whatever their names, also inside tar, tar.gz and zip
    /// archives (`archive.tar!inner/path`); writes nothing (exit 1 when none is found). With
    /// --copies, each is compared with the registered models' weight fingerprints: a copy is
    /// reported with its model and false-match probability (alert MW-AI-0021), and the scan is
    /// recorded for PB-53's check "verify no unauthorized model copies exist".
    Find {
        /// Files or folders to search.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Compare every model file found with the fingerprints of `--db` and record the scan.
        #[arg(long)]
        copies: bool,
        /// The database holding the fingerprints (`fingerprint build`), where --copies records
        /// the scan.
        #[arg(long, value_name = "FILE", default_value = "modelward.db")]
        db: PathBuf,
        /// The environment variable holding the fingerprints' secret key (as for
        /// `fingerprint build`).
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
        /// A copy is a false-match probability at most this [default: 1e-9].
        #[arg(long, value_name = "P")]
        threshold: Option<f64>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FingerprintFormat {
    Table,
    /// One JSON document a line (a model, or a suspect with every pair).
    Ndjson,
    /// The same documents in one array.
    Json,
}

#[derive(Subcommand)]
pub enum FingerprintCommand {
    /// Fingerprint a model's tensors and record them: each PATH is one model (a file, or a
    /// folder whose tensor files, e.g. shards, make one model); a model of the same name is
    /// replaced.
    Build {
        /// Model files or folders (safetensors, GGUF, PyTorch zip, ONNX, npy, npz).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The database (SQLite), created if missing.
        #[arg(long, value_name = "FILE", default_value = "modelward.db")]
        db: PathBuf,
        /// The model's name (one PATH only) [default: the file's or folder's name].
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The environment variable holding the secret key [default:
        /// MODELWARD_FINGERPRINT_KEY; when unset, the public key is used].
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: FingerprintFormat,
        /// No warnings about the key.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare suspect files (or every tensor file under suspect folders) with every recorded
    /// model: matching tensors, agreement and false-match probability (exit 1 on a match).
    Match {
        /// Suspect files or folders.
        #[arg(required = true, value_name = "SUSPECT")]
        suspects: Vec<PathBuf>,
        /// The database written by `fingerprint build`.
        #[arg(long, value_name = "FILE", default_value = "modelward.db")]
        db: PathBuf,
        /// The environment variable holding the secret key (as for build).
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
        /// A match is a false-match probability at most this [default: 1e-9].
        #[arg(long, value_name = "P")]
        threshold: Option<f64>,
        /// Output format: a table, or JSON documents, one per suspect with every pair.
        #[arg(long, value_enum, default_value = "table")]
        format: FingerprintFormat,
        #[command(flatten)]
        evidence: crate::evidence::EvidenceArgs,
        /// No summary and no warnings.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The recorded models.
    List {
        /// The database written by `fingerprint build`.
        #[arg(long, value_name = "FILE", default_value = "modelward.db")]
        db: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: FingerprintFormat,
    },
}

/// Who runs modelward: `$USER`, else `$USERNAME` (Windows), else the account of the
/// process's user id in /etc/passwd (Unix), else `unknown`.
pub fn current_user() -> String {
    for var in ["USER", "USERNAME"] {
        if let Some(name) = std::env::var_os(var) {
            let name = name.to_string_lossy().trim().to_string();
            if !name.is_empty() {
                return name;
            }
        }
    }
    os_user().unwrap_or_else(|| "unknown".to_string())
}

#[cfg(unix)]
fn os_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self (Linux) is owned by the process's effective user id.
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(not(unix))]
fn os_user() -> Option<String> {
    None
}

/// Warn (once per run: each deprecated flag is read once) that OLD is spelt NEW now.
pub fn deprecated(old: &str, new: &str) {
    modelward_event::errln!("modelward: warning: `{old}` is deprecated; use `{new}`");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every subcommand says what it is for (`--help` is the reference).
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            for arg in cmd.get_arguments() {
                if arg.is_hide_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} <{}>", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without help:\n{}",
            missing.join("\n")
        );
    }
}
