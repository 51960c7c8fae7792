//! The file source: a JSON Lines snapshot, validated as a whole. One malformed line refuses the
//! file, and every malformed line is named, so a designating body fixes its export in one go.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::entry::{Entry, EntryRecord};
use super::index::ListIndex;
use crate::ruleset::RuleSet;

/// One bad line of a list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ListFileError {
    #[error("cannot read list file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("list file refused, {} bad line(s):\n{}", problems.len(), Located(path, problems))]
    Malformed { path: PathBuf, problems: Vec<LineProblem> },
}

/// Renders problems as `file:line: what`, one a line.
struct Located<'a>(&'a Path, &'a [LineProblem]);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", self.0.display(), problem.line, problem.message)?;
        }
        Ok(())
    }
}

/// Reads, validates and indexes a list file against the rule set.
pub fn load_file(path: &Path, rules: &RuleSet) -> Result<ListIndex, ListFileError> {
    let bytes = std::fs::read(path).map_err(|source| ListFileError::Io { path: path.to_path_buf(), source })?;
    let entries = parse_entries(&bytes, rules)
        .map_err(|problems| ListFileError::Malformed { path: path.to_path_buf(), problems })?;
    Ok(ListIndex::build(entries, rules.lists().len()))
}

/// Parses JSON Lines (blank lines allowed) into validated entries, or every line's problem.
pub fn parse_entries(bytes: &[u8], rules: &RuleSet) -> Result<Vec<Entry>, Vec<LineProblem>> {
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim_ascii()))
        .filter(|(_, line)| !line.is_empty())
        .collect();
    let parsed: Vec<Result<Entry, LineProblem>> = lines
        .par_iter()
        .map(|&(line, text)| parse_line(text, rules).map_err(|message| LineProblem { line, message }))
        .collect();

    let mut problems = Vec::new();
    let mut entries = Vec::with_capacity(parsed.len());
    let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(parsed.len());
    for (result, &(line, _)) in parsed.iter().zip(&lines) {
        match result {
            Ok(entry) => match first_seen.get(&*entry.entry_id) {
                Some(first) => problems.push(LineProblem {
                    line,
                    message: format!("entry_id: duplicate `{}` (first on line {first})", entry.entry_id),
                }),
                None => {
                    first_seen.insert(&entry.entry_id, line);
                }
            },
            Err(problem) => problems.push(problem.clone()),
        }
    }
    drop(first_seen);
    if !problems.is_empty() {
        return Err(problems);
    }
    entries.extend(parsed.into_iter().flatten());
    Ok(entries)
}

fn parse_line(text: &[u8], rules: &RuleSet) -> Result<Entry, String> {
    let record: EntryRecord = serde_json::from_slice(text).map_err(describe_json_error)?;
    Entry::from_record(record, rules).map_err(|err| err.to_string())
}

/// serde_json's message without its "at line 1 column N" (every line is line 1 to it).
fn describe_json_error(err: serde_json::Error) -> String {
    let text = err.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    match err.classify() {
        serde_json::error::Category::Data => format!("{message} (column {})", err.column()),
        _ => format!("invalid JSON: {message} (column {})", err.column()),
    }
}
