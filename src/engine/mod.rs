//! The decision: a pure function of (compiled rules, list index, subject, matter, instant);
//! and the profile, what staff are shown of a subject, as pure.
//!
//! No I/O, no clock, no locks: `at` is passed in, and everything the engine returns borrows
//! from the rules and lists it was given, so explaining a decision costs no copies.

mod batch;
mod commitment;
mod profile;

pub use batch::{decide_chunks, BatchItem, PARALLEL_THRESHOLD};
pub use commitment::{offer, BreachFact, CommitmentFact, CommitmentHistory, Offer, Withheld};
pub use profile::{profile, EntryState, Profile, Shown};

use crate::ident::{CheckOutcome, IdType, Masked, SubjectId, SubjectKey};
use crate::lists::{Dispute, Entry, EntryRef, ListIndex};
use crate::ruleset::{
    Application, DisputePolicy, Effect, ListDef, ListId, MatterId, MeasureDef, Role, RuleSet,
    TopicDef,
};
use crate::timestamp::Timestamp;

/// The answer to "may this subject proceed with this matter?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Allow,
    Flag,
    Block,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Allow, Outcome::Flag, Outcome::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Flag => "flag",
            Outcome::Block => "block",
        }
    }

    /// The word a credit officer reads for the outcome (通过, 提示, 拦截).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Allow => "通过",
            Outcome::Flag => "提示",
            Outcome::Block => "拦截",
        }
    }
}

/// One measure that applies, and everything needed to explain it.
#[derive(Debug, Clone)]
pub struct Reason<'s> {
    pub topic: &'s TopicDef,
    pub list: &'s ListDef,
    pub measure: &'s MeasureDef,
    pub entry: EntryRef<'s>,
    /// The effect after the dispute policy (a downgraded block reads `flag`).
    pub effect: Effect,
    /// Set when the subject is not the listed one but a person named in the entry.
    pub via: Option<Role>,
    /// The rule set's dispute policy turned this reason's `block` into `flag`.
    pub downgraded: bool,
    /// The entry was found through the subject's older identifier
    /// ([`SubjectId::older_identifier`]), not its own.
    pub through_older_identifier: bool,
}

impl Reason<'_> {
    pub fn under_dispute(&self) -> bool {
        self.entry.facts.dispute == Dispute::UnderReview
    }
}

/// A warning about the request's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// The USCC fails its check character; it was looked up exactly as given.
    UsccCheckMismatch { expected: char },
    /// The organisation code or registration number fails its check character; it was looked
    /// up exactly as given.
    LegacyCheckMismatch { id_type: IdType, expected: char },
    /// The resident ID fails its check digit but is on a list, so it was evaluated.
    IdCheckMismatch { expected: char },
    /// The resident ID was given in its 15-digit first-generation form and was looked up as the
    /// 18-character form `to` (masked, as every person ID outside the decision itself).
    ResidentIdUpgraded { to: Masked },
    /// Some lists kept outside the index could not be looked up (their source unreachable,
    /// nothing cached): they were left out of this decision.
    ListsLeftOut,
}

#[derive(Debug, Clone)]
pub struct Decision<'s> {
    pub outcome: Outcome,
    /// Most severe first, then by topic and measure; entries under one measure in the order the
    /// index holds them.
    pub reasons: Vec<Reason<'s>>,
    pub warnings: Vec<Warning>,
    /// The in-force entry that took the subject's `reward` reasons away (invariant 10); set
    /// only when there were rewards to take. Boxed: it is rare, and a miss should not carry a
    /// wider decision.
    pub rewards_suppressed_by: Option<Box<EntryRef<'s>>>,
    /// Per scored list with more than one of the subject's entries in force: the entry whose
    /// score counts and those it supersedes (they gave no reasons). A boxed slice: empty in
    /// almost every decision, it should not widen them.
    pub superseded_scores: Box<[SupersededScores<'s>]>,
    /// In a matter that allows credit commitments: whether 告知承诺 or 容缺受理 may be offered
    /// ([`offer`], set by the caller, which holds the commitments). Boxed, as the rest that
    /// most decisions lack.
    pub commitment: Option<Box<Offer<'s>>>,
}

/// A person's current score entry on a scored list, and the older ones in force beside it.
#[derive(Debug, Clone)]
pub struct SupersededScores<'s> {
    pub current: EntryRef<'s>,
    pub superseded: Vec<EntryRef<'s>>,
}

/// Why no decision could be made for a well-formed identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("the resident ID fails its check digit (expected `{expected}`) and is on no list")]
    IdCheckMismatch { expected: char },
    #[error("the fifteen digits read both as a first-generation resident ID and as a registration number the lists hold; say which with id_type (resident_id or registration_number)")]
    AmbiguousFifteenDigits,
}

/// What the lists hold about one subject: the index, and the entries the caller found outside
/// it, each filed under the subject or naming it as a responsible person. The engine does not
/// care where an entry is kept; built from the index alone it costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct Holdings<'s> {
    pub index: &'s ListIndex,
    /// Entries of the subject, or naming it, that the index does not hold.
    pub extra: &'s [Entry],
}

impl<'s> Holdings<'s> {
    /// What the index alone holds.
    pub fn of(index: &'s ListIndex) -> Holdings<'s> {
        Holdings { index, extra: &[] }
    }

    /// The subject's own entries: the index's, then the extra ones filed under it.
    pub fn entries_of(self, subject: SubjectKey) -> impl Iterator<Item = EntryRef<'s>> {
        let extra = self.extra.iter().filter(move |e| e.subject == subject);
        self.index
            .entries_of(subject)
            .chain(extra.map(EntryRef::from))
    }

    /// The entries (of other subjects) that name this person, with the role they name it in.
    pub fn naming(self, person: SubjectKey) -> impl Iterator<Item = (EntryRef<'s>, Role)> {
        self.index.naming(person).chain(self.extra_naming(person))
    }

    /// The extra entries that name this person. Apart from [`naming`](Self::naming) so that a
    /// decision without extra entries neither builds nor moves their iteration.
    fn extra_naming(self, person: SubjectKey) -> impl Iterator<Item = (EntryRef<'s>, Role)> {
        self.extra.iter().flat_map(move |entry| {
            entry
                .responsible_persons
                .iter()
                .filter(move |p| p.id == person)
                .map(move |p| (EntryRef::from(entry), p.role))
        })
    }

    /// Whether the identifier is listed anywhere, as a subject or a named person. Asked only of
    /// an identifier that fails its check character, so it stays out of line.
    #[inline(never)]
    fn knows(self, key: SubjectKey) -> bool {
        self.index.knows(key)
            || self.extra.iter().any(|entry| {
                entry.subject == key || entry.responsible_persons.iter().any(|p| p.id == key)
            })
    }
}

/// Decides one subject in one matter at instant `at` (docs/api.md, Decision semantics, invariants 7–12).
pub fn decide<'s>(
    rules: &'s RuleSet,
    holdings: Holdings<'s>,
    subject: &SubjectId,
    matter: MatterId,
    at: Timestamp,
) -> Result<Decision<'s>, DecideError> {
    let warnings: Vec<Warning> = check_identifier(holdings, subject)?.into_iter().collect();
    let mut reasons = Vec::new();
    let mut suppressor = None;
    let mut collect = |entry: EntryRef<'s>, via: Option<Role>, through_older_identifier: bool| {
        // Invariant 8: entries not in force never count.
        if !entry.facts.in_force(at) {
            return;
        }
        let list = rules.list(entry.facts.list);
        let suppresses = rules.suppresses_rewards(list);
        // Invariant 10: the subject's own entry suppresses in every matter.
        if via.is_none() && suppresses {
            suppressor.get_or_insert(entry);
        }
        for app in rules.applications(matter, entry.facts.list) {
            if !applies(rules, app, &entry, via) {
                continue;
            }
            // A named person is not on the list: only a measure that reaches them suppresses.
            if suppresses {
                suppressor.get_or_insert(entry);
            }
            let downgraded = app.effect == Effect::Block
                && entry.facts.dispute == Dispute::UnderReview
                && rules.dispute_policy == DisputePolicy::Downgrade;
            reasons.push(Reason {
                topic: rules.topic(app.topic),
                list,
                measure: rules.measure(app.measure),
                entry,
                effect: if downgraded { Effect::Flag } else { app.effect },
                via,
                downgraded,
                through_older_identifier,
            });
        }
    };
    // A person has one current score: their score entries in force are weighed together.
    let mut scores: Vec<EntryRef<'s>> = Vec::new();
    for entry in holdings.entries_of(subject.key()) {
        // Exactly the entries of scored lists carry a score (checked when they are loaded).
        if entry.facts.score().is_some() && entry.facts.in_force(at) {
            scores.push(entry);
        } else {
            collect(entry, None, false);
        }
    }
    let mut superseded_scores: Vec<SupersededScores<'s>> = Vec::new();
    if let [only] = scores[..] {
        collect(only, None, false);
    } else if !scores.is_empty() {
        let current = current_scores(scores.iter().copied(), at);
        for (position, entry) in scores.iter().enumerate() {
            match current.iter().find(|(list, _)| *list == entry.facts.list) {
                Some(&(_, counted)) if counted != position => {
                    supersede(&mut superseded_scores, scores[counted], *entry);
                }
                // The others in force give no reasons.
                _ => collect(*entry, None, false),
            }
        }
    }
    // Organisations only: no score is reached through an older identifier.
    if let Some(through) = holdings.index.entries_through(subject) {
        for (entry, _) in through {
            collect(entry, None, true);
        }
    }
    for (entry, role) in holdings.index.naming(subject.key()) {
        collect(entry, Some(role), false);
    }
    if !holdings.extra.is_empty() {
        for (entry, role) in holdings.extra_naming(subject.key()) {
            collect(entry, Some(role), false);
        }
    }

    // Invariant 10: punishment suppresses incentives for the whole subject.
    let rewards_suppressed_by = match suppressor {
        Some(entry) if reasons.iter().any(|r| r.effect == Effect::Reward) => {
            reasons.retain(|r| r.effect != Effect::Reward);
            Some(Box::new(entry))
        }
        _ => None,
    };
    // A stable sort: entries under one measure stay in the order they were found. Their ids are
    // text, which the engine does not read; whoever names the entries orders them by id.
    reasons.sort_by(|a, b| {
        (a.effect, &a.topic.code, &a.measure.code).cmp(&(b.effect, &b.topic.code, &b.measure.code))
    });
    Ok(Decision {
        outcome: outcome_of(&reasons),
        reasons,
        warnings,
        rewards_suppressed_by,
        superseded_scores: superseded_scores.into_boxed_slice(),
        commitment: None,
    })
}

/// Where a subject's current score lies, per scored list, as (list, position among `own`: the
/// subject's own entries, or some of them, in the order the index gives them). Of the entries
/// in force at `at`, the one listed last counts; of entries listed at the same instant, the
/// lower score (a correction published the same day is not taken to raise a score); of entries
/// alike in both, the first held. A score is one current value, not a membership.
fn current_scores<'s>(
    own: impl Iterator<Item = EntryRef<'s>>,
    at: Timestamp,
) -> Vec<(ListId, usize)> {
    let mut best: Vec<(ListId, usize, EntryRef<'s>)> = Vec::new();
    for (position, entry) in own.enumerate() {
        let facts = &entry.facts;
        if facts.score().is_none() || !facts.in_force(at) {
            continue;
        }
        match best.iter_mut().find(|(list, _, _)| *list == facts.list) {
            None => best.push((facts.list, position, entry)),
            Some(held) => {
                let later = (facts.listed_on, std::cmp::Reverse(facts.score()))
                    > (
                        held.2.facts.listed_on,
                        std::cmp::Reverse(held.2.facts.score()),
                    );
                if later {
                    *held = (facts.list, position, entry);
                }
            }
        }
    }
    best.into_iter()
        .map(|(list, position, _)| (list, position))
        .collect()
}

/// Records `entry` as superseded by `current` on their list.
fn supersede<'s>(all: &mut Vec<SupersededScores<'s>>, current: EntryRef<'s>, entry: EntryRef<'s>) {
    match all
        .iter_mut()
        .find(|s| s.current.facts.list == entry.facts.list)
    {
        Some(scores) => scores.superseded.push(entry),
        None => all.push(SupersededScores {
            current,
            superseded: vec![entry],
        }),
    }
}

/// What a failed check character means for a lookup (docs/api.md, Identifiers): a USCC is looked up as
/// given, with a warning; a resident ID only if that exact ID is listed. An upgraded
/// first-generation ID has a computed check character, so it only ever carries its own warning.
#[inline]
fn check_identifier(
    holdings: Holdings<'_>,
    subject: &SubjectId,
) -> Result<Option<Warning>, DecideError> {
    if subject.upgraded() {
        // Deny by default: a company's registration number must not be decided as a person.
        if subject
            .registration_reading()
            .is_some_and(|registration| holdings.index.holds_older_identifier(registration))
        {
            return Err(DecideError::AmbiguousFifteenDigits);
        }
        return Ok(Some(Warning::ResidentIdUpgraded {
            to: subject.masked(),
        }));
    }
    let CheckOutcome::Mismatch { expected } = subject.check() else {
        return Ok(None);
    };
    match subject.id_type() {
        IdType::Uscc => Ok(Some(Warning::UsccCheckMismatch { expected })),
        id_type @ (IdType::OrgCode | IdType::RegistrationNumber) => {
            Ok(Some(Warning::LegacyCheckMismatch { id_type, expected }))
        }
        IdType::ResidentId if holdings.knows(subject.key()) => {
            Ok(Some(Warning::IdCheckMismatch { expected }))
        }
        // A mistyped ID must not silently match nobody.
        IdType::ResidentId => Err(DecideError::IdCheckMismatch { expected }),
    }
}

/// Whether an application counts for this entry: the listed subject itself, or a named person
/// the measure extends to; and, on scored lists, only at or above the measure's tier.
fn applies(rules: &RuleSet, app: &Application, entry: &EntryRef<'_>, via: Option<Role>) -> bool {
    let reaches = match via {
        None => true,
        Some(role) => app.person_roles.contains(role),
    };
    let scores = match (app.min_score_level, entry.facts.score()) {
        (None, _) => true,
        (Some(min), Some(score)) => rules.score_level(score).is_some_and(|level| level >= min),
        (Some(_), None) => false,
    };
    reaches && scores
}

/// Invariant 9, one arm per case.
fn outcome_of(reasons: &[Reason<'_>]) -> Outcome {
    // Reasons are sorted most severe first, so the first one decides.
    match reasons.first().map(|r| r.effect) {
        // Any block blocks.
        Some(Effect::Block) => Outcome::Block,
        // No block, but something to check by hand.
        Some(Effect::Flag) => Outcome::Flag,
        // Only information or incentives, or nothing at all (invariant 7).
        Some(Effect::Inform | Effect::Reward) | None => Outcome::Allow,
    }
}

#[cfg(test)]
mod tests;
