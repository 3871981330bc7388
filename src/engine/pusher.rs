//! Who pushes: what the server tells the hook, and what a push certificate proves.
//!
//! A server authenticates pushers its own way and passes the result to hooks in its
//! environment: a forge's variable (GitHub Enterprise's `GITHUB_USER_LOGIN`, GitLab's
//! `GL_USERNAME`, Gitea's `GITEA_PUSHER_NAME`), gitolite's `GL_USER`, a web server's
//! `REMOTE_USER` (CGI, RFC 3875 §4.1.11, which `git http-backend` passes on). These are the
//! server's word: they count only where the pusher cannot set them (they can over the local
//! file transport, and over SSH when `sshd` accepts their environment).
//!
//! A signed push (`git push --signed`) proves it instead. git's receive-pack stores the push
//! certificate in a blob and names it in `GIT_PUSH_CERT`; with `receive.certNonceSeed` set it
//! gives the client a nonce and says in `GIT_PUSH_CERT_NONCE_STATUS` whether the certificate
//! carries it (`OK`), as git-receive-pack(1) documents. The certificate (git's
//! Documentation/technical/pack-protocol.txt, `push-cert`) is
//!
//! ```text
//! certificate version 0.1
//! pusher <ident>
//! pushee <url>            (optional)
//! nonce <nonce>
//! push-option <option>    (any number)
//!
//! <old> <new> <ref>       (one line per command)
//! -----BEGIN PGP SIGNATURE-----  (a detached signature over everything before it)
//! ```
//!
//! aiaudit does not take git's word on the signature (`GIT_PUSH_CERT_STATUS` is gpg's verdict
//! with the server account's keyring): it verifies it itself against the keys of the policy on
//! main, valid now, and then the pusher is the principal whose key signed.

use super::Checker;
use super::RefUpdate;
use crate::diag::{Code, Diagnostic};
use crate::ledger::MAIN_REF;
use crate::pgp;
use crate::policy::Policy;
use crate::store::Oid;

/// The environment variables that carry a pusher's login, in the order they are read: a
/// forge's own first, then gitolite's, then the web server's (gitolite over HTTP sets both).
pub const LOGIN_VARIABLES: [&str; 5] = [
    "GITHUB_USER_LOGIN",
    "GL_USERNAME",
    "GITEA_PUSHER_NAME",
    "GL_USER",
    "REMOTE_USER",
];

/// Largest push certificate read (a certificate is a few hundred bytes per ref update).
const MAX_CERT: u64 = 1024 * 1024;

/// What the server told the hook about who pushes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushIdentity {
    /// The login the server authenticated, and the variable that carried it.
    pub login: Option<(String, String)>,
    /// The push certificate of a signed push.
    pub cert: Option<PushCert>,
}

/// A push certificate as git hands it to the hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCert {
    /// `GIT_PUSH_CERT`: the blob holding the certificate.
    pub blob: String,
    /// `GIT_PUSH_CERT_NONCE_STATUS`: whether the certificate carries the nonce git issued.
    pub nonce_status: Option<String>,
}

impl PushIdentity {
    /// Reads the hook's environment.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let login = LOGIN_VARIABLES.iter().find_map(|k| {
            env(k)
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).to_owned(), v))
        });
        let cert = env("GIT_PUSH_CERT")
            .filter(|v| !v.is_empty())
            .map(|blob| PushCert {
                blob,
                nonce_status: env("GIT_PUSH_CERT_NONCE_STATUS").filter(|v| !v.is_empty()),
            });
        PushIdentity { login, cert }
    }

    /// A login given directly (tests, and callers that know it).
    pub fn login(variable: &str, login: impl Into<String>) -> Self {
        PushIdentity {
            login: Some((variable.to_owned(), login.into())),
            cert: None,
        }
    }
}

/// Who pushed, as far as the hook can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pusher {
    /// A login the server authenticated, matched against the principals' `forge_logins`.
    Login { login: String, variable: String },
    /// The principal whose key signed the push certificate.
    Principal { id: String, key: String },
}

impl std::fmt::Display for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pusher::Login { login, variable } => write!(f, "login `{login}` ({variable})"),
            Pusher::Principal { id, key } => {
                write!(f, "principal `{id}` (signed push, key {key})")
            }
        }
    }
}

impl Pusher {
    /// Whether this pusher is one of the principals `ids`, or a landing account.
    pub fn is_accountable(&self, policy: &Policy, ids: &[String], landing: &[String]) -> bool {
        match self {
            Pusher::Login { login, .. } => {
                landing.contains(login)
                    || ids
                        .iter()
                        .filter_map(|id| policy.principal(id))
                        .any(|p| p.forge_logins.iter().any(|l| l == login))
            }
            Pusher::Principal { id, .. } => landing.contains(id) || ids.contains(id),
        }
    }
}

/// A push certificate taken apart: the signed bytes, the signature, the commands.
#[derive(Debug, PartialEq, Eq)]
struct Certificate<'a> {
    signed: &'a [u8],
    signature: &'a [u8],
    commands: Vec<(&'a str, &'a str, &'a str)>,
}

const SIGNATURE_START: &[u8] = b"-----BEGIN PGP SIGNATURE-----";

fn parse_certificate(bytes: &[u8]) -> Result<Certificate<'_>, String> {
    let at = memchr::memmem::find_iter(bytes, SIGNATURE_START)
        .find(|&i| i == 0 || bytes[i - 1] == b'\n')
        .ok_or_else(|| {
            if memchr::memmem::find(bytes, b"-----BEGIN SSH SIGNATURE-----").is_some() {
                "it is signed with an SSH key (gpg.format=ssh); aiaudit verifies OpenPGP signatures by the policy's keys".to_owned()
            } else {
                "it carries no OpenPGP signature".to_owned()
            }
        })?;
    let (signed, signature) = bytes.split_at(at);
    let text = std::str::from_utf8(signed).map_err(|_| "it is not UTF-8".to_owned())?;
    let mut lines = text.split('\n');
    if lines.next() != Some("certificate version 0.1") {
        return Err("it does not start with `certificate version 0.1`".into());
    }
    // Header fields up to the empty line.
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
    }
    let mut commands = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(old), Some(new), Some(name), None) => commands.push((old, new, name)),
            _ => {
                let shown: String = line.chars().take(120).collect();
                return Err(format!(
                    "`{}` is not an `<old> <new> <ref>` command",
                    shown.escape_debug()
                ));
            }
        }
    }
    Ok(Certificate {
        signed,
        signature,
        commands,
    })
}

fn cert_finding(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::new(
        Code::PushCertInvalid,
        format!("the push certificate {}", msg.into()),
    )
}

impl Checker<'_> {
    /// Settles who pushes `updates`: the principal a valid push certificate proves, else the
    /// login the server gave. A certificate that does not prove who pushed rejects the push:
    /// a signed push claims an identity, and a false claim is not let through.
    pub(super) fn settle_pusher(&mut self, updates: &[RefUpdate]) -> Vec<Diagnostic> {
        self.pusher = self
            .identity
            .login
            .clone()
            .map(|(variable, login)| Pusher::Login { login, variable });
        let Some(cert) = self.identity.cert.clone() else {
            return Vec::new();
        };
        // The keys that count are those of the policy on main before this push.
        let Some(main) = self.store.ref_target(MAIN_REF).ok().flatten() else {
            return Vec::new(); // no policy yet: nothing to judge the signature by
        };
        match self.verify_push_cert(&cert, main, updates) {
            Ok(p) => {
                self.pusher = Some(p);
                Vec::new()
            }
            Err(d) => vec![d],
        }
    }

    fn verify_push_cert(
        &mut self,
        cert: &PushCert,
        main: Oid,
        updates: &[RefUpdate],
    ) -> Result<Pusher, Diagnostic> {
        match cert.nonce_status.as_deref() {
            Some("OK") => {}
            status => {
                let why = match status {
                    Some("UNSOLICITED") => "git did not ask for a nonce (the server repository has no receive.certNonceSeed; `aiaudit hook install` sets it)".to_owned(),
                    Some("MISSING") => "carries no nonce".to_owned(),
                    Some("BAD") => "carries a nonce git did not issue".to_owned(),
                    Some("SLOP") => "carries a nonce git issued to another session, longer ago than receive.certNonceSlop allows".to_owned(),
                    Some(other) => format!("has nonce status `{}`", other.escape_debug()),
                    None => "comes without a nonce status from git".to_owned(),
                };
                return Err(cert_finding(format!(
                    "{why}: it could be replayed from another push"
                )));
            }
        }
        let blob = Oid::from_hex(cert.blob.as_bytes()).map_err(|_| {
            cert_finding(format!(
                "`{}` is not an object id",
                cert.blob.escape_debug()
            ))
        })?;
        let bytes = self
            .store
            .read_blob_capped(blob, MAX_CERT)
            .map_err(|e| cert_finding(format!("cannot be read: {e}")))?;
        let parsed =
            parse_certificate(&bytes).map_err(|e| cert_finding(format!("is unusable: {e}")))?;
        for u in updates {
            // git writes "none" as the all-zero id of the repository's hash.
            let hex = |o: Option<Oid>| {
                o.map_or_else(|| Oid::null(blob.kind()).to_string(), |o| o.to_string())
            };
            let (old, new) = (hex(u.old), hex(u.new));
            if !parsed
                .commands
                .iter()
                .any(|&(o, n, r)| o == old && n == new && r == u.name)
            {
                return Err(cert_finding(format!(
                    "does not sign the update of {} from {old} to {new}",
                    u.name
                )));
            }
        }
        let tree = self
            .store
            .commit(main)
            .map_err(|e| cert_finding(format!("cannot be judged: main: {e}")))?
            .tree;
        let policy = self
            .gov
            .policy_at(tree)
            .map_err(|e| cert_finding(format!("cannot be judged: the policy on main: {e}")))?;
        let mut last_err = None;
        for principal in &policy.principals {
            for fpr in &principal.keys {
                let Ok(key) = self.gov.cert_at(tree, fpr) else {
                    continue;
                };
                match pgp::verify_detached(&key, parsed.signature, parsed.signed, self.now) {
                    Ok(_) => {
                        return Ok(Pusher::Principal {
                            id: principal.id.clone(),
                            key: fpr.clone(),
                        })
                    }
                    Err(pgp::SigError::WrongKey(_)) => {}
                    Err(e) => last_err = Some(format!("key {fpr} of `{}`: {e}", principal.id)),
                }
            }
        }
        Err(cert_finding(match last_err {
            Some(e) => format!("is not validly signed: {e}"),
            None => format!(
                "is signed by a key of no principal of the policy (issuer {})",
                pgp::signature_issuer(parsed.signature).unwrap_or_else(|| "unknown".into())
            ),
        }))
    }

    /// Under a policy that binds or requires signed pushes: whether whoever pushes may push
    /// what principals `accountable` answer for; `what` says what the push does.
    pub(super) fn judge_pusher(
        &self,
        policy: &Policy,
        accountable: &[String],
        what: impl FnOnce() -> String,
    ) -> Option<Diagnostic> {
        let rules = policy.pushers.as_ref().filter(|p| p.bind || p.signed)?;
        if rules.signed && !matches!(self.pusher, Some(Pusher::Principal { .. })) {
            return Some(Diagnostic::new(
                Code::PushUnsigned,
                format!(
                    "the policy requires signed pushes, and this push ({}) carries no valid push certificate",
                    what()
                ),
            ));
        }
        if !rules.bind {
            return None;
        }
        let Some(pusher) = &self.pusher else {
            return Some(Diagnostic::new(
                Code::PusherMismatch,
                format!(
                    "the policy binds pushers, but the server did not say who pushed ({} unset, and the push is not signed)",
                    LOGIN_VARIABLES.join(", ")
                ),
            ));
        };
        if pusher.is_accountable(policy, accountable, &rules.landing_accounts) {
            return None;
        }
        Some(Diagnostic::new(
            Code::PusherMismatch,
            format!(
                "{pusher} {}, and is none of {} nor a landing account",
                what(),
                if accountable.is_empty() {
                    "its accountable principals".to_owned()
                } else {
                    accountable.join(", ")
                }
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "certificate version 0.1\npusher Bob <bob@example.org> 1700000000 +0000\npushee /srv/audit.git\nnonce 1700000000-abc\n\n0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 refs/heads/proposals/X\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn a_certificate_is_taken_apart_at_its_signature() {
        let c = parse_certificate(CERT.as_bytes()).unwrap();
        assert!(c.signed.ends_with(b"refs/heads/proposals/X\n"));
        assert!(c.signature.starts_with(SIGNATURE_START));
        assert_eq!(
            c.commands,
            vec![(
                "0000000000000000000000000000000000000000",
                "1111111111111111111111111111111111111111",
                "refs/heads/proposals/X"
            )]
        );
    }

    #[test]
    fn malformed_certificates_are_refused_saying_why() {
        let ssh = CERT.replace("PGP SIGNATURE", "SSH SIGNATURE");
        assert!(parse_certificate(ssh.as_bytes())
            .unwrap_err()
            .contains("SSH key"));
        let other = CERT.replace("certificate version 0.1", "certificate version 9");
        assert!(parse_certificate(other.as_bytes())
            .unwrap_err()
            .contains("certificate version 0.1"));
        let junk = CERT.replace("refs/heads/proposals/X", "refs/heads/x extra");
        assert!(parse_certificate(junk.as_bytes())
            .unwrap_err()
            .contains("is not an `<old> <new> <ref>` command"));
        // A signature marker inside a line is not the signature.
        let inside = CERT.replace(
            "pushee /srv/audit.git",
            "pushee x-----BEGIN PGP SIGNATURE-----",
        );
        assert!(parse_certificate(inside.as_bytes()).is_ok());
    }

    #[test]
    fn the_login_is_read_from_the_first_variable_set() {
        let env = |k: &str| match k {
            "GL_USER" => Some("bob".to_owned()),
            "REMOTE_USER" => Some("carol".to_owned()),
            "GITHUB_USER_LOGIN" => Some(String::new()),
            _ => None,
        };
        let id = PushIdentity::from_env(env);
        assert_eq!(id.login, Some(("GL_USER".into(), "bob".into())));
        assert_eq!(id.cert, None);
    }
}
