//! Positions in rule files: where each rule starts, and byte offsets as 1-based lines and columns.
//!
//! Cedar's API does not say where a policy of a parsed set starts, so the text is cut at each
//! top-level `;` (outside strings and `//` comments — Cedar has no other use for `;`) and every rule
//! is parsed on its own; the offsets Cedar reports within a rule are then moved by the rule's start.

/// One rule's text: `start..end` in the file (from its first token through its `;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
}

/// The rules of a file, in order. A trailing piece without `;` is a chunk too (Cedar reports it).
pub fn chunks(text: &str) -> Vec<Chunk> {
    #[derive(PartialEq)]
    enum State {
        Code,
        String { escaped: bool },
        Comment,
    }
    let mut out = Vec::new();
    let mut state = State::Code;
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match state {
            State::Comment => {
                if c == '\n' {
                    state = State::Code;
                }
            }
            State::String { escaped } => {
                state = match (escaped, c) {
                    (false, '\\') => State::String { escaped: true },
                    (false, '"') => State::Code,
                    _ => State::String { escaped: false },
                };
            }
            State::Code => {
                if c == '/' && matches!(chars.peek(), Some((_, '/'))) {
                    state = State::Comment;
                    continue;
                }
                if c.is_whitespace() {
                    continue;
                }
                let s = *start.get_or_insert(i);
                if c == '"' {
                    state = State::String { escaped: false };
                } else if c == ';' {
                    out.push(Chunk {
                        start: s,
                        end: i + 1,
                    });
                    start = None;
                }
            }
        }
    }
    if let Some(s) = start {
        out.push(Chunk {
            start: s,
            end: text.len(),
        });
    }
    out
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_cut_at_semicolons_outside_strings_and_comments() {
        let text = "// a; comment\npermit(principal, action, resource) when { \"a;b\" == \"\\\";\" };\n\n  forbid(principal, action, resource);\n// end;\n";
        let c = chunks(text);
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(text[c[0].start..c[0].end].starts_with("permit"));
        assert!(text[c[0].start..c[0].end].ends_with("};"));
        assert_eq!(
            &text[c[1].start..c[1].end],
            "forbid(principal, action, resource);"
        );
        assert_eq!(line_col(text, c[1].start), (4, 3));
        assert_eq!(line_col(text, 0), (1, 1));
    }
}
