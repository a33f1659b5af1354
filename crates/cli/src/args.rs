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

#[derive(Args)]
pub struct HuntArgs {
    #[command(flatten)]
    pub rules: RuleSource,
    /// A TOML configuration file (see docs/configuration.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Alert output format [default: table on a terminal, else ndjson].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write alerts to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Log format of the inputs: auto (per event), json, azure_openai, aws_bedrock, litellm,
    /// modelward_llm, s3_access, cloudtrail, azure_blob, gcs_audit.
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
    /// Keep the behavioural analyzers' baselines in this SQLite database (created if needed):
    /// start from what it holds, save what this run learned.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Log files or directories; `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub enum RulesCommand {
    /// List the loaded rules.
    List {
        #[command(flatten)]
        rules: RuleSource,
        /// Output as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a rule's documentation: metadata, schedule, query and investigation guide.
    Explain {
        /// Rule id (or a unique prefix of it, or the exact name).
        id: String,
        #[command(flatten)]
        rules: RuleSource,
    },
    /// Load rule files and report every one that fails; non-zero exit on any failure.
    Check {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Sigma processing pipelines to apply; repeatable.
        #[arg(long = "pipeline", value_name = "FILE")]
        pipelines: Vec<PathBuf>,
    },
    /// Run each rule's own test events (`modelward_tests`): true positives must alert, true
    /// negatives must not; non-zero exit on any failure.
    Test {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Sigma processing pipelines to apply; repeatable.
        #[arg(long = "pipeline", value_name = "FILE")]
        pipelines: Vec<PathBuf>,
    },
}

/// Output of the inventory commands.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Ndjson,
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
    /// archives (`archive.tar!inner/path`); writes nothing (exit 1 when none is found).
    Find {
        /// Files or folders to search.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
}
