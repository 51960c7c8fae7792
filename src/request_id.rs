//! The id a request goes by: in its answer's `X-Request-Id`, its log lines and its register
//! records, so that one call can be followed from the client through the service. A client's
//! own id is kept when it is sane; otherwise the service makes one.

use std::fmt;
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
}
