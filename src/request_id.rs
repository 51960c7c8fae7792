//! The id a request goes by: in its answer's `X-Request-Id`, its log lines and its register
//! records, so that one call can be followed from the client through the service. A client's
//! own id is kept when it is sane; otherwise the service makes one.
//!
//! While a request is served, its id is the thread's current one ([`serving`]), which the log
//! lines name. A tracing span per request did the same for more instructions than deciding:
//! it was registered, formatted and closed for every request, though few ever log a line.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::ident::mask_id_numbers;

/// The longest id a client may send.
pub const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The client's id if it sent one that is sane: 1 to [`MAX_LEN`] HTTP token characters
    /// (letters, digits and ``!#$%&'*+-.^_`|~``), and no resident ID number in it, which would
    /// then reach the logs and the register whole. Anything else is replaced by a new id.
    pub fn accept(sent: Option<&[u8]>) -> RequestId {
        sent.and_then(|sent| std::str::from_utf8(sent).ok())
            .filter(|sent| is_sane(sent))
            .map_or_else(RequestId::new, |sent| RequestId(sent.into()))
    }

    /// A new id: a UUIDv7, which sorts by the time it was made.
    pub fn new() -> RequestId {
        let mut text = uuid::Uuid::encode_buffer();
        RequestId((*uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text)).into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> RequestId {
        RequestId::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

thread_local! {
    /// The id of the request this thread is serving at the moment.
    static SERVING: RefCell<Option<RequestId>> = const { RefCell::new(None) };
}

/// Runs `future` as request `id`'s: whenever it runs, `id` is its thread's current request.
pub async fn serving<F: Future>(id: RequestId, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| id.serve(|| future.as_mut().poll(cx))).await
}

/// Calls `f` with the id of the request this thread is serving, if any.
pub fn with_current<T>(f: impl FnOnce(Option<&RequestId>) -> T) -> T {
    SERVING.with(|serving| match serving.try_borrow() {
        Ok(current) => f(current.as_ref()),
        Err(_) => f(None),
    })
}

impl RequestId {
    /// Runs `f` with this id as the thread's current request, then restores the one before.
    pub fn serve<T>(&self, f: impl FnOnce() -> T) -> T {
        /// Restores the request before, even if `f` unwinds.
        struct Restore(Option<RequestId>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let before = self.0.take();
                SERVING.with(|serving| *serving.borrow_mut() = before);
            }
        }
        let _restore = Restore(SERVING.with(|serving| serving.replace(Some(self.clone()))));
        f()
    }
}

fn is_sane(sent: &str) -> bool {
    (1..=MAX_LEN).contains(&sent.len())
        && sent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && matches!(mask_id_numbers(sent), std::borrow::Cow::Borrowed(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_id_is_kept_and_anything_else_replaced() {
        let kept = "req-01HZ.abc_~42";
        assert_eq!(RequestId::accept(Some(kept.as_bytes())).as_str(), kept);
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(
            RequestId::accept(Some(longest.as_bytes())).as_str(),
            longest
        );
        for bad in [
            "".to_owned(),
            "a".repeat(MAX_LEN + 1),
            "two words".to_owned(),
            "quote\"d".to_owned(),
            "ctrl\u{7}".to_owned(),
            "中文".to_owned(),
            // A resident ID number (check character valid) inside an id.
            "q-230202198503121238".to_owned(),
        ] {
            let replaced = RequestId::accept(Some(bad.as_bytes()));
            assert_ne!(replaced.as_str(), bad);
            let made = uuid::Uuid::parse_str(replaced.as_str()).expect("a UUID");
            assert_eq!(made.get_version_num(), 7, "{bad:?}");
        }
        assert_ne!(RequestId::accept(None), RequestId::accept(None));
        assert!(RequestId::accept(Some(&[0xff, 0x41])).as_str().len() == 36);
    }

    #[test]
    fn a_request_is_current_while_it_runs_and_the_one_before_again_after() {
        let current = || with_current(|id| id.map(|id| id.as_str().to_owned()));
        let outer = RequestId::accept(Some(b"outer"));
        let inner = RequestId::accept(Some(b"inner"));
        assert_eq!(current(), None);
        outer.serve(|| {
            assert_eq!(current().as_deref(), Some("outer"));
            inner.serve(|| assert_eq!(current().as_deref(), Some("inner")));
            assert_eq!(current().as_deref(), Some("outer"));
        });
        assert_eq!(current(), None);
        let served = actix_web::rt::System::new().block_on(serving(inner, async { current() }));
        assert_eq!(served.as_deref(), Some("inner"));
        assert_eq!(current(), None);
    }
}
