//! `POST /v1/subject-lists`: a bidder list sent as CSV or an Excel workbook, read into the
//! subjects `POST /v1/decide/batch` takes. It decides nothing, stores nothing and logs nothing
//! of the list.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::admission::Held;
use super::body;
use super::openapi::codes;
use super::problem::{ApiError, ProblemKind, XLSX_MEDIA_TYPE};
use super::AppState;
use crate::sheets::{self, Format, SubjectList};

#[utoipa::path(
    post,
    path = "/v1/subject-lists",
    tag = "decisions",
    description = "Reads a bidder list sent as CSV (UTF-8, or GB18030 as Chinese Excel writes it) \
                   or as an .xlsx workbook into the `subjects` `POST /v1/decide/batch` takes, \
                   each with its spreadsheet row and name, and the rows that give no subject. \
                   It decides and stores nothing.",
    request_body(content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )),
    responses((status = 200, description = "The list read", body = ListView)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnsupportedListType,
        ProblemKind::UnreadableList,
        ProblemKind::PayloadTooLarge,
        ProblemKind::BatchTooLarge,
        ProblemKind::Overloaded,
    ])))),
)]
pub async fn read(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = match body::media_type(&req).as_str() {
        "text/csv" => Format::Csv,
        XLSX_MEDIA_TYPE => Format::Xlsx,
        _ => {
            return Err(ApiError::UnsupportedListType(body::content_type_shown(
                &req,
            )))
        }
    };
    // A list is read as a batch is decided: one of the few batch slots, off the workers. The
    // reading holds the slot, even if the client goes away meanwhile, and so does the answer
    // until it is sent: a small workbook can name one long string in every row.
    let slot = state.admission.batch(&state)?;
    let bytes = body::read_limited(&req, payload, state.limits.max_body_bytes).await?;
    let (max_rows, limits) = (state.limits.max_batch, state.limits.sheets);
    let (list, slot) = web::block(move || {
        let list = sheets::read(&bytes, format, max_rows, &limits);
        (list, slot)
    })
    .await
    .map_err(|_| ApiError::Internal("the list reader stopped".into()))?;
    let answer = serde_json::to_vec(&ListView::of(&list?))
        .map_err(|err| ApiError::Internal(format!("the list's answer: {err}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(Held::with_slot(answer, slot)))
}

/// The answer: `subjects` as a batch takes them, and beside them each one's row and name.
#[derive(Serialize, utoipa::ToSchema)]
struct ListView<'a> {
    subjects: Vec<SubjectView<'a>>,
    rows: &'a [u32],
    /// `names[i]` is the name of `subjects[i]`, if its row gives one; kept out of `subjects`,
    /// whose members a batch refuses if it does not know them.
    names: Vec<Option<&'a str>>,
    problems: Vec<ProblemView<'a>>,
    sheet: Option<&'a str>,
    format: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SubjectView<'a> {
    id: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ProblemView<'a> {
    row: u32,
    field: &'static str,
    message: &'a str,
}

impl ListView<'_> {
    fn of(list: &SubjectList) -> ListView<'_> {
        ListView {
            subjects: list
                .bidders
                .iter()
                .map(|bidder| SubjectView { id: &bidder.id })
                .collect(),
            rows: &list.rows,
            names: list
                .bidders
                .iter()
                .map(|bidder| bidder.name.as_deref())
                .collect(),
            problems: list
                .problems
                .iter()
                .map(|problem| ProblemView {
                    row: problem.row,
                    field: problem.field,
                    message: &problem.message,
                })
                .collect(),
            sheet: list.sheet.as_deref(),
            format: list.format.as_str(),
        }
    }
}
