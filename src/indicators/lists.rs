//! The list figures: how long each entry that a figure counts was in force, from the lists as
//! they are and what the source keeps of their past, and the subjects counted from that.

use std::collections::HashMap;

use serde::Deserialize;

use super::Month;
use crate::ident::{self, IdType, SubjectKey, SubjectKind};
use crate::lists::source::ListHistory;
use crate::lists::{Dispute, Entry, EntryRecord, Facts, ListIndex, Status};
use crate::ruleset::{ListId, RuleSet};
use crate::timestamp::Timestamp;

/// The list of A-grade taxpayers (纳税信用A级纳税人) in the rule set.
pub const A_GRADE_LIST: &str = "tax_a_grade";

/// What a subject is, for the figures that count by kind (USCC positions 1–2, GB 32100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// `91…` (企业).
    Enterprise,
    /// `11…` (机关).
    StateOrgan,
    /// `12…`, `19…` (事业单位).
    PublicInstitution,
    /// `13…` (群众团体 under the staffing authority).
    MassOrganization,
}

impl Class {
    fn of(subject: SubjectKey) -> Option<Class> {
        if subject.id_type() != IdType::Uscc {
            return None;
        }
        match ident::parse(&subject.to_id_string()).ok()?.kind() {
            SubjectKind::Enterprise => Some(Class::Enterprise),
            SubjectKind::StateOrgan => Some(Class::StateOrgan),
            SubjectKind::PublicInstitution => Some(Class::PublicInstitution),
            SubjectKind::MassOrganization => Some(Class::MassOrganization),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Enterprise => "enterprise",
            Class::StateOrgan => "state_organ",
            Class::PublicInstitution => "public_institution",
            Class::MassOrganization => "mass_organization",
        }
    }
}

/// One entry's time in force, `[start, stop)`.
#[derive(Debug, Clone, Copy)]
struct Span {
    subject: SubjectKey,
    class: Class,
    /// On a serious list (else on the A-grade list).
    serious: bool,
    start: Timestamp,
    stop: Timestamp,
}

impl Span {
    fn covers(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.stop
    }
}

/// The spans of the entries the figures count: on serious lists or the A-grade list, of
/// subjects whose kind a figure counts.
#[derive(Debug, Default)]
pub struct Spans {
    spans: Vec<Span>,
    /// Entries that stopped counting (repaired, removed, objection upheld) at an instant the
    /// source does not keep: left out.
    pub ended_at_unknown_time: u64,
    /// Removed entries whose tombstone the rule set loaded now cannot read (a list it no
    /// longer has): left out.
    pub unreadable_tombstones: u64,
}

/// The instants a source keeps of entries' repairs and upheld objections, by entry id.
#[derive(Default)]
struct Ends {
    repaired_at: HashMap<String, Timestamp>,
    upheld_at: HashMap<String, Timestamp>,
}

/// A repair or dispute note as the list source writes it.
#[derive(Deserialize)]
pub(super) struct NoteAt {
    #[serde(default)]
    pub dispute: Option<Dispute>,
    pub at: String,
}

impl NoteAt {
    pub(super) fn read(json: &str) -> Option<(Option<Dispute>, Timestamp)> {
        let note: NoteAt = serde_json::from_str(json).ok()?;
        Some((note.dispute, Timestamp::parse(&note.at).ok()?))
    }
}

#[derive(Deserialize)]
struct Tombstone {
    entry: serde_json::Value,
    removed_at: String,
}

impl Spans {
    /// The spans of the index's entries and, where the source keeps them, of removed entries.
    pub fn gather(rules: &RuleSet, index: &ListIndex, history: Option<&ListHistory>) -> Spans {
        let counted: Vec<bool> = rules
            .lists()
            .map(|(_, list)| list.serious || list.code == A_GRADE_LIST)
            .collect();
        let counts = |list: ListId| counted.get(list.index()).copied().unwrap_or(false);
        let ends = history.map(Ends::of).unwrap_or_default();
        let mut spans = Spans::default();
        for entry in index.iter().filter(|e| counts(e.facts.list)) {
            let Some(class) = Class::of(entry.subject) else {
                continue;
            };
            let id = || entry.entry_id().ok().map(|id| id.into_owned());
            spans.add(
                rules,
                entry.subject,
                class,
                &entry.facts,
                ends.stop(&entry.facts, None, id),
            );
        }
        for json in history.map_or(&[][..], |h| &h.tombstones[..]) {
            let read = serde_json::from_str::<Tombstone>(json)
                .ok()
                .and_then(|tomb| {
                    let removed_at = Timestamp::parse(&tomb.removed_at).ok()?;
                    let record = EntryRecord::deserialize(&tomb.entry).ok()?;
                    let entry_id = record.entry_id.to_string();
                    let entry = Entry::from_record(record, rules).ok()?;
                    Some((entry.subject, entry.facts, removed_at, entry_id))
                });
            let Some((subject, facts, removed_at, entry_id)) = read else {
                spans.unreadable_tombstones += 1;
                continue;
            };
            if !counts(facts.list) {
                continue;
            }
            if let Some(class) = Class::of(subject) {
                let stop = ends.stop(&facts, Some(removed_at), || Some(entry_id));
                spans.add(rules, subject, class, &facts, stop);
            }
        }
        spans
    }

    fn add(
        &mut self,
        rules: &RuleSet,
        subject: SubjectKey,
        class: Class,
        facts: &Facts,
        stop: Option<Timestamp>,
    ) {
        let Some(stop) = stop else {
            self.ended_at_unknown_time += 1;
            return;
        };
        self.spans.push(Span {
            subject,
            class,
            serious: rules.list(facts.list).serious,
            start: facts.listed_on,
            stop,
        });
    }

    /// The list figures of `month`.
    pub fn figures(&mut self, month: Month) -> ListFigures {
        let last = Timestamp(month.end().0 - 1);
        let window = (month.minus(11).start(), month.end());
        self.spans
            .sort_unstable_by_key(|span| span.subject.as_u128());
        let mut figures = ListFigures::default();
        for spans in self.spans.chunk_by(|a, b| a.subject == b.subject) {
            let class = spans[0].class;
            let serious: Vec<&Span> = (spans.iter())
                .filter(|s| s.serious && s.start < s.stop)
                .collect();
            let at_end = serious.iter().any(|s| s.covers(last));
            if class == Class::Enterprise {
                let at_start = serious.iter().any(|s| s.covers(window.0));
                let began_inside =
                    (serious.iter()).any(|s| window.0 <= s.start && s.start < window.1);
                let first = serious.iter().map(|s| s.start).min();
                figures.serious_enterprises += u64::from(at_end);
                figures.serious_enterprises_new +=
                    u64::from(first.is_some_and(|first| window.0 <= first && first < window.1));
                figures.serious_enterprises_exited +=
                    u64::from((at_start || began_inside) && !at_end);
                let a_grade = (spans.iter()).any(|s| !s.serious && s.covers(last));
                figures.a_grade_taxpayers += u64::from(a_grade);
            } else if at_end {
                *figures.public_bodies.entry(class.name()).or_default() += 1;
            }
        }
        figures
    }
}

impl Ends {
    fn of(history: &ListHistory) -> Ends {
        let latest = |notes: &[String], wanted: fn(Option<Dispute>) -> bool| {
            (notes.iter())
                .filter_map(|json| NoteAt::read(json))
                .filter(|(dispute, _)| wanted(*dispute))
                .map(|(_, at)| at)
                .max()
        };
        let mut ends = Ends::default();
        for (id, notes) in &history.repairs {
            if let Some(at) = latest(notes, |_| true) {
                ends.repaired_at.insert(id.clone(), at);
            }
        }
        for (id, notes) in &history.disputes {
            if let Some(at) = latest(notes, |d| d == Some(Dispute::Upheld)) {
                ends.upheld_at.insert(id.clone(), at);
            }
        }
        ends
    }

    /// When an entry stopped counting: the earliest of its `valid_until`, its removal, its
    /// repair and its upheld objection; `None` when one of these happened at an instant not
    /// known. `entry_id` is asked for only when a repair or an upheld objection is looked up.
    fn stop(
        &self,
        facts: &Facts,
        removed_at: Option<Timestamp>,
        entry_id: impl FnOnce() -> Option<String>,
    ) -> Option<Timestamp> {
        let mut stop = facts.valid_until().unwrap_or(Timestamp(i64::MAX));
        if let Some(at) = removed_at {
            stop = stop.min(at);
        } else if facts.status == Status::Removed {
            return None;
        }
        let repaired = facts.status == Status::Repaired;
        let upheld = facts.dispute == Dispute::Upheld;
        if repaired || upheld {
            let id = entry_id()?;
            if repaired {
                stop = stop.min(*self.repaired_at.get(&id)?);
            }
            if upheld {
                stop = stop.min(*self.upheld_at.get(&id)?);
            }
        }
        Some(stop)
    }
}

/// The figures counted from the lists (docs/indicators.md).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListFigures {
    pub serious_enterprises: u64,
    pub serious_enterprises_new: u64,
    pub serious_enterprises_exited: u64,
    pub a_grade_taxpayers: u64,
    /// Organs, public institutions and mass organisations on serious lists, by kind.
    pub public_bodies: std::collections::BTreeMap<&'static str, u64>,
}
