//! What the engine benchmark and the instruction count of a decision share: the matters, the
//! instant, and the entries filed under older identifiers.

/// The matter of the subject benchmarks (the README's first example).
pub const MATTER: &str = "gov_procurement";
/// A matter in which measures reach the legal representatives named on listed organisations'
/// entries.
pub const PERSON_MATTER: &str = "legal_rep_appointment";
/// The instant of every decision, fixed so that results do not depend on the day of the run.
pub const AT: &str = "2026-11-22T10:00:00+08:00";
/// Court records filed under an organisation code or carrying one, as a city's lists hold:
/// every USCC decision then looks up the code it embeds.
pub const OLDER_IDENTIFIERS: &str = concat!(
    r#"{"entry_id":"BENCH-ORG","list":"court_dishonest_debtor","subject_id":"MA000000-7","listed_on":"2026-01-01"}"#,
    "\n",
    r#"{"entry_id":"BENCH-REG","list":"court_dishonest_debtor","subject_id":"230200000000127","legacy_ids":["MA000001-5"],"listed_on":"2026-01-01"}"#,
    "\n",
);
