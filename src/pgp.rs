//! OpenPGP for aiaudit: detached signatures over exact bytes, verified in-process.
//!
//! # Verification
//!
//! Verification is always done in-process with Sequoia, never by shelling out
//! to `gpg`: the verdict must not depend on the verifier's keyring, trust
//! database, `gpg.conf` or agent, and it must be reproducible by anyone who
//! checks out the audit repository.  The only trust anchor is the certificate
//! passed in by the caller (taken from `.aiaudit/keys/<FPR>.asc`).
//!
//! Sequoia judges a signature's validity at the signature's *creation time*.
//! That time is chosen by the signer, so on its own it would let a holder of a
//! revoked or expired key backdate new signatures into the key's lifetime.
//! [`verify_detached`] therefore also checks the certificate and the signing
//! key at the verifier's `now`: any revocation (at signing time or now) and
//! expiry at `now` make the signature not count, and signatures dated more than
//! [`FUTURE_TOLERANCE`] after `now` are refused.
//!
//! # Signing
//!
//! In-process signing ([`Signer::KeyFile`]) is restricted to Ed25519 keys.
//! Sequoia's RustCrypto backend implements Ed25519 with `ed25519-dalek`, which
//! is constant-time, so handling that secret key in-process does not leak it
//! through timing.  RSA keys, smartcard/token keys and anything else sign
//! through the user's GnuPG ([`Signer::Gpg`]), which keeps the secret material
//! inside `gpg-agent` or the card.
//!
//! # Why RUSTSEC-2023-0071 does not apply
//!
//! RUSTSEC-2023-0071 ("Marvin attack") is a timing side channel in the `rsa`
//! crate's *private-key* operations (decryption and signing): an attacker who
//! can time many of them may recover the RSA secret key.  The crate is linked
//! in here (behind Sequoia's `allow-variable-time-crypto` feature) only so that
//! signatures made by RSA keys can be *verified*.  aiaudit never performs an
//! RSA secret-key operation in-process: [`sign_detached`] refuses non-Ed25519
//! keys and sends them to gpg, and nothing here decrypts.  RSA signature
//! verification uses only the public key, so there is no secret to leak and
//! the advisory's attack has nothing to target.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use sequoia_openpgp as openpgp;

use openpgp::armor;
use openpgp::cert::prelude::*;
use openpgp::crypto::mpi;
use openpgp::crypto::{KeyPair, Password, S2K};
use openpgp::packet::key::{PublicParts, SecretKeyMaterial};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::packet::Signature;
use openpgp::parse::{Dearmor, PacketParserBuilder, PacketParserResult, Parse};
use openpgp::policy::{HashAlgoSecurity, Policy, StandardPolicy};
use openpgp::serialize::SerializeInto;
use openpgp::types::{
    Curve, HashAlgorithm, KeyFlags, PublicKeyAlgorithm, ReasonForRevocation, RevocationStatus,
    SignatureType,
};
use openpgp::{Fingerprint, KeyHandle, Packet};

pub use sequoia_openpgp::Cert;

/// Upper bound for any certificate, key file or signature we parse.  Real ones
/// are a few KiB; the cap keeps hostile repository content from costing us
/// unbounded memory or parse time.
pub const MAX_INPUT: usize = 1024 * 1024;

/// How far a signature's creation time may lie after the verifier's `now`,
/// to absorb ordinary clock skew between machines.
pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Failures while parsing keys, signing, generating keys or running gpg.
#[derive(Debug, thiserror::Error)]
pub enum PgpError {
    #[error("{what} is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },
    #[error("{what} is empty")]
    Empty { what: String },
    #[error("{what} is not a valid OpenPGP certificate: {reason}")]
    CertParse { what: String, reason: String },
    #[error("{what} contains no OpenPGP certificate")]
    NoCert { what: String },
    #[error("{what} contains {count} certificates (starting with {first}), expected exactly one")]
    MultipleCerts {
        what: String,
        count: usize,
        first: String,
    },
    #[error(
        "{what} contains secret key material for {fingerprint}; only public certificates are \
         accepted (export with `gpg --export --armor {fingerprint}`, not --export-secret-keys)"
    )]
    SecretKeyMaterial { what: String, fingerprint: String },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error(
        "key file {}: signing key {fingerprint} uses {algorithm}; in-process signing only \
         supports Ed25519, sign through gpg instead (RSA and other algorithms are never used \
         for secret-key operations in-process)",
        path.display()
    )]
    UnsupportedAlgorithm {
        path: PathBuf,
        fingerprint: String,
        algorithm: String,
    },
    #[error("key file {}: the secret key {fingerprint} is encrypted and no passphrase was given", path.display())]
    PassphraseRequired { path: PathBuf, fingerprint: String },
    #[error("key file {}: cannot unlock secret key {fingerprint}: wrong passphrase or damaged key ({reason})", path.display())]
    BadPassphrase {
        path: PathBuf,
        fingerprint: String,
        reason: String,
    },
    #[error("signing with key {fingerprint} failed: {reason}")]
    Sign { fingerprint: String, reason: String },
    #[error("invalid gpg key specification {key:?}: {reason}")]
    InvalidGpgKey { key: String, reason: String },
    #[error("cannot run {} for key {key}: {source}", program.display())]
    GpgSpawn {
        program: PathBuf,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} failed for key {key} ({status}): {stderr}", program.display())]
    Gpg {
        program: PathBuf,
        key: String,
        status: String,
        stderr: String,
    },
    #[error("{} produced unusable output for key {key}: {reason}", program.display())]
    GpgOutput {
        program: PathBuf,
        key: String,
        reason: String,
    },
    #[error("cannot generate a key for {userid:?}: {reason}")]
    KeyGen { userid: String, reason: String },
    #[error("cannot ASCII-armor {what}: {reason}")]
    Armor { what: String, reason: String },
}

/// Why a signature does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("The signature is malformed: {0}.")]
    Malformed(String),
    #[error("The signature was not made by a key of this certificate: {0}.")]
    WrongKey(String),
    #[error("The signature does not verify over the data (forged, or made over other data): {0}.")]
    Bad(String),
    #[error("The signing key was not valid when the signature was made: {0}.")]
    ExpiredAtSigning(String),
    #[error("The signing key has expired: {0}.")]
    ExpiredNow(String),
    #[error("The signing key is revoked: {0}.")]
    Revoked(String),
    #[error("The issuing key is not signing-capable: {0}.")]
    NotSigningCapable(String),
    #[error("The signature is dated in the future: {0}.")]
    Future(String),
    #[error("The signature is rejected by the OpenPGP standard policy: {0}.")]
    Policy(String),
}

/// What a successfully verified signature tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigInfo {
    pub created: SystemTime,
    /// Uppercase hex fingerprint of the key that made the signature (may be a subkey).
    pub signer_fingerprint: String,
    /// Uppercase hex fingerprint of the certificate's primary key.
    pub primary_fingerprint: String,
}

/// Who signs.
#[derive(Clone)]
pub enum Signer {
    /// In-process from a key file holding an Ed25519 secret signing key
    /// (armored TSK, unencrypted, or encrypted with `passphrase`).
    KeyFile {
        path: PathBuf,
        passphrase: Option<String>,
    },
    /// Through the user's GnuPG (`program`, e.g. "gpg"), which keeps the
    /// secret key in gpg-agent or on a card.  `key` is a fingerprint, key id
    /// or user id; it is passed with a trailing `!` so gpg uses exactly that
    /// (sub)key.
    Gpg { program: PathBuf, key: String },
}

// Hand-written so the passphrase never ends up in logs or error output.
impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::KeyFile { path, passphrase } => f
                .debug_struct("KeyFile")
                .field("path", path)
                .field("passphrase", &passphrase.as_ref().map(|_| "<redacted>"))
                .finish(),
            Signer::Gpg { program, key } => f
                .debug_struct("Gpg")
                .field("program", program)
                .field("key", key)
                .finish(),
        }
    }
}

/// Parse one certificate (armored or binary), as exported by `gpg --export --armor`.
///
/// Secret key material is refused because whatever is parsed here ends up in
/// the audit repository.
pub fn parse_cert(bytes: &[u8]) -> Result<Cert, PgpError> {
    let what = "the certificate";
    let cert = parse_one_cert(bytes, what)?;
    if cert.is_tsk() {
        return Err(PgpError::SecretKeyMaterial {
            what: what.into(),
            fingerprint: fingerprint(&cert),
        });
    }
    Ok(cert)
}

/// The name and e-mail address of the certificate's primary user id (`Name <email>`), as far
/// as it has them; the first user id when none is valid under the standard policy.
pub fn user_id(cert: &Cert) -> (Option<String>, Option<String>) {
    let policy = openpgp::policy::StandardPolicy::new();
    let uid = cert
        .with_policy(&policy, None)
        .ok()
        .and_then(|v| v.primary_userid().ok().map(|u| u.userid().clone()))
        .or_else(|| cert.userids().next().map(|u| u.userid().clone()));
    let Some(uid) = uid else {
        return (None, None);
    };
    let clean = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty() && !s.chars().any(crate::text::is_unsafe))
            .map(str::to_owned)
    };
    (
        clean(uid.name().ok().flatten()),
        clean(uid.email().ok().flatten()),
    )
}

/// Uppercase hex fingerprint of the primary key (40 chars for v4).
pub fn fingerprint(cert: &Cert) -> String {
    cert.fingerprint().to_hex()
}

/// Armored public cert (no secrets) — for writing `.aiaudit/keys/<FPR>.asc`.
pub fn armor_cert(cert: &Cert) -> Result<String, PgpError> {
    // Stripping explicitly rather than relying on the public serializer, so a
    // TSK handed in by mistake can never leak its secrets into the repository.
    let public = cert.clone().strip_secret_key_material();
    let bytes = public.armored().to_vec().map_err(|e| PgpError::Armor {
        what: format!("certificate {}", fingerprint(cert)),
        reason: format!("{e:#}"),
    })?;
    String::from_utf8(bytes).map_err(|e| PgpError::Armor {
        what: format!("certificate {}", fingerprint(cert)),
        reason: e.to_string(),
    })
}

/// Verify a detached signature (`sig` = binary packet bytes or ASCII-armored)
/// over `data`, made by a key of `cert`.
///
/// Validity is checked both at the signature's creation time (what Sequoia
/// does) and at `now` (because the creation time is chosen by the signer).
pub fn verify_detached(
    cert: &Cert,
    sig: &[u8],
    data: &[u8],
    now: SystemTime,
) -> Result<SigInfo, SigError> {
    verify_detached_mode(cert, sig, data, now, VerifyMode::Landing)
}

/// When a signature is judged, and so which checks at `now` apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// The signature is about to count for something new (a push, a local check): the key must
    /// also be valid now — not expired, not revoked for any reason.
    Landing,
    /// The signature counted when it landed and is re-checked over history: validity at the
    /// signature's creation time decides, and revocations count as OpenPGP defines them — a
    /// hard revocation (compromised, or no reason) is retroactive and fails every signature,
    /// a soft one (superseded, retired) only those made after it. Expiry since then is not a
    /// failure: the key was valid when it signed.
    History,
}

/// [`verify_detached`] with an explicit [`VerifyMode`].
pub fn verify_detached_mode(
    cert: &Cert,
    sig: &[u8],
    data: &[u8],
    now: SystemTime,
    mode: VerifyMode,
) -> Result<SigInfo, SigError> {
    let policy = StandardPolicy::new();
    let primary_fingerprint = fingerprint(cert);

    let sig = parse_signature(sig).map_err(SigError::Malformed)?;
    if sig.typ() != SignatureType::Binary {
        return Err(SigError::Malformed(format!(
            "it is a {} signature, not a binary-document signature",
            sig.typ()
        )));
    }
    let created = sig
        .signature_creation_time()
        .ok_or_else(|| SigError::Malformed("it has no signature creation time".into()))?;

    let ka = find_issuer_key(cert, &sig)?;
    let key = ka.key();
    let signer_fingerprint = key.fingerprint().to_hex();
    let key_desc = describe_key(&signer_fingerprint, &primary_fingerprint);

    policy
        .signature(&sig, HashAlgoSecurity::CollisionResistance)
        .and_then(|()| policy.packet(&Packet::Signature(sig.clone())))
        .map_err(|e| SigError::Policy(format!("{e:#}")))?;

    // Checked before the cryptographic verification because Sequoia reports a
    // signature that predates its key as a generic verification error.
    if created < key.creation_time() {
        return Err(SigError::ExpiredAtSigning(format!(
            "it was made at {}, before {key_desc} was created at {}",
            fmt_time(created),
            fmt_time(key.creation_time())
        )));
    }
    if !key.pk_algo().for_signing() {
        return Err(SigError::NotSigningCapable(format!(
            "{key_desc} is a {} key, which cannot sign",
            key.pk_algo()
        )));
    }

    let digest = document_digest(&sig, data)
        .map_err(|e| SigError::Policy(format!("cannot hash the data ({e:#})")))?;
    sig.verify_digest(key, &digest)
        .map_err(|e| SigError::Bad(format!("verification with {key_desc} failed ({e:#})")))?;
    // The two-byte digest prefix is not covered by the signature and Sequoia
    // ignores it, so a flipped prefix would give different signature bytes
    // that still verify; GnuPG rejects those, and so do we.
    if digest.get(..2) != Some(&sig.digest_prefix()[..]) {
        return Err(SigError::Bad(format!(
            "its digest prefix {} does not match the data's digest",
            hex::encode_upper(sig.digest_prefix())
        )));
    }

    // checked_add: `now` comes from the caller, and SystemTime + Duration
    // panics on overflow.
    if now
        .checked_add(FUTURE_TOLERANCE)
        .is_some_and(|limit| created > limit)
    {
        return Err(SigError::Future(format!(
            "it claims to be made at {}, more than {} minutes after now ({})",
            fmt_time(created),
            FUTURE_TOLERANCE.as_secs() / 60,
            fmt_time(now)
        )));
    }

    // --- At the signature's creation time. ---
    let vc_t = cert.with_policy(&policy, created).map_err(|e| {
        classify_invalid(&e, SigError::ExpiredAtSigning, || {
            format!(
                "certificate {primary_fingerprint} had no valid self-signature at {} ({e:#})",
                fmt_time(created)
            )
        })
    })?;
    let vka_t = ka.with_policy(&policy, created).map_err(|e| {
        classify_invalid(&e, SigError::ExpiredAtSigning, || {
            format!(
                "{key_desc} was not validly bound to the certificate at {} ({e:#})",
                fmt_time(created)
            )
        })
    })?;

    // A revocation at either time disqualifies: hard revocations (compromise)
    // are retroactive anyway, and a soft revocation issued since the signing
    // means the key holder no longer stands behind new verifications.
    let now_eff = now.max(created);
    // At the creation time, Sequoia counts hard revocations whenever they were made and soft
    // ones made before the signature: exactly the history semantics.
    check_revocation(cert, &policy, &signer_fingerprint, &key_desc, created)?;
    if mode == VerifyMode::Landing {
        check_revocation(cert, &policy, &signer_fingerprint, &key_desc, now_eff)?;
    }

    if !vka_t.for_signing() {
        return Err(SigError::NotSigningCapable(format!(
            "{key_desc} does not carry the signing flag (key flags: {})",
            vka_t
                .key_flags()
                .map(|f| format!("{f:?}"))
                .unwrap_or_else(|| "none".into())
        )));
    }

    vc_t.alive().map_err(|e| {
        SigError::ExpiredAtSigning(format!(
            "certificate {primary_fingerprint} was not alive at {} ({e:#})",
            fmt_time(created)
        ))
    })?;
    vka_t.alive().map_err(|e| {
        SigError::ExpiredAtSigning(format!(
            "{key_desc} was not alive at {} ({e:#})",
            fmt_time(created)
        ))
    })?;

    if mode == VerifyMode::History {
        return Ok(SigInfo {
            created,
            signer_fingerprint,
            primary_fingerprint,
        });
    }

    // --- At `now` (or at the creation time, for a tolerated future date). ---
    let vc_now = cert.with_policy(&policy, now_eff).map_err(|e| {
        classify_invalid(&e, SigError::ExpiredNow, || {
            format!(
                "certificate {primary_fingerprint} has no valid self-signature at {} ({e:#})",
                fmt_time(now_eff)
            )
        })
    })?;
    vc_now.alive().map_err(|e| {
        SigError::ExpiredNow(format!(
            "certificate {primary_fingerprint} is not alive at {} ({e:#})",
            fmt_time(now_eff)
        ))
    })?;
    let vka_now = ka.with_policy(&policy, now_eff).map_err(|e| {
        classify_invalid(&e, SigError::ExpiredNow, || {
            format!(
                "{key_desc} is no longer validly bound to the certificate at {} ({e:#})",
                fmt_time(now_eff)
            )
        })
    })?;
    vka_now.alive().map_err(|e| {
        SigError::ExpiredNow(format!(
            "{key_desc} is not alive at {} ({e:#})",
            fmt_time(now_eff)
        ))
    })?;
    sig.signature_alive(now_eff, Duration::ZERO).map_err(|e| {
        SigError::ExpiredNow(format!(
            "the signature itself is not valid at {} ({e:#})",
            fmt_time(now_eff)
        ))
    })?;

    Ok(SigInfo {
        created,
        signer_fingerprint,
        primary_fingerprint,
    })
}

/// Merges an update of a certificate — a newer export of the same key (new expiry, new
/// subkey, a revocation merged in) or a bare revocation certificate (`gpg --gen-revoke`) —
/// into `cert`. Refuses updates for another key and anything with secret key material.
pub fn merge_update(cert: &Cert, update: &[u8]) -> Result<Cert, PgpError> {
    let bad = |reason: String| PgpError::CertParse {
        what: format!("update for certificate {}", fingerprint(cert)),
        reason,
    };
    if update.len() > MAX_INPUT {
        return Err(bad(format!("larger than {MAX_INPUT} bytes")));
    }
    if let Ok(other) = parse_cert(update) {
        if other.fingerprint() != cert.fingerprint() {
            return Err(bad(format!(
                "it is certificate {}, not this one",
                fingerprint(&other)
            )));
        }
        return cert
            .clone()
            .merge_public(other)
            .map_err(|e| bad(format!("{e:#}")));
    }
    let rev = parse_revocation(update).map_err(bad)?;
    // Judged at the revocation's own time: a soft revocation may be dated ahead of now.
    let at = rev.signature_creation_time();
    let (merged, _) = cert
        .clone()
        .insert_packets(std::iter::once(Packet::Signature(rev)))
        .map_err(|e| bad(format!("{e:#}")))?;
    if revocations(&merged, at) > revocations(cert, at) {
        Ok(merged)
    } else {
        Err(bad(
            "the revocation does not apply to this certificate (another key, or not validly signed)".into(),
        ))
    }
}

/// How many of the certificate and its subkeys are revoked at `at` (default now).
fn revocations(cert: &Cert, at: Option<SystemTime>) -> usize {
    let p = StandardPolicy::new();
    let revoked = |s: RevocationStatus<'_>| matches!(s, RevocationStatus::Revoked(_));
    usize::from(revoked(cert.revocation_status(&p, at)))
        + cert
            .keys()
            .subkeys()
            .filter(|k| revoked(k.revocation_status(&p, at)))
            .count()
}

/// `older` with everything `newer` knows about the same key merged in (revocations published
/// since, new expiry). Certificates of different keys are not merged: `older` is returned.
pub fn merge_knowledge(older: &Cert, newer: &Cert) -> Cert {
    if older.fingerprint() != newer.fingerprint() {
        return older.clone();
    }
    older
        .clone()
        .merge_public(newer.clone())
        .unwrap_or_else(|_| older.clone())
}

/// Why a key is revoked: `Superseded` and `Retired` are soft (signatures made before stay
/// valid), `Compromised` is hard (every signature by the key fails, whenever made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationKind {
    Superseded,
    Retired,
    Compromised,
}

/// Makes a revocation certificate for the key in the key file at `path` (its primary key must
/// be Ed25519 with secret material), armored like `gpg --gen-revoke`'s output.
pub fn make_revocation(
    path: &Path,
    passphrase: Option<&str>,
    kind: RevocationKind,
    message: &str,
    now: SystemTime,
) -> Result<String, PgpError> {
    let kf_err = |reason: String| PgpError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let cert = read_key_file(path)?;
    let primary = cert.primary_key().key().clone();
    if !is_ed25519(primary.parts_as_public().role_as_unspecified()) {
        return Err(kf_err(
            "only Ed25519 primary keys revoke in-process; use gpg --gen-revoke".into(),
        ));
    }
    let secret = primary.parts_into_secret().map_err(|_| {
        kf_err("the file holds no secret primary key (is this a public key export?)".into())
    })?;
    let secret = match secret.secret() {
        SecretKeyMaterial::Unencrypted(_) => secret,
        SecretKeyMaterial::Encrypted(_) => {
            let pass = passphrase.ok_or_else(|| {
                kf_err("the primary key is encrypted; set AIAUDIT_KEY_PASSPHRASE".into())
            })?;
            secret
                .decrypt_secret(&Password::from(pass))
                .map_err(|e| kf_err(format!("cannot unlock the primary key: {e:#}")))?
        }
    };
    let mut signer = secret
        .into_keypair()
        .map_err(|e| kf_err(format!("{e:#}")))?;
    let code = match kind {
        RevocationKind::Superseded => ReasonForRevocation::KeySuperseded,
        RevocationKind::Retired => ReasonForRevocation::KeyRetired,
        RevocationKind::Compromised => ReasonForRevocation::KeyCompromised,
    };
    let rev = CertRevocationBuilder::new()
        .set_signature_creation_time(now)
        .and_then(|b| b.set_reason_for_revocation(code, message.as_bytes()))
        .and_then(|b| b.build(&mut signer, &cert, None))
        .map_err(|e| kf_err(format!("cannot make the revocation: {e:#}")))?;
    let binary = Packet::Signature(rev)
        .to_vec()
        .map_err(|e| kf_err(format!("{e:#}")))?;
    let mut w = armor::Writer::new(Vec::new(), armor::Kind::PublicKey)
        .map_err(|e| kf_err(format!("{e:#}")))?;
    w.write_all(&binary).map_err(|e| kf_err(format!("{e:#}")))?;
    let bytes = w.finalize().map_err(|e| kf_err(format!("{e:#}")))?;
    String::from_utf8(bytes).map_err(|e| kf_err(e.to_string()))
}

/// A bare revocation signature, armored (any armor kind) or binary.
fn parse_revocation(bytes: &[u8]) -> Result<Signature, String> {
    use sequoia_openpgp::parse::Parse as _;
    let pile = sequoia_openpgp::PacketPile::from_bytes(bytes)
        .map_err(|e| format!("neither a certificate nor a revocation: {e:#}"))?;
    let mut sigs = pile.into_children().filter_map(|p| match p {
        Packet::Signature(s) => Some(s),
        _ => None,
    });
    match (sigs.next(), sigs.next()) {
        (Some(s), None)
            if matches!(
                s.typ(),
                SignatureType::KeyRevocation | SignatureType::SubkeyRevocation
            ) =>
        {
            Ok(s)
        }
        _ => Err("neither a certificate nor a single key revocation signature".into()),
    }
}

/// The issuer fingerprint of a signature (uppercase hex), if it has the
/// Issuer Fingerprint subpacket; useful for error messages.
pub fn signature_issuer(sig: &[u8]) -> Option<String> {
    let sig = parse_signature(sig).ok()?;
    let fpr = sig.issuer_fingerprints().next()?.to_hex();
    Some(fpr)
}

/// The creation time a signature claims (unverified; for reports, after verification).
pub fn signature_time(sig: &[u8]) -> Option<SystemTime> {
    parse_signature(sig).ok()?.signature_creation_time()
}

/// Sign `data`, returning the binary detached signature packet bytes.
///
/// In-process signatures are binary-document signatures over SHA-512 with
/// creation time `now`; gpg picks its own time and is only checked to have
/// produced exactly one binary-document signature.
pub fn sign_detached(signer: &Signer, data: &[u8], now: SystemTime) -> Result<Vec<u8>, PgpError> {
    match signer {
        Signer::KeyFile { path, passphrase } => {
            sign_with_key_file(path, passphrase.as_deref(), data, now)
        }
        Signer::Gpg { program, key } => sign_with_gpg(program, key, data),
    }
}

/// The primary fingerprint (uppercase) of the signer's certificate.
pub fn signer_fingerprint(signer: &Signer) -> Result<String, PgpError> {
    match signer {
        Signer::KeyFile { path, .. } => {
            let cert = read_key_file(path)?;
            Ok(fingerprint(&cert))
        }
        Signer::Gpg { program, key } => gpg_fingerprint(program, key),
    }
}

/// Generate a new Ed25519 key for `userid`.
///
/// The primary key is certification-only and a separate Ed25519 subkey signs,
/// so the primary can stay offline and the signing subkey can be rotated.
/// Returns (armored TSK secret key, armored public cert, primary fingerprint).
pub fn generate_key(
    userid: &str,
    now: SystemTime,
    validity: Option<Duration>,
    passphrase: Option<&str>,
) -> Result<(String, String, String), PgpError> {
    let err = |reason: String| PgpError::KeyGen {
        userid: userid.to_string(),
        reason,
    };
    if userid.trim().is_empty() {
        return Err(err("the user id is empty".into()));
    }
    if userid.chars().any(char::is_control) {
        return Err(err("the user id contains control characters".into()));
    }
    if let Some(v) = validity {
        // OpenPGP expresses validity in whole seconds and treats 0 as "never
        // expires", so a sub-second validity would silently mean forever.
        if v.as_secs() == 0 {
            return Err(err("the validity period must be at least one second".into()));
        }
    }
    let (cert, _revocation) = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_creation_time(now)
        .add_userid(userid)
        .set_primary_key_flags(KeyFlags::empty().set_certification())
        .add_signing_subkey()
        .set_validity_period(validity)
        .generate()
        .map_err(|e| err(format!("{e:#}")))?;
    // With a passphrase, every secret key is encrypted with it (S2K as sequoia chooses:
    // Argon2 or iterated-salted SHA-256) before anything is written.
    let cert = match passphrase {
        None => cert,
        Some(p) => {
            if p.is_empty() {
                return Err(err("the passphrase is empty".into()));
            }
            let password: openpgp::crypto::Password = p.into();
            let enc = |e: anyhow::Error| err(format!("cannot encrypt the secret key: {e:#}"));
            let mut packets: Vec<openpgp::Packet> = Vec::new();
            let primary = cert
                .primary_key()
                .key()
                .clone()
                .parts_into_secret()
                .map_err(enc)?
                .encrypt_secret(&password)
                .map_err(enc)?;
            packets.push(primary.into());
            for ka in cert.keys().subkeys().secret() {
                packets.push(
                    ka.key()
                        .clone()
                        .encrypt_secret(&password)
                        .map_err(enc)?
                        .into(),
                );
            }
            cert.insert_packets(packets).map_err(enc)?.0
        }
    };
    let fpr = fingerprint(&cert);
    let tsk = cert
        .as_tsk()
        .armored()
        .to_vec()
        .map_err(|e| err(format!("cannot serialize the secret key: {e:#}")))
        .and_then(|b| String::from_utf8(b).map_err(|e| err(e.to_string())))?;
    let public = armor_cert(&cert)?;
    Ok((tsk, public, fpr))
}

/// ASCII-armor a binary signature (for `gpg --verify`).
pub fn armor_signature(sig: &[u8]) -> Result<String, PgpError> {
    let armor_err = |reason: String| PgpError::Armor {
        what: "the signature".into(),
        reason,
    };
    let raw = dearmor_signature(sig).map_err(armor_err)?;
    // Validate so we never hand gpg something we would not accept ourselves.
    parse_binary_signature(&raw).map_err(armor_err)?;
    let mut w = armor::Writer::new(Vec::new(), armor::Kind::Signature)
        .map_err(|e| armor_err(format!("{e:#}")))?;
    w.write_all(&raw).map_err(|e| armor_err(e.to_string()))?;
    let out = w.finalize().map_err(|e| armor_err(format!("{e:#}")))?;
    String::from_utf8(out).map_err(|e| armor_err(e.to_string()))
}

// ---------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------

fn check_size(bytes: &[u8], what: &str) -> Result<(), PgpError> {
    if bytes.is_empty() {
        return Err(PgpError::Empty { what: what.into() });
    }
    if bytes.len() > MAX_INPUT {
        return Err(PgpError::TooLarge {
            what: what.into(),
            size: bytes.len(),
            limit: MAX_INPUT,
        });
    }
    Ok(())
}

/// Exactly one certificate, secrets allowed (callers decide).
fn parse_one_cert(bytes: &[u8], what: &str) -> Result<Cert, PgpError> {
    check_size(bytes, what)?;
    let parse_err = |e: openpgp::anyhow::Error| PgpError::CertParse {
        what: what.into(),
        reason: format!("{e:#}"),
    };
    let mut parser = CertParser::from_bytes(bytes).map_err(parse_err)?;
    let first = match parser.next() {
        None => return Err(PgpError::NoCert { what: what.into() }),
        Some(r) => r.map_err(parse_err)?,
    };
    let mut count = 1;
    for next in parser {
        next.map_err(parse_err)?;
        count += 1;
    }
    if count > 1 {
        return Err(PgpError::MultipleCerts {
            what: what.into(),
            count,
            first: fingerprint(&first),
        });
    }
    Ok(first)
}

fn looks_armored(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP ")
}

/// Strips ASCII armor if present; binary input is returned as is.
///
/// Sequoia's armor reader silently stops after the first armor block, which
/// would let a second, unchecked signature ride along; so the text around the
/// single block must be blank.
fn dearmor_signature(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Err("it is empty".into());
    }
    if bytes.len() > MAX_INPUT {
        return Err(format!(
            "it is {} bytes, more than the {MAX_INPUT}-byte limit",
            bytes.len()
        ));
    }
    if !looks_armored(bytes) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "the ASCII armor is not valid UTF-8 text".to_string())?;
    const BEGIN: &str = "-----BEGIN PGP SIGNATURE-----";
    const END: &str = "-----END PGP SIGNATURE-----";
    if text.matches("-----BEGIN PGP ").count() != 1 {
        return Err("expected exactly one ASCII-armored block".into());
    }
    let start = text
        .find(BEGIN)
        .ok_or_else(|| "the ASCII armor is not a PGP SIGNATURE block".to_string())?;
    if !text[..start].trim().is_empty() {
        return Err("there is text before the ASCII armor".into());
    }
    let end = text
        .find(END)
        .ok_or_else(|| "the ASCII armor has no END PGP SIGNATURE line".to_string())?;
    if !text[end + END.len()..].trim().is_empty() {
        return Err("there is text after the ASCII armor".into());
    }
    let mut reader = armor::Reader::from_bytes(
        bytes,
        armor::ReaderMode::Tolerant(Some(armor::Kind::Signature)),
    );
    let mut raw = Vec::new();
    reader
        .by_ref()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("invalid ASCII armor ({e})"))?;
    if raw.is_empty() {
        return Err("the ASCII armor is empty".into());
    }
    Ok(raw)
}

/// Exactly one signature packet, binary or armored.
fn parse_signature(bytes: &[u8]) -> Result<Signature, String> {
    let raw = dearmor_signature(bytes)?;
    parse_binary_signature(&raw)
}

fn parse_binary_signature(raw: &[u8]) -> Result<Signature, String> {
    if raw.is_empty() {
        return Err("it is empty".into());
    }
    let builder = PacketParserBuilder::from_bytes(raw)
        .map_err(|e| format!("cannot parse it ({e:#})"))?
        // Never descend into containers: a compressed packet must not be
        // inflated (zip bombs) just to be rejected.
        .max_recursion_depth(0)
        .dearmor(Dearmor::Disabled);
    let mut ppr = builder
        .build()
        .map_err(|e| format!("cannot parse it ({e:#})"))?;
    let mut found: Option<Signature> = None;
    while let PacketParserResult::Some(pp) = ppr {
        let (packet, next) = pp.next().map_err(|e| format!("cannot parse it ({e:#})"))?;
        if found.is_some() {
            return Err(format!(
                "it contains more than one OpenPGP packet (a further {} packet)",
                packet.tag()
            ));
        }
        match packet {
            Packet::Signature(s) => found = Some(s),
            Packet::Unknown(u) => {
                return Err(format!(
                    "it contains an unparseable {} packet ({:#})",
                    u.tag(),
                    u.error()
                ))
            }
            other => {
                return Err(format!(
                    "it contains a {} packet, not a signature packet",
                    other.tag()
                ))
            }
        }
        ppr = next;
    }
    found.ok_or_else(|| "it contains no OpenPGP packet".to_string())
}

// ---------------------------------------------------------------------------
// Verification helpers
// ---------------------------------------------------------------------------

fn describe_key(signer: &str, primary: &str) -> String {
    if signer == primary {
        format!("primary key {primary}")
    } else {
        format!("subkey {signer} of certificate {primary}")
    }
}

fn fmt_time(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("{t:?}"),
    }
}

/// The key of `cert` the signature names as its issuer.  The Issuer
/// Fingerprint subpacket is authoritative when present; the 8-byte Issuer key
/// id is only a fallback for old signers.  Either may sit in the unhashed
/// area, which is fine: a lie there just makes the cryptographic check fail.
fn find_issuer_key<'a>(
    cert: &'a Cert,
    sig: &Signature,
) -> Result<ErasedKeyAmalgamation<'a, PublicParts>, SigError> {
    let fprs: Vec<&Fingerprint> = sig.issuer_fingerprints().collect();
    if !fprs.is_empty() {
        for fpr in &fprs {
            if let Some(ka) = cert.keys().find(|ka| ka.key().fingerprint() == **fpr) {
                return Ok(ka);
            }
        }
        return Err(SigError::WrongKey(format!(
            "it was issued by {}, which is not a key of certificate {}",
            join_hex(fprs.iter().map(|f| f.to_hex())),
            fingerprint(cert)
        )));
    }
    let ids: Vec<_> = sig.issuers().collect();
    if ids.is_empty() {
        return Err(SigError::Malformed(
            "it names no issuer (neither Issuer Fingerprint nor Issuer subpacket)".into(),
        ));
    }
    for id in &ids {
        let handle = KeyHandle::from(*id);
        if let Some(ka) = cert
            .keys()
            .find(|ka| ka.key().key_handle().aliases(&handle))
        {
            return Ok(ka);
        }
    }
    Err(SigError::WrongKey(format!(
        "it was issued by key id {}, which is not a key of certificate {}",
        join_hex(ids.iter().map(|i| i.to_hex())),
        fingerprint(cert)
    )))
}

/// The digest a binary-document signature is made over: (salt,) data,
/// then the signature's own hashed trailer.
fn document_digest(sig: &Signature, data: &[u8]) -> openpgp::Result<Vec<u8>> {
    let mut hash = sig.hash_algo().context()?.for_signature(sig.version());
    if let Some(salt) = sig.salt() {
        hash.update(salt);
    }
    hash.update(data);
    openpgp::crypto::hash::Hash::hash(sig, &mut hash)?;
    hash.into_digest()
}

fn join_hex(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn is_policy_violation(e: &openpgp::anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<openpgp::Error>(),
            Some(openpgp::Error::PolicyViolation(..))
        )
    })
}

/// A failed `with_policy` is either the standard policy rejecting an
/// algorithm (Policy) or the certificate/key simply not being valid at that
/// time (the caller's variant).
fn classify_invalid(
    e: &openpgp::anyhow::Error,
    otherwise: fn(String) -> SigError,
    msg: impl FnOnce() -> String,
) -> SigError {
    if is_policy_violation(e) {
        SigError::Policy(format!("{e:#}"))
    } else {
        otherwise(msg())
    }
}

fn check_revocation(
    cert: &Cert,
    policy: &dyn Policy,
    signer_fpr: &str,
    key_desc: &str,
    t: SystemTime,
) -> Result<(), SigError> {
    if let RevocationStatus::Revoked(sigs) = cert.revocation_status(policy, t) {
        return Err(SigError::Revoked(format!(
            "certificate {} is revoked as of {}{}",
            fingerprint(cert),
            fmt_time(t),
            revocation_details(&sigs)
        )));
    }
    if let Some(ka) = cert
        .keys()
        .subkeys()
        .find(|ka| ka.key().fingerprint().to_hex() == signer_fpr)
    {
        if let RevocationStatus::Revoked(sigs) = ka.revocation_status(policy, t) {
            return Err(SigError::Revoked(format!(
                "{key_desc} is revoked as of {}{}",
                fmt_time(t),
                revocation_details(&sigs)
            )));
        }
    }
    Ok(())
}

fn revocation_details(sigs: &[&Signature]) -> String {
    let mut out = String::new();
    if let Some(sig) = sigs.first() {
        if let Some(t) = sig.signature_creation_time() {
            let _ = write!(out, " (revocation made at {}", fmt_time(t));
        } else {
            out.push_str(" (revocation");
        }
        if let Some((code, reason)) = sig.reason_for_revocation() {
            let _ = write!(out, ", reason: {code}");
            let text = String::from_utf8_lossy(reason);
            let text = text.trim();
            if !text.is_empty() {
                let _ = write!(out, " {text:?}");
            }
        }
        out.push(')');
    }
    out
}

// ---------------------------------------------------------------------------
// In-process signing
// ---------------------------------------------------------------------------

fn read_capped(path: &Path) -> Result<Vec<u8>, PgpError> {
    let io_err = |source| PgpError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut buf = Vec::new();
    file.take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() > MAX_INPUT {
        return Err(PgpError::TooLarge {
            what: format!("key file {}", path.display()),
            size: std::fs::metadata(path).map_or(buf.len(), |m| m.len() as usize),
            limit: MAX_INPUT,
        });
    }
    Ok(buf)
}

fn read_key_file(path: &Path) -> Result<Cert, PgpError> {
    let bytes = read_capped(path)?;
    parse_one_cert(&bytes, &format!("key file {}", path.display()))
}

fn is_ed25519(
    key: &openpgp::packet::Key<PublicParts, openpgp::packet::key::UnspecifiedRole>,
) -> bool {
    match key.pk_algo() {
        PublicKeyAlgorithm::Ed25519 => true,
        #[allow(deprecated)]
        PublicKeyAlgorithm::EdDSA => matches!(
            key.mpis(),
            mpi::PublicKey::EdDSA {
                curve: Curve::Ed25519,
                ..
            }
        ),
        _ => false,
    }
}

fn algorithm_name(
    key: &openpgp::packet::Key<PublicParts, openpgp::packet::key::UnspecifiedRole>,
) -> String {
    match key.mpis().bits() {
        Some(bits) => format!("{} ({bits} bits)", key.pk_algo()),
        None => key.pk_algo().to_string(),
    }
}

/// Unlocks the newest valid Ed25519 signing key in the file.
fn load_signing_keypair(
    path: &Path,
    passphrase: Option<&str>,
    now: SystemTime,
) -> Result<(KeyPair, Cert), PgpError> {
    let kf_err = |reason: String| PgpError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let cert = read_key_file(path)?;
    let primary = fingerprint(&cert);
    if !cert.is_tsk() {
        return Err(kf_err(format!(
            "certificate {primary} contains no secret key material (is this a public key export?)"
        )));
    }
    let created = cert.primary_key().key().creation_time();
    if now < created {
        return Err(kf_err(format!(
            "certificate {primary} was created at {}, after the signing time {} (is the clock \
             wrong?)",
            fmt_time(created),
            fmt_time(now)
        )));
    }
    let policy = StandardPolicy::new();
    let vc = cert.with_policy(&policy, now).map_err(|e| {
        kf_err(format!(
            "certificate {primary} is not valid at {} ({e:#})",
            fmt_time(now)
        ))
    })?;
    if let RevocationStatus::Revoked(_) = vc.revocation_status() {
        return Err(kf_err(format!("certificate {primary} is revoked")));
    }
    vc.alive().map_err(|e| {
        kf_err(format!(
            "certificate {primary} is not alive at {} ({e:#})",
            fmt_time(now)
        ))
    })?;

    let mut candidates: Vec<_> = vc
        .keys()
        .for_signing()
        .alive()
        .revoked(false)
        .secret()
        .collect();
    if candidates.is_empty() {
        return Err(kf_err(format!(
            "certificate {primary} has no valid, unrevoked, signing-capable key with secret \
             material at {}",
            fmt_time(now)
        )));
    }
    // Newest first: after a rotation the fresh subkey is the one to use.
    candidates.sort_by_key(|ka| std::cmp::Reverse(ka.key().creation_time()));
    let Some(ka) = candidates
        .iter()
        .find(|ka| is_ed25519(ka.key().parts_as_public()))
    else {
        let key = candidates[0].key().parts_as_public();
        return Err(PgpError::UnsupportedAlgorithm {
            path: path.to_path_buf(),
            fingerprint: key.fingerprint().to_hex(),
            algorithm: algorithm_name(key),
        });
    };
    let key = ka.key().clone();
    let key_fpr = key.fingerprint().to_hex();
    let key = match key.secret() {
        SecretKeyMaterial::Unencrypted(_) => key,
        SecretKeyMaterial::Encrypted(enc) => {
            #[allow(deprecated)]
            if matches!(enc.s2k(), S2K::Private { .. } | S2K::Unknown { .. }) {
                return Err(kf_err(format!(
                    "the secret key {key_fpr} is only a stub (e.g. it lives on a smartcard); \
                     sign through gpg instead"
                )));
            }
            let Some(pass) = passphrase else {
                return Err(PgpError::PassphraseRequired {
                    path: path.to_path_buf(),
                    fingerprint: key_fpr,
                });
            };
            key.decrypt_secret(&Password::from(pass))
                .map_err(|e| PgpError::BadPassphrase {
                    path: path.to_path_buf(),
                    fingerprint: key_fpr.clone(),
                    reason: format!("{e:#}"),
                })?
        }
    };
    let keypair = key.into_keypair().map_err(|e| PgpError::Sign {
        fingerprint: key_fpr.clone(),
        reason: format!("{e:#}"),
    })?;
    Ok((keypair, cert))
}

fn sign_with_key_file(
    path: &Path,
    passphrase: Option<&str>,
    data: &[u8],
    now: SystemTime,
) -> Result<Vec<u8>, PgpError> {
    LoadedSigner::load(path, passphrase, now)?.sign(data, now)
}

/// An in-process signer whose key file has been read, checked and unlocked once, for callers
/// that sign many times (benchmarks, bulk tools). Each [`LoadedSigner::sign`] gives exactly what
/// [`sign_detached`] with the same [`Signer::KeyFile`] would, without re-reading the file.
#[derive(Clone)]
pub struct LoadedSigner {
    keypair: KeyPair,
    /// The certificate without secrets, to check each fresh signature.
    public: Cert,
    fingerprint: String,
}

impl std::fmt::Debug for LoadedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedSigner")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl LoadedSigner {
    /// Reads the key file and unlocks its newest valid Ed25519 signing key, valid at `now`
    /// (the same checks and errors as [`sign_detached`]).
    pub fn load(
        path: &Path,
        passphrase: Option<&str>,
        now: SystemTime,
    ) -> Result<LoadedSigner, PgpError> {
        let (keypair, cert) = load_signing_keypair(path, passphrase, now)?;
        Ok(LoadedSigner {
            keypair,
            fingerprint: fingerprint(&cert),
            public: cert.strip_secret_key_material(),
        })
    }

    /// The primary fingerprint (uppercase) of the signer's certificate.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Signs `data` at `now`: a binary-document signature over SHA-512, returned as binary
    /// packet bytes and checked with [`verify_detached`] before it is handed out.
    pub fn sign(&self, data: &[u8], now: SystemTime) -> Result<Vec<u8>, PgpError> {
        let mut keypair = self.keypair.clone();
        let key_fpr = keypair.public().fingerprint().to_hex();
        let sign_err = |reason: String| PgpError::Sign {
            fingerprint: key_fpr.clone(),
            reason,
        };
        let sig = SignatureBuilder::new(SignatureType::Binary)
            .set_signature_creation_time(now)
            .and_then(|b| {
                b.set_hash_algo(HashAlgorithm::SHA512)
                    .sign_message(&mut keypair, data)
            })
            .map_err(|e| sign_err(format!("{e:#}")))?;
        let bytes = Packet::Signature(sig)
            .to_vec()
            .map_err(|e| sign_err(format!("cannot serialize the signature: {e:#}")))?;
        // Never hand out a signature the verifier would reject (e.g. a clock set
        // before the key's creation): fail here, where the cause is obvious.
        verify_detached(&self.public, &bytes, data, now)
            .map_err(|e| sign_err(format!("the fresh signature does not verify: {e}")))?;
        Ok(bytes)
    }
}

// ---------------------------------------------------------------------------
// GnuPG
// ---------------------------------------------------------------------------

fn check_gpg_key(key: &str) -> Result<(), PgpError> {
    let bad = |reason: &str| PgpError::InvalidGpgKey {
        key: key.to_string(),
        reason: reason.into(),
    };
    let trimmed = key.trim();
    if trimmed.is_empty() || trimmed == "!" {
        return Err(bad("it is empty"));
    }
    if trimmed.starts_with('-') {
        return Err(bad("it starts with '-' and would be taken as an option"));
    }
    if key.chars().any(char::is_control) {
        return Err(bad("it contains control characters"));
    }
    Ok(())
}

fn run_gpg(
    program: &Path,
    key: &str,
    args: &[&str],
    stdin_data: Option<&[u8]>,
) -> Result<Vec<u8>, PgpError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin_data.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PgpError::GpgSpawn {
            program: program.to_path_buf(),
            key: key.to_string(),
            source,
        })?;
    // Feed stdin from a separate thread: gpg may start writing (or fail and
    // stop reading) before it has consumed all input, and a single thread
    // would deadlock on full pipes.
    let output = std::thread::scope(|s| {
        if let (Some(mut stdin), Some(data)) = (child.stdin.take(), stdin_data) {
            s.spawn(move || {
                // A write error means gpg exited early; its status and
                // stderr below explain why.
                let _ = stdin.write_all(data);
            });
        }
        child.wait_with_output()
    })
    .map_err(|source| PgpError::GpgSpawn {
        program: program.to_path_buf(),
        key: key.to_string(),
        source,
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        return Err(PgpError::Gpg {
            program: program.to_path_buf(),
            key: key.to_string(),
            status: output.status.to_string(),
            stderr: if stderr.is_empty() {
                "(no error output)".into()
            } else {
                stderr.to_string()
            },
        });
    }
    Ok(output.stdout)
}

fn sign_with_gpg(program: &Path, key: &str, data: &[u8]) -> Result<Vec<u8>, PgpError> {
    check_gpg_key(key)?;
    let key = key.trim();
    // The key is passed as given: gpg then signs with the certificate's current signing
    // (sub)key, which is what a primary fingerprint should mean here (keys whose primary cannot
    // sign, as `aiaudit key generate` and most smartcard setups make them). A user who wants one
    // specific subkey can append `!` themselves.
    let out = run_gpg(
        program,
        key,
        &[
            "--batch",
            "--no-tty",
            "--no-armor",
            "--digest-algo",
            "SHA512",
            "--detach-sign",
            "--local-user",
            key,
            "--output",
            "-",
        ],
        Some(data),
    )?;
    let out_err = |reason: String| PgpError::GpgOutput {
        program: program.to_path_buf(),
        key: key.to_string(),
        reason,
    };
    let raw = dearmor_signature(&out)
        .map_err(|r| out_err(format!("the output is not a signature: {r}")))?;
    let sig = parse_binary_signature(&raw)
        .map_err(|r| out_err(format!("the output is not a single signature: {r}")))?;
    if sig.typ() != SignatureType::Binary {
        return Err(out_err(format!(
            "gpg made a {} signature, expected a binary-document signature (is `textmode` set in gpg.conf?)",
            sig.typ()
        )));
    }
    Ok(raw)
}

fn gpg_fingerprint(program: &Path, key: &str) -> Result<String, PgpError> {
    check_gpg_key(key)?;
    let key = key.trim();
    let out = run_gpg(
        program,
        key,
        &[
            "--batch",
            "--no-tty",
            "--with-colons",
            "--fingerprint",
            "--",
            key,
        ],
        None,
    )?;
    let out_err = |reason: String| PgpError::GpgOutput {
        program: program.to_path_buf(),
        key: key.to_string(),
        reason,
    };
    let text = String::from_utf8_lossy(&out);
    parse_colon_fingerprint(&text).map_err(out_err)
}

/// First `fpr:` record after the `pub:` record of `gpg --with-colons` output.
/// More than one `pub:` means the key specification is ambiguous, and then
/// gpg's choice for signing need not be the one reported here.
fn parse_colon_fingerprint(text: &str) -> Result<String, String> {
    let mut result: Option<String> = None;
    let mut pubs = 0usize;
    let mut after_pub = false;
    for line in text.lines() {
        let mut fields = line.split(':');
        match fields.next() {
            Some("pub") => {
                pubs += 1;
                after_pub = true;
            }
            Some("fpr") if after_pub => {
                after_pub = false;
                let fpr = fields.nth(8).unwrap_or("").to_ascii_uppercase();
                if fpr.is_empty() || !fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("malformed fingerprint record {line:?}"));
                }
                if result.is_none() {
                    result = Some(fpr);
                }
            }
            Some("sub") | Some("sec") | Some("ssb") => after_pub = false,
            _ => {}
        }
    }
    if pubs > 1 {
        return Err(format!(
            "the key specification matches {pubs} certificates; use a full fingerprint"
        ));
    }
    result.ok_or_else(|| "no public key fingerprint in the --with-colons output".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> SystemTime {
        // A fixed instant keeps the tests independent of the wall clock.
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    const DAY: Duration = Duration::from_secs(86_400);

    struct TestKey {
        tsk: String,
        cert: Cert,
        fpr: String,
        dir: tempfile::TempDir,
    }

    impl TestKey {
        fn new(userid: &str, now: SystemTime, validity: Option<Duration>) -> Self {
            let (tsk, public, fpr) = generate_key(userid, now, validity, None).expect("keygen");
            let cert = parse_cert(public.as_bytes()).expect("parse public");
            let dir = tempfile::tempdir().expect("tempdir");
            Self {
                tsk,
                cert,
                fpr,
                dir,
            }
        }

        fn from_generated(cert: Cert) -> Self {
            let tsk =
                String::from_utf8(cert.as_tsk().armored().to_vec().expect("tsk")).expect("utf8");
            let public = armor_cert(&cert).expect("armor");
            Self {
                tsk,
                cert: parse_cert(public.as_bytes()).expect("parse"),
                fpr: fingerprint(&cert),
                dir: tempfile::tempdir().expect("tempdir"),
            }
        }

        fn signer(&self) -> Signer {
            let path = self.dir.path().join("key.asc");
            std::fs::write(&path, &self.tsk).expect("write key");
            Signer::KeyFile {
                path,
                passphrase: None,
            }
        }

        fn sign(&self, data: &[u8], now: SystemTime) -> Vec<u8> {
            sign_detached(&self.signer(), data, now).expect("sign")
        }

        fn tsk_cert(&self) -> Cert {
            Cert::from_bytes(self.tsk.as_bytes()).expect("tsk")
        }

        /// Signs with an arbitrary builder using the signing subkey, for
        /// crafting signatures our own signer would refuse to make.
        fn sign_raw(&self, builder: SignatureBuilder, data: &[u8], primary: bool) -> Vec<u8> {
            let tsk = self.tsk_cert();
            let key = if primary {
                tsk.primary_key().key().clone().role_into_unspecified()
            } else {
                tsk.keys()
                    .subkeys()
                    .next()
                    .expect("subkey")
                    .key()
                    .clone()
                    .role_into_unspecified()
            };
            let mut kp = key
                .parts_into_secret()
                .expect("secret")
                .into_keypair()
                .expect("keypair");
            let sig = builder.sign_message(&mut kp, data).expect("sign raw");
            Packet::Signature(sig).to_vec().expect("serialize")
        }
    }

    #[test]
    fn sign_verify_roundtrip() {
        let k = TestKey::new("Alice <alice@example.com>", t0(), None);
        assert_eq!(k.fpr.len(), 40);
        assert_eq!(k.fpr, fingerprint(&k.cert));
        assert_eq!(k.fpr, k.fpr.to_ascii_uppercase());
        let data = b"record bytes\n";
        let now = t0() + Duration::from_secs(60);
        let sig = k.sign(data, now);
        let info = verify_detached(&k.cert, &sig, data, now).expect("verify");
        assert_eq!(info.primary_fingerprint, k.fpr);
        assert_ne!(
            info.signer_fingerprint, k.fpr,
            "expected the signing subkey"
        );
        assert_eq!(
            info.created,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_060)
        );
        // Later verification, armored form, and the issuer helper all agree.
        let armored = armor_signature(&sig).expect("armor");
        assert!(armored.starts_with("-----BEGIN PGP SIGNATURE-----"));
        verify_detached(&k.cert, armored.as_bytes(), data, now + 300 * DAY).expect("armored");
        assert_eq!(
            signature_issuer(&sig),
            Some(info.signer_fingerprint.clone())
        );
        assert_eq!(signer_fingerprint(&k.signer()).expect("fpr"), k.fpr);

        // Absurd clocks must yield a verdict, not a panic.
        if let Some(far) = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX as u64))
        {
            let _ = verify_detached(&k.cert, &sig, data, far);
        }
        let err = verify_detached(&k.cert, &sig, data, SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, SigError::Future(_)), "{err:?}");

        let parsed = parse_signature(&sig).expect("parse");
        assert_eq!(parsed.hash_algo(), HashAlgorithm::SHA512);
        assert_eq!(parsed.typ(), SignatureType::Binary);
    }

    #[test]
    fn changed_data_is_bad() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let sig = k.sign(b"original", t0());
        let err = verify_detached(&k.cert, &sig, b"originaL", t0()).unwrap_err();
        assert!(matches!(err, SigError::Bad(_)), "{err:?}");
        let err = verify_detached(&k.cert, &sig, b"", t0()).unwrap_err();
        assert!(matches!(err, SigError::Bad(_)), "{err:?}");
    }

    #[test]
    fn replayed_signature_over_other_record_is_bad() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let sig1 = k.sign(b"record one", t0());
        let _sig2 = k.sign(b"record two", t0());
        let err = verify_detached(&k.cert, &sig1, b"record two", t0()).unwrap_err();
        assert!(matches!(err, SigError::Bad(_)), "{err:?}");
        assert!(err.to_string().ends_with('.'));
    }

    #[test]
    fn other_key_is_wrong_key() {
        let a = TestKey::new("A <a@e.x>", t0(), None);
        let b = TestKey::new("B <b@e.x>", t0(), None);
        let sig = b.sign(b"data", t0());
        let err = verify_detached(&a.cert, &sig, b"data", t0()).unwrap_err();
        assert!(matches!(err, SigError::WrongKey(_)), "{err:?}");
        assert!(err.to_string().contains(&a.fpr), "{err}");
    }

    #[test]
    fn expired_now() {
        let k = TestKey::new("A <a@e.x>", t0(), Some(DAY));
        let sig = k.sign(b"data", t0() + Duration::from_secs(3600));
        verify_detached(&k.cert, &sig, b"data", t0() + Duration::from_secs(7200))
            .expect("valid while alive");
        let err = verify_detached(&k.cert, &sig, b"data", t0() + 2 * DAY).unwrap_err();
        assert!(matches!(err, SigError::ExpiredNow(_)), "{err:?}");
        // Our signer refuses to make a signature with an expired key.
        assert!(sign_detached(&k.signer(), b"data", t0() + 2 * DAY).is_err());
    }

    #[test]
    fn expired_subkey_of_live_cert() {
        let (cert, _) = CertBuilder::new()
            .set_cipher_suite(CipherSuite::Cv25519)
            .set_creation_time(t0())
            .add_userid("A <a@e.x>")
            .add_subkey(KeyFlags::empty().set_signing(), DAY, None)
            .generate()
            .expect("keygen");
        let k = TestKey::from_generated(cert);
        let sig = k.sign(b"data", t0());
        verify_detached(&k.cert, &sig, b"data", t0() + DAY / 2).expect("alive");
        let err = verify_detached(&k.cert, &sig, b"data", t0() + 2 * DAY).unwrap_err();
        assert!(matches!(err, SigError::ExpiredNow(_)), "{err:?}");
        assert!(err.to_string().contains("subkey"), "{err}");
    }

    #[test]
    fn backdated_or_postdated_signatures() {
        let k = TestKey::new("A <a@e.x>", t0(), Some(DAY));
        // Made after the key expired, verified then: expired at signing time.
        let b = SignatureBuilder::new(SignatureType::Binary)
            .set_signature_creation_time(t0() + 2 * DAY)
            .expect("time");
        let sig = k.sign_raw(b, b"data", false);
        let err = verify_detached(&k.cert, &sig, b"data", t0() + 2 * DAY).unwrap_err();
        assert!(matches!(err, SigError::ExpiredAtSigning(_)), "{err:?}");

        // Dated before the key existed.
        let b = SignatureBuilder::new(SignatureType::Binary)
            .set_signature_creation_time(t0() - DAY)
            .expect("time");
        let sig = k.sign_raw(b, b"data", false);
        let err = verify_detached(&k.cert, &sig, b"data", t0()).unwrap_err();
        assert!(matches!(err, SigError::ExpiredAtSigning(_)), "{err:?}");

        // Dated an hour ahead of the verifier's clock.
        let b = SignatureBuilder::new(SignatureType::Binary)
            .set_signature_creation_time(t0() + Duration::from_secs(3600))
            .expect("time");
        let sig = k.sign_raw(b, b"data", false);
        let err = verify_detached(&k.cert, &sig, b"data", t0()).unwrap_err();
        assert!(matches!(err, SigError::Future(_)), "{err:?}");
        // ...but a few minutes of clock skew is tolerated.
        verify_detached(&k.cert, &sig, b"data", t0() + Duration::from_secs(3500))
            .expect("within tolerance");
    }

    #[test]
    fn revoked_cert() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let sig = k.sign(b"data", t0());
        verify_detached(&k.cert, &sig, b"data", t0() + DAY).expect("before revocation");

        let tsk = k.tsk_cert();
        let mut kp = tsk
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .expect("secret")
            .into_keypair()
            .expect("keypair");
        let rev = openpgp::cert::CertRevocationBuilder::new()
            .set_signature_creation_time(t0() + DAY)
            .and_then(|b| {
                b.set_reason_for_revocation(
                    openpgp::types::ReasonForRevocation::KeyRetired,
                    b"rotated",
                )
            })
            .and_then(|b| b.build(&mut kp, &tsk, None))
            .expect("revocation");
        let (revoked, changed) = k.cert.clone().insert_packets(rev).expect("merge");
        assert!(changed);
        // A soft revocation issued after the signature still disqualifies it
        // now: the verdict must reflect the key holder's current word.
        let err = verify_detached(&revoked, &sig, b"data", t0() + 2 * DAY).unwrap_err();
        assert!(matches!(err, SigError::Revoked(_)), "{err:?}");
        assert!(err.to_string().contains("rotated"), "{err}");

        // The plain `Cert::revoke` (hard, key compromised) too.
        let rev = tsk
            .revoke(
                &mut kp,
                openpgp::types::ReasonForRevocation::KeyCompromised,
                b"stolen",
            )
            .expect("revoke");
        let (revoked, _) = k.cert.clone().insert_packets(rev).expect("merge");
        let err = verify_detached(&revoked, &sig, b"data", SystemTime::now()).unwrap_err();
        assert!(matches!(err, SigError::Revoked(_)), "{err:?}");
        // And the revoked cert survives a round trip through armor_cert/parse_cert.
        let again = parse_cert(armor_cert(&revoked).expect("armor").as_bytes()).expect("parse");
        let err = verify_detached(&again, &sig, b"data", SystemTime::now()).unwrap_err();
        assert!(matches!(err, SigError::Revoked(_)), "{err:?}");
    }

    #[test]
    fn revoked_subkey() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let sig = k.sign(b"data", t0());
        let tsk = k.tsk_cert();
        let mut kp = tsk
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .expect("secret")
            .into_keypair()
            .expect("keypair");
        let sub = tsk.keys().subkeys().next().expect("subkey");
        let rev = openpgp::cert::SubkeyRevocationBuilder::new()
            .set_signature_creation_time(t0() + DAY)
            .and_then(|b| {
                b.set_reason_for_revocation(
                    openpgp::types::ReasonForRevocation::KeyCompromised,
                    b"",
                )
            })
            .and_then(|b| b.build(&mut kp, &tsk, sub.key(), None))
            .expect("revocation");
        let (revoked, _) = k.cert.clone().insert_packets(rev).expect("merge");
        let err = verify_detached(&revoked, &sig, b"data", t0() + 2 * DAY).unwrap_err();
        assert!(matches!(err, SigError::Revoked(_)), "{err:?}");
    }

    #[test]
    fn primary_without_signing_flag_is_not_signing_capable() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let b = SignatureBuilder::new(SignatureType::Binary)
            .set_signature_creation_time(t0())
            .expect("time");
        let sig = k.sign_raw(b, b"data", true);
        let err = verify_detached(&k.cert, &sig, b"data", t0()).unwrap_err();
        assert!(matches!(err, SigError::NotSigningCapable(_)), "{err:?}");
    }

    #[test]
    fn sha1_is_policy() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let b = SignatureBuilder::new(SignatureType::Binary)
            .set_signature_creation_time(t0())
            .expect("time")
            .set_hash_algo(HashAlgorithm::SHA1);
        let sig = k.sign_raw(b, b"data", false);
        let err = verify_detached(&k.cert, &sig, b"data", t0()).unwrap_err();
        assert!(matches!(err, SigError::Policy(_)), "{err:?}");
    }

    #[test]
    fn text_signature_is_malformed() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let b = SignatureBuilder::new(SignatureType::Text)
            .set_signature_creation_time(t0())
            .expect("time");
        let sig = k.sign_raw(b, b"data", false);
        let err = verify_detached(&k.cert, &sig, b"data", t0()).unwrap_err();
        assert!(matches!(err, SigError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn malformed_inputs() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let sig = k.sign(b"data", t0());
        let armored = armor_signature(&sig).expect("armor");
        let mut two = sig.clone();
        two.extend_from_slice(&sig);
        let mut trailing = sig.clone();
        trailing.extend_from_slice(b"garbage");
        let two_armored = format!("{armored}{armored}");
        let armored_trailing = format!("{armored}junk\n");
        let public = armor_cert(&k.cert).expect("armor cert");
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("garbage", b"this is not a signature".to_vec()),
            ("binary garbage", vec![0xff; 64]),
            ("two signatures", two),
            ("trailing garbage", trailing),
            ("two armored signatures", two_armored.into_bytes()),
            ("armor with trailing text", armored_trailing.into_bytes()),
            ("a certificate", public.into_bytes()),
            ("too large", vec![0x88; MAX_INPUT + 1]),
        ];
        for n in [1, 2, 5, sig.len() / 2, sig.len() - 1] {
            cases.push(("truncated", sig[..n].to_vec()));
        }
        for (name, bytes) in cases {
            let err = verify_detached(&k.cert, &bytes, b"data", t0()).unwrap_err();
            assert!(matches!(err, SigError::Malformed(_)), "{name}: {err:?}");
            assert!(signature_issuer(&bytes).is_none(), "{name}");
        }
        // Sequoia puts every subpacket in the hashed area, and the
        // unauthenticated digest prefix is checked too, so no byte of our
        // signatures can be changed without the verdict changing.
        for i in 0..sig.len() {
            let mut c = sig.clone();
            c[i] ^= 0x41;
            assert!(
                verify_detached(&k.cert, &c, b"data", t0()).is_err(),
                "byte {i}"
            );
        }
        assert!(armor_signature(b"").is_err());
        assert!(armor_signature(&[0x88; 10]).is_err());
    }

    #[test]
    fn parse_cert_rules() {
        let a = TestKey::new("A <a@e.x>", t0(), None);
        let b = TestKey::new("B <b@e.x>", t0(), None);
        let err = parse_cert(a.tsk.as_bytes()).unwrap_err();
        assert!(matches!(err, PgpError::SecretKeyMaterial { .. }), "{err:?}");
        assert!(err.to_string().contains(&a.fpr), "{err}");

        let pa = armor_cert(&a.cert).expect("armor");
        assert!(!pa.contains("PRIVATE"));
        let pb = armor_cert(&b.cert).expect("armor");
        let err = parse_cert(format!("{pa}{pb}").as_bytes()).unwrap_err();
        assert!(
            matches!(err, PgpError::MultipleCerts { count: 2, .. }),
            "{err:?}"
        );

        let binary = a.cert.to_vec().expect("binary");
        assert_eq!(fingerprint(&parse_cert(&binary).expect("binary")), a.fpr);
        // Keyring in binary form, too.
        let mut ring = binary.clone();
        ring.extend_from_slice(&b.cert.to_vec().expect("binary"));
        assert!(matches!(
            parse_cert(&ring),
            Err(PgpError::MultipleCerts { .. })
        ));

        assert!(matches!(parse_cert(b""), Err(PgpError::Empty { .. })));
        assert!(matches!(
            parse_cert(&vec![b'A'; MAX_INPUT + 1]),
            Err(PgpError::TooLarge { .. })
        ));
        assert!(parse_cert(b"not a key").is_err());
        assert!(parse_cert(&binary[..binary.len() / 2]).is_err());
        // armor_cert strips secrets even when handed a TSK.
        let stripped = armor_cert(&a.tsk_cert()).expect("armor");
        assert!(parse_cert(stripped.as_bytes()).is_ok());
    }

    #[test]
    fn key_file_signing() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        // Encrypt every secret key with a passphrase.
        let tsk = k.tsk_cert();
        let mut packets: Vec<Packet> = Vec::new();
        for ka in tsk.keys().secret() {
            let key = ka
                .key()
                .clone()
                .encrypt_secret(&Password::from("hunter2"))
                .expect("encrypt");
            packets.push(if ka.primary() {
                key.role_into_primary().into()
            } else {
                key.role_into_subordinate().into()
            });
        }
        let (enc, _) = tsk.insert_packets(packets).expect("insert");
        let path = k.dir.path().join("enc.asc");
        std::fs::write(&path, enc.as_tsk().armored().to_vec().expect("serialize")).expect("write");

        let no_pass = Signer::KeyFile {
            path: path.clone(),
            passphrase: None,
        };
        let err = sign_detached(&no_pass, b"data", t0()).unwrap_err();
        assert!(
            matches!(err, PgpError::PassphraseRequired { .. }),
            "{err:?}"
        );
        let wrong = Signer::KeyFile {
            path: path.clone(),
            passphrase: Some("wrong".into()),
        };
        let err = sign_detached(&wrong, b"data", t0()).unwrap_err();
        assert!(matches!(err, PgpError::BadPassphrase { .. }), "{err:?}");
        assert!(err.to_string().contains("enc.asc"), "{err}");
        let right = Signer::KeyFile {
            path: path.clone(),
            passphrase: Some("hunter2".into()),
        };
        let sig = sign_detached(&right, b"data", t0()).expect("sign");
        verify_detached(&k.cert, &sig, b"data", t0()).expect("verify");
        assert_eq!(signer_fingerprint(&right).expect("fpr"), k.fpr);

        // A public-only file, a missing file and a pre-creation clock fail cleanly.
        let pub_path = k.dir.path().join("pub.asc");
        std::fs::write(&pub_path, armor_cert(&k.cert).expect("armor")).expect("write");
        let public = Signer::KeyFile {
            path: pub_path,
            passphrase: None,
        };
        assert!(matches!(
            sign_detached(&public, b"data", t0()),
            Err(PgpError::KeyFile { .. })
        ));
        let missing = Signer::KeyFile {
            path: k.dir.path().join("nope.asc"),
            passphrase: None,
        };
        assert!(matches!(
            sign_detached(&missing, b"data", t0()),
            Err(PgpError::Io { .. })
        ));
        assert!(signer_fingerprint(&missing).is_err());
        assert!(sign_detached(&k.signer(), b"data", t0() - DAY).is_err());
    }

    #[test]
    fn loaded_signer_signs_like_sign_detached() {
        let k = TestKey::new("A <a@e.x>", t0(), None);
        let Signer::KeyFile { path, .. } = k.signer() else {
            unreachable!()
        };
        let loaded = LoadedSigner::load(&path, None, t0()).expect("load");
        assert_eq!(loaded.fingerprint(), k.fpr);
        assert!(!format!("{loaded:?}").contains("secret"));
        for (i, data) in [&b"one"[..], b"two", b""].iter().enumerate() {
            let at = t0() + DAY * i as u32;
            let sig = loaded.sign(data, at).expect("sign");
            let info = verify_detached(&k.cert, &sig, data, at).expect("verify");
            assert_eq!(info.created, at);
            // The same signer parameters as the one-shot path.
            let one_shot = sign_detached(&k.signer(), data, at).expect("sign");
            assert_eq!(
                parse_signature(&sig).expect("parse").hash_algo(),
                parse_signature(&one_shot).expect("parse").hash_algo()
            );
        }
        // A signing time before the key existed is refused, not handed out.
        assert!(matches!(
            loaded.sign(b"data", t0() - DAY),
            Err(PgpError::Sign { .. })
        ));
        assert!(matches!(
            LoadedSigner::load(&k.dir.path().join("nope.asc"), None, t0()),
            Err(PgpError::Io { .. })
        ));
    }

    #[test]
    fn generate_key_rejects_bad_input() {
        assert!(generate_key("", t0(), None, None).is_err());
        assert!(generate_key("A\n<a@e.x>", t0(), None, None).is_err());
        assert!(generate_key("A <a@e.x>", t0(), Some(Duration::from_millis(10)), None).is_err());
        assert!(generate_key("A <a@e.x>", t0(), None, Some("")).is_err());
    }

    #[test]
    fn a_generated_key_with_a_passphrase_is_locked_by_it() {
        let (tsk, public, _) =
            generate_key("P <p@e.x>", t0(), None, Some("correct horse")).expect("keygen");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.key");
        std::fs::write(&path, &tsk).unwrap();
        let err = LoadedSigner::load(&path, None, t0() + DAY)
            .unwrap_err()
            .to_string();
        assert!(err.contains("encrypted"), "{err}");
        assert!(LoadedSigner::load(&path, Some("wrong"), t0() + DAY).is_err());
        let signer = LoadedSigner::load(&path, Some("correct horse"), t0() + DAY).expect("unlock");
        let sig = signer.sign(b"data", t0() + DAY).expect("sign");
        let cert = parse_cert(public.as_bytes()).unwrap();
        assert!(verify_detached(&cert, &sig, b"data", t0() + DAY).is_ok());
        // No secret is readable without the passphrase.
        let parsed = Cert::from_bytes(tsk.as_bytes()).unwrap();
        assert!(parsed
            .keys()
            .secret()
            .all(|k| !k.key().has_unencrypted_secret()));
    }

    #[test]
    fn signer_debug_hides_passphrase() {
        let s = Signer::KeyFile {
            path: "k.asc".into(),
            passphrase: Some("hunter2".into()),
        };
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("k.asc"), "{dbg}");
    }

    #[test]
    fn colon_parsing() {
        let out = "tru::1:1700000000:0:3:1:5\n\
                   pub:u:255:22:AAAAAAAAAAAAAAAA:1700000000:::u:::scESC:::::ed25519:::0:\n\
                   fpr:::::::::0123456789abcdef0123456789abcdef01234567:\n\
                   uid:u::::1700000000::HASH::T <t@e.x>::::::::::0:\n\
                   sub:u:255:22:BBBBBBBBBBBBBBBB:1700000000::::::s:::::ed25519::\n\
                   fpr:::::::::FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:\n";
        assert_eq!(
            parse_colon_fingerprint(out).expect("fpr"),
            "0123456789ABCDEF0123456789ABCDEF01234567"
        );
        let two = format!("{out}{out}");
        assert!(parse_colon_fingerprint(&two).is_err());
        assert!(parse_colon_fingerprint("").is_err());
        assert!(parse_colon_fingerprint("pub:u:\nfpr:::::::::zz:\n").is_err());
    }

    #[test]
    fn gpg_key_spec_validation() {
        let s = Signer::Gpg {
            program: "gpg".into(),
            key: "--homedir=/tmp".into(),
        };
        assert!(matches!(
            sign_detached(&s, b"x", t0()),
            Err(PgpError::InvalidGpgKey { .. })
        ));
        let s = Signer::Gpg {
            program: "/nonexistent/gpg-program".into(),
            key: "ABCDEF".into(),
        };
        let err = sign_detached(&s, b"x", t0()).unwrap_err();
        assert!(matches!(err, PgpError::GpgSpawn { .. }), "{err:?}");
        assert!(
            err.to_string().contains("/nonexistent/gpg-program"),
            "{err}"
        );
    }

    // ----- Interoperability with real GnuPG -----

    fn find_on_path(name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    /// A GnuPG home that exists only for this test; GNUPGHOME is set on each
    /// child, never on the test process, so the user's keyring is untouched.
    struct GpgHome {
        gpg: PathBuf,
        home: tempfile::TempDir,
    }

    impl GpgHome {
        fn new(gpg: PathBuf) -> Self {
            let home = tempfile::Builder::new()
                .prefix("aiaudit-gpg")
                .tempdir()
                .expect("tempdir");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700))
                .expect("chmod");
            Self { gpg, home }
        }

        fn cmd(&self) -> Command {
            let mut c = Command::new(&self.gpg);
            c.env("GNUPGHOME", self.home.path())
                .arg("--batch")
                .arg("--no-tty");
            c
        }

        fn run(&self, args: &[&str]) -> std::process::Output {
            let out = self.cmd().args(args).output().expect("run gpg");
            assert!(
                out.status.success(),
                "gpg {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out
        }

        /// Generates a key, returning its primary fingerprint.
        fn gen_key(&self, uid: &str, algo: &str) -> String {
            self.run(&[
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                algo,
                "sign",
                "never",
            ]);
            let out = self.run(&["--with-colons", "--fingerprint", uid]);
            parse_colon_fingerprint(&String::from_utf8_lossy(&out.stdout)).expect("fpr")
        }

        /// `Signer::Gpg` inherits the environment, so point it at this home
        /// through a tiny wrapper instead of mutating the test process's env.
        fn wrapper(&self) -> PathBuf {
            use std::os::unix::fs::PermissionsExt;
            let path = self.home.path().join("gpg-wrapper.sh");
            let script = format!(
                "#!/bin/sh\nGNUPGHOME='{}' exec '{}' \"$@\"\n",
                self.home.path().display(),
                self.gpg.display()
            );
            std::fs::write(&path, script).expect("write wrapper");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            path
        }
    }

    impl Drop for GpgHome {
        fn drop(&mut self) {
            // Stop the agent this test started; best effort.
            if let Some(gpgconf) = find_on_path("gpgconf") {
                let _ = Command::new(gpgconf)
                    .env("GNUPGHOME", self.home.path())
                    .args(["--kill", "all"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// Spawning a just-written script can race with another thread's fork
    /// holding it open for writing (ETXTBSY); retry briefly.
    fn sign_retrying(signer: &Signer, data: &[u8]) -> Result<Vec<u8>, PgpError> {
        let mut last = None;
        for _ in 0..20 {
            match sign_detached(signer, data, SystemTime::now()) {
                Err(PgpError::GpgSpawn { source, .. })
                    if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                    last = Some(source);
                }
                other => return other,
            }
        }
        panic!("wrapper stayed busy: {last:?}");
    }

    #[test]
    fn gpg_interop() {
        let Some(gpg) = find_on_path("gpg") else {
            eprintln!("!!!!! SKIPPING gpg_interop: `gpg` is not on PATH !!!!!");
            return;
        };
        let home = GpgHome::new(gpg);
        let wrapper = home.wrapper();
        let data = b"{\"decision\":\"allow\"}\n";

        for algo in ["ed25519", "rsa3072"] {
            let uid = format!("T {algo} <t-{algo}@e.x>");
            let fpr = home.gen_key(&uid, algo);
            let exported = home.run(&["--export", "--armor", &fpr]).stdout;
            let cert = parse_cert(&exported).expect("parse gpg export");
            assert_eq!(fingerprint(&cert), fpr);

            let signer = Signer::Gpg {
                program: wrapper.clone(),
                key: fpr.clone(),
            };
            assert_eq!(signer_fingerprint(&signer).expect("gpg fpr"), fpr);
            // A user id works too (without the `!` exact-key suffix).
            let by_uid = Signer::Gpg {
                program: wrapper.clone(),
                key: uid.clone(),
            };
            assert_eq!(signer_fingerprint(&by_uid).expect("gpg fpr by uid"), fpr);
            let sig = sign_retrying(&by_uid, data).expect("gpg sign by uid");
            verify_detached(&cert, &sig, data, SystemTime::now()).expect("verify by uid");
            let sig = sign_retrying(&signer, data).expect("gpg sign");
            let info = verify_detached(&cert, &sig, data, SystemTime::now())
                .unwrap_or_else(|e| panic!("{algo}: {e}"));
            assert_eq!(info.primary_fingerprint, fpr);
            let err = verify_detached(&cert, &sig, b"other", SystemTime::now()).unwrap_err();
            assert!(matches!(err, SigError::Bad(_)), "{algo}: {err:?}");

            // gpg's secret key export is refused by parse_cert; RSA is refused
            // for in-process signing.
            let secret = home
                .run(&[
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                    "--export-secret-keys",
                    "--armor",
                    &fpr,
                ])
                .stdout;
            assert!(matches!(
                parse_cert(&secret),
                Err(PgpError::SecretKeyMaterial { .. })
            ));
            let key_path = home.home.path().join(format!("{algo}-secret.asc"));
            std::fs::write(&key_path, &secret).expect("write");
            let kf = Signer::KeyFile {
                path: key_path,
                passphrase: None,
            };
            let res = sign_detached(&kf, data, SystemTime::now());
            if algo == "rsa3072" {
                let err = res.unwrap_err();
                assert!(
                    matches!(err, PgpError::UnsupportedAlgorithm { .. }),
                    "{err:?}"
                );
            } else {
                let sig = res.expect("in-process signing with gpg's ed25519 key");
                verify_detached(&cert, &sig, data, SystemTime::now()).expect("verify");
            }
        }

        // In-process signature verified by gpg.
        let (tsk, public, fpr) =
            generate_key("Sequoia <s@e.x>", SystemTime::now(), None, None).expect("keygen");
        let pub_path = home.home.path().join("seq.asc");
        std::fs::write(&pub_path, &public).expect("write");
        home.run(&["--import", &pub_path.to_string_lossy()]);
        let key_path = home.home.path().join("seq-secret.asc");
        std::fs::write(&key_path, &tsk).expect("write");
        let sig = sign_detached(
            &Signer::KeyFile {
                path: key_path,
                passphrase: None,
            },
            data,
            SystemTime::now(),
        )
        .expect("sign");
        let sig_path = home.home.path().join("data.sig");
        let data_path = home.home.path().join("data");
        std::fs::write(&sig_path, armor_signature(&sig).expect("armor")).expect("write");
        std::fs::write(&data_path, data).expect("write");
        let out = home
            .cmd()
            .args(["--status-fd", "1", "--verify"])
            .arg(&sig_path)
            .arg(&data_path)
            .output()
            .expect("gpg --verify");
        let status = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "gpg --verify failed: {status}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("[GNUPG:] VALIDSIG") && l.ends_with(&fpr)),
            "{status}"
        );
        // And gpg rejects it over other data, so the check above has teeth.
        std::fs::write(&data_path, b"tampered").expect("write");
        let out = home
            .cmd()
            .args(["--verify"])
            .arg(&sig_path)
            .arg(&data_path)
            .output()
            .expect("gpg --verify");
        assert!(!out.status.success());
    }
}
