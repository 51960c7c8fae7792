//! The register read back: the 奖惩案例 of a period in the national feedback layout (each
//! measure a decision applied, joined with what the department reported), and statistics.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::feedback::{feedback_key, FeedbackRecord};
use super::record::{RecordKind, RegisterRecord};
use super::store::{RegisterStore, StoreError};
use crate::ruleset::{Effect, RuleSet};
use crate::timestamp::Timestamp;

/// Records whose feedback is looked up in one round trip.
const PAGE: usize = 500;

/// A decision record and the feedback for each of its measures (in `record.measures` order).
struct Joined {
    record: RegisterRecord,
    feedback: Vec<Option<FeedbackRecord>>,
}

/// Reads the period's records in order, each with its measures' feedback, until `each`
/// returns false.
fn joined(
    store: &dyn RegisterStore,
    from: Timestamp,
    to: Timestamp,
    each: &mut dyn FnMut(Joined) -> bool,
) -> Result<(), StoreError> {
    let mut page: Vec<RegisterRecord> = Vec::with_capacity(PAGE);
    let mut going = true;
    let mut flush = |page: &mut Vec<RegisterRecord>| -> Result<bool, StoreError> {
        let keys: Vec<String> = page
            .iter()
            .flat_map(|r| r.measures.iter().map(|m| feedback_key(r.record_id, m)))
            .collect();
        let mut found = store.feedback_of(&keys)?.into_iter();
        for record in page.drain(..) {
            let feedback = found.by_ref().take(record.measures.len()).collect();
            if !each(Joined { record, feedback }) {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let mut failed = None;
    store.scan(from, to, &mut |record| {
        page.push(record);
        if page.len() == PAGE {
            match flush(&mut page) {
                Ok(more) => going = more,
                Err(err) => {
                    failed = Some(err);
                    going = false;
                }
            }
        }
        going
    })?;
    if let Some(err) = failed {
        return Err(err);
    }
    if going {
        flush(&mut page)?;
    }
    Ok(())
}

/// One row of the case export: a measure one decision applied, with its feedback. The field
/// names follow the national feedback table where it has one.
#[derive(Debug, Serialize)]
pub struct CaseRow {
    /// Stable per decision and measure, so that a re-export updates rather than duplicates.
    pub data_id: Uuid,
    pub decision_id: Uuid,
    pub decided_at: String,
    pub matter_code: String,
    /// The matter's 政务服务事项编码 on the provincial platform, from the rule set; several are
    /// joined by `;`; empty where the rule set gives none.
    pub matter_platform_code: String,
    pub decision: String,
    pub subject_kind: String,
    /// 奖惩对象名称: the name on the entry that matched the subject, a person's masked (`张**`);
    /// empty when the register holds none.
    pub rewards_punishments_object: String,
    /// An organisation's USCC; empty for a person and for an organisation asked by its
    /// organisation code or registration number.
    pub unified_social_credit_code: String,
    /// A person's ID number, masked; the register never holds it whole.
    pub id_card_number_masked: String,
    pub subject_hash: String,
    /// `1` incentive (守信激励), `2` punishment (失信惩戒).
    pub reward_punishment_type_code: &'static str,
    /// The topics (守信/失信行为) that led to the measure.
    pub trustworthy_dishonest_behavior: String,
    pub topic_codes: String,
    pub measure_code: String,
    /// The measure's category in the national base list: `1` rights-reducing, `2`
    /// management, `3` market and industry; empty for a measure the rule set no longer has.
    pub measure_category: String,
    /// The measure's name (执行措施).
    pub implementation_measures: String,
    pub legal_basis: String,
    pub list_entry_ids: String,
    pub requesting_department: String,
    pub case_ref: String,
    pub caller_key_id: String,
    /// `applied`, `overridden`, `not_applicable`, or `pending` without feedback.
    pub state: &'static str,
    pub exec_dept_name: String,
    pub officer: String,
    pub override_reason: String,
    pub execution_content: String,
    pub field: String,
    pub results: String,
    pub start_time: String,
    pub end_time: String,
    pub feedback_recorded_at: String,
    pub ruleset_revision: String,
    pub lists_version: u64,
    pub data_export_time: String,
}

impl CaseRow {
    /// The column names, in order (the CSV header).
    pub const FIELDS: [&'static str; 35] = [
        "data_id",
        "decision_id",
        "decided_at",
        "matter_code",
        "matter_platform_code",
        "decision",
        "subject_kind",
        "rewards_punishments_object",
        "unified_social_credit_code",
        "id_card_number_masked",
        "subject_hash",
        "reward_punishment_type_code",
        "trustworthy_dishonest_behavior",
        "topic_codes",
        "measure_code",
        "measure_category",
        "implementation_measures",
        "legal_basis",
        "list_entry_ids",
        "requesting_department",
        "case_ref",
        "caller_key_id",
        "state",
        "exec_dept_name",
        "officer",
        "override_reason",
        "execution_content",
        "field",
        "results",
        "start_time",
        "end_time",
        "feedback_recorded_at",
        "ruleset_revision",
        "lists_version",
        "data_export_time",
    ];
}

/// Which of a period's cases an export gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cases {
    /// Every measure a decision applied.
    All,
    /// Only [substantive](substantive) cases.
    Substantive,
}

/// Whether a measure a decision applied is a substantive case (docs/export.md): the decision
/// is no replay, the measure did more than inform (its effect is not `inform`), and its
/// feedback is no longer pending (the executing department filed a report, whatever its
/// action).
pub fn substantive(
    record: &RegisterRecord,
    measure: &str,
    feedback: Option<&FeedbackRecord>,
) -> bool {
    !record.replay && !informs(record, measure) && feedback.is_some()
}

/// Whether the decision recorded `measure` as one that only informs (effect `inform`).
fn informs(record: &RegisterRecord, measure: &str) -> bool {
    (record.reasons.iter())
        .any(|reason| reason.measure == measure && reason.effect == Effect::Inform.as_str())
}

/// The period's cases, row by row, until `each` returns false. Names and legal bases come
/// from `rules` (the current rule set); a measure it no longer has keeps only its code. A
/// replay (a decision at another instant than when it was asked) is no case and is left out.
pub fn export_cases(
    store: &dyn RegisterStore,
    rules: &RuleSet,
    from: Timestamp,
    to: Timestamp,
    cases: Cases,
    each: &mut dyn FnMut(CaseRow) -> bool,
) -> Result<(), StoreError> {
    let exported_at = Timestamp::now().to_string();
    joined(store, from, to, &mut |Joined { record, feedback }| {
        if record.replay {
            return true;
        }
        for (measure, feedback) in record.measures.iter().zip(feedback) {
            if cases == Cases::Substantive && !substantive(&record, measure, feedback.as_ref()) {
                continue;
            }
            let row = case_row(rules, &record, measure, feedback.as_ref(), &exported_at);
            if !each(row) {
                return false;
            }
        }
        true
    })
}

fn case_row(
    rules: &RuleSet,
    record: &RegisterRecord,
    measure: &str,
    feedback: Option<&FeedbackRecord>,
    exported_at: &str,
) -> CaseRow {
    let reasons: Vec<_> = record
        .reasons
        .iter()
        .filter(|r| r.measure == measure)
        .collect();
    let mut topics: Vec<&str> = Vec::new();
    for reason in &reasons {
        if !topics.contains(&reason.topic.as_str()) {
            topics.push(&reason.topic);
        }
    }
    let topic_name = |code: &str| {
        rules
            .topics()
            .iter()
            .find(|t| t.code == code)
            .map_or_else(|| code.to_owned(), |t| t.name.clone())
    };
    let definition = rules.measures().iter().find(|m| m.code == measure);
    let matter = (record.matter.as_deref())
        .and_then(|code| rules.matter_id(code))
        .map(|id| rules.matter(id));
    let report = feedback.map(|f| &f.report);
    let text = |value: Option<&String>| value.cloned().unwrap_or_default();
    CaseRow {
        data_id: data_id(record.record_id, measure),
        decision_id: record.record_id,
        decided_at: record.time.clone(),
        matter_code: record.matter.clone().unwrap_or_default(),
        matter_platform_code: matter.map_or_else(String::new, |m| m.platform_codes.join(";")),
        decision: record.decision.clone().unwrap_or_default(),
        subject_kind: record.subject.kind.clone(),
        rewards_punishments_object: text(record.subject.name.as_ref()),
        // An organisation asked by an older identifier has no USCC to give.
        unified_social_credit_code: if record.subject.id_type == "uscc" {
            text(record.subject.id.as_ref())
        } else {
            String::new()
        },
        id_card_number_masked: text(record.subject.masked.as_ref()),
        subject_hash: record.subject.hash.clone(),
        reward_punishment_type_code: if reasons.iter().all(|r| r.incentive) {
            "1"
        } else {
            "2"
        },
        trustworthy_dishonest_behavior: topics
            .iter()
            .map(|code| topic_name(code))
            .collect::<Vec<_>>()
            .join("；"),
        topic_codes: topics.join(";"),
        measure_code: measure.to_owned(),
        measure_category: definition.map_or_else(String::new, |m| u8::from(m.category).to_string()),
        implementation_measures: definition.map_or_else(String::new, |m| m.name.clone()),
        legal_basis: definition.map_or_else(String::new, |m| m.legal_basis.clone()),
        list_entry_ids: reasons
            .iter()
            .map(|r| r.entry_id.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        requesting_department: record.department().unwrap_or_default().to_owned(),
        case_ref: text(record.case_ref.as_ref()),
        caller_key_id: record
            .caller
            .as_ref()
            .map_or_else(String::new, |c| c.key_id.clone()),
        state: report.map_or("pending", |r| r.action.as_str()),
        exec_dept_name: report.map_or_else(String::new, |r| r.executing_department.clone()),
        officer: text(report.and_then(|r| r.officer.as_ref())),
        override_reason: text(report.and_then(|r| r.reason.as_ref())),
        execution_content: text(report.and_then(|r| r.content.as_ref())),
        // 所在领域: what the department reported, else the matter the measure was applied in.
        field: (report.and_then(|r| r.field.clone()))
            .or_else(|| matter.map(|m| m.name.clone()))
            .unwrap_or_default(),
        results: text(report.and_then(|r| r.results.as_ref())),
        start_time: text(report.and_then(|r| r.start_time.as_ref())),
        end_time: text(report.and_then(|r| r.end_time.as_ref())),
        feedback_recorded_at: feedback.map_or_else(String::new, |f| f.recorded_at.clone()),
        ruleset_revision: record.ruleset.revision.clone(),
        lists_version: record.lists_version,
        data_export_time: exported_at.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_header_names_every_field_of_a_row_in_order() {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.serialize(CaseRow {
            data_id: data_id(Uuid::nil(), "m"),
            decision_id: Uuid::nil(),
            decided_at: String::new(),
            matter_code: String::new(),
            matter_platform_code: String::new(),
            decision: String::new(),
            subject_kind: String::new(),
            rewards_punishments_object: String::new(),
            unified_social_credit_code: String::new(),
            id_card_number_masked: String::new(),
            subject_hash: String::new(),
            reward_punishment_type_code: "2",
            trustworthy_dishonest_behavior: String::new(),
            topic_codes: String::new(),
            measure_code: String::new(),
            measure_category: String::new(),
            implementation_measures: String::new(),
            legal_basis: String::new(),
            list_entry_ids: String::new(),
            requesting_department: String::new(),
            case_ref: String::new(),
            caller_key_id: String::new(),
            state: "pending",
            exec_dept_name: String::new(),
            officer: String::new(),
            override_reason: String::new(),
            execution_content: String::new(),
            field: String::new(),
            results: String::new(),
            start_time: String::new(),
            end_time: String::new(),
            feedback_recorded_at: String::new(),
            ruleset_revision: String::new(),
            lists_version: 0,
            data_export_time: String::new(),
        })
        .expect("a row is CSV");
        let written = String::from_utf8(csv.into_inner().expect("flushed")).expect("UTF-8");
        let header = written.lines().next().expect("a header line");
        let keys: Vec<&str> = header.split(',').collect();
        assert_eq!(keys, CaseRow::FIELDS);
    }
}

/// A name-based id (UUIDv8 over SHA-256) of a decision's measure.
fn data_id(decision_id: Uuid, measure: &str) -> Uuid {
    let digest = Sha256::digest(feedback_key(decision_id, measure).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes)
}

/// What the monthly indicators count from the register over a period (docs/indicators.md).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RegisterFigures {
    /// Substantive cases ([`substantive`]), by the action their feedback reports.
    pub substantive_by_action: BTreeMap<String, u64>,
    /// By the department a decision counts for: the cases that need feedback (measures of
    /// decisions that are no replay, not `inform`), and how many of them have it.
    pub feedback_by_department: BTreeMap<String, (u64, u64)>,
}

pub fn register_figures(
    store: &dyn RegisterStore,
    from: Timestamp,
    to: Timestamp,
) -> Result<RegisterFigures, StoreError> {
    let mut figures = RegisterFigures::default();
    joined(store, from, to, &mut |Joined { record, feedback }| {
        if record.kind != RecordKind::Decision || record.replay {
            return true;
        }
        let department = record.department().unwrap_or("(none)").to_owned();
        for (measure, feedback) in record.measures.iter().zip(&feedback) {
            if informs(&record, measure) {
                continue;
            }
            let counts = (figures.feedback_by_department)
                .entry(department.clone())
                .or_default();
            counts.0 += 1;
            if let Some(feedback) = feedback {
                counts.1 += 1;
                *(figures.substantive_by_action)
                    .entry(feedback.report.action.as_str().to_owned())
                    .or_default() += 1;
            }
        }
        true
    })?;
    Ok(figures)
}

/// Counts over a period.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub from: String,
    pub to: String,
    pub decisions: u64,
    /// Decisions at another instant than when they were asked; counted here only, since they
    /// are no cases (and would never get feedback).
    pub replays: u64,
    pub profile_reads: u64,
    pub by_decision: BTreeMap<String, u64>,
    pub by_matter: BTreeMap<String, u64>,
    /// Decisions each topic led to.
    pub by_topic: BTreeMap<String, u64>,
    /// Decisions each measure applied to.
    pub by_measure: BTreeMap<String, u64>,
    /// Decisions by the department that asked (the request's, else the key's).
    pub by_department: BTreeMap<String, u64>,
    pub feedback: FeedbackStats,
}

/// The feedback rate (反馈率): of the decisions that applied a measure, how many got feedback.
#[derive(Debug, Default, Serialize)]
pub struct FeedbackStats {
    pub decisions_with_measures: u64,
    pub decisions_with_feedback: u64,
    pub rate: Option<f64>,
    /// Feedback records by action.
    pub by_action: BTreeMap<String, u64>,
}

pub fn stats(
    store: &dyn RegisterStore,
    from: Timestamp,
    to: Timestamp,
) -> Result<Stats, StoreError> {
    let mut stats = Stats {
        from: from.to_string(),
        to: to.to_string(),
        ..Stats::default()
    };
    let count = |map: &mut BTreeMap<String, u64>, key: &str| {
        *map.entry(key.to_owned()).or_default() += 1;
    };
    joined(store, from, to, &mut |Joined { record, feedback }| {
        if record.kind == RecordKind::ProfileRead {
            stats.profile_reads += 1;
            return true;
        }
        if record.replay {
            stats.replays += 1;
            return true;
        }
        stats.decisions += 1;
        count(
            &mut stats.by_decision,
            record.decision.as_deref().unwrap_or("?"),
        );
        count(
            &mut stats.by_matter,
            record.matter.as_deref().unwrap_or("?"),
        );
        count(
            &mut stats.by_department,
            record.department().unwrap_or("(none)"),
        );
        for topic in &record.topics {
            count(&mut stats.by_topic, topic);
        }
        for measure in &record.measures {
            count(&mut stats.by_measure, measure);
        }
        if !record.measures.is_empty() {
            stats.feedback.decisions_with_measures += 1;
            if feedback.iter().any(Option::is_some) {
                stats.feedback.decisions_with_feedback += 1;
            }
        }
        for report in feedback.iter().flatten() {
            count(&mut stats.feedback.by_action, report.report.action.as_str());
        }
        true
    })?;
    let feedback = &mut stats.feedback;
    feedback.rate = (feedback.decisions_with_measures > 0)
        .then(|| feedback.decisions_with_feedback as f64 / feedback.decisions_with_measures as f64);
    Ok(stats)
}
