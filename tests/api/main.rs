//! Integration tests of the HTTP API (docs/api.md) and of the binary: one test binary,
//! `cargo test --test api`.
//!
//! Most tests start the real server in-process on a loopback port chosen by the OS
//! (`helpers::spawn_app`); the process-level tests (`process`) run the built binary.
//! Golden case sets live in `tests/golden/*.json` and are run by `golden`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking, with the message saying what was expected"
)]

mod access;
mod admin;
mod anywhere;
mod auth;
mod batch;
mod catalog;
mod cli;
mod cluster;
mod commitments;
mod console;
mod conventions;
mod decide;
mod decide_cli;
mod demo;
mod departments;
mod deploy;
mod errors;
mod export_files;
mod follow;
mod golden;
mod helpers;
mod identifiers;
mod indicators;
mod keys_reload;
mod languages;
mod legacy_ids;
mod limits;
mod list_bom;
mod lists_snapshot;
mod openapi;
mod privacy;
mod process;
mod push;
mod redis;
mod register;
mod register_disk;
mod register_shards;
mod reload;
mod requests;
mod scores;
mod sentinel;
mod serve_limits;
mod startup;
mod subject_lists;
mod subjects;
mod watchlists;
