//! Parse → validate → compile. Validation collects every problem before giving up, so a broken
//! rule set is fixed in one round trip rather than one error at a time.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::syntax::{ListsFile, MattersFile, MeasuresFile, RuleSetFile, TopicsFile};
use super::{
    Application, Category, Effect, ListDef, ListId, ListKind, MatterDef, MatterId, MeasureDef,
    MeasureId, Problem, RoleSet, RuleSet, RuleSetError, ScoreLevel, ScoreLevelDef, ScoreScale,
    TopicDef, TopicId, TopicKind, FILES, SCORE_LIMIT,
};

const MAX_CODE_LEN: usize = 64;
/// Most levels a score scale may have (cities use three to six).
const MAX_SCORE_LEVELS: usize = 32;

/// One rule-set file's text, kept to turn byte offsets into line numbers.
struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
}

/// Problems found so far, each pinned to a file and line.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn at(&mut self, source: &Source, span: Range<usize>, message: impl Into<String>) {
        self.0.push(Problem {
            file: source.path.clone(),
            line: source.line(span.start),
            message: message.into(),
        });
    }

    fn whole_file(&mut self, path: &Path, message: impl Into<String>) {
        self.0.push(Problem {
            file: path.to_path_buf(),
            line: 0,
            message: message.into(),
        });
    }
}

pub(super) fn compile_dir(dir: &Path) -> Result<RuleSet, RuleSetError> {
    let mut problems = Problems::default();
    let mut hasher = Sha256::new();
    let mut sources = Vec::with_capacity(FILES.len());
    for name in FILES {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
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

    let [ruleset_src, lists_src, matters_src, measures_src, topics_src] = &sources[..] else {
        unreachable!("one source per file of FILES")
    };
    let ruleset = parse::<RuleSetFile>(ruleset_src, &mut problems);
    let lists = parse::<ListsFile>(lists_src, &mut problems);
    let matters = parse::<MattersFile>(matters_src, &mut problems);
    let measures = parse::<MeasuresFile>(measures_src, &mut problems);
    let topics = parse::<TopicsFile>(topics_src, &mut problems);
    // A file that does not parse would make every reference into it look unknown; stop here
    // rather than bury the syntax error under follow-on problems.
    let (Some(ruleset), Some(lists), Some(matters), Some(measures), Some(topics)) =
        (ruleset, lists, matters, measures, topics)
    else {
        return Err(RuleSetError(problems.0));
    };

    let files = Files {
        ruleset: ruleset_src,
        lists: lists_src,
        matters: matters_src,
        measures: measures_src,
        topics: topics_src,
    };
    let checked = Checker { files, problems }.check(ruleset, lists, matters, measures, topics);
    checked.map(|parts| parts.into_rule_set(revision))
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

/// A topic's lists, and its measures with the roles each extends to and, on a scored list, the
/// lowest level each applies at.
type TopicLinks = (Vec<ListId>, Vec<(MeasureId, RoleSet, Option<ScoreLevel>)>);

struct Files<'a> {
    ruleset: &'a Source,
    lists: &'a Source,
    matters: &'a Source,
    measures: &'a Source,
    topics: &'a Source,
}

struct Checker<'a> {
    files: Files<'a>,
    problems: Problems,
}

/// Everything validated, ready to be compiled into the lookup table.
struct Parts {
    name: String,
    title: String,
    dispute_policy: super::DisputePolicy,
    dispute_review_days: u16,
    reward_suppression: super::RewardSuppression,
    score_scale: Option<ScoreScale>,
    lists: Vec<ListDef>,
    matters: Vec<MatterDef>,
    measures: Vec<MeasureDef>,
    topics: Vec<TopicDef>,
    /// Per topic: (list ids, (measure id, roles it extends to, score tier) triples).
    links: Vec<TopicLinks>,
    measure_matters: Vec<Vec<MatterId>>,
}

impl Checker<'_> {
    fn check(
        mut self,
        ruleset: RuleSetFile,
        lists: ListsFile,
        matters: MattersFile,
        measures: MeasuresFile,
        topics: TopicsFile,
    ) -> Result<Parts, RuleSetError> {
        let files = &self.files;
        check_code_syntax(
            &mut self.problems,
            files.ruleset,
            &ruleset.name,
            "rule set name",
        );
        let list_ids = index_codes(
            &mut self.problems,
            files.lists,
            lists.list.iter().map(|l| &l.code),
            "list",
        );
        let matter_ids = index_codes(
            &mut self.problems,
            files.matters,
            matters.matter.iter().map(|m| &m.code),
            "matter",
        );
        let measure_ids = index_codes(
            &mut self.problems,
            files.measures,
            measures.measure.iter().map(|m| &m.code),
            "measure",
        );
        // No table refers to topics by code; indexing them checks syntax and uniqueness.
        index_codes(
            &mut self.problems,
            files.topics,
            topics.topic.iter().map(|t| &t.code),
            "topic",
        );

        self.check_platform_codes(&matters);
        self.check_court_orders(&lists, &matter_ids);
        let score_scale = self.check_score_scale(&ruleset, &lists);
        let measure_matters = self.check_measures(&measures, &matters, &matter_ids);
        let links = self.check_topics(
            &topics,
            &lists,
            &measures,
            &list_ids,
            &measure_ids,
            score_scale.as_ref(),
        );

        let mut topics_of_list: Vec<Vec<String>> = vec![Vec::new(); lists.list.len()];
        for (topic, (topic_lists, _)) in topics.topic.iter().zip(&links) {
            for list in topic_lists {
                topics_of_list[list.index()].push(topic.code.get_ref().clone());
            }
        }
        // With a broken list reference, "triggers no topic" would only echo that problem.
        let references_resolved = topics
            .topic
            .iter()
            .flat_map(|t| t.lists.get_ref())
            .all(|l| list_ids.contains_key(l.get_ref()));
        for (position, (list, topics)) in lists.list.iter().zip(&topics_of_list).enumerate() {
            let first_of_its_code = list_ids
                .get(list.code.get_ref())
                .is_some_and(|&id| usize::from(id) == position);
            if topics.is_empty() && references_resolved && first_of_its_code {
                self.problems.at(
                    self.files.lists,
                    list.code.span(),
                    format!("list `{}` triggers no topic", list.code.get_ref()),
                );
            }
        }

        if !self.problems.0.is_empty() {
            let order = |p: &Problem| FILES.iter().position(|f| p.file.ends_with(f));
            self.problems.0.sort_by_key(|p| (order(p), p.line));
            return Err(RuleSetError(self.problems.0));
        }

        Ok(Parts {
            name: ruleset.name.into_inner(),
            title: ruleset.title,
            dispute_policy: ruleset.dispute_policy,
            dispute_review_days: ruleset.dispute_review_days,
            reward_suppression: ruleset.reward_suppression,
            score_scale,
            lists: lists
                .list
                .into_iter()
                .zip(topics_of_list)
                .map(|(l, topics)| ListDef {
                    code: l.code.into_inner(),
                    name: l.name,
                    kind: l.kind,
                    serious: l.serious,
                    body: l.body,
                    subjects: l.subjects,
                    period: l.period,
                    scored: l.scored,
                    cold: l.cold,
                    repairable: l.repairable,
                    requires_valid_until: l.requires_valid_until,
                    topics,
                    order_matters: l
                        .order_matters
                        .map(|m| {
                            m.into_inner()
                                .into_iter()
                                .map(Spanned::into_inner)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            matters: matters
                .matter
                .into_iter()
                .map(|m| MatterDef {
                    code: m.code.into_inner(),
                    name: m.name,
                    department: m.department,
                    description: m.description,
                    basic_public_service: m.basic_public_service,
                    platform_codes: m
                        .platform_codes
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                })
                .collect(),
            measures: measures
                .measure
                .into_iter()
                .map(|m| MeasureDef {
                    code: m.code.into_inner(),
                    name: m.name,
                    category: m.category.into_inner(),
                    effect: m.effect.into_inner(),
                    legal_basis: m.legal_basis.into_inner().trim().to_owned(),
                    judicial: m.judicial,
                    department: m.department,
                    text: m.text,
                    matters: m
                        .matters
                        .into_inner()
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                })
                .collect(),
            topics: topics
                .topic
                .into_iter()
                .map(|t| {
                    let (roles, person_measures) = match t.responsible_persons {
                        Some(rp) => (
                            rp.roles.into_inner(),
                            rp.measures.into_iter().map(Spanned::into_inner).collect(),
                        ),
                        None => (Vec::new(), Vec::new()),
                    };
                    TopicDef {
                        code: t.code.into_inner(),
                        name: t.name,
                        kind: t.kind,
                        lists: t
                            .lists
                            .into_inner()
                            .into_iter()
                            .map(Spanned::into_inner)
                            .collect(),
                        memorandum: t.memorandum,
                        measures: t
                            .measures
                            .into_inner()
                            .into_iter()
                            .map(Spanned::into_inner)
                            .collect(),
                        min_score_level: t.min_score_level.map(Spanned::into_inner),
                        score_tiers: t
                            .score_tiers
                            .map(|tiers| {
                                tiers
                                    .into_inner()
                                    .into_iter()
                                    .map(|(measure, level)| (measure, level.into_inner()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        responsible_person_roles: roles,
                        responsible_person_measures: person_measures,
                    }
                })
                .collect(),
            links,
            measure_matters,
        })
    }

    /// Platform codes are well formed and name one matter only; being upper-case or digits first,
    /// they never collide with a snake_case matter code.
    fn check_platform_codes(&mut self, matters: &MattersFile) {
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

    /// A `court_order` list names the matters its order binds (and only such a list does), each
    /// a known matter: invariant 2 lets it block there and nowhere else.
    fn check_court_orders(&mut self, lists: &ListsFile, matter_ids: &HashMap<String, u16>) {
        let src = self.files.lists;
        for l in &lists.list {
            let code = l.code.get_ref();
            match (l.kind, &l.order_matters) {
                (ListKind::CourtOrder, None) => self.problems.at(
                    src,
                    l.code.span(),
                    format!("court-order list `{code}` does not name the matters its order binds (order_matters)"),
                ),
                (ListKind::CourtOrder, Some(matters)) => {
                    if matters.get_ref().is_empty() {
                        self.problems.at(
                            src,
                            matters.span(),
                            format!("court-order list `{code}` binds no matter (order_matters is empty)"),
                        );
                    }
                    for matter in matters.get_ref() {
                        if !matter_ids.contains_key(matter.get_ref()) {
                            self.problems.at(
                                src,
                                matter.span(),
                                format!("court-order list `{code}` names unknown matter `{}`", matter.get_ref()),
                            );
                        }
                    }
                }
                (_, Some(matters)) => self.problems.at(
                    src,
                    matters.span(),
                    format!("list `{code}` names order_matters but is not of kind `court_order`"),
                ),
                (_, None) => {}
            }
        }
    }

    /// The personal credit score scale: required as soon as a list is scored; a range with its
    /// base inside, and levels listed lowest first, the lowest at the range's floor (every score
    /// has a level), thresholds strictly rising inside the range, names unique.
    fn check_score_scale(
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
        Some(ScoreScale {
            min,
            max,
            base,
            levels,
            assumed: scale.assumed,
            note: scale.note.trim().to_owned(),
        })
    }

    /// The level a topic names, reported when the scale has no such level.
    fn score_level(
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

    /// Matter references and invariants 1, 5 and 6; returns each measure's matters.
    fn check_measures(
        &mut self,
        measures: &MeasuresFile,
        matters: &MattersFile,
        matter_ids: &HashMap<String, u16>,
    ) -> Vec<Vec<MatterId>> {
        let src = self.files.measures;
        let mut out = Vec::with_capacity(measures.measure.len());
        for m in &measures.measure {
            let code = m.code.get_ref();
            let effect = *m.effect.get_ref();
            let category = *m.category.get_ref();
            // Invariant 1: a block needs a category-1 measure with a legal basis.
            if effect == Effect::Block && category != Category::RightsReducing {
                self.problems.at(
                    src,
                    m.effect.span(),
                    format!("measure `{code}` blocks but is not category 1 (invariant 1: only rights-reducing measures based on law can block)"),
                );
            }
            if effect == Effect::Block && m.legal_basis.get_ref().trim().is_empty() {
                self.problems.at(
                    src,
                    m.code.span(),
                    format!("measure `{code}` blocks without a legal basis (invariant 1: a block must cite a law, administrative regulation or central policy document)"),
                );
            }
            // Invariant 6: market measures only inform.
            if category == Category::Market && effect != Effect::Inform {
                self.problems.at(
                    src,
                    m.effect.span(),
                    format!("measure `{code}` is category 3 but its effect is `{}` (invariant 6: market measures only inform)", effect.as_str()),
                );
            }
            if m.matters.get_ref().is_empty() {
                self.problems.at(
                    src,
                    m.matters.span(),
                    format!("measure `{code}` applies in no matter"),
                );
            }
            let mut ids = Vec::new();
            for matter in m.matters.get_ref() {
                let Some(&id) = matter_ids.get(matter.get_ref()) else {
                    self.problems.at(
                        src,
                        matter.span(),
                        format!(
                            "measure `{code}` names unknown matter `{}`",
                            matter.get_ref()
                        ),
                    );
                    continue;
                };
                if ids.contains(&MatterId(id)) {
                    self.problems.at(
                        src,
                        matter.span(),
                        format!("measure `{code}` names matter `{}` twice", matter.get_ref()),
                    );
                    continue;
                }
                // Invariant 5: basic public services are never restricted on credit grounds.
                if effect.restricts() && matters.matter[usize::from(id)].basic_public_service {
                    self.problems.at(
                        src,
                        matter.span(),
                        format!(
                            "measure `{code}` would {} in basic public service `{}` (invariant 5)",
                            effect.as_str(),
                            matter.get_ref()
                        ),
                    );
                }
                ids.push(MatterId(id));
            }
            out.push(ids);
        }
        out
    }

    /// List and measure references and invariants 2, 3 and 4; returns each topic's links.
    fn check_topics(
        &mut self,
        topics: &TopicsFile,
        lists: &ListsFile,
        measures: &MeasuresFile,
        list_ids: &HashMap<String, u16>,
        measure_ids: &HashMap<String, u16>,
        scale: Option<&ScoreScale>,
    ) -> Vec<TopicLinks> {
        let src = self.files.topics;
        let mut out = Vec::with_capacity(topics.topic.len());
        for t in &topics.topic {
            let code = t.code.get_ref();
            let mut topic_lists = Vec::new();
            if t.lists.get_ref().is_empty() {
                self.problems
                    .at(src, t.lists.span(), format!("topic `{code}` has no lists"));
            }
            for list in t.lists.get_ref() {
                let Some(&id) = list_ids.get(list.get_ref()) else {
                    self.problems.at(
                        src,
                        list.span(),
                        format!("topic `{code}` names unknown list `{}`", list.get_ref()),
                    );
                    continue;
                };
                let def = &lists.list[usize::from(id)];
                // Invariant 3 (triggers): incentive topics hang on red lists, penalty topics never.
                match (t.kind, def.kind) {
                    (TopicKind::Incentive, ListKind::Red) => {}
                    (TopicKind::Incentive, _) => self.problems.at(
                        src,
                        list.span(),
                        format!("incentive topic `{code}` is triggered by list `{}`, which is not red (invariant 3)", list.get_ref()),
                    ),
                    (TopicKind::Penalty, ListKind::Red) => self.problems.at(
                        src,
                        list.span(),
                        format!("penalty topic `{code}` is triggered by red list `{}` (invariant 3)", list.get_ref()),
                    ),
                    (TopicKind::Penalty, _) => {}
                }
                if topic_lists.contains(&ListId(id)) {
                    self.problems.at(
                        src,
                        list.span(),
                        format!("topic `{code}` names list `{}` twice", list.get_ref()),
                    );
                    continue;
                }
                topic_lists.push(ListId(id));
            }
            let scored = topic_lists.iter().any(|l| lists.list[l.index()].scored);
            let default_level = match &t.min_score_level {
                Some(level) if !scored => {
                    self.problems.at(
                        src,
                        level.span(),
                        format!(
                            "topic `{code}` sets min_score_level but none of its lists is scored"
                        ),
                    );
                    None
                }
                Some(level) => self.score_level(scale, code, level),
                None => None,
            };
            let mut tiers: HashMap<&str, ScoreLevel> = HashMap::new();
            if let Some(written) = &t.score_tiers {
                if !scored {
                    self.problems.at(
                        src,
                        written.span(),
                        format!("topic `{code}` sets score_tiers but none of its lists is scored"),
                    );
                }
                for (measure, level) in written.get_ref() {
                    if !t.measures.get_ref().iter().any(|m| m.get_ref() == measure) {
                        self.problems.at(
                            src,
                            written.span(),
                            format!("topic `{code}` tiers measure `{measure}` in score_tiers but does not carry it"),
                        );
                    }
                    if let Some(level) = self.score_level(scale.filter(|_| scored), code, level) {
                        tiers.insert(measure, level);
                    }
                }
            }

            let (roles, person_measures) = match &t.responsible_persons {
                Some(rp) => {
                    let mut roles = RoleSet::default();
                    rp.roles.get_ref().iter().for_each(|r| roles.insert(*r));
                    if roles.is_empty() {
                        self.problems.at(
                            src,
                            rp.roles.span(),
                            format!(
                                "topic `{code}` extends to responsible persons but names no role"
                            ),
                        );
                    }
                    (roles, rp.measures.as_slice())
                }
                None => (RoleSet::default(), &[][..]),
            };
            for pm in person_measures {
                if !t
                    .measures
                    .get_ref()
                    .iter()
                    .any(|m| m.get_ref() == pm.get_ref())
                {
                    self.problems.at(
                        src,
                        pm.span(),
                        format!("topic `{code}` extends measure `{}` to responsible persons but does not carry it", pm.get_ref()),
                    );
                }
            }

            if t.measures.get_ref().is_empty() {
                self.problems.at(
                    src,
                    t.measures.span(),
                    format!("topic `{code}` has no measures"),
                );
            }
            let mut topic_measures: Vec<(MeasureId, RoleSet, Option<ScoreLevel>)> = Vec::new();
            for measure in t.measures.get_ref() {
                let name = measure.get_ref();
                let Some(&id) = measure_ids.get(name) else {
                    self.problems.at(
                        src,
                        measure.span(),
                        format!("topic `{code}` names unknown measure `{name}`"),
                    );
                    continue;
                };
                if topic_measures.iter().any(|(m, _, _)| *m == MeasureId(id)) {
                    self.problems.at(
                        src,
                        measure.span(),
                        format!("topic `{code}` names measure `{name}` twice"),
                    );
                    continue;
                }
                let effect = *measures.measure[usize::from(id)].effect.get_ref();
                let mut complain = |message: String| self.problems.at(src, measure.span(), message);
                // Invariant 3 (effects).
                match (t.kind, effect) {
                    (TopicKind::Incentive, Effect::Reward) | (TopicKind::Penalty, Effect::Block | Effect::Flag | Effect::Inform) => {}
                    (TopicKind::Incentive, other) => complain(format!("incentive topic `{code}` carries measure `{name}` whose effect is `{}` (invariant 3: incentive topics only reward)", other.as_str())),
                    (TopicKind::Penalty, Effect::Reward) => complain(format!("penalty topic `{code}` carries reward measure `{name}` (invariant 3)")),
                }
                // Invariant 2: only serious lists reach block, and court orders in their matters.
                if effect == Effect::Block {
                    let def = &measures.measure[usize::from(id)];
                    for list in &topic_lists {
                        let list = &lists.list[list.index()];
                        let list_code = list.code.get_ref();
                        match (list.kind, &list.order_matters) {
                            (ListKind::CourtOrder, _) if !def.judicial => complain(format!("topic `{code}` carries block measure `{name}` from court-order list `{list_code}` but the measure's basis is not judicial (invariant 2: a court order blocks only under the judicial rule that binds; set judicial = true on a measure citing it)")),
                            (ListKind::CourtOrder, Some(bound)) => {
                                for matter in def.matters.get_ref() {
                                    if !bound.get_ref().iter().any(|b| b.get_ref() == matter.get_ref()) {
                                        complain(format!("topic `{code}` carries block measure `{name}` in matter `{}`, which court-order list `{list_code}` does not bind (invariant 2: a court order blocks only in the matters it names)", matter.get_ref()));
                                    }
                                }
                            }
                            // The list itself is reported for naming no matters.
                            (ListKind::CourtOrder, None) => {}
                            _ if !list.serious => complain(format!("topic `{code}` carries block measure `{name}` but its list `{list_code}` is not serious (invariant 2: only serious lists can block)")),
                            _ => {}
                        }
                    }
                }
                // Invariant 4: scores are for rewards only.
                if scored && effect.restricts() {
                    complain(format!("topic `{code}` is triggered by a scored list and carries `{name}`, which would {} (invariant 4: scores are for rewards only)", effect.as_str()));
                }
                let extends = person_measures.iter().any(|pm| pm.get_ref() == name);
                topic_measures.push((
                    MeasureId(id),
                    if extends { roles } else { RoleSet::default() },
                    tiers.get(name.as_str()).copied().or(default_level),
                ));
            }
            out.push((topic_lists, topic_measures));
        }
        out
    }
}

fn check_code_syntax(problems: &mut Problems, src: &Source, code: &Spanned<String>, what: &str) {
    let text = code.get_ref();
    let mut chars = text.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && text.len() <= MAX_CODE_LEN;
    if !well_formed {
        problems.at(
            src,
            code.span(),
            format!("{what} code `{text}` is not snake_case ([a-z][a-z0-9_]*, at most {MAX_CODE_LEN} characters)"),
        );
    }
}

/// Checks each code's syntax and uniqueness; maps every code to its first position.
fn index_codes<'c>(
    problems: &mut Problems,
    src: &Source,
    codes: impl Iterator<Item = &'c Spanned<String>>,
    what: &str,
) -> HashMap<String, u16> {
    let mut ids: HashMap<String, u16> = HashMap::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (position, code) in codes.enumerate() {
        check_code_syntax(problems, src, code, what);
        let Ok(id) = u16::try_from(position) else {
            problems.at(src, code.span(), format!("more than {} {what}s", u16::MAX));
            break;
        };
        match first_line.get(code.get_ref().as_str()) {
            Some(line) => problems.at(
                src,
                code.span(),
                format!(
                    "duplicate {what} code `{}` (first defined on line {line})",
                    code.get_ref()
                ),
            ),
            None => {
                first_line.insert(code.get_ref(), src.line(code.span().start));
                ids.insert(code.get_ref().clone(), id);
            }
        }
    }
    ids
}

impl Parts {
    fn into_rule_set(self, revision: String) -> RuleSet {
        let n_lists = self.lists.len();
        let mut cells: Vec<Vec<Application>> = vec![Vec::new(); self.matters.len() * n_lists];
        for (topic_index, (lists, measures)) in self.links.iter().enumerate() {
            let topic = TopicId(topic_index as u16);
            for &(measure, person_roles, min_score_level) in measures {
                let effect = self.measures[measure.index()].effect;
                for matter in &self.measure_matters[measure.index()] {
                    for list in lists {
                        cells[matter.index() * n_lists + list.index()].push(Application {
                            topic,
                            measure,
                            effect,
                            person_roles,
                            min_score_level,
                        });
                    }
                }
            }
        }
        let mut table = Vec::with_capacity(cells.len());
        let mut applications = Vec::new();
        for cell in cells {
            let start = applications.len() as u32;
            applications.extend(cell);
            table.push(start..applications.len() as u32);
        }
        let list_ids = self
            .lists
            .iter()
            .enumerate()
            .map(|(i, l)| (l.code.clone(), ListId(i as u16)))
            .collect();
        let matter_ids = self
            .matters
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                std::iter::once(&m.code)
                    .chain(&m.platform_codes)
                    .map(move |code| (code.clone(), MatterId(i as u16)))
            })
            .collect();
        RuleSet {
            name: self.name,
            title: self.title,
            revision,
            dispute_policy: self.dispute_policy,
            dispute_review_days: self.dispute_review_days,
            reward_suppression: self.reward_suppression,
            score_scale: self.score_scale,
            lists: self.lists,
            matters: self.matters,
            measures: self.measures,
            topics: self.topics,
            list_ids,
            matter_ids,
            table,
            applications,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::testing::compile_with;

    /// The problems as `file:line: message` with the file name only.
    fn problems(result: Result<RuleSet, RuleSetError>) -> Vec<String> {
        let err = result.expect_err("the rule set should be refused");
        err.0
            .iter()
            .map(|p| {
                format!(
                    "{}:{}: {}",
                    p.file.file_name().unwrap().to_string_lossy(),
                    p.line,
                    p.message
                )
            })
            .collect()
    }

    #[test]
    fn the_minimal_rule_set_compiles_into_the_per_matter_table() {
        let rules = compile_with(|_| {}).unwrap();
        let procurement = rules.matter_id("procurement").unwrap();
        let debtor = rules.list_id("debtor").unwrap();
        let apps = rules.applications(procurement, debtor);
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].effect, Effect::Block);
        assert!(apps[0].person_roles.contains(super::super::Role::LegalRep));
        assert!(!apps[0].person_roles.contains(super::super::Role::Principal));
        let basic = rules.matter_id("basic").unwrap();
        assert!(rules.applications(basic, debtor).is_empty());
        assert_eq!(rules.topic_counts(), (1, 2));
        assert_eq!(rules.list(debtor).topics, vec!["debtor".to_owned()]);
    }

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
    fn invariant_1_a_block_needs_category_1_and_a_legal_basis() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen("category = 1", "category = 2", 1).replacen(
                "legal_basis = \"《中华人民共和国政府采购法》第二十二条\"",
                "legal_basis = \" \"",
                1,
            )
        }));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("measures.toml:3: measure `ban` blocks without a legal basis"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("measures.toml:6: measure `ban` blocks but is not category 1"),
            "{found:#?}"
        );
    }

    #[test]
    fn invariant_2_only_serious_lists_reach_block() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace("measures = [\"watch\"]", "measures = [\"watch\", \"ban\"]")
        }));
        assert_eq!(found, vec!["topics.toml:18: topic `abnormal` carries block measure `ban` but its list `abnormal` is not serious (invariant 2: only serious lists can block)"]);
    }

    /// The small rule set with a court order (限制消费令) that binds in `tickets` and blocks there
    /// under a judicial basis; `measure_extra` is appended to its blocking measure.
    fn with_court_order(
        order_matters: &str,
        measure_matters: &str,
        measure_extra: &str,
    ) -> Result<RuleSet, RuleSetError> {
        compile_with(|f| {
            f[1].push_str(&format!("\n[[list]]\ncode = \"restricted\"\nname = \"限制消费人员\"\nkind = \"court_order\"\nbody = \"法院\"\nsubjects = \"any\"\n{order_matters}"));
            f[2].push_str(
                "\n[[matter]]\ncode = \"tickets\"\nname = \"购票\"\ndepartment = \"铁路\"\n",
            );
            f[3].push_str(&format!("\n[[measure]]\ncode = \"order_block\"\nname = \"协助执行限制消费令\"\ncategory = 1\neffect = \"block\"\nlegal_basis = \"《最高人民法院关于限制被执行人高消费及有关消费的若干规定》第三条\"\ndepartment = \"铁路\"\ntext = \"拦截\"\nmatters = {measure_matters}\n{measure_extra}"));
            f[4].push_str("\n[[topic]]\ncode = \"restricted\"\nname = \"限制消费\"\nkind = \"penalty\"\nlists = [\"restricted\"]\nmeasures = [\"order_block\"]\n");
        })
    }

    #[test]
    fn invariant_2_a_court_order_blocks_in_the_matters_it_binds_on_a_judicial_basis() {
        let rules = with_court_order(
            "order_matters = [\"tickets\"]",
            "[\"tickets\"]",
            "judicial = true\n",
        )
        .unwrap_or_else(|err| panic!("{err}"));
        let tickets = rules.matter_id("tickets").unwrap();
        let restricted = rules.list_id("restricted").unwrap();
        let apps = rules.applications(tickets, restricted);
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].effect, Effect::Block);
        assert_eq!(
            rules.list(restricted).order_matters,
            vec!["tickets".to_owned()]
        );
    }

    #[test]
    fn invariant_2_a_court_order_may_not_block_outside_its_matters_or_without_a_judicial_basis() {
        let outside = problems(with_court_order(
            "order_matters = [\"tickets\"]",
            "[\"tickets\", \"procurement\"]",
            "judicial = true\n",
        ));
        assert_eq!(outside, vec!["topics.toml:33: topic `restricted` carries block measure `order_block` in matter `procurement`, which court-order list `restricted` does not bind (invariant 2: a court order blocks only in the matters it names)"]);
        let not_judicial = problems(with_court_order(
            "order_matters = [\"tickets\"]",
            "[\"tickets\"]",
            "",
        ));
        assert_eq!(not_judicial, vec!["topics.toml:33: topic `restricted` carries block measure `order_block` from court-order list `restricted` but the measure's basis is not judicial (invariant 2: a court order blocks only under the judicial rule that binds; set judicial = true on a measure citing it)"]);
    }

    #[test]
    fn only_a_court_order_list_names_the_known_matters_its_order_binds() {
        let unbound = problems(with_court_order("", "[\"tickets\"]", "judicial = true\n"));
        assert_eq!(unbound, vec!["lists.toml:26: court-order list `restricted` does not name the matters its order binds (order_matters)"]);
        let unknown = problems(with_court_order(
            "order_matters = [\"tickets\", \"golf\"]",
            "[\"tickets\"]",
            "judicial = true\n",
        ));
        assert_eq!(
            unknown,
            vec!["lists.toml:31: court-order list `restricted` names unknown matter `golf`"]
        );
        let not_an_order = problems(compile_with(|f| {
            f[1] = f[1].replace(
                "kind = \"grey\"",
                "kind = \"grey\"\norder_matters = [\"procurement\"]",
            );
        }));
        assert_eq!(not_an_order, vec!["lists.toml:14: list `abnormal` names order_matters but is not of kind `court_order`"]);
    }

    #[test]
    fn invariant_3_incentives_only_reward_and_penalties_never_do() {
        let found = problems(compile_with(|f| {
            f[4] = f[4]
                .replace("measures = [\"perk\"]", "measures = [\"perk\", \"watch\"]")
                .replace("measures = [\"watch\"]", "measures = [\"watch\", \"perk\"]")
        }));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("penalty topic `abnormal` carries reward measure `perk`"),
            "{found:#?}"
        );
        assert!(
            found[1].contains("incentive topic `score` carries measure `watch`"),
            "{found:#?}"
        );
        assert!(
            found[2].contains("scored list and carries `watch`"),
            "{found:#?}"
        );
    }

    #[test]
    fn invariant_3_topics_hang_on_lists_of_their_kind() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "lists = [\"abnormal\"]",
                "lists = [\"abnormal\", \"score\"]",
            )
        }));
        assert!(
            found
                .iter()
                .any(|p| p.contains("penalty topic `abnormal` is triggered by red list `score`")),
            "{found:#?}"
        );
    }

    #[test]
    fn invariant_5_no_restriction_in_basic_public_services() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen(
                "matters = [\"procurement\"]",
                "matters = [\"procurement\", \"basic\"]",
                1,
            )
        }));
        assert_eq!(found, vec!["measures.toml:10: measure `ban` would block in basic public service `basic` (invariant 5)"]);
    }

    #[test]
    fn invariant_6_market_measures_only_inform() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen("category = 2", "category = 3", 1)
        }));
        assert_eq!(found, vec!["measures.toml:16: measure `watch` is category 3 but its effect is `flag` (invariant 6: market measures only inform)"]);
    }

    #[test]
    fn unknown_codes_duplicates_and_bad_keys_are_each_reported_with_their_line() {
        let found = problems(compile_with(|f| {
            f[3] = f[3].replacen(
                "matters = [\"procurement\"]",
                "matters = [\"procurment\"]",
                1,
            );
            f[1].push_str("\n[[list]]\ncode = \"debtor\"\nname = \"重复\"\nkind = \"black\"\nserious = true\nbody = \"法院\"\nsubjects = \"any\"\n");
            f[4] = f[4].replace("lists = [\"debtor\"]", "lists = [\"Debtor\"]");
        }));
        assert_eq!(
            found,
            vec![
                "lists.toml:26: duplicate list code `debtor` (first defined on line 3)",
                "measures.toml:10: measure `ban` names unknown matter `procurment`",
                "topics.toml:6: topic `debtor` names unknown list `Debtor`",
            ],
            "{found:#?}"
        );
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

    #[test]
    fn a_list_without_topic_and_a_foreign_person_measure_are_refused() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "[topic.responsible_persons]\nroles = [\"legal_rep\"]\nmeasures = [\"ban\"]",
                "[topic.responsible_persons]\nroles = [\"legal_rep\"]\nmeasures = [\"watch\"]",
            );
            f[4] = f[4].replace("lists = [\"abnormal\"]", "lists = [\"debtor\"]");
        }));
        assert!(
            found
                .iter()
                .any(|p| p == "lists.toml:11: list `abnormal` triggers no topic"),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p
                .contains("extends measure `watch` to responsible persons but does not carry it")),
            "{found:#?}"
        );
    }

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
    fn topics_name_only_levels_of_the_scale_and_tier_only_measures_they_carry() {
        let found = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "min_score_level = \"AA\"",
                "min_score_level = \"AAAA\"\nscore_tiers = { perk = \"D\", loan = \"A\" }",
            )
        }));
        assert_eq!(
            found,
            vec![
                "topics.toml:26: topic `score` names score level `AAAA`, which the score scale does not have (its levels: C, B, A, AA, AAA)",
                "topics.toml:27: topic `score` tiers measure `loan` in score_tiers but does not carry it",
                "topics.toml:27: topic `score` names score level `D`, which the score scale does not have (its levels: C, B, A, AA, AAA)",
            ],
            "{found:#?}"
        );
        let unscored = problems(compile_with(|f| {
            f[4] = f[4].replace(
                "measures = [\"watch\"]",
                "measures = [\"watch\"]\nscore_tiers = { watch = \"A\" }",
            )
        }));
        assert_eq!(
            unscored,
            vec![
                "topics.toml:19: topic `abnormal` sets score_tiers but none of its lists is scored"
            ]
        );
    }

    #[test]
    fn a_measure_in_score_tiers_starts_at_its_own_level() {
        let rules = compile_with(|f| {
            f[3].push_str("\n[[measure]]\ncode = \"loan\"\nname = \"信易贷\"\ncategory = 2\neffect = \"reward\"\nlegal_basis = \"\"\ndepartment = \"营商局\"\ntext = \"优先推荐\"\nmatters = [\"procurement\"]\n");
            f[4] = f[4].replace(
                "measures = [\"perk\"]\nmin_score_level = \"AA\"",
                "measures = [\"perk\", \"loan\"]\nmin_score_level = \"A\"\nscore_tiers = { loan = \"AAA\" }",
            );
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let scale = rules.score_scale.as_ref().unwrap();
        let procurement = rules.matter_id("procurement").unwrap();
        let score = rules.list_id("score").unwrap();
        let tiers: Vec<(&str, Option<&str>)> = rules
            .applications(procurement, score)
            .iter()
            .map(|app| {
                (
                    rules.measure(app.measure).code.as_str(),
                    app.min_score_level.map(|l| scale.level_name(l)),
                )
            })
            .collect();
        assert_eq!(tiers, vec![("perk", Some("A")), ("loan", Some("AAA"))]);
        assert_eq!(rules.topics()[2].score_tiers["loan"], "AAA");
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

    #[test]
    fn the_shipped_rule_set_compiles_with_8_incentive_and_39_penalty_topics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/qiqihar");
        let rules = compile_dir(&dir).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(rules.topic_counts(), (8, 39));
        assert_eq!(rules.lists().len(), 47);
        assert!(rules.matters().len() >= 25);
    }

    #[test]
    fn a_matter_is_found_by_its_code_and_by_each_of_its_platform_codes() {
        let rules = compile_with(|f| {
            f[2] = f[2].replace(
                "department = \"财政局\"\n",
                "department = \"财政局\"\nplatform_codes = [\"230200-ZFCG-001\", \"11230200MB1234567X4000117009000\"]\n",
            )
        })
        .unwrap_or_else(|err| panic!("{err}"));
        let procurement = rules.matter_id("procurement").unwrap();
        assert_eq!(rules.matter_id("230200-ZFCG-001"), Some(procurement));
        assert_eq!(
            rules.matter_id("11230200MB1234567X4000117009000"),
            Some(procurement)
        );
        assert_eq!(rules.matter_id("230200-zfcg-001"), None);
        assert_eq!(
            rules.matter(procurement).platform_codes,
            vec!["230200-ZFCG-001", "11230200MB1234567X4000117009000"]
        );
    }

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
