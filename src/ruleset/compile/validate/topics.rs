//! Topics: the lists that trigger them and the measures they carry, invariants 2, 3 and 4.

use std::collections::HashMap;

use super::Checker;
use crate::ruleset::syntax::{ListsFile, MeasuresFile, TopicsFile};
use crate::ruleset::{
    Effect, ListId, ListKind, MeasureId, RoleSet, ScoreLevel, ScoreScale, TopicKind,
};

/// A topic's lists, and its measures with the roles each extends to and, on a scored list, the
/// lowest level each applies at.
pub(in crate::ruleset::compile) type TopicLinks =
    (Vec<ListId>, Vec<(MeasureId, RoleSet, Option<ScoreLevel>)>);

impl Checker<'_> {
    /// List and measure references and invariants 2, 3 and 4; returns each topic's links.
    pub(super) fn check_topics(
        &mut self,
        topics: &TopicsFile,
        lists: &ListsFile,
        measures: &MeasuresFile,
        list_ids: &HashMap<String, u16>,
        measure_ids: &HashMap<String, u16>,
        scale: Option<&ScoreScale>,
    ) -> Vec<TopicLinks> {
        let src = self.files.topics;
        let mut out = Vec::with_capacity(topics.topic.len());
        for t in &topics.topic {
            let code = t.code.get_ref();
            let mut topic_lists = Vec::new();
            if t.lists.get_ref().is_empty() {
                self.problems
                    .at(src, t.lists.span(), format!("topic `{code}` has no lists"));
            }
            for list in t.lists.get_ref() {
                let Some(&id) = list_ids.get(list.get_ref()) else {
                    self.problems.at(
                        src,
                        list.span(),
                        format!("topic `{code}` names unknown list `{}`", list.get_ref()),
                    );
                    continue;
                };
                let def = &lists.list[usize::from(id)];
                // Invariant 3 (triggers): incentive topics hang on red lists, penalty topics never.
                match (t.kind, def.kind) {
                    (TopicKind::Incentive, ListKind::Red) => {}
                    (TopicKind::Incentive, _) => self.problems.at(
                        src,
                        list.span(),
                        format!("incentive topic `{code}` is triggered by list `{}`, which is not red (invariant 3)", list.get_ref()),
                    ),
                    (TopicKind::Penalty, ListKind::Red) => self.problems.at(
                        src,
                        list.span(),
                        format!("penalty topic `{code}` is triggered by red list `{}` (invariant 3)", list.get_ref()),
                    ),
                    (TopicKind::Penalty, _) => {}
                }
                if topic_lists.contains(&ListId(id)) {
                    self.problems.at(
                        src,
                        list.span(),
                        format!("topic `{code}` names list `{}` twice", list.get_ref()),
                    );
                    continue;
                }
                topic_lists.push(ListId(id));
            }
            let scored = topic_lists.iter().any(|l| lists.list[l.index()].scored);
            let default_level = match &t.min_score_level {
                Some(level) if !scored => {
                    self.problems.at(
                        src,
                        level.span(),
                        format!(
                            "topic `{code}` sets min_score_level but none of its lists is scored"
                        ),
                    );
                    None
                }
                Some(level) => self.score_level(scale, code, level),
                None => None,
            };
            let mut tiers: HashMap<&str, ScoreLevel> = HashMap::new();
            if let Some(written) = &t.score_tiers {
                if !scored {
                    self.problems.at(
                        src,
                        written.span(),
                        format!("topic `{code}` sets score_tiers but none of its lists is scored"),
                    );
                }
                for (measure, level) in written.get_ref() {
                    if !t.measures.get_ref().iter().any(|m| m.get_ref() == measure) {
                        self.problems.at(
                            src,
                            written.span(),
                            format!("topic `{code}` tiers measure `{measure}` in score_tiers but does not carry it"),
                        );
                    }
                    if let Some(level) = self.score_level(scale.filter(|_| scored), code, level) {
                        tiers.insert(measure, level);
                    }
                }
            }

            let (roles, person_measures) = match &t.responsible_persons {
                Some(rp) => {
                    let mut roles = RoleSet::default();
                    rp.roles.get_ref().iter().for_each(|r| roles.insert(*r));
                    if roles.is_empty() {
                        self.problems.at(
                            src,
                            rp.roles.span(),
                            format!(
                                "topic `{code}` extends to responsible persons but names no role"
                            ),
                        );
                    }
                    (roles, rp.measures.as_slice())
                }
                None => (RoleSet::default(), &[][..]),
            };
            for pm in person_measures {
                if !t
                    .measures
                    .get_ref()
                    .iter()
                    .any(|m| m.get_ref() == pm.get_ref())
                {
                    self.problems.at(
                        src,
                        pm.span(),
                        format!("topic `{code}` extends measure `{}` to responsible persons but does not carry it", pm.get_ref()),
                    );
                }
            }

            if t.measures.get_ref().is_empty() {
                self.problems.at(
                    src,
                    t.measures.span(),
                    format!("topic `{code}` has no measures"),
                );
            }
            let mut topic_measures: Vec<(MeasureId, RoleSet, Option<ScoreLevel>)> = Vec::new();
            for measure in t.measures.get_ref() {
                let name = measure.get_ref();
                let Some(&id) = measure_ids.get(name) else {
                    self.problems.at(
                        src,
                        measure.span(),
                        format!("topic `{code}` names unknown measure `{name}`"),
                    );
                    continue;
                };
                if topic_measures.iter().any(|(m, _, _)| *m == MeasureId(id)) {
                    self.problems.at(
                        src,
                        measure.span(),
                        format!("topic `{code}` names measure `{name}` twice"),
                    );
                    continue;
                }
                let effect = *measures.measure[usize::from(id)].effect.get_ref();
                let mut complain = |message: String| self.problems.at(src, measure.span(), message);
                // Invariant 3 (effects).
                match (t.kind, effect) {
                    (TopicKind::Incentive, Effect::Reward) | (TopicKind::Penalty, Effect::Block | Effect::Flag | Effect::Inform) => {}
                    (TopicKind::Incentive, other) => complain(format!("incentive topic `{code}` carries measure `{name}` whose effect is `{}` (invariant 3: incentive topics only reward)", other.as_str())),
                    (TopicKind::Penalty, Effect::Reward) => complain(format!("penalty topic `{code}` carries reward measure `{name}` (invariant 3)")),
                }
                // Invariant 2: only serious lists reach block, and court orders in their matters.
                if effect == Effect::Block {
                    let def = &measures.measure[usize::from(id)];
                    for list in &topic_lists {
                        let list = &lists.list[list.index()];
                        let list_code = list.code.get_ref();
                        match (list.kind, &list.order_matters) {
                            (ListKind::CourtOrder, _) if !def.judicial => complain(format!("topic `{code}` carries block measure `{name}` from court-order list `{list_code}` but the measure's basis is not judicial (invariant 2: a court order blocks only under the judicial rule that binds; set judicial = true on a measure citing it)")),
                            (ListKind::CourtOrder, Some(bound)) => {
                                for matter in def.matters.get_ref() {
                                    if !bound.get_ref().iter().any(|b| b.get_ref() == matter.get_ref()) {
                                        complain(format!("topic `{code}` carries block measure `{name}` in matter `{}`, which court-order list `{list_code}` does not bind (invariant 2: a court order blocks only in the matters it names)", matter.get_ref()));
                                    }
                                }
                            }
                            // The list itself is reported for naming no matters.
                            (ListKind::CourtOrder, None) => {}
                            _ if !list.serious => complain(format!("topic `{code}` carries block measure `{name}` but its list `{list_code}` is not serious (invariant 2: only serious lists can block)")),
                            _ => {}
                        }
                    }
                }
                // Invariant 4: scores are for rewards only.
                if scored && effect.restricts() {
                    complain(format!("topic `{code}` is triggered by a scored list and carries `{name}`, which would {} (invariant 4: scores are for rewards only)", effect.as_str()));
                }
                let extends = person_measures.iter().any(|pm| pm.get_ref() == name);
                topic_measures.push((
                    MeasureId(id),
                    if extends { roles } else { RoleSet::default() },
                    tiers.get(name.as_str()).copied().or(default_level),
                ));
            }
            out.push((topic_lists, topic_measures));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::{problems, with_court_order};
    use crate::ruleset::testing::compile_with;

    #[test]
    fn invariant_2_only_serious_lists_reach_block() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace("measures = [\"watch\"]", "measures = [\"watch\", \"ban\"]")
        }));
        assert_eq!(found, vec!["topics.toml:18: topic `abnormal` carries block measure `ban` but its list `abnormal` is not serious (invariant 2: only serious lists can block)"]);
    }

    #[test]
    fn invariant_2_a_court_order_may_not_block_outside_its_matters_or_without_a_judicial_basis() {
        let outside = problems(with_court_order(
            "order_matters = [\"tickets\"]",
            "[\"tickets\", \"procurement\"]",
            "judicial = true\n",
        ));
        assert_eq!(outside, vec!["topics.toml:33: topic `restricted` carries block measure `order_block` in matter `procurement`, which court-order list `restricted` does not bind (invariant 2: a court order blocks only in the matters it names)"]);
        let not_judicial = problems(with_court_order(
            "order_matters = [\"tickets\"]",
            "[\"tickets\"]",
            "",
        ));
        assert_eq!(not_judicial, vec!["topics.toml:33: topic `restricted` carries block measure `order_block` from court-order list `restricted` but the measure's basis is not judicial (invariant 2: a court order blocks only under the judicial rule that binds; set judicial = true on a measure citing it)"]);
    }

    #[test]
    fn invariant_3_incentives_only_reward_and_penalties_never_do() {
        let found = problems(compile_with(|f| {
            f[4] = f[4]
                .replace("measures = [\"perk\"]", "measures = [\"perk\", \"watch\"]")
                .replace("measures = [\"watch\"]", "measures = [\"watch\", \"perk\"]")
        }));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("penalty topic `abnormal` carries reward measure `perk`"),
            "{found:#?}"
        );
        assert!(
            found[1].contains("incentive topic `score` carries measure `watch`"),
            "{found:#?}"
        );
        assert!(
            found[2].contains("scored list and carries `watch`"),
            "{found:#?}"
        );
    }

    #[test]
    fn invariant_3_topics_hang_on_lists_of_their_kind() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "lists = [\"abnormal\"]",
                "lists = [\"abnormal\", \"score\"]",
            )
        }));
        assert!(
            found
                .iter()
                .any(|p| p.contains("penalty topic `abnormal` is triggered by red list `score`")),
            "{found:#?}"
        );
    }

    #[test]
    fn topics_name_only_levels_of_the_scale_and_tier_only_measures_they_carry() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "min_score_level = \"AA\"",
                "min_score_level = \"AAAA\"\nscore_tiers = { perk = \"D\", loan = \"A\" }",
            )
        }));
        assert_eq!(
            found,
            vec![
                "topics.toml:26: topic `score` names score level `AAAA`, which the score scale does not have (its levels: C, B, A, AA, AAA)",
                "topics.toml:27: topic `score` tiers measure `loan` in score_tiers but does not carry it",
                "topics.toml:27: topic `score` names score level `D`, which the score scale does not have (its levels: C, B, A, AA, AAA)",
            ],
            "{found:#?}"
        );
        let unscored = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "measures = [\"watch\"]",
                "measures = [\"watch\"]\nscore_tiers = { watch = \"A\" }",
            )
        }));
        assert_eq!(
            unscored,
            vec![
                "topics.toml:19: topic `abnormal` sets score_tiers but none of its lists is scored"
            ]
        );
    }
}
