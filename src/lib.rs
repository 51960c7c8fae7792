//! jiangcheng (奖惩): decides, in well under a millisecond, whether a company or a person may
//! proceed with a government business matter — allow, flag or block — with the reasons and the
//! incentives that apply, for a city credit platform's joint incentive and punishment system.
//!
//! # Layout
//! - [`ident`]: USCC and resident-ID normalisation, validation and packing into integer keys.
//! - [`ruleset`]: the rule-set files (lists, measures, matters, topics), validated and compiled.
//! - [`lists`]: list entries, the in-memory index, the JSON Lines source and the generator.
//! - [`engine`]: the pure decision (no I/O, no clock) and batches on rayon.
//! - [`events`]: changes to the lists as events, for the push and the change feed.
//! - [`push`]: departments' subscriptions and the signed delivery of events to them.
//! - [`snapshot`]: rules and lists behind one atomically swapped pointer; reloads.
//! - [`app`]: the running service: snapshots, metrics, register, keys and counters behind
//!   one facade that decides, profiles and administers the lists.
//! - [`startup`]: building the service and running it: first load, reload signals, follower,
//!   orderly stop.
//! - [`http`]: the v1 API on actix-web, problem+json errors, metrics middleware.
//! - [`keys`]: callers' API keys, their scopes and rate limits.
//! - [`config`], [`telemetry`], [`metrics`]: settings, logs, Prometheus.
//! - `json_words`: bodies that are not valid JSON, said in plain words.
//! - [`request_id`]: the id a request goes by in its answer, logs and register records.
//! - [`redis_client`]: what every Redis client of the service shares.
//! - [`sheets`]: bidder lists read from CSV or Excel files into the subjects of a batch.
//! - [`indicators`]: the monthly monitoring indicators, computed from the lists, what the list
//!   source keeps of their past, and the register.
//! - [`watchlists`]: departments' supervision watchlists, in files or Redis, held in memory.

pub mod app;
pub mod commitments;
pub mod config;
mod durable;
pub mod engine;
pub mod events;
pub mod http;
pub mod ident;
pub mod indicators;
mod json_words;
pub mod keys;
pub mod lists;
pub mod metrics;
pub mod push;
pub mod redis_client;
pub mod register;
pub mod request_id;
pub mod ruleset;
pub mod sheets;
pub mod snapshot;
pub mod startup;
pub mod telemetry;
pub mod timestamp;
pub mod watchlists;
