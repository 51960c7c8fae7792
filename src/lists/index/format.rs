//! The binary list snapshot (`JCSNAP02`): a base written as it is held, read back without
//! parsing, and vouched for by a checksum.

use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::carriers::{Carriers, Embedded};
use super::runs::Runs;
use super::{Base, ListIndex, Named};
use crate::lists::entry::Facts;
use crate::lists::text::TextWriter;
use crate::ruleset::{ListId, Role, RuleSet};

/// Why a list snapshot could not be written to its file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}", path.display())]
pub struct SnapshotFileError {
    pub path: PathBuf,
    source: io::Error,
}

impl ListIndex {
    /// Writes the index as a binary list snapshot: what a load from JSON Lines computes,
    /// ready to be read back without parsing. `revision` is the rule set's, whose list numbers
    /// the facts hold. Only an index without changes can be written (a file load).
    pub fn write_snapshot(&self, out: &mut impl Write, revision: &str) -> io::Result<()> {
        let mut summed = Summed::new(&mut *out);
        self.write_sections(&mut summed, revision)?;
        let sum = summed.sum();
        out.write_all(&sum.to_le_bytes())?;
        out.flush()
    }

    /// Writes [`write_snapshot`](Self::write_snapshot) to the file `out`: beside it first, synced,
    /// then renamed over it, so that a server never reads a half-written snapshot.
    pub fn write_snapshot_file(&self, out: &Path, revision: &str) -> Result<(), SnapshotFileError> {
        let failed = |source| SnapshotFileError {
            path: out.to_path_buf(),
            source,
        };
        let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
        let temp =
            tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(failed)?;
        let mut writer = BufWriter::with_capacity(1 << 20, temp);
        self.write_snapshot(&mut writer, revision).map_err(failed)?;
        let temp = writer
            .into_inner()
            .map_err(|err| failed(err.into_error()))?;
        temp.as_file().sync_all().map_err(failed)?;
        temp.persist(out).map_err(|err| failed(err.error))?;
        Ok(())
    }

    fn write_sections(&self, out: &mut impl Write, revision: &str) -> io::Result<()> {
        if self.overlay_len() > 0 {
            return Err(io::Error::other("an index with changes cannot be written"));
        }
        let base = &self.base;
        out.write_all(SNAPSHOT_MAGIC)?;
        write_u64(out, revision.len() as u64)?;
        out.write_all(revision.as_bytes())?;
        write_u64(out, self.counts.per_list.len() as u64)?;
        write_u64(out, base.facts.len() as u64)?;
        for facts in &base.facts {
            out.write_all(&facts.to_bytes())?;
        }
        base.subjects.write(out)?;
        write_u64(out, base.named.len() as u64)?;
        for named in &base.named {
            out.write_all(&named.row.to_le_bytes())?;
            out.write_all(&named.subject.to_le_bytes())?;
            let role = Role::ALL.iter().position(|r| *r == named.role).unwrap_or(0);
            out.write_all(&[role as u8])?;
        }
        base.persons.write(out)?;
        base.legacy.write(out)?;
        base.embedded.write(out, &base.subjects)?;
        for (start, len) in base.text.spans()? {
            write_u64(out, start)?;
            write_u64(out, len as u64)?;
        }
        write_u64(out, base.text.data_len())?;
        base.text.copy_to(out)?;
        Ok(())
    }

    /// Reads [`write_snapshot`](Self::write_snapshot), refusing a snapshot of another rule set's
    /// revision, one whose parts do not fit together and one whose checksum fails.
    pub(in crate::lists) fn read_snapshot(
        input: &mut impl Read,
        rules: &RuleSet,
    ) -> io::Result<ListIndex> {
        let mut summed = Summed::new(&mut *input);
        let index = ListIndex::read_sections(&mut summed, rules)?;
        let sum = summed.sum();
        if read_u32(input)? != sum {
            return Err(corrupt("the checksum does not match: the file is damaged"));
        }
        if input.read(&mut [0u8; 1])? != 0 {
            return Err(corrupt("bytes after the end"));
        }
        Ok(index)
    }

    fn read_sections(input: &mut impl Read, rules: &RuleSet) -> io::Result<ListIndex> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic)?;
        if &magic != SNAPSHOT_MAGIC {
            return Err(corrupt("not a list snapshot"));
        }
        let mut revision = vec![0u8; read_len(input)?.min(256)];
        input.read_exact(&mut revision)?;
        if revision != rules.revision.as_bytes() || read_len(input)? != rules.lists().len() {
            return Err(corrupt(&format!(
                "made for rule set revision `{}`, not `{}`; make it again",
                String::from_utf8_lossy(&revision),
                rules.revision
            )));
        }
        let lists: Vec<ListId> = rules.lists().map(|(id, _)| id).collect();
        let rows = read_len(input)?;
        let mut facts = Vec::with_capacity(rows);
        let mut bytes = [0u8; 24];
        for _ in 0..rows {
            input.read_exact(&mut bytes)?;
            facts.push(Facts::from_bytes(&bytes, &lists).ok_or_else(|| corrupt("bad facts"))?);
        }
        let subjects = Runs::read(input, rows)?;
        let named_count = read_len(input)?;
        let mut named = Vec::with_capacity(named_count);
        let mut bytes = [0u8; 9];
        for _ in 0..named_count {
            input.read_exact(&mut bytes)?;
            let word =
                |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
            let (row, subject) = (word(0), word(4));
            let role = Role::ALL.get(usize::from(bytes[8])).copied();
            match role {
                Some(role) if (row as usize) < rows && (subject as usize) < subjects.len() => {
                    named.push(Named { row, subject, role })
                }
                _ => return Err(corrupt("bad naming")),
            }
        }
        let persons = Runs::read(input, named_count)?;
        let legacy = Carriers::read(input, subjects.len())?;
        let embedded = Embedded::read(input, subjects.len())?;
        let spans = (0..rows)
            .map(|_| Ok((read_u64(input)?, read_u64(input)?)))
            .collect::<io::Result<Vec<(u64, u64)>>>()?;
        let text_len = read_u64(input)?;
        let mut text = TextWriter::new()?;
        text.append_from(input, text_len)?;
        for (start, len) in spans {
            if start.saturating_add(len) > text_len {
                return Err(corrupt("text out of range"));
            }
            text.push_at(start, len as usize)?;
        }
        let order: Vec<u32> = (0..rows as u32).collect();
        let text = text.finish(&order)?;

        let base = Base {
            facts,
            subjects,
            named,
            persons,
            legacy,
            embedded,
            text,
        };
        Ok(ListIndex::of_base(base, rules.lists().len()))
    }
}

/// The first bytes of a binary list snapshot.
pub(in crate::lists) const SNAPSHOT_MAGIC: &[u8; 8] = b"JCSNAP02";

/// Passes bytes through and keeps their CRC-32, so that a snapshot's last four bytes vouch for
/// all the others.
struct Summed<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<T> Summed<T> {
    fn new(inner: T) -> Summed<T> {
        Summed {
            inner,
            crc: crc32fast::Hasher::new(),
        }
    }

    fn sum(self) -> u32 {
        self.crc.finalize()
    }
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Summed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.crc.update(&buf[..read]);
        Ok(read)
    }
}

pub(super) fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("list snapshot: {why}"))
}

pub(super) fn write_u64(out: &mut impl Write, value: u64) -> io::Result<()> {
    out.write_all(&value.to_le_bytes())
}

pub(super) fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

pub(super) fn read_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut bytes = [0u8; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

/// A count, refused beyond what a 32-bit row number can reach.
pub(super) fn read_len(input: &mut impl Read) -> io::Result<usize> {
    let len = read_u64(input)?;
    if len > u64::from(u32::MAX) {
        return Err(corrupt("count out of range"));
    }
    Ok(len as usize)
}
