//! Every check of a parsed rule set, each next to the data it checks. Problems are collected
//! across all of them and reported sorted by file and line.

mod codes;
mod lists;
mod matters;
mod measures;
mod scale;
mod topics;

use super::parse::Parsed;
use super::{Files, Problems};
use crate::ruleset::{MatterId, Problem, RuleSetError, ScoreScale, FILES};

pub(super) use topics::TopicLinks;

/// Everything validated, ready to be built into the lookup table.
pub(super) struct Checked {
    pub(super) parsed: Parsed,
    pub(super) score_scale: Option<ScoreScale>,
    /// Per list: the codes of the topics it triggers.
    pub(super) topics_of_list: Vec<Vec<String>>,
    /// Per topic: (list ids, (measure id, roles it extends to, score tier) triples).
    pub(super) links: Vec<TopicLinks>,
    /// Per measure: the matters it applies in.
    pub(super) measure_matters: Vec<Vec<MatterId>>,
}

/// The checks' shared state: where each file is, and what they found so far.
struct Checker<'a> {
    files: &'a Files<'a>,
    problems: Problems,
}

/// Runs every check; the order they run in breaks ties between problems on the same line.
pub(super) fn check(files: &Files, parsed: Parsed) -> Result<Checked, RuleSetError> {
    let mut checker = Checker {
        files,
        problems: Problems::default(),
    };
    let ids = checker.check_codes(&parsed);
    checker.check_platform_codes(&parsed.matters);
    checker.check_court_orders(&parsed.lists, &ids.matters);
    let score_scale = checker.check_score_scale(&parsed.ruleset, &parsed.lists);
    let measure_matters = checker.check_measures(&parsed.measures, &parsed.matters, &ids.matters);
    let links = checker.check_topics(&parsed, &ids, score_scale.as_ref());
    let topics_of_list = checker.check_lists_trigger_topics(&parsed, &ids.lists, &links);
    checker.into_result()?;
    Ok(Checked {
        parsed,
        score_scale,
        topics_of_list,
        links,
        measure_matters,
    })
}

impl Checker<'_> {
    /// Every problem found, in file order (as FILES lists them) and line order within a file.
    fn into_result(mut self) -> Result<(), RuleSetError> {
        if self.problems.0.is_empty() {
            return Ok(());
        }
        let order = |p: &Problem| FILES.iter().position(|f| p.file.ends_with(f));
        self.problems.0.sort_by_key(|p| (order(p), p.line));
        Err(RuleSetError(self.problems.0))
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
