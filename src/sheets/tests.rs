use proptest::prelude::*;

use super::*;

fn csv(text: &str) -> Result<SubjectList, SheetError> {
    read(text.as_bytes(), Format::Csv, 100, &SheetLimits::default())
}

#[test]
fn rows_are_numbered_as_a_spreadsheet_shows_them() {
    let list = csv("名称,统一社会信用代码\n\n\"甲\n公司\",A1\n乙公司,A2\n, \n丙公司,A3\n").unwrap();
    let ids: Vec<&str> = list.bidders.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["A1", "A2", "A3"]);
    assert_eq!(list.rows, [3, 4, 6]);
    assert_eq!(list.bidders[0].name.as_deref(), Some("甲\n公司"));
}

#[test]
fn a_title_row_above_the_header_is_passed_over() {
    let unnamed = csv("2026年第3号招标 投标人名单\n序号, Company ID ,NAME\n1,X1,甲\n");
    assert_eq!(unnamed, Err(SheetError::NoIdColumn));
    let list = csv("2026年第3号招标 投标人名单\n序号, I D ,NAME\n1,X1,甲\n").unwrap();
    assert_eq!(
        list.bidders,
        [Bidder {
            id: "X1".into(),
            name: Some("甲".into())
        }]
    );
    assert_eq!(list.rows, [3]);
}

#[test]
fn a_list_without_an_identifier_column_or_without_rows_is_refused() {
    assert_eq!(csv("名称,地址\n甲,乙\n"), Err(SheetError::NoIdColumn));
    assert_eq!(csv(" \n,,\n"), Err(SheetError::Empty));
}

#[test]
fn identifiers_excel_wrote_as_numbers_and_cells_past_the_limit_are_problems_of_their_row() {
    let long = "x".repeat(SheetLimits::default().max_cell_chars + 1);
    let list = csv(&format!(
        "id,name\n9.12302E+17,甲\n{long},乙\nB2,{long}\n,丙\nB4,\n"
    ))
    .unwrap();
    let problems: Vec<(u32, &str)> = list.problems.iter().map(|p| (p.row, p.field)).collect();
    assert_eq!(problems, [(2, "id"), (3, "id"), (4, "name"), (5, "id")]);
    assert_eq!(
        list.bidders,
        [Bidder {
            id: "B4".into(),
            name: None
        }]
    );
    assert_eq!(list.rows, [6]);
}

#[test]
fn gb18030_text_is_read_when_it_is_not_utf8() {
    let (bytes, _, _) =
        encoding_rs::GB18030.encode("统一社会信用代码,企业名称\nA1,齐齐哈尔某某公司\n");
    let list = read(&bytes, Format::Csv, 100, &SheetLimits::default()).unwrap();
    assert_eq!(list.bidders[0].name.as_deref(), Some("齐齐哈尔某某公司"));
}

#[test]
fn rows_past_the_limit_are_counted_and_refused() {
    let got = read(
        b"id\n1\n2\n3\n\n4\n",
        Format::Csv,
        2,
        &SheetLimits::default(),
    );
    assert_eq!(got, Err(SheetError::TooManyRows { got: 4, limit: 2 }));
}

#[test]
fn the_scientific_form_is_told_from_identifiers() {
    for number in ["9.12302E+17", "1E+15", "4.4e17"] {
        assert!(looks_like_a_number_in_scientific_form(number), "{number}");
    }
    for id in ["91230200MA1B2C3D4E", "E12", "1.E5", "230202199001011234"] {
        assert!(!looks_like_a_number_in_scientific_form(id), "{id}");
    }
}

#[test]
fn a_list_not_read_in_time_is_refused() {
    let limits = SheetLimits {
        timeout: Duration::ZERO,
        ..SheetLimits::default()
    };
    let got = read(b"id\nA1\n", Format::Csv, 100, &limits);
    assert_eq!(got, Err(SheetError::TimedOut(Duration::ZERO)));
    let got = read(&workbook(&[&["id"], &["A1"]]), Format::Xlsx, 100, &limits);
    assert_eq!(got, Err(SheetError::TimedOut(Duration::ZERO)));
}

#[test]
fn cells_past_excels_last_column_are_not_read() {
    let far = ",".repeat(MAX_COLUMNS as usize);
    assert_eq!(csv(&format!("{far}id\nA1\n")), Err(SheetError::NoIdColumn));
    let list = csv(&format!("id,name{far}\nA1,甲{far}x\n")).unwrap();
    assert_eq!(
        list.bidders,
        [Bidder {
            id: "A1".into(),
            name: Some("甲".into())
        }]
    );
}

/// A workbook of one sheet holding `rows` of text cells.
fn workbook(rows: &[&[&str]]) -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in (0u32..).zip(rows) {
        for (c, text) in (0u16..).zip(row.iter()) {
            sheet.write_string(r, c, *text).unwrap();
        }
    }
    workbook.save_to_buffer().unwrap()
}

/// The workbook with one part's text replaced, zipped again.
fn with_part(workbook: Vec<u8>, name: &str, text: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(workbook)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        let entry_name = entry.name().to_owned();
        out.start_file(
            entry_name.as_str(),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let bytes = if entry_name == name {
            text.as_bytes().to_vec()
        } else {
            bytes
        };
        std::io::Write::write_all(&mut out, &bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A shared-strings part claiming a hundred billion strings would make calamine reserve 2.4 TB
/// and abort the process: it is refused before calamine reads it, even behind a comment that
/// shows a modest count first. Were it not, this test's process would abort.
#[test]
fn a_workbook_claiming_more_shared_strings_than_it_holds_is_refused_before_it_is_parsed() {
    let original = workbook(&[&["统一社会信用代码"], &["91230200MA1B2C3D8T"]]);
    let honest = read(&original, Format::Xlsx, 100, &SheetLimits::default()).unwrap();
    assert_eq!(honest.bidders.len(), 1);
    for header in [
        r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="100000000000">"#,
        r#"<!-- <sst uniqueCount="2"> --><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount = '+100000000000'>"#,
    ] {
        let part = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{header}<si><t>统一社会信用代码</t></si><si><t>91230200MA1B2C3D8T</t></si></sst>"#
        );
        let bomb = with_part(original.clone(), "xl/sharedStrings.xml", &part);
        match read(&bomb, Format::Xlsx, 100, &SheetLimits::default()) {
            Err(SheetError::NotWorkbook(why)) => assert!(why.contains("shared strings"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A small workbook and the same as bytes at random: truncated, with bytes changed, inserted
/// or removed.
fn mangled_workbook() -> impl Strategy<Value = Vec<u8>> {
    let original = workbook(&[
        &["投标人名单"],
        &["统一社会信用代码", "企业名称"],
        &["91230200MA1B2C3D8T", "齐齐哈尔某某商贸有限公司"],
        &["230202198503121238", "张某"],
    ]);
    let len = original.len();
    (
        0..len,
        prop::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8),
    )
        .prop_map(move |(cut, edits)| {
            let mut bytes = original.clone();
            for (at, byte, how) in edits {
                let at = at.min(bytes.len().saturating_sub(1));
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if cut % 4 == 0 {
                bytes.truncate(cut);
            }
            bytes
        })
}

/// The same workbook with the XML of its parts mangled, zipped again: what gets past the
/// archive's checks to the workbook's parser.
fn workbook_with_mangled_parts() -> impl Strategy<Value = Vec<u8>> {
    let original = workbook(&[
        &["统一社会信用代码", "企业名称"],
        &["91230200MA1B2C3D8T", "齐齐哈尔某某商贸有限公司"],
    ]);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(original)).unwrap();
    let parts: Vec<(String, Vec<u8>)> = (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            (entry.name().to_owned(), bytes)
        })
        .collect();
    let fragments = prop::sample::select(vec![
        "<",
        ">",
        "/>",
        "\"",
        "r=\"XFD1048576\"",
        "r=\"A0\"",
        "r=\"4294967295\"",
        "t=\"s\"",
        "t=\"n\"",
        "t=\"e\"",
        "<v>",
        "</v>",
        "<v>99999999</v>",
        "<c>",
        "</c>",
        "<row>",
        "</row>",
        "<si><t>",
        "&#0;",
        "&amp;",
        "\u{FEFF}",
        "",
    ]);
    (
        0..parts.len(),
        prop::collection::vec((any::<prop::sample::Index>(), fragments, 0usize..40), 1..6),
    )
        .prop_map(move |(part, edits)| {
            let mut parts = parts.clone();
            let xml = &mut parts[part].1;
            for (at, fragment, cut) in edits {
                let at = at.index(xml.len() + 1);
                let end = (at + cut).min(xml.len());
                xml.splice(at..end, fragment.bytes());
            }
            let mut out = std::io::Cursor::new(Vec::new());
            let mut zip = zip::ZipWriter::new(&mut out);
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            for (name, bytes) in &parts {
                zip.start_file(name.as_str(), stored).unwrap();
                std::io::Write::write_all(&mut zip, bytes).unwrap();
            }
            zip.finish().unwrap();
            out.into_inner()
        })
}

/// The CSV list of these cells under an `id,name` header gives each subject its row, and reports
/// every row, a subject's or a problem's, at most once and below the header.
fn assert_each_data_row_reported_at_most_once(cells: &[impl AsRef<str>]) {
    let cells: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
    let text = format!("id,name\n{}", cells.join(","));
    let list = read(text.as_bytes(), Format::Csv, 1000, &SheetLimits::default()).unwrap();
    assert_eq!(list.rows.len(), list.bidders.len(), "{cells:?}");
    let mut rows: Vec<u32> = list
        .rows
        .iter()
        .chain(list.problems.iter().map(|problem| &problem.row))
        .copied()
        .collect();
    let before = rows.len();
    rows.sort_unstable();
    rows.dedup();
    assert_eq!(rows.len(), before, "{cells:?}");
    assert!(rows.iter().all(|row| *row >= 2), "{cells:?}");
}

/// The cases the property below once shrank to: a lone carriage return ends a line, in a cell
/// and after a quote.
#[test]
fn a_lone_carriage_return_ends_a_row_as_a_line_feed_does() {
    assert_each_data_row_reported_at_most_once(&["甲\ra"]);
    assert_each_data_row_reported_at_most_once(&["0", "\"\r"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No input panics the reader: it gives a list or an error.
    #[test]
    fn any_bytes_as_either_format_give_a_list_or_an_error(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        for format in [Format::Csv, Format::Xlsx] {
            let _ = read(&bytes, format, 100, &SheetLimits::default());
        }
    }

    #[test]
    fn any_text_with_an_identifier_column_gives_each_row_at_most_once(
        cells in prop::collection::vec("[ ,\"\\n\\r\\t a-z0-9甲]{0,12}", 0..40),
    ) {
        assert_each_data_row_reported_at_most_once(&cells);
    }

    #[test]
    fn a_mangled_workbook_gives_a_list_or_an_error(bytes in mangled_workbook()) {
        let _ = read(&bytes, Format::Xlsx, 100, &SheetLimits::default());
    }

    #[test]
    fn a_workbook_with_mangled_parts_gives_a_list_or_an_error(
        bytes in workbook_with_mangled_parts(),
    ) {
        let _ = read(&bytes, Format::Xlsx, 100, &SheetLimits::default());
    }
}
