//! `POST /v1/subject-lists`: a bidder list sent as CSV or an Excel workbook, read into the
//! subjects `POST /v1/decide/batch` takes. It decides nothing, stores nothing and logs nothing
//! of the list.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::body;
use super::problem::{ApiError, XLSX_MEDIA_TYPE};
use super::AppState;
use crate::sheets::{self, Format, SubjectList};

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
    // A list is read as a batch is decided: one of the few batch slots, off the workers.
    let _slot = state.admission.batch(&state)?;
    let bytes = body::read_limited(&req, payload, state.limits.max_body_bytes).await?;
    let (max_rows, limits) = (state.limits.max_batch, state.limits.sheets);
    let list = web::block(move || sheets::read(&bytes, format, max_rows, &limits))
        .await
        .map_err(|_| ApiError::Internal("the list reader stopped".into()))??;
    Ok(HttpResponse::Ok().json(ListView::of(&list)))
}

/// The answer: `subjects` as a batch takes them, and beside them each one's row and name.
#[derive(Serialize)]
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

#[derive(Serialize)]
struct SubjectView<'a> {
    id: &'a str,
}

#[derive(Serialize)]
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
