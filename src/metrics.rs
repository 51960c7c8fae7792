//! Every Prometheus metric of the service, in one registry. Labels are bounded: route templates,
//! methods, status codes, matter and list codes of the loaded rule set. Never a subject id.
//! The process's own metrics (`process_*`: memory, CPU, file descriptors, start time) keep their
//! conventional names, without the service's prefix, so that stock dashboards and alerts find them.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::snapshot::Snapshot;

/// Request latency buckets, from 25 µs (a decision) to 2.5 s (a slow batch).
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5,
];

pub struct Metrics {
    registry: Registry,
    /// The `process_*` metrics, unprefixed.
    process: Registry,
    pub build_info: IntGaugeVec,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub decisions: IntCounterVec,
    pub list_entries: IntGaugeVec,
    pub entries_check_mismatch: IntGauge,
    pub cold_list_namings: IntGauge,
    pub ruleset_info: IntGaugeVec,
    pub lists_version: IntGauge,
    pub reloads: IntCounterVec,
    pub key_reloads: IntCounterVec,
    pub list_loads_refused: IntCounter,
    pub list_snapshot_writes: IntCounterVec,
    pub last_reload_success: IntGauge,
    pub lists_stale: IntGauge,
    pub lists_last_contact: IntGauge,
    pub lists_changes: IntGaugeVec,
    pub cold_cache: IntGaugeVec,
    pub register_records: IntCounterVec,
    pub register_queue: IntGauge,
    pub register_spill: IntGauge,
    pub auth_refusals: IntCounterVec,
    pub http_shed: IntCounterVec,
    pub http_in_flight: IntGaugeVec,
    pub http_protocol_errors: IntGauge,
    pub disputes_overdue: IntGauge,
    pub push_attempts: IntCounterVec,
    pub push_dead_letters: IntCounter,
    pub push_missed: IntCounter,
    pub commitment_records: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = valid(Registry::new_custom(Some("jiangcheng".into()), None));
        let metrics = Metrics {
            build_info: valid(IntGaugeVec::new(
                Opts::new(
                    "build_info",
                    "The running build and the loaded rule set's revision (value 1)",
                ),
                &["version", "git_revision", "ruleset_revision"],
            )),
            http_requests: valid(IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests by route template, method and status",
                ),
                &["route", "method", "status"],
            )),
            http_duration: valid(HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "HTTP request latency by route template and status class",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route", "outcome"],
            )),
            decisions: valid(IntCounterVec::new(
                Opts::new("decisions_total", "Decisions by matter and decision"),
                &["matter", "decision"],
            )),
            list_entries: valid(IntGaugeVec::new(
                Opts::new("list_entries", "Entries held per list (in force or not)"),
                &["list"],
            )),
            entries_check_mismatch: valid(IntGauge::new(
                "list_entries_check_mismatch",
                "Entries whose identifier fails its check character (loaded and matched exactly)",
            )),
            cold_list_namings: valid(IntGauge::new(
                "cold_list_namings",
                "Persons named in cold-list entries, one per entry naming them, held in memory to reach them (removed ones included until the table is rebuilt)",
            )),
            ruleset_info: valid(IntGaugeVec::new(
                Opts::new("ruleset_info", "The loaded rule set (value 1)"),
                &["name", "revision"],
            )),
            lists_version: valid(IntGauge::new(
                "lists_version",
                "Version of the loaded lists",
            )),
            reloads: valid(IntCounterVec::new(
                Opts::new("reloads_total", "Rule-set and list loads by result"),
                &["result"],
            )),
            push_attempts: valid(IntCounterVec::new(
                Opts::new(
                    "push_attempts_total",
                    "Attempts to push an event to a subscriber, by result (delivered: a 2xx answer)",
                ),
                &["result"],
            )),
            push_dead_letters: valid(IntCounter::new(
                "push_dead_letters_total",
                "Events given up on after retrying to the horizon (dead letters)",
            )),
            push_missed: valid(IntCounter::new(
                "push_events_missed_total",
                "Events a subscription's delivery reached after the event store had dropped them",
            )),
            key_reloads: valid(IntCounterVec::new(
                Opts::new(
                    "key_reloads_total",
                    "Reloads of the keys file by result (a failure keeps the keys in use)",
                ),
                &["result"],
            )),
            list_loads_refused: valid(IntCounter::new(
                "list_loads_refused_total",
                "List loads the fail-closed guard refused (no entries left, or too many removed)",
            )),
            list_snapshot_writes: valid(IntCounterVec::new(
                Opts::new("list_snapshot_writes_total", "List snapshots this instance stored in Redis on its own, by result: written, skipped (another writer held the lock), failed"),
                &["result"],
            )),
            last_reload_success: valid(IntGauge::new(
                "last_reload_success_timestamp_seconds",
                "Unix time of the latest successful load",
            )),
            lists_stale: valid(IntGauge::new(
                "lists_stale",
                "1 while decisions may miss changes in the Redis list source: the follower lost it, has not heard from it within its block time plus the Redis timeout, or must load the lists whole again",
            )),
            lists_last_contact: valid(IntGauge::new(
                "lists_source_last_contact_timestamp_seconds",
                "Unix time the follower last heard from Redis",
            )),
            lists_changes: valid(IntGaugeVec::new(
                Opts::new("lists_changes", "Changes read from the Redis stream, by result (applied, rejected) and resyncs"),
                &["result"],
            )),
            cold_cache: valid(IntGaugeVec::new(
                Opts::new("cold_cache", "Cold-list lookups by result (hit, miss, unavailable), cache evictions, stored cold entries skipped as unreadable by these rules, and filers left out of a lookup past its bound"),
                &["result"],
            )),
            register_records: valid(IntCounterVec::new(
                Opts::new("register_records_total", "Query-register records by outcome: stored, spilled (to the local spill file), replayed (from it into the store), dropped (not even spilled), expired (removed by retention), archived (of those, written to the archive first)"),
                &["outcome"],
            )),
            register_queue: valid(IntGauge::new(
                "register_queue_records",
                "Records waiting in the register's queue",
            )),
            register_spill: valid(IntGauge::new(
                "register_spill_records",
                "Records in the spill file waiting to be replayed into the register's store",
            )),
            auth_refusals: valid(IntCounterVec::new(
                Opts::new("auth_refusals_total", "Requests refused for their API key, by reason: missing, malformed, unknown, revoked, forbidden (lacks the scope), address_limited (429: too many refusals from the client's address)"),
                &["reason"],
            )),
            http_shed: valid(IntCounterVec::new(
                Opts::new(
                    "http_shed_total",
                    "Requests refused with 503 because their pool of slots was full, by pool (requests, batches)",
                ),
                &["pool"],
            )),
            http_in_flight: valid(IntGaugeVec::new(
                Opts::new(
                    "http_in_flight",
                    "Slots in use, by pool (requests, batches): requests being served, answers being sent included",
                ),
                &["pool"],
            )),
            http_protocol_errors: valid(IntGauge::new(
                "http_protocol_errors",
                "Malformed requests the HTTP framework refused before any route saw them, since start",
            )),
            disputes_overdue: valid(IntGauge::new(
                "disputes_overdue",
                "Objections under review longer than the rule set's dispute_review_days working days, as of the last scrape that could ask Redis",
            )),
            commitment_records: valid(IntCounterVec::new(
                Opts::new(
                    "commitment_records_total",
                    "Credit commitments and their breaches this instance recorded (kind: commitment, breach), since start",
                ),
                &["kind"],
            )),
            registry,
            process: Registry::new(),
        };
        metrics.register_all();
        // Present from the start, so that an alert on failures has a series before the first.
        for ok in [true, false] {
            metrics.reload_result(ok).inc_by(0);
        }
        for kind in ["commitment", "breach"] {
            metrics
                .commitment_records
                .with_label_values(&[kind])
                .inc_by(0);
        }
        metrics.publish_build("");
        metrics
    }

    fn register_all(&self) {
        valid(self.process.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )));
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.build_info.clone()),
            Box::new(self.http_shed.clone()),
            Box::new(self.http_in_flight.clone()),
            Box::new(self.http_protocol_errors.clone()),
            Box::new(self.disputes_overdue.clone()),
            Box::new(self.push_attempts.clone()),
            Box::new(self.push_dead_letters.clone()),
            Box::new(self.push_missed.clone()),
            Box::new(self.commitment_records.clone()),
            Box::new(self.register_records.clone()),
            Box::new(self.auth_refusals.clone()),
            Box::new(self.register_queue.clone()),
            Box::new(self.register_spill.clone()),
            Box::new(self.cold_cache.clone()),
            Box::new(self.lists_stale.clone()),
            Box::new(self.lists_last_contact.clone()),
            Box::new(self.lists_changes.clone()),
            Box::new(self.http_requests.clone()),
            Box::new(self.http_duration.clone()),
            Box::new(self.decisions.clone()),
            Box::new(self.list_entries.clone()),
            Box::new(self.entries_check_mismatch.clone()),
            Box::new(self.cold_list_namings.clone()),
            Box::new(self.ruleset_info.clone()),
            Box::new(self.lists_version.clone()),
            Box::new(self.reloads.clone()),
            Box::new(self.key_reloads.clone()),
            Box::new(self.list_loads_refused.clone()),
            Box::new(self.list_snapshot_writes.clone()),
            Box::new(self.last_reload_success.clone()),
        ];
        for collector in collectors {
            valid(self.registry.register(collector));
        }
    }

    /// Publishes what a newly swapped-in snapshot holds.
    pub fn observe_snapshot(&self, snapshot: &Snapshot) {
        self.ruleset_info.reset();
        self.ruleset_info
            .with_label_values(&[
                snapshot.rules.name.as_str(),
                snapshot.rules.revision.as_str(),
            ])
            .set(1);
        self.publish_build(&snapshot.rules.revision);
        self.list_entries.reset();
        for (id, list) in snapshot.rules.lists() {
            self.list_entries
                .with_label_values(&[list.code.as_str()])
                .set(snapshot.lists.count(id) as i64);
        }
        self.entries_check_mismatch
            .set(snapshot.lists.check_mismatches() as i64);
        self.cold_list_namings.set(snapshot.cold_names.len() as i64);
        self.lists_version.set(snapshot.lists_version as i64);
        self.last_reload_success.set(snapshot.loaded_at.0 / 1000);
    }

    /// Publishes the build with `ruleset_revision` (empty before the first load), replacing
    /// the previous revision's series.
    fn publish_build(&self, ruleset_revision: &str) {
        self.build_info.reset();
        self.build_info
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                env!("JC_GIT_REVISION"),
                ruleset_revision,
            ])
            .set(1);
    }

    /// Publishes the follower's state (read when metrics are scraped).
    pub fn observe_follow(&self, follow: &crate::snapshot::FollowReport) {
        if !follow.following {
            return;
        }
        self.lists_stale
            .set(i64::from(follow.stale(crate::timestamp::Timestamp::now())));
        self.lists_last_contact
            .set(follow.last_contact.map_or(0, |t| t.0 / 1000));
        for (result, value) in [
            ("applied", follow.changes_applied),
            ("rejected", follow.changes_rejected),
            ("resync", follow.resyncs),
        ] {
            self.lists_changes
                .with_label_values(&[result])
                .set(value as i64);
        }
    }

    /// Publishes the cold-list cache's counts (read when metrics are scraped).
    pub fn observe_cold(&self, stats: crate::lists::source::ColdStats) {
        for (result, value) in [
            ("hit", stats.hits),
            ("miss", stats.misses),
            ("unavailable", stats.unavailable),
            ("eviction", stats.evictions),
            ("unreadable", stats.unreadable),
            ("filers_cut", stats.filers_cut),
        ] {
            self.cold_cache
                .with_label_values(&[result])
                .set(value as i64);
        }
    }

    /// Publishes the register's queue and spill file (read when metrics are scraped).
    pub fn observe_register(&self, status: &crate::register::RegisterStatus) {
        self.register_queue
            .set(i64::try_from(status.queued).unwrap_or(i64::MAX));
        self.register_spill
            .set(i64::try_from(status.spill_pending).unwrap_or(i64::MAX));
    }

    pub fn reload_result(&self, ok: bool) -> IntCounter {
        self.reloads
            .with_label_values(&[if ok { "success" } else { "failure" }])
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        if TextEncoder::new().encode(&families, &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Metric definitions are constants; an error here is a programming error caught by any test.
fn valid<T>(result: prometheus::Result<T>) -> T {
    result.unwrap_or_else(|err| unreachable!("invalid metric definition: {err}"))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
