//! Codes: each a snake_case name, unique within its file, interned to its first position.

use std::collections::HashMap;

use toml::Spanned;

use crate::ruleset::compile::{Problems, Source};

pub(super) const MAX_CODE_LEN: usize = 64;

pub(super) fn check_code_syntax(
    problems: &mut Problems,
    src: &Source,
    code: &Spanned<String>,
    what: &str,
) {
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
pub(super) fn index_codes<'c>(
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
