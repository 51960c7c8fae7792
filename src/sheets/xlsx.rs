//! A list as an Excel workbook: a zip archive of XML parts, read with calamine once the
//! archive is known to unzip within the limit.

use std::io::{Cursor, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

use calamine::{DataRef, Reader};

use super::{Collector, Row, SheetError, Value};

/// Reads the rows of the first sheet of the workbook in `bytes` into `collector`.
pub(super) fn read(bytes: &[u8], collector: &mut Collector) -> Result<(), SheetError> {
    // The archive and the workbook are parsed by third parties' code, fed hostile input: a
    // panic in it is this list's failure, not the service's.
    catch_unwind(AssertUnwindSafe(|| {
        unzips_within_limit(bytes, collector)?;
        read_first_sheet(bytes, collector)
    }))
    .unwrap_or_else(|_| {
        Err(SheetError::NotWorkbook(
            "its parts are malformed".to_owned(),
        ))
    })
}

/// Refuses a zip bomb before any of it is parsed: the entries' sizes as the central directory
/// declares them, then as they actually unzip (a declared size may lie), each summed against
/// the limit. Unzipping stops as soon as the sum passes it.
fn unzips_within_limit(bytes: &[u8], collector: &Collector) -> Result<(), SheetError> {
    let limit = collector.limits.max_unzipped_bytes;
    let too_large = SheetError::Unzipped { limit };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(not_a_workbook)?;
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(not_a_workbook)?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > limit {
        return Err(too_large);
    }
    let mut unzipped: u64 = 0;
    let mut buffer = vec![0; 64 * 1024];
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(not_a_workbook)?;
        loop {
            let read = entry.read(&mut buffer).map_err(not_a_workbook)?;
            if read == 0 {
                break;
            }
            unzipped += read as u64;
            if unzipped > limit {
                return Err(too_large);
            }
            collector.in_time()?;
        }
    }
    Ok(())
}

/// Streams the first sheet's cells row by row; a sheet's declared dimensions are not used, so
/// two far-apart cells cannot make it allocate the rectangle between them.
fn read_first_sheet(bytes: &[u8], collector: &mut Collector) -> Result<(), SheetError> {
    let mut workbook = calamine::Xlsx::new(Cursor::new(bytes)).map_err(not_a_workbook)?;
    let sheet = workbook
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| SheetError::NotWorkbook("it has no sheet".to_owned()))?;
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(not_a_workbook)?;
    let mut current: Option<Row> = None;
    while let Some(cell) = cells.next_cell().map_err(not_a_workbook)? {
        collector.in_time()?;
        let (row, column) = cell.get_position();
        // Spreadsheets number rows from 1.
        let number = row.saturating_add(1);
        if let Some(done) = current.take_if(|row| row.number != number) {
            collector.row(done)?;
        }
        let row = current.get_or_insert_with(|| Row {
            number,
            cells: Vec::new(),
            blank: true,
        });
        let data = cell.get_value();
        if is_blank(data) {
            continue;
        }
        row.blank = false;
        if collector.wants(column) {
            row.cells.push((column, value(data)));
        }
    }
    if let Some(done) = current {
        collector.row(done)?;
    }
    collector.list.sheet = Some(sheet);
    Ok(())
}

fn is_blank(data: &DataRef<'_>) -> bool {
    match data {
        DataRef::Empty => true,
        DataRef::String(text) => text.trim().is_empty(),
        DataRef::SharedString(text) => text.trim().is_empty(),
        _ => false,
    }
}

fn value(data: &DataRef<'_>) -> Value {
    match data {
        DataRef::String(text) => Value::Text(text.clone()),
        DataRef::SharedString(text) => Value::Text((*text).to_owned()),
        DataRef::Int(number) => Value::Number(number.to_string()),
        DataRef::Float(number) => Value::Number(number.to_string()),
        DataRef::Bool(_) => Value::Other("a true-or-false"),
        DataRef::DateTime(_) | DataRef::DateTimeIso(_) => Value::Other("a date"),
        DataRef::DurationIso(_) => Value::Other("a duration"),
        DataRef::Error(_) => Value::Other("an error"),
        DataRef::Empty => Value::Text(String::new()),
    }
}

fn not_a_workbook(err: impl std::fmt::Display) -> SheetError {
    SheetError::NotWorkbook(err.to_string())
}
