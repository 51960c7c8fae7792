//! Turning a checked rule set into [`RuleSet`]: the definitions as written, every code interned,
//! and the per-(matter, list) table of applications the engine reads.

use std::ops::Range;

use toml::Spanned;

use super::parse::Parsed;
use super::validate::{Checked, TopicLinks};
use crate::ruleset::syntax::{ListSyntax, MatterSyntax, MeasureSyntax, TopicSyntax};
use crate::ruleset::{
    Application, ListDef, ListId, MatterDef, MatterId, MeasureDef, RuleSet, TopicDef, TopicId,
};

pub(super) fn rule_set(checked: Checked, revision: String) -> RuleSet {
    let Checked {
        parsed,
        score_scale,
        topics_of_list,
        links,
        measure_matters,
    } = checked;
    let Parsed {
        ruleset,
        lists,
        matters,
        measures,
        topics,
    } = parsed;
    let lists: Vec<ListDef> = lists
        .list
        .into_iter()
        .zip(topics_of_list)
        .map(|(l, topics)| list_def(l, topics))
        .collect();
    let matters: Vec<MatterDef> = matters.matter.into_iter().map(matter_def).collect();
    let measures: Vec<MeasureDef> = measures.measure.into_iter().map(measure_def).collect();
    let topics: Vec<TopicDef> = topics.topic.into_iter().map(topic_def).collect();
    let (table, applications) = application_table(
        &links,
        &measures,
        &measure_matters,
        matters.len(),
        lists.len(),
    );
    let list_ids = lists
        .iter()
        .enumerate()
        .map(|(i, l)| (l.code.clone(), ListId(i as u16)))
        .collect();
    let matter_ids = matters
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            std::iter::once(&m.code)
                .chain(&m.platform_codes)
                .map(move |code| (code.clone(), MatterId(i as u16)))
        })
        .collect();
    RuleSet {
        name: ruleset.name.into_inner(),
        title: ruleset.title,
        revision,
        dispute_policy: ruleset.dispute_policy,
        dispute_review_days: ruleset.dispute_review_days,
        commitment_breach_months: ruleset.commitment_breach_months,
        reward_suppression: ruleset.reward_suppression,
        score_scale,
        lists,
        matters,
        measures,
        topics,
        list_ids,
        matter_ids,
        table,
        applications,
    }
}

/// For each (matter, list) cell, in `matter * lists + list` order, the range of `applications`
/// an in-force entry on that list leads to in that matter.
fn application_table(
    links: &[TopicLinks],
    measures: &[MeasureDef],
    measure_matters: &[Vec<MatterId>],
    n_matters: usize,
    n_lists: usize,
) -> (Vec<Range<u32>>, Vec<Application>) {
    let mut cells: Vec<Vec<Application>> = vec![Vec::new(); n_matters * n_lists];
    for (topic_index, (topic_lists, topic_measures)) in links.iter().enumerate() {
        let topic = TopicId(topic_index as u16);
        for &(measure, person_roles, min_score_level) in topic_measures {
            let effect = measures[measure.index()].effect;
            for matter in &measure_matters[measure.index()] {
                for list in topic_lists {
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
    (table, applications)
}

fn codes(written: Vec<Spanned<String>>) -> Vec<String> {
    written.into_iter().map(Spanned::into_inner).collect()
}

fn list_def(l: ListSyntax, topics: Vec<String>) -> ListDef {
    ListDef {
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
            .map(|m| codes(m.into_inner()))
            .unwrap_or_default(),
    }
}

fn matter_def(m: MatterSyntax) -> MatterDef {
    MatterDef {
        code: m.code.into_inner(),
        name: m.name,
        department: m.department,
        description: m.description,
        basic_public_service: m.basic_public_service,
        platform_codes: codes(m.platform_codes),
        commitment: m.commitment,
    }
}

fn measure_def(m: MeasureSyntax) -> MeasureDef {
    MeasureDef {
        code: m.code.into_inner(),
        name: m.name,
        category: m.category.into_inner(),
        effect: m.effect.into_inner(),
        legal_basis: m.legal_basis.into_inner().trim().to_owned(),
        judicial: m.judicial,
        department: m.department,
        text: m.text,
        matters: codes(m.matters.into_inner()),
    }
}

fn topic_def(t: TopicSyntax) -> TopicDef {
    let (roles, person_measures) = match t.responsible_persons {
        Some(rp) => (rp.roles.into_inner(), codes(rp.measures)),
        None => (Vec::new(), Vec::new()),
    };
    TopicDef {
        code: t.code.into_inner(),
        name: t.name,
        kind: t.kind,
        lists: codes(t.lists.into_inner()),
        memorandum: t.memorandum,
        measures: codes(t.measures.into_inner()),
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
