//! Resident ID numbers inside free text (a case reference, an officer's note, a reason): found
//! however they are written, and masked as subjects are (`230202********1238`), so that no
//! store keeps one whole.
//!
//! What is found errs on the side of masking:
//! - A *number* is a run of digits (`0`–`9`, full-width `０`–`９`) and the letter X (`X`, `x`,
//!   `Ｘ`, `ｘ`), with any separators between them: whitespace (the ideographic space too),
//!   hyphens and dashes, dots and middle dots, slashes, underscores, and invisible characters
//!   (zero-width space and joiners, word joiner, soft hyphen, byte order mark).
//! - Every 18-symbol window of a number is an ID number when its first 17 symbols are digits,
//!   its 18th is a digit or X, and its symbols 7–14 are a date from 1900-01-01 to 2099-12-31.
//!   The check character is not tested: a mistyped ID is still somebody's.
//! - Symbols 7–14 of each such window are replaced by `*`, one per symbol. Everything else
//!   (the separators, the other text, full-width digits that stay) is left as it was written.

use std::borrow::Cow;

use super::resident_id::is_valid_date;
use super::LEN;

/// A person's name as stores and exports keep it: its first character, then one `*` for each
/// character after it (`张三丰` → `张**`), leading and trailing whitespace dropped. A name of
/// one character stays as it is: a surname alone names nobody.
pub fn mask_person_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    let mut masked = String::with_capacity(name.len());
    masked.extend(chars.next());
    masked.extend(chars.map(|_| '*'));
    masked
}

/// `text` with every resident ID number in it masked; borrowed when there is none.
pub fn mask_id_numbers(text: &str) -> Cow<'_, str> {
    // Fewer than 17 digits cannot hold an ID number: most texts, answered without allocating.
    if text
        .chars()
        .filter(|&c| symbol(c).is_some_and(|s| s != b'X'))
        .nth(LEN - 2)
        .is_none()
    {
        return Cow::Borrowed(text);
    }
    let mut hidden: Vec<(usize, usize)> = Vec::new();
    let mut number: Vec<Symbol> = Vec::new();
    for (at, c) in text.char_indices() {
        if let Some(value) = symbol(c) {
            number.push(Symbol {
                start: at,
                end: at + c.len_utf8(),
                value,
            });
        } else if !is_separator(c) {
            find_ids(&number, &mut hidden);
            number.clear();
        }
    }
    find_ids(&number, &mut hidden);
    if hidden.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut masked = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in hidden {
        masked.push_str(&text[copied..start]);
        masked.push('*');
        copied = end;
    }
    masked.push_str(&text[copied..]);
    Cow::Owned(masked)
}

/// A digit or X of a number: where it is in the text, and its normalised value.
struct Symbol {
    start: usize,
    end: usize,
    /// `b'0'..=b'9'` or `b'X'`.
    value: u8,
}

/// Appends the byte ranges to hide of every ID number in `number`, in order, each once.
fn find_ids(number: &[Symbol], hidden: &mut Vec<(usize, usize)>) {
    if number.len() < LEN {
        return;
    }
    let mut hide = vec![false; number.len()];
    for (offset, window) in number.windows(LEN).enumerate() {
        if is_id_number(window) {
            hide[offset + 6..offset + 14].fill(true);
        }
    }
    hidden.extend(
        number
            .iter()
            .zip(hide)
            .filter(|(_, hide)| *hide)
            .map(|(symbol, _)| (symbol.start, symbol.end)),
    );
}

/// 17 digits, a digit or X, and a birth date in symbols 7–14.
fn is_id_number(window: &[Symbol]) -> bool {
    // The 18th symbol is a digit or an X, as every symbol is.
    let body = &window[..LEN - 1];
    if !body.iter().all(|s| s.value.is_ascii_digit()) {
        return false;
    }
    let number = |symbols: &[Symbol]| {
        symbols
            .iter()
            .fold(0, |n, s| n * 10 + u32::from(s.value - b'0'))
    };
    is_valid_date(
        number(&body[6..10]),
        number(&body[10..12]),
        number(&body[12..14]),
    )
}

/// The normalised value of a digit or an X, in either width.
fn symbol(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8),
        '０'..='９' => Some(b'0' + (u32::from(c) - u32::from('０')) as u8),
        'X' | 'x' | 'Ｘ' | 'ｘ' => Some(b'X'),
        _ => None,
    }
}

/// What may stand between the digits of a number as someone writes or pastes it.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '‐'
                | '‑'
                | '‒'
                | '–'
                | '—'
                | '―'
                | '−'
                | '﹣'
                | '－'
                | '.'
                | '．'
                | '·'
                | '・'
                | '･'
                | '/'
                | '／'
                | '_'
                | '＿'
                | '\u{00AD}'
                | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_person_s_name_keeps_its_first_character_only() {
        for (name, masked) in [
            ("张三", "张*"),
            ("  欧阳娜娜 ", "欧***"),
            ("王", "王"),
            ("", ""),
            ("Li Lei", "L*****"),
        ] {
            assert_eq!(super::mask_person_name(name), masked, "{name:?}");
        }
    }

    use proptest::prelude::*;

    use super::super::resident_id::days_in_month;
    use super::mask_id_numbers;

    #[test]
    fn the_forms_that_escaped_the_old_masking_are_masked() {
        for (text, expected) in [
            // Full-width digits.
            (
                "申请人２３０２０２１９９００１０１１２３８",
                "申请人２３０２０２********１２３８",
            ),
            // Inside a longer run of digits.
            ("9923020219900101123877", "99230202********123877"),
            // With spaces, and with the ideographic space and hyphens.
            ("230202 19900101 1238", "230202 ******** 1238"),
            (
                "230202\u{3000}1990-01-01\u{3000}123x",
                "230202\u{3000}****-**-**\u{3000}123x",
            ),
            // The check digit is wrong: masked all the same.
            ("230202199001011230", "230202********1230"),
            // Followed by a letter, or by X and a letter.
            ("23020219900101123XY", "230202********123XY"),
        ] {
            assert_eq!(mask_id_numbers(text), expected, "{text}");
        }
    }

    #[test]
    fn text_without_an_id_number_is_left_as_it_is() {
        for text in [
            "ZFCG-2026-0815",
            "a 20-digit number 12345678901234567890",
            "17 digits 12345678901234567",
            // An all-digit organisation code: positions 7–14 are no date.
            "912302061276543275",
            "2026-11-22 10:00:00 第3次 共12345678元",
        ] {
            assert!(
                matches!(mask_id_numbers(text), std::borrow::Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    /// An ID number's 18 characters (the check character any digit or X).
    fn id_number() -> impl Strategy<Value = String> {
        (
            0u32..1_000_000,
            1900u32..=2099,
            1u32..=12,
            1u32..=31,
            0u32..1000,
            prop::sample::select(&b"0123456789X"[..]),
        )
            .prop_map(|(region, year, month, day, sequence, check)| {
                let day = day.min(days_in_month(year, month));
                format!(
                    "{region:06}{year:04}{month:02}{day:02}{sequence:03}{}",
                    char::from(check)
                )
            })
    }

    const SEPARATORS: &[char] = &[' ', '\u{3000}', '-', '－', '.', '．', '·', '\u{200B}', '\t'];

    /// `id` as someone may write it: each character half- or full-width (an X in either
    /// case), with separators between some of them.
    fn written(id: String) -> impl Strategy<Value = String> {
        let characters = id.len();
        (
            prop::collection::vec(any::<bool>(), characters),
            any::<bool>(),
            prop::collection::vec(
                prop::option::weighted(0.2, prop::sample::select(SEPARATORS)),
                characters,
            ),
        )
            .prop_map(move |(wide, lower, separators)| {
                let mut text = String::new();
                for ((c, wide), separator) in id.chars().zip(wide).zip(separators) {
                    let c = if c == 'X' && lower { 'x' } else { c };
                    text.push(if wide {
                        char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)
                    } else {
                        c
                    });
                    if let Some(separator) = separator {
                        text.push(separator);
                    }
                }
                text.trim_end_matches(SEPARATORS).to_owned()
            })
    }

    /// Text around an ID number: anything, or text made of digits, X and separators that
    /// joins the ID number into a longer run.
    fn surrounding() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[0-9０-９xX \\-.申请人号码:：]{0,24}"]
    }

    /// Full-width to half-width, X upper case, the test's separators removed.
    fn normalised(text: &str) -> String {
        text.chars()
            .filter(|c| !SEPARATORS.contains(c))
            .map(|c| match c {
                '０'..='９' | 'Ｘ' | 'ｘ' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .map(|c| if c == 'x' { 'X' } else { c })
            .collect()
    }

    proptest! {
        #[test]
        fn no_id_number_survives_in_any_form(
            (id, form) in id_number().prop_flat_map(|id| (Just(id.clone()), written(id))),
            before in surrounding(),
            after in surrounding(),
        ) {
            let text = format!("{before}{form}{after}");
            let masked = mask_id_numbers(&text);
            prop_assert!(!masked.contains(&form), "{:?} -> {:?}", text, masked);
            prop_assert!(!normalised(&masked).contains(&id), "{:?} -> {:?}", text, masked);
        }

        #[test]
        fn only_the_birth_date_of_an_id_number_is_masked(
            form in id_number().prop_flat_map(written),
            before in "[a-wyzA-WYZ申请人：]{0,12}",
            after in "[a-wyzA-WYZ申请人：]{0,12}",
        ) {
            let text = format!("{before}{form}{after}");
            let masked = mask_id_numbers(&text);
            let original: Vec<char> = text.chars().collect();
            let changed: Vec<char> = masked.chars().collect();
            prop_assert_eq!(original.len(), changed.len());
            let stars = original
                .iter()
                .zip(&changed)
                .filter(|(o, c)| o != c)
                .inspect(|(_, c)| assert_eq!(**c, '*'))
                .count();
            prop_assert_eq!(stars, 8, "{:?} -> {:?}", text, masked);
            prop_assert!(masked.starts_with(&before) && masked.ends_with(&after));
        }

        #[test]
        fn text_without_an_id_number_is_unchanged(
            parts in prop::collection::vec(
                ("[a-wyzA-WYZ申请人编号，。：:()]{1,6}", "[0-9０-９]{0,8}", "[ \\-.]?", "[0-9０-９]{0,8}"),
                0..8,
            ),
        ) {
            // No number holds more than 16 digits: each is cut off by a word.
            let text: String = parts
                .iter()
                .map(|(word, digits, separator, more)| format!("{word}{digits}{separator}{more}"))
                .collect();
            prop_assert_eq!(mask_id_numbers(&text), text.as_str());
        }
    }
}
