//! `aiaudit sample`: a reproducible random sample of decisions, written as an evidence folder an
//! external auditor re-performs offline — with aiaudit (`aiaudit sample --verify DIR`) and with
//! stock GnuPG (`sh verify-gpg.sh`). This is how SOC 2 and ISO auditors test a control: they
//! draw a sample from the population and re-perform the check on each item.
//!
//! The draw: the population (the decisions on main the filters keep) sorted by decision id; a
//! SplitMix64 generator seeded with the seed; for i in 0..size, j = i + next() mod (n − i), swap
//! items i and j; the first `size` items, sorted by id, are the sample. The same ledger, filters,
//! size and seed always draw the same sample (docs/sample.md).

use super::util::{self, main_base};
use super::{errln, outln, CliError, CliResult, EXIT_OK, EXIT_VIOLATIONS};
use crate::ledger::read::LedgerDecision;
use crate::ledger::trailers::{self, Approval};
use crate::pgp;
use crate::record;
use crate::store::{Oid, Store};
use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The schema of a sample's manifest.
pub const SAMPLE_SCHEMA: &str = "aiaudit/sample/v1";

/// Draw a reproducible random sample of decisions as an evidence folder
///
/// The folder holds each decision's record bytes, every signature as a detached `.asc` file, the signers'
/// certificates, the chain as JSON and Markdown, a manifest with the SHA-256 of every file, and
/// a README with the commands that re-verify the folder offline (`aiaudit sample --verify DIR`,
/// and `sh verify-gpg.sh` with stock GnuPG). The seed is printed; give it again (`--seed`) to
/// draw the same sample. See docs/sample.md.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub filter: super::log::DecisionFilter,
    /// How many decisions to draw (all of them when the population is smaller).
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub size: usize,
    /// The seed of the draw (a number); a random one is chosen and printed when absent.
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Write the evidence folder here (must not exist, or be empty).
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        required_unless_present = "verify"
    )]
    pub out: Option<PathBuf>,
    /// Re-verify an evidence folder instead: every file against the manifest, every record's
    /// canonical form, every signature against the certificates in the folder. Exit 1 on any
    /// problem. Needs no audit repository.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "seed"])]
    pub verify: Option<PathBuf>,
}

/// The manifest: what was drawn from what, and every file with its digest.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: String,
    pub generated_at: String,
    /// The commit of main sampled, and main's root commit.
    pub tip: String,
    pub root: String,
    pub seed: u64,
    pub size: usize,
    pub population: Population,
    pub decisions: Vec<String>,
    /// Every signature in the folder: which file it signs, whose it is, with which key.
    pub signatures: Vec<SignatureFile>,
    /// Every file of the folder but `manifest.json` and `SHA256SUMS`.
    pub files: Vec<FileDigest>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// The filters, as given.
    pub filter: serde_json::Value,
    /// How many decisions they keep.
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// The `.asc` file (ASCII-armored detached signature).
    pub file: String,
    /// The file it signs.
    pub signs: String,
    /// `Initiated-by`, `Approved-by`, `Executed-by` or `Reviewed-by`.
    pub trailer: String,
    pub principal: String,
    /// The primary fingerprint of the signer's certificate (`certs/<key>.asc`).
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fully specified, the same everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The ids drawn from `population` (sorted by id) with `seed`, sorted by id.
pub fn draw(population: &[String], size: usize, seed: u64) -> Vec<String> {
    let mut items: Vec<String> = population.to_vec();
    items.sort();
    let n = items.len();
    let take = size.min(n);
    let mut rng = SplitMix64(seed);
    for i in 0..take {
        let j = i + (rng.next() % (n - i) as u64) as usize;
        items.swap(i, j);
    }
    let mut out: Vec<String> = items.into_iter().take(take).collect();
    out.sort();
    out
}

pub fn run(cwd: &Path, a: SampleArgs) -> CliResult {
    if let Some(dir) = &a.verify {
        return verify(dir);
    }
    let Some(out) = a.out.clone() else {
        return Err(CliError::usage(anyhow!("--out DIR is required")));
    };
    if a.size == 0 {
        return Err(CliError::usage(anyhow!("--size must be at least 1")));
    }
    if out.exists()
        && std::fs::read_dir(&out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(CliError::usage(anyhow!(
            "{} exists and is not empty; nothing was written",
            out.display()
        )));
    }
    let store = util::open(cwd)?;
    let base = main_base(&store)?;
    let keep = a.filter.predicate()?;
    let ledger = a.filter.read(&store, &base)?;
    let population: Vec<&LedgerDecision> = ledger.decisions.iter().filter(|d| keep(d)).collect();
    if population.is_empty() {
        return Err(CliError::usage(anyhow!(
            "no decision on main matches the filters; nothing was written"
        )));
    }
    let seed = a.seed.unwrap_or_else(rand_seed);
    let ids: Vec<String> = population.iter().map(|d| d.decision.id.clone()).collect();
    let drawn = draw(&ids, a.size, seed);
    let root = store
        .first_parent_ids(base.id)?
        .first()
        .map(|o| o.to_string())
        .unwrap_or_default();

    let mut w = Folder::new(&out)?;
    let mut signatures = Vec::new();
    for id in &drawn {
        let d = population
            .iter()
            .find(|d| &d.decision.id == id)
            .ok_or_else(|| CliError::internal(anyhow!("drawn id {id} is not in the population")))?;
        signatures.extend(write_decision(&store, base.tree, &mut w, d)?);
    }
    let generated_at = util::now()
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(record::format_created)
        .unwrap_or_default();
    let gpg_script = gpg_script(&signatures);
    w.write("verify-gpg.sh", gpg_script.as_bytes())?;
    w.write(
        "README.md",
        readme(&drawn, population.len(), seed, &base.id.to_string()).as_bytes(),
    )?;
    let manifest = Manifest {
        schema: SAMPLE_SCHEMA.into(),
        generated_at,
        tip: base.id.to_string(),
        root,
        seed,
        size: a.size,
        population: Population {
            filter: serde_json::to_value(&a.filter).map_err(CliError::internal)?,
            count: population.len(),
        },
        decisions: drawn.clone(),
        signatures,
        files: w.files.clone(),
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(CliError::internal)? + "\n";
    w.write("manifest.json", text.as_bytes())?;
    let sums: String = w
        .files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    std::fs::write(out.join("SHA256SUMS"), sums)
        .map_err(|e| CliError::usage(anyhow!("{}: {e}", out.display())))?;

    outln!("{}", out.display());
    errln!(
        "sampled {} of {} decision(s) (seed {seed}; `--seed {seed}` draws the same sample) into {}",
        drawn.len(),
        population.len(),
        out.display()
    );
    errln!(
        "  {} file(s), {} signature(s); re-verify: aiaudit sample --verify {}   or: (cd {} && sh verify-gpg.sh)",
        w.files.len() + 2,
        manifest.signatures.len(),
        out.display(),
        out.display()
    );
    Ok(EXIT_OK)
}

fn rand_seed() -> u64 {
    // Seeds a human can read back: at most 12 digits.
    (ulid::Ulid::new().random() % 1_000_000_000_000) as u64
}

/// An evidence folder being written: every file recorded with its digest.
struct Folder {
    dir: PathBuf,
    files: Vec<FileDigest>,
}

impl Folder {
    fn new(dir: &Path) -> CliResult<Folder> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::usage(anyhow!("{}: {e}", dir.display())))?;
        Ok(Folder {
            dir: dir.to_owned(),
            files: Vec::new(),
        })
    }

    fn write(&mut self, rel: &str, bytes: &[u8]) -> CliResult<()> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::usage(anyhow!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::usage(anyhow!("{}: {e}", path.display())))?;
        if rel != "manifest.json" {
            self.files.push(FileDigest {
                path: rel.to_owned(),
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                size: bytes.len() as u64,
            });
        }
        Ok(())
    }
}

/// A principal id as a file-name part (ids are identifiers; anything else becomes `_`).
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._@+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes one decision's folder; returns its signature files.
fn write_decision(
    store: &Store,
    tip_tree: Oid,
    w: &mut Folder,
    d: &LedgerDecision,
) -> CliResult<Vec<SignatureFile>> {
    let id = &d.decision.id;
    let dir = format!("decisions/{id}");
    let commit = store.commit(Oid::from_hex(d.commit.as_bytes()).map_err(CliError::internal)?)?;
    let bytes = read_file(store, commit.tree, &d.path)?;
    let record_file = format!("{dir}/record.yaml");
    w.write(&record_file, &bytes)?;
    let mut sigs = Vec::new();
    let t = trailers::parse(&commit.message);
    for key in [trailers::INITIATED_BY, trailers::APPROVED_BY] {
        for a in t.well_formed_signatures(key) {
            sigs.push(write_signature(
                store,
                tip_tree,
                w,
                &dir,
                &record_file,
                key,
                &a,
            )?);
        }
    }
    let mut events = Vec::new();
    for ev in &d.events {
        let ec = store.commit(Oid::from_hex(ev.commit.as_bytes()).map_err(CliError::internal)?)?;
        let eb = read_file(store, ec.tree, &ev.path)?;
        let event_file = format!("{dir}/events/{}.yaml", ev.event.id);
        w.write(&event_file, &eb)?;
        let et = trailers::parse(&ec.message);
        let mut ev_sigs = Vec::new();
        if let Some(key) = trailers::event_signature_key(ev.event.kind) {
            for a in et.well_formed_signatures(key) {
                let s = write_signature(store, tip_tree, w, &dir, &event_file, key, &a)?;
                ev_sigs.push(s.file.clone());
                sigs.push(s);
            }
        }
        events.push(json!({
            "id": ev.event.id,
            "kind": ev.event.kind.as_str(),
            "actor": ev.event.actor.id,
            "file": event_file,
            "commit": ev.commit,
            "signatures": ev_sigs,
            "event": ev.event,
        }));
    }
    let chain = json!({
        "decision": d.decision,
        "record": record_file,
        "path_in_ledger": d.path,
        "commit": d.commit,
        "landed_by": d.landed_by,
        "signatures": sigs.iter().filter(|s| s.signs == record_file).collect::<Vec<_>>(),
        "events": events,
    });
    let text = serde_json::to_string_pretty(&chain).map_err(CliError::internal)? + "\n";
    w.write(&format!("{dir}/chain.json"), text.as_bytes())?;
    w.write(
        &format!("{dir}/chain.md"),
        chain_markdown(d, &sigs).as_bytes(),
    )?;
    Ok(sigs)
}

fn read_file(store: &Store, tree: Oid, path: &str) -> CliResult<Vec<u8>> {
    let entry = store
        .lookup(tree, path)?
        .ok_or_else(|| CliError::internal(anyhow!("{path} is missing from its commit")))?;
    Ok(store.read_blob_capped(entry.oid, record::MAX_RECORD_BYTES as u64)?)
}

/// Writes one signature (armored) and, once, the signer's certificate.
fn write_signature(
    store: &Store,
    tip_tree: Oid,
    w: &mut Folder,
    dir: &str,
    signs: &str,
    trailer: &str,
    a: &Approval,
) -> CliResult<SignatureFile> {
    let stem = Path::new(signs)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("record");
    let prefix = if signs.contains("/events/") {
        format!("{dir}/events/{stem}.")
    } else {
        format!("{dir}/")
    };
    let file = format!(
        "{prefix}{}.{}.asc",
        trailer.to_ascii_lowercase(),
        file_part(&a.principal)
    );
    let armored = pgp::armor_signature(&a.signature).map_err(CliError::internal)?;
    w.write(&file, armored.as_bytes())?;
    let cert = format!("certs/{}.asc", a.key);
    if !w.files.iter().any(|f| f.path == cert) {
        // The newest certificate on main carries every revocation published since.
        let bytes = read_file(store, tip_tree, &crate::policy::key_path(&a.key))?;
        w.write(&cert, &bytes)?;
    }
    Ok(SignatureFile {
        file,
        signs: signs.to_owned(),
        trailer: trailer.to_owned(),
        principal: a.principal.clone(),
        key: a.key.clone(),
    })
}

fn chain_markdown(d: &LedgerDecision, sigs: &[SignatureFile]) -> String {
    let x = &d.decision;
    let mut o = format!(
        "# Decision {}\n\n- created: {}\n- initiator: {} ({})\n- action: {} on {}: {}\n- model: {} (AI {})\n- context digest: {}\n- risk: {}\n- landed on main by commit {} ({})\n\n## Signatures\n\n",
        x.id,
        x.created,
        x.initiator.id,
        x.initiator.kind.as_str(),
        x.action.kind.as_str(),
        x.action.target.system,
        x.action.summary.lines().next().unwrap_or(""),
        x.ai.model.trailer(),
        x.ai.role.as_str(),
        x.context.digest,
        x.risk.as_str(),
        d.commit,
        d.landed_by
    );
    for s in sigs {
        o.push_str(&format!(
            "- {} `{}` with key {}: `{}` over `{}`\n",
            s.trailer, s.principal, s.key, s.file, s.signs
        ));
    }
    o.push_str("\n## Events\n\n");
    if d.events.is_empty() {
        o.push_str("none\n");
    }
    for e in &d.events {
        o.push_str(&format!(
            "- {} {} by {} at {}\n",
            e.event.kind.as_str(),
            e.event.id,
            e.event.actor.id,
            e.event.created
        ));
    }
    crate::text::visible_text(&o).into_owned()
}

/// A POSIX shell script that checks every signature with stock GnuPG in a throw-away keyring.
fn gpg_script(sigs: &[SignatureFile]) -> String {
    let mut o = String::from(
        "#!/bin/sh\n# Re-verifies every signature of this sample with stock GnuPG, in a throw-away keyring.\n# Usage: sh verify-gpg.sh   (from this folder)\nset -eu\ncd \"$(dirname \"$0\")\"\nGNUPGHOME=\"$(mktemp -d)\"\nexport GNUPGHOME\ntrap 'gpgconf --kill all >/dev/null 2>&1 || true; rm -rf \"$GNUPGHOME\"' EXIT\ngpg --batch --quiet --import certs/*.asc 2>/dev/null\nfailed=0\ncheck() {\n    if gpg --batch --status-fd 1 --verify \"$1\" \"$2\" 2>/dev/null | grep -q '^\\[GNUPG:\\] VALIDSIG'; then\n        echo \"good: $1 ($3)\"\n    else\n        echo \"BAD:  $1 ($3)\"\n        failed=1\n    fi\n}\n",
    );
    for s in sigs {
        o.push_str(&format!(
            "check '{}' '{}' '{} {} key {}'\n",
            s.file, s.signs, s.trailer, s.principal, s.key
        ));
    }
    o.push_str(&format!(
        "if [ \"$failed\" -ne 0 ]; then echo 'FAILED: a signature does not verify' >&2; exit 1; fi\necho 'ok: {} signature(s) verified by GnuPG'\n",
        sigs.len()
    ));
    o
}

fn readme(drawn: &[String], population: usize, seed: u64, tip: &str) -> String {
    format!(
        "# Audit sample\n\n{} decision(s) drawn at random from a population of {population} on the audit ledger's main at commit {tip}, with seed {seed} (`aiaudit sample --seed {seed}` with the same filters draws the same ones; the method is in aiaudit's docs/sample.md).\n\nEach `decisions/<id>/` holds the record's exact bytes (`record.yaml`), every signature over it as a detached ASCII-armored OpenPGP signature (`initiated-by.<principal>.asc`, `approved-by.<principal>.asc`), its events (`events/`) with theirs (`executed-by`, `reviewed-by`), and the chain as JSON and Markdown. `certs/` holds the signers' certificates as published on main; `manifest.json` lists every file with its SHA-256, `SHA256SUMS` the same for `sha256sum -c`.\n\n## Re-verify it\n\nWith aiaudit (no audit repository needed): every file against the manifest, every record's canonical form, every signature against the certificates here:\n\n    aiaudit sample --verify .\n\nWith stock tools only:\n\n    sha256sum -c SHA256SUMS && sh verify-gpg.sh\n\nTo check one signature by hand: `gpg --import certs/*.asc`, then `gpg --verify decisions/<id>/approved-by.<principal>.asc decisions/<id>/record.yaml`.\n\nDecisions: {}\n",
        drawn.len(),
        drawn.join(", ")
    )
}

/// `--verify DIR`: every file against the manifest, every record canonical, every signature
/// verifying with the certificate of the key the manifest names.
fn verify(dir: &Path) -> CliResult {
    let read = |rel: &str| -> CliResult<Vec<u8>> {
        std::fs::read(dir.join(rel))
            .map_err(|e| CliError::violations(anyhow!("{}: {e}", dir.join(rel).display())))
    };
    let m: Manifest = serde_json::from_slice(&read("manifest.json")?).map_err(|e| {
        CliError::violations(anyhow!(
            "{}: not a sample manifest: {e}",
            dir.join("manifest.json").display()
        ))
    })?;
    if m.schema != SAMPLE_SCHEMA {
        return Err(CliError::violations(anyhow!(
            "manifest.json: schema is `{}`, not `{SAMPLE_SCHEMA}`",
            m.schema
        )));
    }
    let mut problems: Vec<String> = Vec::new();
    let mut content: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for f in &m.files {
        if f.path.split('/').any(|p| p == ".." || p.is_empty()) || f.path.starts_with('/') {
            problems.push(format!(
                "manifest.json: `{}` is not a path inside the folder",
                f.path
            ));
            continue;
        }
        match read(&f.path) {
            Ok(b) => {
                let sum = hex::encode(sha2::Sha256::digest(&b));
                if sum != f.sha256 || b.len() as u64 != f.size {
                    problems.push(format!(
                        "{}: SHA-256 {sum} ({} bytes), the manifest says {} ({} bytes)",
                        f.path,
                        b.len(),
                        f.sha256,
                        f.size
                    ));
                }
                content.insert(f.path.clone(), b);
            }
            Err(e) => problems.push(e.error.to_string()),
        }
    }
    for id in &m.decisions {
        let path = format!("decisions/{id}/record.yaml");
        match content.get(&path) {
            None => problems.push(format!("{path}: listed decision without its record")),
            Some(b) => {
                let in_ledger = record::path_for_id("decisions", id).unwrap_or_default();
                let (d, diags) = record::check_decision(&in_ledger, b);
                for x in diags {
                    problems.push(format!("{path}: [{}] {}", x.code, x.message));
                }
                if d.is_some_and(|d| &d.id != id) {
                    problems.push(format!("{path}: holds another decision than {id}"));
                }
            }
        }
    }
    let now = util::now()?;
    let mut good = 0;
    for s in &m.signatures {
        let cert_path = format!("certs/{}.asc", s.key);
        let (Some(sig), Some(data), Some(cert)) = (
            content.get(&s.file),
            content.get(&s.signs),
            content.get(&cert_path),
        ) else {
            problems.push(format!(
                "{}: the signature, the file it signs ({}) or the certificate ({cert_path}) is not in the manifest",
                s.file, s.signs
            ));
            continue;
        };
        let cert = match pgp::parse_cert(cert) {
            Ok(c) if pgp::fingerprint(&c) == s.key => c,
            Ok(c) => {
                problems.push(format!(
                    "{cert_path}: holds certificate {}, not {}",
                    pgp::fingerprint(&c),
                    s.key
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{cert_path}: {e}"));
                continue;
            }
        };
        match pgp::verify_detached_mode(&cert, sig, data, now, pgp::VerifyMode::History) {
            Ok(_) => good += 1,
            Err(e) => problems.push(format!(
                "{}: {} of `{}` over {}: {e}",
                s.file, s.trailer, s.principal, s.signs
            )),
        }
    }
    if problems.is_empty() {
        outln!(
            "ok: {} decision(s), {} file(s) match the manifest, {good} signature(s) verified (sample of {} from {} decision(s), seed {}, main at {})",
            m.decisions.len(),
            m.files.len(),
            m.decisions.len(),
            m.population.count,
            m.seed,
            m.tip
        );
        Ok(EXIT_OK)
    } else {
        for p in &problems {
            errln!("error: {p}");
        }
        outln!(
            "FAILED: {} problem(s); {good} of {} signature(s) verified",
            problems.len(),
            m.signatures.len()
        );
        Ok(EXIT_VIOLATIONS)
    }
}
