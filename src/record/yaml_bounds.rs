//! Bounds on what a YAML document may cost, checked before the YAML library sees it.
//!
//! Two shapes of hostile input stay inside a file's size cap and still cost the parser far more
//! than their size:
//!
//! - **Deep flow nesting.** The YAML scanner walks its whole stack of open flow collections for
//!   every token, so `[[[[…` costs depth × tokens: 40,000 `[` take 4 s, a 256 KiB record of them
//!   over a minute, a 1 MiB policy tens of minutes. Every open flow collection starts with a `[`
//!   or `{` character, so counting those characters (in strings too: never undercounting)
//!   bounds the depth before anything is parsed ([`check_flow`]).
//! - **Alias expansion** ("billion laughs"). The YAML library caps how often aliases are
//!   followed relative to the document's size, but not what they expand to: one 16 KiB string
//!   aliased 12,000 times fits in a 256 KiB record and expands into a list of 190 MiB of strings
//!   before any check of ours runs. [`check_aliases`] walks the document once with a visitor
//!   that borrows every scalar and builds nothing, counting the bytes the expanded document
//!   would hold, and stops as soon as they pass the budget.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;

/// A document over one of the bounds; the message says which and by how much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    #[error("{found} `[`/`{{` characters, more than the {max} the YAML parser is allowed here (flow collections nest too deep for it to finish in bounded time)")]
    FlowBrackets { found: usize, max: usize },
    #[error("anchors and aliases expand the file to more than {budget} bytes")]
    AliasExpansion { budget: usize },
}

/// Fails when `text` holds more than `max` `[` and `{` characters, an upper bound on how deep
/// its flow collections nest. Run it before [`check_aliases`], which parses.
pub fn check_flow(text: &str, max: usize) -> Result<(), BoundsError> {
    let found = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if found > max {
        return Err(BoundsError::FlowBrackets { found, max });
    }
    Ok(())
}

/// Fails when the document, with every alias expanded, holds more than `budget` bytes (each
/// scalar counts its length plus one, each collection one). Text without `*` has no alias and
/// costs nothing. YAML errors are not this check's business: the typed parse that follows
/// reports them with their line.
pub fn check_aliases(text: &str, budget: usize) -> Result<(), BoundsError> {
    if !text.contains('*') {
        return Ok(());
    }
    let left = Cell::new(budget);
    let result = Budget(&left).deserialize(serde_yaml::Deserializer::from_str(text));
    match result {
        Err(_) if left.get() == 0 => Err(BoundsError::AliasExpansion { budget }),
        _ => Ok(()),
    }
}

/// The bytes left to spend; zero once exhausted.
struct Budget<'a>(&'a Cell<usize>);

impl Budget<'_> {
    fn spend<E: de::Error>(&self, n: usize) -> Result<(), E> {
        match self.0.get().checked_sub(n.saturating_add(1)) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => {
                self.0.set(0);
                Err(E::custom("alias expansion budget exhausted"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.spend(1)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.spend(8)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.spend(16)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.spend(8)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.spend(16)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.spend(8)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.spend(v.len())
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.spend(v.len())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.spend(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.spend(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(0)?;
        Budget(self.0).deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend(0)?;
        Budget(self.0).deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend(0)?;
        while seq.next_element_seed(Budget(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend(0)?;
        while map.next_key_seed(Budget(self.0))?.is_some() {
            map.next_value_seed(Budget(self.0))?;
        }
        Ok(())
    }
    /// A tagged node (`!tag value`): the tag, then the value.
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess as _;
        let ((), variant) = data.variant_seed(Budget(self.0))?;
        variant.newtype_variant_seed(Budget(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::{check_aliases as check, check_flow};

    #[test]
    fn plain_documents_pass_and_aliases_within_the_budget_pass() {
        assert!(check("a: 1\nb: [\"x\", \"y\"]\n", 10).is_ok());
        assert!(check("a: &x \"abc\"\nb: *x\n", 64).is_ok());
        // Not this check's business: the typed parse reports the syntax error.
        assert!(check("a: *undefined\n", 64).is_ok());
    }

    #[test]
    fn expansion_beyond_the_budget_fails() {
        let big = "x".repeat(1024);
        let doc = format!("a: [&s \"{big}\"{}]\n", ", *s".repeat(100));
        let err = check(&doc, 2 * doc.len()).unwrap_err();
        assert!(err.to_string().contains("anchors and aliases"), "{err}");

        let mut laughs = String::from("l0: &l0 [\"lol\", \"lol\", \"lol\", \"lol\"]\n");
        for n in 1..12 {
            let m = n - 1;
            laughs.push_str(&format!("l{n}: &l{n} [*l{m}, *l{m}, *l{m}, *l{m}]\n"));
        }
        assert!(check(&laughs, 2 * laughs.len()).is_err());
    }

    #[test]
    fn flow_nesting_is_bounded_by_the_bracket_count() {
        assert!(check_flow("a: [1, {b: 2}]\n", 2).is_ok());
        assert!(check_flow("a: [1, {b: 2}]\n", 1).is_err());
        // Brackets in strings count too: the bound never undercounts.
        assert!(check_flow("a: \"[[[\"\n", 2).is_err());
    }

    #[test]
    fn tagged_and_deep_documents_do_not_trip_it() {
        assert!(check("a: !t [*x]\n", 64).is_ok());
        let deep = format!("a: {}*x{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(check(&deep, 2 * deep.len()).is_ok());
    }
}
