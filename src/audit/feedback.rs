//! Feedback (自动反馈): what an implementing department reports it did with one measure of a
//! decision, in the fields of a national feedback record (DOMAIN.md §4.4).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::record::CallerRecord;
use crate::timestamp::Timestamp;

/// What the department did with the measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    pub feedback_id: Uuid,
    #[serde(flatten)]
    pub report: Report,
    /// When the register stored it (UTC+8).
    pub recorded_at: String,
    pub caller: Option<CallerRecord>,
}

impl FeedbackRecord {
    /// The key that makes a report idempotent: one record per decision and measure.
    pub fn key(&self) -> String {
        feedback_key(self.report.decision_id, &self.report.measure)
    }

    pub fn recorded_ms(&self) -> i64 {
        Timestamp::parse(&self.recorded_at).map_or(0, |t| t.0)
    }
}

pub fn feedback_key(decision_id: Uuid, measure: &str) -> String {
    format!("{decision_id}/{measure}")
}

/// The report a department posts, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub decision_id: Uuid,
    pub measure: String,
    pub action: Action,
    pub executing_department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
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
            required("executing_department", self.executing_department, MAX_NAME);
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
                    format!("`{other}` is not one of applied, overridden, not_applicable"),
                ));
                None
            }
        });
        let officer = text(&mut problems, "officer", self.officer, MAX_NAME);
        let reason = text(&mut problems, "reason", self.reason, MAX_TEXT);
        if action == Some(Action::Overridden) {
            for (name, value) in [("officer", &officer), ("reason", &reason)] {
                if value.is_none() {
                    problems.push((name, "is required when the measure was overridden".into()));
                }
            }
        }
        let content = text(&mut problems, "content", self.content, MAX_TEXT);
        let field = text(&mut problems, "field", self.field, MAX_NAME);
        let results = text(&mut problems, "results", self.results, MAX_TEXT);
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
