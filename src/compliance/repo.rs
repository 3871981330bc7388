//! Repository names as decisions and remotes spell them, normalized so that
//! `git@github.com:Acme/Payments.git` and `https://github.com/acme/payments` are one name.

/// `https://user@github.com/Acme/Payments.git`, `git@github.com:acme/payments`,
/// `ssh://git@github.com:22/acme/payments.git/` → `github.com/acme/payments`.
pub fn normalize_repo(s: &str) -> String {
    let mut s = s.trim().to_lowercase();
    if let Some((_, rest)) = s.split_once("://") {
        s = rest.to_owned();
    } else if let Some((host, path)) = s.split_once(':') {
        // scp-like `[user@]host:path`
        if !host.contains('/') {
            s = format!("{host}/{path}");
        }
    }
    let slash = s.find('/').unwrap_or(s.len());
    if let Some(at) = s[..slash].rfind('@') {
        s = s[at + 1..].to_owned();
    }
    let slash = s.find('/').unwrap_or(s.len());
    if let Some(colon) = s[..slash].find(':') {
        if s[colon + 1..slash].bytes().all(|b| b.is_ascii_digit()) {
            s = format!("{}{}", &s[..colon], &s[slash..]);
        }
    }
    let mut s = s.trim_end_matches('/').to_owned();
    if let Some(x) = s.strip_suffix(".git") {
        s = x.trim_end_matches('/').to_owned();
    }
    s
}

/// The part after the host, when the first segment looks like a host.
fn without_host(n: &str) -> Option<&str> {
    let (first, rest) = n.split_once('/')?;
    (first.contains('.') || first == "localhost").then_some(rest)
}

/// Whether a decision's target `candidate` names the repository `expected` (both normalized).
pub fn names_match(expected: &str, candidate: &str) -> bool {
    if expected.is_empty() || candidate.is_empty() {
        return false;
    }
    expected == candidate
        || (without_host(expected).is_none() && without_host(candidate) == Some(expected))
        || (without_host(candidate).is_none() && without_host(expected) == Some(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_repository_names() {
        for s in [
            "https://github.com/Acme/Payments.git",
            "https://x-access-token:abc@github.com/acme/payments",
            "git@github.com:acme/payments.git",
            "ssh://git@github.com:22/acme/payments.git/",
            "github.com/acme/payments",
        ] {
            assert_eq!(normalize_repo(s), "github.com/acme/payments", "{s}");
        }
        assert!(names_match("acme/payments", "github.com/acme/payments"));
        assert!(names_match("github.com/acme/payments", "acme/payments"));
        assert!(!names_match(
            "github.com/acme/payments",
            "gitlab.com/acme/payments"
        ));
        assert!(!names_match("github.com/acme/payments", "aws/prod"));
    }
}
