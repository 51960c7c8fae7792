//! Rule sets: the 对象清单 (lists), 措施清单 (measures), 事项清单 (matters) and the topics (专题)
//! that join them, read from TOML files, validated as a whole and compiled into [`RuleSet`].
//!
//! The compiled form interns every code to a small integer and precomputes, for each
//! (matter, list) pair, the measures an in-force entry on that list leads to in that matter, so
//! the engine never walks topics at request time.

mod compile;
mod problem;
mod syntax;
#[cfg(test)]
pub(crate) mod testing;

use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use problem::{Problem, RuleSetError};

/// The files a rule-set folder must hold, in the order they are hashed into the revision.
pub const FILES: [&str; 5] = [
    "ruleset.toml",
    "lists.toml",
    "matters.toml",
    "measures.toml",
    "topics.toml",
];

/// The shipped rule set's files (`rulesets/qiqihar`), built into the binary in the order of
/// [`FILES`], so that the service runs from any directory without a `--rules`.
pub const EMBEDDED: [(&str, &str); 5] = [
    (
        FILES[0],
        include_str!("../../rulesets/qiqihar/ruleset.toml"),
    ),
    (FILES[1], include_str!("../../rulesets/qiqihar/lists.toml")),
    (
        FILES[2],
        include_str!("../../rulesets/qiqihar/matters.toml"),
    ),
    (
        FILES[3],
        include_str!("../../rulesets/qiqihar/measures.toml"),
    ),
    (FILES[4], include_str!("../../rulesets/qiqihar/topics.toml")),
];

/// Reads, validates and compiles the rule set in `dir`, reporting every problem at once.
pub fn load_dir(dir: &Path) -> Result<RuleSet, RuleSetError> {
    compile::compile_dir(dir)
}

/// Where a rule set comes from: a folder, or the shipped one built into the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    Embedded,
    Dir(PathBuf),
}

impl RuleSource {
    /// The folder given, else the embedded rule set.
    pub fn or_embedded(dir: Option<PathBuf>) -> RuleSource {
        dir.map_or(RuleSource::Embedded, RuleSource::Dir)
    }

    /// Reads, validates and compiles the rule set, reporting every problem at once.
    pub fn load(&self) -> Result<RuleSet, RuleSetError> {
        match self {
            RuleSource::Embedded => compile::compile_embedded(),
            RuleSource::Dir(dir) => load_dir(dir),
        }
    }
}

impl From<PathBuf> for RuleSource {
    fn from(dir: PathBuf) -> RuleSource {
        RuleSource::Dir(dir)
    }
}

/// The folder's path, or `embedded`, for logs and `/v1/status`.
impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Embedded => f.write_str("embedded"),
            RuleSource::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

// === vocabulary ===

/// What a measure does in a matter.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    // INVARIANT: declared from most to least severe; the derived `Ord` sorts reasons.
    Block,
    Flag,
    Inform,
    Reward,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Block => "block",
            Effect::Flag => "flag",
            Effect::Inform => "inform",
            Effect::Reward => "reward",
        }
    }

    /// The word a credit officer reads for the effect: a restricting effect shares its word
    /// with the decision it produces (拦截, 提示); an inform is 告知, a reward 激励.
    pub fn label(self) -> &'static str {
        match self {
            Effect::Block => "拦截",
            Effect::Flag => "提示",
            Effect::Inform => "告知",
            Effect::Reward => "激励",
        }
    }

    /// Whether the effect restricts the subject (the two effects that change a decision).
    pub fn restricts(self) -> bool {
        matches!(self, Effect::Block | Effect::Flag)
    }
}

/// Measure category of the national basic measure list (《全国失信惩戒措施基础清单》).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "i64", into = "u8")]
pub enum Category {
    /// Rights-reducing measures that directly cite a law, regulation or central document.
    RightsReducing,
    /// Management measures a public body takes as its duties require.
    Management,
    /// Measures taken autonomously by market and industry organisations.
    Market,
}

impl TryFrom<i64> for Category {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, String> {
        match value {
            1 => Ok(Category::RightsReducing),
            2 => Ok(Category::Management),
            3 => Ok(Category::Market),
            other => Err(format!("category must be 1, 2 or 3, not {other}")),
        }
    }
}

impl From<Category> for u8 {
    fn from(category: Category) -> u8 {
        match category {
            Category::RightsReducing => 1,
            Category::Management => 2,
            Category::Market => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Red,
    Black,
    Watch,
    Grey,
    /// A binding court enforcement order (such as a 限制消费令): it obliges the 协助执行单位 to
    /// refuse in the matters the order names, so it may block there though it is not a
    /// 严重失信主体名单.
    CourtOrder,
}

/// Which identifiers a list may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectScope {
    Organizations,
    Persons,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopicKind {
    Incentive,
    Penalty,
}

/// How entries under dispute (`dispute = under_review`) are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputePolicy {
    /// They count as usual (the reason carries a warning).
    #[default]
    Count,
    /// Their `block` becomes `flag`.
    Downgrade,
}

/// Which in-force entries take every `reward` away from their subject, in every matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardSuppression {
    /// Entries on `serious` lists (the 2016 memoranda take black-listed subjects off red lists).
    #[default]
    Serious,
    /// Entries on any penalty list: serious, watch, grey and court-order lists alike.
    AnyPenalty,
}

/// The role of a person named in an entry (法定代表人, 主要负责人, 实际控制人, 直接责任人).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    LegalRep,
    Principal,
    ActualController,
    DirectlyResponsible,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::LegalRep,
        Role::Principal,
        Role::ActualController,
        Role::DirectlyResponsible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::LegalRep => "legal_rep",
            Role::Principal => "principal",
            Role::ActualController => "actual_controller",
            Role::DirectlyResponsible => "directly_responsible",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of roles, as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoleSet(u8);

impl RoleSet {
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }
}

/// Highest score a scale may reach: scales run to 1,000 points in practice, and the entry's
/// in-memory facts keep a score in 16 bits beside a marker for "no score".
pub const SCORE_LIMIT: u16 = 10_000;

/// A personal credit score scale (个人信用积分): the range scores lie in, the base a person
/// starts from, and the levels it is cut into. Rule-set data, because every city sets its own
/// (Qiqihar base 500 with five levels, Yiwu 0–200, 1,000-point scales elsewhere).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoreScale {
    pub min: u16,
    pub max: u16,
    pub base: u16,
    /// Lowest first, thresholds strictly rising; the lowest starts at `min`.
    pub levels: Vec<ScoreLevelDef>,
    /// The thresholds are an assumption for the city to replace, not its published rule.
    pub assumed: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// One level of a score scale: its name and the lowest score it starts at.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoreLevelDef {
    pub name: String,
    pub min: u16,
}

/// A level of the rule set's score scale, by its position from the lowest (so levels compare
/// as the scale orders them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScoreLevel(u8);

impl ScoreScale {
    /// Whether `score` lies within the scale (a score outside it is a malformed entry).
    pub fn contains(&self, score: u16) -> bool {
        (self.min..=self.max).contains(&score)
    }

    /// The level `score` falls in: the highest whose threshold it reaches.
    pub fn level_of(&self, score: u16) -> ScoreLevel {
        let reached = self.levels.iter().take_while(|l| l.min <= score).count();
        ScoreLevel(reached.saturating_sub(1) as u8)
    }

    pub fn level_name(&self, level: ScoreLevel) -> &str {
        self.levels
            .get(usize::from(level.0))
            .map_or("", |l| l.name.as_str())
    }

    /// The level called `name`.
    pub fn level(&self, name: &str) -> Option<ScoreLevel> {
        let position = self.levels.iter().position(|l| l.name == name)?;
        Some(ScoreLevel(position as u8))
    }
}

// === interned identifiers ===

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u16);

        impl $name {
            pub fn index(self) -> usize {
                usize::from(self.0)
            }
        }
    };
}

id_type!(
    /// A list code interned to its position in `lists.toml`.
    ListId
);
id_type!(
    /// A topic code interned to its position in `topics.toml`.
    TopicId
);
id_type!(
    /// A measure code interned to its position in `measures.toml`.
    MeasureId
);
id_type!(
    /// A matter code interned to its position in `matters.toml`.
    MatterId
);

// === compiled definitions ===

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListDef {
    pub code: String,
    pub name: String,
    pub kind: ListKind,
    pub serious: bool,
    pub body: String,
    pub subjects: SubjectScope,
    pub period: Option<String>,
    pub scored: bool,
    /// Not held in memory: looked up in Redis on demand, through a cache (Redis source only).
    pub cold: bool,
    /// Whether an entry may be credit-repaired (信用修复). Court lists may not: the court deletes
    /// or shields their entries, which the platform records as a removal.
    pub repairable: bool,
    /// Whether every entry must carry `valid_until`: lists of bans whose period a decision sets
    /// (a bidding disqualification, a procurement ban), which must stop counting when it ends.
    pub requires_valid_until: bool,
    /// Codes of the topics this list triggers.
    pub topics: Vec<String>,
    /// For a `court_order` list: the matters its order binds, the only ones it may block in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub order_matters: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MatterDef {
    pub code: String,
    pub name: String,
    pub department: String,
    pub description: Option<String>,
    pub basic_public_service: bool,
    /// The provincial 政务服务事项编码 of the platform matters this matter covers: a request may
    /// name the matter by any of them instead of its code.
    pub platform_codes: Vec<String>,
    /// Whether the matter may be handled by 告知承诺 or 容缺受理 on a credit commitment: its
    /// decisions then say whether that may be offered to the subject.
    pub commitment: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeasureDef {
    pub code: String,
    pub name: String,
    #[schema(value_type = u8)]
    pub category: Category,
    pub effect: Effect,
    pub legal_basis: String,
    /// The legal basis is a judicial rule binding the 协助执行单位 (what lets a `court_order`
    /// list block).
    pub judicial: bool,
    /// The executing departments (实施部门), separated by `、`, `，`, `,`, `；`, `;` or `/`,
    /// each perhaps followed by a remark in brackets.
    pub department: String,
    pub text: String,
    pub matters: Vec<String>,
}

impl MeasureDef {
    /// Whether `department` is one of the measure's executing departments, named exactly as
    /// listed (a remark in brackets after the name aside): `市人力资源和社会保障局` executes a
    /// measure of `市人力资源和社会保障局（社会保险经办机构）、市财政局`.
    pub fn executed_by(&self, department: &str) -> bool {
        let department = department.trim();
        !department.is_empty()
            && self
                .department
                .split(['、', '，', ',', '；', ';', '/'])
                .any(|listed| {
                    let name = listed.split(['（', '(']).next().unwrap_or_default();
                    listed.trim() == department || name.trim() == department
                })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopicDef {
    pub code: String,
    pub name: String,
    pub kind: TopicKind,
    pub lists: Vec<String>,
    pub memorandum: String,
    pub measures: Vec<String>,
    /// On a scored list: the lowest level (by name) the topic's measures apply at.
    pub min_score_level: Option<String>,
    /// On a scored list: measures that start at a level of their own (measure code → level
    /// name), so rewards can be tiered; the others start at `min_score_level`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub score_tiers: BTreeMap<String, String>,
    pub responsible_person_roles: Vec<Role>,
    pub responsible_person_measures: Vec<String>,
}

/// One measure an in-force entry on a list leads to in a matter, through one topic.
#[derive(Debug, Clone, Copy)]
pub struct Application {
    pub topic: TopicId,
    pub measure: MeasureId,
    pub effect: Effect,
    /// Roles of named persons the measure extends to (empty: the listed subject only).
    pub person_roles: RoleSet,
    /// For scored lists: the lowest score level the measure applies at (its tier).
    pub min_score_level: Option<ScoreLevel>,
}

/// A validated, compiled rule set: immutable and shared by every request.
#[derive(Debug)]
pub struct RuleSet {
    pub name: String,
    pub title: String,
    /// Content hash of the rule-set files: changes whenever the rules do.
    pub revision: String,
    pub dispute_policy: DisputePolicy,
    /// Working days (Monday–Friday) an objection may stay `under_review` before it is overdue.
    pub dispute_review_days: u16,
    /// Months a recorded breach of a credit commitment keeps 告知承诺 and 容缺受理 from being
    /// offered to its subject.
    pub commitment_breach_months: u16,
    pub reward_suppression: RewardSuppression,
    /// The personal credit score scale; present whenever a list is scored.
    pub score_scale: Option<ScoreScale>,
    lists: Vec<ListDef>,
    matters: Vec<MatterDef>,
    measures: Vec<MeasureDef>,
    topics: Vec<TopicDef>,
    /// FxHash: every request looks its matter up, and the codes are the rule set's own.
    list_ids: FxHashMap<String, ListId>,
    matter_ids: FxHashMap<String, MatterId>,
    /// `matter * lists.len() + list` → range of `applications`.
    table: Vec<Range<u32>>,
    applications: Vec<Application>,
}

impl RuleSet {
    pub fn list_id(&self, code: &str) -> Option<ListId> {
        self.list_ids.get(code).copied()
    }

    /// The matter named by its code or by one of its platform codes.
    pub fn matter_id(&self, code: &str) -> Option<MatterId> {
        self.matter_ids.get(code).copied()
    }

    pub fn list(&self, id: ListId) -> &ListDef {
        &self.lists[id.index()]
    }

    pub fn matter(&self, id: MatterId) -> &MatterDef {
        &self.matters[id.index()]
    }

    pub fn measure(&self, id: MeasureId) -> &MeasureDef {
        &self.measures[id.index()]
    }

    pub fn topic(&self, id: TopicId) -> &TopicDef {
        &self.topics[id.index()]
    }

    pub fn lists(&self) -> impl ExactSizeIterator<Item = (ListId, &ListDef)> {
        self.lists
            .iter()
            .enumerate()
            .map(|(i, l)| (ListId(i as u16), l))
    }

    pub fn matters(&self) -> impl ExactSizeIterator<Item = (MatterId, &MatterDef)> {
        self.matters
            .iter()
            .enumerate()
            .map(|(i, m)| (MatterId(i as u16), m))
    }

    pub fn measures(&self) -> &[MeasureDef] {
        &self.measures
    }

    pub fn topics(&self) -> &[TopicDef] {
        &self.topics
    }

    /// What an in-force entry on `list` leads to in `matter` (precomputed at compile time).
    pub fn applications(&self, matter: MatterId, list: ListId) -> &[Application] {
        let range = &self.table[matter.index() * self.lists.len() + list.index()];
        &self.applications[range.start as usize..range.end as usize]
    }

    /// Whether an in-force entry on `list` takes every `reward` away from its subject
    /// (invariant 10 of docs/api.md, Decision semantics).
    pub fn suppresses_rewards(&self, list: &ListDef) -> bool {
        match self.reward_suppression {
            RewardSuppression::Serious => list.serious,
            RewardSuppression::AnyPenalty => list.kind != ListKind::Red,
        }
    }

    /// The level of `score` on the rule set's scale (`None` without a scale).
    pub fn score_level(&self, score: u16) -> Option<ScoreLevel> {
        self.score_scale.as_ref().map(|scale| scale.level_of(score))
    }

    /// The name of the level of `score` on the rule set's scale.
    pub fn score_level_name(&self, score: u16) -> Option<&str> {
        let scale = self.score_scale.as_ref()?;
        Some(scale.level_name(scale.level_of(score)))
    }

    /// Whether any list is cold (then decisions may need a lookup in Redis).
    pub fn has_cold_lists(&self) -> bool {
        self.lists.iter().any(|l| l.cold)
    }

    pub fn topic_counts(&self) -> (usize, usize) {
        let incentive = self
            .topics
            .iter()
            .filter(|t| t.kind == TopicKind::Incentive)
            .count();
        (incentive, self.topics.len() - incentive)
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (incentive, penalty) = self.topic_counts();
        write!(
            f,
            "rule set `{}` revision {}: {} lists, {} incentive and {} penalty topics, {} measures, {} matters",
            self.name,
            self.revision,
            self.lists.len(),
            incentive,
            penalty,
            self.measures.len(),
            self.matters.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measure_is_executed_by_the_departments_it_lists_by_their_exact_names() {
        let measure = MeasureDef {
            code: "m".into(),
            name: "m".into(),
            category: Category::RightsReducing,
            effect: Effect::Block,
            legal_basis: String::new(),
            judicial: false,
            department: "市人力资源和社会保障局（社会保险经办机构）、市财政局, 采购人".into(),
            text: String::new(),
            matters: Vec::new(),
        };
        for department in [
            "市财政局",
            "采购人",
            "市人力资源和社会保障局",
            "市人力资源和社会保障局（社会保险经办机构）",
        ] {
            assert!(measure.executed_by(department), "{department}");
        }
        for department in ["市财政", "财政局", "市住建局", "", "社会保险经办机构）"]
        {
            assert!(!measure.executed_by(department), "{department}");
        }
    }
}
