//! `GET /v1/matters`, `/v1/topics`, `/v1/lists`: the compiled catalogues, with counts.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::openapi::codes;
use super::problem::{ApiError, ProblemKind};
use super::view::RuleSetView;
use super::AppState;
use crate::ruleset::{ListDef, MatterDef, MeasureDef, ScoreScale, TopicDef};

#[derive(Serialize, utoipa::ToSchema)]
struct Catalog<'a, T: Serialize> {
    ruleset: RuleSetView<'a>,
    count: usize,
    #[serde(flatten)]
    items: T,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Matter)]
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
    responses((status = 200, description = "The matters of the rule set", body = Catalog<Matters>)),
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
    Ok(HttpResponse::Ok().json(Catalog {
        ruleset: RuleSetView::of(&snapshot),
        count: matters.len(),
        items: Matters { matters },
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Topic)]
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
    responses((status = 200, description = "The topics", body = Catalog<Topics>)),
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
    Ok(HttpResponse::Ok().json(Catalog {
        ruleset: RuleSetView::of(&snapshot),
        count: topics.len(),
        items: Topics {
            incentive,
            penalty,
            topics,
        },
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = List)]
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
    responses((status = 200, description = "The lists", body = Catalog<Lists>)),
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
    Ok(HttpResponse::Ok().json(Catalog {
        ruleset: RuleSetView::of(&snapshot),
        count: lists.len(),
        items: Lists {
            lists_version: snapshot.lists_version,
            lists,
        },
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Matters<'a> {
    matters: Vec<MatterView<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Topics<'a> {
    incentive: usize,
    penalty: usize,
    topics: Vec<TopicView<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Lists<'a> {
    lists_version: u64,
    lists: Vec<ListView<'a>>,
}
