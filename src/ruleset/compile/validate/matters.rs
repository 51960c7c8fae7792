//! Matters: the platform codes a request may name them by.

use std::collections::HashMap;

use super::codes::MAX_CODE_LEN;
use super::Checker;
use crate::ruleset::syntax::MattersFile;

impl Checker<'_> {
    /// Platform codes are well formed and name one matter only; being upper-case or digits first,
    /// they never collide with a snake_case matter code.
    pub(super) fn check_platform_codes(&mut self, matters: &MattersFile) {
        let src = self.files.matters;
        let mut first: HashMap<&str, &str> = HashMap::new();
        for m in &matters.matter {
            for code in &m.platform_codes {
                let text = code.get_ref().as_str();
                let mut chars = text.chars();
                let well_formed = chars
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
                    && text.len() <= MAX_CODE_LEN;
                if !well_formed {
                    self.problems.at(
                        src,
                        code.span(),
                        format!("platform code `{text}` of matter `{}` is not upper-case letters, digits and `-` beginning with a letter or digit (at most {MAX_CODE_LEN} characters)", m.code.get_ref()),
                    );
                } else if let Some(other) = first.insert(text, m.code.get_ref()) {
                    let whom = if other == m.code.get_ref() {
                        format!("twice to matter `{other}`")
                    } else {
                        format!("to matter `{other}` and to matter `{}`", m.code.get_ref())
                    };
                    self.problems.at(
                        src,
                        code.span(),
                        format!("platform code `{text}` is given {whom}: a request naming it must reach one matter"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::problems;
    use crate::ruleset::testing::compile_with;

    #[test]
    fn a_platform_code_is_well_formed_and_reaches_one_matter() {
        let found = problems(compile_with(|f| {
            f[2] = f[2]
                .replace(
                    "department = \"财政局\"\n",
                    "department = \"财政局\"\nplatform_codes = [\"A-1\", \"zfcg\", \"A-1\"]\n",
                )
                .replace(
                    "basic_public_service = true\n",
                    "basic_public_service = true\nplatform_codes = [\"A-1\", \"-B\"]\n",
                )
        }));
        assert_eq!(found, vec![
            "matters.toml:6: platform code `zfcg` of matter `procurement` is not upper-case letters, digits and `-` beginning with a letter or digit (at most 64 characters)",
            "matters.toml:6: platform code `A-1` is given twice to matter `procurement`: a request naming it must reach one matter",
            "matters.toml:13: platform code `A-1` is given to matter `procurement` and to matter `basic`: a request naming it must reach one matter",
            "matters.toml:13: platform code `-B` of matter `basic` is not upper-case letters, digits and `-` beginning with a letter or digit (at most 64 characters)",
        ]);
    }
}
