//! Messages that quote input, made short and safe to print: the one place where every error the
//! gateway shows a person (configuration, list and rule files, the command line, the reload log)
//! is bounded and stripped of terminal control.
//!
//! Messages put input in backticks. [`line`] cuts every stretch of a message between two
//! backticks that is longer than [`QUOTE_CHARS`] characters (and any other stretch longer than
//! [`WORDING_CHARS`]) to its beginning, an ellipsis and its length in bytes, and cuts the whole
//! line at [`LINE_CHARS`] characters. A backtick inside the input itself can only move text from a
//! quoted stretch to a longer-limited one, never past the line's limit.
//!
//! Guarantees: the result of [`line`] holds no control character (C0, DEL, C1) and no
//! bidirectional override: each is written as a Rust escape (`\u{1b}`, `\n`); its length is at
//! most [`LINE_CHARS`] characters plus a short suffix; and applying it again keeps every bound
//! (and changes nothing in a line that was not cut whole), so layers may each make sure of it.

use std::fmt::Write;

/// The longest stretch between backticks shown whole; a longer one shows its first
/// [`QUOTE_KEEP`] characters and its length.
pub const QUOTE_CHARS: usize = 64;
/// The longest stretch outside backticks shown whole (the messages' own wording stays below it).
pub const WORDING_CHARS: usize = 320;
/// The longest line shown whole.
pub const LINE_CHARS: usize = 2048;

/// What is kept of a quote that is cut: short enough that the cut quote is within
/// [`QUOTE_CHARS`] again (so that a second pass keeps it as it is).
const QUOTE_KEEP: usize = 40;
const WORDING_KEEP: usize = 256;
const LINE_KEEP: usize = 1984;

/// One line of a message, bounded and with every control character escaped (a line break too).
pub fn line(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0usize;
    for (i, stretch) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
            chars += 1;
        }
        // Odd stretches are between backticks: quoted input.
        let (limit, keep) = match i % 2 {
            1 => (QUOTE_CHARS, QUOTE_KEEP),
            _ => (WORDING_CHARS, WORDING_KEEP),
        };
        chars += push_bounded(&mut out, stretch, limit, keep);
        if chars > LINE_CHARS {
            let cut: String = out.chars().take(LINE_KEEP).collect();
            return format!("{cut}… ({} bytes in all)", text.len());
        }
    }
    out
}

/// A message of several lines: each line as [`line`] makes it, at most `max_lines` of them (and
/// a last line saying how many more there were).
pub fn lines(text: &str, max_lines: usize) -> String {
    let mut out = String::new();
    let total = text.split('\n').count();
    for (i, l) in text.split('\n').enumerate() {
        if i == max_lines {
            let _ = write!(out, "\n… and {} more lines", total - max_lines);
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&line(l));
    }
    out
}

/// Push `stretch` (and return how many characters were pushed) with its control characters escaped; when the escaped stretch has more than
/// `limit` characters, only its first `keep` and the stretch's length in bytes. Escaping comes
/// first, so that what is pushed is within `limit` again on a second pass.
fn push_bounded(out: &mut String, stretch: &str, limit: usize, keep: usize) -> usize {
    let mut shown = String::new();
    let mut count = 0usize;
    for c in stretch.chars() {
        let before = shown.len();
        push_escaped(&mut shown, c);
        // An escape is ASCII: its bytes are its characters.
        count += if needs_escape(c) {
            shown.len() - before
        } else {
            1
        };
        if count > limit {
            let start = out.len();
            out.extend(shown.chars().take(keep));
            let _ = write!(out, "… ({} bytes)", stretch.len());
            return out[start..].chars().count();
        }
    }
    out.push_str(&shown);
    count
}

fn push_escaped(out: &mut String, c: char) {
    if needs_escape(c) {
        let _ = write!(out, "{}", c.escape_default());
    } else {
        out.push(c);
    }
}

/// Control characters (C0, DEL, C1) and the bidirectional formatting characters that can make a
/// terminal show text other than what is there.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_everywhere() {
        assert_eq!(
            line("bad `\u{1b}[31mred\u{7}` at\ttab\u{9b}\u{202e}"),
            "bad `\\u{1b}[31mred\\u{7}` at\\ttab\\u{9b}\\u{202e}"
        );
        assert_eq!(line("a\nb\r"), "a\\nb\\r");
        assert_eq!(lines("one \u{1b}\ntwo", 10), "one \\u{1b}\ntwo");
    }

    #[test]
    fn a_long_quote_shows_its_beginning_and_length() {
        let token = "x".repeat(1 << 20);
        let shown = line(&format!("invalid domain `{token}`: too long"));
        assert_eq!(
            shown,
            format!(
                "invalid domain `{}… (1048576 bytes)`: too long",
                "x".repeat(QUOTE_KEEP)
            )
        );
        // A quote of exactly the limit is shown whole.
        let exact = format!("`{}`", "y".repeat(QUOTE_CHARS));
        assert_eq!(line(&exact), exact);
    }

    #[test]
    fn backticks_in_the_input_cannot_unbound_it() {
        let token = "a`".repeat(100_000);
        let shown = line(&format!("invalid domain `{token}`"));
        assert!(shown.chars().count() <= LINE_CHARS + 40, "{}", shown.len());
        assert!(shown.ends_with(" bytes in all)"), "{shown}");
        let token = format!("`{}", "b".repeat(100_000));
        let shown = line(&format!("invalid domain `{token}`"));
        assert!(shown.len() < 400, "{shown}");
    }

    #[test]
    fn a_second_pass_changes_nothing() {
        for text in [
            format!("`{}` and `{}`", "x".repeat(5000), "\u{7}".repeat(100)),
            "a`".repeat(100_000),
            format!("plain {}", "w".repeat(10_000)),
            "short `ok` text".to_string(),
        ] {
            let once = line(&text);
            assert_eq!(line(&once), once);
        }
    }

    #[test]
    fn any_text_comes_out_bounded_and_without_control_characters() {
        // Deterministic pseudo-random texts mixing backticks, controls, wide characters and long
        // runs: the guarantees hold for each, and a second pass keeps them.
        let alphabet = [
            'a', '`', '\u{1b}', '\u{7}', '\n', 'é', '\u{9b}', '\u{202e}', ' ', '字',
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..500 {
            let mut text = String::new();
            let runs = next() % 20;
            for _ in 0..runs {
                let c = alphabet[(next() % alphabet.len() as u64) as usize];
                let len = [1, 5, 70, 400, 5000][(next() % 5) as usize];
                text.extend(std::iter::repeat_n(c, len));
            }
            for once in [line(&text), line(&line(&text))] {
                assert!(once.chars().count() <= LINE_CHARS + 40, "{}", once.len());
                assert!(!once.chars().any(needs_escape), "{once:?}");
            }
        }
    }

    #[test]
    fn many_lines_are_counted_not_shown() {
        let text = vec!["problem"; 500].join("\n");
        let shown = lines(&text, 100);
        assert_eq!(shown.lines().count(), 101);
        assert!(shown.ends_with("… and 400 more lines"), "{shown}");
    }
}
