//! Structured logs through `tracing`: human-readable text by default, JSON lines when asked.
//! Subject identifiers are never logged in full; log `SubjectId::masked()` (persons show only
//! their first six and last four characters).
//!
//! The HTTP framework logs every malformed request it refuses (a bare 400, or 431 for a head
//! too large) as an ERROR line of its own, so that any client could flood the log. Those events
//! are kept out of the log and counted instead; one WARN line reports them, with how many there
//! were and the last one, at most once every [`PROTOCOL_REPORT_EVERY`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, LevelFilter};
use tracing_subscriber::fmt::format::{self, Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogTime};
use crate::request_id::with_current;

/// How often malformed requests are reported at most.
const PROTOCOL_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Malformed requests the framework refused since start.
static PROTOCOL_ERRORS: AtomicU64 = AtomicU64::new(0);
/// The framework's message of the latest one.
static LAST_PROTOCOL_ERROR: Mutex<String> = Mutex::new(String::new());
/// The thread that reports them, woken by each.
static REPORTER: OnceLock<Thread> = OnceLock::new();

/// Malformed requests the HTTP framework refused since start, for `/metrics`.
pub fn protocol_errors() -> u64 {
    PROTOCOL_ERRORS.load(Ordering::Relaxed)
}

/// Installs the global subscriber; `filter` uses EnvFilter syntax (`info`, `jiangcheng=debug`).
/// Text lines carry their time on the clock `time` names; JSON lines in UTC.
pub fn init(format: LogFormat, time: LogTime, filter: &str) {
    // Both filters decide by callsite and carry a level hint, so that the framework's many
    // trace events stay disabled at their callsites, as under a single global filter.
    let logged = EnvFilter::try_new(filter)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .and(
            filter_fn(|metadata| !is_protocol_error(metadata))
                .with_max_level_hint(LevelFilter::TRACE),
        );
    let counted = ProtocolErrors
        .with_filter(filter_fn(is_protocol_error).with_max_level_hint(LevelFilter::ERROR));
    let registry = tracing_subscriber::registry().with(counted);
    // Colour only on a terminal: a log file or journal must not hold escape codes.
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => registry
            .with(
                layer
                    .event_format(LineFormat::Text(Clock(time)))
                    .with_filter(logged),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                layer
                    .fmt_fields(JsonFields::new())
                    .event_format(LineFormat::Json(
                        format::format().json().flatten_event(true),
                    ))
                    .with_filter(logged),
            )
            .try_init(),
    };
    if installed.is_ok() {
        let reporter = std::thread::Builder::new()
            .name("protocol-errors".into())
            .spawn(report_protocol_errors);
        if let Ok(handle) = reporter {
            let _ = REPORTER.set(handle.thread().clone());
        }
    }
}

/// Prints a log line's time, to the microsecond, on the clock it names.
struct Clock(LogTime);

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        use chrono::SecondsFormat::Micros;
        let now = chrono::Utc::now();
        let text = match self.0 {
            LogTime::Utc => now.to_rfc3339_opts(Micros, true),
            LogTime::Local => now
                .with_timezone(&chrono::Local)
                .to_rfc3339_opts(Micros, false),
            LogTime::Offset(offset) => now.with_timezone(&offset).to_rfc3339_opts(Micros, false),
        };
        w.write_str(&text)
    }
}

/// How a log line is written: the standard line, with the request being served named in it.
enum LineFormat {
    /// Text: the time on the clock given, the level, the request (`request{request_id=…}:`),
    /// then the standard line's target and fields.
    Text(Clock),
    /// JSON, with the request as the first member (`"request_id"`).
    Json(Format<Json>),
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let request = with_current(|request| request.cloned());
        match (self, request) {
            (LineFormat::Text(clock), request) => {
                clock.format_time(&mut writer)?;
                write!(writer, " {:>5} ", event.metadata().level().as_str())?;
                if let Some(id) = request {
                    write!(writer, "request{{request_id={id}}}: ")?;
                }
                format::format()
                    .without_time()
                    .with_level(false)
                    .format_event(ctx, writer, event)
            }
            (LineFormat::Json(json), None) => json.format_event(ctx, writer, event),
            (LineFormat::Json(json), Some(id)) => {
                let mut line = String::new();
                json.format_event(ctx, Writer::new(&mut line), event)?;
                // A request id is made of token characters: nothing in it to escape.
                match line.strip_prefix('{') {
                    Some(rest) => write!(writer, "{{\"request_id\":\"{id}\",{rest}"),
                    None => writer.write_str(&line),
                }
            }
        }
    }
}

/// An ERROR event of the framework's HTTP/1 connection handler: a request it refused.
fn is_protocol_error(metadata: &Metadata<'_>) -> bool {
    *metadata.level() == Level::ERROR && metadata.target().starts_with("actix_http::h1")
}

/// Counts the framework's protocol errors and wakes the reporter.
struct ProtocolErrors;

impl<S: Subscriber> Layer<S> for ProtocolErrors {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        PROTOCOL_ERRORS.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = LAST_PROTOCOL_ERROR.try_lock() {
            last.clear();
            event.record(&mut Message(&mut last));
        }
        if let Some(reporter) = REPORTER.get() {
            reporter.unpark();
        }
    }
}

/// Writes an event's message into a string.
struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            use std::fmt::Write;
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// Logs what has been counted since its last line, then waits out the interval: the first
/// malformed request is reported at once, a flood as one line every interval.
fn report_protocol_errors() {
    let mut reported = 0;
    loop {
        std::thread::park();
        let total = protocol_errors();
        if total == reported {
            continue;
        }
        let last = LAST_PROTOCOL_ERROR
            .lock()
            .map(|last| last.clone())
            .unwrap_or_default();
        tracing::warn!(
            count = total - reported,
            total,
            last = %last,
            "malformed HTTP requests refused by the framework (a bare 400, or 431, without a problem body); reported at most every {} s",
            PROTOCOL_REPORT_EVERY.as_secs()
        );
        reported = total;
        std::thread::sleep(PROTOCOL_REPORT_EVERY);
    }
}
