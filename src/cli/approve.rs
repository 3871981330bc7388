//! `aiaudit approve`: sign a proposal's exact bytes; land it on main once approvals suffice.

use super::util::{self, committer, main_base, Proposal, SignerArgs};
use super::{errln, outln};
use super::{CliError, CliResult, EXIT_OK};
use crate::diag::Code;
use crate::engine::{Checker, CommitView, Link, LinkStatus};
use crate::ledger::trailers::{self, Approval};
use crate::ledger::write::{self, Draft, Expected, Judgement, RefMove, TreeSpec};
use crate::ledger::{MAIN_REF, PROPOSALS_PREFIX};
use crate::pgp;
use crate::record::{self, digest};
use anyhow::anyhow;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

/// Approve a proposed decision with your OpenPGP key.
///
/// Shows the whole record first; what you sign is exactly the file's bytes, and exactly those
/// bytes land on main. When the policy's approvals are complete the decision lands on main
/// (one Approved-by trailer per approval); otherwise the approval is kept on the proposal ref.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The decision id (or a unique prefix).
    pub id: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Sign without asking (required when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub push: super::settings::PushArgs,
}

pub fn run(cwd: &Path, a: ApproveArgs) -> CliResult {
    let store = util::open(cwd)?;
    let now = util::now()?;
    let prop = util::find_proposal(&store, &a.id)?;
    let base = main_base(&store)?;
    let base_tree = base.tree;
    let mut checker = Checker::new(&store, now);
    let policy = checker.governance().policy_at(base.tree)?;

    let (decision, diags) = record::check_decision(&prop.path, &prop.bytes);
    let Some(d) = decision.filter(|_| diags.is_empty()) else {
        util::print_diagnostics(&diags);
        return Err(CliError::violations(anyhow!(
            "{} is not a valid decision; refusing to sign it",
            prop.path
        )));
    };
    let signer = a.signer.signer()?;
    let fpr = pgp::signer_fingerprint(&signer).map_err(CliError::usage)?;
    let Some(approver) = policy.principal_by_key(&fpr).cloned() else {
        return Err(CliError::usage(anyhow!(
            "your key {fpr} belongs to no principal of the policy"
        ))
        .hint("an admin adds your certificate with `aiaudit principal add`"));
    };

    // Whether the initiator really signed what it claims, judged by the proposal's governance.
    let parent_policy = checker.governance().policy_at(prop.parent.tree)?;
    let initiated = checker.link_status(
        prop.parent.tree,
        &parent_policy,
        Link::Initiator,
        &d.initiator.id,
        &d.created,
        &prop.bytes,
        &CommitView::new(prop.commit.clone()),
    );
    show_what_is_signed(&prop, &d, &approver.id, &fpr, &initiated);
    if !a.yes {
        confirm()?;
    }
    let sig = pgp::sign_detached(&signer, &prop.bytes, now).map_err(CliError::usage)?;
    let new = Approval {
        principal: approver.id.clone(),
        email: approver.email.clone(),
        key: fpr.clone(),
        signature: sig,
    };
    let proposed = trailers::parse(&prop.commit.message);
    // The initiator's signature travels with the record onto main.
    let initiated = proposed
        .well_formed_signatures(trailers::INITIATED_BY)
        .into_iter()
        .next();
    let mut approvals: Vec<Approval> = proposed
        .well_formed_signatures(trailers::APPROVED_BY)
        .into_iter()
        .filter(|x| x.principal != approver.id)
        .collect();
    approvals.push(new);

    // Build the landing commit on today's main and judge it with the server's rules: the
    // decision's bytes and the proposal's stored context, blob for blob.
    let message = trailers::decision_message(&d, initiated.as_ref(), &approvals);
    let committer = committer(
        &store,
        &util::person(
            approver.name.as_deref().unwrap_or(&approver.id),
            approver
                .email
                .as_deref()
                .unwrap_or("approver@principals.invalid"),
            util::unix(now),
        ),
    );
    let draft = Draft {
        parent: Some(base),
        tree: TreeSpec::Edit {
            files: vec![(prop.path.clone(), prop.bytes.clone())],
            entries: prop
                .stored
                .iter()
                .map(|c| (c.path.clone(), c.new))
                .collect(),
        },
        author: prop.commit.author.clone(),
        committer: committer.clone(),
        message: message.clone(),
    };
    let how = Judgement::Decision { landing: true };
    let landing = write::stage(&store, draft.clone())?;
    let diags = landing.judge(&mut checker, how);
    let blocking: Vec<_> = diags
        .iter()
        .filter(|x| x.code != Code::ApprovalMissing && x.is_error())
        .cloned()
        .collect();
    if !blocking.is_empty() {
        return Err(CliError::violations(anyhow!(
            "the approval would be rejected; nothing was changed"
        ))
        .with_diagnostics(blocking));
    }
    let local_proposal = format!("{PROPOSALS_PREFIX}{}", d.id);
    if !diags.iter().any(|x| x.code == Code::ApprovalMissing) {
        util::print_diagnostics(&diags);
        let local = store.ref_target(MAIN_REF)?;
        let proposal_before = store.ref_target(&local_proposal)?;
        // main moves and the proposal ref goes in one ref transaction.
        let mut mv = RefMove::new(MAIN_REF, Expected::Behind, "approve and land");
        if let Some(p) = proposal_before {
            mv = mv.deleting(&local_proposal, p);
        }
        util::note_left_alone(&write::publish(&store, &landing, &mv)?);
        let mut landing = landing.id();
        errln!(
            "approved by `{}`; decision {} landed on main",
            approver.id,
            d.id
        );
        errln!(
            "  approvals: {}",
            approvals
                .iter()
                .map(|x| x.principal.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(remote) = &a.push.remote()? {
            // Nothing landed on the server: the local refs go back, so that after a fetch
            // the same command builds on the server's newer main. When the server's main
            // moved on, the landing is rebuilt onto it and pushed again.
            landing = util::land_on_remote(
                &store,
                &mut checker,
                remote,
                &util::Landing {
                    draft,
                    how,
                    commit: landing,
                    main_before: local,
                    deleted: proposal_before
                        .map(|p| (local_proposal.clone(), p))
                        .into_iter()
                        .collect(),
                    // Read from the remote-tracking ref alone: the server's proposal goes too.
                    remote_deletes: if proposal_before.is_none() {
                        vec![local_proposal.clone()]
                    } else {
                        Vec::new()
                    },
                },
            )?;
            errln!("  commit: {landing}");
            errln!("  pushed to {remote}");
        } else {
            errln!("  commit: {landing}");
            errln!("next: git push origin main :{local_proposal}   (or pass --push)");
        }
        outln!("{landing}");
    } else {
        // Not enough yet: keep the approval on the proposal, same parent, same file, judged as
        // the server judges a proposal. The local proposal ref was read (local refs win over
        // remote-tracking ones), or there was none.
        let proposal_expected = if prop.refname == local_proposal {
            Expected::At(prop.commit.id)
        } else {
            Expected::Absent
        };
        let updated = write::write(
            &mut checker,
            Draft {
                parent: Some(prop.parent.clone()),
                tree: TreeSpec::Keep(prop.commit.tree),
                author: prop.commit.author.clone(),
                committer,
                message,
            },
            Judgement::Decision { landing: false },
            // Compare-and-swap on what was read: another approval landing on the local
            // proposal meanwhile is not overwritten.
            &RefMove::new(&local_proposal, proposal_expected, "approve (partial)"),
        )
        .map_err(util::refused(
            "the approval would be rejected; nothing was changed",
        ))?
        .staged
        .id();
        outln!("{updated}");
        errln!("approval by `{}` recorded on {local_proposal}", approver.id);
        // Say so when it counts toward none of what the rule requires (a group the approver is
        // not in), judged by the policy the landing is judged by: today's main.
        let verdict = checker.governance().policy_at(base_tree)?.verdict(&d);
        let counts = verdict
            .require
            .iter()
            .any(|q| q.group.as_ref().is_none_or(|g| approver.groups.contains(g)));
        if !counts {
            errln!(
                "note: your approval does not count toward this decision: policy rule `{}` requires {}, and `{}` is in none of those groups",
                verdict.rule,
                verdict
                    .require
                    .iter()
                    .map(|q| q.describe())
                    .collect::<Vec<_>>()
                    .join(" AND "),
                approver.id
            );
        }
        for x in diags.iter().filter(|x| x.code == Code::ApprovalMissing) {
            errln!("  still: {}", x.message);
        }
        if let Some(remote) = &a.push.remote()? {
            let before = match proposal_expected {
                Expected::At(oid) => Some(oid),
                _ => None,
            };
            util::push_or_undo(
                &store,
                remote,
                &[format!("+{updated}:{local_proposal}")],
                &[util::Undo {
                    refname: local_proposal.clone(),
                    before,
                    after: Some(updated),
                }],
            )?;
            errln!("  pushed to {remote}");
        }
    }
    Ok(EXIT_OK)
}

fn show_what_is_signed(
    prop: &Proposal,
    d: &record::Decision,
    approver: &str,
    fpr: &str,
    initiated: &LinkStatus,
) {
    errln!(
        "You are about to approve, as `{approver}` with key {fpr}, the proposal on {}:",
        prop.refname
    );
    errln!(
        "  decision {} ({} on {}), risk {}",
        d.id,
        d.action.kind.as_str(),
        d.action.target.system,
        d.risk.as_str()
    );
    errln!(
        "  initiated by {} ({}), model {} ({})",
        d.initiator.id,
        d.initiator.kind.as_str(),
        d.ai.model.trailer(),
        d.ai.role.as_str()
    );
    if !d.action.command.is_empty() {
        errln!(
            "  the command it approves: {}",
            crate::text::shell_words(&d.action.command)
        );
    }
    errln!(
        "  initiator's signature: {}",
        match initiated {
            LinkStatus::Valid(a) => format!("valid, by {} with key {}", a.principal, a.key),
            LinkStatus::Unsigned => "NONE: the initiator did not sign the record".into(),
            LinkStatus::Invalid(d) => format!("INVALID [{}]: {}", d.code, d.message),
        }
    );
    errln!(
        "  file {} — {} bytes, sha256 {}",
        prop.path,
        prop.bytes.len(),
        digest::sha256_hex(&prop.bytes)
    );
    errln!("----- exact bytes signed -----");
    // The exact bytes, with anything a terminal would execute or hide shown escaped.
    eprint!(
        "{}",
        crate::text::visible_text(&String::from_utf8_lossy(&prop.bytes))
    );
    errln!("------------------------------");
}

fn confirm() -> CliResult<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(anyhow!("standard input is not a terminal"))
            .hint("read the record above and pass --yes to sign it"));
    }
    eprint!("Sign this decision? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CliError::internal)?;
    if matches!(line.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::usage(anyhow!("not signed")))
    }
}
