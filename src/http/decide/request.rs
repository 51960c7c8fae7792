//! Reading decision requests. A well-formed body, the common case, is parsed straight into
//! borrowed strings (simd-json's serde parse, of a copy, since it rewrites what it parses).
//! Anything else (a missing or mistyped member, a repeated key, a member the endpoint does not
//! have, bad JSON) fails that parse and the original is read as a simd-json value, field by
//! field, so that every problem is named. Both readings end in the same checks, so a request
//! gets the same answer either way; the typed one skips building the value's maps.
//!
//! A request means one thing: a repeated key is refused rather than resolved (proxies and
//! clients in other languages keep the last occurrence where a reader might keep the first),
//! and so is a member the endpoint does not know (a misspelt `department` would otherwise be
//! dropped without a word).

use rayon::prelude::*;
use serde::Deserialize;
use simd_json::prelude::*;
use simd_json::BorrowedValue;

use std::time::Duration;

use super::super::body::{self, Fields, Object};
use super::super::problem::{ApiError, FieldError};
use crate::engine;
use crate::ident::{self, IdType, SubjectId};
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// Longest `department` and `case_ref` accepted (they are recorded, not interpreted).
const MAX_LABEL_LEN: usize = 128;

pub(in crate::http) use crate::app::DecisionContext as Context;

/// The members of a decision request's root, a batch's, and a subject's.
const DECIDE_MEMBERS: [&str; 5] = ["subject", "matter", "as_of", "department", "case_ref"];
const BATCH_MEMBERS: [&str; 5] = ["subjects", "matter", "as_of", "department", "case_ref"];
const SUBJECT_MEMBERS: [&str; 2] = ["id", "id_type"];

/// A batch's items: each subject, or why it cannot be decided.
pub type Subjects = Vec<Result<SubjectId, ApiError>>;

/// The server's clock and how far from it `as_of` may be before a decision is a replay.
#[derive(Debug, Clone, Copy)]
pub(in crate::http) struct Clock {
    pub now: Timestamp,
    pub max_as_of_skew: Duration,
}

/// Reads and checks a `POST /v1/decide` body.
pub(super) fn read_decide(
    body: &mut [u8],
    snapshot: &Snapshot,
    clock: Clock,
) -> Result<(SubjectId, Context), ApiError> {
    let typed = body::on_copy(body, |copy| {
        let request = body::parse_typed::<TypedDecide>(copy)?;
        let mut fields = Fields::default();
        let subject = subject_from(
            &mut fields,
            Some(request.subject.id),
            request.subject.id_type,
            "subject.id",
            "subject.id_type",
        );
        let context = context_from(&mut fields, request.members(), snapshot, clock);
        Some(finish_decide(fields, subject, context))
    });
    typed.unwrap_or_else(|| read_decide_value(body, snapshot, clock))
}

fn read_decide_value(
    body: &mut [u8],
    snapshot: &Snapshot,
    clock: Clock,
) -> Result<(SubjectId, Context), ApiError> {
    let mut fields = Fields::default();
    fields.duplicate_keys(body);
    let value = body::parse(body)?;
    let root = body::root(&value)?;
    fields.unknown_members(root, "", &DECIDE_MEMBERS);
    let subject = fields.object(root, "subject", "subject").and_then(|s| {
        fields.unknown_members(s, "subject", &SUBJECT_MEMBERS);
        read_subject(&mut fields, s, "subject.id", "subject.id_type")
    });
    let context = read_context(&mut fields, root, snapshot, clock);
    finish_decide(fields, subject, context)
}

/// Reads and checks a `POST /v1/decide/batch` body of at most `max_batch` subjects.
pub(super) fn read_batch(
    body: &mut [u8],
    snapshot: &Snapshot,
    max_batch: usize,
    clock: Clock,
) -> Result<(Subjects, Context), ApiError> {
    let mut copy = body.to_vec();
    if let Some(request) = body::parse_typed::<TypedBatch>(&mut copy) {
        let mut fields = Fields::default();
        let context = context_from(&mut fields, request.members(), snapshot, clock);
        check_count(&mut fields, request.subjects.len(), max_batch)?;
        let context = finish_batch(fields, context)?;
        return Ok((read_items(&request.subjects, typed_item), context));
    }
    read_batch_value(body, snapshot, max_batch, clock)
}

fn read_batch_value(
    body: &mut [u8],
    snapshot: &Snapshot,
    max_batch: usize,
    clock: Clock,
) -> Result<(Subjects, Context), ApiError> {
    let mut fields = Fields::default();
    fields.duplicate_keys(body);
    let value = body::parse(body)?;
    let root = body::root(&value)?;
    fields.unknown_members(root, "", &BATCH_MEMBERS);
    let items = fields.array(root, "subjects", "subjects");
    let context = read_context(&mut fields, root, snapshot, clock);
    if let Some(items) = items {
        check_count(&mut fields, items.len(), max_batch)?;
        // A member an item does not have is the request's mistake, as at the root; an item
        // that is not an object at all is that item's.
        for (i, item) in items.iter().enumerate() {
            if let Some(object) = item.as_object() {
                fields.unknown_members(object, &format!("subjects[{i}]"), &SUBJECT_MEMBERS);
            }
        }
    }
    let context = finish_batch(fields, context)?;
    let Some(items) = items else {
        unreachable!("fields.finish() refuses a batch without subjects")
    };
    Ok((read_items(items, value_item), context))
}

/// A well-formed decision request, its strings borrowed from the body. A member it does not
/// have, or one given twice, fails this parse (serde refuses a repeated field), and the body is
/// read as a value, which names the problem.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DecideRequest)]
pub(super) struct TypedDecide<'a> {
    #[serde(borrow)]
    subject: TypedSubject<'a>,
    matter: &'a str,
    #[serde(borrow)]
    as_of: Option<&'a str>,
    #[serde(borrow)]
    department: Option<&'a str>,
    #[serde(borrow)]
    case_ref: Option<&'a str>,
}

/// A well-formed batch request, as [`TypedDecide`].
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BatchRequest)]
pub(super) struct TypedBatch<'a> {
    #[serde(borrow)]
    subjects: Vec<TypedSubject<'a>>,
    matter: &'a str,
    #[serde(borrow)]
    as_of: Option<&'a str>,
    #[serde(borrow)]
    department: Option<&'a str>,
    #[serde(borrow)]
    case_ref: Option<&'a str>,
}

/// A subject by its identifier; `id_type` names the identifier's type when the digits alone
/// leave it open.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SubjectRequest)]
struct TypedSubject<'a> {
    id: &'a str,
    #[serde(borrow)]
    id_type: Option<&'a str>,
}

impl<'a> TypedDecide<'a> {
    fn members(&self) -> ContextMembers<'a> {
        ContextMembers {
            matter: Some(self.matter),
            as_of: self.as_of,
            department: self.department,
            case_ref: self.case_ref,
        }
    }
}

impl<'a> TypedBatch<'a> {
    fn members(&self) -> ContextMembers<'a> {
        ContextMembers {
            matter: Some(self.matter),
            as_of: self.as_of,
            department: self.department,
            case_ref: self.case_ref,
        }
    }
}

/// The context members of a request as sent; `None` where absent, or where reading the member
/// already reported it.
struct ContextMembers<'a> {
    matter: Option<&'a str>,
    as_of: Option<&'a str>,
    department: Option<&'a str>,
    case_ref: Option<&'a str>,
}

/// Reads `matter`, `as_of`, `department` and `case_ref` from a value.
fn read_context(
    fields: &mut Fields,
    root: &Object<'_>,
    snapshot: &Snapshot,
    clock: Clock,
) -> Option<Result<Context, ApiError>> {
    let members = ContextMembers {
        matter: fields.str(root, "matter", "matter"),
        as_of: fields.opt_str(root, "as_of", "as_of"),
        department: fields.opt_str(root, "department", "department"),
        case_ref: fields.opt_str(root, "case_ref", "case_ref"),
    };
    context_from(fields, members, snapshot, clock)
}

/// Checks the context members; an unknown matter is a 422, not a 400.
fn context_from(
    fields: &mut Fields,
    members: ContextMembers<'_>,
    snapshot: &Snapshot,
    clock: Clock,
) -> Option<Result<Context, ApiError>> {
    let as_of = members.as_of.and_then(|text| match Timestamp::parse(text) {
        Ok(at) => Some(at),
        Err(err) => {
            fields.push("as_of", err.to_string());
            None
        }
    });
    let mut label = |key: &str, text: Option<&str>| {
        let text = text?;
        if text.len() > MAX_LABEL_LEN {
            fields.push(key, format!("is longer than {MAX_LABEL_LEN} bytes"));
            return None;
        }
        Some(text.to_owned())
    };
    let department = label("department", members.department);
    let case_ref = label("case_ref", members.case_ref);
    let matter = members.matter?;
    Some(match snapshot.rules.matter_id(matter) {
        Some(matter) => {
            let skew = u64::try_from(clock.max_as_of_skew.as_millis()).unwrap_or(u64::MAX);
            let at = as_of.unwrap_or(clock.now);
            Ok(Context {
                matter,
                at,
                evaluated_at: at.printed(),
                department,
                case_ref,
                replay: at.0.abs_diff(clock.now.0) > skew,
                request_id: None,
            })
        }
        None => Err(ApiError::UnknownMatter(matter.to_owned())),
    })
}

/// The context of decisions a query string asks for: its `matter` and `as_of` (the
/// department and case reference are the caller's to set).
pub(in crate::http) fn query_context(
    matter: &str,
    as_of: Option<&str>,
    snapshot: &Snapshot,
    clock: Clock,
) -> Result<Context, ApiError> {
    let mut fields = Fields::default();
    let members = ContextMembers {
        matter: Some(matter),
        as_of,
        department: None,
        case_ref: None,
    };
    let context = context_from(&mut fields, members, snapshot, clock);
    fields.finish()?;
    context.unwrap_or_else(|| Err(ApiError::UnknownMatter(matter.to_owned())))
}

/// Reads `{"id": …, "id_type": …}` from a value, whose members' paths are given for messages.
fn read_subject(
    fields: &mut Fields,
    subject: &Object<'_>,
    id_path: &str,
    type_path: &str,
) -> Option<Result<SubjectId, FieldError>> {
    let id = fields.str(subject, "id", id_path);
    let id_type = fields.opt_str(subject, "id_type", type_path);
    subject_from(fields, id, id_type, id_path, type_path)
}

/// Checks a subject's members: `None` when a problem was pushed to `fields`, `Some(Err)` when
/// the identifier itself is malformed.
fn subject_from(
    fields: &mut Fields,
    id: Option<&str>,
    id_type: Option<&str>,
    id_path: &str,
    type_path: &str,
) -> Option<Result<SubjectId, FieldError>> {
    let id_type = id_type.and_then(|t| match t.parse::<IdType>() {
        Ok(id_type) => Some(id_type),
        Err(_) => {
            fields.push(
                type_path,
                format!(
                    "must be `uscc`, `resident_id`, `org_code` or `registration_number`, not `{t}`"
                ),
            );
            None
        }
    });
    let id = id?;
    let parsed = match id_type {
        Some(id_type) => ident::parse_as(id, id_type),
        None => ident::parse(id),
    };
    Some(parsed.map_err(|err| FieldError::new(id_path, err.to_string())))
}

/// One answer for a single request: every field problem together (a malformed identifier among
/// them), or else the malformed identifier alone, or the unknown matter.
fn finish_decide(
    mut fields: Fields,
    subject: Option<Result<SubjectId, FieldError>>,
    context: Option<Result<Context, ApiError>>,
) -> Result<(SubjectId, Context), ApiError> {
    if let Some(Err(bad_id)) = &subject {
        if !fields.errors.is_empty() {
            fields.errors.push(bad_id.clone());
        }
    }
    fields.finish()?;
    let (Some(subject), Some(context)) = (subject, context) else {
        unreachable!("fields.finish() refuses a request with a missing part")
    };
    Ok((subject.map_err(ApiError::InvalidSubjectId)?, context?))
}

/// A batch must hold at least one subject, and a batch over the limit is refused whole.
fn check_count(fields: &mut Fields, count: usize, max_batch: usize) -> Result<(), ApiError> {
    if count == 0 {
        fields.push("subjects", "must hold at least one subject");
    }
    if count > max_batch {
        return Err(ApiError::BatchTooLarge {
            got: count,
            limit: max_batch,
        });
    }
    Ok(())
}

fn finish_batch(
    fields: Fields,
    context: Option<Result<Context, ApiError>>,
) -> Result<Context, ApiError> {
    fields.finish()?;
    let Some(context) = context else {
        unreachable!("fields.finish() refuses a request without a matter")
    };
    context
}

/// Reads every item, on rayon's threads for a large batch.
fn read_items<T: Sync>(
    items: &[T],
    read: impl Fn((usize, &T)) -> Result<SubjectId, ApiError> + Sync + Send,
) -> Subjects {
    if items.len() < engine::PARALLEL_THRESHOLD {
        items.iter().enumerate().map(read).collect()
    } else {
        items.par_iter().enumerate().map(read).collect()
    }
}

fn typed_item((i, item): (usize, &TypedSubject<'_>)) -> Result<SubjectId, ApiError> {
    if item.id_type.is_none() {
        if let Ok(subject) = ident::parse(item.id) {
            return Ok(subject);
        }
    }
    let (id_path, type_path) = item_paths(i);
    let mut fields = Fields::default();
    let subject = subject_from(
        &mut fields,
        Some(item.id),
        item.id_type,
        &id_path,
        &type_path,
    );
    item_result(fields, subject)
}

fn value_item((i, item): (usize, &BorrowedValue<'_>)) -> Result<SubjectId, ApiError> {
    // The common `{"id": "…"}` is parsed without building paths for messages it never needs.
    if let Some(object) = item.as_object().filter(|object| object.len() == 1) {
        if let Some(Ok(subject)) = object
            .get("id")
            .and_then(|id| id.as_str())
            .map(ident::parse)
        {
            return Ok(subject);
        }
    }
    let object = item.as_object().ok_or_else(|| {
        ApiError::InvalidRequest(vec![FieldError::new(
            format!("subjects[{i}]"),
            format!("must be an object, not {}", body::type_name(item)),
        )])
    })?;
    let (id_path, type_path) = item_paths(i);
    let mut fields = Fields::default();
    let subject = read_subject(&mut fields, object, &id_path, &type_path);
    item_result(fields, subject)
}

fn item_paths(i: usize) -> (String, String) {
    (
        format!("subjects[{i}].id"),
        format!("subjects[{i}].id_type"),
    )
}

fn item_result(
    fields: Fields,
    subject: Option<Result<SubjectId, FieldError>>,
) -> Result<SubjectId, ApiError> {
    fields.finish()?;
    match subject {
        Some(parsed) => parsed.map_err(ApiError::InvalidSubjectId),
        None => unreachable!("fields.finish() refuses a subject without an id"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::lists::ListIndex;
    use crate::ruleset::testing::mini;

    fn snapshot() -> Snapshot {
        let rules = Arc::new(mini());
        let lists = ListIndex::build(&[], &rules).unwrap();
        Snapshot {
            rules,
            lists,
            cold_names: Default::default(),
            lists_version: 1,
            lists_epoch: None,
            loaded_at: Timestamp(0),
        }
    }

    const COMPANY: &str = "91230200MA1B2C3D8T";

    /// A fixed clock three minutes after `2026-06-01` (midnight), so that an `as_of` of that
    /// day is no replay and one of another day is.
    fn clock() -> Clock {
        Clock {
            now: Timestamp::parse("2026-06-01T00:03:00+08:00").unwrap(),
            max_as_of_skew: Duration::from_secs(300),
        }
    }

    /// Bodies the typed parse reads, and bodies it leaves to the value.
    fn singles() -> Vec<String> {
        let at = r#""as_of": "2026-06-01""#;
        [
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement"}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", "as_of": "2026-05-31"}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", {at}, "departement": "d", "subject": {{"id": "x"}}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}", "id": "91230200MA1B2C3D8T", "kind": "x"}}, "matter": "procurement", {at}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "m\u0061tter": "procurement", "matter": "basic", {at}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, {}, {at}}}"#, vec![r#""matter": "procurement""#; 40].join(", ")),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", {at}, "extra": {{"a": 1, "a": 2}}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", {at}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}", "id_type": "uscc"}}, "matter": "procurement", {at}, "department": "d", "case_ref": "c"}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}", "id_type": null}}, "matter": "procurement", {at}, "department": null, "extra": [1, {{"x": 2}}]}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}", "id_type": "bank"}}, "matter": "procurement", {at}}}"#),
            format!(r#"{{"subject": {{"id": "91230200MA1B2C3D8X"}}, "matter": "procurement", {at}}}"#),
            r#"{"subject": {"id": "12"}, "matter": "procurement", "as_of": "soon"}"#.to_owned(),
            format!(r#"{{"subject": {{"id": "12"}}, "matter": "nothing", {at}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", {at}, "case_ref": "{}"}}"#, "x".repeat(129)),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "nothing", "as_of": "later"}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", "matter": "basic", {at}}}"#),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "proc\u0075rement", {at}}}"#),
            format!(r#"{{"subject": null, "matter": "procurement", {at}}}"#),
            r#"{"subject": {"id": 12}, "matter": 7, "as_of": 3}"#.to_owned(),
            format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "subjects": 7, "matter": "procurement", {at}}}"#),
            r#"{"matter": "procurement"}"#.to_owned(),
            r#"[]"#.to_owned(),
            r#"{"subject": {"id": "x"}"#.to_owned(),
        ]
        .to_vec()
    }

    fn batches() -> Vec<String> {
        let at = r#""as_of": "2026-06-01""#;
        [
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}, {{"id": "230202198503121238", "id_type": "resident_id"}}], "matter": "procurement", {at}}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}", "note": 1}}, {{"id": "bad"}}, {{"id": "{COMPANY}", "id_type": "bank"}}, {{"id": "230202198503121230"}}], "matter": "basic", {at}}}"#),
            format!(r#"{{"subjects": [], "matter": "procurement", {at}}}"#),
            format!(r#"{{"subjects": [{}], "matter": "procurement", {at}}}"#, vec![format!(r#"{{"id": "{COMPANY}"}}"#); 5].join(", ")),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}], "matter": "procurement", "as_of": "never", "department": "{}"}}"#, "d".repeat(200)),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}, 7, {{"id": null}}, {{}}], "matter": "procurement", {at}}}"#),
            format!(r#"{{"subjects": {{"id": "{COMPANY}"}}, "matter": "procurement", {at}}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}], "matter": "nothing", {at}}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}], {at}}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}], "subject": "x", "matter": "basic", {at}}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}], "matter": "procurement", "as_of": "2025-06-01"}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}, {{"id": "{COMPANY}", "id": "bad", "id_type": "uscc"}}, 7, {{"idd": "x"}}], "matter": "procurement", {at}}}"#),
            format!(r#"{{"subjects": [{{"id": "{COMPANY}"}}], "subjects": [], "matter": "procurement", {at}, "case_ref": "a", "case_ref": "a"}}"#),
        ]
        .to_vec()
    }

    fn outcome<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        match result {
            Ok(read) => format!("{read:?}"),
            // An error's status, code, detail and fields are what a client sees.
            Err(err) => format!("{err:?}"),
        }
    }

    #[test]
    fn a_body_reads_the_same_typed_or_as_a_value() {
        let snapshot = snapshot();
        let mut typed_count = 0;
        for body in singles() {
            let bytes = || body.clone().into_bytes();
            let value = outcome(read_decide_value(&mut bytes(), &snapshot, clock()));
            if body::parse_typed::<TypedDecide>(&mut bytes()).is_some() {
                typed_count += 1;
            }
            let either = outcome(read_decide(&mut bytes(), &snapshot, clock()));
            assert_eq!(either, value, "{body}");
        }
        for body in batches() {
            let bytes = || body.clone().into_bytes();
            let value = outcome(read_batch_value(&mut bytes(), &snapshot, 4, clock()));
            if body::parse_typed::<TypedBatch>(&mut bytes()).is_some() {
                typed_count += 1;
            }
            let either = outcome(read_batch(&mut bytes(), &snapshot, 4, clock()));
            assert_eq!(either, value, "{body}");
        }
        // The comparison means something only if many bodies took the typed path.
        assert!(typed_count >= 12, "only {typed_count} bodies parsed typed");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_left_to_the_value_parse() {
        let mut body = format!(
            r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", "case_ref": "?"}}"#
        )
        .into_bytes();
        // The body ends `?"}`.
        let question = body.len() - 3;
        body[question] = 0xff;
        assert!(body::parse_typed::<TypedDecide>(&mut body.clone()).is_none());
        assert!(matches!(
            read_decide(&mut body, &snapshot(), clock()),
            Err(ApiError::InvalidJson(_))
        ));
    }

    /// The fields a refused body names.
    fn refused_fields(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::InvalidRequest(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a 400 naming fields, got {other:?}"),
        }
    }

    #[test]
    fn a_repeated_key_or_an_unknown_member_is_named_at_any_depth() {
        let snapshot = snapshot();
        let decide = |body: String| read_decide(&mut body.into_bytes(), &snapshot, clock());
        assert_eq!(
            refused_fields(decide(format!(
                r#"{{"subject": {{"id": "{COMPANY}", "id": "x"}}, "matter": "procurement", "matter": "basic", "departement": "d"}}"#
            ))),
            ["subject.id", "matter", "departement"]
        );
        // Over 32 members, simd-json keeps only the last of a repeated key.
        let many = vec![r#""case_ref": "c""#; 40].join(", ");
        assert_eq!(
            refused_fields(decide(format!(
                r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement", {many}}}"#
            ))),
            ["case_ref"]
        );
        let batch = format!(
            r#"{{"subjects": [{{"id": "{COMPANY}"}}, {{"id": "{COMPANY}", "id_type": "uscc", "id_type": "resident_id"}}, {{"id": "{COMPANY}", "kind": "x"}}], "matter": "procurement", "subject": {{}}}}"#
        );
        assert_eq!(
            refused_fields(read_batch(&mut batch.into_bytes(), &snapshot, 10, clock())),
            ["subjects[1].id_type", "subject", "subjects[2].kind"]
        );
    }

    #[test]
    fn an_as_of_past_the_skew_either_way_is_a_replay() {
        let snapshot = snapshot();
        for (as_of, replay) in [
            (None, false),
            (Some("2026-06-01T00:00:00+08:00"), false),
            (Some("2026-06-01T00:08:00+08:00"), false),
            (Some("2026-06-01T00:08:01+08:00"), true),
            (Some("2026-05-31T23:57:59+08:00"), true),
            (Some("0001-01-01"), true),
        ] {
            let mut body = json_decide(as_of).into_bytes();
            let (_, context) = read_decide(&mut body, &snapshot, clock()).unwrap();
            assert_eq!(context.replay, replay, "{as_of:?}");
        }
    }

    fn json_decide(as_of: Option<&str>) -> String {
        let as_of = as_of.map_or(String::new(), |at| format!(r#", "as_of": "{at}""#));
        format!(r#"{{"subject": {{"id": "{COMPANY}"}}, "matter": "procurement"{as_of}}}"#)
    }
}
