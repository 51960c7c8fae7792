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
    /// The breaches on record could not be read: the offer is withheld until they are.
    BreachesUnknown,
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
/// commitments. `history` is `None` when the subject's breaches could not be read: the offer is
/// then withheld.
pub fn offer<'s>(
    rules: &'s RuleSet,
    holdings: Holdings<'s>,
    subject: &SubjectId,
    matter: MatterId,
    at: Timestamp,
    history: Option<&CommitmentHistory>,
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
    let empty = CommitmentHistory::default();
    let history = match history {
        Some(history) => history,
        None => {
            withheld.push(Withheld::BreachesUnknown);
            &empty
        }
    };
    let mut breaches: Vec<BreachFact> = history
        .breaches
        .iter()
        .filter(|b| since < b.breached_at && b.breached_at <= at)
        .copied()
        .collect();
    breaches.sort_by_key(|b| std::cmp::Reverse((b.breached_at, b.breach_id)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident;
    use crate::lists::{parse_entries, ListIndex};
    use crate::ruleset::testing::compile_with;

    const COMPANY: &str = "91230200MA1B2C3D8T";

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    /// The small rule set with procurement taking commitments and a six-month period.
    fn rules() -> RuleSet {
        compile_with(|files| {
            files[0].push_str("commitment_breach_months = 6\n");
            files[2] = files[2].replacen(
                "department = \"财政局\"\n",
                "department = \"财政局\"\ncommitment = true\n",
                1,
            );
        })
        .unwrap()
    }

    fn index(rules: &RuleSet, lines: &[&str]) -> ListIndex {
        let entries = parse_entries(lines.join("\n").as_bytes(), rules).unwrap();
        ListIndex::build(&entries, rules).unwrap()
    }

    fn on(list: &str, id: &str) -> String {
        format!(
            r#"{{"entry_id":"{id}","list":"{list}","subject_id":"{COMPANY}","listed_on":"2026-01-01","valid_until":"2027-01-01"}}"#
        )
    }

    fn offer_at<'s>(
        rules: &'s RuleSet,
        lists: &'s ListIndex,
        matter: &str,
        when: &str,
        history: &CommitmentHistory,
    ) -> Option<Offer<'s>> {
        let subject = ident::parse(COMPANY).unwrap();
        let matter = rules.matter_id(matter).unwrap();
        offer(
            rules,
            Holdings::of(lists),
            &subject,
            matter,
            at(when),
            Some(history),
        )
    }

    fn breach(n: u128, commitment: Option<u128>, when: &str) -> BreachFact {
        BreachFact {
            breach_id: Uuid::from_u128(n),
            commitment_id: commitment.map(Uuid::from_u128),
            breached_at: at(when),
        }
    }

    fn commitment(n: u128, matter: &str, signed: &str, until: &str) -> CommitmentFact {
        CommitmentFact {
            commitment_id: Uuid::from_u128(n),
            matter: matter.into(),
            signed_at: at(signed),
            valid_until: at(until),
        }
    }

    #[test]
    fn a_matter_without_commitments_has_no_offer() {
        let rules = rules();
        let lists = index(&rules, &[]);
        let none = CommitmentHistory::default();
        assert!(offer_at(&rules, &lists, "basic", "2026-06-01", &none).is_none());
        let clean = offer_at(&rules, &lists, "procurement", "2026-06-01", &none).unwrap();
        assert!(clean.may_offer && clean.withheld.is_empty() && clean.on_file.is_none());
        assert_eq!(clean.breach_months, 6);
    }

    #[test]
    fn breaches_that_could_not_be_read_withhold_the_offer() {
        let rules = rules();
        let lists = index(&rules, &[]);
        let subject = ident::parse(COMPANY).unwrap();
        let matter = rules.matter_id("procurement").unwrap();
        let unknown = offer(
            &rules,
            Holdings::of(&lists),
            &subject,
            matter,
            at("2026-06-01"),
            None,
        )
        .unwrap();
        assert!(!unknown.may_offer);
        assert!(matches!(unknown.withheld[..], [Withheld::BreachesUnknown]));
    }

    #[test]
    fn only_an_in_force_entry_on_a_serious_list_withholds_the_offer() {
        let rules = rules();
        let none = CommitmentHistory::default();
        let grey = index(&rules, &[&on("abnormal", "g1")]);
        assert!(
            offer_at(&rules, &grey, "procurement", "2026-06-01", &none)
                .unwrap()
                .may_offer
        );
        let serious = index(&rules, &[&on("debtor", "d1")]);
        let withheld = offer_at(&rules, &serious, "procurement", "2026-06-01", &none).unwrap();
        assert!(!withheld.may_offer);
        assert!(matches!(withheld.withheld[..], [Withheld::SeriousList(_)]));
        let expired = offer_at(&rules, &serious, "procurement", "2027-01-01", &none).unwrap();
        assert!(expired.may_offer, "the entry ended");
    }

    #[test]
    fn a_breach_withholds_the_offer_for_the_period_in_calendar_months_the_latest_first() {
        let rules = rules();
        let lists = index(&rules, &[]);
        let history = CommitmentHistory {
            commitments: Vec::new(),
            breaches: vec![
                breach(1, None, "2026-03-31T10:00:00+08:00"),
                breach(2, None, "2026-04-15T10:00:00+08:00"),
            ],
        };
        let both = offer_at(
            &rules,
            &lists,
            "procurement",
            "2026-08-31T10:00:00+08:00",
            &history,
        )
        .unwrap();
        let ids: Vec<_> = both
            .withheld
            .iter()
            .map(|w| match w {
                Withheld::RecentBreach(b) => b.breach_id.as_u128(),
                Withheld::SeriousList(_) | Withheld::BreachesUnknown => 0,
            })
            .collect();
        assert_eq!(ids, [2, 1]);
        // Six months before 30 September is 30 March: the breach of 31 March still counts.
        let one = offer_at(
            &rules,
            &lists,
            "procurement",
            "2026-09-30T10:00:00+08:00",
            &history,
        )
        .unwrap();
        assert_eq!(one.withheld.len(), 2);
        assert_eq!(one.breaches_since, at("2026-03-30T10:00:00+08:00"));
        let later = offer_at(
            &rules,
            &lists,
            "procurement",
            "2026-10-15T09:59:59+08:00",
            &history,
        )
        .unwrap();
        assert!(
            !later.may_offer,
            "the April breach counts until six months after it"
        );
        let after = offer_at(
            &rules,
            &lists,
            "procurement",
            "2026-10-15T10:00:00+08:00",
            &history,
        )
        .unwrap();
        assert!(after.may_offer, "and no more from then");
        let before = offer_at(
            &rules,
            &lists,
            "procurement",
            "2026-03-31T09:00:00+08:00",
            &history,
        )
        .unwrap();
        assert!(before.may_offer, "a breach counts from when it happened");
    }

    #[test]
    fn on_file_is_the_latest_commitment_of_the_matter_in_force_and_not_breached() {
        let rules = rules();
        let lists = index(&rules, &[]);
        let mut history = CommitmentHistory {
            commitments: vec![
                commitment(1, "procurement", "2026-01-01", "2027-01-01"),
                commitment(2, "procurement", "2026-02-01", "2027-01-01"),
                commitment(3, "basic", "2026-03-01", "2027-01-01"),
                commitment(4, "procurement", "2026-07-01", "2027-01-01"),
            ],
            breaches: Vec::new(),
        };
        let on_file = |history: &CommitmentHistory| {
            offer_at(&rules, &lists, "procurement", "2026-06-01", history)
                .unwrap()
                .on_file
                .map(|id| id.as_u128())
        };
        assert_eq!(on_file(&history), Some(2));
        history.breaches.push(breach(9, Some(2), "2026-05-01"));
        assert_eq!(on_file(&history), Some(1));
    }
}
