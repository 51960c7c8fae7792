//! Measures: invariants 1, 5 and 6, and the matters each applies in.

use std::collections::HashMap;

use super::Checker;
use crate::ruleset::syntax::{MattersFile, MeasureSyntax, MeasuresFile};
use crate::ruleset::{Category, Effect, MatterId};

impl Checker<'_> {
    /// Matter references and invariants 1, 5 and 6; returns each measure's matters.
    pub(super) fn check_measures(
        &mut self,
        measures: &MeasuresFile,
        matters: &MattersFile,
        matter_ids: &HashMap<String, u16>,
    ) -> Vec<Vec<MatterId>> {
        let mut out = Vec::with_capacity(measures.measure.len());
        for m in &measures.measure {
            self.check_measure_effect(m);
            out.push(self.measure_matters(m, matters, matter_ids));
        }
        out
    }

    /// Invariants 1 and 6: what a measure's category and legal basis allow it to do.
    fn check_measure_effect(&mut self, m: &MeasureSyntax) {
        let src = self.files.measures;
        let code = m.code.get_ref();
        let effect = *m.effect.get_ref();
        let category = *m.category.get_ref();
        // Invariant 1: a block needs a category-1 measure with a legal basis.
        if effect == Effect::Block && category != Category::RightsReducing {
            self.problems.at(
                src,
                m.effect.span(),
                format!("measure `{code}` blocks but is not category 1 (invariant 1: only rights-reducing measures based on law can block)"),
            );
        }
        if effect == Effect::Block && m.legal_basis.get_ref().trim().is_empty() {
            self.problems.at(
                src,
                m.code.span(),
                format!("measure `{code}` blocks without a legal basis (invariant 1: a block must cite a law, administrative regulation or central policy document)"),
            );
        }
        // Invariant 6: market measures only inform.
        if category == Category::Market && effect != Effect::Inform {
            self.problems.at(
                src,
                m.effect.span(),
                format!("measure `{code}` is category 3 but its effect is `{}` (invariant 6: market measures only inform)", effect.as_str()),
            );
        }
    }

    /// The matters a measure names, each known and named once, and invariant 5.
    fn measure_matters(
        &mut self,
        m: &MeasureSyntax,
        matters: &MattersFile,
        matter_ids: &HashMap<String, u16>,
    ) -> Vec<MatterId> {
        let src = self.files.measures;
        let code = m.code.get_ref();
        let effect = *m.effect.get_ref();
        if m.matters.get_ref().is_empty() {
            self.problems.at(
                src,
                m.matters.span(),
                format!("measure `{code}` applies in no matter"),
            );
        }
        let mut ids = Vec::new();
        for matter in m.matters.get_ref() {
            let Some(&id) = matter_ids.get(matter.get_ref()) else {
                self.problems.at(
                    src,
                    matter.span(),
                    format!(
                        "measure `{code}` names unknown matter `{}`",
                        matter.get_ref()
                    ),
                );
                continue;
            };
            if ids.contains(&MatterId(id)) {
                self.problems.at(
                    src,
                    matter.span(),
                    format!("measure `{code}` names matter `{}` twice", matter.get_ref()),
                );
                continue;
            }
            // Invariant 5: basic public services are never restricted on credit grounds.
            if effect.restricts() && matters.matter[usize::from(id)].basic_public_service {
                self.problems.at(
                    src,
                    matter.span(),
                    format!(
                        "measure `{code}` would {} in basic public service `{}` (invariant 5)",
                        effect.as_str(),
                        matter.get_ref()
                    ),
                );
            }
            ids.push(MatterId(id));
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::problems;
    use crate::ruleset::testing::compile_with;

    #[test]
    fn invariant_1_a_block_needs_category_1_and_a_legal_basis() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen("category = 1", "category = 2", 1).replacen(
                "legal_basis = \"《中华人民共和国政府采购法》第二十二条\"",
                "legal_basis = \" \"",
                1,
            )
        }));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("measures.toml:3: measure `ban` blocks without a legal basis"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("measures.toml:6: measure `ban` blocks but is not category 1"),
            "{found:#?}"
        );
    }

    #[test]
    fn invariant_5_no_restriction_in_basic_public_services() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen(
                "matters = [\"procurement\"]",
                "matters = [\"procurement\", \"basic\"]",
                1,
            )
        }));
        assert_eq!(found, vec!["measures.toml:10: measure `ban` would block in basic public service `basic` (invariant 5)"]);
    }

    #[test]
    fn invariant_6_market_measures_only_inform() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen("category = 2", "category = 3", 1)
        }));
        assert_eq!(found, vec!["measures.toml:16: measure `watch` is category 3 but its effect is `flag` (invariant 6: market measures only inform)"]);
    }
}
