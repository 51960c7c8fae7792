//! Structured logs through `tracing`: human-readable text by default, JSON lines when asked.
//! Subject identifiers are never logged in full; log `SubjectId::masked()` (persons show only
//! their first six and last four characters).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; `filter` uses EnvFilter syntax (`info`, `jiangcheng=debug`).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
