use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a rule set, located at a line of one of its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the file as a whole (e.g. it cannot be read).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Why a rule set was refused: every problem found, in file and line order.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in the rule set:\n{}", .0.len(), render(.0))]
pub struct RuleSetError(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
