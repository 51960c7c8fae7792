//! Commitments and breach reports as posted, checked field by field: every problem is named by
//! its field, and the checked record is what is stored.

use std::borrow::Cow;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Breach, Commitment, StoredSubject};
use crate::ident::{self, CheckOutcome, IdType, SubjectId};
use crate::register::CallerRecord;
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// The longest text (a commitment's text or document number, a breach's reason), in bytes.
pub const MAX_TEXT: usize = 2000;
/// The longest department name, in bytes.
const MAX_NAME: usize = 200;
/// How far in the future a breach may be dated (clocks differ a little).
const FUTURE_SKEW_MS: i64 = 60_000;

/// Problems as (field, what is wrong).
pub type Problems = Vec<(String, String)>;

/// A posted commitment, before it is checked.
#[derive(Debug, Default)]
pub struct CommitmentInput {
    pub members: Map<String, Value>,
}

/// A posted breach report (feedback with `"action": "commitment_breached"`), before it is
/// checked.
#[derive(Debug, Default)]
pub struct BreachInput {
    pub members: Map<String, Value>,
}

/// Reads the members of a posted object, naming each problem.
struct Reader {
    members: Map<String, Value>,
    problems: Problems,
}

impl Reader {
    fn new(members: Map<String, Value>, known: &[&str]) -> Reader {
        let problems = members
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .map(|name| (name.clone(), "is not a member of this request".to_owned()))
            .collect();
        Reader { members, problems }
    }

    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push((field.to_owned(), message.into()));
    }

    /// A trimmed, non-empty string of at most `max` bytes, ID numbers masked; `None` when
    /// absent (or null) or wrong.
    fn text(&mut self, name: &str, max: usize) -> Option<String> {
        match self.members.remove(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let text = text.trim();
                if text.is_empty() {
                    self.problem(name, "must not be empty");
                    None
                } else if text.len() > max {
                    self.problem(name, format!("is longer than {max} bytes"));
                    None
                } else {
                    Some(match ident::mask_id_numbers(text) {
                        Cow::Borrowed(text) => text.to_owned(),
                        Cow::Owned(masked) => masked,
                    })
                }
            }
            Some(_) => {
                self.problem(name, "must be a string");
                None
            }
        }
    }

    fn required_text(&mut self, name: &str, max: usize) -> Option<String> {
        let present = self.members.get(name).is_some_and(|v| !v.is_null());
        let text = self.text(name, max);
        if !present {
            self.problem(name, "is required");
        }
        text
    }

    /// An RFC 3339 date-time with its offset, kept as given.
    fn instant(&mut self, name: &str, required: bool) -> Option<(Timestamp, String)> {
        let present = self.members.get(name).is_some_and(|v| !v.is_null());
        if !present {
            if required {
                self.problem(name, "is required");
            }
            return None;
        }
        let text = self.text(name, 64)?;
        match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(at) => Some((Timestamp(at.timestamp_millis()), text)),
            Err(_) => {
                self.problem(
                    name,
                    format!("`{text}` is not an RFC 3339 date-time with its offset (2026-11-22T10:00:00+08:00)"),
                );
                None
            }
        }
    }

    /// `subject: {"id", "id_type"?}`, parsed as a decision request's subject is.
    fn subject(&mut self, required: bool) -> Option<SubjectId> {
        let value = match self.members.remove("subject") {
            None | Some(Value::Null) => {
                if required {
                    self.problem("subject.id", "is required");
                }
                return None;
            }
            Some(Value::Object(members)) => members,
            Some(_) => {
                self.problem("subject", "must be an object with the member `id`");
                return None;
            }
        };
        let mut id = None;
        let mut id_type = None;
        for (name, value) in value {
            match (name.as_str(), value) {
                ("id", Value::String(text)) => id = Some(text),
                ("id_type", Value::String(text)) => id_type = Some(text),
                ("id" | "id_type", _) => {
                    self.problem(&format!("subject.{name}"), "must be a string")
                }
                _ => self.problem(&format!("subject.{name}"), "is not a member of a subject"),
            }
        }
        let Some(id) = id else {
            self.problem("subject.id", "is required");
            return None;
        };
        let parsed = match id_type.as_deref().map(str::parse::<IdType>) {
            None => ident::parse(&id),
            Some(Ok(id_type)) => ident::parse_as(&id, id_type),
            Some(Err(err)) => {
                self.problem("subject.id_type", err.to_string());
                return None;
            }
        };
        match parsed {
            Ok(subject) => match subject.check() {
                CheckOutcome::Mismatch { expected } if subject.id_type() == IdType::ResidentId => {
                    self.problem(
                        "subject.id",
                        format!("the resident ID fails its check digit (expected `{expected}`)"),
                    );
                    None
                }
                _ => Some(subject),
            },
            Err(err) => {
                self.problem("subject.id", err.to_string());
                None
            }
        }
    }

    /// A matter of `rules` that allows commitments, by code or platform code; its code.
    fn matter(&mut self, rules: &RuleSet, required: bool) -> Option<String> {
        let code = if required {
            self.required_text("matter", 64)?
        } else {
            self.text("matter", 64)?
        };
        let Some(id) = rules.matter_id(&code) else {
            self.problem(
                "matter",
                format!("unknown matter `{code}`; GET /v1/matters lists the valid codes"),
            );
            return None;
        };
        let matter = rules.matter(id);
        if !matter.commitment {
            self.problem(
                "matter",
                format!(
                    "matter `{}` does not take credit commitments (GET /v1/matters: `commitment`)",
                    matter.code
                ),
            );
            return None;
        }
        Some(matter.code.clone())
    }

    /// The department: the key's own with keys on (the member may repeat it, or be left
    /// out); required without keys.
    fn department(&mut self, name: &str, caller: Option<&CallerRecord>) -> Option<String> {
        let given = self.text(name, MAX_NAME);
        match (caller, given) {
            (Some(caller), None) => Some(caller.department.clone()),
            (Some(caller), Some(given)) if given == caller.department => Some(given),
            (Some(caller), Some(_)) => {
                self.problem(
                    name,
                    format!(
                        "must be this API key's department `{}`, or left out",
                        caller.department
                    ),
                );
                None
            }
            (None, Some(given)) => Some(given),
            (None, None) => {
                self.problem(name, "is required");
                None
            }
        }
    }

    fn done<T>(self, value: Option<T>) -> Result<T, Problems> {
        match value {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ => Err(self.problems),
        }
    }
}

impl CommitmentInput {
    /// The checked commitment, recorded at `now` for `caller`, or every problem.
    pub fn check(
        self,
        rules: &RuleSet,
        caller: Option<CallerRecord>,
        subject_of: impl FnOnce(&SubjectId) -> StoredSubject,
        now: Timestamp,
    ) -> Result<Commitment, Problems> {
        let mut reader = Reader::new(
            self.members,
            &[
                "subject",
                "matter",
                "text",
                "signed_at",
                "valid_until",
                "department",
            ],
        );
        let subject = reader.subject(true);
        let matter = reader.matter(rules, true);
        let text = reader.required_text("text", MAX_TEXT);
        let signed_at = reader.instant("signed_at", true);
        let valid_until = reader.instant("valid_until", true);
        let department = reader.department("department", caller.as_ref());
        if let (Some((signed, _)), Some((until, _))) = (&signed_at, &valid_until) {
            if until <= signed {
                reader.problem("valid_until", "must be after signed_at");
            }
        }
        if let Some((signed, _)) = &signed_at {
            if signed.0 > now.0 + FUTURE_SKEW_MS {
                reader.problem("signed_at", "is in the future");
            }
        }
        let commitment = match (subject, matter, text, signed_at, valid_until, department) {
            (
                Some(subject),
                Some(matter),
                Some(text),
                Some(signed),
                Some(until),
                Some(department),
            ) => Some(Commitment {
                commitment_id: Uuid::now_v7(),
                subject: subject_of(&subject),
                matter,
                text,
                signed_at: signed.1,
                valid_until: until.1,
                department,
                recorded_at: now.to_string(),
                caller,
            }),
            _ => None,
        };
        reader.done(commitment)
    }
}

impl BreachInput {
    /// The checked breach, recorded at `now` for `caller`, or every problem. A report names
    /// the commitment broken (`commitment_id`, found by `commitment`), or the subject and the
    /// matter.
    pub fn check(
        self,
        rules: &RuleSet,
        caller: Option<CallerRecord>,
        subject_of: impl FnOnce(&SubjectId) -> StoredSubject,
        commitment: impl FnOnce(Uuid) -> Option<Commitment>,
        now: Timestamp,
    ) -> Result<Breach, Problems> {
        let mut reader = Reader::new(
            self.members,
            &[
                "action",
                "commitment_id",
                "subject",
                "matter",
                "executing_department",
                "reason",
                "breached_at",
            ],
        );
        reader.members.remove("action");
        let commitment_id = reader.text("commitment_id", 64);
        let named = reader.members.get("subject").is_some_and(|v| !v.is_null())
            || reader.members.get("matter").is_some_and(|v| !v.is_null());
        let found = match commitment_id {
            Some(text) => match Uuid::parse_str(&text).ok().and_then(commitment) {
                Some(found) if !named => Some(found),
                Some(_) => {
                    reader.problem(
                        "commitment_id",
                        "names the subject and matter itself: leave subject and matter out",
                    );
                    None
                }
                None => {
                    reader.problem(
                        "commitment_id",
                        format!("`{text}` is no recorded commitment (POST /v1/commitments)"),
                    );
                    None
                }
            },
            None => None,
        };
        let subject_matter = match &found {
            Some(found) => Some((found.subject.clone(), found.matter.clone())),
            None if reader.problems.is_empty() => {
                let subject = reader.subject(true);
                let matter = reader.matter(rules, true);
                subject.zip(matter).map(|(s, m)| (subject_of(&s), m))
            }
            None => None,
        };
        let department = reader.department("executing_department", caller.as_ref());
        let reason = reader.required_text("reason", MAX_TEXT);
        let breached_at = reader.instant("breached_at", false);
        if let Some((at, _)) = &breached_at {
            if at.0 > now.0 + FUTURE_SKEW_MS {
                reader.problem("breached_at", "is in the future");
            }
            let signed = found
                .as_ref()
                .and_then(|c| Timestamp::parse(&c.signed_at).ok());
            if signed.is_some_and(|signed| *at < signed) {
                reader.problem("breached_at", "is before the commitment was signed");
            }
        }
        let breach = match (subject_matter, department, reason) {
            (Some((subject, matter)), Some(executing_department), Some(reason)) => Some(Breach {
                breach_id: Uuid::now_v7(),
                commitment_id: found.map(|c| c.commitment_id),
                subject,
                matter,
                executing_department,
                reason,
                breached_at: breached_at.map_or_else(|| now.to_string(), |(_, text)| text),
                recorded_at: now.to_string(),
                caller,
            }),
            _ => None,
        };
        reader.done(breach)
    }
}
