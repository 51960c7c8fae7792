//! A subject's profile for credit-centre staff: which of its entries are worth showing, where
//! each stands at an instant, the entries naming it as a responsible person, and the topics
//! they trigger. Pure, like the decision: the caller fetches, the caller writes.

use super::{check_identifier, current_scores, DecideError, Holdings, Warning};
use crate::ident::{SubjectId, SubjectKey};
use crate::lists::{Dispute, EntryRef, Status};
use crate::ruleset::{Role, RuleSet};
use crate::timestamp::Timestamp;

/// How long an ended entry stays in the profile, marked, after it stopped counting.
const RECENTLY_ENDED_MS: i64 = 365 * 24 * 3600 * 1000;

/// Where an entry stands at the profile's instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    InForce,
    NotYetInForce,
    Expired,
    Repaired,
    Removed,
    /// Active, but an objection to it was upheld (异议成立), so it does not count.
    ObjectionUpheld,
}

impl EntryState {
    fn of(entry: &EntryRef<'_>, at: Timestamp) -> EntryState {
        let facts = &entry.facts;
        match facts.status {
            Status::Repaired => EntryState::Repaired,
            Status::Removed => EntryState::Removed,
            Status::Active if facts.dispute == Dispute::Upheld => EntryState::ObjectionUpheld,
            Status::Active if facts.listed_on > at => EntryState::NotYetInForce,
            Status::Active if facts.in_force(at) => EntryState::InForce,
            Status::Active => EntryState::Expired,
        }
    }
}

/// One entry as the profile shows it.
#[derive(Debug, Clone)]
pub struct Shown<'s> {
    pub entry: EntryRef<'s>,
    pub state: EntryState,
    /// The role the entry names the subject in (entries naming it only).
    pub role: Option<Role>,
    /// On a scored list: the level the entry's score falls in.
    pub score_level: Option<&'s str>,
    /// An in-force score entry that no longer counts: the entry whose score is current.
    pub superseded_by: Option<EntryRef<'s>>,
    /// The subject's other identifier through which the entry was found.
    pub matched: Option<SubjectKey>,
}

#[derive(Debug, Clone)]
pub struct Profile<'s> {
    /// What the identifier's check character says, if anything.
    pub warning: Option<Warning>,
    /// Codes of the topics triggered by entries in force (the subject's own or naming it),
    /// sorted, each once.
    pub topics: Vec<&'s str>,
    /// The subject's own entries worth showing, those found through an older identifier last.
    pub entries: Vec<Shown<'s>>,
    /// The entries naming the subject as a responsible person, worth showing.
    pub named_in: Vec<Shown<'s>>,
}

/// The profile of `subject` at instant `at` (docs/api.md, `GET /v1/subjects/{id}`).
pub fn profile<'s>(
    rules: &'s RuleSet,
    holdings: Holdings<'s>,
    subject: &SubjectId,
    at: Timestamp,
) -> Result<Profile<'s>, DecideError> {
    let warning = check_identifier(holdings, subject)?;
    let through = holdings
        .index
        .entries_through(subject)
        .into_iter()
        .flatten();
    let own: Vec<(EntryRef<'s>, Option<SubjectKey>)> = (holdings.entries_of(subject.key()))
        .map(|e| (e, None))
        .chain(through.map(|(e, matched)| (e, Some(matched))))
        .collect();
    let naming: Vec<(EntryRef<'s>, Role)> = holdings.naming(subject.key()).collect();
    let mut topics: Vec<&str> = own
        .iter()
        .map(|(entry, _)| entry)
        .chain(naming.iter().map(|(entry, _)| entry))
        .filter(|entry| entry.facts.in_force(at))
        .flat_map(|entry| {
            rules
                .list(entry.facts.list)
                .topics
                .iter()
                .map(String::as_str)
        })
        .collect();
    topics.sort_unstable();
    topics.dedup();
    Ok(Profile {
        warning,
        topics,
        entries: own_shown(rules, &own, at),
        named_in: naming
            .iter()
            .filter(|(entry, _)| worth_showing(entry, at))
            .map(|(entry, role)| shown(rules, *entry, at, Some(*role), None))
            .collect(),
    })
}

/// Ended entries are shown only for a year after they ended (repaired and removed entries carry
/// no end date, so they are shown while their window would still run).
fn worth_showing(entry: &EntryRef<'_>, at: Timestamp) -> bool {
    entry
        .facts
        .valid_until()
        .is_none_or(|until| until.0 + RECENTLY_ENDED_MS > at.0)
}

fn shown<'s>(
    rules: &'s RuleSet,
    entry: EntryRef<'s>,
    at: Timestamp,
    role: Option<Role>,
    matched: Option<SubjectKey>,
) -> Shown<'s> {
    Shown {
        entry,
        state: EntryState::of(&entry, at),
        role,
        score_level: entry
            .facts
            .score()
            .and_then(|score| rules.score_level_name(score)),
        superseded_by: None,
        matched,
    }
}

/// The subject's own entries worth showing, each in-force score entry that is not the current
/// one marked with the entry that superseded it.
fn own_shown<'s>(
    rules: &'s RuleSet,
    own: &[(EntryRef<'s>, Option<SubjectKey>)],
    at: Timestamp,
) -> Vec<Shown<'s>> {
    let current = current_scores(own.iter().map(|(entry, _)| *entry), at);
    let mut shown_entries = Vec::new();
    for (position, (entry, matched)) in own.iter().enumerate() {
        if !worth_showing(entry, at) {
            continue;
        }
        let mut view = shown(rules, *entry, at, None, *matched);
        if let Some(&(_, counted)) = current.iter().find(|(list, _)| *list == entry.facts.list) {
            if counted != position && entry.facts.in_force(at) {
                view.superseded_by = Some(own[counted].0);
            }
        }
        shown_entries.push(view);
    }
    shown_entries
}
