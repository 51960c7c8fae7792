//! The fast path of [`parse`](super::parse): input that is already normalised, as list files,
//! clients and the generator send it — exactly 18 ASCII bytes, upper case, no spaces. No
//! trimming, no UTF-8 decoding, no case folding: a resident ID's shape is tested eight bytes at
//! a time, and a USCC's bytes are looked up once in its alphabet's table, which yields both the
//! alphabet test and the symbol values from which its check character and packed value follow.
//!
//! It accepts only what the general path accepts, and builds the same [`SubjectId`]: every other
//! input (lower case, spaces, full-width or other characters) and every fault is left to the
//! general path, which reports it.

use super::normalize::Text;
use super::{resident_id, uscc, SubjectId, LEN};

/// The identifier `raw` names, or `None` when the general path has to decide.
#[inline(always)]
pub(super) fn parse(raw: &[u8]) -> Option<SubjectId> {
    let bytes: &[u8; LEN] = raw.try_into().ok()?;
    // The word-at-a-time tests expect ASCII.
    if !bytes.is_ascii() {
        return None;
    }
    let text = Text::ascii(*bytes);
    if resident_id::has_shape(&text) {
        // A resident ID's shape that is no valid one may still be an all-digit USCC: the
        // general path settles which.
        return resident_id::scan(&text)
            .ok()
            .map(|scan| SubjectId::from_resident(&text, scan));
    }
    // Refuses any byte outside the alphabet, lower case included.
    uscc::scan_values(&bytes.map(uscc::value)).map(|scan| SubjectId::from_uscc(*bytes, scan))
}
