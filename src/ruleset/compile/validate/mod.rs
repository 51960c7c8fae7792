//! The checks of a parsed rule set, each next to the data it checks.

mod codes;
mod lists;
mod matters;
mod measures;
mod scale;
mod topics;

use toml::Spanned;

use super::{Problems, Source};
use crate::ruleset::syntax::{ListsFile, MattersFile, MeasuresFile, RuleSetFile, TopicsFile};
use crate::ruleset::{
    DisputePolicy, ListDef, MatterDef, MatterId, MeasureDef, Problem, RewardSuppression,
    RuleSetError, ScoreScale, TopicDef, FILES,
};
use codes::{check_code_syntax, index_codes};
pub(super) use topics::TopicLinks;

pub(super) struct Files<'a> {
    pub(super) ruleset: &'a Source,
    pub(super) lists: &'a Source,
    pub(super) matters: &'a Source,
    pub(super) measures: &'a Source,
    pub(super) topics: &'a Source,
}

pub(super) struct Checker<'a> {
    pub(super) files: Files<'a>,
    pub(super) problems: Problems,
}

/// Everything validated, ready to be compiled into the lookup table.
pub(super) struct Parts {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) dispute_policy: DisputePolicy,
    pub(super) dispute_review_days: u16,
    pub(super) reward_suppression: RewardSuppression,
    pub(super) score_scale: Option<ScoreScale>,
    pub(super) lists: Vec<ListDef>,
    pub(super) matters: Vec<MatterDef>,
    pub(super) measures: Vec<MeasureDef>,
    pub(super) topics: Vec<TopicDef>,
    /// Per topic: (list ids, (measure id, roles it extends to, score tier) triples).
    pub(super) links: Vec<TopicLinks>,
    pub(super) measure_matters: Vec<Vec<MatterId>>,
}

impl Checker<'_> {
    pub(super) fn check(
        mut self,
        ruleset: RuleSetFile,
        lists: ListsFile,
        matters: MattersFile,
        measures: MeasuresFile,
        topics: TopicsFile,
    ) -> Result<Parts, RuleSetError> {
        let files = &self.files;
        check_code_syntax(
            &mut self.problems,
            files.ruleset,
            &ruleset.name,
            "rule set name",
        );
        let list_ids = index_codes(
            &mut self.problems,
            files.lists,
            lists.list.iter().map(|l| &l.code),
            "list",
        );
        let matter_ids = index_codes(
            &mut self.problems,
            files.matters,
            matters.matter.iter().map(|m| &m.code),
            "matter",
        );
        let measure_ids = index_codes(
            &mut self.problems,
            files.measures,
            measures.measure.iter().map(|m| &m.code),
            "measure",
        );
        // No table refers to topics by code; indexing them checks syntax and uniqueness.
        index_codes(
            &mut self.problems,
            files.topics,
            topics.topic.iter().map(|t| &t.code),
            "topic",
        );

        self.check_platform_codes(&matters);
        self.check_court_orders(&lists, &matter_ids);
        let score_scale = self.check_score_scale(&ruleset, &lists);
        let measure_matters = self.check_measures(&measures, &matters, &matter_ids);
        let links = self.check_topics(
            &topics,
            &lists,
            &measures,
            &list_ids,
            &measure_ids,
            score_scale.as_ref(),
        );

        let mut topics_of_list: Vec<Vec<String>> = vec![Vec::new(); lists.list.len()];
        for (topic, (topic_lists, _)) in topics.topic.iter().zip(&links) {
            for list in topic_lists {
                topics_of_list[list.index()].push(topic.code.get_ref().clone());
            }
        }
        // With a broken list reference, "triggers no topic" would only echo that problem.
        let references_resolved = topics
            .topic
            .iter()
            .flat_map(|t| t.lists.get_ref())
            .all(|l| list_ids.contains_key(l.get_ref()));
        for (position, (list, topics)) in lists.list.iter().zip(&topics_of_list).enumerate() {
            let first_of_its_code = list_ids
                .get(list.code.get_ref())
                .is_some_and(|&id| usize::from(id) == position);
            if topics.is_empty() && references_resolved && first_of_its_code {
                self.problems.at(
                    self.files.lists,
                    list.code.span(),
                    format!("list `{}` triggers no topic", list.code.get_ref()),
                );
            }
        }

        if !self.problems.0.is_empty() {
            let order = |p: &Problem| FILES.iter().position(|f| p.file.ends_with(f));
            self.problems.0.sort_by_key(|p| (order(p), p.line));
            return Err(RuleSetError(self.problems.0));
        }

        Ok(Parts {
            name: ruleset.name.into_inner(),
            title: ruleset.title,
            dispute_policy: ruleset.dispute_policy,
            dispute_review_days: ruleset.dispute_review_days,
            reward_suppression: ruleset.reward_suppression,
            score_scale,
            lists: lists
                .list
                .into_iter()
                .zip(topics_of_list)
                .map(|(l, topics)| ListDef {
                    code: l.code.into_inner(),
                    name: l.name,
                    kind: l.kind,
                    serious: l.serious,
                    body: l.body,
                    subjects: l.subjects,
                    period: l.period,
                    scored: l.scored,
                    cold: l.cold,
                    repairable: l.repairable,
                    requires_valid_until: l.requires_valid_until,
                    topics,
                    order_matters: l
                        .order_matters
                        .map(|m| {
                            m.into_inner()
                                .into_iter()
                                .map(Spanned::into_inner)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            matters: matters
                .matter
                .into_iter()
                .map(|m| MatterDef {
                    code: m.code.into_inner(),
                    name: m.name,
                    department: m.department,
                    description: m.description,
                    basic_public_service: m.basic_public_service,
                    platform_codes: m
                        .platform_codes
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                })
                .collect(),
            measures: measures
                .measure
                .into_iter()
                .map(|m| MeasureDef {
                    code: m.code.into_inner(),
                    name: m.name,
                    category: m.category.into_inner(),
                    effect: m.effect.into_inner(),
                    legal_basis: m.legal_basis.into_inner().trim().to_owned(),
                    judicial: m.judicial,
                    department: m.department,
                    text: m.text,
                    matters: m
                        .matters
                        .into_inner()
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                })
                .collect(),
            topics: topics
                .topic
                .into_iter()
                .map(|t| {
                    let (roles, person_measures) = match t.responsible_persons {
                        Some(rp) => (
                            rp.roles.into_inner(),
                            rp.measures.into_iter().map(Spanned::into_inner).collect(),
                        ),
                        None => (Vec::new(), Vec::new()),
                    };
                    TopicDef {
                        code: t.code.into_inner(),
                        name: t.name,
                        kind: t.kind,
                        lists: t
                            .lists
                            .into_inner()
                            .into_iter()
                            .map(Spanned::into_inner)
                            .collect(),
                        memorandum: t.memorandum,
                        measures: t
                            .measures
                            .into_inner()
                            .into_iter()
                            .map(Spanned::into_inner)
                            .collect(),
                        min_score_level: t.min_score_level.map(Spanned::into_inner),
                        score_tiers: t
                            .score_tiers
                            .map(|tiers| {
                                tiers
                                    .into_inner()
                                    .into_iter()
                                    .map(|(measure, level)| (measure, level.into_inner()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        responsible_person_roles: roles,
                        responsible_person_measures: person_measures,
                    }
                })
                .collect(),
            links,
            measure_matters,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::problems;
    use crate::ruleset::testing::compile_with;

    #[test]
    fn unknown_codes_duplicates_and_bad_keys_are_each_reported_with_their_line() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen(
                "matters = [\"procurement\"]",
                "matters = [\"procurment\"]",
                1,
            );
            f[1].push_str("\n[[list]]\ncode = \"debtor\"\nname = \"重复\"\nkind = \"black\"\nserious = true\nbody = \"法院\"\nsubjects = \"any\"\n");
            f[4] = f[4].replace("lists = [\"debtor\"]", "lists = [\"Debtor\"]");
        }));
        assert_eq!(
            found,
            vec![
                "lists.toml:26: duplicate list code `debtor` (first defined on line 3)",
                "measures.toml:10: measure `ban` names unknown matter `procurment`",
                "topics.toml:6: topic `debtor` names unknown list `Debtor`",
            ],
            "{found:#?}"
        );
    }
}
