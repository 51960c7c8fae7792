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
        let mut shared_strings = is_shared_strings(entry.name()).then(Vec::new);
        loop {
            let read = entry.read(&mut buffer).map_err(not_a_workbook)?;
            if read == 0 {
                break;
            }
            unzipped += read as u64;
            if unzipped > limit {
                return Err(too_large);
            }
            if let Some(part) = shared_strings.as_mut() {
                part.extend_from_slice(&buffer[..read]);
            }
            collector.in_time()?;
        }
        if let Some(part) = shared_strings {
            claims_no_more_strings_than_it_holds(&part)?;
        }
    }
    Ok(())
}

/// Whether calamine takes this entry for the shared strings: it looks parts up by name, case
/// and slashes aside.
fn is_shared_strings(name: &str) -> bool {
    name.replace('\\', "/")
        .eq_ignore_ascii_case("xl/sharedStrings.xml")
}

/// calamine reserves room for the number of strings the shared-strings part says it holds
/// (`uniqueCount`) before it reads one, and a failed allocation aborts the process, where no
/// panic guard helps: a count larger than the part could hold (each string takes at least
/// `<si/>`, five bytes) is refused first. Every `uniqueCount` in the part is checked, wherever
/// it stands (a comment can hide the one a reader meets first), as calamine reads it: the
/// attribute's digits, unescaped, an optional `+` before them.
fn claims_no_more_strings_than_it_holds(part: &[u8]) -> Result<(), SheetError> {
    const NAME: &[u8] = b"uniqueCount";
    let most = part.len() / 5;
    let mut rest = part;
    while let Some(at) = rest.windows(NAME.len()).position(|window| window == NAME) {
        rest = &rest[at + NAME.len()..];
        let value = rest
            .iter()
            .skip_while(|byte| byte.is_ascii_whitespace() || **byte == b'=')
            .skip_while(|byte| matches!(byte, b'"' | b'\'' | b'+') || byte.is_ascii_whitespace());
        let mut claimed: usize = 0;
        for byte in value.take_while(|byte| byte.is_ascii_digit()) {
            claimed = claimed
                .saturating_mul(10)
                .saturating_add(usize::from(byte - b'0'));
        }
        if claimed > most {
            return Err(SheetError::NotWorkbook(format!(
                "its shared strings say they are {claimed}, more than their {} bytes can hold",
                part.len()
            )));
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
