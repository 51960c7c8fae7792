//! Command line and settings (docs/operations.md, Configuration). Every `serve` flag has an environment variable
//! and a config-file key; flags win over the environment, the environment over the file, and the
//! file over the documented defaults. The raw input of all three is one type (`ServeArgs`), the
//! resolved `Settings` another, so nothing downstream sees an unresolved option.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};
use merge::Merge;
use serde::Deserialize;

use std::time::Duration;

mod state;

use crate::http::{AccessConfig, Limits};
use crate::lists::source::ColdCacheConfig;
use crate::lists::source::{is_redis_url, ListSource, UnsupportedSource};
use crate::lists::ShrinkGuard;
use crate::register::{Expiry, RegisterConfig, Sink};
use crate::ruleset::RuleSource;
use crate::sheets::SheetLimits;
use crate::snapshot::SnapshotKeeping;
use crate::watchlists::{StoreConfig, WatchlistConfig};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "jiangcheng",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("JC_GIT_REVISION"), ")"),
    about = "Joint incentive and punishment (联合奖惩) decision service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Validate and compile a rule set; print every problem as file:line: message.
    Check(CheckArgs),
    /// Decide for one subject in one matter from a rule set and lists, without a server; the
    /// exit code is 0 for every decision (allow, flag or block) and 1 for an error.
    Decide(DecideArgs),
    /// Write a synthetic population of valid identifiers and list entries (JSON Lines).
    Gen(GenArgs),
    /// Bulk-load a JSON Lines list file into Redis, validating every line first.
    Import(ImportArgs),
    /// Manage callers' API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Work with the query register.
    #[command(subcommand)]
    Register(RegisterCommand),
    /// Print the completion script for a shell (e.g. `jiangcheng completions bash`).
    Completions(CompletionsArgs),
    /// Print the man page, in roff (e.g. `jiangcheng man > jiangcheng.1`).
    Man,
    /// Print the OpenAPI 3.1 document of the HTTP API (`jiangcheng openapi > docs/openapi.json`).
    Openapi,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Print the keyed hash under which the register keeps a subject, to find its records.
    Hash(RegisterHashArgs),
}

#[derive(Debug, Args)]
pub struct RegisterHashArgs {
    /// The subject's identifier (a USCC or a resident ID number).
    pub id: String,
    /// The register's folder [default: as `serve` chooses it].
    #[arg(long, alias = "audit-dir", env = "JC_REGISTER_DIR")]
    pub register_dir: Option<PathBuf>,
    /// The subject hash key [default: <register-dir>/subject-hash.key].
    #[arg(long, alias = "audit-key-file", env = "JC_REGISTER_KEY_FILE")]
    pub register_key_file: Option<PathBuf>,
}

impl RegisterHashArgs {
    /// The register's settings these name, the folder and key file falling back to their old
    /// environment variables (`JC_AUDIT_DIR`, `JC_AUDIT_KEY_FILE`) where the new ones are unset;
    /// with a warning for each old variable read.
    pub fn register(self) -> (RegisterConfig, Vec<String>) {
        let mut warnings = Vec::new();
        let mut renamed = |new: &str| {
            let old = renamed_env(new)?;
            let value = std::env::var_os(&old)?;
            warnings.push(renamed_warning(new, &old));
            Some(PathBuf::from(value))
        };
        let dir = self.register_dir.or_else(|| renamed("JC_REGISTER_DIR"));
        let key_file = self
            .register_key_file
            .or_else(|| renamed("JC_REGISTER_KEY_FILE"));
        // The folder `serve` would choose, with the same warning.
        let dir = dir.unwrap_or_else(|| {
            let (dir, warning) = state::default_register_dir();
            warnings.extend(warning);
            dir
        });
        let config = RegisterConfig {
            dir,
            key_file,
            ..RegisterConfig::default()
        };
        (config, warnings)
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key for a calling department: prints the key once, and the `[[key]]` table to
    /// add to the keys file (which holds only its hash).
    New(NewKeyArgs),
    /// List the keys of a keys file: id, department, scopes, rate limit, whether revoked, and
    /// the start of the key's hash (never all of it).
    List(KeysFileArgs),
    /// Revoke a key in the keys file, in place; `SIGHUP` makes a running service refuse it.
    Revoke(RevokeKeyArgs),
}

#[derive(Debug, Args)]
pub struct KeysFileArgs {
    /// The keys file.
    #[arg(long, env = "JC_KEYS")]
    pub keys: PathBuf,
}

#[derive(Debug, Args)]
pub struct RevokeKeyArgs {
    /// The id of the key (`jc_<id>_…`; `jiangcheng keys list` shows them).
    pub id: String,
    #[command(flatten)]
    pub file: KeysFileArgs,
}

#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// The calling department, as the register's records will name it.
    #[arg(long)]
    pub department: String,
    /// What the key may do: decide, read_subject, feedback, admin, export, replay, subscribe
    /// (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Requests a second the key may make, sustained (none: no limit).
    #[arg(long)]
    pub rate_per_second: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSON Lines file to import.
    #[arg(long, required_unless_present = "snapshot_only")]
    pub lists: Option<PathBuf>,
    /// Import nothing: only store a new snapshot of the lists in Redis, which starting
    /// instances load instead of scanning every entry.
    #[arg(long, conflicts_with_all = ["lists", "no_snapshot"])]
    pub snapshot_only: bool,
    /// Do not store a new snapshot of the lists in Redis after the import (instances then
    /// load the older one and replay the changes since, or scan every entry).
    #[arg(long)]
    pub no_snapshot: bool,
    /// The Redis server (`redis://host:port/db`).
    #[arg(long, env = "JC_REDIS")]
    pub redis: String,
    /// Prefix of every key the lists use in Redis.
    #[arg(long, env = "JC_REDIS_PREFIX", default_value = crate::lists::source::DEFAULT_PREFIX)]
    pub prefix: String,
    /// Milliseconds connecting to Redis and each reply may take (a `--replace-list` is one
    /// transaction, so its reply takes longer the larger the list).
    #[arg(long, env = "JC_REDIS_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub redis_timeout_ms: u64,
    /// Rule-set folder the entries are validated against [default: the embedded rule set].
    #[arg(long, env = "JC_RULES")]
    pub rules: Option<PathBuf>,
    /// Replace the whole content of this list with the file (which must hold only this list):
    /// entries of the list missing from the file are removed, with a tombstone.
    #[arg(long)]
    pub replace_list: Option<String>,
    /// Share of a list's entries (0 to 1) the import may remove (moving entries to another
    /// list, or leaving them out of a replacement) before it is refused.
    #[arg(long, env = "JC_MAX_LIST_SHRINK", default_value_t = ShrinkGuard::DEFAULT_MAX_SHRINK, value_parser = share)]
    pub max_list_shrink: f64,
    /// A list is held to --max-list-shrink once it has this many entries; a list of any size
    /// may not be emptied.
    #[arg(long, env = "JC_LIST_SHRINK_MIN_ENTRIES", default_value_t = ShrinkGuard::DEFAULT_MIN_LIST_ENTRIES)]
    pub list_shrink_min_entries: u64,
    /// Write even if it empties a list or removes more than --max-list-shrink of one.
    #[arg(long)]
    pub force: bool,
}

impl ImportArgs {
    /// The Redis to import into.
    pub fn target(&self) -> ListSource {
        ListSource::Redis {
            url: self.redis.clone(),
            prefix: self.prefix.clone(),
            timeout: Duration::from_millis(self.redis_timeout_ms),
            connections: crate::lists::source::DEFAULT_CONNECTIONS,
            wait: crate::lists::source::ReplicaWait::for_url(&self.redis),
        }
    }

    pub fn guard(&self) -> ShrinkGuard {
        ShrinkGuard {
            max_shrink: self.max_list_shrink,
            min_list_entries: self.list_shrink_min_entries,
        }
    }
}

/// Reads a share from 0 to 1.
fn share(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if is_share(value) {
        Ok(value)
    } else {
        Err(format!("{value} is not a share from 0 to 1"))
    }
}

fn is_share(value: f64) -> bool {
    (0.0..=1.0).contains(&value)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The clock text logs print their times in: UTC (`2026-11-30T02:00:00.000000Z`), the
/// machine's local time, or a fixed offset from UTC (`+08:00`, Beijing time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum LogTime {
    #[default]
    Utc,
    Local,
    Offset(chrono::FixedOffset),
}

impl std::str::FromStr for LogTime {
    type Err = String;

    fn from_str(text: &str) -> Result<LogTime, String> {
        match text {
            "utc" => Ok(LogTime::Utc),
            "local" => Ok(LogTime::Local),
            offset => offset.parse().map(LogTime::Offset).map_err(|_| {
                format!("`{offset}`: give utc, local or an offset from UTC such as +08:00")
            }),
        }
    }
}

impl TryFrom<String> for LogTime {
    type Error = String;

    fn try_from(text: String) -> Result<LogTime, String> {
        text.parse()
    }
}

/// The settings of `serve`, one struct for all three sources: clap reads the flags and the
/// environment, serde the config file (the same names with underscores; unknown keys are
/// refused), and [`Merge`] lays the flags and environment over the file. Every setting is
/// optional (or a switch) so that one left out falls through to the next source and last to its
/// default: the one named in its doc comment, held by the type it configures (`Limits`,
/// `RegisterConfig`, …). Tests hold those doc comments, `deploy/jiangcheng.toml` and
/// docs/operations.md to the defaults.
#[derive(Debug, Default, Args, Deserialize, Merge)]
#[serde(default, deny_unknown_fields)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "JC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Rule-set folder [default: the embedded rule set, rulesets/qiqihar as shipped].
    #[arg(long, env = "JC_RULES")]
    pub rules: Option<PathBuf>,
    /// List source: a JSON Lines file, or a `redis://` URL [default: the embedded demo lists,
    /// rulesets/qiqihar/demo-lists.jsonl as shipped].
    #[arg(long, env = "JC_LISTS")]
    pub lists: Option<String>,
    /// Share of the entries (0 to 1), overall or of one list, a list load may remove before it
    /// is refused and the lists in use stay [default: 0.5].
    #[arg(long, env = "JC_MAX_LIST_SHRINK")]
    pub max_list_shrink: Option<f64>,
    /// A list is held to --max-list-shrink on its own once it has this many entries; a list of
    /// any size may not be emptied [default: 100].
    #[arg(long, env = "JC_LIST_SHRINK_MIN_ENTRIES")]
    pub list_shrink_min_entries: Option<u64>,
    /// Take the first load even if the fail-closed guard would refuse it (no entries, or too
    /// many removed); later loads are guarded again (SIGUSR1 forces one).
    #[arg(long, env = "JC_FORCE_NEXT_LOAD")]
    #[serde(skip)]
    #[merge(strategy = merge::bool::overwrite_false)]
    pub force_next_load: bool,
    /// Prefix of the list keys in Redis [default: jc:{lists}:].
    #[arg(long, env = "JC_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,
    /// Milliseconds connecting to the list source's Redis, and each of its replies, may take
    /// before Redis counts as unreachable: admin writes then answer 503 and the lists turn
    /// stale [default: 2000].
    #[arg(long, env = "JC_REDIS_TIMEOUT_MS")]
    pub redis_timeout_ms: Option<u64>,
    /// Connections to the list source's Redis its calls share at most (the follower's and the
    /// register's come on top); a call that finds them all busy waits for one up to
    /// --redis-timeout-ms, then answers 503 [default: 16].
    #[arg(long, env = "JC_REDIS_CONNECTIONS")]
    pub redis_connections: Option<usize>,
    /// Replicas that must confirm an admin write or import batch (Redis `WAIT`) before it is
    /// acknowledged; when fewer do in time it answers 503 [default: 1 on a redis+sentinel://
    /// or redis+cluster:// URL, else 0].
    #[arg(long, env = "JC_REDIS_WAIT_REPLICAS")]
    pub redis_wait_replicas: Option<u32>,
    /// Milliseconds a write waits for those replicas, less than --redis-timeout-ms when it
    /// waits for any [default: 1000].
    #[arg(long, env = "JC_REDIS_WAIT_TIMEOUT_MS")]
    pub redis_wait_timeout_ms: Option<u64>,
    /// Changes the list snapshot stored in Redis may lag behind before this instance writes a
    /// new one; 0: never write one [default: 100000].
    #[arg(long, env = "JC_SNAPSHOT_AFTER_CHANGES")]
    pub snapshot_after_changes: Option<u64>,
    /// Age in seconds past which this instance writes a new list snapshot if any change came
    /// since; 0: only by the count of changes [default: 3600].
    #[arg(long, env = "JC_SNAPSHOT_MAX_AGE_SECONDS")]
    pub snapshot_max_age_seconds: Option<u64>,
    /// Subjects the cold-list cache holds at most [default: 100000].
    #[arg(long, env = "JC_COLD_CACHE_SUBJECTS")]
    pub cold_cache_subjects: Option<u64>,
    /// Seconds a cold-list lookup stays cached [default: 300].
    #[arg(long, env = "JC_COLD_CACHE_TTL_SECONDS")]
    pub cold_cache_ttl_seconds: Option<u64>,
    /// Subjects whose cold entries name one person that the person's lookup reads at most;
    /// past it, the person's decision says cold lists were left out [default: 64].
    #[arg(long, env = "JC_COLD_MAX_FILERS")]
    pub cold_max_filers: Option<usize>,
    /// A TOML config file with any of these settings as keys (listen, rules, lists, …).
    #[arg(long, env = "JC_CONFIG")]
    #[serde(skip)]
    #[merge(skip)]
    pub config: Option<PathBuf>,
    /// HTTP worker threads [default: the cores this process may use].
    #[arg(long, env = "JC_WORKERS")]
    pub workers: Option<usize>,
    /// Largest request body in bytes [default: 2097152].
    #[arg(long, env = "JC_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most subjects in one batch call [default: 10000].
    #[arg(long, env = "JC_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Seconds a request's body may take to arrive whole after its head; then 408 and the
    /// connection is closed [default: 10].
    #[arg(long, env = "JC_BODY_TIMEOUT_SECONDS")]
    pub body_timeout_seconds: Option<u64>,
    /// Seconds a new connection's first request head may take to arrive whole [default: 5].
    #[arg(long, env = "JC_HEAD_TIMEOUT_SECONDS")]
    pub head_timeout_seconds: Option<u64>,
    /// Seconds an idle keep-alive connection stays open; 0 closes it after each answer [default: 5].
    #[arg(long, env = "JC_KEEP_ALIVE_SECONDS")]
    pub keep_alive_seconds: Option<u64>,
    /// Seconds an answer's data may stay unacknowledged, or a client's receive window shut,
    /// before the connection is aborted [default: 30].
    #[arg(long, env = "JC_WRITE_TIMEOUT_SECONDS")]
    pub write_timeout_seconds: Option<u64>,
    /// Requests served at once, answers being sent included; more get 503 [default: 256].
    #[arg(long, env = "JC_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Batches served at once, fewer than --max-in-flight; more get 503 [default: 16].
    #[arg(long, env = "JC_MAX_BATCHES_IN_FLIGHT")]
    pub max_batches_in_flight: Option<usize>,
    /// Connections open at once, across all workers [default: 10000].
    #[arg(long, env = "JC_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections the kernel queues before they are accepted; the kernel caps it at
    /// net.core.somaxconn [default: 1024].
    #[arg(long, env = "JC_LISTEN_BACKLOG")]
    pub listen_backlog: Option<u32>,
    /// Seconds a stopping server waits for the requests it is serving [default: 10].
    #[arg(long, env = "JC_SHUTDOWN_GRACE_SECONDS")]
    pub shutdown_grace_seconds: Option<u64>,
    /// Bytes an .xlsx bidder list may unzip to, as its entries declare and as they actually
    /// unzip; more get 413 [default: 33554432].
    #[arg(long, env = "JC_SHEET_MAX_UNZIPPED_BYTES")]
    pub sheet_max_unzipped_bytes: Option<u64>,
    /// Characters of a bidder list's identifier or name cell; a longer one is its row's
    /// problem [default: 256].
    #[arg(long, env = "JC_SHEET_MAX_CELL_CHARS")]
    pub sheet_max_cell_chars: Option<usize>,
    /// Seconds reading one bidder list may take; then 503 [default: 5].
    #[arg(long, env = "JC_SHEET_TIMEOUT_SECONDS")]
    pub sheet_timeout_seconds: Option<u64>,
    /// Answers of at least this many bytes are compressed (brotli or gzip) when the client
    /// accepts it; 0 compresses none [default: 8192].
    #[arg(long, env = "JC_COMPRESS_MIN_BYTES")]
    pub compress_min_bytes: Option<usize>,
    /// Log format [default: text].
    #[arg(long, env = "JC_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// The clock of the times in text logs: utc, local (the machine's time zone) or an offset
    /// such as +08:00; JSON logs stay in UTC [default: utc].
    #[arg(long, env = "JC_LOG_TIME")]
    pub log_time: Option<LogTime>,
    /// Log filter in tracing's EnvFilter syntax [default: info].
    #[arg(long, env = "JC_LOG")]
    pub log: Option<String>,
    /// Mount `POST /bench/bare`, the load tests' reference endpoint (off in production).
    #[arg(long, env = "JC_BENCH_ROUTES")]
    #[serde(skip)]
    #[merge(strategy = merge::bool::overwrite_false)]
    pub bench_routes: bool,
    /// Callers' API keys (TOML, `jiangcheng keys new` writes its entries); without it every
    /// `/v1` endpoint is open.
    #[arg(long, env = "JC_KEYS")]
    pub keys: Option<PathBuf>,
    /// Origins whose pages may call the API from a browser (CORS), comma-separated, each
    /// exactly as the browser sends it (`https://portal.example.gov.cn`); without any, no CORS
    /// headers at all [default: none].
    #[arg(long, env = "JC_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// Require a key with the `admin` scope on `/metrics` too.
    #[arg(long, env = "JC_PROTECT_METRICS")]
    #[merge(strategy = merge::bool::overwrite_false)]
    pub protect_metrics: bool,
    /// Seconds a decision's `as_of` may be from the server's clock before it is a replay, which
    /// needs the `replay` scope [default: 300].
    #[arg(long, env = "JC_MAX_AS_OF_SKEW_SECONDS")]
    pub max_as_of_skew_seconds: Option<u64>,
    /// Refused API keys (401) one client address may get a minute before it gets 429 [default: 30].
    #[arg(long, env = "JC_AUTH_FAILURES_PER_MINUTE")]
    pub auth_failures_per_minute: Option<u32>,
    /// Client addresses whose refused keys are counted at once [default: 65536].
    #[arg(long, env = "JC_AUTH_FAILURE_ADDRESSES")]
    pub auth_failure_addresses: Option<u64>,
    /// WARN lines about refused keys a minute; the rest are counted [default: 60].
    #[arg(long, env = "JC_AUTH_WARNINGS_PER_MINUTE")]
    pub auth_warnings_per_minute: Option<u32>,
    /// Where the query register keeps records and feedback: `auto` (Redis when the lists come
    /// from Redis, else files), `files`, a `redis://` URL, or `off` [default: auto].
    #[arg(long, alias = "audit", env = "JC_REGISTER")]
    #[serde(alias = "audit")]
    pub register: Option<String>,
    /// The register's folder: its files, the spill file and the subject hash key [default:
    /// ./audit if a register is there, else $STATE_DIRECTORY/register, else
    /// $XDG_STATE_HOME/jiangcheng/register, else ~/.local/state/jiangcheng/register].
    #[arg(long, alias = "audit-dir", env = "JC_REGISTER_DIR")]
    #[serde(alias = "audit_dir")]
    pub register_dir: Option<PathBuf>,
    /// The secret of the subjects' keyed hash (64 hex digits) [default: <register-dir>/subject-hash.key, made on first start].
    #[arg(long, alias = "audit-key-file", env = "JC_REGISTER_KEY_FILE")]
    #[serde(alias = "audit_key_file")]
    pub register_key_file: Option<PathBuf>,
    /// Prefix of the register's keys in Redis [default: jc:{audit}:].
    #[arg(long, env = "JC_REGISTER_PREFIX")]
    pub register_prefix: Option<String>,
    /// Records the register's queue holds before new ones go to the spill file [default: 65536].
    #[arg(long, alias = "audit-queue", env = "JC_REGISTER_QUEUE")]
    #[serde(alias = "audit_queue")]
    pub register_queue: Option<usize>,
    /// Corrections one feedback report may have; 0 turns corrections off [default: 20].
    #[arg(long, env = "JC_FEEDBACK_MAX_CORRECTIONS")]
    pub feedback_max_corrections: Option<usize>,
    /// The register's spill file's folder, best on another disk than its records [default: <register-dir>].
    #[arg(long, alias = "audit-spill-dir", env = "JC_REGISTER_SPILL_DIR")]
    #[serde(alias = "audit_spill_dir")]
    pub register_spill_dir: Option<PathBuf>,
    /// Answer 503 on /readyz while the register drops records (its store and spill file both fail).
    #[arg(long, alias = "audit-required", env = "JC_REGISTER_REQUIRED")]
    #[serde(alias = "audit_required")]
    #[merge(strategy = merge::bool::overwrite_false)]
    pub register_required: bool,
    /// Days the register keeps records [default: 190].
    #[arg(
        long,
        alias = "audit-retention-days",
        env = "JC_REGISTER_RETENTION_DAYS"
    )]
    #[serde(alias = "audit_retention_days")]
    pub register_retention_days: Option<u32>,
    /// What becomes of expired records: `archive` (gzip files in the archive folder) or `delete` [default: archive].
    #[arg(long, alias = "audit-expired", env = "JC_REGISTER_EXPIRED")]
    #[serde(alias = "audit_expired")]
    pub register_expired: Option<Expiry>,
    /// Where expired records are archived [default: <register-dir>/archive].
    #[arg(long, alias = "audit-archive-dir", env = "JC_REGISTER_ARCHIVE_DIR")]
    #[serde(alias = "audit_archive_dir")]
    pub register_archive_dir: Option<PathBuf>,
    /// Where the push keeps subscriptions, their delivery state and, for lists from a file,
    /// the list events [default: $STATE_DIRECTORY/push, else $XDG_STATE_HOME/jiangcheng/push,
    /// else ~/.local/state/jiangcheng/push, else ./push].
    #[arg(long, env = "JC_PUSH_DIR")]
    pub push_dir: Option<PathBuf>,
    /// Prefix of the push's keys in Redis (with lists in Redis) [default: jc:{push}:].
    #[arg(long, env = "JC_PUSH_PREFIX")]
    pub push_prefix: Option<String>,
    /// Seconds one delivery attempt may take, connecting and answering included [default: 10].
    #[arg(long, env = "JC_PUSH_TIMEOUT_SECONDS")]
    pub push_timeout_seconds: Option<u64>,
    /// Seconds an event is retried before it becomes a dead letter [default: 86400].
    #[arg(long, env = "JC_PUSH_RETRY_HORIZON_SECONDS")]
    pub push_retry_horizon_seconds: Option<u64>,
    /// Milliseconds before the first retry; each next waits twice as long [default: 1000].
    #[arg(long, env = "JC_PUSH_FIRST_BACKOFF_MS")]
    pub push_first_backoff_ms: Option<u64>,
    /// Seconds between retries at most [default: 600].
    #[arg(long, env = "JC_PUSH_MAX_BACKOFF_SECONDS")]
    pub push_max_backoff_seconds: Option<u64>,
    /// Subscriptions the service holds at most, all departments together [default: 1000].
    #[arg(long, env = "JC_PUSH_MAX_SUBSCRIPTIONS")]
    pub push_max_subscriptions: Option<usize>,
    /// Networks other than the public Internet that subscriber URLs may point to,
    /// comma-separated (`10.20.0.0/16,127.0.0.1`) [default: none].
    #[arg(long, env = "JC_PUSH_ALLOW_NETWORKS", value_delimiter = ',')]
    pub push_allow_networks: Option<Vec<String>>,
    /// Seconds between looks for entries whose window ended (`entry.expired`) [default: 60].
    #[arg(long, env = "JC_EXPIRY_SCAN_SECONDS")]
    pub expiry_scan_seconds: Option<u64>,
    /// The watchlists' folder, one file a watchlist, when the lists come from a file (with
    /// lists from Redis, the watchlists are in that Redis) [default: $STATE_DIRECTORY/watchlists,
    /// else $XDG_STATE_HOME/jiangcheng/watchlists, else
    /// ~/.local/state/jiangcheng/watchlists, else ./watchlists].
    #[arg(long, env = "JC_WATCHLIST_DIR")]
    pub watchlist_dir: Option<PathBuf>,
    /// Subjects one watchlist may hold; more get 413 [default: 1000000].
    #[arg(long, env = "JC_WATCHLIST_MAX_SUBJECTS")]
    pub watchlist_max_subjects: Option<usize>,
    /// Bytes a watchlist's upload (`PUT /v1/watchlists/{name}`) may take, read as it
    /// streams in; more get 413 [default: 67108864].
    #[arg(long, env = "JC_WATCHLIST_MAX_BODY_BYTES")]
    pub watchlist_max_body_bytes: Option<usize>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule-set folder [default: the embedded rule set].
    #[arg(long, env = "JC_RULES")]
    pub rules: Option<PathBuf>,
    /// Also validate this list file against the rule set.
    #[arg(long)]
    pub lists: Option<PathBuf>,
    /// Then write the checked lists as a binary list snapshot here, which `serve --lists`
    /// loads without parsing (for this rule set's revision only).
    #[arg(long, requires = "lists")]
    pub write_snapshot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The subject's identifier (a USCC, a resident ID number, or an older identifier); `-`
    /// reads it from the first line of standard input, which keeps a resident ID number out of
    /// the process list and the shell's history.
    pub id: String,
    /// The matter's code (e.g. gov_procurement; `GET /v1/matters` lists them).
    pub matter: String,
    /// Rule-set folder [default: the embedded rule set].
    #[arg(long, env = "JC_RULES")]
    pub rules: Option<PathBuf>,
    /// List source: a JSON Lines file, a list snapshot or a `redis://` URL [default: the
    /// embedded demo lists].
    #[arg(long, env = "JC_LISTS")]
    pub lists: Option<String>,
    /// The instant to decide at (RFC 3339, or a date) [default: now].
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print the JSON `POST /v1/decide` answers instead of the explanation.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Size of the population.
    #[arg(long)]
    pub subjects: u64,
    /// Share of the population that is listed.
    #[arg(long, default_value_t = 1.0)]
    pub listed_ratio: f64,
    /// Seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the entries (JSON Lines).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write every population member's identifier here (`id<TAB>listed`), for load tests.
    #[arg(long)]
    pub population: Option<PathBuf>,
    /// Rule-set folder whose lists the entries go on [default: the embedded rule set].
    #[arg(long, env = "JC_RULES")]
    pub rules: Option<PathBuf>,
}

/// Resolved settings of `serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub rules: RuleSource,
    pub lists: ListSource,
    /// How far a list load may shrink the lists before it is refused.
    pub guard: ShrinkGuard,
    /// Whether the first load skips the guard.
    pub force_next_load: bool,
    pub cold_cache: ColdCacheConfig,
    /// When a Redis-sourced instance writes the stored list snapshot.
    pub snapshot_keeping: SnapshotKeeping,
    pub workers: usize,
    pub limits: Limits,
    pub log_format: LogFormat,
    pub log_time: LogTime,
    pub log: String,
    pub bench_routes: bool,
    pub keys: Option<PathBuf>,
    pub protect_metrics: bool,
    /// Origins allowed to call from a browser (none: no CORS).
    pub cors_origins: Vec<String>,
    pub access: AccessConfig,
    pub register: RegisterConfig,
    pub push: crate::push::PushConfig,
    pub watchlists: WatchlistConfig,
    /// What to warn about once logging is set up: settings read under an old name.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    UnsupportedSource(#[from] UnsupportedSource),
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("push_allow_networks: {0}")]
    PushNetworks(String),
    #[error("redis_wait_timeout_ms ({wait} ms) must be less than redis_timeout_ms ({timeout} ms), which bounds every reply, the one to WAIT too")]
    WaitOverTimeout { wait: u128, timeout: u128 },
    #[error("max_list_shrink must be a share from 0 to 1, not {0}")]
    Share(f64),
    #[error("max_batches_in_flight ({batches}) must be less than max_in_flight ({requests}), so that batches leave room for single decisions")]
    BatchesCrowdOut { batches: usize, requests: usize },
    #[error("cors_origins: `{0}` is not an origin: give a lower-case http:// or https:// scheme and host, and a port if not the default, with nothing after (no `*`, no path)")]
    CorsOrigin(String),
    #[error("register `{0}`: give auto, files, off or a redis:// URL")]
    UnsupportedRegister(String),
    #[error("an environment variable under its old name ({RENAMED_REGISTER_ENV}…): {0}")]
    RenamedEnv(#[from] clap::Error),
}

/// The allowed origins, each checked to be one a browser could send: matched exactly, so one
/// that no browser sends (a path, a trailing slash, capitals, a wildcard) would never match.
fn cors_origins(origins: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = origins
        .into_iter()
        .map(|origin| origin.trim().to_owned())
        .filter(|origin| !origin.is_empty())
        .collect();
    match origins.iter().find(|origin| !is_origin(origin)) {
        Some(bad) => Err(ConfigError::CorsOrigin(bad.clone())),
        None => Ok(origins),
    }
}

/// `http(s)://host[:port]`: a host of lower-case letters, digits, dots and hyphens, or an
/// IPv6 address in brackets; a port of up to five digits.
fn is_origin(origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        }
    };
    let port_ok =
        port.is_none_or(|port| port.parse::<u16>().is_ok_and(|p| p > 0) && !port.starts_with('0'));
    host_ok && port_ok
}

/// The prefix of the register's environment variables, and the one they had before (still read,
/// with a warning, where the new variable is unset).
const REGISTER_ENV: &str = "JC_REGISTER";
const RENAMED_REGISTER_ENV: &str = "JC_AUDIT";

/// The old name of an environment variable that was renamed, if it was.
fn renamed_env(name: &str) -> Option<String> {
    name.strip_prefix(REGISTER_ENV)
        .map(|rest| format!("{RENAMED_REGISTER_ENV}{rest}"))
}

/// What is logged for an old variable read in place of its new name.
fn renamed_warning(new: &str, old: &str) -> String {
    format!("{old} is read in place of {new}, its new name: rename it")
}

impl ServeArgs {
    /// Lays the settings still given under an old environment variable (`JC_AUDIT_DIR`) under
    /// the flags and current variables, reading each old variable only where its new name is
    /// unset and through the same parser as the new one. Returns a warning for each one read.
    fn merge_renamed_env(&mut self) -> Result<Vec<String>, clap::Error> {
        let mut renamed = Vec::new();
        let command = Self::augment_args(clap::Command::new("serve")).mut_args(|arg| {
            let old = arg
                .get_env()
                .and_then(|name| name.to_str())
                .filter(|name| std::env::var_os(name).is_none())
                .and_then(|name| renamed_env(name).map(|old| (name.to_owned(), old)));
            match old {
                Some((new, old)) => {
                    renamed.push((arg.get_id().clone(), new, old.clone()));
                    arg.env(old)
                }
                None => arg.env(None::<&'static str>),
            }
        });
        let matches = command.try_get_matches_from(["serve"])?;
        self.merge(Self::from_arg_matches(&matches)?);
        Ok(renamed
            .into_iter()
            .filter(|(id, _, _)| {
                matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::EnvVariable)
            })
            .map(|(_, new, old)| renamed_warning(&new, &old))
            .collect())
    }

    /// Applies the config file (if any) under the flags and environment, then the defaults.
    pub fn resolve(mut self) -> Result<Settings, ConfigError> {
        let mut warnings = self.merge_renamed_env()?;
        if let Some(path) = &self.config {
            let file = read_file_config(path)?;
            self.merge(file);
        }
        let lists = self.lists()?;
        let guard = ShrinkGuard {
            max_shrink: self
                .max_list_shrink
                .unwrap_or(ShrinkGuard::DEFAULT_MAX_SHRINK),
            min_list_entries: self
                .list_shrink_min_entries
                .unwrap_or(ShrinkGuard::DEFAULT_MIN_LIST_ENTRIES),
        };
        if !is_share(guard.max_shrink) {
            return Err(ConfigError::Share(guard.max_shrink));
        }
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let limits = self.limits()?;
        let register = self.register(&lists, &mut warnings)?;
        let watchlists = self.watchlists(&lists);
        let access = self.access();
        let cold_max_filers = self
            .cold_max_filers
            .unwrap_or(ColdCacheConfig::default().max_filers);
        for (name, value) in [
            ("workers", workers),
            ("cold_max_filers", cold_max_filers),
            ("register_queue", register.queue_records),
            ("watchlist_max_subjects", watchlists.max_subjects),
            ("watchlist_max_body_bytes", watchlists.max_body_bytes),
            ("register_retention_days", register.retention_days as usize),
            (
                "auth_failures_per_minute",
                access.auth_failures_per_minute as usize,
            ),
            (
                "auth_failure_addresses",
                usize::try_from(access.auth_failure_addresses).unwrap_or(usize::MAX),
            ),
            (
                "auth_warnings_per_minute",
                access.auth_warnings_per_minute as usize,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        let cold_defaults = ColdCacheConfig::default();
        let keeping_defaults = SnapshotKeeping::default();
        let push = self.push()?;
        Ok(Settings {
            listen: self.listen.unwrap_or_else(|| {
                DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| unreachable!("valid default address"))
            }),
            rules: RuleSource::or_embedded(self.rules),
            lists,
            guard,
            force_next_load: self.force_next_load,
            cold_cache: ColdCacheConfig {
                max_subjects: self
                    .cold_cache_subjects
                    .unwrap_or(cold_defaults.max_subjects),
                ttl: self
                    .cold_cache_ttl_seconds
                    .map_or(cold_defaults.ttl, Duration::from_secs),
                max_filers: cold_max_filers,
            },
            snapshot_keeping: SnapshotKeeping {
                after_changes: self
                    .snapshot_after_changes
                    .unwrap_or(keeping_defaults.after_changes),
                max_age: self
                    .snapshot_max_age_seconds
                    .map_or(keeping_defaults.max_age, Duration::from_secs),
            },
            workers,
            limits,
            log_format: self.log_format.unwrap_or_default(),
            log_time: self.log_time.unwrap_or_default(),
            log: self.log.unwrap_or_else(|| "info".to_owned()),
            bench_routes: self.bench_routes,
            keys: self.keys,
            protect_metrics: self.protect_metrics,
            cors_origins: cors_origins(self.cors_origins.take().unwrap_or_default())?,
            access,
            push,
            register,
            watchlists,
            warnings,
        })
    }

    /// The watchlists' store (Redis when the lists come from Redis, else the folder) and limits.
    fn watchlists(&mut self, lists: &ListSource) -> WatchlistConfig {
        // The folder is resolved (and its default looked up) only for a file source.
        let store = match lists {
            ListSource::Redis { .. } => StoreConfig::following(lists, PathBuf::new()),
            _ => StoreConfig::Files(
                self.watchlist_dir
                    .take()
                    .unwrap_or_else(|| state::default_state_dir("watchlists")),
            ),
        };
        WatchlistConfig {
            store,
            max_subjects: self
                .watchlist_max_subjects
                .unwrap_or(crate::watchlists::DEFAULT_MAX_SUBJECTS),
            max_body_bytes: self
                .watchlist_max_body_bytes
                .unwrap_or(crate::watchlists::DEFAULT_MAX_BODY_BYTES),
        }
    }

    /// The list source: a file, or Redis under its prefix and timeout.
    fn lists(&mut self) -> Result<ListSource, ConfigError> {
        let Some(lists) = self.lists.take() else {
            return Ok(ListSource::Embedded);
        };
        let prefix = self
            .redis_prefix
            .take()
            .unwrap_or_else(|| crate::lists::source::DEFAULT_PREFIX.to_owned());
        let redis_timeout = self
            .redis_timeout_ms
            .map_or(crate::lists::source::DEFAULT_TIMEOUT, Duration::from_millis);
        if redis_timeout.is_zero() {
            return Err(ConfigError::Zero("redis_timeout_ms"));
        }
        let connections = self
            .redis_connections
            .unwrap_or(crate::lists::source::DEFAULT_CONNECTIONS);
        if connections == 0 {
            return Err(ConfigError::Zero("redis_connections"));
        }
        let mut source = ListSource::parse(&lists, &prefix, redis_timeout, connections)?;
        if let ListSource::Redis { wait, .. } = &mut source {
            wait.replicas = self.redis_wait_replicas.unwrap_or(wait.replicas);
            wait.timeout = self
                .redis_wait_timeout_ms
                .map_or(wait.timeout, Duration::from_millis);
            if wait.replicas > 0 && wait.timeout >= redis_timeout {
                return Err(ConfigError::WaitOverTimeout {
                    wait: wait.timeout.as_millis(),
                    timeout: redis_timeout.as_millis(),
                });
            }
        }
        Ok(source)
    }

    /// What a client may hold, and for how long; refused when a pool or time-out is 0 (but
    /// the keep-alive and the shutdown grace) or batches could crowd out single decisions.
    fn limits(&self) -> Result<Limits, ConfigError> {
        let defaults = Limits::default();
        let seconds =
            |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_secs);
        let limits = Limits {
            max_body_bytes: self.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_batch: self.max_batch.unwrap_or(defaults.max_batch),
            body_timeout: seconds(self.body_timeout_seconds, defaults.body_timeout),
            head_timeout: seconds(self.head_timeout_seconds, defaults.head_timeout),
            keep_alive: seconds(self.keep_alive_seconds, defaults.keep_alive),
            write_timeout: seconds(self.write_timeout_seconds, defaults.write_timeout),
            max_in_flight: self.max_in_flight.unwrap_or(defaults.max_in_flight),
            max_batches_in_flight: self
                .max_batches_in_flight
                .unwrap_or(defaults.max_batches_in_flight),
            max_connections: self.max_connections.unwrap_or(defaults.max_connections),
            listen_backlog: self.listen_backlog.unwrap_or(defaults.listen_backlog),
            shutdown_grace: seconds(self.shutdown_grace_seconds, defaults.shutdown_grace),
            sheets: SheetLimits {
                max_unzipped_bytes: self
                    .sheet_max_unzipped_bytes
                    .unwrap_or(defaults.sheets.max_unzipped_bytes),
                max_cell_chars: self
                    .sheet_max_cell_chars
                    .unwrap_or(defaults.sheets.max_cell_chars),
                timeout: seconds(self.sheet_timeout_seconds, defaults.sheets.timeout),
            },
            compress_min_bytes: self
                .compress_min_bytes
                .unwrap_or(defaults.compress_min_bytes),
        };
        for (name, value) in [
            ("max_body_bytes", limits.max_body_bytes),
            ("max_batch", limits.max_batch),
            (
                "body_timeout_seconds",
                limits.body_timeout.as_secs() as usize,
            ),
            (
                "head_timeout_seconds",
                limits.head_timeout.as_secs() as usize,
            ),
            (
                "write_timeout_seconds",
                limits.write_timeout.as_secs() as usize,
            ),
            ("max_in_flight", limits.max_in_flight),
            ("max_batches_in_flight", limits.max_batches_in_flight),
            ("max_connections", limits.max_connections),
            ("listen_backlog", limits.listen_backlog as usize),
            (
                "sheet_max_unzipped_bytes",
                limits.sheets.max_unzipped_bytes as usize,
            ),
            ("sheet_max_cell_chars", limits.sheets.max_cell_chars),
            (
                "sheet_timeout_seconds",
                limits.sheets.timeout.as_secs() as usize,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if limits.max_batches_in_flight >= limits.max_in_flight {
            return Err(ConfigError::BatchesCrowdOut {
                batches: limits.max_batches_in_flight,
                requests: limits.max_in_flight,
            });
        }
        Ok(limits)
    }

    /// The query register's settings, its sink following the list source unless told.
    fn register(
        &mut self,
        lists: &ListSource,
        warnings: &mut Vec<String>,
    ) -> Result<RegisterConfig, ConfigError> {
        let defaults = RegisterConfig::default();
        let dir = self.register_dir.take().unwrap_or_else(|| {
            let (dir, warning) = state::default_register_dir();
            warnings.extend(warning);
            dir
        });
        Ok(RegisterConfig {
            sink: register_sink(
                self.register.as_deref(),
                self.register_prefix
                    .take()
                    .unwrap_or_else(|| crate::register::DEFAULT_PREFIX.to_owned()),
                lists,
            )?,
            dir,
            key_file: self.register_key_file.take(),
            queue_records: self.register_queue.unwrap_or(defaults.queue_records),
            spill_dir: self.register_spill_dir.take(),
            required: self.register_required,
            retention_days: self
                .register_retention_days
                .unwrap_or(defaults.retention_days),
            expired: self.register_expired.unwrap_or(defaults.expired),
            archive_dir: self.register_archive_dir.take(),
            max_corrections: self
                .feedback_max_corrections
                .unwrap_or(defaults.max_corrections),
        })
    }

    /// The push's settings; its files in a state folder of their own unless told.
    fn push(&mut self) -> Result<crate::push::PushConfig, ConfigError> {
        use crate::push::PushConfig;
        let mut push = PushConfig::new(
            self.push_dir
                .take()
                .unwrap_or_else(|| state::default_state_dir("push")),
        );
        if let Some(prefix) = self.push_prefix.take() {
            push.redis_prefix = prefix;
        }
        let seconds = |value: Option<u64>, default| value.map_or(default, Duration::from_secs);
        push.timeout = seconds(self.push_timeout_seconds, push.timeout);
        push.horizon = seconds(self.push_retry_horizon_seconds, push.horizon);
        push.first_backoff = self
            .push_first_backoff_ms
            .map_or(push.first_backoff, Duration::from_millis);
        push.max_backoff = seconds(self.push_max_backoff_seconds, push.max_backoff);
        push.max_subscriptions = self
            .push_max_subscriptions
            .unwrap_or(push.max_subscriptions);
        push.expiry_scan = seconds(self.expiry_scan_seconds, push.expiry_scan);
        for (name, zero) in [
            ("push_timeout_seconds", push.timeout.is_zero()),
            ("push_first_backoff_ms", push.first_backoff.is_zero()),
            ("push_max_backoff_seconds", push.max_backoff.is_zero()),
            ("push_max_subscriptions", push.max_subscriptions == 0),
            ("expiry_scan_seconds", push.expiry_scan.is_zero()),
        ] {
            if zero {
                return Err(ConfigError::Zero(name));
            }
        }
        push.networks =
            crate::push::Networks::parse(&self.push_allow_networks.take().unwrap_or_default())
                .map_err(ConfigError::PushNetworks)?;
        Ok(push)
    }

    /// Replays and refused keys.
    fn access(&self) -> AccessConfig {
        let defaults = AccessConfig::default();
        AccessConfig {
            max_as_of_skew: self
                .max_as_of_skew_seconds
                .map_or(defaults.max_as_of_skew, Duration::from_secs),
            auth_failures_per_minute: self
                .auth_failures_per_minute
                .unwrap_or(defaults.auth_failures_per_minute),
            auth_failure_addresses: self
                .auth_failure_addresses
                .unwrap_or(defaults.auth_failure_addresses),
            auth_warnings_per_minute: self
                .auth_warnings_per_minute
                .unwrap_or(defaults.auth_warnings_per_minute),
        }
    }
}

/// The register's sink from `--register`: `auto` follows the list source.
fn register_sink(
    register: Option<&str>,
    prefix: String,
    lists: &ListSource,
) -> Result<Sink, ConfigError> {
    let redis = |url: &str| Sink::Redis {
        url: url.to_owned(),
        prefix,
    };
    Ok(match register.unwrap_or("auto") {
        "auto" => lists.redis_url().map_or(Sink::Files, redis),
        "files" => Sink::Files,
        "off" => Sink::Off,
        url if is_redis_url(url) => redis(url),
        other => return Err(ConfigError::UnsupportedRegister(other.to_owned())),
    })
}

fn read_file_config(path: &Path) -> Result<ServeArgs, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        message: err.to_string(),
    })
}

#[cfg(test)]
mod tests;
