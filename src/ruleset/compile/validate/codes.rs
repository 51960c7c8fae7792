//! Codes: each a snake_case name, unique within its file, interned to its first position.

use std::collections::HashMap;

use toml::Spanned;

use super::Checker;
use crate::ruleset::compile::parse::Parsed;
use crate::ruleset::compile::{Problems, Source};

pub(super) const MAX_CODE_LEN: usize = 64;

/// Each table's codes mapped to their first position; topics are not here, as no table refers to
/// them by code.
pub(super) struct Ids {
    pub(super) lists: HashMap<String, u16>,
    pub(super) matters: HashMap<String, u16>,
    pub(super) measures: HashMap<String, u16>,
}

impl Checker<'_> {
    /// Checks the syntax and uniqueness of the rule set's name and of every code.
    pub(super) fn check_codes(&mut self, parsed: &Parsed) -> Ids {
        let files = self.files;
        let problems = &mut self.problems;
        check_code_syntax(
            problems,
            files.ruleset,
            &parsed.ruleset.name,
            "rule set name",
        );
        let lists = index_codes(
            problems,
            files.lists,
            parsed.lists.list.iter().map(|l| &l.code),
            "list",
        );
        let matters = index_codes(
            problems,
            files.matters,
            parsed.matters.matter.iter().map(|m| &m.code),
            "matter",
        );
        let measures = index_codes(
            problems,
            files.measures,
            parsed.measures.measure.iter().map(|m| &m.code),
            "measure",
        );
        // No table refers to topics by code; indexing them checks syntax and uniqueness.
        index_codes(
            problems,
            files.topics,
            parsed.topics.topic.iter().map(|t| &t.code),
            "topic",
        );
        Ids {
            lists,
            matters,
            measures,
        }
    }
}

fn check_code_syntax(problems: &mut Problems, src: &Source, code: &Spanned<String>, what: &str) {
    let text = code.get_ref();
    let mut chars = text.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && text.len() <= MAX_CODE_LEN;
    if !well_formed {
        problems.at(
            src,
            code.span(),
            format!("{what} code `{text}` is not snake_case ([a-z][a-z0-9_]*, at most {MAX_CODE_LEN} characters)"),
        );
    }
}

/// Checks each code's syntax and uniqueness; maps every code to its first position.
fn index_codes<'c>(
    problems: &mut Problems,
    src: &Source,
    codes: impl Iterator<Item = &'c Spanned<String>>,
    what: &str,
) -> HashMap<String, u16> {
    let mut ids: HashMap<String, u16> = HashMap::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (position, code) in codes.enumerate() {
        check_code_syntax(problems, src, code, what);
        let Ok(id) = u16::try_from(position) else {
            problems.at(src, code.span(), format!("more than {} {what}s", u16::MAX));
            break;
        };
        match first_line.get(code.get_ref().as_str()) {
            Some(line) => problems.at(
                src,
                code.span(),
                format!(
                    "duplicate {what} code `{}` (first defined on line {line})",
                    code.get_ref()
                ),
            ),
            None => {
                first_line.insert(code.get_ref(), src.line(code.span().start));
                ids.insert(code.get_ref().clone(), id);
            }
        }
    }
    ids
}
