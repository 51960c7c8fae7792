//! The decision endpoints' request parser and response writer, reachable from outside the crate
//! only so that `benches/json.rs` measures the code the service runs rather than a copy of it.
//! Hidden from the documentation and not for other callers: it does nothing the endpoints do
//! not, and it keeps no register and counts nothing.

use std::sync::Arc;

use super::request::{self, Clock, Context};
use super::writer::{DecisionWriter, Rendered};
use super::{close_batch, write_item, BatchChunk, Summary};
use crate::app::DecisionIds;
use crate::engine::{BatchItem, Decision};
use crate::http::{AccessConfig, ApiError};
use crate::ident::SubjectId;
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

pub use super::request::Subjects;

/// What every decision of a parsed request shares (its matter, instant and references).
pub struct Request(Context);

/// The server's clock at `now`, with the default allowed skew of `as_of`.
fn clock(now: Timestamp) -> Clock {
    Clock {
        now,
        max_as_of_skew: AccessConfig::default().max_as_of_skew,
    }
}

/// Reads a `POST /v1/decide` body as the endpoint does, at the instant `now`.
pub fn read_decide(
    body: &mut [u8],
    snapshot: &Snapshot,
    now: Timestamp,
) -> Result<(SubjectId, Request), ApiError> {
    request::read_decide(body, snapshot, clock(now))
        .map(|(subject, context)| (subject, Request(context)))
}

/// Reads a `POST /v1/decide/batch` body of at most `max_batch` subjects as the endpoint does.
pub fn read_batch(
    body: &mut [u8],
    snapshot: &Snapshot,
    max_batch: usize,
    now: Timestamp,
) -> Result<(Subjects, Request), ApiError> {
    request::read_batch(body, snapshot, max_batch, clock(now))
        .map(|(subjects, context)| (subjects, Request(context)))
}

/// Writes answers from one snapshot, whose shared parts it renders once, as the service does.
pub struct Writer {
    snapshot: Arc<Snapshot>,
    rendered: Rendered,
}

impl Writer {
    pub fn new(snapshot: Arc<Snapshot>) -> Result<Writer, ApiError> {
        let rendered =
            Rendered::of(&snapshot).map_err(|err| ApiError::Internal(err.to_string()))?;
        Ok(Writer { snapshot, rendered })
    }

    /// Writes the answer of `POST /v1/decide` into `out`.
    pub fn decision(
        &self,
        out: &mut Vec<u8>,
        request: &Request,
        subject: &SubjectId,
        decision: &Decision<'_>,
    ) -> Result<(), ApiError> {
        DecisionWriter::new(&self.rendered, &request.0)?.write(
            out,
            &self.snapshot,
            DecisionIds::new().nth(0),
            subject,
            decision,
        )
    }

    /// Writes the answer of `POST /v1/decide/batch` into `out`: `decisions` are the engine's,
    /// item by item, for `subjects`. The service writes a large batch in chunks on rayon's
    /// threads and joins them; this writes it as one chunk.
    pub fn batch(
        &self,
        out: &mut Vec<u8>,
        request: &Request,
        subjects: &[Result<SubjectId, ApiError>],
        decisions: Vec<BatchItem<'_>>,
    ) -> Result<(), ApiError> {
        let writer = DecisionWriter::new(&self.rendered, &request.0)?;
        let ids = DecisionIds::new();
        let mut chunk = BatchChunk {
            bytes: std::mem::take(out),
            summary: Summary::default(),
        };
        chunk.bytes.extend_from_slice(b"{\"results\":[");
        for (index, (subject, decision)) in subjects.iter().zip(decisions).enumerate() {
            write_item(
                &self.snapshot,
                &writer,
                &mut chunk,
                (index, ids.nth(index)),
                subject,
                decision,
            )?;
        }
        *out = chunk.bytes;
        close_batch(out, chunk.summary, &self.snapshot, &request.0)
    }
}
