//! Lists: the matters a court order binds.

use std::collections::HashMap;

use super::Checker;
use crate::ruleset::syntax::ListsFile;
use crate::ruleset::ListKind;

impl Checker<'_> {
    /// A `court_order` list names the matters its order binds (and only such a list does), each
    /// a known matter: invariant 2 lets it block there and nowhere else.
    pub(super) fn check_court_orders(
        &mut self,
        lists: &ListsFile,
        matter_ids: &HashMap<String, u16>,
    ) {
        let src = self.files.lists;
        for l in &lists.list {
            let code = l.code.get_ref();
            match (l.kind, &l.order_matters) {
                (ListKind::CourtOrder, None) => self.problems.at(
                    src,
                    l.code.span(),
                    format!("court-order list `{code}` does not name the matters its order binds (order_matters)"),
                ),
                (ListKind::CourtOrder, Some(matters)) => {
                    if matters.get_ref().is_empty() {
                        self.problems.at(
                            src,
                            matters.span(),
                            format!("court-order list `{code}` binds no matter (order_matters is empty)"),
                        );
                    }
                    for matter in matters.get_ref() {
                        if !matter_ids.contains_key(matter.get_ref()) {
                            self.problems.at(
                                src,
                                matter.span(),
                                format!("court-order list `{code}` names unknown matter `{}`", matter.get_ref()),
                            );
                        }
                    }
                }
                (_, Some(matters)) => self.problems.at(
                    src,
                    matters.span(),
                    format!("list `{code}` names order_matters but is not of kind `court_order`"),
                ),
                (_, None) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::{problems, with_court_order};
    use crate::ruleset::testing::compile_with;

    #[test]
    fn only_a_court_order_list_names_the_known_matters_its_order_binds() {
        let unbound = problems(with_court_order("", "[\"tickets\"]", "judicial = true\n"));
        assert_eq!(unbound, vec!["lists.toml:26: court-order list `restricted` does not name the matters its order binds (order_matters)"]);
        let unknown = problems(with_court_order(
            "order_matters = [\"tickets\", \"golf\"]",
            "[\"tickets\"]",
            "judicial = true\n",
        ));
        assert_eq!(
            unknown,
            vec!["lists.toml:31: court-order list `restricted` names unknown matter `golf`"]
        );
        let not_an_order = problems(compile_with(|f| {
            f[1] = f[1].replace(
                "kind = \"grey\"",
                "kind = \"grey\"\norder_matters = [\"procurement\"]",
            );
        }));
        assert_eq!(not_an_order, vec!["lists.toml:14: list `abnormal` names order_matters but is not of kind `court_order`"]);
    }

    #[test]
    fn a_list_without_topic_and_a_foreign_person_measure_are_refused() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "[topic.responsible_persons]\nroles = [\"legal_rep\"]\nmeasures = [\"ban\"]",
                "[topic.responsible_persons]\nroles = [\"legal_rep\"]\nmeasures = [\"watch\"]",
            );
            f[4] = f[4].replace("lists = [\"abnormal\"]", "lists = [\"debtor\"]");
        }));
        assert!(
            found
                .iter()
                .any(|p| p == "lists.toml:11: list `abnormal` triggers no topic"),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p
                .contains("extends measure `watch` to responsible persons but does not carry it")),
            "{found:#?}"
        );
    }
}
