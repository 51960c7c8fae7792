//! Reading the five rule-set files and parsing each into its serde mirror; nothing is checked
//! here beyond what TOML and the mirror's types refuse.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{Files, Problems, Source};
use crate::ruleset::syntax::{ListsFile, MattersFile, MeasuresFile, RuleSetFile, TopicsFile};
use crate::ruleset::{RuleSetError, EMBEDDED, FILES};

/// The files of a rule-set folder, one per name of FILES in that order, and their revision.
pub(super) struct Read {
    pub(super) sources: Vec<Source>,
    pub(super) revision: String,
}

/// Reads every file, naming each one that cannot be read.
pub(super) fn read_dir(dir: &Path) -> Result<Read, RuleSetError> {
    read_texts(FILES.map(|name| {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path);
        (name, path, text)
    }))
}

/// The files built into the binary, named under `embedded/`.
pub(super) fn read_embedded() -> Result<Read, RuleSetError> {
    read_texts(
        EMBEDDED.map(|(name, text)| (name, Path::new("embedded").join(name), Ok(text.to_owned()))),
    )
}

/// Keeps each file's text, or names each one that could not be read. The revision hashes each
/// file's name, length and text, so any edit changes it, and the embedded files have the
/// revision of the folder they were built from.
fn read_texts(
    files: [(&str, PathBuf, std::io::Result<String>); FILES.len()],
) -> Result<Read, RuleSetError> {
    let mut problems = Problems::default();
    let mut hasher = Sha256::new();
    let mut sources = Vec::with_capacity(FILES.len());
    for (name, path, text) in files {
        match text {
            Ok(text) => {
                hasher.update(name.as_bytes());
                hasher.update((text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
                sources.push(Source { path, text });
            }
            Err(err) => problems.whole_file(&path, format!("cannot read the file: {err}")),
        }
    }
    if !problems.0.is_empty() {
        return Err(RuleSetError(problems.0));
    }
    let revision: String = hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Read { sources, revision })
}

/// The five files as written.
pub(super) struct Parsed {
    pub(super) ruleset: RuleSetFile,
    pub(super) lists: ListsFile,
    pub(super) matters: MattersFile,
    pub(super) measures: MeasuresFile,
    pub(super) topics: TopicsFile,
}

/// Parses every file, reporting the first syntax error of each.
pub(super) fn parse_files(files: &Files) -> Result<Parsed, RuleSetError> {
    let mut problems = Problems::default();
    let ruleset = parse::<RuleSetFile>(files.ruleset, &mut problems);
    let lists = parse::<ListsFile>(files.lists, &mut problems);
    let matters = parse::<MattersFile>(files.matters, &mut problems);
    let measures = parse::<MeasuresFile>(files.measures, &mut problems);
    let topics = parse::<TopicsFile>(files.topics, &mut problems);
    // A file that does not parse would make every reference into it look unknown; stop here
    // rather than bury the syntax error under follow-on problems.
    let (Some(ruleset), Some(lists), Some(matters), Some(measures), Some(topics)) =
        (ruleset, lists, matters, measures, topics)
    else {
        return Err(RuleSetError(problems.0));
    };
    Ok(Parsed {
        ruleset,
        lists,
        matters,
        measures,
        topics,
    })
}

fn parse<T: DeserializeOwned>(source: &Source, problems: &mut Problems) -> Option<T> {
    match toml::from_str::<T>(&source.text) {
        Ok(value) => Some(value),
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            problems.at(source, span, err.message().trim().replace('\n', " "));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::compile_dir;
    use crate::ruleset::compile::tests::problems;
    use crate::ruleset::testing::compile_with;

    #[test]
    fn the_revision_follows_the_content() {
        let a = compile_with(|_| {}).unwrap();
        let b = compile_with(|_| {}).unwrap();
        let c = compile_with(|f| f[2].push_str("\n# a comment changes the revision\n")).unwrap();
        assert_eq!(a.revision, b.revision);
        assert_ne!(a.revision, c.revision);
        assert_eq!(a.revision.len(), 12);
    }

    #[test]
    fn a_syntax_error_or_unknown_key_stops_with_its_location() {
        let found = problems(compile_with(|f| {
            f[2] = f[2].replacen("department = \"财政局\"", "departmnet = \"财政局\"", 1)
        }));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("matters.toml:5: unknown field `departmnet`"),
            "{found:#?}"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = compile_dir(dir.path()).unwrap_err();
        assert_eq!(err.0.len(), 5);
        assert!(err
            .to_string()
            .contains("ruleset.toml: cannot read the file"));
    }
}
