//! Compression of large answers (a batch's, the catalogue's) with gzip, or brotli for a client
//! that takes brotli but not gzip: a 10,000-subject batch answer of 3.6 MB becomes 104 KB with
//! gzip and 60 KB with brotli, but brotli adds about eight times gzip's CPU to the batch
//! (docs/performance.md). Small answers, a decision's among them, go out as they are:
//! compressing a kilobyte costs more than sending it. Only the answer's size is looked at for
//! them, so the hot path pays nothing else.

use actix_http::encoding::Encoder;
use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, HeaderValue};
use actix_web::HttpMessage;

/// The encodings offered, in the service's order of preference.
const OFFERED: [Encoding; 2] = [Encoding::gzip(), Encoding::brotli()];

/// `response` compressed if it has at least `min_bytes` (none when 0) and the client accepts
/// brotli or gzip; every answer that size is marked with `Vary: Accept-Encoding`.
pub(super) fn compress<B: MessageBody + 'static>(
    min_bytes: usize,
    response: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<Encoder<B>, B>> {
    let large = match response.response().body().size() {
        BodySize::Sized(size) => min_bytes > 0 && size >= min_bytes as u64,
        BodySize::None | BodySize::Stream => false,
    };
    if !large || response.headers().contains_key(header::CONTENT_ENCODING) {
        return response.map_into_right_body();
    }
    let encoding = response
        .request()
        .get_header::<AcceptEncoding>()
        .and_then(|accepted| {
            OFFERED.into_iter().find(|offered| {
                accepted.negotiate([offered.clone(), Encoding::identity()].iter())
                    == Some(offered.clone())
            })
        })
        .and_then(|encoding| match encoding {
            Encoding::Known(known) => Some(known),
            Encoding::Unknown(_) => None,
        })
        .unwrap_or(ContentEncoding::Identity);
    response.map_body(|head, body| {
        if encoding == ContentEncoding::Identity {
            head.headers
                .append(header::VARY, HeaderValue::from_static("accept-encoding"));
            EitherBody::right(body)
        } else {
            // Sets Content-Encoding and Vary.
            EitherBody::left(Encoder::response(encoding, head, body))
        }
    })
}
