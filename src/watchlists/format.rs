//! How a watchlist is written down: its subjects as packed keys, 12 bytes each (the key's three
//! 32-bit words, little-endian, in key order), and, in a file, a header and a checksum around
//! them:
//!
//! ```text
//! "JCWATCH1"                      8 bytes, the format
//! header length                   u32 LE
//! header                          JSON: department, name, duplicates, updated_at (ms),
//!                                 updated_by, revision
//! subject count                   u64 LE
//! subjects                        count × 12 bytes
//! CRC-32 of all the above         u32 LE
//! ```
//!
//! Reading checks everything: the format, the lengths, the checksum, that every key packs an
//! identifier the parser accepts and that the keys are in strictly increasing order. What
//! fails any of these is refused whole.

use serde::{Deserialize, Serialize};

use super::{Owner, Stored, Watchlist};
use crate::ident::{self, SubjectId, SubjectKey};
use crate::timestamp::Timestamp;

const MAGIC: &[u8; 8] = b"JCWATCH1";
/// Bytes of one packed subject.
pub(super) const KEY_BYTES: usize = 12;

/// The identifier a key packs, as the parser reads its text (kind and check outcome with it);
/// `None` for a value that packs none.
pub fn subject_of(key: SubjectKey) -> Option<SubjectId> {
    let mut text = [0u8; 18];
    key.write_to(&mut text);
    let text = std::str::from_utf8(&text[..key.id_type().text_len()]).ok()?;
    ident::parse_as(text, key.id_type())
        .ok()
        .filter(|subject| subject.key() == key)
}

/// The keys, packed.
pub(super) fn pack(keys: &[SubjectKey]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys.len() * KEY_BYTES);
    pack_into(keys, &mut out);
    out
}

fn pack_into(keys: &[SubjectKey], out: &mut Vec<u8>) {
    for key in keys {
        for word in key.to_words() {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
}

/// Keys packed by [`pack`], appended to `keys`, each checked to pack an identifier and to
/// follow the one before it.
pub(super) fn unpack_into(bytes: &[u8], keys: &mut Vec<SubjectKey>) -> Result<(), String> {
    if bytes.len() % KEY_BYTES != 0 {
        return Err(format!(
            "{} bytes of subjects are no whole number of {KEY_BYTES}-byte keys",
            bytes.len()
        ));
    }
    for packed in bytes.chunks_exact(KEY_BYTES) {
        let word = |i: usize| {
            let mut four = [0u8; 4];
            four.copy_from_slice(&packed[i * 4..i * 4 + 4]);
            u32::from_le_bytes(four)
        };
        let key = SubjectKey::from_words([word(0), word(1), word(2)]);
        if subject_of(key).is_none() {
            return Err(format!(
                "subject {} packs no valid identifier",
                keys.len() + 1
            ));
        }
        if keys.last().is_some_and(|last| *last >= key) {
            return Err(format!("subject {} is out of order", keys.len() + 1));
        }
        keys.push(key);
    }
    Ok(())
}

/// The header of a file, and the meta data of a watchlist in Redis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(super) struct Header {
    pub department: String,
    pub name: String,
    pub duplicates: u64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    pub updated_by: Option<String>,
    pub revision: String,
    /// Subjects (checked against what is read).
    pub count: u64,
    /// In Redis: the chunks the subjects are in, and the CRC-32 of their bytes in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

impl Header {
    pub(super) fn of(list: &Watchlist) -> Header {
        Header {
            department: list.department.clone(),
            name: list.name.clone(),
            duplicates: list.duplicates,
            updated_at: list.updated_at.0,
            updated_by: list.updated_by.clone(),
            revision: list.revision.clone(),
            count: list.len() as u64,
            chunks: None,
            crc32: None,
        }
    }

    /// The watchlist this header describes, with `subjects`, which must be as many as it says.
    pub(super) fn watchlist(self, subjects: Vec<SubjectKey>) -> Result<Watchlist, String> {
        if subjects.len() as u64 != self.count {
            return Err(format!(
                "it says {} subjects and holds {}",
                self.count,
                subjects.len()
            ));
        }
        Ok(Watchlist::stored(
            Owner {
                department: self.department,
                name: self.name,
                updated_by: self.updated_by,
            },
            subjects,
            Stored {
                duplicates: self.duplicates,
                updated_at: Timestamp(self.updated_at),
                revision: self.revision,
            },
        ))
    }
}

/// A watchlist as a file's bytes.
pub(super) fn encode(list: &Watchlist) -> Result<Vec<u8>, serde_json::Error> {
    let header = serde_json::to_vec(&Header::of(list))?;
    let mut out = Vec::with_capacity(8 + 4 + header.len() + 8 + list.len() * KEY_BYTES + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&(list.len() as u64).to_le_bytes());
    pack_into(list.subjects(), &mut out);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// A file's bytes as a watchlist, or what is wrong with them.
pub(super) fn decode(bytes: &[u8]) -> Result<Watchlist, String> {
    let body_len = bytes
        .len()
        .checked_sub(4)
        .filter(|len| *len >= MAGIC.len() + 4)
        .ok_or("it is too short to be a watchlist file")?;
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err("it does not start as a watchlist file (JCWATCH1)".into());
    }
    let (body, crc) = bytes.split_at(body_len);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err("its checksum does not match: the file is damaged or cut short".into());
    }
    let rest = &body[MAGIC.len()..];
    let (len, rest) = rest.split_at(4);
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if rest.len() < len + 8 {
        return Err("its header is longer than the file".into());
    }
    let (header, rest) = rest.split_at(len);
    let header: Header =
        serde_json::from_slice(header).map_err(|err| format!("its header: {err}"))?;
    let (count, packed) = rest.split_at(8);
    let mut eight = [0u8; 8];
    eight.copy_from_slice(count);
    let count = u64::from_le_bytes(eight);
    if packed.len() as u64 != count.saturating_mul(KEY_BYTES as u64) {
        return Err(format!(
            "it says {count} subjects and holds {} bytes of them",
            packed.len()
        ));
    }
    let mut subjects = Vec::with_capacity(packed.len() / KEY_BYTES);
    unpack_into(packed, &mut subjects)?;
    header.watchlist(subjects)
}
