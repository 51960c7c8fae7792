//! The fail-closed guard on list loads. An empty list file, a file cut at a line boundary or a
//! Redis that lost its data holds no bad line, yet loading it would allow every subject it used
//! to block. So a load that would leave no entries at all, or remove more than a share of them
//! (overall, or of one list), is refused unless an operator forces it.

use std::fmt;

use rustc_hash::FxHashMap;

/// How far a load may shrink the lists before it is refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShrinkGuard {
    /// The share of the entries (0 to 1) a load may remove, overall and from each list held to
    /// it on its own.
    pub max_shrink: f64,
    /// A list is held to `max_shrink` on its own once it has this many entries: below that a
    /// share says little. A list of any size may not be emptied.
    pub min_list_entries: u64,
}

impl ShrinkGuard {
    pub const DEFAULT_MAX_SHRINK: f64 = 0.5;
    pub const DEFAULT_MIN_LIST_ENTRIES: u64 = 100;

    /// Passes a load that shrinks the lists as `shrink` says, or refuses it, naming `load` (what
    /// was loaded from where) and every reason.
    pub fn check(&self, load: &str, shrink: &Shrink) -> Result<(), Refusal> {
        let share = |removed: u64, of: u64| removed as f64 / of as f64;
        let mut reasons = Vec::new();
        if shrink.after == 0 {
            reasons.push(match shrink.before {
                0 => "it would leave no entries at all".to_owned(),
                before => format!("it would leave no entries at all (there are {before} now)"),
            });
        } else {
            if shrink.before > 0 && share(shrink.removed(), shrink.before) > self.max_shrink {
                reasons.push(format!(
                    "it would remove {} of {} entries ({}; at most {} may go)",
                    shrink.removed(),
                    shrink.before,
                    Percent(share(shrink.removed(), shrink.before)),
                    Percent(self.max_shrink)
                ));
            }
            for list in &shrink.lists {
                let removed = list.before - list.after;
                if list.after == 0 {
                    reasons.push(format!(
                        "list `{}` would be emptied (it has {} entries)",
                        list.list, list.before
                    ));
                } else if list.before >= self.min_list_entries
                    && share(removed, list.before) > self.max_shrink
                {
                    reasons.push(format!(
                        "list `{}` would lose {removed} of its {} entries ({})",
                        list.list,
                        list.before,
                        Percent(share(removed, list.before))
                    ));
                }
            }
        }
        if reasons.is_empty() {
            return Ok(());
        }
        Err(Refusal {
            load: load.to_owned(),
            reasons,
        })
    }
}

impl Default for ShrinkGuard {
    fn default() -> ShrinkGuard {
        ShrinkGuard {
            max_shrink: ShrinkGuard::DEFAULT_MAX_SHRINK,
            min_list_entries: ShrinkGuard::DEFAULT_MIN_LIST_ENTRIES,
        }
    }
}

/// Entries before and after a load: in all, and of each list that loses some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shrink {
    pub before: u64,
    pub after: u64,
    /// Every list that loses entries, in the order of the counts before.
    pub lists: Vec<ListShrink>,
}

/// One list that loses entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListShrink {
    pub list: String,
    pub before: u64,
    pub after: u64,
}

impl Shrink {
    /// Compares entries per list code before and after a load; a list missing after it (taken
    /// out of the rule set) has none left.
    pub fn between<'a>(
        before: impl IntoIterator<Item = (&'a str, u64)>,
        after: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Shrink {
        let after: FxHashMap<&str, u64> = after.into_iter().collect();
        let mut shrink = Shrink {
            after: after.values().sum(),
            ..Shrink::default()
        };
        for (list, count) in before {
            shrink.before += count;
            let left = after.get(list).copied().unwrap_or(0);
            if left < count {
                shrink.lists.push(ListShrink {
                    list: list.to_owned(),
                    before: count,
                    after: left,
                });
            }
        }
        shrink
    }

    /// Entries removed in all (net of those added).
    pub fn removed(&self) -> u64 {
        self.before.saturating_sub(self.after)
    }
}

/// Lists named at most in a message; the rest are counted.
const LISTS_NAMED: usize = 10;

impl fmt::Display for Shrink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries before, {} after", self.before, self.after)?;
        for list in self.lists.iter().take(LISTS_NAMED) {
            write!(f, "; list `{}` {} → {}", list.list, list.before, list.after)?;
        }
        if self.lists.len() > LISTS_NAMED {
            write!(
                f,
                "; and {} more lists lose entries",
                self.lists.len() - LISTS_NAMED
            )?;
        }
        Ok(())
    }
}

/// A load the guard refused: what was loaded from where, and every reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{load} refused (fail-closed): {}; a forced load would take it", reasons_text(.reasons))]
pub struct Refusal {
    pub load: String,
    pub reasons: Vec<String>,
}

/// The reasons, one after the other, with the lists past [`LISTS_NAMED`] counted.
fn reasons_text(reasons: &[String]) -> String {
    let mut text = reasons
        .iter()
        .take(LISTS_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if reasons.len() > LISTS_NAMED {
        text += &format!("; and {} more", reasons.len() - LISTS_NAMED);
    }
    text
}

/// A share as a percentage to a tenth (so that just over the share never reads as equal to it).
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", (self.0 * 1000.0).round() / 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(guard: &ShrinkGuard, before: &[(&str, u64)], after: &[(&str, u64)]) -> Vec<String> {
        let shrink = Shrink::between(before.iter().copied(), after.iter().copied());
        guard
            .check("the test load", &shrink)
            .err()
            .map(|refusal| refusal.reasons)
            .unwrap_or_default()
    }

    #[test]
    fn nothing_left_is_refused_even_at_the_first_load() {
        let guard = ShrinkGuard::default();
        assert_eq!(
            refused(&guard, &[], &[("a", 0)]),
            ["it would leave no entries at all"]
        );
        assert_eq!(
            refused(&guard, &[("a", 3), ("b", 1)], &[("a", 0), ("b", 0)]),
            ["it would leave no entries at all (there are 4 now)"]
        );
        assert!(refused(&guard, &[], &[("a", 1)]).is_empty());
    }

    #[test]
    fn more_than_the_share_removed_overall_is_refused_and_the_share_itself_passes() {
        let guard = ShrinkGuard::default();
        assert_eq!(
            refused(&guard, &[("a", 50), ("b", 50)], &[("a", 50), ("b", 0)]),
            ["list `b` would be emptied (it has 50 entries)"]
        );
        assert!(refused(&guard, &[("a", 60), ("b", 40)], &[("a", 30), ("b", 20)]).is_empty());
        let reasons = refused(&guard, &[("a", 60), ("b", 40)], &[("a", 29), ("b", 20)]);
        assert_eq!(
            reasons,
            ["it would remove 51 of 100 entries (51%; at most 50% may go)"]
        );
    }

    #[test]
    fn one_list_emptied_or_cut_past_the_share_is_refused_among_many() {
        let guard = ShrinkGuard {
            max_shrink: 0.5,
            min_list_entries: 100,
        };
        let before = [("big", 1000), ("large", 200), ("small", 3)];
        // `small` emptied, whatever its size.
        assert_eq!(
            refused(&guard, &before, &[("big", 1000), ("large", 200)]),
            ["list `small` would be emptied (it has 3 entries)"]
        );
        assert_eq!(
            refused(
                &guard,
                &before,
                &[("big", 1000), ("large", 99), ("small", 1)]
            ),
            ["list `large` would lose 101 of its 200 entries (50.5%)"]
        );
        // Below the per-list threshold only emptying counts; growth elsewhere does not hide a cut.
        assert!(refused(
            &guard,
            &[("big", 1000), ("tiny", 99)],
            &[("big", 1000), ("tiny", 1)]
        )
        .is_empty());
        assert_eq!(
            refused(
                &guard,
                &[("big", 1000), ("large", 200)],
                &[("big", 5000), ("large", 10)]
            )
            .len(),
            1
        );
    }

    #[test]
    fn a_refusal_names_the_load_and_each_reason() {
        let shrink = Shrink::between([("a", 351)], [("a", 10)]);
        let refusal = ShrinkGuard::default()
            .check("the list load from lists.jsonl", &shrink)
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "the list load from lists.jsonl refused (fail-closed): it would remove 341 of 351 \
             entries (97.2%; at most 50% may go); list `a` would lose 341 of its 351 entries \
             (97.2%); a forced load would take it"
        );
        assert_eq!(
            shrink.to_string(),
            "351 entries before, 10 after; list `a` 351 → 10"
        );
    }
}
