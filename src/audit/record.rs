//! Audit records: what the request path hands over (owned, cheap to build: no hashing, no
//! JSON), and the record the writer makes of it (the subject hashed and, for a person, masked).

use std::fmt::Write;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::engine::{Decision, Outcome};
use crate::ident::{SubjectId, SubjectKind};
use crate::keys::Caller;
use crate::ruleset::{MatterId, RuleSet, TopicKind};
use crate::timestamp::Timestamp;

/// What every decision of one request shares.
pub struct RequestFacts {
    pub rules: Arc<RuleSet>,
    pub lists_version: u64,
    pub matter: MatterId,
    /// The instant the decision was evaluated at, as printed in the answer.
    pub evaluated_at: Arc<str>,
    pub caller: Option<Caller>,
    pub department: Option<String>,
    pub case_ref: Option<String>,
}

/// One decided subject.
pub struct DecisionItem {
    pub decision_id: Uuid,
    pub subject: SubjectId,
    pub outcome: Outcome,
    /// Empty for a decision that no measure applies to (most of them).
    pub reasons: Vec<ReasonRecord>,
}

impl DecisionItem {
    /// `entry_ids` are the reasons' entry ids in the order of `decision.reasons` (the decision
    /// writer reads them for the answer anyway).
    pub fn of(
        decision_id: Uuid,
        subject: SubjectId,
        decision: &Decision<'_>,
        entry_ids: Vec<String>,
    ) -> DecisionItem {
        DecisionItem {
            decision_id,
            subject,
            outcome: decision.outcome,
            reasons: decision
                .reasons
                .iter()
                .zip(entry_ids)
                .map(|(reason, entry_id)| ReasonRecord {
                    topic: reason.topic.code.clone(),
                    measure: reason.measure.code.clone(),
                    list: reason.list.code.clone(),
                    entry_id,
                    effect: reason.effect.as_str().to_owned(),
                    incentive: reason.topic.kind == TopicKind::Incentive,
                })
                .collect(),
        }
    }
}

/// What goes through the register's queue: the decisions of one request, or one profile read.
pub enum Event {
    Decisions {
        facts: RequestFacts,
        items: Vec<DecisionItem>,
    },
    ProfileRead {
        record_id: Uuid,
        subject: SubjectId,
        caller: Option<Caller>,
        rules: Arc<RuleSet>,
        lists_version: u64,
    },
}

impl Event {
    /// How many records the event makes.
    pub fn records(&self) -> usize {
        match self {
            Event::Decisions { items, .. } => items.len(),
            Event::ProfileRead { .. } => 1,
        }
    }

    /// The event's records, each with its subject hashed and a person's ID masked.
    pub fn into_records(self, hasher: &SubjectHasher) -> Vec<AuditRecord> {
        match self {
            Event::Decisions { facts, items } => {
                let caller = facts.caller.as_ref().map(CallerRecord::of);
                let matter = facts.rules.matter(facts.matter).code.clone();
                items
                    .into_iter()
                    .map(|item| {
                        let mut topics: Vec<String> = Vec::new();
                        let mut measures: Vec<String> = Vec::new();
                        for reason in &item.reasons {
                            push_unique(&mut topics, &reason.topic);
                            push_unique(&mut measures, &reason.measure);
                        }
                        AuditRecord {
                            record_id: item.decision_id,
                            kind: RecordKind::Decision,
                            time: time_of(item.decision_id).to_string(),
                            caller: caller.clone(),
                            department: facts.department.clone(),
                            case_ref: facts.case_ref.clone(),
                            matter: Some(matter.clone()),
                            evaluated_at: Some(facts.evaluated_at.to_string()),
                            subject: SubjectRecord::of(&item.subject, hasher),
                            decision: Some(item.outcome.as_str().to_owned()),
                            topics,
                            measures,
                            reasons: item.reasons,
                            ruleset: RuleSetRef::of(&facts.rules),
                            lists_version: facts.lists_version,
                        }
                    })
                    .collect()
            }
            Event::ProfileRead {
                record_id,
                subject,
                caller,
                rules,
                lists_version,
            } => vec![AuditRecord {
                record_id,
                kind: RecordKind::ProfileRead,
                time: time_of(record_id).to_string(),
                caller: caller.as_ref().map(CallerRecord::of),
                department: None,
                case_ref: None,
                matter: None,
                evaluated_at: None,
                subject: SubjectRecord::of(&subject, hasher),
                decision: None,
                topics: Vec::new(),
                measures: Vec::new(),
                reasons: Vec::new(),
                ruleset: RuleSetRef::of(&rules),
                lists_version,
            }],
        }
    }
}

fn push_unique(codes: &mut Vec<String>, code: &str) {
    if !codes.iter().any(|c| c == code) {
        codes.push(code.to_owned());
    }
}

/// The instant in a UUIDv7 (when the service made the id, i.e. when it was asked).
pub fn time_of(id: Uuid) -> Timestamp {
    let ms = id.get_timestamp().map_or(0, |t| {
        let (seconds, nanos) = t.to_unix();
        seconds * 1000 + u64::from(nanos / 1_000_000)
    });
    Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Decision,
    ProfileRead,
}

/// One line of the query register (查询使用登记). A person's full ID number never appears in
/// it: persons are kept as a keyed hash and the masked form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The decision id, or the id of a profile read.
    pub record_id: Uuid,
    pub kind: RecordKind,
    /// When the service was asked (UTC+8).
    pub time: String,
    /// The key that asked; none when the service runs without keys.
    pub caller: Option<CallerRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<String>,
    pub subject: SubjectRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReasonRecord>,
    pub ruleset: RuleSetRef,
    pub lists_version: u64,
}

impl AuditRecord {
    /// The department the record counts for: the one the request named, else the caller's.
    pub fn department(&self) -> Option<&str> {
        self.department
            .as_deref()
            .or(self.caller.as_ref().map(|c| c.department.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRecord {
    pub key_id: String,
    pub department: String,
}

impl CallerRecord {
    pub fn of(caller: &Caller) -> CallerRecord {
        CallerRecord {
            key_id: caller.key_id.clone(),
            department: caller.department.clone(),
        }
    }
}

/// A measure that applied, and the entry it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonRecord {
    pub topic: String,
    pub measure: String,
    pub list: String,
    pub entry_id: String,
    pub effect: String,
    /// Whether the topic is an incentive (守信激励) rather than a penalty.
    #[serde(default)]
    pub incentive: bool,
}

/// The subject as the register keeps it: an organisation's code in full (it is public), a
/// person's only masked; both with a keyed hash, so that the register can be searched for a
/// subject by whoever holds the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRecord {
    pub kind: String,
    pub id_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
    pub hash: String,
}

impl SubjectRecord {
    fn of(subject: &SubjectId, hasher: &SubjectHasher) -> SubjectRecord {
        let person = subject.kind() == SubjectKind::Person;
        SubjectRecord {
            kind: subject.kind().as_str().to_owned(),
            id_type: subject.id_type().as_str().to_owned(),
            id: (!person).then(|| subject.as_str().to_owned()),
            masked: person.then(|| subject.masked().as_str().to_owned()),
            hash: hasher.hash(subject.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetRef {
    pub name: String,
    pub revision: String,
}

impl RuleSetRef {
    fn of(rules: &RuleSet) -> RuleSetRef {
        RuleSetRef {
            name: rules.name.clone(),
            revision: rules.revision.clone(),
        }
    }
}

/// HMAC-SHA-256 of a normalised identifier under the register's secret key, as 32 hex digits.
/// Without the key, a hash cannot be turned back into an ID number by trying every birth date
/// and sequence number.
#[derive(Clone)]
pub struct SubjectHasher {
    mac: Hmac<Sha256>,
}

impl SubjectHasher {
    pub fn new(key: &[u8]) -> SubjectHasher {
        SubjectHasher {
            mac: Hmac::<Sha256>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        }
    }

    /// The hash of a normalised identifier (`SubjectId::as_str`).
    pub fn hash(&self, normalised_id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(normalised_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(32);
        for byte in &digest[..16] {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}
