//! What the index's unit tests share: identifiers, and entries parsed from exchange lines.

use crate::ident::{self, SubjectKey};
use crate::lists::{parse_entries, Entry};
use crate::ruleset::testing::mini;

pub(super) const A: &str = "91230200MA1B2C3D8T";
pub(super) const B: &str = "91230202MA18XK7PXM";
pub(super) const P: &str = "230202198503121238";

pub(super) fn entry(line: &str) -> Entry {
    parse_entries(line.as_bytes(), &mini()).unwrap().remove(0)
}

pub(super) fn key(id: &str) -> SubjectKey {
    ident::parse(id).unwrap().key()
}
