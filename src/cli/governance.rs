//! Governance changes (`.aiaudit/**`, `README.md`): signed by admins of the current policy,
//! landed on main once the admin threshold is met. With a threshold above one, the change
//! waits on `refs/heads/governance/<name>` while admins add signatures (`aiaudit policy sign`).

use super::util::{self, committer, main_base, person, unix, SignerArgs};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::engine::{Checker, CommitView};
use crate::ledger::governance::statement;
use crate::ledger::trailers::{self, Approval, POLICY_BASE, POLICY_SIGNED_BY};
use crate::ledger::write::{self, Draft, Expected, Judgement, RefMove, TreeSpec};
use crate::ledger::{GOVERNANCE_PREFIX, MAIN_REF, README_PATH};
use crate::pgp;
use crate::store::{CommitData, Oid, Store};
use anyhow::anyhow;
use std::time::SystemTime;

/// Signs a new governance state (`files` written over `base`'s tree) as an admin, and lands it
/// or, when more admin signatures are needed, leaves it on a governance proposal ref.
#[allow(clippy::too_many_arguments)]
pub fn sign_change(
    store: &Store,
    checker: &mut Checker<'_>,
    base: &CommitData,
    files: &[(String, Vec<u8>)],
    signer_args: &SignerArgs,
    summary: &str,
    push: Option<&str>,
    now: SystemTime,
) -> CliResult {
    let tree = store.tree_with_files(Some(base.tree), files)?;
    let name = format!(
        "{}-{}",
        jiff::Timestamp::try_from(now)
            .map(|t| t.strftime("%Y%m%d").to_string())
            .unwrap_or_default(),
        &tree.to_string()[..10]
    );
    let change = Change {
        subject: summary.to_owned(),
        base: base.id,
        tree,
        signatures: Vec::new(),
        name,
    };
    add_signature_and_finish(store, checker, change, signer_args, push, now, None)
}

/// A governance change being signed.
struct Change {
    subject: String,
    base: Oid,
    tree: Oid,
    signatures: Vec<Approval>,
    name: String,
}

impl Change {
    fn message(&self) -> String {
        trailers::policy_change_message(&self.subject, &self.base.to_string(), &self.signatures)
    }
}

fn add_signature_and_finish(
    store: &Store,
    checker: &mut Checker<'_>,
    mut change: Change,
    signer_args: &SignerArgs,
    push: Option<&str>,
    now: SystemTime,
    proposal: Option<(String, Oid)>,
) -> CliResult {
    let base = store.commit(change.base)?;
    let old = checker.governance().policy_at(base.tree)?;
    let signer = signer_args.signer()?;
    let fpr = pgp::signer_fingerprint(&signer).map_err(CliError::usage)?;
    let admin = old
        .principal_by_key(&fpr)
        .filter(|p| p.groups.contains(&old.admins.group))
        .cloned()
        .ok_or_else(|| {
            CliError::usage(anyhow!(
                "key {fpr} is not the key of an admin (group `{}`) of the current policy",
                old.admins.group
            ))
        })?;
    let statement = statement(store, change.base, change.tree)?;
    let sig = pgp::sign_detached(&signer, statement.as_bytes(), now).map_err(CliError::usage)?;
    change.signatures.retain(|a| a.principal != admin.id);
    change.signatures.push(Approval {
        principal: admin.id.clone(),
        email: admin.email.clone(),
        key: fpr,
        signature: sig,
    });
    let signed = change.signatures.len();
    let need = old.admins.threshold as usize;
    let author = person(
        admin.name.as_deref().unwrap_or(&admin.id),
        admin.email.as_deref().unwrap_or("admin@principals.invalid"),
        unix(now),
    );
    let committer = committer(store, &author);

    let base_commit = base;
    if signed < need {
        let refname = format!("{GOVERNANCE_PREFIX}{}", change.name);
        // Compare-and-swap on the local governance ref as read (none for a new change, or when
        // the change was read from a remote-tracking ref).
        let expected = match &proposal {
            Some((r, oid)) if *r == refname => Expected::At(*oid),
            _ => Expected::Absent,
        };
        let commit = write::write(
            checker,
            Draft {
                parent: Some(base_commit),
                tree: TreeSpec::Keep(change.tree),
                author,
                committer,
                message: change.message(),
            },
            Judgement::Governance { landing: false },
            &RefMove::new(&refname, expected, "governance: signature"),
        )
        .map_err(util::refused(
            "the signature would be rejected; nothing was changed",
        ))?
        .staged
        .id();
        outln!("{refname}");
        errln!("{}", change.subject);
        errln!(
            "  signed by `{}`: {signed} of {need} admin signature(s)",
            admin.id
        );
        errln!(
            "next: another admin runs `aiaudit policy sign {}`",
            change.name
        );
        if let Some(remote) = push {
            let before = match &proposal {
                Some((r, oid)) if *r == refname => Some(*oid),
                _ => None,
            };
            util::push_or_undo(
                store,
                remote,
                &[format!("+{commit}:{refname}")],
                &[util::Undo {
                    refname: refname.clone(),
                    before,
                    after: Some(commit),
                }],
            )?;
            errln!("  pushed to {remote}");
        }
        return Ok(EXIT_OK);
    }

    // Enough: land on today's main, with the governance files of the signed tree.
    let main = main_base(store)?;
    let get = |p: &str| store.lookup(change.tree, p);
    let entries = vec![
        (".aiaudit".to_owned(), get(".aiaudit")?),
        (README_PATH.to_owned(), get(README_PATH)?),
    ];
    let mut mv = RefMove::new(MAIN_REF, Expected::Behind, "policy change");
    let mut refspecs = Vec::new();
    if let Some((refname, oid)) = &proposal {
        if refname.starts_with(GOVERNANCE_PREFIX) {
            mv = mv.deleting(refname, *oid);
        }
        refspecs.push(format!(":{GOVERNANCE_PREFIX}{}", change.name));
    }
    let main_before = store.ref_target(MAIN_REF)?;
    let mut undo = vec![];
    if let Some((name, oid)) = &mv.delete {
        undo.push(util::Undo {
            refname: name.clone(),
            before: Some(*oid),
            after: None,
        });
    }
    let written = write::write(
        checker,
        Draft {
            parent: Some(main),
            tree: TreeSpec::Edit {
                files: Vec::new(),
                entries,
            },
            author,
            committer,
            message: change.message(),
        },
        Judgement::Main,
        &mv,
    )
    .map_err(util::refused(
        "the policy change would be rejected; nothing was changed",
    ))?;
    super::util::note_left_alone(&written.left_alone);
    util::print_diagnostics(&written.warnings);
    let commit = written.staged.id();
    refspecs.insert(0, format!("{commit}:{MAIN_REF}"));
    outln!("{commit}");
    errln!("{}", change.subject);
    errln!(
        "  landed on main, signed by {}",
        change
            .signatures
            .iter()
            .map(|a| format!("`{}`", a.principal))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match push {
        Some(remote) => {
            undo.insert(
                0,
                util::Undo {
                    refname: MAIN_REF.into(),
                    before: main_before,
                    after: Some(commit),
                },
            );
            util::push_or_undo(store, remote, &refspecs, &undo)?;
            errln!("  pushed to {remote}");
        }
        None => errln!("next: git push origin main   (or pass --push)"),
    }
    Ok(EXIT_OK)
}

/// `aiaudit policy sign NAME`: add your admin signature to a pending governance change.
pub fn sign_proposal(
    store: &Store,
    name: &str,
    signer_args: &SignerArgs,
    push: Option<&str>,
) -> CliResult {
    let now = util::now()?;
    let mut found = store.refs_with_prefix(GOVERNANCE_PREFIX)?;
    for (r, o) in store.refs_with_prefix("refs/remotes/")? {
        if let Some(pos) = r.find("/governance/") {
            let n = &r[pos + "/governance/".len()..];
            if !found
                .iter()
                .any(|(f, _)| f.ends_with(&format!("/governance/{n}")))
            {
                found.push((r.clone(), o));
            }
        }
    }
    let matches: Vec<_> = found
        .into_iter()
        .filter(|(r, _)| {
            r.rsplit_once("/governance/")
                .is_some_and(|(_, n)| n.starts_with(name))
        })
        .collect();
    let (refname, oid) = match matches.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(CliError::usage(anyhow!("no governance change `{name}`"))
                .hint("fetch first: git fetch origin '+refs/heads/*:refs/remotes/origin/*'"))
        }
        _ => {
            return Err(CliError::usage(anyhow!(
                "`{name}` matches several governance changes"
            )))
        }
    };
    let c = CommitView::new(store.commit(oid)?);
    let t = &c.trailers;
    let base = match t.first(POLICY_BASE) {
        Some(b) => Oid::from_hex(b.as_bytes())
            .map_err(|_| CliError::violations(anyhow!("{refname}: bad Policy-Base")))?,
        None => *c
            .parents
            .first()
            .ok_or_else(|| CliError::violations(anyhow!("{refname}: no parent")))?,
    };
    let change = Change {
        subject: c
            .message
            .lines()
            .next()
            .unwrap_or("policy change")
            .to_owned(),
        base,
        tree: c.tree,
        signatures: t.well_formed_signatures(POLICY_SIGNED_BY),
        name: refname
            .rsplit_once("/governance/")
            .map(|(_, n)| n.to_owned())
            .unwrap_or_default(),
    };
    let mut checker = Checker::new(store, now);
    add_signature_and_finish(
        store,
        &mut checker,
        change,
        signer_args,
        push,
        now,
        Some((refname, oid)),
    )
}
