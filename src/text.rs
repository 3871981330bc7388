//! Text from the repository, made safe to show. Ledger content is written by whoever pushes,
//! and a terminal or a document must never *execute* it: an escape sequence can repaint what an
//! approver is about to sign, a bidi override (U+202E) can reorder a command line, an invisible
//! character can make two different ids look alike. Everything aiaudit prints from repository
//! content goes through [`visible`] (one line) or [`visible_text`] (line breaks kept): such
//! characters come out as Rust-style escapes (`\u{202e}`, `\u{1b}`), so the reader sees that
//! they are there and what they are. The record rules refuse them in free-text fields
//! ([`is_hidden`], used by `record::validate`).

use std::borrow::Cow;

/// Bidirectional-text controls and invisible formatting characters: characters that change how
/// the text around them is displayed, or display as nothing.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // Arabic letter mark
        | '\u{115F}' | '\u{1160}'   // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'   // Mongolian variation selectors, vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, bidi isolates, deprecated
        | '\u{3164}'                // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // zero-width no-break space (BOM)
        | '\u{FFA0}'                // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
        | '\u{1D173}'..='\u{1D17A}' // musical formatting
        | '\u{E0000}'..='\u{E007F}' // tag characters
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// A character that must not reach a terminal or document as is: a control character (C0,
/// DEL, C1 — escape sequences start with ESC or CSI) or a hidden one ([`is_hidden`]).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_hidden(c)
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` on one line, every control and hidden character escaped (line breaks too).
pub fn visible(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// `s` with its line breaks kept and every other control and hidden character escaped.
pub fn visible_text(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_execute_or_hide() {
        assert_eq!(visible("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(visible("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            visible("rm -rf /\u{202e}gpj.exe"),
            "rm -rf /\\u{202e}gpj.exe"
        );
        assert_eq!(visible("x\u{200b}y\u{9b}z"), "x\\u{200b}y\\u{9b}z");
        assert_eq!(visible("two\nlines\r"), "two\\nlines\\r");
        assert_eq!(visible_text("two\nlines\r\t"), "two\nlines\\r\\t");
        assert_eq!(visible("\u{e0041}"), "\\u{e0041}");
    }
}

/// A command line as a POSIX shell would read it back: each word as is when it holds only
/// characters no shell treats specially, else single-quoted. For display (pass the result
/// through [`visible_text`] before printing).
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod shell_words_tests {
    #[test]
    fn quotes_only_what_needs_it() {
        let w =
            |v: &[&str]| super::shell_words(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            w(&["kubectl", "rollout", "undo", "--to-revision=218"]),
            "kubectl rollout undo --to-revision=218"
        );
        assert_eq!(
            w(&["sh", "-c", "echo it's $HOME"]),
            "sh -c 'echo it'\\''s $HOME'"
        );
        assert_eq!(w(&["printf", ""]), "printf ''");
    }
}
