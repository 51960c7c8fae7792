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
