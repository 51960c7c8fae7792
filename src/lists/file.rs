//! The file source: a JSON Lines snapshot, validated as a whole. One malformed line refuses the
//! file, and every malformed line is named, so a designating body fixes its export in one go.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::entry::{Checked, Entry, EntryRecord, Facts};
use super::index::{IndexBuilder, ListIndex};
use crate::ident::SubjectKey;
use crate::ruleset::{Role, RuleSet};

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
    #[error("list snapshot {} refused: {message}", path.display())]
    Snapshot { path: PathBuf, message: String },
    #[error("cannot keep the entries' text in a temporary file (TMPDIR needs room for a copy of the list file): {0}")]
    Text(std::io::Error),
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

/// Reads, validates and indexes a list file against the rule set. The entries go straight into
/// the index, never onto the heap. Their text stays in a private copy of the file, made by the
/// kernel on another thread while this one parses: the index reads its text at the offsets of
/// the lines, and an operator who rewrites the list file in place cannot change it under a
/// snapshot that is still serving.
///
/// A binary list snapshot (written by `jiangcheng check --write-snapshot`) is read back
/// instead of parsed, if the file starts as one.
pub fn load_file(path: &Path, rules: &RuleSet) -> Result<ListIndex, ListFileError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    load_opened(path, file, rules)
}

/// The shipped demo lists (`rulesets/qiqihar/demo-lists.jsonl`), built into the binary: the
/// list source when none is given.
const EMBEDDED_DEMO: &[u8] = include_bytes!("../../rulesets/qiqihar/demo-lists.jsonl");

/// Reads, validates and indexes the embedded demo lists, as [`load_file`] reads a file (from a
/// temporary copy, named `embedded/demo-lists.jsonl` in problems).
pub fn load_embedded(rules: &RuleSet) -> Result<ListIndex, ListFileError> {
    let mut file = tempfile::tempfile().map_err(ListFileError::Text)?;
    // The copy `load_opened` makes reads on from the file's offset.
    let written = std::io::Write::write_all(&mut file, EMBEDDED_DEMO)
        .and_then(|()| std::io::Seek::rewind(&mut file));
    written.map_err(ListFileError::Text)?;
    load_opened(Path::new("embedded/demo-lists.jsonl"), file, rules)
}

/// Loads an open list file (or snapshot) named `path` in errors.
fn load_opened(
    path: &Path,
    file: std::fs::File,
    rules: &RuleSet,
) -> Result<ListIndex, ListFileError> {
    let mut magic = [0u8; 8];
    let is_snapshot = {
        use std::os::unix::fs::FileExt;
        file.read_at(&mut magic, 0).map_err(io_error(path))? == magic.len()
            && &magic == super::index::SNAPSHOT_MAGIC
    };
    if is_snapshot {
        let mut input = std::io::BufReader::with_capacity(1 << 20, file);
        return ListIndex::read_snapshot(&mut input, rules).map_err(|err| match err.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ListFileError::Snapshot {
                    path: path.to_path_buf(),
                    message: err.to_string(),
                }
            }
            _ => io_error(path)(err),
        });
    }
    let copy = tempfile::tempfile().map_err(ListFileError::Text)?;
    let (mut from, mut to) = (
        file.try_clone().map_err(io_error(path))?,
        copy.try_clone().map_err(ListFileError::Text)?,
    );
    // The copy moves through the file's offset; the parse reads at offsets of its own.
    let copier = std::thread::spawn(move || std::io::copy(&mut from, &mut to));
    // Duplicate ids are confirmed from the copy, so it must be complete by then.
    let copied = || {
        copier
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the copy of the list file failed")))
            .map(drop)
            .map_err(ListFileError::Text)
    };
    let reader = ReadAt { file: &file, at: 0 };
    let builder = read_from(path, reader, IndexBuilder::over(copy), rules, copied)?;
    builder
        .finish(rules.lists().len())
        .map_err(ListFileError::Text)
}

/// Reads a file from an offset of its own, leaving the file's offset to others.
struct ReadAt<'a> {
    file: &'a std::fs::File,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let read = self.file.read_at(buf, self.at)?;
        self.at += read as u64;
        Ok(read)
    }
}

/// Reads and validates a list file against the rule set.
pub fn read_file(path: &Path, rules: &RuleSet) -> Result<Vec<Entry>, ListFileError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    read_from(path, file, Vec::new(), rules, || Ok(()))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ListFileError + '_ {
    |source| ListFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads, then waits for `before_finish` before checking for duplicate ids.
fn read_from<C: Collect>(
    path: &Path,
    file: impl Read,
    into: C,
    rules: &RuleSet,
    before_finish: impl FnOnce() -> Result<(), ListFileError>,
) -> Result<C, ListFileError> {
    let parsed = read_chunked(file, CHUNK_BYTES, into, rules).map_err(io_error(path))?;
    before_finish()?;
    parsed
        .finish()
        .map_err(io_error(path))?
        .map_err(|problems| ListFileError::Malformed {
            path: path.to_path_buf(),
            problems,
        })
}

/// The file is read and parsed this many bytes at a time: it never sits in memory whole, and
/// the buffer's pages are reused instead of fresh ones being zeroed for every gigabyte. A
/// chunk's parsed lines are made on rayon's threads, whose heaps keep that much free once the
/// load is done (below glibc's trim threshold): 8 MiB chunks leave 40 MB less resident at ten
/// million entries than 64 MiB ones, and load as fast.
const CHUNK_BYTES: usize = 8 << 20;

/// Reads JSON Lines `chunk_bytes` at a time, parsing each chunk's complete lines in parallel.
fn read_chunked<C: Collect>(
    mut reader: impl Read,
    chunk_bytes: usize,
    into: C,
    rules: &RuleSet,
) -> std::io::Result<Parsed<C>> {
    let mut parsed = Parsed::new(into);
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
        parsed.add_lines(&buffer[..complete], rules)?;
        buffer.drain(..complete);
        if at_end {
            return Ok(parsed);
        }
    }
}

/// The UTF-8 byte-order mark a list file may start with.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses JSON Lines (blank lines allowed) into validated entries, or every line's problem.
pub fn parse_entries(bytes: &[u8], rules: &RuleSet) -> Result<Vec<Entry>, Vec<LineProblem>> {
    let mut parsed = Parsed::new(Vec::new());
    let added = parsed
        .add_lines(bytes, rules)
        .and_then(|()| parsed.finish());
    // Collecting into memory does no I/O.
    added.unwrap_or_else(|err| unreachable!("in-memory parse failed: {err}"))
}

/// Where validated entries go: owned entries, or an index being built over the file.
trait Collect {
    /// What is kept of an entry, made on the rayon pool.
    type Item: Send;
    /// Keeps what is needed of the entry parsed from `line`, which starts `at` bytes into the file.
    fn item(checked: Checked<'_>, line: &[u8], at: u64) -> Self::Item;
    /// Takes entries in file order.
    fn push(&mut self, item: Self::Item) -> std::io::Result<()>;
    /// The `entry_id` of the `i`-th entry pushed.
    fn entry_id(&mut self, i: u32) -> std::io::Result<String>;
}

impl Collect for Vec<Entry> {
    type Item = Entry;

    fn item(checked: Checked<'_>, _line: &[u8], _at: u64) -> Entry {
        Entry::from(checked)
    }

    fn push(&mut self, entry: Entry) -> std::io::Result<()> {
        Vec::push(self, entry);
        Ok(())
    }

    fn entry_id(&mut self, i: u32) -> std::io::Result<String> {
        Ok(self[i as usize].entry_id.to_string())
    }
}

/// An entry of a list file as the index keeps it: facts, persons and where its line is.
struct FileEntry {
    subject: SubjectKey,
    legacy_ids: Vec<SubjectKey>,
    facts: Facts,
    persons: Vec<(SubjectKey, Role)>,
    span: (u64, usize),
}

impl Collect for IndexBuilder {
    type Item = FileEntry;

    fn item(checked: Checked<'_>, line: &[u8], at: u64) -> FileEntry {
        FileEntry {
            subject: checked.subject,
            facts: checked.facts,
            legacy_ids: checked.legacy_ids.clone(),
            persons: checked.named().collect(),
            span: (at, line.len()),
        }
    }

    fn push(&mut self, entry: FileEntry) -> std::io::Result<()> {
        self.carry(entry.subject, &entry.legacy_ids);
        self.push_at(entry.subject, entry.facts, entry.persons, entry.span)
    }

    fn entry_id(&mut self, i: u32) -> std::io::Result<String> {
        self.pushed_entry_id(i)
    }
}

/// Every entry whose `entry_id` an earlier one already used: its position, the earlier one's
/// (positions in the order the entries came) and the id. Entries are sorted by a hash of their id on both cores (a hash
/// map of ten million strings took a second on one), and only entries with equal hashes are
/// compared as text.
pub(super) fn repeated_ids(
    mut by_hash: Vec<(u64, u32)>,
    entry_id: &mut dyn FnMut(u32) -> std::io::Result<String>,
) -> std::io::Result<Vec<(u32, u32, String)>> {
    by_hash.par_sort_unstable();
    let mut repeats = Vec::new();
    for group in by_hash.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        // Within a group the positions ascend, so each entry's first use comes before it.
        let ids = group
            .iter()
            .map(|&(_, i)| entry_id(i))
            .collect::<std::io::Result<Vec<String>>>()?;
        for (k, id) in ids.iter().enumerate() {
            if let Some(first) = ids[..k].iter().position(|earlier| earlier == id) {
                repeats.push((group[k].1, group[first].1, id.clone()));
            }
        }
    }
    Ok(repeats)
}

/// The hash [`repeated_ids`] sorts by.
pub(super) fn id_hash(entry_id: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(entry_id)
}

/// Entries parsed so far, the hash of each one's id and the line it came from, and the bad
/// lines.
struct Parsed<C> {
    into: C,
    id_hashes: Vec<(u64, u32)>,
    lines: Vec<usize>,
    problems: Vec<LineProblem>,
    /// Lines consumed so far.
    line_count: usize,
    /// Bytes consumed so far.
    byte_count: u64,
}

impl<C: Collect> Parsed<C> {
    fn new(into: C) -> Parsed<C> {
        Parsed {
            into,
            id_hashes: Vec::new(),
            lines: Vec::new(),
            problems: Vec::new(),
            line_count: 0,
            byte_count: 0,
        }
    }

    /// Parses complete lines (the text ends at a line break or at the end of the file). The
    /// text is cut into pieces at line breaks, and each piece is split into lines and parsed on
    /// the rayon pool, so that only the compact result of each line is collected here.
    fn add_lines(&mut self, mut text: &[u8], rules: &RuleSet) -> std::io::Result<()> {
        // Excel and WPS start a file they save as UTF-8 with a byte-order mark: it is no part of
        // the first line, and the text's offsets still count it.
        if self.byte_count == 0 {
            if let Some(rest) = text.strip_prefix(UTF8_BOM) {
                self.byte_count = UTF8_BOM.len() as u64;
                text = rest;
            }
        }
        let pieces = pieces(text);
        let parsed: Vec<Vec<(usize, ParsedLine<C::Item>)>> = pieces
            .par_iter()
            .map(|&(offset, piece)| {
                let at = self.byte_count + offset as u64;
                lines(piece, at)
                    .filter(|(_, _, line)| !line.is_empty())
                    .map(|(i, at, line)| (i, parse_line::<C>(line, at, rules)))
                    .collect()
            })
            .collect();
        for (piece, results) in pieces.iter().zip(parsed) {
            let first = self.line_count;
            for (i, result) in results {
                let line = first + i + 1;
                match result {
                    Ok((id_hash, item)) => {
                        self.id_hashes.push((id_hash, self.lines.len() as u32));
                        self.lines.push(line);
                        self.into.push(item)?;
                    }
                    Err(message) => self.problems.push(LineProblem { line, message }),
                }
            }
            self.line_count += lines(piece.1, 0).count();
        }
        self.byte_count += text.len() as u64;
        Ok(())
    }

    /// The entries, or every problem (bad lines and duplicate ids) in line order.
    fn finish(mut self) -> std::io::Result<Result<C, Vec<LineProblem>>> {
        let into = &mut self.into;
        let repeats = repeated_ids(self.id_hashes, &mut |i| into.entry_id(i))?;
        let lines = &self.lines;
        self.problems
            .extend(repeats.into_iter().map(|(later, first, id)| LineProblem {
                line: lines[later as usize],
                message: format!(
                    "entry_id: duplicate `{id}` (first on line {})",
                    lines[first as usize]
                ),
            }));
        if self.problems.is_empty() {
            Ok(Ok(self.into))
        } else {
            self.problems.sort_by_key(|p| p.line);
            Ok(Err(self.problems))
        }
    }
}

/// A line's entry (with the hash of its id), or what is wrong with it.
type ParsedLine<T> = Result<(u64, T), String>;

fn parse_line<C: Collect>(text: &[u8], at: u64, rules: &RuleSet) -> ParsedLine<C::Item> {
    let record: EntryRecord<'_> = serde_json::from_slice(text).map_err(describe_json_error)?;
    let checked = Checked::new(record, rules).map_err(|err| err.to_string())?;
    let id_hash = id_hash(&checked.record.entry_id);
    Ok((id_hash, C::item(checked, text, at)))
}

/// Lines per piece of a chunk that is parsed as one task, about.
const PIECE_BYTES: usize = 1 << 20;

/// `text` cut after line breaks into pieces of about [`PIECE_BYTES`], with where each starts.
fn pieces(text: &[u8]) -> Vec<(usize, &[u8])> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = match text.get(start + PIECE_BYTES..) {
            Some(rest) => rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |newline| start + PIECE_BYTES + newline + 1),
            None => text.len(),
        };
        pieces.push((start, &text[start..end]));
        start = end;
    }
    pieces
}

/// The lines of a piece: their number within it (from 0), where each trimmed line starts in the
/// file (the piece starts at `at`), and the trimmed line.
fn lines(piece: &[u8], mut at: u64) -> impl Iterator<Item = (usize, u64, &[u8])> {
    piece
        .strip_suffix(b"\n")
        .unwrap_or(piece)
        .split(|&b| b == b'\n')
        .enumerate()
        .map(move |(i, line)| {
            let start = at + (line.len() - line.trim_ascii_start().len()) as u64;
            at += line.len() as u64 + 1;
            (i, start, line.trim_ascii())
        })
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
            let problems = read_chunked(text.as_bytes(), chunk, Vec::new(), &rules)
                .and_then(Parsed::finish)
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
            let entries = read_chunked(clean.as_bytes(), chunk, Vec::new(), &rules)
                .and_then(Parsed::finish)
                .expect("reading from memory")
                .expect("a good file");
            let ids: Vec<&str> = entries.iter().map(|e| &*e.entry_id).collect();
            assert_eq!(ids, ["a", "b"]);
        }
    }

    #[test]
    fn a_file_saved_with_a_byte_order_mark_reads_as_without() {
        let rules = mini();
        let text = format!("\u{FEFF}{GOOD}\n{}\n", GOOD.replace("e1", "e2"));
        for chunk in [1, 2, 4096] {
            let entries = read_chunked(text.as_bytes(), chunk, Vec::new(), &rules)
                .and_then(Parsed::finish)
                .expect("reading from memory")
                .expect("a good file");
            let ids: Vec<&str> = entries.iter().map(|e| &*e.entry_id).collect();
            assert_eq!(ids, ["e1", "e2"], "chunk {chunk}");
        }
        // Only a leading mark: one inside a line is still that line's problem.
        let later = format!("{GOOD}\n\u{FEFF}{}\n", GOOD.replace("e1", "e2"));
        assert_eq!(problems(&later).len(), 1, "{:?}", problems(&later));
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
    fn a_loaded_index_keeps_its_text_when_the_file_is_rewritten_in_place() {
        let rules = mini();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lists.jsonl");
        let other = GOOD
            .replace("e1", "e2")
            .replace("91230200MA1B2C3D8T", "91230202MA18XK7PXM");
        // Leading blanks and a blank line move the second entry off a plain line boundary.
        std::fs::write(&path, format!("  {GOOD}\n\n{other}\n")).unwrap();
        let index = load_file(&path, &rules).unwrap();
        let company = crate::ident::parse("91230202MA18XK7PXM").unwrap().key();
        let entry = index.entries_of(company).next().unwrap();
        assert_eq!(entry.entry_id().unwrap(), "e2");
        assert_eq!(entry.record(&rules).unwrap().listed_on, "2026-03-01");

        // A broken file written over the loaded one leaves the serving snapshot's text intact.
        std::fs::write(&path, "{broken\n").unwrap();
        let entry = index.entries_of(company).next().unwrap();
        assert_eq!(entry.entry_id().unwrap(), "e2");

        std::fs::write(&path, format!("{GOOD}\n{GOOD}\n")).unwrap();
        let err = load_file(&path, &rules).unwrap_err().to_string();
        assert!(
            err.contains("2: entry_id: duplicate `e1` (first on line 1)"),
            "{err}"
        );
    }

    #[test]
    fn a_list_snapshot_loads_back_the_same_index_and_refuses_another_revision_or_damage() {
        let rules = mini();
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            GOOD.to_owned(),
            GOOD.replace("e1", "e2")
                .replace(r#""list":"debtor""#, r#""list":"abnormal""#)
                .replace("}", r#","valid_until":"2027-01-01T08:30:00+08:00","dispute":"under_review"}"#),
            GOOD.replace("e1", "e3")
                .replace("91230200MA1B2C3D8T", "91230202MA18XK7PXM")
                .replace(
                    "}",
                    r#","subject_name":"某某 \"公司\"","responsible_persons":[{"role":"principal","id":"230202198503121238","name":"张某"}]}"#,
                ),
        ];
        let path = dir.path().join("lists.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let from_file = load_file(&path, &rules).unwrap();
        let mut bytes = Vec::new();
        from_file
            .write_snapshot(&mut bytes, &rules.revision)
            .unwrap();
        let snapshot = dir.path().join("lists.snap");
        std::fs::write(&snapshot, &bytes).unwrap();

        let records = |index: &ListIndex| {
            let mut records: Vec<String> = index
                .iter()
                .map(|e| serde_json::to_string(&e.record(&rules).unwrap()).unwrap())
                .collect();
            records.sort();
            records
        };
        let from_snapshot = load_file(&snapshot, &rules).unwrap();
        assert_eq!(records(&from_snapshot), records(&from_file));
        assert_eq!(
            (from_snapshot.len(), from_snapshot.subjects()),
            (from_file.len(), from_file.subjects())
        );
        let person = crate::ident::parse("230202198503121238").unwrap().key();
        let named: Vec<_> = from_snapshot
            .naming(person)
            .map(|(e, role)| (e.entry_id().unwrap().into_owned(), role))
            .collect();
        assert_eq!(
            named,
            vec![("e3".to_owned(), crate::ruleset::Role::Principal)]
        );

        let mut other = bytes.clone();
        let at = 16; // the revision's first byte, after the magic and its length
        other[at] ^= 1;
        std::fs::write(&snapshot, &other).unwrap();
        let err = load_file(&snapshot, &rules).unwrap_err().to_string();
        assert!(err.contains("made for rule set revision"), "{err}");

        // A flipped bit in the text passes every structural check but the checksum.
        let mut flipped = bytes.clone();
        let in_text = bytes.len() - 20;
        flipped[in_text] ^= 1;
        std::fs::write(&snapshot, &flipped).unwrap();
        let err = load_file(&snapshot, &rules).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");

        for cut in [20, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&snapshot, &bytes[..cut]).unwrap();
            let err = load_file(&snapshot, &rules).unwrap_err();
            assert!(
                matches!(err, ListFileError::Snapshot { .. }),
                "cut at {cut}: {err}"
            );
        }
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
        let index =
            ListIndex::build(&parse_entries(text.as_bytes(), &rules).unwrap(), &rules).unwrap();
        let company = crate::ident::parse("91230200MA1B2C3D8T").unwrap().key();
        let person = crate::ident::parse("230202198503121238").unwrap().key();
        assert_eq!(index.entries_of(company).len(), 2);
        assert_eq!(
            index
                .naming(person)
                .map(|(e, role)| (e.entry_id().unwrap().into_owned(), role))
                .collect::<Vec<_>>(),
            vec![("e3".to_owned(), crate::ruleset::Role::Principal)]
        );
        assert!(index.knows(person) && index.knows(company));
        assert_eq!((index.len(), index.subjects()), (3, 2));
        assert_eq!(index.count(rules.list_id("debtor").unwrap()), 2);
    }
}
