//! The personal credit score scale, and the score levels topics name.

use std::ops::Range;

use toml::Spanned;

use super::Checker;
use crate::ruleset::syntax::{ListsFile, RuleSetFile, ScoreScaleSyntax};
use crate::ruleset::{ScoreLevel, ScoreLevelDef, ScoreScale, SCORE_LIMIT};

/// Most levels a score scale may have (cities use three to six).
const MAX_SCORE_LEVELS: usize = 32;

impl Checker<'_> {
    /// The personal credit score scale: required as soon as a list is scored; a range with its
    /// base inside, and levels listed lowest first, the lowest at the range's floor (every score
    /// has a level), thresholds strictly rising inside the range, names unique.
    pub(super) fn check_score_scale(
        &mut self,
        ruleset: &RuleSetFile,
        lists: &ListsFile,
    ) -> Option<ScoreScale> {
        let Some(scale) = &ruleset.score_scale else {
            for list in lists.list.iter().filter(|l| l.scored) {
                self.problems.at(
                    self.files.lists,
                    list.code.span(),
                    format!(
                        "list `{}` is scored but ruleset.toml declares no [score_scale]",
                        list.code.get_ref()
                    ),
                );
            }
            return None;
        };
        let (min, max, base) = self.check_scale_range(scale);
        let levels = self.check_score_levels(scale, min, max);
        Some(ScoreScale {
            min,
            max,
            base,
            levels,
            assumed: scale.assumed,
            note: scale.note.trim().to_owned(),
        })
    }

    /// A range with its base inside and at most SCORE_LIMIT; returns (min, max, base).
    fn check_scale_range(&mut self, scale: &ScoreScaleSyntax) -> (u16, u16, u16) {
        let src = self.files.ruleset;
        let (min, max, base) = (
            *scale.min.get_ref(),
            *scale.max.get_ref(),
            *scale.base.get_ref(),
        );
        if max <= min {
            self.problems.at(
                src,
                scale.max.span(),
                format!("score_scale: max {max} must be above min {min}"),
            );
        }
        if max > SCORE_LIMIT {
            self.problems.at(
                src,
                scale.max.span(),
                format!("score_scale: max {max} is above {SCORE_LIMIT}, the highest score held"),
            );
        }
        if !(min..=max).contains(&base) {
            self.problems.at(
                src,
                scale.base.span(),
                format!("score_scale: base {base} is outside the scale {min}–{max}"),
            );
        }
        (min, max, base)
    }

    /// Levels listed lowest first from the scale's min, strictly rising inside it, names unique.
    fn check_score_levels(
        &mut self,
        scale: &ScoreScaleSyntax,
        min: u16,
        max: u16,
    ) -> Vec<ScoreLevelDef> {
        let src = self.files.ruleset;
        let written = scale.levels.get_ref();
        if written.is_empty() || written.len() > MAX_SCORE_LEVELS {
            self.problems.at(
                src,
                scale.levels.span(),
                format!(
                    "score_scale: {} levels; a scale has 1 to {MAX_SCORE_LEVELS}",
                    written.len()
                ),
            );
        }
        let mut levels: Vec<ScoreLevelDef> = Vec::with_capacity(written.len());
        for level in written {
            let level = level.get_ref();
            let name = level.name.get_ref().trim();
            let from = *level.min.get_ref();
            let mut complain = |span: Range<usize>, message: String| {
                self.problems
                    .at(src, span, format!("score_scale: {message}"))
            };
            if name.is_empty() {
                complain(level.name.span(), "a level has an empty name".into());
            } else if levels.iter().any(|l| l.name == name) {
                complain(level.name.span(), format!("level `{name}` is named twice"));
            }
            if !(min..=max).contains(&from) {
                complain(
                    level.min.span(),
                    format!("level `{name}` starts at {from}, outside the scale {min}–{max}"),
                );
            }
            match levels.last() {
                None if from != min => complain(
                    level.min.span(),
                    format!("the lowest level `{name}` starts at {from}, not at the scale's min {min}: every score needs a level"),
                ),
                Some(below) if from <= below.min => complain(
                    level.min.span(),
                    format!("level `{name}` starts at {from}, not above `{}` at {}: levels are listed lowest first with strictly rising thresholds", below.name, below.min),
                ),
                _ => {}
            }
            levels.push(ScoreLevelDef {
                name: name.to_owned(),
                min: from,
            });
        }
        levels
    }

    /// The level a topic names, reported when the scale has no such level.
    pub(super) fn score_level(
        &mut self,
        scale: Option<&ScoreScale>,
        topic: &str,
        name: &Spanned<String>,
    ) -> Option<ScoreLevel> {
        // Without a scale, the scored list is reported for it.
        let scale = scale?;
        let level = scale.level(name.get_ref());
        if level.is_none() {
            let known: Vec<&str> = scale.levels.iter().map(|l| l.name.as_str()).collect();
            self.problems.at(
                self.files.topics,
                name.span(),
                format!(
                    "topic `{topic}` names score level `{}`, which the score scale does not have (its levels: {})",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        level
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::compile::tests::problems;
    use crate::ruleset::testing::compile_with;
    use crate::ruleset::{RuleSet, RuleSetError};

    /// The small rule set with its score scale's lines replaced by `scale` (dotted keys).
    fn with_scale(scale: &str) -> Result<RuleSet, RuleSetError> {
        compile_with(|f| f[0] = format!("name = \"mini\"\n{scale}"))
    }

    #[test]
    fn a_scored_list_needs_a_score_scale() {
        let found = problems(with_scale(""));
        assert_eq!(
            found,
            vec![
                "lists.toml:18: list `score` is scored but ruleset.toml declares no [score_scale]"
            ]
        );
    }

    #[test]
    fn score_levels_rise_strictly_inside_the_scale_from_its_floor_under_unique_names() {
        let found = problems(with_scale(
            "score_scale.min = 0\nscore_scale.max = 200\nscore_scale.base = 250\nscore_scale.levels = [\n  { name = \"C\", min = 10 },\n  { name = \"B\", min = 80 },\n  { name = \"A\", min = 80 },\n  { name = \"B\", min = 120 },\n  { name = \"AA\", min = 260 },\n]\n",
        ));
        assert_eq!(
            found,
            vec![
                "ruleset.toml:4: score_scale: base 250 is outside the scale 0–200",
                "ruleset.toml:6: score_scale: the lowest level `C` starts at 10, not at the scale's min 0: every score needs a level",
                "ruleset.toml:8: score_scale: level `A` starts at 80, not above `B` at 80: levels are listed lowest first with strictly rising thresholds",
                "ruleset.toml:9: score_scale: level `B` is named twice",
                "ruleset.toml:10: score_scale: level `AA` starts at 260, outside the scale 0–200",
            ],
            "{found:#?}"
        );
        let empty = problems(with_scale(
            "score_scale.min = 100\nscore_scale.max = 100\nscore_scale.base = 100\nscore_scale.levels = []\n",
        ));
        assert_eq!(
            empty,
            vec![
                "ruleset.toml:3: score_scale: max 100 must be above min 100",
                "ruleset.toml:5: score_scale: 0 levels; a scale has 1 to 32",
                "topics.toml:26: topic `score` names score level `AA`, which the score scale does not have (its levels: )",
            ],
            "{empty:#?}"
        );
    }

    #[test]
    fn a_1000_point_scale_written_as_a_table_with_its_own_level_names_loads() {
        let rules = compile_with(|f| {
            // Written as a table this time (the mini rule set uses dotted keys).
            f[0] = "name = \"wuxi_style\"\n[score_scale]\nmin = 0\nmax = 1000\nbase = 600\nlevels = [\n  { name = \"较差\", min = 0 },\n  { name = \"一般\", min = 550 },\n  { name = \"良好\", min = 650 },\n  { name = \"优秀\", min = 750 },\n  { name = \"极好\", min = 900 },\n]\n".into();
            f[4] = f[4].replace("min_score_level = \"AA\"", "min_score_level = \"良好\"");
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let scale = rules.score_scale.as_ref().unwrap();
        assert_eq!((scale.min, scale.max, scale.base), (0, 1000, 600));
        assert!(!scale.assumed);
        for (score, level) in [
            (0, "较差"),
            (549, "较差"),
            (650, "良好"),
            (899, "优秀"),
            (1000, "极好"),
        ] {
            assert_eq!(rules.score_level_name(score), Some(level), "{score}");
        }
        assert!(scale.contains(1000) && !scale.contains(1001));
    }
}
