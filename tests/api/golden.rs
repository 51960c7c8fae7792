//! The golden case sets: every `tests/golden/*.json` runs against a fresh server loaded with that
//! file's entries, under the shipped rule set or the rule-set folder its `rules` names (relative
//! to the repository). A case set is `{description, rules?, entries, requests}`; each request is
//! `{name, subject, matter, as_of, expect}` where `subject` is an identifier (or a whole subject
//! object) and `expect` is either `{decision, reasons, warnings?, subject?}` or
//! `{error: {status, code}}`. Reasons are compared as an exact set on topic, measure, effect,
//! entry_id, `via.role` and their warning codes. Every failure is reported with its case set and
//! request name.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::helpers::{assert_explained_by, reason_key, reason_keys, spawn_app, Spawn};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSet {
    description: String,
    /// The rule-set folder, relative to the repository; absent = the shipped one.
    #[serde(default)]
    rules: Option<PathBuf>,
    entries: Vec<Value>,
    requests: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    subject: Value,
    matter: String,
    #[serde(default)]
    as_of: Option<String>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    reasons: Option<Vec<ExpectedReason>>,
    /// Decision-level warnings (codes, or `{code, expected}`); absent = not compared.
    #[serde(default)]
    warnings: Option<Vec<ExpectedWarning>>,
    /// Fields of the response's `subject` to compare.
    #[serde(default)]
    subject: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    error: Option<ExpectedError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedReason {
    topic: String,
    measure: String,
    effect: String,
    entry_id: String,
    #[serde(default)]
    via: Option<ExpectedVia>,
    /// Warning codes the reason carries; absent = none.
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedVia {
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExpectedWarning {
    Code(String),
    Full {
        code: String,
        #[serde(default)]
        expected: Option<String>,
        /// For `rewards_suppressed`: the entry that took the rewards away, and its list; for
        /// `score_superseded`: the current score entry, and its list.
        #[serde(default)]
        entry_id: Option<String>,
        #[serde(default)]
        list: Option<String>,
        /// For `score_superseded`: the superseded entries, by id.
        #[serde(default)]
        superseded: Option<Vec<String>>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    status: u16,
    code: String,
}

impl ExpectedReason {
    /// The same key `helpers::reason_key` makes of a response's reason.
    fn key(&self) -> String {
        let mut warnings: Vec<Value> = self.warnings.iter().map(|w| json!({ "code": w })).collect();
        warnings.sort_by_key(|w| w["code"].as_str().map(str::to_owned));
        reason_key(&json!({
            "topic": self.topic, "measure": self.measure, "effect": self.effect,
            "entry_id": self.entry_id,
            "via": self.via.as_ref().map(|v| json!({"role": v.role})),
            "warnings": warnings,
        }))
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn case_set_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn read_case_set(path: &Path) -> CaseSet {
    let text = std::fs::read_to_string(path).expect("read case set");
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{}: not a case set: {err}", path.display()))
}

#[test]
fn the_required_golden_case_sets_exist_and_are_well_formed() {
    let names: Vec<String> = case_set_files()
        .iter()
        .map(|p| {
            p.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for required in [
        "outcome_table",
        "invariants",
        "identifiers",
        "responsible_persons",
        "personal_scores",
        "score_scales",
        "legacy_ids",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "tests/golden/{required}.json is missing (found {names:?})"
        );
    }
    for path in case_set_files() {
        let set = read_case_set(&path);
        let file = path.display();
        assert!(
            !set.description.trim().is_empty(),
            "{file}: empty description"
        );
        assert!(!set.requests.is_empty(), "{file}: no requests");
        let mut seen = std::collections::HashSet::new();
        for case in &set.requests {
            assert!(
                seen.insert(&case.name),
                "{file}: duplicate request name `{}`",
                case.name
            );
            let e = &case.expect;
            match (&e.error, &e.decision, &e.reasons) {
                (Some(_), None, None) if e.warnings.is_none() && e.subject.is_none() => {}
                (None, Some(d), Some(_)) => {
                    assert!(
                        ["allow", "flag", "block"].contains(&d.as_str()),
                        "{file} / {}: decision `{d}`",
                        case.name
                    )
                }
                _ => panic!(
                    "{file} / {}: expect needs either `error` or `decision` and `reasons`",
                    case.name
                ),
            }
        }
    }
}

#[actix_web::test]
async fn every_golden_case_set_gives_the_expected_decisions() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in case_set_files() {
        let set_name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let set = read_case_set(&path);
        let ruleset = ruleset_name(&set);
        let app = match &set.rules {
            Some(rules) => Spawn::entries(&set.entries)
                .rules(Path::new(env!("CARGO_MANIFEST_DIR")).join(rules))
                .start(),
            None => spawn_app(&set.entries),
        };
        for case in &set.requests {
            let what = format!("{set_name} / {}", case.name);
            let subject = match &case.subject {
                Value::String(id) => json!({ "id": id }),
                other => other.clone(),
            };
            let mut body = json!({"subject": subject, "matter": case.matter});
            if let Some(as_of) = &case.as_of {
                body["as_of"] = json!(as_of);
            }
            let response = app.post_decide(&body).await;
            let status = response.status().as_u16();
            let content_type = crate::helpers::header(&response, "content-type");
            let text = response.text().await.expect("body");
            let got: Value = match serde_json::from_str(&text) {
                Ok(value) => value,
                Err(err) => {
                    failures.push(format!(
                        "{what}: status {status}, body is not JSON ({err}): {text}"
                    ));
                    continue;
                }
            };
            checked += 1;
            if let Some(error) = &case.expect.error {
                if status != error.status
                    || got["code"] != error.code.as_str()
                    || content_type != "application/problem+json"
                {
                    failures.push(format!(
                        "{what}: expected {} {} (problem+json), got {status} {content_type}: {got}",
                        error.status, error.code
                    ));
                }
                continue;
            }
            if status != 200 {
                failures.push(format!("{what}: expected 200, got {status}: {got}"));
                continue;
            }
            check_decision(&what, case, &got, &ruleset, &mut failures);
        }
    }
    assert!(checked > 0, "no golden requests were checked");
    assert!(
        failures.is_empty(),
        "{} golden request(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The name the case set's rule set declares in its `ruleset.toml`.
fn ruleset_name(set: &CaseSet) -> String {
    let dir = set
        .rules
        .as_ref()
        .map_or_else(crate::helpers::rules_dir, |rules| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(rules)
        });
    jiangcheng::ruleset::load_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .name
}

fn check_decision(what: &str, case: &Case, got: &Value, ruleset: &str, failures: &mut Vec<String>) {
    let expect = &case.expect;
    if let Some(decision) = &expect.decision {
        if got["decision"] != decision.as_str() {
            failures.push(format!(
                "{what}: expected decision {decision}, got {}",
                got["decision"]
            ));
        }
    }
    if let Some(reasons) = &expect.reasons {
        let mut expected: Vec<String> = reasons.iter().map(ExpectedReason::key).collect();
        expected.sort();
        let actual = reason_keys(got);
        if expected != actual {
            failures.push(format!(
                "{what}: reasons differ\n    expected: {expected:#?}\n    got:      {actual:#?}"
            ));
        }
    }
    if let Some(warnings) = &expect.warnings {
        let actual = got["warnings"].as_array().cloned().unwrap_or_default();
        let matches = actual.len() == warnings.len()
            && warnings.iter().all(|w| {
                actual.iter().any(|a| match w {
                    ExpectedWarning::Code(code) => a["code"] == code.as_str(),
                    ExpectedWarning::Full {
                        code,
                        expected,
                        entry_id,
                        list,
                        superseded,
                    } => {
                        a["code"] == code.as_str()
                            && [
                                ("expected", expected),
                                ("entry_id", entry_id),
                                ("list", list),
                            ]
                            .iter()
                            .all(|(field, want)| {
                                want.as_ref().is_none_or(|w| a[*field] == w.as_str())
                            })
                            && superseded
                                .as_ref()
                                .is_none_or(|ids| a["superseded"] == json!(ids))
                    }
                })
            });
        if !matches {
            failures.push(format!(
                "{what}: expected warnings {warnings:?}, got {}",
                got["warnings"]
            ));
        }
    }
    if let Some(subject) = &expect.subject {
        for (key, value) in subject {
            if &got["subject"][key] != value {
                failures.push(format!(
                    "{what}: subject.{key} expected {value}, got {}",
                    got["subject"][key]
                ));
            }
        }
    }
    if got["matter"] != case.matter.as_str() {
        failures.push(format!("{what}: matter {} in the answer", got["matter"]));
    }
    if let Some(as_of) = &case.as_of {
        let same_instant = chrono::DateTime::parse_from_rfc3339(as_of).ok()
            == got["evaluated_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if !same_instant {
            failures.push(format!(
                "{what}: evaluated_at {} is not as_of {as_of}",
                got["evaluated_at"]
            ));
        }
    }
    let explained = std::panic::catch_unwind(|| assert_explained_by(got, ruleset, what));
    if let Err(panic) = explained {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        failures.push(message);
    }
}
