//! Admission: what a request holds while it is served, and until when.
//!
//! Every request but the probes takes a slot of the request pool, and a batch also takes a slot
//! of the smaller batch pool, so that a flood of batches leaves slots to single decisions. A
//! request that finds its pool full is shed at once (503 with `Retry-After`), not queued. A
//! slot is held by the answer's body and freed only when that body is dropped: once its last
//! byte is handed to the socket, or the connection is gone. So a client that stops reading its
//! answer keeps its slot, and the answer's memory, until the write timeout aborts the
//! connection (see `socket`), and at most `max_batches_in_flight` batch answers are held at once
//! however many clients stop reading.
//!
//! The pools are the process's, not each worker's: what they bound (memory held by bodies and
//! answers, rayon's threads for batches, the blocking pool for cold lookups) is shared by all
//! workers, and a per-worker count would let it grow with `--workers`.
//!
//! Admission also gives each request body its deadline (`body::Deadline`), and keeps the body
//! itself alive until the answer has been sent: the HTTP framework then closes a connection
//! whose body never finished, where a dropped body would be drained for as long as the client
//! kept trickling it.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::Deadline;
use super::problem::ApiError;
use super::{AppState, Limits};

/// The routes that are never shed: an orchestrator must see a busy service as alive and ready,
/// and its metrics are what shows that it is busy. Compared with the raw path, which equals the
/// routed one whenever it is one of these (they hold nothing to decode).
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Whether `path` is a probe's, which takes no slot.
pub(super) fn is_probe(path: &str) -> bool {
    PROBES.contains(&path)
}

/// The two pools of slots.
pub(super) struct Admission {
    requests: Pool,
    batches: Pool,
}

/// A pool of slots, named for the metrics and the 503's message.
struct Pool {
    what: &'static str,
    limit: usize,
    slots: Arc<Semaphore>,
}

impl Pool {
    fn new(what: &'static str, limit: usize) -> Pool {
        Pool {
            what,
            limit,
            slots: Arc::new(Semaphore::new(limit)),
        }
    }

    /// A free slot, or the 503 that sheds the request (counted).
    fn take(&self, state: &AppState) -> Result<Slot, ApiError> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => Ok(Slot { _permit: permit }),
            Err(_) => {
                state
                    .service
                    .metrics
                    .http_shed
                    .with_label_values(&[self.what])
                    .inc();
                Err(ApiError::Overloaded {
                    what: self.what,
                    limit: self.limit,
                })
            }
        }
    }

    fn in_use(&self) -> usize {
        self.limit - self.slots.available_permits()
    }
}

/// A slot of a pool, given back when dropped.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub(super) fn new(limits: &Limits) -> Admission {
        Admission {
            requests: Pool::new("requests", limits.max_in_flight),
            batches: Pool::new("batches", limits.max_batches_in_flight),
        }
    }

    /// A batch's slot, taken before its body is read; the batch's answer holds it.
    pub(super) fn batch(&self, state: &AppState) -> Result<Slot, ApiError> {
        self.batches.take(state)
    }

    /// Publishes the slots in use (read when metrics are scraped), and the shed counts, zero
    /// until a request is shed.
    pub(super) fn observe(&self, metrics: &crate::metrics::Metrics) {
        for pool in [&self.requests, &self.batches] {
            metrics.http_shed.with_label_values(&[pool.what]).inc_by(0);
            metrics
                .http_in_flight
                .with_label_values(&[pool.what])
                .set(i64::try_from(pool.in_use()).unwrap_or(i64::MAX));
        }
    }
}

/// An answer's body with what its request holds: its slots and its request body.
pub(super) struct Held {
    body: BoxBody,
    _slot: Option<Slot>,
    _request_body: Option<Rc<RefCell<Payload>>>,
}

impl Held {
    /// `body`, holding `slot` until it is dropped.
    pub(super) fn with_slot(body: impl MessageBody + 'static, slot: Slot) -> Held {
        Held {
            body: BoxBody::new(body),
            _slot: Some(slot),
            _request_body: None,
        }
    }
}

impl MessageBody for Held {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// What an admitted request holds until its answer has been sent: its slot (none for a probe)
/// and its body.
pub(super) struct Admitted {
    slot: Option<Slot>,
    request_body: Option<Rc<RefCell<Payload>>>,
}

impl Admitted {
    /// `response`, whose body holds what the request holds.
    pub(super) fn hold<B: MessageBody + 'static>(
        self,
        response: ServiceResponse<B>,
    ) -> ServiceResponse<Held> {
        response.map_body(|_, body| Held {
            body: body.boxed(),
            _slot: self.slot,
            _request_body: self.request_body,
        })
    }
}

/// Sheds a request when the request pool is full: the 503 is its answer, holding its body.
/// Otherwise gives its body a deadline and passes it on with what it holds.
pub(super) fn admit(
    state: &AppState,
    mut req: ServiceRequest,
) -> Result<(ServiceRequest, Admitted), Box<ServiceResponse<Held>>> {
    let slot = if is_probe(req.path()) {
        None
    } else {
        match state.admission.requests.take(state) {
            Ok(slot) => Some(slot),
            Err(shed) => {
                let request_body = Rc::new(RefCell::new(req.take_payload()));
                let response = super::problem::localised(&req, shed.error_response());
                return Err(Box::new(req.into_response(response).map_body(|_, body| {
                    Held {
                        body,
                        _slot: None,
                        _request_body: Some(request_body),
                    }
                })));
            }
        }
    };
    let request_body = match req.take_payload() {
        Payload::None => None,
        payload => {
            let payload = Rc::new(RefCell::new(payload));
            let deadline = Deadline::new(Rc::clone(&payload), state.limits.body_timeout);
            req.set_payload(Payload::Stream {
                payload: Box::pin(deadline),
            });
            Some(payload)
        }
    };
    Ok((req, Admitted { slot, request_body }))
}
