//! Audit records: what the request path hands over (owned, cheap to build: no hashing, no
//! JSON), the JSON line the writer makes of it (the subject hashed and, for a person, masked),
//! and the record as it is read back.

use std::borrow::Cow;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::engine::{Decision, Outcome};
use crate::ident::{mask_id_numbers, mask_person_name, IdType, SubjectId};
use crate::keys::Caller;
use crate::request_id::RequestId;
use crate::ruleset::{MatterId, RuleSet, TopicKind};
use crate::timestamp::{Printer, Timestamp};

/// A record ready to be stored: its id and its JSON line (UTF-8, without the line break).
#[derive(Debug, Clone)]
pub struct Line {
    pub record_id: Uuid,
    pub json: Vec<u8>,
}

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
    /// Decided at an `as_of` far from the server's clock: not a case of today.
    pub replay: bool,
    pub request_id: Option<RequestId>,
}

/// One decided subject.
pub struct DecisionItem {
    pub decision_id: Uuid,
    pub subject: SubjectId,
    pub outcome: Outcome,
    /// Empty for a decision that no measure applies to (most of them).
    pub reasons: Vec<ReasonRecord>,
    /// The entry whose list took every reward away (a removed reward must be defensible too).
    pub rewards_suppressed_by: Option<String>,
    /// The subject's name on the entry that matched it, as the entry gives it: the writer
    /// masks a person's. `None` when no entry matched or it names no one.
    pub subject_name: Option<String>,
}

impl DecisionItem {
    /// `entry_ids` are the reasons' entry ids in the order of `decision.reasons`,
    /// `rewards_suppressed_by` the id of the entry that took the rewards away, and
    /// `subject_name` the subject's name on the matching entry (all read from the list index's
    /// text by the service).
    pub fn of(
        decision_id: Uuid,
        subject: SubjectId,
        decision: &Decision<'_>,
        entry_ids: Vec<String>,
        rewards_suppressed_by: Option<String>,
        subject_name: Option<String>,
    ) -> DecisionItem {
        DecisionItem {
            decision_id,
            subject,
            outcome: decision.outcome,
            rewards_suppressed_by,
            subject_name,
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
        request_id: Option<RequestId>,
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
}

/// Makes events into JSON lines (the layout of [`RegisterRecord`]), each with its subject hashed
/// and a person's ID masked. Written by hand, with what records share rendered once: the writer
/// thread shares a core with the request threads, and building owned records and serialising
/// them cost four times as much. One per thread that writes lines, it keeps from one event to
/// the next what does not change: the rule set and list version's part (once per snapshot), the
/// time up to its second, and its buffers.
pub struct LineWriter {
    hasher: SubjectHasher,
    /// The parts of the last event's snapshot.
    snapshot: Option<SnapshotPart>,
    /// Prints the records' times, keeping the last one's second.
    printer: Printer,
    /// What the records of one request share after the head, and the end they share.
    shared: Vec<u8>,
    tail: Vec<u8>,
    /// The buffers of stored lines, for the next lines ([`LineWriter::recycle`]), a batch's at
    /// most.
    spare: Vec<Vec<u8>>,
}

/// What every record of a snapshot (a rule set and a list version) writes the same.
struct SnapshotPart {
    rules: Arc<RuleSet>,
    lists_version: u64,
    /// `,"matter":…` of each matter, by its id.
    matters: Vec<Vec<u8>>,
    /// `,"ruleset":{…},"lists_version":…,"caller":`, the start of the tail.
    tail: Vec<u8>,
}

/// Room in a line for its head, subject and decision: a line of a decision without reasons
/// fits without growing.
const LINE_ROOM: usize = 320;

impl LineWriter {
    pub fn new(hasher: SubjectHasher) -> LineWriter {
        LineWriter {
            hasher,
            snapshot: None,
            printer: Printer::new(),
            shared: Vec::new(),
            tail: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Takes the buffers of lines that were stored (or spilled), so that the next lines are
    /// written into them instead of new ones; empties `lines`.
    pub fn recycle(&mut self, lines: &mut Vec<Line>) {
        let room = super::BATCH.saturating_sub(self.spare.len());
        self.spare
            .extend(lines.drain(..).take(room).map(|line| line.json));
    }

    /// Appends the event's records to `lines`.
    pub fn write(&mut self, event: Event, lines: &mut Vec<Line>) {
        match event {
            Event::Decisions { facts, items } => {
                let part = SnapshotPart::of(&mut self.snapshot, &facts.rules, facts.lists_version);
                shared(&mut self.shared, part, &facts);
                tail(
                    &mut self.tail,
                    part,
                    facts.caller.as_ref(),
                    facts.request_id.as_ref(),
                );
                for item in items {
                    let mut json = self.head(item.decision_id, RecordKind::Decision);
                    json.extend_from_slice(&self.shared);
                    self.subject(&mut json, &item.subject, item.subject_name.as_deref());
                    json.extend_from_slice(b",\"decision\":\"");
                    json.extend_from_slice(item.outcome.as_str().as_bytes());
                    json.push(b'"');
                    if !item.reasons.is_empty() {
                        reasons(&mut json, &item.reasons);
                    }
                    if let Some(entry_id) = &item.rewards_suppressed_by {
                        json.extend_from_slice(b",\"rewards_suppressed_by\":");
                        json_str(&mut json, entry_id);
                    }
                    json.extend_from_slice(&self.tail);
                    lines.push(Line {
                        record_id: item.decision_id,
                        json,
                    });
                }
            }
            Event::ProfileRead {
                record_id,
                subject: read,
                caller,
                rules,
                lists_version,
                request_id,
            } => {
                let part = SnapshotPart::of(&mut self.snapshot, &rules, lists_version);
                tail(&mut self.tail, part, caller.as_ref(), request_id.as_ref());
                let mut json = self.head(record_id, RecordKind::ProfileRead);
                self.subject(&mut json, &read, None);
                json.extend_from_slice(&self.tail);
                lines.push(Line { record_id, json });
            }
        }
    }

    /// `{"record_id":…,"kind":…,"time":…` in a line with room for the rest.
    fn head(&mut self, id: Uuid, kind: RecordKind) -> Vec<u8> {
        let mut json = self.spare.pop().unwrap_or_default();
        json.clear();
        json.reserve(LINE_ROOM + self.shared.len() + self.tail.len());
        let mut uuid = Uuid::encode_buffer();
        json.extend_from_slice(b"{\"record_id\":\"");
        json.extend_from_slice(id.hyphenated().encode_lower(&mut uuid).as_bytes());
        json.extend_from_slice(match kind {
            RecordKind::Decision => b"\",\"kind\":\"decision\",\"time\":\"",
            RecordKind::ProfileRead => b"\",\"kind\":\"profile_read\",\"time\":\"",
        });
        // The printed instant is digits and punctuation: nothing to escape.
        self.printer.write(time_of(id), &mut json);
        json.push(b'"');
        json
    }

    /// `,"subject":{…}`: an organisation's code, a person's masked ID (or one that may be a
    /// person's), the name on the matching entry (a person's masked), and the keyed hash. All
    /// but the name is ASCII letters, digits and `*`: nothing to escape.
    fn subject(&self, json: &mut Vec<u8>, subject: &SubjectId, name: Option<&str>) {
        json.extend_from_slice(b",\"subject\":{\"kind\":\"");
        json.extend_from_slice(subject.kind().as_str().as_bytes());
        json.extend_from_slice(b"\",\"id_type\":\"");
        json.extend_from_slice(subject.id_type().as_str().as_bytes());
        let id = subject.as_str();
        if subject.may_be_person() {
            json.extend_from_slice(b"\",\"masked\":\"");
            json.extend_from_slice(subject.masked().as_str().as_bytes());
        } else {
            json.extend_from_slice(b"\",\"id\":\"");
            json.extend_from_slice(id.as_bytes());
        }
        json.push(b'"');
        if let Some(name) = name {
            json.extend_from_slice(b",\"name\":");
            if subject.may_be_person() {
                json_str(json, &mask_person_name(name));
            } else {
                // An organisation's name is public, but one may hold an ID number.
                json_str(json, &mask_id_numbers(name));
            }
        }
        json.extend_from_slice(b",\"hash\":\"");
        self.hasher.hash_into(id, json);
        json.extend_from_slice(b"\"}");
    }
}

impl SnapshotPart {
    /// The part of the snapshot of `rules` and `lists_version`: `current` if it is that
    /// snapshot's, else rendered into it.
    fn of<'a>(
        current: &'a mut Option<SnapshotPart>,
        rules: &Arc<RuleSet>,
        lists_version: u64,
    ) -> &'a SnapshotPart {
        let stale = current.as_ref().is_none_or(|part| {
            !Arc::ptr_eq(&part.rules, rules) || part.lists_version != lists_version
        });
        if stale {
            *current = None;
        }
        current.get_or_insert_with(|| SnapshotPart::render(rules, lists_version))
    }

    fn render(rules: &Arc<RuleSet>, lists_version: u64) -> SnapshotPart {
        let matters = (rules.matters())
            .map(|(_, matter)| {
                let mut json = b",\"matter\":".to_vec();
                json_str(&mut json, &matter.code);
                json
            })
            .collect();
        let mut tail = Vec::with_capacity(128);
        tail.extend_from_slice(b",\"ruleset\":{\"name\":");
        json_str(&mut tail, &rules.name);
        tail.extend_from_slice(b",\"revision\":");
        json_str(&mut tail, &rules.revision);
        tail.extend_from_slice(b"},\"lists_version\":");
        tail.extend_from_slice(lists_version.to_string().as_bytes());
        tail.extend_from_slice(b",\"caller\":");
        SnapshotPart {
            rules: Arc::clone(rules),
            lists_version,
            matters,
            tail,
        }
    }
}

/// `,"matter":…,"evaluated_at":…` and the request's labels: what a request's decisions share
/// after the head.
fn shared(shared: &mut Vec<u8>, part: &SnapshotPart, facts: &RequestFacts) {
    shared.clear();
    shared.extend_from_slice(&part.matters[facts.matter.index()]);
    shared.extend_from_slice(b",\"evaluated_at\":");
    json_str(shared, &facts.evaluated_at);
    for (key, value) in [
        ("department", &facts.department),
        ("case_ref", &facts.case_ref),
    ] {
        if let Some(value) = value {
            shared.extend_from_slice(b",\"");
            shared.extend_from_slice(key.as_bytes());
            shared.extend_from_slice(b"\":");
            // A caller may write an ID number into its own labels.
            json_str(shared, &mask_id_numbers(value));
        }
    }
    if facts.replay {
        shared.extend_from_slice(b",\"replay\":true");
    }
}

/// The end every record of an event shares: the snapshot's part, the caller and the request id.
fn tail(
    json: &mut Vec<u8>,
    part: &SnapshotPart,
    caller: Option<&Caller>,
    request_id: Option<&RequestId>,
) {
    json.clear();
    json.extend_from_slice(&part.tail);
    match caller {
        Some(caller) => {
            json.extend_from_slice(b"{\"key_id\":");
            json_str(json, &caller.key_id);
            json.extend_from_slice(b",\"department\":");
            json_str(json, &mask_id_numbers(&caller.department));
            json.push(b'}');
        }
        None => json.extend_from_slice(b"null"),
    }
    if let Some(request_id) = request_id {
        json.extend_from_slice(b",\"request_id\":");
        json_str(json, request_id.as_str());
    }
    json.push(b'}');
}

/// `,"topics":[…],"measures":[…],"reasons":[…]` of a decision that applied measures.
fn reasons(json: &mut Vec<u8>, reasons: &[ReasonRecord]) {
    let mut topics: Vec<&str> = Vec::new();
    let mut measures: Vec<&str> = Vec::new();
    for reason in reasons {
        push_unique(&mut topics, &reason.topic);
        push_unique(&mut measures, &reason.measure);
    }
    for (key, value) in [
        (&b",\"topics\":"[..], &topics),
        (b",\"measures\":", &measures),
    ] {
        json.extend_from_slice(key);
        let _ = serde_json::to_writer(&mut *json, value);
    }
    json.extend_from_slice(b",\"reasons\":");
    let _ = serde_json::to_writer(&mut *json, reasons);
}

/// Reads a stored free text masked, so that what an earlier version stored with an ID number
/// whole leaves the register masked all the same.
pub(super) fn masked<'de, D: serde::Deserializer<'de>>(from: D) -> Result<String, D::Error> {
    String::deserialize(from).map(mask_owned)
}

/// [`masked`] for an optional text.
pub(super) fn masked_option<'de, D: serde::Deserializer<'de>>(
    from: D,
) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(from).map(|text| text.map(mask_owned))
}

/// `text` with its ID numbers masked, reusing it when there is none.
pub(super) fn mask_owned(text: String) -> String {
    match mask_id_numbers(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(masked) => masked,
    }
}

/// A string as JSON, quoted and escaped as serde_json escapes it: most texts here have nothing
/// to escape, and are copied as they are.
fn json_str(json: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        // Writing a `str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *json, text);
    } else {
        json.push(b'"');
        json.extend_from_slice(text.as_bytes());
        json.push(b'"');
    }
}

/// Whether JSON escapes any of `text`'s bytes (a quote, a backslash or a control character),
/// looked for eight bytes at a time: a word has a byte below `n` (at most 0x80) exactly when
/// subtracting `n` from each byte sets a top bit that the byte did not have.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const TOPS: u64 = ONES << 7;
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & TOPS != 0;
    let escaped = |word: u64| {
        below(word, 0x20)
            || below(word ^ (ONES * u64::from(b'"')), 1)
            || below(word ^ (ONES * u64::from(b'\\')), 1)
    };
    let mut words = text.chunks_exact(8);
    let mut word = [0u8; 8];
    words.by_ref().any(|chunk| {
        word.copy_from_slice(chunk);
        escaped(u64::from_le_bytes(word))
    }) || (words.remainder().iter()).any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn push_unique<'a>(codes: &mut Vec<&'a str>, code: &'a str) {
    if !codes.contains(&code) {
        codes.push(code);
    }
}

/// An hour in milliseconds: the register files and shards its records by the hour.
pub(super) const HOUR_MS: i64 = 3_600_000;

/// The hour since the epoch that holds `at`.
pub(super) fn hour_of(at: Timestamp) -> i64 {
    at.0.div_euclid(HOUR_MS)
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
pub struct RegisterRecord {
    /// The decision id, or the id of a profile read.
    pub record_id: Uuid,
    pub kind: RecordKind,
    /// When the service was asked (UTC+8).
    pub time: String,
    /// The key that asked; none when the service runs without keys.
    pub caller: Option<CallerRecord>,
    /// The request's own label of its department (free text, masked).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub department: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub case_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<String>,
    /// A decision at an `as_of` far from the server's clock (a replay); not a case.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
    pub subject: SubjectRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReasonRecord>,
    /// The entry whose list took every reward away, when rewards were removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards_suppressed_by: Option<String>,
    pub ruleset: RuleSetRef,
    pub lists_version: u64,
    /// The request's `X-Request-Id` (none in records made before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl RegisterRecord {
    /// The department the record counts for: the one the request named, else the caller's.
    pub fn department(&self) -> Option<&str> {
        self.department
            .as_deref()
            .or(self.caller.as_ref().map(|c| c.department.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Caller)]
pub struct CallerRecord {
    pub key_id: String,
    pub department: String,
}

impl CallerRecord {
    /// The caller as stored: its department masked as every stored text is, so that a
    /// caller compares equal to its stored records.
    pub fn of(caller: &Caller) -> CallerRecord {
        CallerRecord {
            key_id: caller.key_id.clone(),
            department: mask_id_numbers(&caller.department).into_owned(),
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = StoredSubject)]
pub struct SubjectRecord {
    pub kind: String,
    pub id_type: String,
    /// An organisation's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A person's identifier, masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
    /// The name on the entry that matched the subject (奖惩对象名称): an organisation's as the
    /// entry gives it, a person's masked (its first character kept); none when no entry
    /// matched.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "masked_option"
    )]
    pub name: Option<String>,
    /// The register's keyed hash of the identifier (32 hex digits).
    pub hash: String,
}

impl SubjectRecord {
    /// `subject` as the register keeps it, hashed with `hasher`.
    pub fn of(subject: &SubjectId, hasher: &SubjectHasher) -> SubjectRecord {
        let mut hash = Vec::with_capacity(32);
        hasher.hash_into(subject.as_str(), &mut hash);
        let person = subject.id_type() == IdType::ResidentId;
        SubjectRecord {
            kind: subject.kind().as_str().to_owned(),
            id_type: subject.id_type().as_str().to_owned(),
            id: (!person).then(|| subject.as_str().to_owned()),
            masked: person.then(|| subject.masked().to_string()),
            name: None,
            hash: String::from_utf8_lossy(&hash).into_owned(),
        }
    }

    /// The identifier as it may be shown: an organisation's, or a person's masked.
    pub fn shown(&self) -> &str {
        self.id.as_deref().or(self.masked.as_deref()).unwrap_or("")
    }

    /// The hash as a number (`None` for one that is not 32 hex digits).
    pub fn hash_key(&self) -> Option<u128> {
        u128::from_str_radix(&self.hash, 16).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetRef {
    pub name: String,
    pub revision: String,
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

    /// Appends the hash of a normalised identifier (`SubjectId::as_str`) as hex.
    pub fn hash_into(&self, normalised_id: &str, out: &mut Vec<u8>) {
        let mut mac = self.mac.clone();
        mac.update(normalised_id.as_bytes());
        push_hex(out, &mac.finalize().into_bytes()[..16]);
    }
}

/// Appends `bytes` as lower-case hexadecimal digits.
pub(super) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(2 * bytes.len());
    out.extend(
        bytes
            .iter()
            .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::RuleSource;

    /// Each kind of record, with every optional part and text that needs escaping, as bytes: the
    /// register's format, which readers (report, export, other versions) depend on.
    #[test]
    fn records_are_written_byte_for_byte() {
        let mut rules = RuleSource::Embedded.load().expect("the shipped rule set");
        rules.name = "qiqihar \"test\"".into();
        rules.revision = "r1".into();
        let rules = Arc::new(rules);
        let matter = rules
            .matter_id("gov_procurement")
            .expect("a shipped matter");
        let caller = Caller {
            key_id: "key-1".into(),
            department: "科室 230202199001011230".into(),
        };
        let request_id = RequestId::accept(Some(b"req-1"));
        // UUIDv7s at .007 s past a second, and later, one of them in another second and hour.
        let id = |after_ms: u128, n: u128| {
            Uuid::from_u128(((0x019a_d6b1_09f7 + after_ms) << 80) | (0x7 << 76) | (0b10 << 62) | n)
        };
        let company = crate::ident::parse("91230202MA18XK7PXM").expect("a USCC");
        let person = crate::ident::parse("230202199001011230").expect("a resident ID");
        let reason = |measure: &str| ReasonRecord {
            topic: "t\\1".into(),
            measure: measure.into(),
            list: "l".into(),
            entry_id: "e\n1".into(),
            effect: "block".into(),
            incentive: false,
        };
        let event = || Event::Decisions {
            facts: RequestFacts {
                rules: Arc::clone(&rules),
                lists_version: 42,
                matter,
                evaluated_at: "2025-11-13T08:00:00.000+08:00".into(),
                caller: Some(caller.clone()),
                department: Some("dept \"x\" 230202199001011230".into()),
                case_ref: Some("case-7".into()),
                replay: true,
                request_id: Some(request_id.clone()),
            },
            items: vec![
                DecisionItem {
                    decision_id: id(0, 1),
                    subject: company,
                    outcome: Outcome::Block,
                    reasons: vec![reason("m1"), reason("m2"), reason("m1")],
                    rewards_suppressed_by: Some("e\"9".into()),
                    subject_name: Some("齐齐哈尔\"某\"公司 230202199001011230".into()),
                },
                DecisionItem {
                    decision_id: id(0, 2),
                    subject: person,
                    outcome: Outcome::Allow,
                    reasons: Vec::new(),
                    rewards_suppressed_by: None,
                    subject_name: Some(" 张三丰".into()),
                },
            ],
        };
        let bare = || Event::Decisions {
            facts: RequestFacts {
                rules: Arc::clone(&rules),
                lists_version: 0,
                matter,
                evaluated_at: "2025-11-13T08:00:00.000+08:00".into(),
                caller: None,
                department: None,
                case_ref: None,
                replay: false,
                request_id: None,
            },
            items: vec![DecisionItem {
                decision_id: id(993, 3),
                subject: company,
                outcome: Outcome::Flag,
                reasons: Vec::new(),
                rewards_suppressed_by: None,
                subject_name: None,
            }],
        };
        let read = || Event::ProfileRead {
            record_id: id(3_600_005, 4),
            subject: person,
            caller: Some(caller.clone()),
            rules: Arc::clone(&rules),
            lists_version: u64::MAX,
            request_id: Some(request_id.clone()),
        };
        let mut writer = LineWriter::new(SubjectHasher::new(&[7; 32]));
        let mut lines = Vec::new();
        let mut write = |lines: &mut Vec<Line>| {
            writer.recycle(lines);
            for event in [event(), bare(), read()] {
                writer.write(event, lines);
            }
            lines
                .iter()
                .map(|line| String::from_utf8(line.json.clone()).expect("UTF-8"))
                .collect::<Vec<_>>()
        };
        let written = write(&mut lines);
        // Again, into the buffers of the lines before.
        assert_eq!(write(&mut lines), written);
        let expected = [
            r#"{"record_id":"019ad6b1-09f7-7000-8000-000000000001","kind":"decision","time":"2025-12-01T05:35:18.007+08:00","matter":"gov_procurement","evaluated_at":"2025-11-13T08:00:00.000+08:00","department":"dept \"x\" 230202********1230","case_ref":"case-7","replay":true,"subject":{"kind":"enterprise","id_type":"uscc","id":"91230202MA18XK7PXM","name":"齐齐哈尔\"某\"公司 230202********1230","hash":"cbd4cf9cf8f6d4b933252b8442f82ebf"},"decision":"block","topics":["t\\1"],"measures":["m1","m2"],"reasons":[{"topic":"t\\1","measure":"m1","list":"l","entry_id":"e\n1","effect":"block","incentive":false},{"topic":"t\\1","measure":"m2","list":"l","entry_id":"e\n1","effect":"block","incentive":false},{"topic":"t\\1","measure":"m1","list":"l","entry_id":"e\n1","effect":"block","incentive":false}],"rewards_suppressed_by":"e\"9","ruleset":{"name":"qiqihar \"test\"","revision":"r1"},"lists_version":42,"caller":{"key_id":"key-1","department":"科室 230202********1230"},"request_id":"req-1"}"#,
            r#"{"record_id":"019ad6b1-09f7-7000-8000-000000000002","kind":"decision","time":"2025-12-01T05:35:18.007+08:00","matter":"gov_procurement","evaluated_at":"2025-11-13T08:00:00.000+08:00","department":"dept \"x\" 230202********1230","case_ref":"case-7","replay":true,"subject":{"kind":"person","id_type":"resident_id","masked":"230202********1230","name":"张**","hash":"87030fe883e384cd6737685175a0f192"},"decision":"allow","ruleset":{"name":"qiqihar \"test\"","revision":"r1"},"lists_version":42,"caller":{"key_id":"key-1","department":"科室 230202********1230"},"request_id":"req-1"}"#,
            r#"{"record_id":"019ad6b1-0dd8-7000-8000-000000000003","kind":"decision","time":"2025-12-01T05:35:19.000+08:00","matter":"gov_procurement","evaluated_at":"2025-11-13T08:00:00.000+08:00","subject":{"kind":"enterprise","id_type":"uscc","id":"91230202MA18XK7PXM","hash":"cbd4cf9cf8f6d4b933252b8442f82ebf"},"decision":"flag","ruleset":{"name":"qiqihar \"test\"","revision":"r1"},"lists_version":0,"caller":null}"#,
            r#"{"record_id":"019ad6e7-f87c-7000-8000-000000000004","kind":"profile_read","time":"2025-12-01T06:35:18.012+08:00","subject":{"kind":"person","id_type":"resident_id","masked":"230202********1230","hash":"87030fe883e384cd6737685175a0f192"},"ruleset":{"name":"qiqihar \"test\"","revision":"r1"},"lists_version":18446744073709551615,"caller":{"key_id":"key-1","department":"科室 230202********1230"},"request_id":"req-1"}"#,
        ];
        assert_eq!(written, expected);
        let ids: Vec<Uuid> = lines.iter().map(|line| line.record_id).collect();
        assert_eq!(ids, [id(0, 1), id(0, 2), id(993, 3), id(3_600_005, 4)]);
    }

    /// What is copied without serde_json reads as what serde_json writes.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        // Each ASCII character (and some beyond) at each place of a text of two words and a rest.
        let chars = (0..0x80u8).map(char::from).chain(['é', '科', '\u{2028}']);
        let mut texts: Vec<String> = chars
            .flat_map(|c| {
                (0..19).map(move |at| format!("{}{c}{}", "a".repeat(at), "b".repeat(18 - at)))
            })
            .collect();
        texts.extend(["", "科室", "\u{2028}\u{7f}", "\"", "\\"].map(String::from));
        for text in texts {
            let mut json = Vec::new();
            json_str(&mut json, &text);
            assert_eq!(json, serde_json::to_vec(&text).unwrap(), "{text:?}");
        }
    }

    /// Eight bytes at a time find what one at a time does, whatever the bytes beside.
    #[test]
    fn the_escape_test_finds_each_byte_that_needs_one() {
        for fill in [b'a', 0x20, 0x7f, 0x80, 0xff] {
            for byte in 0..=255u8 {
                for at in 0..17 {
                    let mut text = [fill; 17];
                    text[at] = byte;
                    let expected = text.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
                    assert_eq!(
                        needs_escape(&text),
                        expected,
                        "{byte:#x} at {at} among {fill:#x}"
                    );
                }
            }
        }
    }
}
