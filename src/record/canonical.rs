//! The canonical YAML form of records.
//!
//! A record file's bytes are its canonical serialization: the typed value, written by
//! [`to_canonical_yaml`], must reproduce the file byte for byte. This one rule rejects reordered
//! keys, comments, duplicate keys, anchors, aliases, tags, alternative quoting and explicit
//! nulls, so what a human reads, what an approver signs and what a machine parses are one thing.
//!
//! The form (documented in `docs/record.md`):
//! - mappings in block style, keys in schema order, two spaces of indentation per level, keys
//!   written plain (they are all `[a-z][a-z0-9_-]*`);
//! - strings always double-quoted, escaping `"`, `\`, and every control or non-printable
//!   character (`\n`, `\t`, `\r`, otherwise `\uXXXX`);
//! - integers in decimal, booleans as `true`/`false`;
//! - sequences in block style, `- ` at two more spaces than their key; absent optional fields and
//!   empty optional lists are omitted (an empty required list is written `[]`);
//! - LF line endings, one trailing newline, no document markers.
//!
//! The writer is ours, not the YAML library's, so the bytes of a record never depend on a
//! dependency's formatting choices. So is a reader of exactly this form ([`parse`]): records
//! are read far more often than written, and a canonical record is read without the YAML
//! library (about half of the cost of checking a record), then accepted only if it writes back
//! to the same bytes.

use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// Why a value cannot be written canonically (a bug in the model, never user input).
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error("cannot serialize record: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("null values have no canonical form (field `{0}`)")]
    Null(String),
    #[error("floating-point numbers have no canonical form (field `{0}`)")]
    Float(String),
    #[error("the top level of a record must be a mapping")]
    NotAMapping,
}

/// Writes `value` in canonical YAML.
pub fn to_canonical_yaml<T: Serialize>(value: &T) -> Result<String, CanonicalError> {
    let v = serde_json::to_value(value)?;
    let Value::Object(map) = &v else {
        return Err(CanonicalError::NotAMapping);
    };
    let mut out = String::new();
    write_map(&mut out, map, 0, &String::new)?;
    Ok(out)
}

/// The dotted name of the field being written (`approvals[0].signature`), for an error: built
/// only when one is raised, as records are written (and checked by writing) far more often than
/// they fail.
type Field<'a> = &'a dyn Fn() -> String;

fn write_map(
    out: &mut String,
    map: &serde_json::Map<String, Value>,
    indent: usize,
    path: Field,
) -> Result<(), CanonicalError> {
    for (key, value) in map {
        let field = || {
            let p = path();
            if p.is_empty() {
                key.clone()
            } else {
                format!("{p}.{key}")
            }
        };
        pad(out, indent);
        write_key(out, key);
        write_value_after_key(out, value, indent, &field)?;
    }
    Ok(())
}

fn write_value_after_key(
    out: &mut String,
    value: &Value,
    indent: usize,
    field: Field,
) -> Result<(), CanonicalError> {
    match value {
        Value::Object(m) if m.is_empty() => out.push_str(": {}\n"),
        Value::Object(m) => {
            out.push_str(":\n");
            write_map(out, m, indent + 2, field)?;
        }
        Value::Array(a) if a.is_empty() => out.push_str(": []\n"),
        Value::Array(a) => {
            out.push_str(":\n");
            write_seq(out, a, indent + 2, field)?;
        }
        scalar => {
            out.push_str(": ");
            write_scalar(out, scalar, field)?;
            out.push('\n');
        }
    }
    Ok(())
}

fn write_seq(
    out: &mut String,
    items: &[Value],
    indent: usize,
    field: Field,
) -> Result<(), CanonicalError> {
    for (i, item) in items.iter().enumerate() {
        let field = || format!("{}[{i}]", field());
        pad(out, indent);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => {
                // The first key sits on the dash line; the rest align under it.
                for (n, (key, value)) in m.iter().enumerate() {
                    if n > 0 {
                        pad(out, indent + 2);
                    }
                    write_key(out, key);
                    write_value_after_key(out, value, indent + 2, &|| {
                        format!("{}.{key}", field())
                    })?;
                }
            }
            Value::Object(_) => out.push_str("{}\n"),
            Value::Array(a) if a.is_empty() => out.push_str("[]\n"),
            Value::Array(_) => {
                // Nested sequences do not occur in the schemas; write them in flow-free block
                // form on the next line to stay unambiguous.
                out.push('\n');
                if let Value::Array(a) = item {
                    write_seq(out, a, indent + 2, &field)?;
                }
            }
            scalar => {
                write_scalar(out, scalar, &field)?;
                out.push('\n');
            }
        }
    }
    Ok(())
}

fn write_scalar(out: &mut String, v: &Value, field: Field) -> Result<(), CanonicalError> {
    match v {
        Value::Null => return Err(CanonicalError::Null(field())),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(CanonicalError::Float(field()));
            }
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_quoted(out, s),
        Value::Array(_) | Value::Object(_) => unreachable!("containers handled by callers"),
    }
    Ok(())
}

fn write_key(out: &mut String, key: &str) {
    let plain = key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if plain {
        out.push_str(key);
    } else {
        write_quoted(out, key);
    }
}

/// Writes a YAML double-quoted scalar. Everything YAML treats specially or cannot carry raw is
/// escaped; printable Unicode is written as is.
pub fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    // Runs of characters written as they are go in one copy.
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let plain = match c {
            '"' | '\\' => false,
            ' '..='~' => true,
            c => !needs_escape(c),
        };
        if plain {
            continue;
        }
        out.push_str(&s[run..i]);
        run = i + c.len_utf8();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // YAML's escapes: `\uXXXX` in the Basic Multilingual Plane, `\UXXXXXXXX` above it
            // (YAML has no surrogate pairs).
            c if (c as u32) > 0xFFFF => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

fn needs_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7F..=0x9F).contains(&u)
        || u == 0x2028
        || u == 0x2029
        || u == 0xFFFE
        || u == 0xFFFF
        // Bidi controls and invisible formatting (U+FEFF among them): shown as escapes in
        // the file, so what a reader of the raw file sees is what it says.
        || crate::text::is_hidden(c)
}

fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Reads text written in the canonical form back into a value, without the YAML library: the
/// form is a small, fixed subset of YAML (see the module docs), and records are read far more
/// often than written (every `verify` reads every record of history). `None` for anything
/// outside the form; the caller then parses with the YAML library, whose errors name what is
/// wrong.
///
/// Only a shortcut, never a second judge: a value read here is used only when writing it back
/// canonically reproduces the text byte for byte. The YAML library reads those same bytes as
/// the same value (the writer's output parses back to what was written: the tests below and
/// `proptests.rs`), so the shortcut accepts exactly what the library would, and yields the same
/// value.
pub fn parse(text: &str) -> Option<Value> {
    let body = text.strip_suffix('\n')?;
    let mut p = Reader {
        lines: body.split('\n').collect(),
        pos: 0,
    };
    let map = p.map(0, serde_json::Map::new())?;
    (p.pos == p.lines.len()).then_some(Value::Object(map))
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    pos: usize,
}

impl<'a> Reader<'a> {
    /// The line at the cursor, if it starts with exactly `indent` spaces: its rest.
    fn at(&self, indent: usize) -> Option<&'a str> {
        let line = self.lines.get(self.pos)?;
        let rest = line.get(indent..)?;
        (line.as_bytes()[..indent].iter().all(|b| *b == b' ') && !rest.starts_with(' '))
            .then_some(rest)
    }

    /// The entries of a block mapping whose keys sit at `indent`, after those in `map`.
    fn map(
        &mut self,
        indent: usize,
        mut map: serde_json::Map<String, Value>,
    ) -> Option<serde_json::Map<String, Value>> {
        while let Some(rest) = self.at(indent) {
            if rest.starts_with('-') {
                break;
            }
            self.pos += 1;
            let (key, after) = key(rest)?;
            let value = self.after_key(after, indent)?;
            if map.insert(key, value).is_some() {
                return None;
            }
        }
        // A block mapping has an entry, or the writer writes `{}`.
        (!map.is_empty()).then_some(map)
    }

    /// The value after a key at `indent`, `after` being the rest of its line from the colon.
    fn after_key(&mut self, after: &str, indent: usize) -> Option<Value> {
        match after {
            ": {}" => Some(Value::Object(serde_json::Map::new())),
            ": []" => Some(Value::Array(Vec::new())),
            ":" => {
                if self.at(indent + 2)?.starts_with('-') {
                    self.seq(indent + 2).map(Value::Array)
                } else {
                    self.map(indent + 2, serde_json::Map::new())
                        .map(Value::Object)
                }
            }
            _ => scalar(after.strip_prefix(": ")?),
        }
    }

    /// The items of a block sequence whose dashes sit at `indent`.
    fn seq(&mut self, indent: usize) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        while let Some(rest) = self.at(indent) {
            if !rest.starts_with('-') {
                break;
            }
            self.pos += 1;
            let item = match rest {
                "-" => Value::Array(self.seq(indent + 2)?),
                "- {}" => Value::Object(serde_json::Map::new()),
                "- []" => Value::Array(Vec::new()),
                _ => {
                    let r = rest.strip_prefix("- ")?;
                    match key(r) {
                        // A mapping: its first key on the dash line, the others under it.
                        Some((k, after)) => {
                            let first = self.after_key(after, indent + 2)?;
                            let mut map = serde_json::Map::new();
                            map.insert(k, first);
                            if self.at(indent + 2).is_some() {
                                map = self.map(indent + 2, map)?;
                            }
                            Value::Object(map)
                        }
                        None => scalar(r)?,
                    }
                }
            };
            items.push(item);
        }
        (!items.is_empty()).then_some(items)
    }
}

/// A key at the start of `s` and the rest of `s` from the colon after it: plain
/// (`[a-z][a-z0-9_-]*`) or double-quoted.
fn key(s: &str) -> Option<(String, &str)> {
    let (k, rest) = if s.starts_with('"') {
        let (k, used) = quoted(s)?;
        (k, &s[used..])
    } else {
        let end = s
            .bytes()
            .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'))
            .unwrap_or(s.len());
        if !s.as_bytes().first()?.is_ascii_lowercase() {
            return None;
        }
        (s[..end].to_owned(), &s[end..])
    };
    rest.starts_with(':').then_some((k, rest))
}

/// A whole scalar: a double-quoted string, `true`, `false`, or a decimal integer.
fn scalar(s: &str) -> Option<Value> {
    match s {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ if s.starts_with('"') => {
            let (v, used) = quoted(s)?;
            (used == s.len()).then_some(Value::String(v))
        }
        _ => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            if s.starts_with('-') {
                s.parse::<i64>().ok().map(Value::from)
            } else {
                s.parse::<u64>().ok().map(Value::from)
            }
        }
    }
}

/// The double-quoted string at the start of `s` (the writer's escapes only) and the bytes it
/// took, quotes included.
fn quoted(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 2)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let mut code = 0u32;
                        for _ in 0..n {
                            let (_, h) = chars.next()?;
                            code = code * 16 + h.to_digit(16)?;
                        }
                        out.push(char::from_u32(code)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Inner {
        kind: String,
        size: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Outer {
        name: String,
        flag: bool,
        inner: Inner,
        items: Vec<Inner>,
    }

    fn sample() -> Outer {
        Outer {
            name: "tricky: \"quoted\" \\ back\nslash\u{7f}\u{85} yes # not a comment".into(),
            flag: true,
            inner: Inner {
                kind: "no".into(),
                size: 3,
                tags: vec!["null".into(), "~".into()],
            },
            items: vec![
                Inner {
                    kind: "a".into(),
                    size: 0,
                    tags: vec![],
                },
                Inner {
                    kind: "é 🦀".into(),
                    size: 18446744073709551615,
                    tags: vec!["x".into()],
                },
            ],
        }
    }

    #[test]
    fn layout_is_exactly_as_documented() {
        let got = to_canonical_yaml(&sample()).unwrap();
        let want = concat!(
            "name: \"tricky: \\\"quoted\\\" \\\\ back\\nslash\\u007F\\u0085 yes # not a comment\"\n",
            "flag: true\n",
            "inner:\n",
            "  kind: \"no\"\n",
            "  size: 3\n",
            "  tags:\n",
            "    - \"null\"\n",
            "    - \"~\"\n",
            "items:\n",
            "  - kind: \"a\"\n",
            "    size: 0\n",
            "  - kind: \"é 🦀\"\n",
            "    size: 18446744073709551615\n",
            "    tags:\n",
            "      - \"x\"\n",
        );
        assert_eq!(got, want);
    }

    #[test]
    fn output_parses_back_to_the_same_value() {
        let text = to_canonical_yaml(&sample()).unwrap();
        let back: Outer = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn every_char_class_round_trips() {
        let mut s = String::new();
        for u in (0u32..0x3000).chain([0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x1F980]) {
            if let Some(c) = char::from_u32(u) {
                s.push(c);
            }
        }
        let v = Inner {
            kind: s,
            size: 1,
            tags: vec![],
        };
        let text = to_canonical_yaml(&v).unwrap();
        let back: Inner = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn the_reader_reads_what_the_writer_writes_and_nothing_else() {
        let text = to_canonical_yaml(&sample()).unwrap();
        let v = parse(&text).expect("canonical text is read");
        let back: Outer = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
        for dir in ["examples/decisions", "examples/events"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                let fast = parse(&text).unwrap_or_else(|| panic!("{} not read", path.display()));
                let slow: Value = serde_yaml::from_str(&text).unwrap();
                assert_eq!(fast, slow, "{}", path.display());
            }
        }
        // Outside the form: the caller falls back to the YAML library.
        for bad in [
            "name: 'single'\n",
            "name: \"x\"",
            "name: \"x\" # c\n",
            "name:  \"x\"\n",
            "name: \"x\"\nname: \"y\"\n",
            "a:\n   b: 1\n",
            "a: &x 1\n",
            "a: 1.5\n",
            "a: null\n",
            "a: \"\\q\"\n",
            "a:\n- 1\n",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
