//! The id a request goes by: in its answer's `X-Request-Id`, its log lines and its register
//! records, so that one call can be followed from the client through the service. A client's
//! own id is kept when it is sane; otherwise the service makes one.
//!
//! While a request is served, its id is the thread's current one ([`serving`]), which the log
//! lines name. A tracing span per request did the same for more instructions than deciding:
//! it was registered, formatted and closed for every request, though few ever log a line.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ident::mask_id_numbers;

/// The longest id a client may send.
pub const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Repr);

/// A made id is kept inline, so that making and cloning it (the thread's current request is
/// a clone, each time the request's future runs) allocates nothing and counts no references.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// A UUIDv7's hyphenated text.
    Made([u8; uuid::fmt::Hyphenated::LENGTH]),
    /// A client's sane id.
    Sent(Arc<str>),
}

impl RequestId {
    /// The client's id if it sent one that is sane: 1 to [`MAX_LEN`] HTTP token characters
    /// (letters, digits and ``!#$%&'*+-.^_`|~``), and no resident ID number in it, which would
    /// then reach the logs and the register whole. Anything else is replaced by a new id.
    pub fn accept(sent: Option<&[u8]>) -> RequestId {
        sent.and_then(|sent| std::str::from_utf8(sent).ok())
            .filter(|sent| is_sane(sent))
            .map_or_else(RequestId::new, |sent| RequestId(Repr::Sent(sent.into())))
    }

    /// A new id: a UUIDv7, which sorts by the time it was made.
    pub fn new() -> RequestId {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        next_made().hyphenated().encode_lower(&mut text);
        RequestId(Repr::Made(text))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Hexadecimal digits and hyphens: always UTF-8.
            Repr::Made(text) => std::str::from_utf8(text).unwrap_or_default(),
            Repr::Sent(text) => text,
        }
    }
}

impl Default for RequestId {
    fn default() -> RequestId {
        RequestId::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

thread_local! {
    /// The millisecond of the last id this thread made, and the id's 74 bits after its time.
    static LAST_MADE: Cell<(u64, u128)> = const { Cell::new((0, 0)) };
}

/// The thread's next id, a UUIDv7. The first of a millisecond takes 73 random bits (so that
/// counting up from them never overflows the 74 an id has), the next ones of that millisecond
/// count up from it: the ids one thread makes sort in the order it made them, and those of other
/// threads and instances differ by their random start. A millisecond draws from the random
/// generator once instead of every id, and no lock is shared. A clock set back keeps the last
/// millisecond and counts on.
fn next_made() -> uuid::Uuid {
    /// The version's bits (7) and the variant's (RFC 9562).
    const VERSION: u128 = 0x7 << 76;
    const VARIANT: u128 = 0b10 << 62;
    const RAND_B: u128 = (1 << 62) - 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let (millis, bits) = LAST_MADE.with(|last| {
        let next = match last.get() {
            (millis, bits) if now <= millis => (millis, bits + 1),
            _ => (now, rand::random::<u128>() >> 55),
        };
        last.set(next);
        next
    });
    let millis = u128::from(millis) & ((1 << 48) - 1);
    uuid::Uuid::from_u128(
        (millis << 80) | VERSION | ((bits >> 62) << 64) | VARIANT | (bits & RAND_B),
    )
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

/// The id of the request this thread is serving, if any: the handlers' way to the request's id,
/// which costs no entry in the request's extensions.
pub fn current() -> Option<RequestId> {
    with_current(|id| id.cloned())
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
    fn made_ids_are_uuid_v7_of_now_in_the_order_they_were_made() {
        let since_epoch = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let before = since_epoch().as_millis() as u64;
        let made: Vec<uuid::Uuid> = (0..2_000)
            .map(|_| uuid::Uuid::parse_str(RequestId::new().as_str()).expect("a UUID"))
            .collect();
        let after = since_epoch().as_millis() as u64;
        for id in &made {
            assert_eq!(id.get_version_num(), 7, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
            let (seconds, nanos) = id.get_timestamp().expect("a time stamp").to_unix();
            let millis = seconds * 1000 + u64::from(nanos) / 1_000_000;
            assert!((before..=after).contains(&millis), "{id}");
        }
        assert!(made.windows(2).all(|pair| pair[0] < pair[1]), "{made:?}");
        // Another thread starts its own sequence.
        let other = std::thread::spawn(RequestId::new).join().unwrap();
        assert!(made.iter().all(|id| id.to_string() != other.as_str()));
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
