//! Writing decisions as JSON, with the parts that depend only on the snapshot rendered once
//! per snapshot.

use std::borrow::Cow;
use std::sync::{Arc, Weak};

use serde::Serialize;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;

use super::super::openapi::{closed_object, component, only_true, reference, scalar};
use super::super::problem::ApiError;
use super::super::view::RuleSetView;
use super::super::AppState;
use crate::app::DecisionContext as Context;
use crate::engine::{Decision, Offer, Outcome, Reason, Warning, Withheld};
use crate::ident::{IdType, SubjectId, SubjectKey};
use crate::lists::EntryRef;
use crate::ruleset::RuleSet;
use crate::snapshot::Snapshot;

/// The parts of a decision's JSON that depend only on the snapshot, written once per snapshot
/// rather than once per request: escaping them was the largest cost of writing a decision.
pub(in crate::http) struct Rendered {
    /// The snapshot they were rendered from (not kept alive by them).
    snapshot: Weak<Snapshot>,
    /// By matter index: `,"matter":"…","reasons":[`.
    matters: Vec<Vec<u8>>,
    /// `,"ruleset":{…},"lists_version":…,"evaluated_at":"`.
    shared: Vec<u8>,
}

/// The part of a decision that is the same for every decision of a snapshot.
#[derive(Serialize)]
struct SharedPart<'a> {
    ruleset: RuleSetView<'a>,
    lists_version: u64,
    evaluated_at: &'a str,
}

impl Rendered {
    pub(super) fn of(snapshot: &Arc<Snapshot>) -> Result<Rendered, serde_json::Error> {
        let matters = snapshot
            .rules
            .matters()
            .map(|(_, matter)| {
                let mut part = b",\"matter\":".to_vec();
                serde_json::to_writer(&mut part, &matter.code)?;
                part.extend_from_slice(b",\"reasons\":[");
                Ok(part)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let mut shared = serde_json::to_vec(&SharedPart {
            ruleset: RuleSetView::of(snapshot),
            lists_version: snapshot.lists_version,
            evaluated_at: "",
        })?;
        // `{"ruleset":…,"evaluated_at":""}` becomes `,"ruleset":…,"evaluated_at":"`.
        shared[0] = b',';
        shared.truncate(shared.len() - 2);
        Ok(Rendered {
            snapshot: Arc::downgrade(snapshot),
            matters,
            shared,
        })
    }
}

impl AppState {
    /// The rendered parts of the snapshot a request decides from.
    pub(super) fn rendered(&self, snapshot: &Arc<Snapshot>) -> Result<Arc<Rendered>, ApiError> {
        if let Some(rendered) = self.rendered.load_full() {
            if std::ptr::eq(rendered.snapshot.as_ptr(), Arc::as_ptr(snapshot)) {
                return Ok(rendered);
            }
        }
        let rendered =
            Arc::new(Rendered::of(snapshot).map_err(|err| ApiError::Internal(err.to_string()))?);
        self.rendered.store(Some(Arc::clone(&rendered)));
        Ok(rendered)
    }
}

/// Writes decisions as JSON. What every decision of a request shares (matter, rule set, list
/// version, instant, department, case reference) is put together once per request from the
/// snapshot's rendered parts; each decision adds its id, outcome, subject, reasons and
/// warnings. Fixed keys are copied as they are, and only text that may need it (entry ids,
/// names, rule-set prose, the caller's strings) goes through serde_json's escaping.
pub(super) struct DecisionWriter<'r> {
    /// `,"matter":"…","reasons":[`
    matter: &'r [u8],
    /// `,"ruleset":{…},"lists_version":…,"evaluated_at":"…"`, the caller's references, the
    /// replay mark, and the closing brace.
    tail: Vec<u8>,
}

impl<'r> DecisionWriter<'r> {
    pub(super) fn new(
        rendered: &'r Rendered,
        context: &Context,
    ) -> Result<DecisionWriter<'r>, ApiError> {
        let internal = |err: serde_json::Error| ApiError::Internal(err.to_string());
        let mut tail = Vec::with_capacity(rendered.shared.len() + 64);
        tail.extend_from_slice(&rendered.shared);
        // The printed instant is digits and punctuation: nothing to escape.
        tail.extend_from_slice(context.evaluated_at.as_bytes());
        tail.push(b'"');
        for (key, value) in [
            (&b",\"department\":"[..], &context.department),
            (b",\"case_ref\":", &context.case_ref),
        ] {
            if let Some(value) = value {
                tail.extend_from_slice(key);
                serde_json::to_writer(&mut tail, value).map_err(internal)?;
            }
        }
        // Only a replay is marked, so that an ordinary decision reads as it always did.
        if context.replay {
            tail.extend_from_slice(b",\"replay\":true");
        }
        tail.push(b'}');
        Ok(DecisionWriter {
            matter: &rendered.matters[context.matter.index()],
            tail,
        })
    }

    /// Writes decision `id`.
    pub(super) fn write(
        &self,
        out: &mut Vec<u8>,
        snapshot: &Snapshot,
        id: uuid::Uuid,
        subject: &SubjectId,
        decision: &Decision<'_>,
    ) -> Result<(), ApiError> {
        let internal = |err: serde_json::Error| ApiError::Internal(err.to_string());
        let mut uuid = uuid::Uuid::encode_buffer();
        // The id is hexadecimal, the codes and labels are fixed words, the identifier is
        // normalised to digits and capitals: none needs escaping.
        for part in [
            "{\"decision_id\":\"",
            id.hyphenated().encode_lower(&mut uuid),
            "\",\"decision\":\"",
            decision.outcome.as_str(),
            "\",\"decision_label\":\"",
            decision.outcome.label(),
            "\",\"subject\":{\"id\":\"",
            subject.as_str(),
            "\",\"kind\":\"",
            subject.kind().as_str(),
            "\",\"id_type\":\"",
            subject.id_type().as_str(),
            "\"}",
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(self.matter);
        let older = (decision.reasons.iter())
            .any(|r| r.through_older_identifier)
            .then(|| subject.older_identifier())
            .flatten();
        let mut reasons = decision
            .reasons
            .iter()
            .map(|reason| reason_view(&snapshot.rules, reason, older))
            .collect::<Result<Vec<_>, _>>()?;
        // The engine orders reasons by severity, topic and measure; entries under one measure
        // are ordered here, by their ids, which are text the engine does not read.
        for tied in reasons
            .chunk_by_mut(|a, b| (a.effect, a.topic, a.measure) == (b.effect, b.topic, b.measure))
        {
            tied.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
        }
        for (i, reason) in reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, reason).map_err(internal)?;
        }
        out.extend_from_slice(b"],\"warnings\":[");
        let separate = |out: &mut Vec<u8>, first: &mut bool| {
            if !std::mem::take(first) {
                out.push(b',');
            }
        };
        let mut first = true;
        for warning in &decision.warnings {
            separate(out, &mut first);
            serde_json::to_writer(&mut *out, &WarningView::of(warning)).map_err(internal)?;
        }
        if let Some(entry) = &decision.rewards_suppressed_by {
            separate(out, &mut first);
            let view = SuppressionView {
                code: "rewards_suppressed",
                message: "an in-force entry on a list that suppresses rewards took every reward reason away in every matter",
                entry_id: entry.entry_id()?,
                list: &snapshot.rules.list(entry.facts.list).code,
            };
            serde_json::to_writer(&mut *out, &view).map_err(internal)?;
        }
        for scores in &decision.superseded_scores {
            separate(out, &mut first);
            let mut superseded = scores
                .superseded
                .iter()
                .map(EntryRef::entry_id)
                .collect::<Result<Vec<_>, _>>()?;
            superseded.sort();
            let view = SupersededView {
                code: "score_superseded",
                message: "a person has one current score: the entry listed last counts, and the older entries in force beside it gave no reasons",
                entry_id: scores.current.entry_id()?,
                list: &snapshot.rules.list(scores.current.facts.list).code,
                superseded,
            };
            serde_json::to_writer(&mut *out, &view).map_err(internal)?;
        }
        out.push(b']');
        if let Some(offer) = &decision.commitment {
            out.extend_from_slice(b",\"commitment\":");
            serde_json::to_writer(&mut *out, &OfferView::of(&snapshot.rules, offer)?)
                .map_err(internal)?;
        }
        out.extend_from_slice(&self.tail);
        Ok(())
    }
}

/// What a decision in a matter that allows credit commitments says about offering 告知承诺
/// (approval on the subject's commitment) or 容缺受理 (acceptance with materials to follow).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CommitmentOffer)]
struct OfferView<'a> {
    /// Whether either may be offered: false while any reason stands.
    may_offer: bool,
    /// Why not, each fact named: in-force entries of the subject's own on serious lists, then
    /// breaches within the period, the latest first. Empty when it may be offered.
    reasons: Vec<WithheldView<'a>>,
    /// The rule set's `commitment_breach_months`.
    breach_months: u16,
    /// Breaches after this instant count (the instant decided less `breach_months`).
    breaches_counted_after: String,
    /// The subject's latest commitment for this matter in force at the instant decided and not
    /// breached, or null.
    #[schema(required = true, value_type = Option<String>, format = Uuid)]
    on_file: Option<String>,
}

/// One reason the offer is withheld.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CommitmentWithheld)]
struct WithheldView<'a> {
    /// `serious_list`, `recent_breach` or `breaches_unknown`.
    code: &'static str,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_id: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    breach_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commitment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    breached_at: Option<String>,
}

impl<'a> OfferView<'a> {
    fn of(rules: &'a RuleSet, offer: &Offer<'a>) -> Result<OfferView<'a>, ApiError> {
        let reasons = offer
            .withheld
            .iter()
            .map(|withheld| {
                Ok(match withheld {
                    Withheld::SeriousList(entry) => WithheldView {
                        code: "serious_list",
                        message: "the subject has an in-force entry on a serious list (严重失信主体名单): 告知承诺 and 容缺受理 are not offered",
                        list: Some(&rules.list(entry.facts.list).code),
                        entry_id: Some(entry.entry_id()?),
                        breach_id: None,
                        commitment_id: None,
                        breached_at: None,
                    },
                    Withheld::BreachesUnknown => WithheldView {
                        code: "breaches_unknown",
                        message: "the breaches of credit commitments on record could not be read yet: 告知承诺 and 容缺受理 are not offered until they are",
                        list: None,
                        entry_id: None,
                        breach_id: None,
                        commitment_id: None,
                        breached_at: None,
                    },
                    Withheld::RecentBreach(breach) => WithheldView {
                        code: "recent_breach",
                        message: "the subject broke a credit commitment (违诺) within the rule set's commitment_breach_months: 告知承诺 and 容缺受理 are not offered",
                        list: None,
                        entry_id: None,
                        breach_id: Some(breach.breach_id.to_string()),
                        commitment_id: breach.commitment_id.map(|id| id.to_string()),
                        breached_at: Some(breach.breached_at.to_string()),
                    },
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(OfferView {
            may_offer: offer.may_offer,
            reasons,
            breach_months: offer.breach_months,
            breaches_counted_after: offer.breaches_since.to_string(),
            on_file: offer.on_file.map(|id| id.to_string()),
        })
    }
}

/// Why a decision applies a measure: the entry, the measure and its legal basis.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Reason)]
struct ReasonView<'a> {
    topic: &'a str,
    list: &'a str,
    entry_id: Cow<'a, str>,
    /// On a scored list: the entry's score and the level it falls in.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score_level: Option<&'a str>,
    measure: &'a str,
    measure_name: &'a str,
    effect: &'static str,
    effect_label: &'static str,
    category: u8,
    legal_basis: &'a str,
    department: &'a str,
    text: &'a str,
    /// Null unless the subject is reached as a named person of a listed entry.
    #[schema(required = true)]
    via: Option<ViaView<'a>>,
    warnings: Vec<WarningView>,
}

/// The listed entry through which a named person is reached.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ReasonVia)]
struct ViaView<'a> {
    entry_id: Cow<'a, str>,
    role: &'static str,
    subject_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_name: Option<Cow<'a, str>>,
}

/// Something the caller should know about a decision or a reason.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Warning)]
pub(in crate::http) struct WarningView {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<char>,
    /// The type of the identifier the warning names.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_type: Option<&'static str>,
    /// The identifier the warning names (never a person's: legacy identifiers are
    /// organisations').
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

/// The warning naming the entry that took the subject's rewards away.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RewardsSuppressed)]
struct SuppressionView<'a> {
    code: &'static str,
    message: &'static str,
    entry_id: Cow<'a, str>,
    list: &'a str,
}

/// The warning naming a person's current score entry and the entries it supersedes.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScoreSuperseded)]
struct SupersededView<'a> {
    code: &'static str,
    message: &'static str,
    /// The entry whose score counts.
    entry_id: Cow<'a, str>,
    list: &'a str,
    /// The older entries in force beside it, by id.
    superseded: Vec<Cow<'a, str>>,
}

impl WarningView {
    /// A warning that carries no identifier.
    fn new(code: &'static str, message: impl Into<String>, expected: Option<char>) -> WarningView {
        WarningView {
            code,
            message: message.into(),
            expected,
            id_type: None,
            value: None,
        }
    }

    /// Names the older identifier through which an entry was found.
    pub(in crate::http) fn legacy_id_matched(matched: SubjectKey) -> WarningView {
        let id_type = matched.id_type();
        let name = match id_type {
            IdType::RegistrationNumber => "registration number",
            _ => "organisation code",
        };
        WarningView {
            id_type: Some(id_type.as_str()),
            value: Some(matched.to_id_string()),
            ..WarningView::new(
                "legacy_id_matched",
                format!("the entry is listed under another identifier of this subject and was found through the {name} {matched_text}", matched_text = matched.to_id_string()),
                None,
            )
        }
    }

    pub(in crate::http) fn of(warning: &Warning) -> WarningView {
        match *warning {
            Warning::UsccCheckMismatch { expected } => WarningView::new(
                "uscc_check_mismatch",
                format!("the check character fails (expected `{expected}`); looked up exactly as given"),
                Some(expected),
            ),
            Warning::LegacyCheckMismatch { id_type, expected } => WarningView::new(
                match id_type {
                    IdType::RegistrationNumber => "registration_number_check_mismatch",
                    _ => "org_code_check_mismatch",
                },
                format!("the check character fails (expected `{expected}`); looked up exactly as given"),
                Some(expected),
            ),
            Warning::ListsLeftOut => WarningView::new(
                "cold_list_unavailable",
                "cold lists could not be looked up in full (the list source is unreachable and nothing was cached, or it holds an entry these rules cannot read); they were left out of this decision",
                None,
            ),
            Warning::IdCheckMismatch { expected } => WarningView::new(
                "id_check_mismatch",
                format!("the check digit fails (expected `{expected}`); evaluated because this exact ID is listed"),
                Some(expected),
            ),
            Warning::ResidentIdUpgraded { to } => WarningView::new(
                "resident_id_upgraded",
                format!("a 15-digit first-generation resident ID, upgraded to {to} and evaluated as that"),
                None,
            ),
        }
    }
}

/// Names the entry behind a reason; its id (and, for a named person, the listed subject's
/// name) is text, read from the list index's text store. `older` is the subject's older
/// identifier, named when the entry was found through it.
fn reason_view<'a>(
    rules: &'a RuleSet,
    reason: &Reason<'a>,
    older: Option<SubjectKey>,
) -> Result<ReasonView<'a>, ApiError> {
    let mut warnings = Vec::new();
    if reason.under_dispute() {
        let message = if reason.downgraded {
            "the entry is under dispute review; the rule set's dispute policy turned its block into a flag"
        } else {
            "the entry is under dispute review"
        };
        warnings.push(WarningView::new("entry_under_dispute", message, None));
    }
    if let (true, Some(older)) = (reason.through_older_identifier, older) {
        warnings.push(WarningView::legacy_id_matched(older));
    }
    let entry_id = reason.entry.entry_id()?;
    let via = match reason.via {
        Some(role) => Some(ViaView {
            entry_id: entry_id.clone(),
            role: role.as_str(),
            subject_id: reason.entry.subject.to_id_string(),
            subject_name: reason.entry.record(rules)?.subject_name,
        }),
        None => None,
    };
    Ok(ReasonView {
        topic: &reason.topic.code,
        list: &reason.list.code,
        entry_id,
        score: reason.entry.facts.score(),
        score_level: reason
            .entry
            .facts
            .score()
            .and_then(|score| rules.score_level_name(score)),
        measure: &reason.measure.code,
        measure_name: &reason.measure.name,
        effect: reason.effect.as_str(),
        effect_label: reason.effect.label(),
        category: reason.measure.category.into(),
        legal_basis: &reason.measure.legal_basis,
        department: &reason.measure.department,
        text: &reason.measure.text,
        via,
        warnings,
    })
}

/// The schema of what [`DecisionWriter::write`] writes, field for field: it writes by hand, so
/// no derive can say it.
impl utoipa::PartialSchema for DecisionWriter<'_> {
    fn schema() -> RefOr<Schema> {
        let string = || scalar(Type::String);
        let outcomes = Outcome::ALL.map(Outcome::as_str);
        let subject = closed_object(
            vec![("id", string()), ("kind", string()), ("id_type", string())],
            Vec::new(),
        );
        let warning = OneOfBuilder::new()
            .item(reference::<WarningView>())
            .item(reference::<SuppressionView>())
            .item(reference::<SupersededView>());
        let required = vec![
            (
                "decision_id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into(),
            ),
            (
                "decision",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(outcomes))
                    .into(),
            ),
            ("decision_label", string()),
            ("subject", subject),
            ("matter", string()),
            (
                "reasons",
                ArrayBuilder::new().items(reference::<ReasonView>()).into(),
            ),
            ("warnings", ArrayBuilder::new().items(warning).into()),
            ("ruleset", reference::<RuleSetView>()),
            ("lists_version", scalar(Type::Integer)),
            ("evaluated_at", string()),
        ];
        let optional = vec![
            ("department", string()),
            ("case_ref", string()),
            ("replay", only_true()),
            ("commitment", reference::<OfferView>()),
        ];
        closed_object(required, optional)
    }
}

impl utoipa::ToSchema for DecisionWriter<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Decision")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        component::<ReasonView>(schemas);
        component::<WarningView>(schemas);
        component::<SuppressionView>(schemas);
        component::<SupersededView>(schemas);
        component::<OfferView>(schemas);
        component::<WithheldView>(schemas);
        component::<RuleSetView>(schemas);
    }
}
