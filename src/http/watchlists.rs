//! Supervision watchlists (自动监管), each a department's own:
//! - `PUT /v1/watchlists/{name}` `{"subjects": [{"id": …}, …]}` creates or replaces one, its
//!   body read and parsed as it streams in (never held whole), up to its own size limit;
//! - `GET /v1/watchlists` lists the department's, `GET /v1/watchlists/{name}` shows one with
//!   its counts, `DELETE /v1/watchlists/{name}` removes it;
//! - `GET /v1/watchlists/{name}/hits?matter=…` screens it: the subjects on it that are listed
//!   in the matter, as a batch decision's results, a page at a time, with the counts of the
//!   whole watchlist.
//!
//! A department reaches only its own watchlists: another's name answers 404, as a name no one
//! has. With the API open (no keys) there is one department, the anonymous one.

use std::io::Read;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::admission::Held;
use super::body;
use super::decide::{self, Items};
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::view::RuleSetView;
use super::AppState;
use crate::ident::{self, SubjectId};
use crate::keys::Caller;
use crate::timestamp::Timestamp;
use crate::watchlists::{
    check_name, subject_of, Owner, TooMany, Upload, Watchlist, WatchlistError, Watchlists,
};

/// Hits a page shows unless the query asks for fewer or more (at most `--max-batch`).
const DEFAULT_HITS: usize = 1000;
/// Chunks of an upload's body waiting for the parser.
const QUEUED_CHUNKS: usize = 16;

/// The caller's department (the anonymous one, empty, when the API is open) and key id.
fn caller(req: &HttpRequest) -> (Option<Caller>, String) {
    let caller = req.extensions().get::<Caller>().cloned();
    let department = caller
        .as_ref()
        .map(|caller| caller.department.clone())
        .unwrap_or_default();
    (caller, department)
}

fn watchlists(state: &AppState) -> Result<&Arc<Watchlists>, ApiError> {
    state
        .service
        .watchlists()
        .ok_or_else(|| ApiError::Internal("the service holds no watchlists".into()))
}

/// The name in the path, checked.
fn name(path: &str) -> Result<&str, ApiError> {
    check_name(path).map_err(|why| ApiError::InvalidRequest(vec![FieldError::new("name", why)]))?;
    Ok(path)
}

impl From<WatchlistError> for ApiError {
    fn from(err: WatchlistError) -> ApiError {
        ApiError::WatchlistStoreUnavailable(err.to_string())
    }
}

/// A watchlist as the API shows it: its counts, not its subjects.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Watchlist)]
struct WatchlistView<'a> {
    name: &'a str,
    /// The department that owns it (`null`: the anonymous one of an open API).
    department: Option<&'a str>,
    /// Subjects on it, each once.
    subjects: usize,
    /// Subjects by kind (`enterprise`, `person`, …).
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    by_kind: &'a std::collections::BTreeMap<&'static str, u64>,
    /// Subjects the upload named more than once, stored once.
    duplicates_dropped: u64,
    updated_at: String,
    /// The id of the key that uploaded it (`null` when the API is open).
    updated_by: Option<&'a str>,
}

impl<'a> WatchlistView<'a> {
    fn of(list: &'a Watchlist) -> WatchlistView<'a> {
        WatchlistView {
            name: &list.name,
            department: Some(list.department.as_str()).filter(|d| !d.is_empty()),
            subjects: list.len(),
            by_kind: &list.by_kind,
            duplicates_dropped: list.duplicates,
            updated_at: list.updated_at.to_string(),
            updated_by: list.updated_by.as_deref(),
        }
    }
}

/// `PUT /v1/watchlists/{name}`.
#[utoipa::path(
    put,
    path = "/v1/watchlists/{name}",
    tag = "watchlists",
    description = "Creates or replaces the department's watchlist `name` (up to \
                   --watchlist-max-subjects subjects, a body of up to \
                   --watchlist-max-body-bytes, read as it streams in). Every identifier must \
                   parse, or nothing is stored; a subject given twice is stored once.",
    params(("name" = String, Path, description = "1 to 64 of A-Z a-z 0-9 _ . -")),
    request_body(content = serde_json::Value, example = json!({
        "subjects": [{"id": "91230200MA1B2C3D8T"}, {"id": "230202198503121238"}]})),
    responses(
        (status = 201, description = "Created", body = WatchlistView),
        (status = 200, description = "Replaced", body = WatchlistView),
    ),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidWatchlist,
        ProblemKind::WatchlistTooLarge,
        ProblemKind::WatchlistStoreUnavailable,
    ])))),
)]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = name(&path)?.to_owned();
    let lists = Arc::clone(watchlists(&state)?);
    body::is_json(&req)?;
    // An upload holds a batch's slot: its keys, up to the limit's, stay in memory until stored.
    let slot = state.admission.batch(&state)?;
    let limit = lists.max_body_bytes;
    body::declared_within(&req, limit)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUED_CHUNKS);
    let max_subjects = lists.max_subjects;
    let parsing = tokio::task::spawn_blocking(move || read_upload(rx, max_subjects));
    let mut received = 0usize;
    let mut failed = None;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                failed = Some(body::unreadable(&req, err));
                break;
            }
        };
        received += chunk.len();
        if received > limit {
            failed = Some(ApiError::PayloadTooLarge { limit });
            break;
        }
        // The parser stopped (the body is wrong): its reason is the answer.
        if tx.send(chunk).await.is_err() {
            break;
        }
    }
    drop(tx);
    let parsed = parsing
        .await
        .map_err(|err| ApiError::Internal(format!("the upload's parser failed: {err}")))?;
    if let Some(failed) = failed {
        return Err(failed);
    }
    let upload = parsed?;
    let (caller, department) = caller(&req);
    let owner = Owner {
        department,
        name,
        updated_by: caller.map(|caller| caller.key_id),
    };
    let list =
        upload
            .finish(owner, Timestamp::now())
            .map_err(|refused| ApiError::InvalidWatchlist {
                errors: refused
                    .invalid
                    .into_iter()
                    .map(|(field, message)| FieldError::new(field, message))
                    .collect(),
                invalid: refused.invalid_count,
            })?;
    let stored = Arc::new(list);
    let (writer, written) = (Arc::clone(&lists), Arc::clone(&stored));
    let replaced = web::block(move || writer.put(written))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))??;
    let body = serde_json::to_vec(&WatchlistView::of(&stored))
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let mut response = if replaced {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    if !replaced {
        response.insert_header((header::LOCATION, format!("/v1/watchlists/{}", stored.name)));
    }
    Ok(response
        .content_type("application/json")
        .body(Held::with_slot(body, slot)))
}

/// Why an upload was not read: its body is not a watchlist, or it has too many subjects.
fn read_upload(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    max_subjects: usize,
) -> Result<Upload, ApiError> {
    let reader = std::io::BufReader::with_capacity(
        64 * 1024,
        Chunks {
            rx,
            current: Bytes::new(),
        },
    );
    let mut reading = Reading {
        upload: Upload::new(max_subjects),
        problems: Vec::new(),
        too_many: None,
    };
    let mut json = serde_json::Deserializer::from_reader(reader);
    let parsed = RootSeed(&mut reading)
        .deserialize(&mut json)
        .and_then(|()| json.end());
    if let Some(TooMany { limit }) = reading.too_many {
        return Err(ApiError::WatchlistTooLarge { limit });
    }
    parsed.map_err(|err| ApiError::InvalidJson(err.to_string()))?;
    if !reading.problems.is_empty() {
        return Err(ApiError::InvalidRequest(reading.problems));
    }
    Ok(reading.upload)
}

/// The body's chunks as they arrive, read as one stream; it ends when the sender is dropped.
struct Chunks {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// What reading an upload has found so far.
struct Reading {
    upload: Upload,
    /// What is wrong with the body's shape (a member it does not have, …).
    problems: Vec<FieldError>,
    too_many: Option<TooMany>,
}

/// A seed that reads a value of any JSON type with itself as the visitor.
macro_rules! seed_of_any {
    ($seed:ident) => {
        impl<'de> DeserializeSeed<'de> for $seed<'_> {
            type Value = ();

            fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
                deserializer.deserialize_any(self)
            }
        }
    };
}

/// The visits of JSON's scalar types (every type but objects and arrays), each answering
/// `$answer` with `$found` naming the type as a problem does.
macro_rules! scalars {
    ($value:ty, |$this:ident, $found:ident| $answer:expr) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<$value, E> {
            let ($this, $found) = (self, "a string");
            $answer
        }

        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<$value, E> {
            let ($this, $found) = (self, "a number");
            $answer
        }

        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<$value, E> {
            let ($this, $found) = (self, "a number");
            $answer
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<$value, E> {
            let ($this, $found) = (self, "a number");
            $answer
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<$value, E> {
            let ($this, $found) = (self, "a boolean");
            $answer
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<$value, E> {
            let ($this, $found) = (self, "null");
            $answer
        }
    };
}

/// The body: `{"subjects": [...]}`.
struct RootSeed<'r>(&'r mut Reading);

seed_of_any!(RootSeed);

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = members.next_key::<String>()? {
            match key.as_str() {
                "subjects" if seen => {
                    self.0.problems.push(FieldError::new(
                        "subjects",
                        "is given more than once; give each member once",
                    ));
                    members.next_value::<IgnoredAny>()?;
                }
                "subjects" => {
                    seen = true;
                    members.next_value_seed(SubjectsSeed(&mut *self.0))?;
                }
                other => {
                    self.0.problems.push(FieldError::new(
                        other,
                        "is not a member here; the members are subjects",
                    ));
                    members.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen {
            self.0
                .problems
                .push(FieldError::new("subjects", "is required"));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        self.0.wrong_type("(body)", "an object", "an array");
        Ok(())
    }

    scalars!((), |this, found| {
        this.0.wrong_type("(body)", "an object", found);
        Ok(())
    });
}

impl Reading {
    fn wrong_type(&mut self, field: &str, wanted: &str, found: &str) {
        self.problems.push(FieldError::new(
            field,
            format!("must be {wanted}, not {found}"),
        ));
    }

    /// Counts the next subject; past the limit, stops the parse.
    fn push<E: serde::de::Error>(
        &mut self,
        subject: Result<SubjectId, (String, String)>,
    ) -> Result<(), E> {
        self.upload.push(subject).map_err(|too_many| {
            self.too_many = Some(too_many);
            E::custom("the watchlist has too many subjects")
        })
    }
}

/// `[{"id": …}, …]`.
struct SubjectsSeed<'r>(&'r mut Reading);

seed_of_any!(SubjectsSeed);

impl<'de> Visitor<'de> for SubjectsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of subjects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        loop {
            let index = self.0.upload.read;
            let item = ItemSeed {
                reading: &mut *self.0,
                index,
            };
            if items.next_element_seed(item)?.is_none() {
                return Ok(());
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.0.wrong_type("subjects", "an array", "an object");
        Ok(())
    }

    scalars!((), |this, found| {
        this.0.wrong_type("subjects", "an array", found);
        Ok(())
    });
}

/// One subject, `{"id": "…"}`: counted once, valid or with what is wrong with it.
struct ItemSeed<'r> {
    reading: &'r mut Reading,
    index: u64,
}

seed_of_any!(ItemSeed);

impl ItemSeed<'_> {
    /// The item is not an object.
    fn not_object<E: serde::de::Error>(self, found: &str) -> Result<(), E> {
        let field = format!("subjects[{}]", self.index);
        let message = format!("must be an object {{\"id\": …}}, not {found}");
        self.reading.push(Err((field, message)))
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a subject {\"id\": …}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let mut id: Option<Result<SubjectId, String>> = None;
        let mut problem = None;
        while let Some(key) = members.next_key::<String>()? {
            if key == "id" && id.is_none() {
                id = Some(members.next_value::<IdValue>()?.0);
                continue;
            }
            members.next_value::<IgnoredAny>()?;
            let path = format!("subjects[{}].{key}", self.index);
            problem.get_or_insert(if key == "id" {
                (
                    path,
                    "is given more than once; give each member once".to_owned(),
                )
            } else {
                (
                    path,
                    "is not a member here; a subject is {\"id\": …}".to_owned(),
                )
            });
        }
        let id_path = || format!("subjects[{}].id", self.index);
        let subject = match (problem, id) {
            (Some(problem), _) => Err(problem),
            (None, None) => Err((id_path(), "is required".to_owned())),
            (None, Some(Err(why))) => Err((id_path(), why)),
            (None, Some(Ok(subject))) => Ok(subject),
        };
        self.reading.push(subject)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        self.not_object("an array")
    }

    scalars!((), |this, found| this.not_object(found));
}

/// A subject's `id`: the identifier the parser reads, or what is wrong with it.
struct IdValue(Result<SubjectId, String>);

impl<'de> Deserialize<'de> for IdValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IdValue, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl IdVisitor {
    fn not_string(found: &str) -> IdValue {
        IdValue(Err(format!("must be a string, not {found}")))
    }
}

impl<'de> Visitor<'de> for IdVisitor {
    type Value = IdValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an identifier")
    }

    fn visit_str<E>(self, id: &str) -> Result<IdValue, E> {
        Ok(IdValue(ident::parse(id).map_err(|err| err.to_string())))
    }

    fn visit_u64<E>(self, _: u64) -> Result<IdValue, E> {
        Ok(IdVisitor::not_string("a number"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<IdValue, E> {
        Ok(IdVisitor::not_string("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<IdValue, E> {
        Ok(IdVisitor::not_string("a number"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<IdValue, E> {
        Ok(IdVisitor::not_string("a boolean"))
    }

    fn visit_unit<E>(self) -> Result<IdValue, E> {
        Ok(IdVisitor::not_string("null"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<IdValue, A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(IdVisitor::not_string("an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<IdValue, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(IdVisitor::not_string("an array"))
    }
}

/// `GET /v1/watchlists/{name}`.
#[utoipa::path(
    operation_id = "get_watchlist",
    get,
    path = "/v1/watchlists/{name}",
    tag = "watchlists",
    description = "The department's watchlist `name` with its counts (not its subjects: the \
                   department holds them, and reading them back would only show persons' \
                   identifiers masked).",
    params(("name" = String, Path)),
    responses((status = 200, description = "The watchlist", body = WatchlistView)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::WatchlistNotFound,
    ])))),
)]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name(&path)?;
    let (_, department) = caller(&req);
    let list = watchlists(&state)?
        .get(&department, name)
        .ok_or_else(|| ApiError::WatchlistNotFound(name.to_owned()))?;
    Ok(HttpResponse::Ok().json(WatchlistView::of(&list)))
}

/// `GET /v1/watchlists`.
#[utoipa::path(
    operation_id = "list_watchlists",
    get,
    path = "/v1/watchlists",
    tag = "watchlists",
    description = "The department's watchlists, by name, each with its counts.",
    responses((status = 200, description = "The department's watchlists", content_type = "application/json", body = serde_json::Value)),
)]
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, department) = caller(&req);
    let lists = watchlists(&state)?.of(&department);
    let views: Vec<WatchlistView<'_>> = lists.iter().map(|list| WatchlistView::of(list)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "watchlists": views })))
}

/// `DELETE /v1/watchlists/{name}`.
#[utoipa::path(
    operation_id = "delete_watchlist",
    delete,
    path = "/v1/watchlists/{name}",
    tag = "watchlists",
    description = "Removes the department's watchlist `name`.",
    params(("name" = String, Path)),
    responses((status = 204, description = "Removed")),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::WatchlistNotFound,
        ProblemKind::WatchlistStoreUnavailable,
    ])))),
)]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name(&path)?.to_owned();
    let (_, department) = caller(&req);
    let lists = Arc::clone(watchlists(&state)?);
    let removing = name.clone();
    let removed = web::block(move || lists.delete(&department, &removing))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))??;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::WatchlistNotFound(name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HitsQuery {
    matter: String,
    as_of: Option<String>,
    limit: Option<usize>,
    /// The `next` of the page before.
    after: Option<String>,
}

/// Where a page of hits starts: after the hit at a position of the watchlist's revision.
fn read_after(after: Option<&str>, revision: &str) -> Result<Option<u32>, ApiError> {
    let Some(after) = after else {
        return Ok(None);
    };
    let bad = |why: &str| ApiError::InvalidRequest(vec![FieldError::new("after", why)]);
    let (of, position) = after
        .rsplit_once('.')
        .ok_or_else(|| bad("is not a cursor this service gave (a page's `next`)"))?;
    if of != revision {
        return Err(bad(
            "was given for an earlier upload of the watchlist, which has been replaced since; start again without `after`",
        ));
    }
    position
        .parse()
        .map(Some)
        .map_err(|_| bad("is not a cursor this service gave (a page's `next`)"))
}

/// The counts of a whole watchlist's screening.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WatchlistSummary)]
struct HitsSummary {
    /// Subjects on the watchlist.
    subjects: usize,
    /// Those listed in the matter (`allow` with reasons included).
    hits: usize,
    allow: u64,
    flag: u64,
    block: u64,
    /// Subjects that could not be decided (a resident ID failing its check digit and on no
    /// list): not listed.
    invalid: u64,
}

/// `GET /v1/watchlists/{name}/hits`.
#[utoipa::path(
    get,
    path = "/v1/watchlists/{name}/hits",
    tag = "watchlists",
    description = "Screens the department's watchlist `name` in a matter (双随机 screening): \
                   every subject is decided as a batch would be, and the subjects listed in \
                   the matter (a decision other than a plain allow without reasons) are \
                   returned, a page at a time, as batch results, with the counts of the whole \
                   watchlist. Each hit shown is recorded in the query register as a decision \
                   with case_ref `watchlist:<name>`.",
    params(
        ("name" = String, Path),
        ("matter" = String, Query, description = "The matter's code"),
        ("as_of" = Option<String>, Query, description = "Evaluate at this instant (RFC 3339 or a date)"),
        ("limit" = Option<usize>, Query, description = "Hits per page, 1 to --max-batch (default 1000)"),
        ("after" = Option<String>, Query, description = "The previous page's `next`"),
    ),
    responses((status = 200, description = "A page of hits and the counts of the whole watchlist", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::WatchlistNotFound,
        ProblemKind::UnknownMatter,
        ProblemKind::ReplayForbidden,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn hits(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HitsQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = name(&path)?;
    let (caller, department) = caller(&req);
    let list = watchlists(&state)?
        .get(&department, name)
        .ok_or_else(|| ApiError::WatchlistNotFound(name.to_owned()))?;
    let limit = query.limit.unwrap_or(DEFAULT_HITS);
    if limit == 0 || limit > state.limits.max_batch {
        return Err(ApiError::InvalidRequest(vec![FieldError::new(
            "limit",
            format!("must be from 1 to {}", state.limits.max_batch),
        )]));
    }
    let after = read_after(query.after.as_deref(), &list.revision)?;
    let snapshot = state.snapshot()?;
    let mut context = decide::query_context(
        &query.matter,
        query.as_of.as_deref(),
        &snapshot,
        decide::clock(&state),
    )?;
    context.department = Some(department).filter(|d| !d.is_empty());
    context.case_ref = Some(format!("watchlist:{}", list.name));
    context.request_id = crate::request_id::current();
    state.check_replay(&req, caller.as_ref(), context.replay)?;
    let slot = state.admission.batch(&state)?;
    let screened = state
        .service
        .screen(&snapshot, list.subjects(), context.matter, context.at)
        .await?;
    // The page: the hits after the cursor, at most `limit`.
    let from = after.map_or(0, |after| {
        screened.hits.partition_point(|hit| *hit <= after)
    });
    let page = &screened.hits[from..screened.hits.len().min(from + limit)];
    let next = (from + page.len() < screened.hits.len())
        .then(|| page.last().map(|last| format!("{}.{last}", list.revision)))
        .flatten();
    let ids: Vec<Option<SubjectId>> = page
        .iter()
        .map(|position| subject_of(list.subjects()[*position as usize]))
        .collect();
    let subjects: Vec<Result<SubjectId, ApiError>> = ids
        .iter()
        .map(|id| id.ok_or_else(|| ApiError::Internal("a stored key packs no identifier".into())))
        .collect();
    // A page without hits decides, and records, nothing.
    let results = if ids.is_empty() {
        Vec::new()
    } else {
        let cold = state.service.batch_holdings(&snapshot, &ids).await?;
        let items = Items {
            snapshot: &snapshot,
            context: &context,
            subjects: &subjects,
            ids: &ids,
            cold: &cold,
        };
        decide::write_results(&state, &items, caller)?.0
    };
    let [allow, flag, block] = screened.outcomes;
    let tail = serde_json::to_vec(&HitsTail {
        summary: HitsSummary {
            subjects: list.len(),
            hits: screened.hits.len(),
            allow,
            flag,
            block,
            invalid: screened.undecidable,
        },
        next,
        watchlist: &list.name,
        ruleset: RuleSetView::of(&snapshot),
        lists_version: snapshot.lists_version,
        evaluated_at: &context.evaluated_at,
        replay: context.replay,
    })
    .map_err(|err| ApiError::Internal(err.to_string()))?;
    let mut body = Vec::with_capacity(results.len() + tail.len() + 16);
    body.extend_from_slice(b"{\"results\":[");
    body.extend_from_slice(&results);
    body.extend_from_slice(b"],");
    body.extend_from_slice(&tail[1..]);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(Held::with_slot(body, slot)))
}

/// A hits page after its `results`.
#[derive(Serialize)]
struct HitsTail<'a> {
    summary: HitsSummary,
    /// The cursor of the next page (`after`), `null` on the last.
    next: Option<String>,
    watchlist: &'a str,
    ruleset: RuleSetView<'a>,
    lists_version: u64,
    evaluated_at: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replay: bool,
}
