//! The rule-set files as written: a serde mirror of `rulesets/README.md`, with the source span of
//! every value a problem may point at. Nothing here is checked beyond its TOML type.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Category, DisputePolicy, Effect, ListKind, RewardSuppression, Role, SubjectScope, TopicKind,
};

/// `ruleset.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub dispute_policy: DisputePolicy,
    #[serde(default)]
    pub reward_suppression: RewardSuppression,
    /// Working days (Monday–Friday) an objection may stay `under_review` before it is overdue.
    #[serde(default = "default_dispute_review_days")]
    pub dispute_review_days: u16,
    /// Months a recorded breach of a credit commitment (违诺) keeps 告知承诺 and 容缺受理 from
    /// being offered to its subject.
    #[serde(default = "default_commitment_breach_months")]
    pub commitment_breach_months: u16,
    /// Required as soon as a list is scored.
    #[serde(default)]
    pub score_scale: Option<ScoreScaleSyntax>,
}

/// `score_scale` in `ruleset.toml` (a table, or dotted keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreScaleSyntax {
    pub min: Spanned<u16>,
    pub max: Spanned<u16>,
    pub base: Spanned<u16>,
    pub levels: Spanned<Vec<Spanned<ScoreLevelSyntax>>>,
    #[serde(default)]
    pub assumed: bool,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreLevelSyntax {
    pub name: Spanned<String>,
    pub min: Spanned<u16>,
}

/// The Hegang indicator's answer time for an objection (5 working days).
fn default_dispute_review_days() -> u16 {
    5
}

/// A year: how long the national guidance (国办发〔2019〕35号) keeps a breach of a
/// commitment in the subject's credit record before a commitment is accepted again.
fn default_commitment_breach_months() -> u16 {
    12
}

/// Entries leave most lists by credit repair (信用修复) as well as by removal.
fn repairable_by_default() -> bool {
    true
}

/// `lists.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListsFile {
    #[serde(default)]
    pub list: Vec<ListSyntax>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSyntax {
    pub code: Spanned<String>,
    pub name: String,
    pub kind: ListKind,
    #[serde(default)]
    pub serious: bool,
    pub body: String,
    pub subjects: SubjectScope,
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub scored: bool,
    #[serde(default)]
    pub cold: bool,
    /// Court lists are not: their entries are deleted or shielded by the court.
    #[serde(default = "repairable_by_default")]
    pub repairable: bool,
    #[serde(default)]
    pub requires_valid_until: bool,
    #[serde(default)]
    pub order_matters: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `matters.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MattersFile {
    #[serde(default)]
    pub matter: Vec<MatterSyntax>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatterSyntax {
    pub code: Spanned<String>,
    pub name: String,
    pub department: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub basic_public_service: bool,
    #[serde(default)]
    pub platform_codes: Vec<Spanned<String>>,
    /// Whether the matter may be handled by 告知承诺 or 容缺受理 on the subject's credit
    /// commitment (信用承诺).
    #[serde(default)]
    pub commitment: bool,
}

/// `measures.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuresFile {
    #[serde(default)]
    pub measure: Vec<MeasureSyntax>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureSyntax {
    pub code: Spanned<String>,
    pub name: String,
    pub category: Spanned<Category>,
    pub effect: Spanned<Effect>,
    pub legal_basis: Spanned<String>,
    #[serde(default)]
    pub judicial: bool,
    pub department: String,
    pub text: String,
    pub matters: Spanned<Vec<Spanned<String>>>,
}

/// `topics.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsFile {
    #[serde(default)]
    pub topic: Vec<TopicSyntax>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSyntax {
    pub code: Spanned<String>,
    pub name: String,
    pub kind: TopicKind,
    pub lists: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub memorandum: String,
    pub measures: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub min_score_level: Option<Spanned<String>>,
    /// Measure code → the lowest level it applies at, for measures tiered apart from the rest.
    #[serde(default)]
    pub score_tiers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    #[serde(default)]
    pub responsible_persons: Option<ResponsiblePersonsSyntax>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsiblePersonsSyntax {
    pub roles: Spanned<Vec<Role>>,
    pub measures: Vec<Spanned<String>>,
}
