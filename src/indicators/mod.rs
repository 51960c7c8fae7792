//! The monthly monitoring indicators (鹤岗《城市信用状况监测预警指标》) that the lists and the register
//! can give: serious-list enterprises in force, new and exited; the A-grade taxpayers' share of
//! active enterprises; public bodies on serious lists; substantive cases; the feedback rate by
//! department; objections answered in time; credit repairs. Each figure's definition is in
//! docs/indicators.md, under its name.
//!
//! Everything here is computed from what the service hands in (the list index, what the list
//! source keeps of the past, the register's figures, the uploaded count): no I/O, no clock.

mod lists;
mod month;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

pub use lists::{ListFigures, Spans, A_GRADE_LIST};
pub use month::{Month, MonthError};

use crate::lists::source::ListHistory;
use crate::lists::Dispute;
use crate::register::report::RegisterFigures;
use crate::register::ActiveEnterprises;
use crate::timestamp::Timestamp;

/// Working days an objection may take to be answered (Hegang's indicator).
pub const ANSWER_WORKING_DAYS: u16 = 5;

/// The document that defines each figure, under an anchor of its name.
const DEFINITIONS: &str = "/docs/indicators.md";

/// What the figures are computed from, gathered by the service.
pub struct Inputs {
    pub month: Month,
    /// When they are computed: the month is complete if it ended before.
    pub now: Timestamp,
    pub ruleset_revision: String,
    pub lists_version: u64,
    /// The entries' spans in force; the figures are taken from them.
    pub spans: Spans,
    /// Whether the rule set has the A-grade taxpayers' list.
    pub a_grade_list: bool,
    /// What the list source keeps of the past; `None` for a file.
    pub history: Option<ListHistory>,
    /// The register's figures of the month, or why there are none.
    pub register: Result<RegisterFigures, String>,
    /// The month's uploaded count of active enterprises, or why it could not be read.
    pub active_enterprises: Result<Option<ActiveEnterprises>, String>,
}

/// The answer of `GET /v1/indicators`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Indicators {
    /// `YYYY-MM`.
    pub month: String,
    /// The month: `[from, to)`, UTC+8.
    pub from: String,
    pub to: String,
    /// The start of the 12 months up to the month's end, for the new and exited figures.
    pub window_from: String,
    /// Whether the month had ended when the figures were computed.
    pub complete: bool,
    pub computed_at: String,
    pub ruleset_revision: String,
    pub lists_version: u64,
    /// Each figure by its name.
    pub figures: BTreeMap<&'static str, Figure>,
    /// Entries the list figures could not count, and why.
    pub left_out: LeftOut,
}

/// One figure: its value (`null` when it cannot be given, with the reason), where it is
/// defined, and its parts where it has some.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Figure {
    #[schema(value_type = Option<f64>)]
    pub value: Value,
    /// Where the figure is defined: docs/indicators.md and the figure's anchor.
    pub definition: String,
    /// The definition in short.
    pub summary: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The figure's parts (by department, by kind, by action), when it has some.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub parts: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeftOut {
    /// Entries that stopped counting (repaired, removed, objection upheld) at an instant the
    /// list source does not keep (a file keeps only the current status).
    pub entries_ended_at_unknown_time: u64,
    /// Tombstones of removed entries that the rule set loaded now cannot read.
    pub unreadable_tombstones: u64,
}

impl Figure {
    fn new(name: &str, summary: &'static str, value: Value) -> Figure {
        Figure {
            value,
            definition: format!("{DEFINITIONS}#{name}"),
            summary,
            reason: None,
            parts: BTreeMap::new(),
        }
    }

    /// A figure that cannot be given, and why.
    fn missing(name: &str, summary: &'static str, reason: impl Into<String>) -> Figure {
        Figure {
            reason: Some(reason.into()),
            ..Figure::new(name, summary, Value::Null)
        }
    }

    fn parts(mut self, parts: BTreeMap<String, Value>) -> Figure {
        self.parts = parts;
        self
    }
}

/// `numerator / denominator`, or why not.
fn share(numerator: u64, denominator: u64, none: &str) -> Result<Value, String> {
    if denominator == 0 {
        return Err(none.to_owned());
    }
    Ok(json!(numerator as f64 / denominator as f64))
}

/// Computes the month's figures.
pub fn compute(mut inputs: Inputs) -> Indicators {
    let month = inputs.month;
    let (from, to) = (month.start(), month.end());
    let lists = inputs.spans.figures(month);
    let mut figures = BTreeMap::new();
    let mut put = |name: &'static str, figure: Figure| {
        figures.insert(name, figure);
    };

    put(
        "serious_enterprises",
        Figure::new(
            "serious_enterprises",
            "enterprises (USCC 91) on a serious list, in force at the month's last instant",
            json!(lists.serious_enterprises),
        ),
    );
    put(
        "serious_enterprises_new",
        Figure::new(
            "serious_enterprises_new",
            "enterprises first in force on a serious list within the 12 months up to the month's end",
            json!(lists.serious_enterprises_new),
        ),
    );
    put(
        "serious_enterprises_exited",
        Figure::new(
            "serious_enterprises_exited",
            "enterprises in force on a serious list at the 12 months' start or from within them, and not at the month's end",
            json!(lists.serious_enterprises_exited),
        ),
    );

    const A_GRADE: &str =
        "A-grade taxpayers (list tax_a_grade) in force at the month's end, enterprises only";
    const ACTIVE: &str = "active enterprises (存续企业数) at the month's end, as uploaded";
    const SHARE: &str = "a_grade_taxpayers / active_enterprises";
    let a_grade = if inputs.a_grade_list {
        Figure::new("a_grade_taxpayers", A_GRADE, json!(lists.a_grade_taxpayers))
    } else {
        Figure::missing(
            "a_grade_taxpayers",
            A_GRADE,
            format!("the rule set has no list `{A_GRADE_LIST}`"),
        )
    };
    let active = match &inputs.active_enterprises {
        Ok(Some(count)) => Figure::new("active_enterprises", ACTIVE, json!(count.count)),
        Ok(None) => Figure::missing(
            "active_enterprises",
            ACTIVE,
            format!("no count was uploaded for {month} (PUT /v1/indicators/active-enterprises)"),
        ),
        Err(why) => Figure::missing("active_enterprises", ACTIVE, why.clone()),
    };
    let uploaded = inputs
        .active_enterprises
        .as_ref()
        .ok()
        .and_then(Option::as_ref);
    let a_grade_share = match (&a_grade.reason, &active.reason) {
        (Some(why), _) | (None, Some(why)) => Figure::missing("a_grade_share", SHARE, why.clone()),
        (None, None) => {
            let zero = "the uploaded count of active enterprises is 0";
            match share(
                lists.a_grade_taxpayers,
                uploaded.map_or(0, |c| c.count),
                zero,
            ) {
                Ok(value) => Figure::new("a_grade_share", SHARE, value),
                Err(why) => Figure::missing("a_grade_share", SHARE, why),
            }
        }
    };
    put("a_grade_taxpayers", a_grade);
    put("active_enterprises", active);
    put("a_grade_share", a_grade_share);

    let bodies: u64 = lists.public_bodies.values().sum();
    put(
        "public_bodies_on_serious_lists",
        Figure::new(
            "public_bodies_on_serious_lists",
            "organs, public institutions and mass organisations (USCC 11, 12, 13, 19) on a serious list, in force at the month's end",
            json!(bodies),
        )
        .parts(
            ["state_organ", "public_institution", "mass_organization"]
                .into_iter()
                .map(|kind| (kind.to_owned(), json!(lists.public_bodies.get(kind).copied().unwrap_or(0))))
                .collect(),
        ),
    );

    register_figures(&inputs.register, &mut put);
    history_figures(inputs.history.as_ref(), month, &mut put);

    Indicators {
        month: month.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        window_from: month.minus(11).start().to_string(),
        complete: to <= inputs.now,
        computed_at: inputs.now.to_string(),
        ruleset_revision: std::mem::take(&mut inputs.ruleset_revision),
        lists_version: inputs.lists_version,
        figures,
        left_out: LeftOut {
            entries_ended_at_unknown_time: inputs.spans.ended_at_unknown_time,
            unreadable_tombstones: inputs.spans.unreadable_tombstones,
        },
    }
}

/// The substantive cases and the feedback rates.
fn register_figures(
    register: &Result<RegisterFigures, String>,
    put: &mut impl FnMut(&'static str, Figure),
) {
    const CASES: &str =
        "measures applied by decisions asked in the month: not inform, no replay, feedback filed";
    const RATE: &str = "cases with feedback / cases needing feedback (not inform, no replay), by the department that asked";
    let register = match register {
        Ok(register) => register,
        Err(why) => {
            put(
                "substantive_cases",
                Figure::missing("substantive_cases", CASES, why.clone()),
            );
            put(
                "feedback_rate",
                Figure::missing("feedback_rate", RATE, why.clone()),
            );
            return;
        }
    };
    let cases: u64 = register.substantive_by_action.values().sum();
    put(
        "substantive_cases",
        Figure::new("substantive_cases", CASES, json!(cases)).parts(
            (register.substantive_by_action.iter())
                .map(|(action, count)| (action.clone(), json!(count)))
                .collect(),
        ),
    );
    let (needing, with): (u64, u64) = (register.feedback_by_department.values())
        .fold((0, 0), |(n, w), (needing, with)| (n + needing, w + with));
    let none = "no decision of the month applied a measure that needs feedback";
    let rate = match share(with, needing, none) {
        Ok(value) => Figure::new("feedback_rate", RATE, value),
        Err(why) => Figure::missing("feedback_rate", RATE, why),
    };
    put(
        "feedback_rate",
        rate.parts(
            (register.feedback_by_department.iter())
                .map(|(department, &(needing, with))| {
                    let rate = share(with, needing, none).unwrap_or(Value::Null);
                    let part =
                        json!({"needing_feedback": needing, "with_feedback": with, "rate": rate});
                    (department.clone(), part)
                })
                .collect(),
        ),
    );
}

/// One objection: when it went under review, and when and how it was answered.
struct Objection {
    raised: Timestamp,
    answered: Option<Timestamp>,
}

/// An entry's objections from its dispute changes, oldest first: each change to
/// `under_review` raises one (unless one is open), `upheld` or `rejected` answers it, and
/// `none` withdraws it (neither answered nor open).
fn objections(notes: &[String], into: &mut Vec<Objection>) {
    let mut open: Option<Timestamp> = None;
    for (dispute, at) in notes.iter().filter_map(|json| lists::NoteAt::read(json)) {
        match dispute {
            Some(Dispute::UnderReview) => {
                open.get_or_insert(at);
            }
            Some(Dispute::Upheld | Dispute::Rejected) => {
                if let Some(raised) = open.take() {
                    into.push(Objection {
                        raised,
                        answered: Some(at),
                    });
                }
            }
            Some(Dispute::None) | None => open = None,
        }
    }
    if let Some(raised) = open {
        into.push(Objection {
            raised,
            answered: None,
        });
    }
}

/// The objection and repair figures, from what a Redis source keeps.
fn history_figures(
    history: Option<&ListHistory>,
    month: Month,
    put: &mut impl FnMut(&'static str, Figure),
) {
    const ANSWERED: &str = "objections answered (upheld or rejected) in the month";
    const IN_TIME: &str =
        "objections answered in the month within 5 working days of going under review";
    const RATE: &str = "objections_answered_in_time / objections_answered";
    const OVERDUE: &str = "objections under review at the month's end for more than 5 working days";
    const REPAIRS: &str = "credit repairs recorded in the month";
    let Some(history) = history else {
        let why = "the list source is a file, which keeps no history of objections and repairs";
        for (name, summary) in [
            ("objections_answered", ANSWERED),
            ("objections_answered_in_time", IN_TIME),
            ("objections_in_time_rate", RATE),
            ("objections_overdue_at_month_end", OVERDUE),
            ("repairs", REPAIRS),
        ] {
            put(name, Figure::missing(name, summary, why));
        }
        return;
    };
    let (from, to) = (month.start(), month.end());
    let last = Timestamp(to.0 - 1);
    let in_month = |at: Timestamp| from <= at && at < to;
    let mut all = Vec::new();
    for (_, notes) in &history.disputes {
        objections(notes, &mut all);
    }
    let answered: Vec<(Timestamp, Timestamp)> = (all.iter())
        .filter_map(|o| {
            o.answered
                .filter(|&at| in_month(at))
                .map(|at| (o.raised, at))
        })
        .collect();
    let in_time = (answered.iter())
        .filter(|(raised, at)| at.minus_working_days(ANSWER_WORKING_DAYS) <= *raised)
        .count() as u64;
    let overdue_before = last.minus_working_days(ANSWER_WORKING_DAYS);
    let overdue = (all.iter())
        .filter(|o| o.raised < overdue_before && o.answered.is_none_or(|at| at > last))
        .count() as u64;
    put(
        "objections_answered",
        Figure::new("objections_answered", ANSWERED, json!(answered.len())),
    );
    put(
        "objections_answered_in_time",
        Figure::new("objections_answered_in_time", IN_TIME, json!(in_time)),
    );
    put(
        "objections_in_time_rate",
        match share(
            in_time,
            answered.len() as u64,
            "no objection was answered in the month",
        ) {
            Ok(value) => Figure::new("objections_in_time_rate", RATE, value),
            Err(why) => Figure::missing("objections_in_time_rate", RATE, why),
        },
    );
    put(
        "objections_overdue_at_month_end",
        Figure::new("objections_overdue_at_month_end", OVERDUE, json!(overdue)),
    );
    let repairs = (history.repairs.iter())
        .flat_map(|(_, notes)| notes)
        .filter_map(|json| lists::NoteAt::read(json))
        .filter(|&(_, at)| in_month(at))
        .count();
    put("repairs", Figure::new("repairs", REPAIRS, json!(repairs)));
}

/// The CSV columns: one row per figure, then one per part of a figure.
pub const CSV_FIELDS: [&str; 6] = ["month", "figure", "part", "value", "reason", "definition"];

impl Indicators {
    /// The figures as CSV rows (after the header): `part` is empty on a figure's own row; a
    /// part that is an object (a department's feedback) gives one row per member, named
    /// `<part>.<member>`.
    pub fn csv_rows(&self) -> Vec<[String; 6]> {
        let text = |value: &Value| match value {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut rows = Vec::new();
        for (name, figure) in &self.figures {
            let row = |part: String, value: &Value, reason: &str| {
                [
                    self.month.clone(),
                    (*name).to_owned(),
                    part,
                    text(value),
                    reason.to_owned(),
                    figure.definition.clone(),
                ]
            };
            rows.push(row(
                String::new(),
                &figure.value,
                figure.reason.as_deref().unwrap_or(""),
            ));
            for (part, value) in &figure.parts {
                match value {
                    Value::Object(members) => rows.extend(
                        (members.iter())
                            .map(|(member, value)| row(format!("{part}.{member}"), value, "")),
                    ),
                    value => rows.push(row(part.clone(), value, "")),
                }
            }
        }
        rows
    }
}
