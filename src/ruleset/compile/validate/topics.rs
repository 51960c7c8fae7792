//! Topics: the lists that trigger them and the measures they carry, invariants 2, 3 and 4, and
//! how far each measure reaches (responsible persons, score levels).

use std::collections::HashMap;

use toml::Spanned;

use super::codes::Ids;
use super::Checker;
use crate::ruleset::compile::parse::Parsed;
use crate::ruleset::syntax::{ListsFile, MeasureSyntax, TopicSyntax};
use crate::ruleset::{
    Effect, ListId, ListKind, MeasureId, RoleSet, ScoreLevel, ScoreScale, TopicKind,
};

/// A topic's lists, and its measures with the roles each extends to and, on a scored list, the
/// lowest level each applies at.
pub(in crate::ruleset::compile) type TopicLinks =
    (Vec<ListId>, Vec<(MeasureId, RoleSet, Option<ScoreLevel>)>);

/// How far a topic's measures reach beyond the subject and up the score scale.
struct Reach<'t> {
    /// Whether one of the topic's lists is scored: only then do levels apply, and its measures
    /// may not restrict (invariant 4).
    scored: bool,
    /// The roles of the responsible persons the topic extends to.
    roles: RoleSet,
    /// The measures extended to those persons.
    person_measures: &'t [Spanned<String>],
    /// The level every measure applies from, unless tiered apart.
    default_level: Option<ScoreLevel>,
    /// Measure code → the level it applies from, for measures tiered apart.
    tiers: HashMap<&'t str, ScoreLevel>,
}

impl Checker<'_> {
    /// List and measure references and invariants 2, 3 and 4; returns each topic's links.
    pub(super) fn check_topics(
        &mut self,
        parsed: &Parsed,
        ids: &Ids,
        scale: Option<&ScoreScale>,
    ) -> Vec<TopicLinks> {
        let mut out = Vec::with_capacity(parsed.topics.topic.len());
        for t in &parsed.topics.topic {
            let topic_lists = self.topic_lists(t, &parsed.lists, &ids.lists);
            let reach = self.reach(t, &parsed.lists, &topic_lists, scale);
            let topic_measures = self.topic_measures(t, parsed, ids, &topic_lists, &reach);
            out.push((topic_lists, topic_measures));
        }
        out
    }

    /// The lists a topic names, each known, named once and of the topic's kind (invariant 3).
    fn topic_lists(
        &mut self,
        t: &TopicSyntax,
        lists: &ListsFile,
        list_ids: &HashMap<String, u16>,
    ) -> Vec<ListId> {
        let src = self.files.topics;
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
        topic_lists
    }

    /// The score levels and responsible persons a topic's measures reach.
    fn reach<'t>(
        &mut self,
        t: &'t TopicSyntax,
        lists: &ListsFile,
        topic_lists: &[ListId],
        scale: Option<&ScoreScale>,
    ) -> Reach<'t> {
        let scored = topic_lists.iter().any(|l| lists.list[l.index()].scored);
        let default_level = self.default_level(t, scored, scale);
        let tiers = self.score_tiers(t, scored, scale);
        let (roles, person_measures) = self.responsible_persons(t);
        Reach {
            scored,
            roles,
            person_measures,
            default_level,
            tiers,
        }
    }

    /// `min_score_level`, on a topic with a scored list only.
    fn default_level(
        &mut self,
        t: &TopicSyntax,
        scored: bool,
        scale: Option<&ScoreScale>,
    ) -> Option<ScoreLevel> {
        let code = t.code.get_ref();
        match &t.min_score_level {
            Some(level) if !scored => {
                self.problems.at(
                    self.files.topics,
                    level.span(),
                    format!("topic `{code}` sets min_score_level but none of its lists is scored"),
                );
                None
            }
            Some(level) => self.score_level(scale, code, level),
            None => None,
        }
    }

    /// `score_tiers`, on a topic with a scored list only, tiering measures the topic carries.
    fn score_tiers<'t>(
        &mut self,
        t: &'t TopicSyntax,
        scored: bool,
        scale: Option<&ScoreScale>,
    ) -> HashMap<&'t str, ScoreLevel> {
        let src = self.files.topics;
        let code = t.code.get_ref();
        let mut tiers: HashMap<&str, ScoreLevel> = HashMap::new();
        let Some(written) = &t.score_tiers else {
            return tiers;
        };
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
        tiers
    }

    /// The roles a topic extends to, at least one when it extends at all, and the measures it
    /// extends to them, each one it carries.
    fn responsible_persons<'t>(&mut self, t: &'t TopicSyntax) -> (RoleSet, &'t [Spanned<String>]) {
        let src = self.files.topics;
        let code = t.code.get_ref();
        let (roles, person_measures) = match &t.responsible_persons {
            Some(rp) => {
                let mut roles = RoleSet::default();
                rp.roles.get_ref().iter().for_each(|r| roles.insert(*r));
                if roles.is_empty() {
                    self.problems.at(
                        src,
                        rp.roles.span(),
                        format!("topic `{code}` extends to responsible persons but names no role"),
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
        (roles, person_measures)
    }

    /// The measures a topic carries, each known and named once, with how far each reaches;
    /// invariants 2, 3 (effects) and 4.
    fn topic_measures(
        &mut self,
        t: &TopicSyntax,
        parsed: &Parsed,
        ids: &Ids,
        topic_lists: &[ListId],
        reach: &Reach,
    ) -> Vec<(MeasureId, RoleSet, Option<ScoreLevel>)> {
        let src = self.files.topics;
        let code = t.code.get_ref();
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
            let Some(&id) = ids.measures.get(name) else {
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
            let def = &parsed.measures.measure[usize::from(id)];
            let effect = *def.effect.get_ref();
            self.check_effect_fits_topic(t, measure, effect);
            if effect == Effect::Block {
                self.check_block_reach(t, measure, def, &parsed.lists, topic_lists);
            }
            // Invariant 4: scores are for rewards only.
            if reach.scored && effect.restricts() {
                self.problems.at(src, measure.span(), format!("topic `{code}` is triggered by a scored list and carries `{name}`, which would {} (invariant 4: scores are for rewards only)", effect.as_str()));
            }
            let extends = reach.person_measures.iter().any(|pm| pm.get_ref() == name);
            topic_measures.push((
                MeasureId(id),
                if extends {
                    reach.roles
                } else {
                    RoleSet::default()
                },
                reach
                    .tiers
                    .get(name.as_str())
                    .copied()
                    .or(reach.default_level),
            ));
        }
        topic_measures
    }

    /// Invariant 3 (effects): incentive topics only reward, penalty topics never do.
    fn check_effect_fits_topic(
        &mut self,
        t: &TopicSyntax,
        measure: &Spanned<String>,
        effect: Effect,
    ) {
        let code = t.code.get_ref();
        let name = measure.get_ref();
        let message = match (t.kind, effect) {
            (TopicKind::Incentive, Effect::Reward) | (TopicKind::Penalty, Effect::Block | Effect::Flag | Effect::Inform) => return,
            (TopicKind::Incentive, other) => format!("incentive topic `{code}` carries measure `{name}` whose effect is `{}` (invariant 3: incentive topics only reward)", other.as_str()),
            (TopicKind::Penalty, Effect::Reward) => format!("penalty topic `{code}` carries reward measure `{name}` (invariant 3)"),
        };
        self.problems.at(self.files.topics, measure.span(), message);
    }

    /// Invariant 2: only serious lists reach block, and court orders only in their matters.
    fn check_block_reach(
        &mut self,
        t: &TopicSyntax,
        measure: &Spanned<String>,
        def: &MeasureSyntax,
        lists: &ListsFile,
        topic_lists: &[ListId],
    ) {
        let code = t.code.get_ref();
        let name = measure.get_ref();
        let mut complain =
            |message: String| self.problems.at(self.files.topics, measure.span(), message);
        for list in topic_lists {
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
