//! Where a problem is: byte offsets of the TOML text turned into `line:column` and the dotted key
//! that holds them, and serde's wording turned into this reference's.
//!
//! Validation errors carry the span serde kept for the value; syntax and type errors carry the span
//! toml reports. Either way the [`Locator`] names the file, line, column and key, so that every
//! problem reads ``file:line:column: key `…`: message``.

use super::problems::Problem;

pub(super) struct Locator<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a str,
}

impl Locator<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
        (line, column)
    }

    pub(super) fn problem(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: String,
    ) -> Problem {
        let (line, column) = self.line_col(span.start);
        Problem {
            file: self.file.to_string(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }

    /// The dotted key at a byte offset: the `[table]` header and the `key =` whose value holds
    /// the offset, found by a light scan that tracks brackets and strings, so that an error on
    /// the fourth line of a multi-line array still names the array's key.
    fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let mut table: Option<String> = None;
        let mut key = String::new();
        let mut depth = 0usize;
        // Inside a multi-line string (`"""` or `'''`), lines are text, not keys or brackets.
        let mut multiline: Option<&str> = None;
        for line in self.text[..end].split('\n') {
            if let Some(delim) = multiline {
                if line.contains(delim) {
                    multiline = None;
                }
                continue;
            }
            multiline = ["\"\"\"", "'''"]
                .into_iter()
                .find(|d| line.matches(d).count() % 2 == 1);
            let trimmed = line.trim();
            if depth == 0 {
                if trimmed.starts_with('[') {
                    let name = trimmed.split('#').next().unwrap_or("").trim();
                    table = Some(
                        name.trim_matches(|c| c == '[' || c == ']')
                            .trim()
                            .to_string(),
                    );
                    key.clear();
                } else if let Some((k, _)) = trimmed.split_once('=') {
                    key = k.trim().trim_matches('"').to_string();
                }
            }
            depth = bracket_depth(line, depth, trimmed.starts_with('[') && depth == 0);
        }
        match table {
            Some(t) if !key.is_empty() => format!("{t}.{key}"),
            Some(t) => t,
            None => key,
        }
    }

    pub(super) fn toml_problem(&self, e: &toml::de::Error) -> Problem {
        let span = e.span().unwrap_or(0..0);
        let key = self.key_at(span.start);
        let message = plain_message(&e.message().trim().replace('\n', " "));
        self.problem(span, if key.is_empty() { "-" } else { &key }, message)
    }
}

/// serde's wording in the words of this reference: Rust type names become the values they
/// stand for, and quoted input goes in backticks like every other message.
fn plain_message(message: &str) -> String {
    const TYPES: [(&str, &str); 7] = [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in TYPES {
        if let Some(head) = out.strip_suffix(rust) {
            out = format!("{head}{plain}");
        }
    }
    // `invalid type: string "lots", expected …` → `invalid type: string `lots`, expected …`
    if let Some(start) = out.find("string \"") {
        let open = start + "string ".len();
        if let Some(len) = out[open + 1..].find('"') {
            let close = open + 1 + len;
            out.replace_range(close..=close, "`");
            out.replace_range(open..=open, "`");
        }
    }
    out
}

/// The bracket depth (`[`/`{` open, `]`/`}` close) after `line`, outside strings and comments.
/// A `[table]` header line opens and closes its own brackets.
fn bracket_depth(line: &str, mut depth: usize, header: bool) -> usize {
    if header {
        return depth;
    }
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => break,
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    depth
}
