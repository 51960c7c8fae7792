//! A list as CSV text.

use std::borrow::Cow;

use super::{Collector, Row, SheetError, Value};

/// Reads the rows of CSV `bytes` into `collector`, numbered as a spreadsheet shows them.
pub(super) fn read(bytes: &[u8], collector: &mut Collector) -> Result<(), SheetError> {
    let text = decode(bytes)?;
    let text = lone_returns_as_line_feeds(&text);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = ::csv::StringRecord::new();
    // The reader skips empty lines and counts lines, while a spreadsheet gives each empty line
    // a row and a record one row however many line breaks its quoted cells hold. Where a
    // record starts is counted before the empty lines skipped, which are counted here.
    let mut breaks_in_cells: u64 = 0;
    while reader
        .read_record(&mut record)
        .map_err(|err| SheetError::NotCsv(err.to_string()))?
    {
        let start = record
            .position()
            .map_or((1, 0), |at| (at.line(), at.byte()));
        let empty_lines = usize::try_from(start.1)
            .ok()
            .and_then(|at| text.as_bytes().get(at..))
            .unwrap_or_default()
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .filter(|b| **b == b'\n')
            .count() as u64;
        let line = start.0 + empty_lines;
        let row = u32::try_from(line.saturating_sub(breaks_in_cells)).unwrap_or(u32::MAX);
        breaks_in_cells += record
            .iter()
            .map(|cell| cell.bytes().filter(|b| *b == b'\n').count() as u64)
            .sum::<u64>();
        let cells = (0u32..)
            .zip(record.iter())
            .filter(|(column, cell)| collector.wants(*column) && !cell.trim().is_empty())
            .map(|(column, cell)| (column, Value::Text(cell.to_owned())))
            .collect();
        collector.row(Row {
            number: row,
            cells,
            blank: record.iter().all(|cell| cell.trim().is_empty()),
        })?;
    }
    Ok(())
}

/// The text of `bytes`: UTF-8 after an optional byte-order mark, else GB18030 (what Excel
/// writes as "CSV" on a Chinese system).
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, SheetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or(SheetError::NotText),
    }
}

/// `text` with each carriage return that no line feed follows made a line feed: the reader
/// ends a record at either, but counts lines by line feeds only, and rows are told from lines.
fn lone_returns_as_line_feeds(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let lone = |at: usize| bytes[at] == b'\r' && bytes.get(at + 1) != Some(&b'\n');
    if !(0..bytes.len()).any(lone) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\r') {
        out.push_str(&rest[..at]);
        out.push(if rest[at + 1..].starts_with('\n') {
            '\r'
        } else {
            '\n'
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}
