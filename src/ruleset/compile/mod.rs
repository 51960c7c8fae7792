//! Parse → validate → build. Validation collects every problem before giving up, so a broken
//! rule set is fixed in one round trip rather than one error at a time.

mod build;
mod parse;
mod validate;

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Problem, RuleSet, RuleSetError};

/// One rule-set file's text, kept to turn byte offsets into line numbers.
struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
}

/// Problems found so far, each pinned to a file and line.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn at(&mut self, source: &Source, span: Range<usize>, message: impl Into<String>) {
        self.0.push(Problem {
            file: source.path.clone(),
            line: source.line(span.start),
            message: message.into(),
        });
    }

    fn whole_file(&mut self, path: &Path, message: impl Into<String>) {
        self.0.push(Problem {
            file: path.to_path_buf(),
            line: 0,
            message: message.into(),
        });
    }
}

/// The five rule-set files by name, so each check says which file it reports in.
struct Files<'a> {
    ruleset: &'a Source,
    lists: &'a Source,
    matters: &'a Source,
    measures: &'a Source,
    topics: &'a Source,
}

pub(super) fn compile_dir(dir: &Path) -> Result<RuleSet, RuleSetError> {
    compile(parse::read_dir(dir)?)
}

/// Compiles the rule set built into the binary.
pub(super) fn compile_embedded() -> Result<RuleSet, RuleSetError> {
    compile(parse::read_embedded()?)
}

fn compile(read: parse::Read) -> Result<RuleSet, RuleSetError> {
    let [ruleset, lists, matters, measures, topics] = &read.sources[..] else {
        unreachable!("one source per file of FILES")
    };
    let files = Files {
        ruleset,
        lists,
        matters,
        measures,
        topics,
    };
    let parsed = parse::parse_files(&files)?;
    let checked = validate::check(&files, parsed)?;
    Ok(build::rule_set(checked, read.revision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::testing::compile_with;

    /// The problems as `file:line: message` with the file name only.
    pub(super) fn problems(result: Result<RuleSet, RuleSetError>) -> Vec<String> {
        let err = result.expect_err("the rule set should be refused");
        err.0
            .iter()
            .map(|p| {
                format!(
                    "{}:{}: {}",
                    p.file.file_name().unwrap().to_string_lossy(),
                    p.line,
                    p.message
                )
            })
            .collect()
    }

    /// The small rule set with a court order (限制消费令) that binds in `tickets` and blocks there
    /// under a judicial basis; `measure_extra` is appended to its blocking measure.
    pub(super) fn with_court_order(
        order_matters: &str,
        measure_matters: &str,
        measure_extra: &str,
    ) -> Result<RuleSet, RuleSetError> {
        compile_with(|f| {
            f[1].push_str(&format!("\n[[list]]\ncode = \"restricted\"\nname = \"限制消费人员\"\nkind = \"court_order\"\nbody = \"法院\"\nsubjects = \"any\"\n{order_matters}"));
            f[2].push_str(
                "\n[[matter]]\ncode = \"tickets\"\nname = \"购票\"\ndepartment = \"铁路\"\n",
            );
            f[3].push_str(&format!("\n[[measure]]\ncode = \"order_block\"\nname = \"协助执行限制消费令\"\ncategory = 1\neffect = \"block\"\nlegal_basis = \"《最高人民法院关于限制被执行人高消费及有关消费的若干规定》第三条\"\ndepartment = \"铁路\"\ntext = \"拦截\"\nmatters = {measure_matters}\n{measure_extra}"));
            f[4].push_str("\n[[topic]]\ncode = \"restricted\"\nname = \"限制消费\"\nkind = \"penalty\"\nlists = [\"restricted\"]\nmeasures = [\"order_block\"]\n");
        })
    }

    #[test]
    fn the_shipped_rule_set_compiles_with_8_incentive_and_39_penalty_topics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/qiqihar");
        let rules = compile_dir(&dir).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(rules.topic_counts(), (8, 39));
        assert_eq!(rules.lists().len(), 47);
        assert!(rules.matters().len() >= 25);
    }
}
