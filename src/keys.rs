//! Callers' API keys: who may call which endpoints, and how often.
//!
//! A key is `jc_<id>_<secret>`: the id names the key in logs and metrics, the secret is 32
//! random bytes in hex. The keys file holds each key's id, calling department, scopes, optional
//! rate limit and the SHA-256 of the whole key, never the key itself; a presented key is hashed
//! and compared with the stored hash in constant time.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `POST /v1/decide` and `/v1/decide/batch`.
    Decide,
    /// `GET /v1/subjects/{id}`.
    ReadSubject,
    /// Reporting back the measures applied (自动反馈).
    Feedback,
    /// Writing lists, and `/metrics` when it is protected.
    Admin,
    /// Exports and statistics for national reporting.
    Export,
    /// Deciding at an `as_of` far from the server's clock: a decision that is not about today
    /// must be asked for on purpose, since it can answer `allow` for a subject blocked now.
    Replay,
    /// Subscriptions to list changes, the change feed and supervision watchlists, each
    /// department's own.
    Subscribe,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::Decide,
        Scope::ReadSubject,
        Scope::Feedback,
        Scope::Admin,
        Scope::Export,
        Scope::Replay,
        Scope::Subscribe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Decide => "decide",
            Scope::ReadSubject => "read_subject",
            Scope::Feedback => "feedback",
            Scope::Admin => "admin",
            Scope::Export => "export",
            Scope::Replay => "replay",
            Scope::Subscribe => "subscribe",
        }
    }
}

impl FromStr for Scope {
    type Err = KeysError;

    fn from_str(text: &str) -> Result<Scope, KeysError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| KeysError::UnknownScope(text.to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the keys file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("keys file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(
        "unknown scope `{0}`; the scopes are decide, read_subject, feedback, admin, export, replay, subscribe"
    )]
    UnknownScope(String),
    #[error("key `{id}`: {message}")]
    Invalid { id: String, message: String },
    #[error("the key id `{0}` is used twice")]
    DuplicateId(String),
    #[error("keys file {}: no [[key]] table has the id `{id}`", path.display())]
    NoSuchKey { path: PathBuf, id: String },
    #[error("cannot write the keys file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a request's key was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this endpoint needs an API key: send `Authorization: Bearer <key>`")]
    Missing,
    #[error("the Authorization header is not `Bearer jc_<id>_<secret>`")]
    Malformed,
    /// With the id the key gave (an id is not secret: it names the key in logs).
    #[error("the API key is not known")]
    Unknown(String),
    #[error("the API key `{0}` has been revoked")]
    Revoked(String),
    #[error("the API key `{id}` lacks the `{scope}` scope")]
    Forbidden { id: String, scope: &'static str },
    #[error("the API key `{id}` is over its rate limit")]
    RateLimited { id: String, retry_after: Duration },
    /// A batch of more subjects than the key's burst: no wait would let it through.
    #[error("the batch holds {units} subjects, more than the burst of {burst} of the API key `{id}` (a batch counts one unit of the key's rate limit per subject); send batches of at most {burst}")]
    OverBurst {
        id: String,
        units: usize,
        burst: u32,
    },
}

impl Refusal {
    /// The id of the key refused, if the request named one.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Refusal::Missing | Refusal::Malformed => None,
            Refusal::Unknown(id)
            | Refusal::Revoked(id)
            | Refusal::Forbidden { id, .. }
            | Refusal::RateLimited { id, .. }
            | Refusal::OverBurst { id, .. } => Some(id),
        }
    }

    /// A short label of the reason, for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Unknown(_) => "unknown",
            Refusal::Revoked(_) => "revoked",
            Refusal::Forbidden { .. } => "forbidden",
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::OverBurst { .. } => "over_burst",
        }
    }
}

/// One key as the keys file describes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRecord {
    id: String,
    department: String,
    scopes: Vec<String>,
    sha256: String,
    #[serde(default)]
    revoked: bool,
    /// Requests a second, sustained (a batch counts one per subject); none means no limit.
    rate_per_second: Option<u32>,
    /// Requests allowed at once above the rate (the bucket's size, and so the largest batch the
    /// key may send); the rate if not given.
    burst: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default, rename = "key")]
    keys: Vec<KeyRecord>,
}

/// A caller a key identifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
    pub department: String,
}

struct Key {
    caller: Caller,
    scopes: Vec<Scope>,
    hash: [u8; 32],
    revoked: bool,
    limit: Option<Limit>,
}

/// A key's token bucket, shared with the key ring that replaces this one on a reload.
struct Limit {
    limiter: Arc<DefaultDirectRateLimiter>,
    /// The sustained rate, with `burst` what makes a bucket the same after a reload.
    rate: NonZeroU32,
    /// The bucket's size: the most units one request may take.
    burst: NonZeroU32,
}

/// Every configured key, by id.
pub struct KeyRing {
    keys: HashMap<String, Key>,
}

impl KeyRing {
    /// Reads a keys file (TOML, one `[[key]]` table per key).
    pub fn load(path: &Path) -> Result<KeyRing, KeysError> {
        KeyRing::parse(&read(path)?, path)
    }

    /// Reads the keys file again. A key whose rate limit is unchanged keeps its bucket, so a
    /// reload neither refills nor empties it.
    pub fn reload(&self, path: &Path) -> Result<KeyRing, KeysError> {
        let mut ring = KeyRing::load(path)?;
        for (id, key) in &mut ring.keys {
            let kept = self.keys.get(id).and_then(|old| old.limit.as_ref());
            if let (Some(limit), Some(old)) = (&mut key.limit, kept) {
                if (limit.rate, limit.burst) == (old.rate, old.burst) {
                    limit.limiter = Arc::clone(&old.limiter);
                }
            }
        }
        Ok(ring)
    }

    fn parse(text: &str, path: &Path) -> Result<KeyRing, KeysError> {
        let file: KeysFile = toml::from_str(text).map_err(|err| KeysError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        let mut keys = HashMap::new();
        for record in file.keys {
            let id = record.id.clone();
            if keys.insert(id.clone(), Key::from_record(record)?).is_some() {
                return Err(KeysError::DuplicateId(id));
            }
        }
        Ok(KeyRing { keys })
    }

    /// Keys configured, revoked ones included.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Admits the `Authorization` header's key if it has any of `scopes` (none: any valid key),
    /// counting the request against the key's rate limit.
    pub fn admit(&self, authorization: Option<&str>, scopes: &[Scope]) -> Result<Caller, Refusal> {
        let token = authorization
            .ok_or(Refusal::Missing)?
            .strip_prefix("Bearer ")
            .ok_or(Refusal::Malformed)?
            .trim();
        let id = key_id(token).ok_or(Refusal::Malformed)?;
        let unknown = || Refusal::Unknown(id.to_owned());
        let key = self.keys.get(id).ok_or_else(unknown)?;
        if !bool::from(hash(token).ct_eq(&key.hash)) {
            return Err(unknown());
        }
        if key.revoked {
            return Err(Refusal::Revoked(id.to_owned()));
        }
        if let Some(scope) = scopes.first() {
            if !scopes.iter().any(|scope| key.scopes.contains(scope)) {
                // The first scope names what the endpoint is for.
                return Err(Refusal::Forbidden {
                    id: id.to_owned(),
                    scope: scope.as_str(),
                });
            }
        }
        if let Some(limit) = &key.limit {
            limit
                .limiter
                .check()
                .map_err(|not_until| Refusal::RateLimited {
                    id: id.to_owned(),
                    retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                })?;
        }
        Ok(key.caller.clone())
    }

    /// Whether the admitted `caller`'s key has `scope`.
    pub fn permits(&self, caller: &Caller, scope: Scope) -> bool {
        self.keys
            .get(&caller.key_id)
            .is_some_and(|key| key.scopes.contains(&scope))
    }

    /// Counts a request of `units` (a batch's subjects) against the admitted `caller`'s rate
    /// limit, whose admission already counted one of them. More units than the key's burst
    /// could never pass, however long the caller waited, and are refused as such.
    pub fn charge(&self, caller: &Caller, units: usize) -> Result<(), Refusal> {
        let Some(limit) = self
            .keys
            .get(&caller.key_id)
            .and_then(|key| key.limit.as_ref())
        else {
            return Ok(());
        };
        let over_burst = || Refusal::OverBurst {
            id: caller.key_id.clone(),
            units,
            burst: limit.burst.get(),
        };
        if units > limit.burst.get() as usize {
            return Err(over_burst());
        }
        let Some(rest) = u32::try_from(units.saturating_sub(1))
            .ok()
            .and_then(NonZeroU32::new)
        else {
            return Ok(());
        };
        match limit.limiter.check_n(rest) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Refusal::RateLimited {
                id: caller.key_id.clone(),
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
            Err(_) => Err(over_burst()),
        }
    }
}

impl Key {
    fn from_record(record: KeyRecord) -> Result<Key, KeysError> {
        let invalid = |message: String| KeysError::Invalid {
            id: record.id.clone(),
            message,
        };
        if !valid_id(&record.id) {
            return Err(invalid("an id is 8 lower-case hex digits".into()));
        }
        // Feedback belongs to a department, and reports filed while the service ran open have
        // none: a key without one would read them as its own.
        if record.department.trim().is_empty() {
            return Err(invalid(
                "`department` must name the calling department".into(),
            ));
        }
        let hash = decode_hash(&record.sha256)
            .ok_or_else(|| invalid("`sha256` must be 64 hex digits".into()))?;
        let scopes = record
            .scopes
            .iter()
            .map(|scope| scope.parse())
            .collect::<Result<Vec<Scope>, _>>()?;
        let limit = match record.rate_per_second {
            None => None,
            Some(rate) => {
                let rate = NonZeroU32::new(rate)
                    .ok_or_else(|| invalid("`rate_per_second` must be at least 1".into()))?;
                let burst = match record.burst {
                    None => rate,
                    Some(burst) => NonZeroU32::new(burst)
                        .ok_or_else(|| invalid("`burst` must be at least 1".into()))?,
                };
                Some(Limit {
                    limiter: Arc::new(RateLimiter::direct(
                        Quota::per_second(rate).allow_burst(burst),
                    )),
                    rate,
                    burst,
                })
            }
        };
        Ok(Key {
            caller: Caller {
                key_id: record.id,
                department: record.department,
            },
            scopes,
            hash,
            revoked: record.revoked,
            limit,
        })
    }
}

fn read(path: &Path) -> Result<String, KeysError> {
    std::fs::read_to_string(path).map_err(|source| KeysError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A key as `jiangcheng keys list` shows it: never its hash in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    pub id: String,
    pub department: String,
    pub scopes: Vec<String>,
    pub rate_per_second: Option<u32>,
    pub burst: Option<u32>,
    pub revoked: bool,
    /// The first 8 hex digits of the key's SHA-256, to tell two entries apart.
    pub sha256_prefix: String,
}

/// The keys of a keys file in its order, once the file is valid as `serve` reads it.
pub fn list(path: &Path) -> Result<Vec<KeySummary>, KeysError> {
    let text = read(path)?;
    KeyRing::parse(&text, path)?;
    let file: KeysFile = toml::from_str(&text).map_err(|err| KeysError::Parse {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    Ok(file
        .keys
        .into_iter()
        .map(|key| KeySummary {
            sha256_prefix: key.sha256.chars().take(8).collect(),
            id: key.id,
            department: key.department,
            scopes: key.scopes,
            rate_per_second: key.rate_per_second,
            burst: key.burst,
            revoked: key.revoked,
        })
        .collect())
}

/// Whether `revoke` changed the keys file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    AlreadyRevoked,
}

/// Sets `revoked = true` in the `[[key]]` table of `id`, keeping the rest of the file as it is
/// (comments, order, layout). The file is replaced whole, by a rename, with its permissions
/// and owner: a reader sees the old file or the new one, never half of one. The new text must
/// still be a valid keys file. A running service applies it on `SIGHUP`.
pub fn revoke(path: &Path, id: &str) -> Result<Revocation, KeysError> {
    let text = read(path)?;
    KeyRing::parse(&text, path)?;
    let mut document: toml_edit::DocumentMut =
        text.parse()
            .map_err(|err: toml_edit::TomlError| KeysError::Parse {
                path: path.to_path_buf(),
                message: err.to_string(),
            })?;
    let no_such_key = || KeysError::NoSuchKey {
        path: path.to_path_buf(),
        id: id.to_owned(),
    };
    let table = document
        .get_mut("key")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
        .and_then(|tables| {
            tables
                .iter_mut()
                .find(|table| table.get("id").and_then(toml_edit::Item::as_str) == Some(id))
        })
        .ok_or_else(no_such_key)?;
    if table.get("revoked").and_then(toml_edit::Item::as_bool) == Some(true) {
        return Ok(Revocation::AlreadyRevoked);
    }
    table["revoked"] = toml_edit::value(true);
    let revised = document.to_string();
    KeyRing::parse(&revised, path)?;
    replace_file(path, revised.as_bytes()).map_err(|source| KeysError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Revocation::Revoked)
}

/// Writes `bytes` to a new file beside `path`, with its permissions and owner, and renames it
/// over `path`.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // The file a link points to is the one read at start: replacing the link would leave it
    // unrevoked, for a redeployment that restores the link to bring the key back.
    let path = &std::fs::canonicalize(path)?;
    let metadata = std::fs::metadata(path)?;
    crate::durable::replace_preparing(path, bytes, |written| {
        written.set_permissions(metadata.permissions())?;
        std::os::unix::fs::fchown(written, Some(metadata.uid()), Some(metadata.gid()))
    })
}

/// A new key and the `[[key]]` table that configures it.
pub struct NewKey {
    /// The key itself, to hand to the caller once.
    pub token: String,
    pub config: String,
}

/// Makes a key for a department (`jiangcheng keys new`).
pub fn new_key(department: &str, scopes: &[Scope], rate_per_second: Option<u32>) -> NewKey {
    let mut rng = rand::rng();
    let id = format!("{:08x}", rng.next_u32());
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let token = format!("jc_{id}_{}", hex(&secret));
    let scopes: Vec<String> = scopes.iter().map(|s| format!("{:?}", s.as_str())).collect();
    let mut config = format!(
        "[[key]]\nid = \"{id}\"\ndepartment = {}\nscopes = [{}]\nsha256 = \"{}\"\n",
        toml_string(department),
        scopes.join(", "),
        hex(&hash(&token)),
    );
    if let Some(rate) = rate_per_second {
        config.push_str(&format!("rate_per_second = {rate}\n"));
    }
    NewKey { token, config }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The id of a `jc_<id>_<secret>` key.
fn key_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("jc_")?;
    let (id, secret) = rest.split_once('_')?;
    (valid_id(id) && !secret.is_empty()).then_some(id)
}

fn valid_id(id: &str) -> bool {
    id.len() == 8
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (byte, pair) in hash.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(hash)
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(config: &str) -> KeyRing {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        std::fs::write(&path, config).unwrap();
        KeyRing::load(&path).unwrap()
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn a_new_key_is_admitted_for_its_scopes_only() {
        let key = new_key("市公共资源交易中心", &[Scope::Decide], None);
        assert!(
            !key.config.contains(&key.token),
            "the config must not hold the key"
        );
        let keys = ring(&key.config);
        let caller = keys
            .admit(Some(&bearer(&key.token)), &[Scope::Decide])
            .unwrap();
        assert_eq!(caller.department, "市公共资源交易中心");
        assert_eq!(caller.key_id, key_id(&key.token).unwrap());
        assert!(keys.admit(Some(&bearer(&key.token)), &[]).is_ok());
        assert!(keys
            .admit(Some(&bearer(&key.token)), &[Scope::Export, Scope::Decide])
            .is_ok());
        assert!(matches!(
            keys.admit(Some(&bearer(&key.token)), &[Scope::Admin]),
            Err(Refusal::Forbidden { scope: "admin", .. })
        ));
    }

    #[test]
    fn a_wrong_missing_or_revoked_key_is_refused() {
        let key = new_key("d", &[Scope::Decide], None);
        let keys = ring(&key.config);
        let id = key_id(&key.token).unwrap();
        let mut wrong = key.token.clone();
        let last = if wrong.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(wrong.len() - 1.., last);
        assert_eq!(
            keys.admit(Some(&bearer(&wrong)), &[]),
            Err(Refusal::Unknown(id.to_owned()))
        );
        assert_eq!(keys.admit(None, &[]), Err(Refusal::Missing));
        assert_eq!(keys.admit(Some(&key.token), &[]), Err(Refusal::Malformed));
        assert_eq!(
            keys.admit(Some("Bearer jc_xyz"), &[]),
            Err(Refusal::Malformed)
        );
        let revoked = ring(&format!("{}revoked = true\n", key.config));
        assert_eq!(
            revoked.admit(Some(&bearer(&key.token)), &[]),
            Err(Refusal::Revoked(id.to_owned()))
        );
    }

    #[test]
    fn a_key_without_a_department_is_refused() {
        let key = new_key(" ", &[Scope::Feedback], None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        std::fs::write(&path, &key.config).unwrap();
        let Err(err) = KeyRing::load(&path) else {
            panic!("a key without a department was accepted");
        };
        assert!(err.to_string().contains("`department`"), "{err}");
    }

    #[test]
    fn a_key_over_its_burst_is_told_when_to_retry() {
        let key = new_key("d", &[Scope::Decide], Some(1));
        let keys = ring(&format!("{}burst = 2\n", key.config));
        let header = bearer(&key.token);
        for _ in 0..2 {
            assert!(keys.admit(Some(&header), &[Scope::Decide]).is_ok());
        }
        match keys.admit(Some(&header), &[Scope::Decide]) {
            Err(Refusal::RateLimited { retry_after, .. }) => {
                assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
    }

    #[test]
    fn a_batch_takes_a_unit_per_subject_and_one_over_the_burst_never_passes() {
        let key = new_key("d", &[Scope::Decide], Some(1));
        let keys = ring(&format!("{}burst = 4\n", key.config));
        let header = bearer(&key.token);
        let caller = keys.admit(Some(&header), &[Scope::Decide]).unwrap();
        assert!(matches!(
            keys.charge(&caller, 5),
            Err(Refusal::OverBurst {
                units: 5,
                burst: 4,
                ..
            })
        ));
        // Admission took one unit; three more complete a batch of four, and the bucket is empty.
        assert_eq!(keys.charge(&caller, 4), Ok(()));
        assert!(matches!(
            keys.admit(Some(&header), &[Scope::Decide]),
            Err(Refusal::RateLimited { .. })
        ));
        let unlimited = new_key("d", &[Scope::Decide], None);
        let keys = ring(&unlimited.config);
        let caller = keys.admit(Some(&bearer(&unlimited.token)), &[]).unwrap();
        assert_eq!(keys.charge(&caller, 1_000_000), Ok(()));
    }

    #[test]
    fn a_bad_keys_file_names_the_key_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let key = new_key("d", &[Scope::Decide], None);
        for (change, expected) in [
            (
                key.config.replace("\"decide\"", "\"everything\""),
                "unknown scope `everything`",
            ),
            (
                key.config.replace("sha256 = \"", "sha256 = \"zz"),
                "`sha256` must be 64 hex digits",
            ),
            (format!("{0}{0}", key.config), "used twice"),
            (format!("{}rate_per_second = 0\n", key.config), "at least 1"),
        ] {
            std::fs::write(&path, change).unwrap();
            let err = KeyRing::load(&path).err().expect("refused").to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    /// A keys file with a comment, a blank line and a key of each department.
    fn commented_file(dir: &Path) -> (PathBuf, NewKey, NewKey) {
        let (first, second) = (
            new_key("市场监管局", &[Scope::Decide], Some(50)),
            new_key("财政局", &[Scope::Decide, Scope::Export], None),
        );
        let path = dir.join("keys.toml");
        let text = format!(
            "# keys of the procurement platform\n\n{}\n# the finance bureau's\n{}",
            first.config, second.config
        );
        std::fs::write(&path, text).unwrap();
        (path, first, second)
    }

    fn id_of(key: &NewKey) -> &str {
        key_id(&key.token).unwrap()
    }

    #[test]
    fn revoke_marks_one_key_and_keeps_the_files_comments_layout_and_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (path, first, second) = commented_file(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        assert_eq!(revoke(&path, id_of(&second)).unwrap(), Revocation::Revoked);
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after, format!("{before}revoked = true\n"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let keys = KeyRing::load(&path).unwrap();
        assert!(keys
            .admit(Some(&bearer(&first.token)), &[Scope::Decide])
            .is_ok());
        assert_eq!(
            keys.admit(Some(&bearer(&second.token)), &[Scope::Decide]),
            Err(Refusal::Revoked(id_of(&second).to_owned()))
        );
        assert_eq!(
            revoke(&path, id_of(&second)).unwrap(),
            Revocation::AlreadyRevoked
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(
            leftovers, 1,
            "no temporary file is left beside the keys file"
        );
    }

    /// Through a link, the file it points to is revoked and the link kept: replacing the link
    /// would leave the file the service reads at start unrevoked.
    #[test]
    fn revoke_through_a_link_revokes_the_file_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _, second) = commented_file(dir.path());
        let link = dir.path().join("keys-link.toml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(revoke(&link, id_of(&second)).unwrap(), Revocation::Revoked);
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            KeyRing::load(&path)
                .unwrap()
                .admit(Some(&bearer(&second.token)), &[Scope::Decide]),
            Err(Refusal::Revoked(id_of(&second).to_owned()))
        );
    }

    #[test]
    fn revoking_an_unknown_id_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _, _) = commented_file(dir.path());
        let before = std::fs::read_to_string(&path).unwrap();
        let err = revoke(&path, "0badf00d").unwrap_err();
        assert!(matches!(err, KeysError::NoSuchKey { .. }), "{err}");
        assert!(err.to_string().contains("`0badf00d`"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn list_shows_each_key_in_file_order_with_only_the_start_of_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (path, first, second) = commented_file(dir.path());
        revoke(&path, id_of(&first)).unwrap();
        let listed = list(&path).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, id_of(&first));
        assert_eq!(listed[0].department, "市场监管局");
        assert_eq!(listed[0].rate_per_second, Some(50));
        assert!(listed[0].revoked);
        assert_eq!(listed[1].scopes, ["decide", "export"]);
        assert!(!listed[1].revoked);
        let full = hex(&hash(&second.token));
        assert_eq!(listed[1].sha256_prefix, full[..8]);
    }

    #[test]
    fn a_reload_keeps_the_bucket_of_a_key_whose_limit_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let key = new_key("市场监管局", &[Scope::Decide], Some(1));
        let path = dir.path().join("keys.toml");
        std::fs::write(&path, &key.config).unwrap();
        let keys = KeyRing::load(&path).unwrap();
        let authorization = bearer(&key.token);
        assert!(keys.admit(Some(&authorization), &[]).is_ok());
        let reloaded = keys.reload(&path).unwrap();
        assert!(matches!(
            reloaded.admit(Some(&authorization), &[]),
            Err(Refusal::RateLimited { .. })
        ));
    }
}
