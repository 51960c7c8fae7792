//! Integration tests of the HTTP API (DESIGN.md §2–§6) and of the binary: one test binary,
//! `cargo test --test api`.
//!
//! Most tests start the real server in-process on a loopback port chosen by the OS
//! (`helpers::spawn_app`); the process-level tests (`process`) run the built binary.
//! Golden case sets live in `tests/golden/*.json` and are run by `golden`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod auth;
mod batch;
mod catalog;
mod decide;
mod demo;
mod errors;
mod golden;
mod helpers;
mod identifiers;
mod limits;
mod process;
mod redis;
mod register;
mod reload;
mod serve_limits;
mod subjects;
