//! Parsing each rule-set file into its serde mirror.

use serde::de::DeserializeOwned;

use super::{Problems, Source};

pub(super) fn parse<T: DeserializeOwned>(source: &Source, problems: &mut Problems) -> Option<T> {
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
