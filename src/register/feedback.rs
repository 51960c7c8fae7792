//! Feedback (自动反馈): what an implementing department reports it did with one measure of a
//! decision, in the fields of the national feedback record.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::record::{mask_owned, masked, masked_option, CallerRecord};
use crate::ident::mask_id_numbers;
use crate::timestamp::Timestamp;

/// What the department did with the measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Applied,
    Overridden,
    NotApplicable,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Applied => "applied",
            Action::Overridden => "overridden",
            Action::NotApplicable => "not_applicable",
        }
    }
}

/// A feedback record as stored: the report, who sent it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Feedback)]
pub struct FeedbackRecord {
    pub feedback_id: Uuid,
    #[serde(flatten)]
    pub report: Report,
    /// When the register stored it (UTC+8).
    pub recorded_at: String,
    /// The key that filed it; its department alone may correct it.
    pub caller: Option<CallerRecord>,
    /// How the report was corrected since it was filed, oldest first (`report` is the
    /// result).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<Correction>,
}

impl FeedbackRecord {
    /// The key that makes a report idempotent: one record per decision and measure.
    pub fn key(&self) -> String {
        feedback_key(self.report.decision_id, &self.report.measure)
    }

    pub fn recorded_ms(&self) -> i64 {
        Timestamp::parse(&self.recorded_at).map_or(0, |t| t.0)
    }

    /// The record with `request`'s changes made to its report and the correction added to its
    /// history, or every problem as (field, what is wrong).
    pub fn corrected(
        &self,
        request: CorrectionRequest,
        caller: Option<CallerRecord>,
        at: Timestamp,
    ) -> Result<FeedbackRecord, Vec<(String, String)>> {
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut input = ReportInput::default();
        for (name, value) in self.report.members() {
            if let Some(slot) = input.member(name) {
                *slot = value;
            }
        }
        if request.changes.is_empty() {
            let message = "must name at least one member to change";
            problems.push(("changes".into(), message.into()));
        }
        for (name, value) in request.changes {
            let field = format!("changes.{name}");
            match input.member(&name) {
                Some(_) if IDENTITY.contains(&name.as_str()) => {
                    let message = "cannot be corrected: report on the other decision or measure";
                    problems.push((field, message.into()));
                }
                Some(slot) => *slot = value,
                None => problems.push((field, "is not a member of a feedback report".into())),
            }
        }
        let report = match input.check() {
            Ok(report) => Some(report),
            Err(found) => {
                let found = found.into_iter();
                problems.extend(found.map(|(name, message)| (format!("changes.{name}"), message)));
                None
            }
        };
        let mut found = Vec::new();
        let reason = text(&mut found, "reason", request.reason, MAX_TEXT).map(mask_owned);
        if reason.is_none() && found.is_empty() {
            found.push((
                "reason",
                "is required: say why the report is corrected".into(),
            ));
        }
        problems.extend(
            found
                .into_iter()
                .map(|(name, message)| (name.into(), message)),
        );
        match (report, reason) {
            (Some(report), Some(reason)) if problems.is_empty() => {
                let changes = self.report.changes_to(&report);
                if changes.is_empty() {
                    let message = "change nothing in the stored report";
                    return Err(vec![("changes".into(), message.into())]);
                }
                let mut corrected = self.clone();
                corrected.report = report;
                corrected.corrections.push(Correction {
                    corrected_at: at.to_string(),
                    caller,
                    reason,
                    changes,
                });
                Ok(corrected)
            }
            _ => Err(problems),
        }
    }
}

/// The members that say what a report is about: a correction may not change them.
const IDENTITY: [&str; 2] = ["decision_id", "measure"];

/// A correction as posted: why, and the members to change (`None` clears an optional one).
#[derive(Debug, Default)]
pub struct CorrectionRequest {
    pub reason: Option<String>,
    pub changes: Vec<(String, Option<String>)>,
}

/// A correction of a stored report: who made it, when, why, and what it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Correction {
    /// When the register stored it (UTC+8).
    pub corrected_at: String,
    pub caller: Option<CallerRecord>,
    #[serde(deserialize_with = "masked")]
    pub reason: String,
    pub changes: Vec<Change>,
}

/// One member a correction changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    #[serde(deserialize_with = "masked_option")]
    pub from: Option<String>,
    #[serde(deserialize_with = "masked_option")]
    pub to: Option<String>,
}

pub fn feedback_key(decision_id: Uuid, measure: &str) -> String {
    format!("{decision_id}/{measure}")
}

/// The report a department posts, checked; its free texts have their ID numbers masked (and
/// are masked again when read, for what an earlier version stored whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub decision_id: Uuid,
    pub measure: String,
    pub action: Action,
    #[serde(deserialize_with = "masked")]
    pub executing_department: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub officer: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub reason: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub content: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub field: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub results: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

impl Report {
    /// Every member, named as in a posted body, as text.
    fn members(&self) -> [(&'static str, Option<String>); 11] {
        [
            ("decision_id", Some(self.decision_id.to_string())),
            ("measure", Some(self.measure.clone())),
            ("action", Some(self.action.as_str().to_owned())),
            (
                "executing_department",
                Some(self.executing_department.clone()),
            ),
            ("officer", self.officer.clone()),
            ("reason", self.reason.clone()),
            ("content", self.content.clone()),
            ("field", self.field.clone()),
            ("results", self.results.clone()),
            ("start_time", self.start_time.clone()),
            ("end_time", self.end_time.clone()),
        ]
    }

    /// Each member in which `to` differs from this report, in the order of a report's members.
    pub fn changes_to(&self, to: &Report) -> Vec<Change> {
        self.members()
            .into_iter()
            .zip(to.members())
            .filter(|((_, from), (_, to))| from != to)
            .map(|((field, from), (_, to))| Change {
                field: field.to_owned(),
                from,
                to,
            })
            .collect()
    }
}

/// A posted body before it is checked: every member optional, so that each missing or wrong
/// one can be named.
#[derive(Debug, Default)]
pub struct ReportInput {
    pub decision_id: Option<String>,
    pub measure: Option<String>,
    pub action: Option<String>,
    pub executing_department: Option<String>,
    pub officer: Option<String>,
    pub reason: Option<String>,
    pub content: Option<String>,
    pub field: Option<String>,
    pub results: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

/// Longest name (department, officer, field) and longest prose (reason, content, results).
const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 4000;

impl ReportInput {
    /// The member called `name`, if a report has one.
    pub fn member(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "decision_id" => &mut self.decision_id,
            "measure" => &mut self.measure,
            "action" => &mut self.action,
            "executing_department" => &mut self.executing_department,
            "officer" => &mut self.officer,
            "reason" => &mut self.reason,
            "content" => &mut self.content,
            "field" => &mut self.field,
            "results" => &mut self.results,
            "start_time" => &mut self.start_time,
            "end_time" => &mut self.end_time,
            _ => return None,
        })
    }

    /// The checked report, or every problem as (field, what is wrong).
    pub fn check(self) -> Result<Report, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let mut required = |name: &'static str, value: Option<String>, max: usize| {
            let value = text(&mut problems, name, value, max);
            if value.is_none() {
                problems.push((name, "is required".to_owned()));
            }
            value
        };
        let decision_id_text = required("decision_id", self.decision_id, 64);
        let measure = required("measure", self.measure, MAX_NAME);
        let action_text = required("action", self.action, 32);
        let executing_department =
            required("executing_department", self.executing_department, MAX_NAME).map(mask_owned);
        let decision_id = decision_id_text.and_then(|text| match Uuid::parse_str(&text) {
            Ok(id) if id.get_version_num() == 7 => Some(id),
            _ => {
                problems.push((
                    "decision_id",
                    format!("`{text}` is not a decision id (a UUIDv7)"),
                ));
                None
            }
        });
        let action = action_text.and_then(|text| match text.as_str() {
            "applied" => Some(Action::Applied),
            "overridden" => Some(Action::Overridden),
            "not_applicable" => Some(Action::NotApplicable),
            other => {
                problems.push((
                    "action",
                    format!("`{other}` is not one of applied, overridden, not_applicable (or commitment_breached, with a breach's members)"),
                ));
                None
            }
        });
        // Free texts are stored with their ID numbers masked.
        let officer = text(&mut problems, "officer", self.officer, MAX_NAME).map(mask_owned);
        let reason = text(&mut problems, "reason", self.reason, MAX_TEXT).map(mask_owned);
        if action == Some(Action::Overridden) {
            for (name, value) in [("officer", &officer), ("reason", &reason)] {
                if value.is_none() {
                    problems.push((name, "is required when the measure was overridden".into()));
                }
            }
        }
        let content = text(&mut problems, "content", self.content, MAX_TEXT).map(mask_owned);
        let field = text(&mut problems, "field", self.field, MAX_NAME).map(mask_owned);
        let results = text(&mut problems, "results", self.results, MAX_TEXT).map(mask_owned);
        let start = instant(&mut problems, "start_time", self.start_time);
        let end = instant(&mut problems, "end_time", self.end_time);
        if let (Some((start, _)), Some((end, _))) = (&start, &end) {
            if end < start {
                problems.push(("end_time", "is before start_time".into()));
            }
        }
        match (decision_id, measure, action, executing_department) {
            (Some(decision_id), Some(measure), Some(action), Some(executing_department))
                if problems.is_empty() =>
            {
                Ok(Report {
                    decision_id,
                    measure,
                    action,
                    executing_department,
                    officer,
                    reason,
                    content,
                    field,
                    results,
                    start_time: start.map(|(_, text)| text),
                    end_time: end.map(|(_, text)| text),
                })
            }
            _ => Err(problems),
        }
    }
}

/// A trimmed, non-empty text of at most `max` bytes, or a problem.
fn text(
    problems: &mut Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = value?.trim().to_owned();
    if value.is_empty() {
        return None;
    }
    if value.len() > max {
        problems.push((name, format!("is longer than {max} bytes")));
        return None;
    }
    Some(value)
}

/// A date or RFC 3339 date-time, kept as given.
fn instant(
    problems: &mut Vec<(&'static str, String)>,
    name: &'static str,
    value: Option<String>,
) -> Option<(Timestamp, String)> {
    let value = text(problems, name, value, 64)?;
    match Timestamp::parse(&value) {
        // An instant is stored as written, and RFC 3339 takes a fraction of a second of any
        // length: one that holds an ID number is no instant anyone measured.
        Ok(_) if matches!(mask_id_numbers(&value), Cow::Owned(_)) => {
            problems.push((name, "holds what reads as an ID number".into()));
            None
        }
        Ok(at) => Some((at, value)),
        Err(err) => {
            problems.push((name, err.to_string()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(action: &str) -> ReportInput {
        ReportInput {
            decision_id: Some("01936f4e-8a2b-7c3d-9e4f-0123456789ab".into()),
            measure: Some("tax_procurement_ban".into()),
            action: Some(action.into()),
            executing_department: Some("市财政局".into()),
            ..ReportInput::default()
        }
    }

    #[test]
    fn an_applied_measure_needs_only_the_four_required_fields() {
        let report = input("applied").check().expect("valid");
        assert_eq!(report.action, Action::Applied);
        assert_eq!(report.executing_department, "市财政局");
    }

    #[test]
    fn an_override_needs_an_officer_and_a_reason() {
        let problems = input("overridden").check().expect_err("invalid");
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["officer", "reason"]);
        let mut complete = input("overridden");
        complete.officer = Some("张三".into());
        complete.reason = Some("法院已裁定解除限制".into());
        assert!(complete.check().is_ok());
    }

    #[test]
    fn every_problem_is_named() {
        let problems = ReportInput {
            decision_id: Some("not-a-uuid".into()),
            action: Some("ignored".into()),
            start_time: Some("2026-11-30".into()),
            end_time: Some("2026-11-01".into()),
            content: Some("x".repeat(MAX_TEXT + 1)),
            ..ReportInput::default()
        }
        .check()
        .expect_err("invalid");
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "measure",
                "executing_department",
                "decision_id",
                "action",
                "content",
                "end_time"
            ]
        );
    }

    #[test]
    fn a_uuid_that_is_not_v7_is_not_a_decision_id() {
        let mut report = input("applied");
        report.decision_id = Some("6ba7b810-9dad-11d1-80b4-00c04fd430c8".into());
        assert_eq!(report.check().expect_err("invalid")[0].0, "decision_id");
    }
}
