//! `jiangcheng import`: a JSON Lines file written into a list source, validated whole and held
//! to the fail-closed guard a list load has before anything is written.

use std::path::{Path, PathBuf};

use super::{ImportStats, Source, SourceError};
use crate::lists::{read_file, Entry, ListFileError, Refusal, Shrink, ShrinkGuard};
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// Why an import wrote nothing (or, for [`ImportError::Source`], may have stopped part way:
/// what was written is acknowledged entry by entry, and importing again completes it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line of the file is invalid: the whole file is refused.
    #[error(transparent)]
    File(#[from] ListFileError),
    #[error("unknown list `{0}`")]
    UnknownList(String),
    #[error("entry `{entry_id}` is on list `{list}`, not `{replacing}`: a replacement file holds one list")]
    OtherList {
        entry_id: String,
        list: String,
        replacing: String,
    },
    /// The write would empty a list, or remove more than the guard allows.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// A file's entries, every line valid against the rules and, for the replacement of a list,
/// every entry on that list; nothing written yet.
pub struct Import {
    file: PathBuf,
    entries: Vec<Entry>,
    replacing: Option<String>,
}

/// An import the guard let through (or was forced past) for one target.
pub struct GuardedImport<'a> {
    import: Import,
    target: &'a Source,
    /// What the write removes from each list, as read before it.
    pub shrink: Shrink,
}

impl Import {
    /// Reads and validates `file`: to be written as it is, or, with `replacing`, as the whole
    /// content of that list.
    pub fn read(
        file: &Path,
        rules: &RuleSet,
        replacing: Option<&str>,
    ) -> Result<Import, ImportError> {
        let entries = read_file(file, rules)?;
        if let Some(list) = replacing {
            if rules.list_id(list).is_none() {
                return Err(ImportError::UnknownList(list.to_owned()));
            }
            if let Some(other) = entries
                .iter()
                .find(|e| rules.list(e.facts.list).code != list)
            {
                return Err(ImportError::OtherList {
                    entry_id: other.entry_id.to_string(),
                    list: rules.list(other.facts.list).code.clone(),
                    replacing: list.to_owned(),
                });
            }
        }
        Ok(Import {
            file: file.to_path_buf(),
            entries,
            replacing: replacing.map(str::to_owned),
        })
    }

    /// How many entries the file holds.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    /// Reads from `target` what the write would remove, and refuses it as `guard` says (`None`:
    /// forced past the guard, whose findings the caller may still report).
    pub fn guard<'a>(
        self,
        target: &'a Source,
        rules: &RuleSet,
        guard: Option<&ShrinkGuard>,
    ) -> Result<GuardedImport<'a>, ImportError> {
        let shrink = target.shrink_of_write(&self.entries, rules, self.replacing.as_deref())?;
        if let Some(guard) = guard {
            let load = format!(
                "the import of {} into {}",
                self.file.display(),
                target.location()
            );
            guard.check(&load, &shrink)?;
        }
        Ok(GuardedImport {
            import: self,
            target,
            shrink,
        })
    }
}

impl GuardedImport<'_> {
    /// The list this import replaces whole, if it does.
    pub fn replacing(&self) -> Option<&str> {
        self.import.replacing.as_deref()
    }

    /// Writes the entries: pipelined in batches, `progress` told how many were sent; or, for
    /// a replacement, in one transaction whose tombstones name this import.
    pub fn write(
        &self,
        rules: &RuleSet,
        progress: &dyn Fn(u64),
    ) -> Result<ImportStats, SourceError> {
        let Import {
            file,
            entries,
            replacing,
        } = &self.import;
        match replacing {
            Some(list) => {
                let by = format!("import --replace-list {list} {}", file.display());
                let at = Timestamp::now().to_string();
                self.target.replace_list(list, entries, rules, &by, &at)
            }
            None => self.target.import(entries, rules, progress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of one entry of the demo lists, on `tax_a_grade`.
    fn one_entry() -> (RuleSet, tempfile::NamedTempFile) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rules = crate::ruleset::load_dir(&root.join("rulesets/qiqihar")).unwrap();
        let demo = std::fs::read_to_string(root.join("rulesets/qiqihar/demo-lists.jsonl")).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), demo.lines().next().unwrap()).unwrap();
        (rules, file)
    }

    #[test]
    fn a_replacement_of_an_unknown_list_or_with_another_lists_entry_is_refused_before_writing() {
        let (rules, file) = one_entry();
        let read = |list| Import::read(file.path(), &rules, Some(list));
        assert!(
            matches!(read("no_such_list"), Err(ImportError::UnknownList(list)) if list == "no_such_list")
        );
        match read("court_dishonest_debtor") {
            Err(err @ ImportError::OtherList { .. }) => assert_eq!(
                err.to_string(),
                "entry `QQHR-SW-2025-A0023` is on list `tax_a_grade`, not `court_dishonest_debtor`: a replacement file holds one list"
            ),
            other => panic!("not refused: {:?}", other.err()),
        }
        assert_eq!(read("tax_a_grade").unwrap().entries(), 1);
    }
}
