//! Entry text (identifiers, names, reasons, legal documents) kept off the heap.
//!
//! A decision reads only an entry's [`Facts`](super::Facts); its text is needed to name a hit or
//! show a profile. The text is each entry's exchange JSON, read back with a positional read
//! when asked for, so the text of ten million entries costs disk and the kernel's page cache
//! (shared, evictable), not resident memory.
//!
//! An index loaded from a list file reads the text from a private copy of that file, at the
//! offsets where its lines were; other indexes (Redis loads, changes folded in) write each
//! entry's JSON to a temporary file. Both files are unlinked, so no other process can reach
//! them, and where each row's text lies is a table in such a file, not on the heap. A text that
//! no longer names the subject the index holds there (a list file changed while it was being
//! loaded) is refused as `TextError::Changed`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Lines longer than this are refused when stored (a span keeps the length in 24 bits).
const MAX_TEXT: usize = (1 << 24) - 1;
/// Offsets beyond this are refused (a span keeps the offset in 40 bits: 1 TiB).
const MAX_OFFSET: u64 = (1 << 40) - 1;

/// Why an entry's text could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("cannot read entry text: {0}")]
    Read(#[from] io::Error),
    #[error("stored entry text is not a valid entry: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the list file changed while it was loaded; reload it to read its entries")]
    Changed,
}

/// Where one entry's text lies: offset in the low 40 bits, length in the high 24.
#[derive(Debug, Clone, Copy)]
struct Span(u64);

impl Span {
    fn new(start: u64, len: usize) -> io::Result<Span> {
        if start > MAX_OFFSET || len > MAX_TEXT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "entry text too long or too far into its file",
            ));
        }
        Ok(Span(start | (len as u64) << 40))
    }

    fn start(self) -> u64 {
        self.0 & MAX_OFFSET
    }

    fn len(self) -> usize {
        (self.0 >> 40) as usize
    }

    fn read(self, file: &File) -> io::Result<Vec<u8>> {
        let mut text = vec![0u8; self.len()];
        file.read_exact_at(&mut text, self.start())?;
        Ok(text)
    }
}

/// Collects the spans of entries' text, writing the text itself unless it is already in a file.
pub(super) struct TextWriter {
    /// Where the text is written, or `None` when it stays in `source`.
    out: Option<BufWriter<File>>,
    source: Option<Arc<File>>,
    len: u64,
    /// Where each pushed entry's text lies.
    spans: Vec<Span>,
}

impl TextWriter {
    /// A writer that copies text to a temporary file.
    pub fn new() -> io::Result<TextWriter> {
        Ok(TextWriter {
            out: Some(BufWriter::with_capacity(1 << 20, tempfile::tempfile()?)),
            source: None,
            len: 0,
            spans: Vec::new(),
        })
    }

    /// A writer for text that stays in `source`, pushed with [`push_at`](Self::push_at).
    pub fn over(source: File) -> TextWriter {
        TextWriter {
            out: None,
            source: Some(Arc::new(source)),
            len: 0,
            spans: Vec::new(),
        }
    }

    /// Copies an entry's text to the file.
    pub fn push(&mut self, json: &[u8]) -> io::Result<()> {
        let out = self.out.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::Unsupported, "text stays in its source file")
        })?;
        self.spans.push(Span::new(self.len, json.len())?);
        out.write_all(json)?;
        self.len += json.len() as u64;
        Ok(())
    }

    /// Records an entry whose text is already in the file at `start`.
    pub fn push_at(&mut self, start: u64, len: usize) -> io::Result<()> {
        self.spans.push(Span::new(start, len)?);
        Ok(())
    }

    /// Copies every text of `store` to the end of the file, returning where the copy starts
    /// (so that `store`'s spans move by that much): compaction moves ten million texts in one
    /// copy instead of one read and one write each.
    pub fn append_store(&mut self, store: &TextStore) -> io::Result<u64> {
        let at = self.len;
        let out = self.flushed()?;
        self.len += store.copy_to(out)?;
        Ok(at)
    }

    /// Copies `len` bytes of text from `reader` to the end of the file, returning where they
    /// start.
    pub fn append_from(&mut self, reader: &mut impl Read, len: u64) -> io::Result<u64> {
        let at = self.len;
        let copied = io::copy(&mut reader.take(len), self.flushed()?)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "entry text cut short",
            ));
        }
        self.len += copied;
        Ok(at)
    }

    /// The file, with everything pushed so far written to it.
    fn flushed(&mut self) -> io::Result<&mut File> {
        let out = self.out.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::Unsupported, "text stays in its source file")
        })?;
        out.flush()?;
        Ok(out.get_mut())
    }

    /// The text of the `pushed`-th entry, read back (for the rare entries whose id hashes
    /// collide when a file is checked for duplicates).
    pub fn text(&mut self, pushed: u32) -> io::Result<Vec<u8>> {
        let span = self.spans[pushed as usize];
        match (&mut self.out, &self.source) {
            (Some(out), _) => {
                out.flush()?;
                span.read(out.get_ref())
            }
            (None, Some(source)) => span.read(source),
            (None, None) => Err(io::Error::other("a text writer has a file")),
        }
    }

    /// The store of the text, whose row `i` is the `order[i]`-th entry pushed.
    pub fn finish(self, order: &[u32]) -> io::Result<TextStore> {
        if order.is_empty() {
            return Ok(TextStore::default());
        }
        let (mut table, data, data_len) = match (self.out, self.source) {
            (Some(out), _) => {
                let data = Arc::new(out.into_inner().map_err(|err| err.into_error())?);
                let table = BufWriter::new(data.try_clone()?);
                (table, data, self.len)
            }
            (None, Some(source)) => {
                let len = source.metadata()?.len();
                (BufWriter::new(tempfile::tempfile()?), source, len)
            }
            (None, None) => return Err(io::Error::other("a text writer has a file")),
        };
        // The table goes after the text in a file of our own, or alone in a new one.
        let table_at = table.seek(io::SeekFrom::End(0))?;
        for &pushed in order {
            table.write_all(&self.spans[pushed as usize].0.to_le_bytes())?;
        }
        let table = table.into_inner().map_err(|err| err.into_error())?;
        Ok(TextStore {
            data: Some(data),
            data_len,
            table: Some(Arc::new(table)),
            table_at,
            rows: order.len() as u32,
        })
    }
}

/// The stored text of an index's rows.
#[derive(Debug, Default, Clone)]
pub(super) struct TextStore {
    data: Option<Arc<File>>,
    /// Bytes of `data` that hold text (a copy takes these).
    data_len: u64,
    table: Option<Arc<File>>,
    table_at: u64,
    rows: u32,
}

impl TextStore {
    fn span(&self, row: u32) -> io::Result<Span> {
        let table = self.table.as_deref().filter(|_| row < self.rows);
        let table = table.ok_or_else(|| io::Error::other("no such row of entry text"))?;
        let mut slot = [0u8; 8];
        table.read_exact_at(&mut slot, self.table_at + u64::from(row) * 8)?;
        Ok(Span(u64::from_le_bytes(slot)))
    }

    /// Where every row's text starts and how long it is, in one read.
    pub fn spans(&self) -> io::Result<Vec<(u64, usize)>> {
        let Some(table) = &self.table else {
            return Ok(Vec::new());
        };
        let mut bytes = vec![0u8; self.rows as usize * 8];
        table.read_exact_at(&mut bytes, self.table_at)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|slot| {
                let span = Span(u64::from_le_bytes(slot.try_into().unwrap_or_default()));
                (span.start(), span.len())
            })
            .collect())
    }

    /// Bytes of text, which [`copy_to`](Self::copy_to) copies and spans point into.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// Copies all the text to `out`.
    pub fn copy_to(&self, out: &mut impl Write) -> io::Result<u64> {
        let Some(data) = &self.data else {
            return Ok(0);
        };
        let mut from = data.try_clone()?;
        from.rewind()?;
        io::copy(&mut (&mut from).take(self.data_len), out)
    }

    /// The exchange JSON of `row`.
    pub fn get(&self, row: u32) -> io::Result<Vec<u8>> {
        let data = self.data.as_deref();
        let data = data.ok_or_else(|| io::Error::other("no such row of entry text"))?;
        self.span(row)?.read(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_the_text_pushed_in_their_order() {
        let long = format!(r#"{{"reason":"{}"}}"#, "长".repeat(400));
        let mut writer = TextWriter::new().unwrap();
        writer.push(long.as_bytes()).unwrap();
        writer.push(b"{}").unwrap();
        assert_eq!(writer.text(1).unwrap(), b"{}");
        let store = writer.finish(&[1, 0]).unwrap();
        assert_eq!(store.get(0).unwrap(), b"{}");
        assert_eq!(store.get(1).unwrap(), long.as_bytes());
        assert!(store.get(2).is_err());
        assert!(TextStore::default().get(0).is_err());

        // Compaction's copy keeps every text at the same distance from the copy's start.
        let mut next = TextWriter::new().unwrap();
        next.push(b"[]").unwrap();
        let at = next.append_store(&store).unwrap();
        for (start, len) in store.spans().unwrap() {
            next.push_at(at + start, len).unwrap();
        }
        let copied = next.finish(&[2, 0, 1]).unwrap();
        assert_eq!(copied.get(0).unwrap(), long.as_bytes());
        assert_eq!(copied.get(1).unwrap(), b"[]");
        assert_eq!(copied.get(2).unwrap(), b"{}");
    }

    #[test]
    fn text_left_in_its_source_file_is_read_from_there() {
        let mut source = tempfile::tempfile().unwrap();
        source.write_all(b"{\"a\":1}\n\n{\"b\":2}\n").unwrap();
        let mut writer = TextWriter::over(source);
        writer.push_at(9, 7).unwrap();
        writer.push_at(0, 7).unwrap();
        assert!(writer.push(b"{}").is_err());
        assert_eq!(writer.text(0).unwrap(), b"{\"b\":2}");
        let store = writer.finish(&[1, 0]).unwrap();
        assert_eq!(store.get(0).unwrap(), b"{\"a\":1}");
        assert_eq!(store.get(1).unwrap(), b"{\"b\":2}");
    }
}
