//! Bidder lists from spreadsheets: a CSV file or an Excel workbook, read into the subjects a
//! batch decision takes, each with its row, and the rows that cannot be one, each with why.
//!
//! A list comes from a client and is read as hostile: its size unzipped, its rows, its cells
//! and the time spent on it are all bounded ([`SheetLimits`]), and nothing read is logged.
//! Reading decides nothing: an identifier is only required to be there; the batch says
//! whether it is valid.

mod csv;
mod xlsx;

use std::time::{Duration, Instant};

/// The two kinds of file a list may come as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text, UTF-8 (with or without a byte-order mark) or else GB18030, as Chinese Excel writes.
    Csv,
    /// An Office Open XML workbook (`.xlsx`); its first sheet is read.
    Xlsx,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// What reading one list may take besides its rows, which are a batch's (docs/operations.md,
/// "Limits and their defaults").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SheetLimits {
    /// Bytes a workbook's entries may unzip to, declared and actually read alike.
    pub max_unzipped_bytes: u64,
    /// Characters of an identifier or name cell.
    pub max_cell_chars: usize,
    /// Time reading one list may take.
    pub timeout: Duration,
}

impl Default for SheetLimits {
    fn default() -> SheetLimits {
        SheetLimits {
            max_unzipped_bytes: 32 * 1024 * 1024,
            max_cell_chars: 256,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Headers of an identifier column, as compared: lower case, without spaces.
pub const ID_HEADERS: [&str; 7] = [
    "id",
    "统一社会信用代码",
    "信用代码",
    "身份证号码",
    "身份证号",
    "证件号码",
    "证照号码",
];

/// Headers of a name column, as compared.
pub const NAME_HEADERS: [&str; 7] = [
    "name",
    "名称",
    "企业名称",
    "单位名称",
    "投标人",
    "投标人名称",
    "姓名",
];

/// Rows looked through for the header: a list often starts with a title row or two.
const HEADER_SEARCH_ROWS: usize = 10;

/// Columns a sheet has at most in Excel; cells past them are not read, so that a row of a
/// million cells costs no more than the spreadsheet could hold.
const MAX_COLUMNS: u32 = 16_384;

/// One subject of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bidder {
    pub id: String,
    pub name: Option<String>,
}

/// A row that is not blank but gives no subject, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The row's number as the spreadsheet shows it (from 1).
    pub row: u32,
    /// `id` or `name`.
    pub field: &'static str,
    pub message: String,
}

/// A list as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectList {
    pub bidders: Vec<Bidder>,
    /// `rows[i]` is the row number of `bidders[i]`.
    pub rows: Vec<u32>,
    pub problems: Vec<RowProblem>,
    /// The sheet read, for a workbook.
    pub sheet: Option<String>,
    pub format: Format,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SheetError {
    #[error("no row of the first {HEADER_SEARCH_ROWS} that are not blank names an identifier column; head it with one of: {}", ID_HEADERS.join(", "))]
    NoIdColumn,
    #[error("the list is empty: it has no header row, whose identifier column may be headed with one of: {}", ID_HEADERS.join(", "))]
    Empty,
    #[error("the text is neither UTF-8 nor GB18030")]
    NotText,
    #[error("the CSV text could not be read: {0}")]
    NotCsv(String),
    #[error("the body is not an .xlsx workbook that can be read: {0}")]
    NotWorkbook(String),
    #[error("the workbook unzips to more than {limit} bytes (--sheet-max-unzipped-bytes)")]
    Unzipped { limit: u64 },
    #[error("the list has {got} rows, more than the limit of {limit} (--max-batch)")]
    TooManyRows { got: usize, limit: usize },
    #[error("the list could not be read within {} s (--sheet-timeout-seconds)", .0.as_secs_f64())]
    TimedOut(Duration),
}

/// Reads the bidder list in `bytes`, of at most `max_rows` rows below its header (blank ones
/// aside), within `limits`.
pub fn read(
    bytes: &[u8],
    format: Format,
    max_rows: usize,
    limits: &SheetLimits,
) -> Result<SubjectList, SheetError> {
    let mut collector = Collector::new(format, max_rows, limits);
    match format {
        Format::Csv => csv::read(bytes, &mut collector)?,
        Format::Xlsx => xlsx::read(bytes, &mut collector)?,
    }
    collector.finish()
}

/// A cell as the readers give it.
#[derive(Debug)]
enum Value {
    Text(String),
    /// A number cell, which an identifier must not be: Excel keeps 15 significant digits.
    Number(String),
    /// A cell of another kind (a date, a truth value, an error), named.
    Other(&'static str),
}

/// A row as a reader gives it.
#[derive(Debug)]
struct Row {
    /// As the spreadsheet shows it, from 1.
    number: u32,
    /// The cells the collector wants, by column; blank ones may be left out.
    cells: Vec<(u32, Value)>,
    /// Whether all its cells, wanted or not, are blank.
    blank: bool,
}

/// The columns a list is read from, found in its header row.
#[derive(Debug, Clone, Copy)]
struct Columns {
    id: u32,
    name: Option<u32>,
}

/// Builds the list from rows as the readers find them, keeping to the limits.
struct Collector {
    max_rows: usize,
    limits: SheetLimits,
    deadline: Instant,
    columns: Option<Columns>,
    /// Rows that are not blank, seen before the header was found.
    rows_before_header: usize,
    /// Rows that are not blank below the header.
    data_rows: usize,
    list: SubjectList,
}

impl Collector {
    fn new(format: Format, max_rows: usize, limits: &SheetLimits) -> Collector {
        Collector {
            max_rows,
            limits: *limits,
            deadline: Instant::now() + limits.timeout,
            columns: None,
            rows_before_header: 0,
            data_rows: 0,
            list: SubjectList {
                bidders: Vec::new(),
                rows: Vec::new(),
                problems: Vec::new(),
                sheet: None,
                format,
            },
        }
    }

    /// Fails once the time for the list is up; readers call it as they go.
    fn in_time(&self) -> Result<(), SheetError> {
        if Instant::now() >= self.deadline {
            Err(SheetError::TimedOut(self.limits.timeout))
        } else {
            Ok(())
        }
    }

    /// Whether a reader needs the cells of `column`: all of them (within Excel's columns)
    /// until the header is found, then only the identifier's and the name's.
    fn wants(&self, column: u32) -> bool {
        column < MAX_COLUMNS
            && self
                .columns
                .is_none_or(|columns| columns.id == column || columns.name == Some(column))
    }

    /// Takes one row of the list, in the order of the file.
    fn row(&mut self, row: Row) -> Result<(), SheetError> {
        self.in_time()?;
        if row.blank {
            return Ok(());
        }
        let Row {
            number: row, cells, ..
        } = row;
        let Some(columns) = self.columns else {
            self.header(&cells)?;
            return Ok(());
        };
        self.data_rows += 1;
        if self.data_rows > self.max_rows {
            // Only counted, for the error's figure.
            return Ok(());
        }
        let mut id = None;
        let mut name = None;
        for (column, value) in cells {
            if column == columns.id {
                id = Some(value);
            } else if Some(column) == columns.name {
                name = Some(value);
            }
        }
        let name = match name {
            Some(Value::Text(text)) => match self.trimmed(&text) {
                Trimmed::Blank => None,
                Trimmed::Text(name) => Some(name),
                Trimmed::TooLong => return self.too_long(row, "name"),
            },
            Some(Value::Number(shown)) => Some(shown),
            Some(Value::Other(_)) | None => None,
        };
        let id = match id {
            Some(Value::Text(text)) => match self.trimmed(&text) {
                Trimmed::Text(id) if looks_like_a_number_in_scientific_form(&id) => {
                    return self.problem(
                        row,
                        "id",
                        "reads like a number in scientific form (as Excel writes a long number): \
                         its digits are lost; format the column as text and enter the identifiers \
                         again"
                            .to_owned(),
                    );
                }
                Trimmed::Text(id) => id,
                Trimmed::Blank => return self.problem(row, "id", "is empty".to_owned()),
                Trimmed::TooLong => return self.too_long(row, "id"),
            },
            Some(Value::Number(_)) => {
                return self.problem(
                    row,
                    "id",
                    "is a number cell, and Excel keeps only 15 significant digits of a number: \
                     the identifier may have lost digits; format the column as text and enter \
                     the identifiers again"
                        .to_owned(),
                );
            }
            Some(Value::Other(kind)) => {
                return self.problem(row, "id", format!("is {kind} cell, not text"));
            }
            None => return self.problem(row, "id", "is empty".to_owned()),
        };
        self.list.bidders.push(Bidder { id, name });
        self.list.rows.push(row);
        Ok(())
    }

    /// Finds the columns in a row that may be the header.
    fn header(&mut self, cells: &[(u32, Value)]) -> Result<(), SheetError> {
        self.rows_before_header += 1;
        let heading = |names: &[&str]| {
            cells.iter().find_map(|(column, value)| match value {
                Value::Text(text) if names.contains(&normalise_header(text).as_str()) => {
                    Some(*column)
                }
                _ => None,
            })
        };
        match heading(&ID_HEADERS) {
            Some(id) => {
                self.columns = Some(Columns {
                    id,
                    name: heading(&NAME_HEADERS),
                });
                Ok(())
            }
            None if self.rows_before_header >= HEADER_SEARCH_ROWS => Err(SheetError::NoIdColumn),
            None => Ok(()),
        }
    }

    /// A text cell trimmed, within the limit.
    fn trimmed(&self, text: &str) -> Trimmed {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            Trimmed::Blank
        } else if trimmed.chars().nth(self.limits.max_cell_chars).is_some() {
            Trimmed::TooLong
        } else {
            Trimmed::Text(trimmed.to_owned())
        }
    }

    fn too_long(&mut self, row: u32, field: &'static str) -> Result<(), SheetError> {
        let message = format!(
            "is longer than {} characters (--sheet-max-cell-chars)",
            self.limits.max_cell_chars
        );
        self.problem(row, field, message)
    }

    /// Notes why `row` gives no subject; the list goes on.
    fn problem(
        &mut self,
        row: u32,
        field: &'static str,
        message: String,
    ) -> Result<(), SheetError> {
        self.list.problems.push(RowProblem {
            row,
            field,
            message,
        });
        Ok(())
    }

    fn finish(self) -> Result<SubjectList, SheetError> {
        if self.columns.is_none() {
            return Err(if self.rows_before_header == 0 {
                SheetError::Empty
            } else {
                SheetError::NoIdColumn
            });
        }
        if self.data_rows > self.max_rows {
            return Err(SheetError::TooManyRows {
                got: self.data_rows,
                limit: self.max_rows,
            });
        }
        Ok(self.list)
    }
}

/// A text cell, trimmed.
enum Trimmed {
    Blank,
    Text(String),
    TooLong,
}

/// A header as compared: lower case, without spaces (ideographic ones included) or a
/// byte-order mark.
fn normalise_header(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `9.12302E+17` and the like: what Excel writes for a long number saved as CSV.
fn looks_like_a_number_in_scientific_form(text: &str) -> bool {
    let Some((mantissa, exponent)) = text.split_once(['E', 'e']) else {
        return false;
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction) && digits(exponent)
}

#[cfg(test)]
mod tests;
