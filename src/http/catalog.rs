//! `GET /v1/matters`, `/v1/topics`, `/v1/lists`: the compiled catalogues, with counts.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::openapi::codes;
use super::problem::{ApiError, ProblemKind};
use super::view::RuleSetView;
use super::AppState;
use crate::ruleset::{ListDef, MatterDef, MeasureDef, ScoreScale, TopicDef};

#[derive(Serialize)]
struct Catalog<'a, T: Serialize> {
    ruleset: RuleSetView<'a>,
    count: usize,
    #[serde(flatten)]
    items: T,
}

#[derive(Serialize)]
struct MatterView<'a> {
    #[serde(flatten)]
    matter: &'a MatterDef,
    /// Measures that apply in this matter.
    measures: usize,
}

#[utoipa::path(
    get,
    path = "/v1/matters",
    tag = "catalog",
    description = "The matters a decision can be asked for.",
    responses((status = 200, description = "The matters of the rule set", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::NotReady,
    ])))),
)]
pub async fn matters(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snapshot = state.snapshot()?;
    let rules = &snapshot.rules;
    let matters: Vec<MatterView<'_>> = rules
        .matters()
        .map(|(_, matter)| MatterView {
            matter,
            measures: rules
                .measures()
                .iter()
                .filter(|m| m.matters.contains(&matter.code))
                .count(),
        })
        .collect();
    #[derive(Serialize)]
    struct Items<'a> {
        matters: Vec<MatterView<'a>>,
    }
    Ok(HttpResponse::Ok().json(Catalog {
        ruleset: RuleSetView::of(&snapshot),
        count: matters.len(),
        items: Items { matters },
    }))
}

#[derive(Serialize)]
struct TopicView<'a> {
    #[serde(flatten)]
    topic: &'a TopicDef,
    measure_details: Vec<&'a MeasureDef>,
}

#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "catalog",
    description = "The topics of the rule set, with their measures and legal bases.",
    responses((status = 200, description = "The topics", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::NotReady,
    ])))),
)]
pub async fn topics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snapshot = state.snapshot()?;
    let rules = &snapshot.rules;
    let (incentive, penalty) = rules.topic_counts();
    let topics: Vec<TopicView<'_>> = rules
        .topics()
        .iter()
        .map(|topic| TopicView {
            topic,
            measure_details: topic
                .measures
                .iter()
                .filter_map(|code| rules.measures().iter().find(|m| &m.code == code))
                .collect(),
        })
        .collect();
    #[derive(Serialize)]
    struct Items<'a> {
        incentive: usize,
        penalty: usize,
        topics: Vec<TopicView<'a>>,
    }
    Ok(HttpResponse::Ok().json(Catalog {
        ruleset: RuleSetView::of(&snapshot),
        count: topics.len(),
        items: Items {
            incentive,
            penalty,
            topics,
        },
    }))
}

#[derive(Serialize)]
struct ListView<'a> {
    #[serde(flatten)]
    list: &'a ListDef,
    /// Entries held (in force or not).
    entries: usize,
    /// On a scored list: the scale its scores are read on, with its `assumed` mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    score_scale: Option<&'a ScoreScale>,
}

#[utoipa::path(
    get,
    path = "/v1/lists",
    tag = "catalog",
    description = "The lists the rule set reads, with their entry counts.",
    responses((status = 200, description = "The lists", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::NotReady,
    ])))),
)]
pub async fn lists(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snapshot = state.snapshot()?;
    let lists: Vec<ListView<'_>> = snapshot
        .rules
        .lists()
        .map(|(id, list)| ListView {
            list,
            entries: snapshot.lists.count(id),
            score_scale: snapshot.rules.score_scale.as_ref().filter(|_| list.scored),
        })
        .collect();
    #[derive(Serialize)]
    struct Items<'a> {
        lists_version: u64,
        lists: Vec<ListView<'a>>,
    }
    Ok(HttpResponse::Ok().json(Catalog {
        ruleset: RuleSetView::of(&snapshot),
        count: lists.len(),
        items: Items {
            lists_version: snapshot.lists_version,
            lists,
        },
    }))
}
