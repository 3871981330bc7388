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

/// Why a shell command line is not one simple command whose words are known before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSimple(pub String);

impl std::fmt::Display for NotSimple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The words of `line` when it is one simple command, as a POSIX shell would pass them to the
/// program: words split at unquoted blanks, single quotes, double quotes and backslashes
/// removed. Refused (with the construct named) is anything that makes the words depend on the
/// shell or runs more than one command: operators (`;` `&` `|` `<` `>` `(` `)`), a line
/// break, expansions (`$`, a backquote, also inside double quotes), globs (`*` `?` `[`), a
/// leading `~`, a comment, an unterminated quote, and a leading `NAME=value` assignment.
/// `shell_words` of the result gives back a line a shell reads as the same words.
pub fn simple_command(line: &str) -> Result<Vec<String>, NotSimple> {
    let bad = |what: &str| Err(NotSimple(what.to_owned()));
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\n' | '\r' => return bad("a line break (more than one command)"),
            ';' | '&' | '|' => return bad(&format!("the operator `{c}`")),
            '<' | '>' => return bad(&format!("the redirection `{c}`")),
            '(' | ')' => return bad(&format!("the subshell or grouping `{c}`")),
            '$' => return bad("an expansion (`$`)"),
            '`' => return bad("a command substitution (a backquote)"),
            '*' | '?' | '[' => return bad(&format!("the glob `{c}`")),
            '#' if cur.is_none() => return bad("a comment (`#`)"),
            '~' if cur.is_none() => return bad("a home-directory expansion (`~`)"),
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(n) => cur.get_or_insert_with(String::new).push(n),
                None => return bad("a trailing backslash"),
            },
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => w.push(n),
                        None => return bad("an unterminated single quote"),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$') => return bad("an expansion (`$`) inside double quotes"),
                        Some('`') => return bad("a command substitution inside double quotes"),
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => w.push(n),
                            Some('\n') => {}
                            Some(n) => {
                                w.push('\\');
                                w.push(n);
                            }
                            None => return bad("an unterminated double quote"),
                        },
                        Some(n) => w.push(n),
                        None => return bad("an unterminated double quote"),
                    }
                }
            }
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = cur.take() {
        words.push(w);
    }
    if words.is_empty() {
        return bad("no command");
    }
    let first = &words[0];
    if let Some((name, _)) = first.split_once('=') {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return bad("a variable assignment before the command");
        }
    }
    Ok(words)
}

/// The pieces of a shell line that may each run a command: `line` cut at every character that
/// can start another command (`;` `&` `|` `(` `)` a backquote, `$(`, a line break), quoted or
/// not — an over-approximation on purpose, for deciding whether a line touches anything
/// privileged.
pub fn command_pieces(line: &str) -> Vec<&str> {
    line.split(|c: char| {
        matches!(
            c,
            ';' | '&' | '|' | '(' | ')' | '`' | '\n' | '\r' | '{' | '}'
        )
    })
    .map(|p| p.trim().trim_end_matches('$').trim())
    .filter(|p| !p.is_empty())
    .collect()
}

#[cfg(test)]
mod simple_command_tests {
    use super::{command_pieces, shell_words, simple_command};

    #[test]
    fn simple_commands_give_their_words() {
        let ok = |l: &str| simple_command(l).unwrap();
        assert_eq!(
            ok("kubectl apply -f deploy.yaml"),
            ["kubectl", "apply", "-f", "deploy.yaml"]
        );
        assert_eq!(
            ok("  echo  'a b'  \"c d\" e\\ f"),
            ["echo", "a b", "c d", "e f"]
        );
        assert_eq!(ok("psql -c 'select 1;'"), ["psql", "-c", "select 1;"]);
        assert_eq!(ok("echo \"x\\\"y\" ''"), ["echo", "x\"y", ""]);
        assert_eq!(
            ok("git --work-tree=x status"),
            ["git", "--work-tree=x", "status"]
        );
        // What shell_words prints reads back as the same words.
        for l in [
            "sh -c 'echo it'\\''s $HOME; rm x'",
            "printf '%s\\n' a 'b c' \"\"",
        ] {
            let words = ok(l);
            assert_eq!(ok(&shell_words(&words)), words, "{l}");
        }
    }

    #[test]
    fn anything_the_shell_would_rewrite_or_chain_is_refused() {
        for (line, what) in [
            ("kubectl apply -f x && rm -rf /", "operator `&`"),
            ("kubectl apply; rm x", "operator `;`"),
            ("cat x | sh", "operator `|`"),
            ("echo > /etc/passwd", "redirection"),
            ("echo $(id)", "expansion"),
            ("echo \"$HOME\"", "inside double quotes"),
            ("echo `id`", "backquote"),
            ("rm *.yaml", "glob"),
            ("ls ~/x", "home-directory"),
            ("FOO=1 kubectl apply", "assignment"),
            ("echo 'open", "unterminated single"),
            ("a\nb", "line break"),
            ("", "no command"),
            ("(cd x)", "subshell"),
        ] {
            let e = simple_command(line).unwrap_err();
            assert!(e.0.contains(what), "{line}: {e}");
        }
    }

    #[test]
    fn pieces_cover_every_command_a_line_may_run() {
        assert_eq!(
            command_pieces("echo hi; kubectl apply -f x && echo $(terraform destroy) | `helm x`"),
            [
                "echo hi",
                "kubectl apply -f x",
                "echo",
                "terraform destroy",
                "helm x"
            ]
        );
    }
}
