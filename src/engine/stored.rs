//! Rule family: stored context. Each `context/<xx>/<sha256>` file is named by its content's
//! SHA-256, is UTF-8 text within the cap, holds no credential, and is the content of an input,
//! tool call or model output of the decision its commit adds.

use super::internal;
use crate::diag::{Code, Diagnostic};
use crate::intake::secrets;
use crate::record::{self, digest, Decision};
use crate::store::{BlobRead, Change, Oid};
use std::collections::HashSet;

impl super::Checker<'_> {
    /// Stored context files: each named by the SHA-256 of its content, UTF-8 text within the
    /// size cap, free of anything that looks like a credential, and the content of an input,
    /// tool call or model output of `decision` (None: the commit adds no decision, so nothing
    /// may be stored).
    pub(super) fn check_stored_context(
        &self,
        decision: Option<&Decision>,
        stored: &[&Change],
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let named: HashSet<&str> = decision
            .map(|d| record::content_digests(d).into_iter().collect())
            .unwrap_or_default();
        for ch in stored {
            let path = ch.path.as_str();
            let (Some(entry), Some(name)) = (ch.new, record::context_path_digest(path)) else {
                continue;
            };
            diags.extend(self.check_content_blob(entry.oid, name, path));
            if !named.contains(name) {
                let why = match decision {
                    Some(d) => format!(
                        "no input, tool call or model output of decision {} has SHA-256 {name}",
                        d.id
                    ),
                    None => "the commit adds no decision for it to belong to".to_owned(),
                };
                diags.push(Diagnostic::new(Code::StoredContextUnreferenced, why).at_path(path));
            }
        }
        diags
    }

    /// A stored content, wherever it is kept (a `context/` file, a content-store ref, named
    /// `at` in findings): its bytes hash to `name`, are UTF-8 text within the cap, and hold
    /// nothing that looks like a credential.
    pub(super) fn check_content_blob(&self, oid: Oid, name: &str, at: &str) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let bytes = match self
            .store
            .read_blob(oid, record::MAX_STORED_CONTEXT_BYTES as u64)
        {
            Ok(BlobRead::Data(b)) => b,
            Ok(BlobRead::TooLarge(n)) => {
                return vec![Diagnostic::new(
                    Code::FileTooLarge,
                    format!(
                        "{n} bytes, more than the {}-byte cap for stored context",
                        record::MAX_STORED_CONTEXT_BYTES
                    ),
                )
                .at_path(at)];
            }
            Err(e) => return vec![internal(e).at_path(at)],
        };
        let actual = digest::sha256_hex(&bytes);
        if actual != name {
            diags.push(
                Diagnostic::new(
                    Code::StoredContextMismatch,
                    format!("the content's SHA-256 is {actual}, not the {name} its name says"),
                )
                .at_path(at),
            );
        }
        if std::str::from_utf8(&bytes).is_err() || bytes.contains(&0) {
            diags.push(
                Diagnostic::new(
                    Code::NotUtf8,
                    "stored context is UTF-8 text without NUL bytes; binary inputs are recorded by digest only",
                )
                .at_path(at),
            );
        } else if let Some(hit) = secrets::scan(&bytes).first() {
            diags.push(
                Diagnostic::new(
                    Code::StoredContextSecret,
                    format!("line {}: {}", hit.line, hit.describe()),
                )
                .at_path(at),
            );
        }
        diags
    }
}
