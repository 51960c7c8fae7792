//! The file source: a JSON Lines snapshot, validated as a whole. One malformed line refuses the
//! file, and every malformed line is named, so a designating body fixes its export in one go.

use std::fmt;
use std::io::Read;
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
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("list file refused, {} bad line(s):\n{}", problems.len(), Located(path, problems))]
    Malformed {
        path: PathBuf,
        problems: Vec<LineProblem>,
    },
}

/// Renders problems as `file:line: what`, one a line.
struct Located<'a>(&'a Path, &'a [LineProblem]);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}: {}",
                self.0.display(),
                problem.line,
                problem.message
            )?;
        }
        Ok(())
    }
}

/// Reads, validates and indexes a list file against the rule set.
pub fn load_file(path: &Path, rules: &RuleSet) -> Result<ListIndex, ListFileError> {
    Ok(ListIndex::build(
        read_file(path, rules)?,
        rules.lists().len(),
    ))
}

/// The file is read and parsed this many bytes at a time: it never sits in memory whole, and
/// the buffer's pages are reused instead of fresh ones being zeroed for every gigabyte.
const CHUNK_BYTES: usize = 64 << 20;

/// Reads and validates a list file against the rule set.
pub fn read_file(path: &Path, rules: &RuleSet) -> Result<Vec<Entry>, ListFileError> {
    let io_error = |source| ListFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    read_chunked(file, CHUNK_BYTES, rules)
        .map_err(io_error)?
        .map_err(|problems| ListFileError::Malformed {
            path: path.to_path_buf(),
            problems,
        })
}

/// Reads JSON Lines `chunk_bytes` at a time, parsing each chunk's complete lines in parallel.
fn read_chunked(
    mut reader: impl Read,
    chunk_bytes: usize,
    rules: &RuleSet,
) -> std::io::Result<Result<Vec<Entry>, Vec<LineProblem>>> {
    let mut parsed = Parsed::default();
    let mut buffer: Vec<u8> = Vec::with_capacity(chunk_bytes);
    loop {
        let before = buffer.len();
        (&mut reader)
            .take(chunk_bytes as u64)
            .read_to_end(&mut buffer)?;
        let at_end = buffer.len() == before;
        // Parse up to the last complete line; the rest waits for the next read.
        let complete = match buffer.iter().rposition(|&b| b == b'\n') {
            _ if at_end => buffer.len(),
            Some(newline) => newline + 1,
            None => continue,
        };
        parsed.add_lines(&buffer[..complete], rules);
        buffer.drain(..complete);
        if at_end {
            return Ok(parsed.finish());
        }
    }
}

/// Parses JSON Lines (blank lines allowed) into validated entries, or every line's problem.
pub fn parse_entries(bytes: &[u8], rules: &RuleSet) -> Result<Vec<Entry>, Vec<LineProblem>> {
    let mut parsed = Parsed::default();
    parsed.add_lines(bytes, rules);
    parsed.finish()
}

/// Every entry whose `entry_id` an earlier line already used. Entries are sorted by a hash of
/// their id on both cores (a hash map of ten million strings took a second on one), and only
/// neighbours with equal hashes are compared as text.
fn duplicates(entries: &[Entry], lines: &[usize]) -> Vec<LineProblem> {
    use std::hash::BuildHasher;
    let hasher = rustc_hash::FxBuildHasher;
    let mut by_hash: Vec<(u64, u32)> = entries
        .par_iter()
        .enumerate()
        .map(|(i, entry)| (hasher.hash_one(&*entry.entry_id), i as u32))
        .collect();
    by_hash.par_sort_unstable();
    let mut problems = Vec::new();
    for group in by_hash.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        // Within a group the positions ascend, so each entry's first use comes before it.
        for (k, &(_, later)) in group.iter().enumerate() {
            let id = &entries[later as usize].entry_id;
            if let Some(&(_, first)) = group[..k]
                .iter()
                .find(|(_, earlier)| entries[*earlier as usize].entry_id == *id)
            {
                problems.push(LineProblem {
                    line: lines[later as usize],
                    message: format!(
                        "entry_id: duplicate `{id}` (first on line {})",
                        lines[first as usize]
                    ),
                });
            }
        }
    }
    problems
}

/// Entries parsed so far, with the line each came from, and the bad lines.
#[derive(Default)]
struct Parsed {
    entries: Vec<Entry>,
    lines: Vec<usize>,
    problems: Vec<LineProblem>,
    /// Lines consumed so far.
    line_count: usize,
}

impl Parsed {
    /// Parses complete lines (the text ends at a line break or at the end of the file).
    fn add_lines(&mut self, text: &[u8], rules: &RuleSet) {
        let first = self.line_count;
        let lines: Vec<(usize, &[u8])> = text
            .strip_suffix(b"\n")
            .unwrap_or(text)
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, line)| (first + i + 1, line.trim_ascii()))
            .collect();
        self.line_count += lines.len();
        let parsed: Vec<(usize, Result<Entry, String>)> = lines
            .par_iter()
            .filter(|(_, line)| !line.is_empty())
            .map(|&(line, text)| (line, parse_line(text, rules)))
            .collect();
        self.entries.reserve(parsed.len());
        for (line, result) in parsed {
            match result {
                Ok(entry) => {
                    self.entries.push(entry);
                    self.lines.push(line);
                }
                Err(message) => self.problems.push(LineProblem { line, message }),
            }
        }
    }

    /// The entries, or every problem (bad lines and duplicate ids) in line order.
    fn finish(mut self) -> Result<Vec<Entry>, Vec<LineProblem>> {
        self.problems.extend(duplicates(&self.entries, &self.lines));
        if self.problems.is_empty() {
            Ok(self.entries)
        } else {
            self.problems.sort_by_key(|p| p.line);
            Err(self.problems)
        }
    }
}

fn parse_line(text: &[u8], rules: &RuleSet) -> Result<Entry, String> {
    let record: EntryRecord = serde_json::from_slice(text).map_err(describe_json_error)?;
    Entry::from_record(record, rules).map_err(|err| err.to_string())
}

/// serde_json's message without its "at line 1 column N" (every line is line 1 to it).
fn describe_json_error(err: serde_json::Error) -> String {
    let text = err.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    match err.classify() {
        serde_json::error::Category::Data => format!("{message} (column {})", err.column()),
        _ => format!("invalid JSON: {message} (column {})", err.column()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::testing::mini;

    const GOOD: &str = r#"{"entry_id":"e1","list":"debtor","subject_id":"91230200MA1B2C3D8T","listed_on":"2026-03-01"}"#;

    fn problems(text: &str) -> Vec<String> {
        let rules = mini();
        parse_entries(text.as_bytes(), &rules)
            .expect_err("the file should be refused")
            .into_iter()
            .map(|p| format!("{}: {}", p.line, p.message))
            .collect()
    }

    #[test]
    fn reading_in_chunks_splits_no_line_and_numbers_lines_across_chunks() {
        let rules = mini();
        let good = |id: &str| GOOD.replace("e1", id);
        // Chunks far shorter than a line, and of odd sizes, with a bad line and no final newline.
        let text = format!("{}\n\n{}\n{{broken\n{}", good("a"), good("b"), good("a"));
        for chunk in [1, 7, 64, 4096] {
            let problems = read_chunked(text.as_bytes(), chunk, &rules)
                .expect("reading from memory")
                .expect_err("a broken line and a duplicate");
            let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
            assert_eq!(lines, [4, 5], "chunk {chunk}: {problems:?}");
            assert!(
                problems[1].message.contains("first on line 1"),
                "{problems:?}"
            );
        }
        let clean = format!("{}\n{}\n", good("a"), good("b"));
        for chunk in [1, 13, 4096] {
            let entries = read_chunked(clean.as_bytes(), chunk, &rules)
                .expect("reading from memory")
                .expect("a good file");
            let ids: Vec<&str> = entries.iter().map(|e| &*e.entry_id).collect();
            assert_eq!(ids, ["a", "b"]);
        }
    }

    #[test]
    fn a_good_file_with_blank_lines_loads() {
        let rules = mini();
        let text = format!(
            "\n{GOOD}\n\n{}\n",
            GOOD.replace("e1", "e2")
                .replace("91230200MA1B2C3D8T", "230202198503121238")
        );
        let entries = parse_entries(text.as_bytes(), &rules).unwrap();
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn every_bad_line_is_named_with_what_is_wrong() {
        let lines = [
            GOOD.to_owned(),
            "{not json".to_owned(),
            GOOD.replace("e1", "e3").replace("debtor", "nosuchlist"),
            GOOD.replace("e1", "e4")
                .replace("91230200MA1B2C3D8T", "91230200MA1B2C3DOT"),
            GOOD.replace("e1", "e5").replace("2026-03-01", "2026-02-30"),
            GOOD.replace("e1", "e6").replace(
                r#""listed_on":"2026-03-01""#,
                r#""listed_on":"2026-03-01","valid_until":"2026-01-01""#,
            ),
            GOOD.to_owned(),
            GOOD.replace("e1", "e8")
                .replace(r#""list":"debtor""#, r#""list":"abnormal""#)
                .replace("91230200MA1B2C3D8T", "230202198503121238"),
            GOOD.replace("e1", "e9")
                .replace(r#""list":"debtor""#, r#""list":"score""#)
                .replace("91230200MA1B2C3D8T", "230202198503121238"),
            GOOD.replace("e1", "e10")
                .replace("}", r#","colour":"red"}"#),
            GOOD.replace("e1", "e11")
                .replace("}", r#","status":"lapsed"}"#),
            GOOD.replace("e1", "e12").replace(
                "}",
                r#","responsible_persons":[{"role":"legal_rep","id":"91230200MA1B2C3D8T"}]}"#,
            ),
        ];
        let found = problems(&lines.join("\n"));
        let expected_prefixes = [
            "2: invalid JSON: key must be a string",
            "3: list: unknown list `nosuchlist`",
            "4: subject_id: ",
            "5: listed_on: `2026-02-30` is neither a date",
            "6: valid_until: must be later than listed_on",
            "7: entry_id: duplicate `e1` (first on line 1)",
            "8: subject_id: list `abnormal` holds organisations, not persons",
            "9: score: is required on scored list `score`",
            "10: unknown field `colour`",
            "11: unknown variant `lapsed`",
            "12: responsible_persons[0].id: ",
        ];
        assert_eq!(found.len(), expected_prefixes.len(), "{found:#?}");
        for (problem, prefix) in found.iter().zip(expected_prefixes) {
            assert!(
                problem.starts_with(prefix),
                "{problem:?} should start with {prefix:?}"
            );
        }
    }

    #[test]
    fn the_file_error_renders_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lists.jsonl");
        std::fs::write(&path, format!("{GOOD}\n[]\n")).unwrap();
        let err = load_file(&path, &mini()).unwrap_err();
        assert!(
            err.to_string().contains(&format!("{}:2: ", path.display())),
            "{err}"
        );
    }

    #[test]
    fn the_index_finds_subjects_and_the_persons_entries_name() {
        let rules = mini();
        let text = [
            GOOD.to_owned(),
            GOOD.replace("e1", "e2")
                .replace(r#""list":"debtor""#, r#""list":"abnormal""#),
            GOOD.replace("e1", "e3")
                .replace("91230200MA1B2C3D8T", "91230202MA18XK7PXM")
                .replace(
                    "}",
                    r#","responsible_persons":[{"role":"principal","id":"230202198503121238"}]}"#,
                ),
        ]
        .join("\n");
        let index = ListIndex::build(
            parse_entries(text.as_bytes(), &rules).unwrap(),
            rules.lists().len(),
        );
        let company = crate::ident::parse("91230200MA1B2C3D8T").unwrap().key();
        let person = crate::ident::parse("230202198503121238").unwrap().key();
        assert_eq!(index.entries_of(company).len(), 2);
        assert_eq!(
            index
                .naming(person)
                .map(|(e, p)| (e.entry_id.to_string(), p.role))
                .collect::<Vec<_>>(),
            vec![("e3".to_owned(), crate::ruleset::Role::Principal)]
        );
        assert!(index.knows(person) && index.knows(company));
        assert_eq!((index.len(), index.subjects()), (3, 2));
        assert_eq!(index.count(rules.list_id("debtor").unwrap()), 2);
    }
}
