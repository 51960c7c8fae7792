//! A department's subscription: where its events go, the secret they are signed with, and which
//! events it wants.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::address::Networks;
use crate::events::{Event, EventType};
use crate::ident::SubjectKey;
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// The shortest secret taken: a signature is only as strong as its secret.
pub const MIN_SECRET_CHARS: usize = 16;
pub const MAX_SECRET_CHARS: usize = 256;
pub const MAX_URL_CHARS: usize = 2048;

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    /// The department whose key made it ("" when the service runs open).
    pub department: String,
    pub url: String,
    pub secret: String,
    /// The event types wanted (`None`: all).
    pub events: Option<Vec<String>>,
    /// The lists wanted (`None`: all).
    pub lists: Option<Vec<String>>,
    /// Only events naming a subject on this watchlist of the department.
    pub watchlist: Option<String>,
    pub created_at: String,
}

/// A field of a subscription that is not right, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Subscription {
    /// Reads a `POST /v1/subscriptions` body for `department`, checking every field: the URL
    /// (http or https, to an address `networks` allows), the secret's length, the event types
    /// and the lists (`rules`' codes). Every problem is named.
    pub fn read(
        body: Map<String, Value>,
        department: &str,
        rules: &RuleSet,
        networks: &Networks,
        at: Timestamp,
    ) -> Result<Subscription, Vec<Invalid>> {
        let mut errors = Vec::new();
        let mut subscription = Subscription {
            id: uuid::Uuid::now_v7().to_string(),
            department: department.to_owned(),
            url: String::new(),
            secret: String::new(),
            events: None,
            lists: None,
            watchlist: None,
            created_at: at.to_string(),
        };
        for (name, value) in body {
            match (name.as_str(), value) {
                ("url", Value::String(url)) => match networks.check_url(&url) {
                    Ok(()) if url.chars().count() <= MAX_URL_CHARS => subscription.url = url,
                    Ok(()) => errors.push(invalid(
                        "url",
                        format!("is longer than {MAX_URL_CHARS} characters"),
                    )),
                    Err(why) => errors.push(invalid("url", why)),
                },
                ("secret", Value::String(secret)) => {
                    let chars = secret.chars().count();
                    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars) {
                        errors.push(invalid(
                            "secret",
                            format!("must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters long (it is {chars})"),
                        ));
                    } else {
                        subscription.secret = secret;
                    }
                }
                ("events", Value::Array(items)) => {
                    subscription.events = Some(codes(
                        "events",
                        items,
                        |code| EventType::parse(code).is_some(),
                        &format!(
                            "is not an event type; the types are {}",
                            EventType::ALL.map(EventType::as_str).join(", ")
                        ),
                        &mut errors,
                    ));
                }
                ("lists", Value::Array(items)) => {
                    subscription.lists = Some(codes(
                        "lists",
                        items,
                        |code| rules.list_id(code).is_some(),
                        "is not a list of the rule set (GET /v1/lists)",
                        &mut errors,
                    ));
                }
                ("watchlist", Value::String(name)) if !name.is_empty() && name.len() <= 128 => {
                    subscription.watchlist = Some(name);
                }
                ("watchlist", Value::String(_)) => {
                    errors.push(invalid(
                        "watchlist",
                        "must name a watchlist (1 to 128 bytes)",
                    ));
                }
                ("events" | "lists", Value::Null) | ("watchlist", Value::Null) => {}
                ("url" | "secret" | "watchlist", _) => {
                    errors.push(invalid(name, "must be a string"));
                }
                ("events" | "lists", _) => {
                    errors.push(invalid(name, "must be an array of strings"));
                }
                _ => errors.push(invalid(name, "is not a member of a subscription")),
            }
        }
        for (field, missing) in [
            ("url", subscription.url.is_empty()),
            ("secret", subscription.secret.is_empty()),
        ] {
            if missing && !errors.iter().any(|e| e.field == field) {
                errors.push(invalid(field, "is required"));
            }
        }
        if errors.is_empty() {
            Ok(subscription)
        } else {
            Err(errors)
        }
    }

    /// Whether `event` is one this subscription wants; `on_watchlist` says whether a subject
    /// is on its watchlist.
    pub fn wants(&self, event: &Event, on_watchlist: impl Fn(SubjectKey) -> bool) -> bool {
        self.events
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == event.kind.as_str()))
            && self
                .lists
                .as_ref()
                .is_none_or(|lists| lists.contains(&event.list))
            && (self.watchlist.is_none() || event.subjects.iter().any(|&s| on_watchlist(s)))
    }

    /// The subscription as its department sees it: everything but the secret, of which the
    /// last four characters are shown.
    pub fn shown(&self) -> Value {
        let hint: String = {
            let chars: Vec<char> = self.secret.chars().collect();
            chars[chars.len().saturating_sub(4)..].iter().collect()
        };
        serde_json::json!({
            "id": self.id,
            "department": self.department,
            "url": self.url,
            "secret_hint": format!("…{hint}"),
            "events": self.events,
            "lists": self.lists,
            "watchlist": self.watchlist,
            "created_at": self.created_at,
        })
    }
}

/// An array of codes, each checked by `known`, without repeats.
fn codes(
    field: &str,
    items: Vec<Value>,
    known: impl Fn(&str) -> bool,
    unknown: &str,
    errors: &mut Vec<Invalid>,
) -> Vec<String> {
    let mut kept = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(code) if known(&code) => {
                if !kept.contains(&code) {
                    kept.push(code);
                }
            }
            Value::String(code) => errors.push(invalid(
                format!("{field}[{i}]"),
                format!("`{}` {unknown}", crate::ident::mask_id_numbers(&code)),
            )),
            _ => errors.push(invalid(format!("{field}[{i}]"), "must be a string")),
        }
    }
    if kept.is_empty() && errors.iter().all(|e| !e.field.starts_with(field)) {
        errors.push(invalid(
            field,
            "must name at least one, or be left out for all",
        ));
    }
    kept
}
