//! Lists: the matters a court order binds, and the topics each list triggers.

use std::collections::HashMap;

use super::{Checker, TopicLinks};
use crate::ruleset::compile::parse::Parsed;
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

    /// Every list triggers a topic; returns, per list, the codes of the topics it triggers.
    pub(super) fn check_lists_trigger_topics(
        &mut self,
        parsed: &Parsed,
        list_ids: &HashMap<String, u16>,
        links: &[TopicLinks],
    ) -> Vec<Vec<String>> {
        let (lists, topics) = (&parsed.lists, &parsed.topics);
        let mut topics_of_list: Vec<Vec<String>> = vec![Vec::new(); lists.list.len()];
        for (topic, (topic_lists, _)) in topics.topic.iter().zip(links) {
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
        topics_of_list
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
