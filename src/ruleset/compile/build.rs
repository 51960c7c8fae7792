//! Turning the checked parts into [`RuleSet`] and its per-(matter, list) table.

use super::validate::Parts;
use crate::ruleset::{Application, ListId, MatterId, RuleSet, TopicId};

impl Parts {
    pub(super) fn into_rule_set(self, revision: String) -> RuleSet {
        let n_lists = self.lists.len();
        let mut cells: Vec<Vec<Application>> = vec![Vec::new(); self.matters.len() * n_lists];
        for (topic_index, (lists, measures)) in self.links.iter().enumerate() {
            let topic = TopicId(topic_index as u16);
            for &(measure, person_roles, min_score_level) in measures {
                let effect = self.measures[measure.index()].effect;
                for matter in &self.measure_matters[measure.index()] {
                    for list in lists {
                        cells[matter.index() * n_lists + list.index()].push(Application {
                            topic,
                            measure,
                            effect,
                            person_roles,
                            min_score_level,
                        });
                    }
                }
            }
        }
        let mut table = Vec::with_capacity(cells.len());
        let mut applications = Vec::new();
        for cell in cells {
            let start = applications.len() as u32;
            applications.extend(cell);
            table.push(start..applications.len() as u32);
        }
        let list_ids = self
            .lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.code.clone(), ListId(i as u16)))
            .collect();
        let matter_ids = self
            .matters
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                std::iter::once(&m.code)
                    .chain(&m.platform_codes)
                    .map(move |code| (code.clone(), MatterId(i as u16)))
            })
            .collect();
        RuleSet {
            name: self.name,
            title: self.title,
            revision,
            dispute_policy: self.dispute_policy,
            dispute_review_days: self.dispute_review_days,
            reward_suppression: self.reward_suppression,
            score_scale: self.score_scale,
            lists: self.lists,
            matters: self.matters,
            measures: self.measures,
            topics: self.topics,
            list_ids,
            matter_ids,
            table,
            applications,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::with_court_order;
    use crate::ruleset::testing::compile_with;
    use crate::ruleset::{Effect, Role};

    #[test]
    fn the_minimal_rule_set_compiles_into_the_per_matter_table() {
        let rules = compile_with(|_| {}).unwrap();
        let procurement = rules.matter_id("procurement").unwrap();
        let debtor = rules.list_id("debtor").unwrap();
        let apps = rules.applications(procurement, debtor);
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].effect, Effect::Block);
        assert!(apps[0].person_roles.contains(Role::LegalRep));
        assert!(!apps[0].person_roles.contains(Role::Principal));
        let basic = rules.matter_id("basic").unwrap();
        assert!(rules.applications(basic, debtor).is_empty());
        assert_eq!(rules.topic_counts(), (1, 2));
        assert_eq!(rules.list(debtor).topics, vec!["debtor".to_owned()]);
    }

    #[test]
    fn invariant_2_a_court_order_blocks_in_the_matters_it_binds_on_a_judicial_basis() {
        let rules = with_court_order(
            "order_matters = [\"tickets\"]",
            "[\"tickets\"]",
            "judicial = true\n",
        )
        .unwrap_or_else(|err| panic!("{err}"));
        let tickets = rules.matter_id("tickets").unwrap();
        let restricted = rules.list_id("restricted").unwrap();
        let apps = rules.applications(tickets, restricted);
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].effect, Effect::Block);
        assert_eq!(
            rules.list(restricted).order_matters,
            vec!["tickets".to_owned()]
        );
    }

    #[test]
    fn a_measure_in_score_tiers_starts_at_its_own_level() {
        let rules = compile_with(|f| {
            f[3].push_str("\n[[measure]]\ncode = \"loan\"\nname = \"信易贷\"\ncategory = 2\neffect = \"reward\"\nlegal_basis = \"\"\ndepartment = \"营商局\"\ntext = \"优先推荐\"\nmatters = [\"procurement\"]\n");
            f[4] = f[4].replace(
                "measures = [\"perk\"]\nmin_score_level = \"AA\"",
                "measures = [\"perk\", \"loan\"]\nmin_score_level = \"A\"\nscore_tiers = { loan = \"AAA\" }",
            );
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let scale = rules.score_scale.as_ref().unwrap();
        let procurement = rules.matter_id("procurement").unwrap();
        let score = rules.list_id("score").unwrap();
        let tiers: Vec<(&str, Option<&str>)> = rules
            .applications(procurement, score)
            .iter()
            .map(|app| {
                (
                    rules.measure(app.measure).code.as_str(),
                    app.min_score_level.map(|l| scale.level_name(l)),
                )
            })
            .collect();
        assert_eq!(tiers, vec![("perk", Some("A")), ("loan", Some("AAA"))]);
        assert_eq!(rules.topics()[2].score_tiers["loan"], "AAA");
    }

    #[test]
    fn a_matter_is_found_by_its_code_and_by_each_of_its_platform_codes() {
        let rules = compile_with(|f| {
            f[2] = f[2].replace(
                "department = \"财政局\"\n",
                "department = \"财政局\"\nplatform_codes = [\"230200-ZFCG-001\", \"11230200MB1234567X4000117009000\"]\n",
            )
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let procurement = rules.matter_id("procurement").unwrap();
        assert_eq!(rules.matter_id("230200-ZFCG-001"), Some(procurement));
        assert_eq!(
            rules.matter_id("11230200MB1234567X4000117009000"),
            Some(procurement)
        );
        assert_eq!(rules.matter_id("230200-zfcg-001"), None);
        assert_eq!(
            rules.matter(procurement).platform_codes,
            vec!["230200-ZFCG-001", "11230200MB1234567X4000117009000"]
        );
    }
}
