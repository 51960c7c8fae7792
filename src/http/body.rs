//! Request bodies: media type, size limit and simd-json parsing, then field-by-field extraction
//! that names every bad field in the problem it returns.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest};
use futures_util::{Stream, StreamExt};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use simd_json::prelude::*;
use simd_json::{BorrowedValue, Buffers, ValueType};

use super::problem::{ApiError, FieldError};
use crate::json_words::line_and_column;
pub use crate::json_words::plain_words;

pub type Object<'v> = simd_json::value::borrowed::Object<'v>;

thread_local! {
    /// simd-json's scratch buffers, reused per worker thread (allocating them per call costs
    /// several times the parse itself).
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Checks the media type and reads the body, refusing more than `limit` bytes.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    is_json(req)?;
    read_limited(req, payload, limit).await
}

/// Whether the request's body is JSON (`application/json` or `…+json`); 415 if not.
pub fn is_json(req: &HttpRequest) -> Result<(), ApiError> {
    // Compared without the lower-case copy `media_type` makes: this runs for every decision.
    let essence = essence(req).as_bytes();
    let json = essence.eq_ignore_ascii_case(b"application/json")
        || (essence.len() >= 5 && essence[essence.len() - 5..].eq_ignore_ascii_case(b"+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(content_type_shown(req)))
    }
}

/// The request's `Content-Type` as sent, for a message (`(none)` if it has none).
pub fn content_type_shown(req: &HttpRequest) -> String {
    match content_type(req) {
        "" => "(none)".to_owned(),
        sent => sent.to_owned(),
    }
}

fn content_type(req: &HttpRequest) -> &str {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The media type of a request's body without its parameters, in lower case (empty if none).
pub fn media_type(req: &HttpRequest) -> String {
    essence(req).to_ascii_lowercase()
}

/// The media type of a request's body without its parameters, as sent (empty if none).
fn essence(req: &HttpRequest) -> &str {
    let sent = content_type(req);
    // Cut at the first `;` found by memchr: `split` builds a searcher, for every decision.
    memchr::memchr(b';', sent.as_bytes())
        .map_or(sent, |at| &sent[..at])
        .trim()
}

/// Reads the body, whatever its media type, refusing more than `limit` bytes.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = declared_within(req, limit)?;
    let mut body = Vec::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| unreadable(req, err))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body's declared length (`Content-Length`), if it declares one; 413 if it is over
/// `limit`.
pub fn declared_within(req: &HttpRequest, limit: usize) -> Result<Option<usize>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(declared)
}

/// The problem of a body that could not be read: past its deadline, or malformed on the wire.
pub fn unreadable(req: &HttpRequest, err: PayloadError) -> ApiError {
    match &err {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            let limit = req
                .app_data::<web::Data<super::AppState>>()
                .map_or(Duration::ZERO, |state| state.limits.body_timeout);
            ApiError::BodyTimeout(limit)
        }
        _ => ApiError::InvalidJson(format!("the body could not be read: {err}")),
    }
}

/// A request body that must arrive whole before a deadline; past it, reading fails with
/// `TimedOut`, answered 408. The timer is armed only when a read has waited twice: the first
/// wait is usually the moment between the head and the body already in the connection's buffer,
/// and a timer for every request would cost more than the rest of admission.
pub(super) struct Deadline {
    payload: Rc<RefCell<Payload>>,
    deadline: tokio::time::Instant,
    /// Whether a read has waited once.
    waited: bool,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    /// `payload`, due `timeout` from now.
    pub(super) fn new(payload: Rc<RefCell<Payload>>, timeout: Duration) -> Deadline {
        Deadline {
            payload,
            deadline: tokio::time::Instant::now() + timeout,
            waited: false,
            timer: None,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = self.payload.borrow_mut().poll_next_unpin(cx) {
            return Poll::Ready(item);
        }
        if !self.waited {
            // Polled again soon, whether or not the connection brings more.
            self.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the body did not arrive in time",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Parses JSON in place (simd-json rewrites the buffer to unescape strings).
pub fn parse(body: &mut [u8]) -> Result<BorrowedValue<'_>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson("the body is empty".into()));
    }
    // simd-json may rewrite the buffer before it fails, and names its own internals: the
    // reason is told from the bytes as received. Only a body that is not a typed request
    // reaches here, so the copy is off the common path.
    let received = body.to_vec();
    BUFFERS
        .with(|buffers| simd_json::to_borrowed_value_with_buffers(body, &mut buffers.borrow_mut()))
        .map_err(|err| ApiError::InvalidJson(why_not_json(&received, err.index())))
}

/// Calls `f` with a copy of `body` that it may rewrite (a parse in place), in a buffer the
/// thread keeps for the next copy: a fresh one cost an allocation per request. A buffer grown
/// past [`KEPT_COPY_BYTES`] (a batch's body) is let go rather than kept.
pub fn on_copy<T>(body: &[u8], f: impl FnOnce(&mut [u8]) -> T) -> T {
    thread_local! {
        static COPY: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }
    // Taken for the call, so that a copy made within `f` gets a buffer of its own.
    let mut copy = COPY.take();
    copy.extend_from_slice(body);
    let out = f(&mut copy);
    if copy.capacity() <= KEPT_COPY_BYTES {
        copy.clear();
        COPY.set(copy);
    }
    out
}

/// The largest buffer [`on_copy`] keeps for the thread's next copy.
const KEPT_COPY_BYTES: usize = 64 * 1024;

/// Parses JSON in place straight into `T`, or `None` if it does not describe a `T` (including
/// JSON that is not valid, or not UTF-8, anywhere). No error is named: a caller that needs one
/// parses the original as a value.
pub fn parse_typed<'a, T: serde::Deserialize<'a>>(body: &'a mut [u8]) -> Option<T> {
    BUFFERS
        .with(|buffers| simd_json::serde::from_slice_with_buffers(body, &mut buffers.borrow_mut()))
        .ok()
}

/// What is wrong with `body`, which is not valid JSON, in plain words with a line and column
/// (`fallback` is where simd-json stopped, for JSON it refuses and serde_json would take).
fn why_not_json(body: &[u8], fallback: usize) -> String {
    if let Err(err) = std::str::from_utf8(body) {
        let (line, column) = line_and_column(body, err.valid_up_to());
        return format!("text that is not UTF-8 at line {line}, column {column}");
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Err(err) => plain_words(body, &err),
        Ok(_) => {
            let (line, column) = line_and_column(body, fallback.min(body.len()));
            format!("a value this service does not accept at line {line}, column {column}")
        }
    }
}

/// The JSON type of a value, as a person reading the API would name it.
pub fn type_name(value: &BorrowedValue<'_>) -> &'static str {
    match value.value_type() {
        ValueType::Null => "null",
        ValueType::Bool => "a boolean",
        ValueType::String => "a string",
        ValueType::Array => "an array",
        ValueType::Object => "an object",
        _ => "a number",
    }
}

/// The top-level object of a body.
pub fn root<'a, 'v>(value: &'a BorrowedValue<'v>) -> Result<&'a Object<'v>, ApiError> {
    value.as_object().ok_or_else(|| {
        ApiError::InvalidRequest(vec![FieldError::new(
            "(body)",
            format!("must be an object, not {}", type_name(value)),
        )])
    })
}

/// Collects field errors while a request is read, so one answer names every bad field.
#[derive(Default)]
pub struct Fields {
    pub errors: Vec<FieldError>,
}

impl Fields {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// An optional string member; a member of another type is an error.
    pub fn opt_str<'a>(
        &mut self,
        object: &'a Object<'_>,
        key: &str,
        path: &str,
    ) -> Option<&'a str> {
        match object.get(key) {
            None => None,
            Some(value) if value.is_null() => None,
            Some(value) => match value.as_str() {
                Some(text) => Some(text),
                None => {
                    self.push(path, format!("must be a string, not {}", type_name(value)));
                    None
                }
            },
        }
    }

    /// A required string member.
    pub fn str<'a>(&mut self, object: &'a Object<'_>, key: &str, path: &str) -> Option<&'a str> {
        if object.get(key).is_none_or(|v| v.is_null()) {
            self.push(path, "is required");
            return None;
        }
        self.opt_str(object, key, path)
    }

    /// A required object member.
    pub fn object<'a, 'v>(
        &mut self,
        object: &'a Object<'v>,
        key: &str,
        path: &str,
    ) -> Option<&'a Object<'v>> {
        match object.get(key) {
            None => {
                self.push(path, "is required");
                None
            }
            Some(value) => value.as_object().or_else(|| {
                self.push(path, format!("must be an object, not {}", type_name(value)));
                None
            }),
        }
    }

    /// A required array member.
    pub fn array<'a, 'v>(
        &mut self,
        object: &'a Object<'v>,
        key: &str,
        path: &str,
    ) -> Option<&'a [BorrowedValue<'v>]> {
        match object.get(key) {
            None => {
                self.push(path, "is required");
                None
            }
            Some(value) => match value.as_array() {
                Some(items) => Some(items.as_slice()),
                None => {
                    self.push(path, format!("must be an array, not {}", type_name(value)));
                    None
                }
            },
        }
    }

    /// Names every key given more than once in one object of `body`, at any depth, by its path
    /// (`subjects[2].id`). The parsed value cannot tell: simd-json keeps both occurrences of a
    /// key in a small object and only the last in a large one, so the text itself is walked.
    /// Text that is not JSON adds nothing here; parsing it names the problem.
    pub fn duplicate_keys(&mut self, body: &[u8]) {
        let mut json = serde_json::Deserializer::from_slice(body);
        let walk = DuplicateKeys {
            path: String::new(),
            fields: self,
        };
        // A body the walk cannot finish (one nested past serde_json's limit, in a batch item
        // that is otherwise only that item's error) could hide a repeated key after that
        // point, so it is refused rather than read as checked.
        if let Err(err) = walk.deserialize(&mut json) {
            self.push(
                "(body)",
                format!("could not be checked for members given more than once: {err}"),
            );
        }
    }

    /// Names every member of `object` (at `path`, empty for the root) that is not one of
    /// `known`.
    pub fn unknown_members(&mut self, object: &Object<'_>, path: &str, known: &[&str]) {
        for key in object.keys() {
            if !known.contains(&key.as_ref()) {
                self.push(
                    member_path(path, key),
                    format!("is not a member here; the members are {}", known.join(", ")),
                );
            }
        }
    }

    /// Ends extraction: the errors as one problem, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidRequest(self.errors))
        }
    }
}

/// `path.key`, or `key` at the root.
fn member_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A walk over one JSON value at `path` that pushes every repeated key to `fields`.
struct DuplicateKeys<'f> {
    path: String,
    fields: &'f mut Fields,
}

impl<'de> DeserializeSeed<'de> for DuplicateKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateKeys<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let item = DuplicateKeys {
                path: format!("{}[{index}]", self.path),
                fields: &mut *self.fields,
            };
            if items.next_element_seed(item)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let (mut seen, mut repeated) = (HashSet::new(), HashSet::new());
        while let Some(key) = members.next_key::<String>()? {
            let path = member_path(&self.path, &key);
            if !seen.insert(key.clone()) && repeated.insert(key) {
                self.fields.push(
                    path.clone(),
                    "is given more than once; give each member once",
                );
            }
            members.next_value_seed(DuplicateKeys {
                path,
                fields: &mut *self.fields,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::on_copy;

    #[test]
    fn a_copy_holds_the_body_and_one_made_within_it_has_a_buffer_of_its_own() {
        let (outer, inner) = on_copy(b"outer", |copy| {
            let inner = on_copy(b"in", |inner| {
                inner[0] = b'I';
                inner.to_vec()
            });
            copy[0] = b'O';
            (copy.to_vec(), inner)
        });
        assert_eq!(
            (outer.as_slice(), inner.as_slice()),
            (&b"Outer"[..], &b"In"[..])
        );
        // The buffer kept from before holds nothing of those bodies.
        assert_eq!(on_copy(b"x", |copy| copy.to_vec()), b"x");
        let large = vec![b'7'; 100_000];
        assert_eq!(on_copy(&large, |copy| copy.len()), large.len());
        assert_eq!(on_copy(b"", |copy| copy.len()), 0);
    }
}
