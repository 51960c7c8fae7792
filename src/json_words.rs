//! JSON that a client sent and this service cannot read, said in words for the API's readers
//! with a line and column, whichever layer reads the body.

/// serde_json's error over `body` in words for the API's readers, with its line and column
/// (the column counted in characters, as an editor shows it).
pub fn plain_words(body: &[u8], err: &serde_json::Error) -> String {
    let reason = reason(err);
    // serde_json's column is the bytes of its line up to and including the one it stopped at.
    let line_start = body
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .nth(err.line().saturating_sub(2))
        .filter(|_| err.line() > 1)
        .map_or(0, |(at, _)| at + 1);
    let stopped = (line_start + err.column()).min(body.len());
    let column = characters(&body[line_start..stopped]).max(1);
    format!("{reason} at line {}, column {column}", err.line())
}

/// The 1-based line and column of byte `offset` in `body`, the column counted in characters.
pub fn line_and_column(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    (line, characters(&before[line_start..]) + 1)
}

/// The UTF-8 characters that start in `bytes` (a continuation byte is 0b10xx_xxxx).
fn characters(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// What serde_json says is wrong, without its location (which may be in a text of its own
/// making) and in plain words where its own are parser terms.
pub fn reason(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let reason = full
        .strip_suffix(&format!(" at line {} column {}", err.line(), err.column()))
        .unwrap_or(&full);
    match err.classify() {
        serde_json::error::Category::Eof => "unexpected end of the body",
        _ if reason == "expected value" || reason == "expected ident" => "expected a value",
        _ if reason == "trailing comma" => "a comma before a closing bracket or brace",
        _ if reason == "trailing characters" => "more text after the JSON value",
        _ if reason == "recursion limit exceeded" => "arrays or objects nested too deeply",
        _ => reason,
    }
    .to_owned()
}
