//! Whether 告知承诺 (approval on the subject's credit commitment) or 容缺受理 (acceptance with
//! materials to follow) may be offered in a matter that allows them: pure, like the decision.
//!
//! Neither may be offered to a subject with an in-force entry of its own on a `serious` list,
//! nor to one with a breach of a commitment (违诺) recorded within the rule set's
//! `commitment_breach_months` before the instant decided. The breaches and commitments are an
//! input, kept outside the lists by the caller.

use uuid::Uuid;

use super::Holdings;
use crate::ident::SubjectId;
use crate::lists::EntryRef;
use crate::ruleset::{MatterId, RuleSet};
use crate::timestamp::Timestamp;

/// A commitment as the engine weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentFact {
    pub commitment_id: Uuid,
    /// The matter's code.
    pub matter: String,
    pub signed_at: Timestamp,
    /// Exclusive.
    pub valid_until: Timestamp,
}

/// A recorded breach as the engine weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreachFact {
    pub breach_id: Uuid,
    /// The commitment breached, when the breach names one.
    pub commitment_id: Option<Uuid>,
    /// When the subject broke its commitment.
    pub breached_at: Timestamp,
}

/// A subject's commitments and breaches, each in the order recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentHistory {
    pub commitments: Vec<CommitmentFact>,
    pub breaches: Vec<BreachFact>,
}

/// Why the offer is withheld.
#[derive(Debug, Clone)]
pub enum Withheld<'s> {
    /// The subject's own in-force entry on a serious list.
    SeriousList(EntryRef<'s>),
    /// A breach within the period.
    RecentBreach(BreachFact),
}

/// What a decision in a commitment matter says about the offer.
#[derive(Debug, Clone)]
pub struct Offer<'s> {
    pub may_offer: bool,
    /// Every reason it is withheld (none when it may be offered): entries in the index's order,
    /// then breaches, the latest first.
    pub withheld: Vec<Withheld<'s>>,
    /// Breaches count from this instant (exclusive) to the instant decided.
    pub breaches_since: Timestamp,
    pub breach_months: u16,
    /// The subject's latest commitment for this matter in force at the instant decided and not
    /// breached.
    pub on_file: Option<Uuid>,
}

/// The offer for `subject` in `matter` at `at`, or `None` for a matter that does not allow
/// commitments.
pub fn offer<'s>(
    rules: &'s RuleSet,
    holdings: Holdings<'s>,
    subject: &SubjectId,
    matter: MatterId,
    at: Timestamp,
    history: &CommitmentHistory,
) -> Option<Offer<'s>> {
    let matter = rules.matter(matter);
    if !matter.commitment {
        return None;
    }
    let serious =
        |entry: &EntryRef<'_>| entry.facts.in_force(at) && rules.list(entry.facts.list).serious;
    let mut withheld: Vec<Withheld<'s>> = holdings
        .entries_of(subject.key())
        .filter(serious)
        .map(Withheld::SeriousList)
        .collect();
    if let Some(through) = holdings.index.entries_through(subject) {
        withheld.extend(
            through
                .map(|(entry, _)| entry)
                .filter(serious)
                .map(Withheld::SeriousList),
        );
    }
    let since = at.minus_months(rules.commitment_breach_months);
    let mut breaches: Vec<BreachFact> = history
        .breaches
        .iter()
        .filter(|b| since < b.breached_at && b.breached_at <= at)
        .copied()
        .collect();
    breaches.sort_by(|a, b| (b.breached_at, b.breach_id).cmp(&(a.breached_at, a.breach_id)));
    withheld.extend(breaches.into_iter().map(Withheld::RecentBreach));
    let breached = |id: Uuid| {
        history
            .breaches
            .iter()
            .any(|b| b.commitment_id == Some(id) && b.breached_at <= at)
    };
    let on_file = history
        .commitments
        .iter()
        .filter(|c| c.matter == matter.code && c.signed_at <= at && at < c.valid_until)
        .filter(|c| !breached(c.commitment_id))
        .max_by_key(|c| (c.signed_at, c.commitment_id))
        .map(|c| c.commitment_id);
    Some(Offer {
        may_offer: withheld.is_empty(),
        withheld,
        breaches_since: since,
        breach_months: rules.commitment_breach_months,
        on_file,
    })
}
