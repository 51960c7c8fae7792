//! Invariants 7–12 on the small test rule set (`ruleset::testing`); the shipped rule set's
//! outcome table is covered by the golden cases of the integration tests.

use super::*;
use crate::ident;
use crate::lists::{parse_entries, ListIndex};
use crate::ruleset::testing::{compile_with, mini};

const COMPANY: &str = "91230200MA1B2C3D8T";
const PERSON: &str = "230202198503121238";
const OTHER_PERSON: &str = "230203199207010462";

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn index(rules: &RuleSet, lines: &[String]) -> ListIndex {
    let entries =
        parse_entries(lines.join("\n").as_bytes(), rules).unwrap_or_else(|p| panic!("{p:?}"));
    ListIndex::build(&entries, rules).unwrap()
}

fn entry(id: &str, list: &str, subject: &str, extra: &str) -> String {
    format!(
        r#"{{"entry_id":"{id}","list":"{list}","subject_id":"{subject}","listed_on":"2026-01-01","valid_until":"2027-01-01"{extra}}}"#
    )
}

fn decide_in<'s>(
    rules: &'s RuleSet,
    lists: &'s ListIndex,
    subject: &str,
    matter: &str,
    when: &str,
) -> Decision<'s> {
    let subject = ident::parse(subject).unwrap();
    decide(
        rules,
        Holdings::of(lists),
        &subject,
        rules.matter_id(matter).unwrap(),
        at(when),
    )
    .unwrap()
}

fn summary(decision: &Decision<'_>) -> (Outcome, Vec<(String, Effect, Option<Role>)>) {
    let reasons = decision
        .reasons
        .iter()
        .map(|r| (r.measure.code.clone(), r.effect, r.via))
        .collect();
    (decision.outcome, reasons)
}

#[test]
fn invariant_7_an_unknown_subject_is_allowed_without_reasons() {
    let rules = mini();
    let lists = index(&rules, &[entry("e1", "debtor", COMPANY, "")]);
    let decision = decide_in(
        &rules,
        &lists,
        "91230202MA18XK7PXM",
        "procurement",
        "2026-06-01",
    );
    assert_eq!(summary(&decision), (Outcome::Allow, vec![]));
    assert!(decision.warnings.is_empty());
}

#[test]
fn invariant_8_only_entries_in_force_count_and_validity_is_evaluated_at_the_instant() {
    let rules = mini();
    let lists = index(
        &rules,
        &[
            entry("expiring", "debtor", COMPANY, ""),
            entry(
                "repaired",
                "debtor",
                "91230202MA18XK7PXM",
                r#","status":"repaired""#,
            ),
            entry(
                "removed",
                "debtor",
                "92230203MA1CPQ4R3H",
                r#","status":"removed""#,
            ),
        ],
    );
    // valid_until 2027-01-01 is exclusive, at midnight UTC+8.
    let before = decide_in(
        &rules,
        &lists,
        COMPANY,
        "procurement",
        "2026-12-31T23:59:59.999+08:00",
    );
    let at_end = decide_in(
        &rules,
        &lists,
        COMPANY,
        "procurement",
        "2027-01-01T00:00:00+08:00",
    );
    let before_start = decide_in(
        &rules,
        &lists,
        COMPANY,
        "procurement",
        "2025-12-31T23:59:59+08:00",
    );
    assert_eq!(before.outcome, Outcome::Block);
    assert_eq!(at_end.outcome, Outcome::Allow);
    assert_eq!(before_start.outcome, Outcome::Allow);
    for subject in ["91230202MA18XK7PXM", "92230203MA1CPQ4R3H"] {
        assert_eq!(
            decide_in(&rules, &lists, subject, "procurement", "2026-06-01").outcome,
            Outcome::Allow
        );
    }
}

#[test]
fn invariant_9_block_beats_flag_beats_allow() {
    let rules = mini();
    let lists = index(
        &rules,
        &[
            entry("b", "debtor", COMPANY, ""),
            entry("f", "abnormal", COMPANY, ""),
        ],
    );
    let decision = decide_in(&rules, &lists, COMPANY, "procurement", "2026-06-01");
    assert_eq!(
        summary(&decision),
        (
            Outcome::Block,
            vec![
                ("ban".into(), Effect::Block, None),
                ("watch".into(), Effect::Flag, None)
            ]
        )
    );
    let flag_only = index(&rules, &[entry("f", "abnormal", COMPANY, "")]);
    assert_eq!(
        decide_in(&rules, &flag_only, COMPANY, "procurement", "2026-06-01").outcome,
        Outcome::Flag
    );
}

/// The id of the entry that took the rewards away, if any.
fn suppressed_by(decision: &Decision<'_>) -> Option<String> {
    decision
        .rewards_suppressed_by
        .as_ref()
        .map(|entry| entry.entry_id().unwrap().into_owned())
}

#[test]
fn invariant_10_a_serious_entry_suppresses_rewards_in_every_matter_and_says_which() {
    let rules = mini();
    let lists = index(
        &rules,
        &[
            entry("b", "debtor", OTHER_PERSON, ""),
            entry("s", "score", OTHER_PERSON, r#","score":720"#),
        ],
    );
    let procurement = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-06-01");
    assert_eq!(
        summary(&procurement),
        (Outcome::Block, vec![("ban".into(), Effect::Block, None)])
    );
    assert_eq!(suppressed_by(&procurement).as_deref(), Some("b"));
    // The serious list has no measure in basic public services: the reward goes all the same.
    let basic = decide_in(&rules, &lists, OTHER_PERSON, "basic", "2026-06-01");
    assert_eq!(summary(&basic), (Outcome::Allow, vec![]));
    assert_eq!(suppressed_by(&basic).as_deref(), Some("b"));
    // A repaired serious entry is not in force: the reward stays, and nothing suppressed it.
    let repaired = index(
        &rules,
        &[
            entry("b", "debtor", OTHER_PERSON, r#","status":"repaired""#),
            entry("s", "score", OTHER_PERSON, r#","score":720"#),
        ],
    );
    let later = decide_in(&rules, &repaired, OTHER_PERSON, "basic", "2026-06-01");
    assert_eq!(
        summary(&later),
        (Outcome::Allow, vec![("perk".into(), Effect::Reward, None)])
    );
    assert_eq!(suppressed_by(&later), None);
}

#[test]
fn invariant_10_watch_and_grey_lists_suppress_only_when_the_rule_set_says_so() {
    let lines = [
        entry("g", "abnormal", OTHER_PERSON, ""),
        entry("s", "score", OTHER_PERSON, r#","score":720"#),
    ];
    let any = |f: &mut [String; 5]| {
        f[1] = f[1].replace("subjects = \"organizations\"", "subjects = \"any\"");
    };
    let serious_only = compile_with(any).unwrap();
    let lists = index(&serious_only, &lines);
    let basic = decide_in(&serious_only, &lists, OTHER_PERSON, "basic", "2026-06-01");
    assert_eq!(
        summary(&basic),
        (Outcome::Allow, vec![("perk".into(), Effect::Reward, None)])
    );
    assert_eq!(suppressed_by(&basic), None);

    let extended = compile_with(|f| {
        any(f);
        f[0].push_str("reward_suppression = \"any_penalty\"\n");
    })
    .unwrap();
    let lists = index(&extended, &lines);
    let basic = decide_in(&extended, &lists, OTHER_PERSON, "basic", "2026-06-01");
    assert_eq!(summary(&basic), (Outcome::Allow, vec![]));
    assert_eq!(suppressed_by(&basic).as_deref(), Some("g"));
}

#[test]
fn a_subject_without_rewards_names_no_suppressing_entry() {
    let rules = mini();
    let lists = index(&rules, &[entry("b", "debtor", OTHER_PERSON, "")]);
    let basic = decide_in(&rules, &lists, OTHER_PERSON, "basic", "2026-06-01");
    assert_eq!(summary(&basic), (Outcome::Allow, vec![]));
    assert_eq!(suppressed_by(&basic), None);
}

#[test]
fn scored_lists_reward_only_from_the_topics_level() {
    let rules = mini();
    for (score, rewarded) in [(700, true), (600, true), (599, false), (380, false)] {
        let lists = index(
            &rules,
            &[entry(
                "s",
                "score",
                OTHER_PERSON,
                &format!(r#","score":{score}"#),
            )],
        );
        let decision = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-06-01");
        assert_eq!(decision.outcome, Outcome::Allow);
        assert_eq!(
            decision.reasons.len(),
            usize::from(rewarded),
            "score {score}"
        );
    }
}

#[test]
fn a_named_person_is_reached_only_by_measures_extended_to_their_role() {
    let rules = mini();
    let legal_rep = format!(r#","responsible_persons":[{{"role":"legal_rep","id":"{PERSON}"}}]"#);
    let principal =
        format!(r#","responsible_persons":[{{"role":"principal","id":"{OTHER_PERSON}"}}]"#);
    let lists = index(
        &rules,
        &[
            entry("b", "debtor", COMPANY, &legal_rep),
            entry("c", "debtor", "91230202MA18XK7PXM", &principal),
        ],
    );
    let reached = decide_in(&rules, &lists, PERSON, "procurement", "2026-06-01");
    assert_eq!(
        summary(&reached),
        (
            Outcome::Block,
            vec![("ban".into(), Effect::Block, Some(Role::LegalRep))]
        )
    );
    assert_eq!(reached.reasons[0].entry.entry_id().unwrap(), "b");
    let not_extended = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-06-01");
    assert_eq!(summary(&not_extended), (Outcome::Allow, vec![]));
    // Once the company's entry ends, the person is no longer reached.
    let later = decide_in(&rules, &lists, PERSON, "procurement", "2027-06-01");
    assert_eq!(later.outcome, Outcome::Allow);
}

#[test]
fn entries_held_outside_the_index_count_as_the_subjects_own_and_reach_named_persons() {
    let rules = mini();
    let empty = index(&rules, &[]);
    let legal_rep = format!(r#","responsible_persons":[{{"role":"legal_rep","id":"{PERSON}"}}]"#);
    let extra = parse_entries(entry("b", "debtor", COMPANY, &legal_rep).as_bytes(), &rules)
        .unwrap_or_else(|p| panic!("{p:?}"));
    let holdings = Holdings {
        index: &empty,
        extra: &extra,
    };
    let procurement = rules.matter_id("procurement").unwrap();
    let decide_one = |id: &str| {
        let subject = ident::parse(id).unwrap();
        decide(&rules, holdings, &subject, procurement, at("2026-06-01")).unwrap()
    };
    let company = decide_one(COMPANY);
    assert_eq!(
        summary(&company),
        (Outcome::Block, vec![("ban".into(), Effect::Block, None)])
    );
    let person = decide_one(PERSON);
    assert_eq!(
        summary(&person),
        (
            Outcome::Block,
            vec![("ban".into(), Effect::Block, Some(Role::LegalRep))]
        )
    );
    assert_eq!(person.reasons[0].entry.entry_id().unwrap(), "b");
    // An entry of another subject that does not name it is not the subject's.
    assert_eq!(decide_one(OTHER_PERSON).outcome, Outcome::Allow);
}

#[test]
fn a_resident_id_failing_its_check_is_decided_when_listed_only_outside_the_index() {
    let rules = mini();
    let wrong_check_person = "230202198503121239";
    let empty = index(&rules, &[]);
    let extra = parse_entries(
        entry("p", "debtor", wrong_check_person, "").as_bytes(),
        &rules,
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    let subject = ident::parse(wrong_check_person).unwrap();
    let procurement = rules.matter_id("procurement").unwrap();
    let holdings = Holdings {
        index: &empty,
        extra: &extra,
    };
    let evaluated = decide(&rules, holdings, &subject, procurement, at("2026-06-01")).unwrap();
    assert_eq!(evaluated.outcome, Outcome::Block);
    assert!(matches!(
        evaluated.warnings[..],
        [Warning::IdCheckMismatch { expected: '8' }]
    ));
}

#[test]
fn disputed_entries_count_and_the_downgrade_policy_turns_block_into_flag() {
    let disputed = [entry(
        "b",
        "debtor",
        COMPANY,
        r#","dispute":"under_review""#,
    )];
    let rules = mini();
    let lists = index(&rules, &disputed);
    let counted = decide_in(&rules, &lists, COMPANY, "procurement", "2026-06-01");
    assert_eq!(counted.outcome, Outcome::Block);
    assert!(counted.reasons[0].under_dispute() && !counted.reasons[0].downgraded);

    let lenient = compile_with(|f| f[0].push_str("dispute_policy = \"downgrade\"\n")).unwrap();
    let lists = index(&lenient, &disputed);
    let downgraded = decide_in(&lenient, &lists, COMPANY, "procurement", "2026-06-01");
    assert_eq!(
        summary(&downgraded),
        (Outcome::Flag, vec![("ban".into(), Effect::Flag, None)])
    );
    assert!(downgraded.reasons[0].downgraded);
}

#[test]
fn check_mismatches_warn_for_uscc_and_refuse_unlisted_resident_ids() {
    let rules = mini();
    let wrong_check_person = "230202198503121239";
    let lists = index(&rules, &[entry("b", "debtor", "91350100M0001TGQXM", "")]);
    let pilot = decide_in(
        &rules,
        &lists,
        "91350100M0001TGQXM",
        "procurement",
        "2026-06-01",
    );
    assert_eq!(pilot.outcome, Outcome::Block);
    assert!(matches!(
        pilot.warnings[..],
        [Warning::UsccCheckMismatch { .. }]
    ));

    let subject = ident::parse(wrong_check_person).unwrap();
    let procurement = rules.matter_id("procurement").unwrap();
    let refused = decide(
        &rules,
        Holdings::of(&lists),
        &subject,
        procurement,
        at("2026-06-01"),
    );
    assert!(matches!(
        refused,
        Err(DecideError::IdCheckMismatch { expected: '8' })
    ));

    let listed = index(&rules, &[entry("p", "debtor", wrong_check_person, "")]);
    let evaluated = decide(
        &rules,
        Holdings::of(&listed),
        &subject,
        procurement,
        at("2026-06-01"),
    )
    .unwrap();
    assert_eq!(evaluated.outcome, Outcome::Block);
    assert!(matches!(
        evaluated.warnings[..],
        [Warning::IdCheckMismatch { expected: '8' }]
    ));
}

#[test]
fn invariant_11_a_batch_returns_what_single_calls_return() {
    let rules = mini();
    let lines: Vec<String> = (0..200)
        .map(|i| {
            let (id, _) = crate::lists::gen::subject_id(7, i);
            let list = if i % 3 == 0 { "abnormal" } else { "debtor" };
            entry(&format!("e{i}"), list, &id, "")
        })
        .filter(|line| !(line.contains("\"abnormal\"") && line.contains("\"2302")))
        .collect();
    let lists = index(&rules, &lines);
    let subjects: Vec<Option<SubjectId>> = (0..300)
        .map(|i| {
            if i % 50 == 0 {
                None
            } else {
                ident::parse(&crate::lists::gen::subject_id(7, i).0).ok()
            }
        })
        .collect();
    let procurement = rules.matter_id("procurement").unwrap();
    let when = at("2026-06-01");
    for size in [10, subjects.len()] {
        let chunks = decide_chunks(
            &rules,
            |_| Holdings::of(&lists),
            &subjects[..size],
            procurement,
            when,
            Vec::with_capacity,
            |chunk, i, decision| {
                chunk.push((i, decision));
                Ok::<_, ()>(())
            },
        )
        .unwrap();
        let batch: Vec<_> = chunks.into_iter().flatten().collect();
        assert_eq!(
            batch.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            (0..size).collect::<Vec<_>>(),
            "every subject once, in order"
        );
        for (subject, (_, result)) in subjects[..size].iter().zip(batch) {
            let single = subject
                .as_ref()
                .map(|s| decide(&rules, Holdings::of(&lists), s, procurement, when));
            assert_eq!(
                result.map(|r| r.map(|d| summary(&d))),
                single.map(|r| r.map(|d| summary(&d)))
            );
        }
    }
}

/// A score entry of `OTHER_PERSON` listed on `listed_on`, in force for a year.
fn score_entry(id: &str, score: u16, listed_on: &str) -> String {
    format!(
        r#"{{"entry_id":"{id}","list":"score","subject_id":"{OTHER_PERSON}","listed_on":"{listed_on}","valid_until":"2027-06-01","score":{score}}}"#
    )
}

/// (current entry, superseded entries) per scored list, by id.
fn superseded(decision: &Decision<'_>) -> Vec<(String, Vec<String>)> {
    let id = |entry: &EntryRef<'_>| entry.entry_id().unwrap().into_owned();
    decision
        .superseded_scores
        .iter()
        .map(|s| (id(&s.current), s.superseded.iter().map(id).collect()))
        .collect()
}

#[test]
fn a_person_has_one_current_score_the_entry_listed_last() {
    let rules = mini();
    let lists = index(
        &rules,
        &[
            score_entry("high", 720, "2026-01-01"),
            score_entry("low", 380, "2026-03-01"),
        ],
    );
    // Before the later result is listed, the earlier one counts alone.
    let before = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-02-01");
    assert_eq!(
        summary(&before),
        (Outcome::Allow, vec![("perk".into(), Effect::Reward, None)])
    );
    assert!(before.superseded_scores.is_empty());
    // Once it is, the earlier 720 gives no reward: the current 380 is below AA.
    let after = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-06-01");
    assert_eq!(summary(&after), (Outcome::Allow, vec![]));
    assert_eq!(
        superseded(&after),
        vec![("low".to_owned(), vec!["high".to_owned()])]
    );
    // The order entries are held in does not matter.
    let reversed = index(
        &rules,
        &[
            score_entry("low", 380, "2026-03-01"),
            score_entry("high", 720, "2026-01-01"),
        ],
    );
    let same = decide_in(&rules, &reversed, OTHER_PERSON, "procurement", "2026-06-01");
    assert_eq!(summary(&same), summary(&after));
    assert_eq!(superseded(&same), superseded(&after));
}

#[test]
fn of_scores_listed_at_the_same_instant_the_lower_counts() {
    let rules = mini();
    for order in [["a", "b"], ["b", "a"]] {
        let lines: Vec<String> = order
            .iter()
            .map(|id| match *id {
                "a" => score_entry("a", 650, "2026-03-01"),
                _ => score_entry("b", 590, "2026-03-01"),
            })
            .collect();
        let lists = index(&rules, &lines);
        let decision = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-06-01");
        assert_eq!(summary(&decision), (Outcome::Allow, vec![]), "{order:?}");
        assert_eq!(
            superseded(&decision),
            vec![("b".to_owned(), vec!["a".to_owned()])]
        );
    }
}

#[test]
fn a_score_entry_not_in_force_supersedes_nothing() {
    let rules = mini();
    let lists = index(
        &rules,
        &[
            score_entry("old", 720, "2026-01-01"),
            format!(
                r#"{{"entry_id":"repaired","list":"score","subject_id":"{OTHER_PERSON}","listed_on":"2026-03-01","status":"removed","score":380}}"#
            ),
        ],
    );
    let decision = decide_in(&rules, &lists, OTHER_PERSON, "procurement", "2026-06-01");
    assert_eq!(
        summary(&decision),
        (Outcome::Allow, vec![("perk".into(), Effect::Reward, None)])
    );
    assert!(decision.superseded_scores.is_empty());
}

#[test]
fn a_score_outside_the_scale_is_a_malformed_entry() {
    let rules = mini();
    let problems = parse_entries(score_entry("s", 1001, "2026-01-01").as_bytes(), &rules)
        .expect_err("1001 is above the scale");
    assert_eq!(
        (problems[0].line, problems[0].message.as_str()),
        (
            1,
            "score: 1001 is outside the rule set's score scale 0–1000"
        )
    );
    let small = compile_with(|f| {
        f[0] = f[0]
            .replace("score_scale.max = 1000", "score_scale.max = 200")
            .replace("score_scale.base = 500", "score_scale.base = 100")
            .replace("min = 400 }", "min = 40 }")
            .replace("min = 500 }", "min = 80 }")
            .replace("min = 600 }", "min = 120 }")
            .replace("min = 700 }", "min = 160 }")
    })
    .unwrap_or_else(|err| panic!("{err}"));
    let problems = parse_entries(score_entry("s", 201, "2026-01-01").as_bytes(), &small)
        .expect_err("201 is above the scale");
    assert_eq!(
        (problems[0].line, problems[0].message.as_str()),
        (1, "score: 201 is outside the rule set's score scale 0–200")
    );
    assert!(parse_entries(score_entry("s", 200, "2026-01-01").as_bytes(), &small).is_ok());
}

#[test]
fn a_profile_shows_entries_held_outside_the_index_as_any_other() {
    let rules = mini();
    let lists = index(&rules, &[entry("a", "abnormal", COMPANY, "")]);
    let legal_rep = format!(r#","responsible_persons":[{{"role":"legal_rep","id":"{PERSON}"}}]"#);
    let extra = parse_entries(entry("b", "debtor", COMPANY, &legal_rep).as_bytes(), &rules)
        .unwrap_or_else(|p| panic!("{p:?}"));
    let holdings = Holdings {
        index: &lists,
        extra: &extra,
    };
    let ids = |shown: &[Shown<'_>]| -> Vec<String> {
        shown
            .iter()
            .map(|s| s.entry.entry_id().unwrap().into_owned())
            .collect()
    };
    let company = ident::parse(COMPANY).unwrap();
    let own = profile(&rules, holdings, &company, at("2026-06-01")).unwrap();
    assert_eq!(ids(&own.entries), ["a", "b"]);
    assert!(own.entries.iter().all(|s| s.state == EntryState::InForce));
    assert!(own.named_in.is_empty());
    let person = ident::parse(PERSON).unwrap();
    let named = profile(&rules, holdings, &person, at("2026-06-01")).unwrap();
    assert!(named.entries.is_empty());
    assert_eq!(ids(&named.named_in), ["b"]);
    assert_eq!(named.named_in[0].role, Some(Role::LegalRep));
    assert!(!named.topics.is_empty());
}
