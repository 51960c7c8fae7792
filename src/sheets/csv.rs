//! A list as CSV text.

use std::borrow::Cow;

use super::{Collector, Row, SheetError, Value};

/// Reads the rows of CSV `bytes` into `collector`, numbered as a spreadsheet shows them.
pub(super) fn read(bytes: &[u8], collector: &mut Collector) -> Result<(), SheetError> {
    let text = decode(bytes)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = ::csv::StringRecord::new();
    // The reader skips empty lines and counts lines, while a spreadsheet gives each empty line
    // a row and a record one row however many line breaks its quoted cells hold. A record's
    // row is told from the line it ends on, since where it starts is counted before the empty
    // lines skipped.
    let mut breaks_in_cells: u64 = 0;
    while reader
        .read_record(&mut record)
        .map_err(|err| SheetError::NotCsv(err.to_string()))?
    {
        breaks_in_cells += record
            .iter()
            .map(|cell| cell.bytes().filter(|b| *b == b'\n').count() as u64)
            .sum::<u64>();
        let end = reader.position();
        let ended_by_a_break = end
            .byte()
            .checked_sub(1)
            .and_then(|last| text.as_bytes().get(usize::try_from(last).ok()?))
            == Some(&b'\n');
        let last_line = end.line().saturating_sub(u64::from(ended_by_a_break));
        let row = u32::try_from(last_line.saturating_sub(breaks_in_cells)).unwrap_or(u32::MAX);
        let cells = (0u32..)
            .zip(record.iter())
            .filter(|(column, _)| collector.wants(*column))
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
