//! The context digest: one SHA-256 over every context entry, recomputable by anyone.
//!
//! The rule (also in `docs/context-digest.md`, which is normative):
//!
//! ```text
//! H = SHA-256( "aiaudit/context/v1\n"
//!              || for each entry, in file order:
//!                 kind 0x00 name 0x00 uri 0x00 size 0x00 sha256 0x00 arguments_sha256 0x0A )
//! digest = "sha256:" || lowercase-hex(H)
//! ```
//!
//! `size` is written in decimal without leading zeros; an absent `uri` or `arguments_sha256` is
//! the empty string. Validation forbids control characters in every one of these fields, so the
//! separators are unambiguous.

use super::ContextEntry;
use sha2::{Digest, Sha256};

/// The domain-separation prefix of the context digest, version 1.
pub const CONTEXT_DIGEST_PREFIX: &[u8] = b"aiaudit/context/v1\n";

/// Computes the context digest of `entries`.
pub fn context_digest(entries: &[ContextEntry]) -> String {
    let mut h = Sha256::new();
    h.update(CONTEXT_DIGEST_PREFIX);
    for e in entries {
        h.update(e.kind.as_str().as_bytes());
        h.update([0]);
        h.update(e.name.as_bytes());
        h.update([0]);
        h.update(e.uri.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(e.size.to_string().as_bytes());
        h.update([0]);
        h.update(e.sha256.as_bytes());
        h.update([0]);
        h.update(e.arguments_sha256.as_deref().unwrap_or("").as_bytes());
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hex part of a `sha256:<hex>` digest.
pub fn parse_digest(s: &str) -> Option<&str> {
    s.strip_prefix("sha256:").filter(|h| is_sha256_hex(h))
}
