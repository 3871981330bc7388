//! `verify`'s front end: main's whole history judged with the hook's rules, in parallel chunks
//! of commits each judged against its parent alone; the history-wide rules (unique ids, the
//! pinned root of trust, checkpoints, the remembered head); and the state a clean run remembers
//! so that the next one reads only what was added since.

use super::gaps::Gaps;
use super::{internal, Checker, CommitRole, CommitView};
use crate::diag::{Code, Diagnostic};
use crate::ledger::{trailers, CHECKPOINTS_PREFIX, MAIN_REF};
use crate::pgp;
use crate::store::{CommitData, Oid, Store};
use std::collections::HashSet;

#[derive(Debug, Default, serde::Serialize)]
pub struct HistoryReport {
    pub root: Option<String>,
    pub tip: Option<String>,
    pub commits: usize,
    pub decisions: usize,
    pub events: usize,
    pub policy_changes: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Whether every commit was checked, or only those after the remembered head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Commits checked in this run (all of them unless resumed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<usize>,
    /// The signatures of the chain's links on the commits that passed every rule.
    pub links: LinkCounts,
}

/// How the links of the chain are signed, over the commits that passed every rule (a wrong
/// signature is a finding, not a count): records signed by their initiator or not, approvals,
/// outcomes signed by their executor or not, reviews.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkCounts {
    pub initiator: Signed,
    pub approvals: usize,
    pub outcome: Signed,
    pub reviews: usize,
}

/// Links of one kind, signed and unsigned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signed {
    pub signed: usize,
    pub unsigned: usize,
}

impl LinkCounts {
    fn add(&mut self, o: &LinkCounts) {
        self.initiator.signed += o.initiator.signed;
        self.initiator.unsigned += o.initiator.unsigned;
        self.approvals += o.approvals;
        self.outcome.signed += o.outcome.signed;
        self.outcome.unsigned += o.outcome.unsigned;
        self.reviews += o.reviews;
    }

    /// Counts the links of a clean commit that added `role`.
    fn count(&mut self, role: &CommitRole, c: &CommitView) {
        let n = |key: &str| c.trailers.all(key).count();
        let one = |s: &mut Signed, key: &str| {
            if n(key) > 0 {
                s.signed += 1
            } else {
                s.unsigned += 1
            }
        };
        match role {
            CommitRole::Decision(Some(_)) => {
                one(&mut self.initiator, trailers::INITIATED_BY);
                self.approvals += n(trailers::APPROVED_BY);
            }
            CommitRole::Event(Some(e)) => match e.kind {
                crate::record::EventKind::Outcome => one(&mut self.outcome, trailers::EXECUTED_BY),
                crate::record::EventKind::Review => self.reviews += n(trailers::REVIEWED_BY),
                crate::record::EventKind::Annotation => {}
            },
            _ => {}
        }
    }
}

/// What a stretch of history counts: one chunk's (`ChunkResult`), the chunks' merged so far
/// (`Merged`), added to a report once (`HistoryReport::add`).
#[derive(Default)]
pub(super) struct Tally {
    commits: usize,
    decisions: usize,
    events: usize,
    policy_changes: usize,
    links: LinkCounts,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.commits += o.commits;
        self.decisions += o.decisions;
        self.events += o.events;
        self.policy_changes += o.policy_changes;
        self.links.add(&o.links);
    }
}

impl HistoryReport {
    fn add(&mut self, t: &Tally) {
        self.commits += t.commits;
        self.decisions += t.decisions;
        self.events += t.events;
        self.policy_changes += t.policy_changes;
        self.links.add(&t.links);
    }
}

/// What a clean `verify` of main remembers, so that the next one checks only the commits
/// added since (`Checker::check_history_resume`): the head it verified, the counts, the
/// warnings it reported, and what history-wide rules still wait for (post-action reviews,
/// outcomes of high-risk decisions).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct VerifyState {
    /// The format of this state; another value means "verify everything again".
    pub version: u32,
    pub root: String,
    pub tip: String,
    pub commits: usize,
    pub decisions: usize,
    pub events: usize,
    pub policy_changes: usize,
    warnings: Vec<StoredWarning>,
    gaps: Gaps,
    links: LinkCounts,
    /// The checkpoint tags it saw (name, tagged commit): any change means a full run.
    checkpoints: Vec<(String, String)>,
    /// What this run adds to the clone's index of main (not part of the remembered state).
    #[serde(skip)]
    pub index: Option<IndexUpdate>,
}

/// What a run of `verify` adds to the clone's index of main (`ledger::index`): the commits of
/// the first-parent chain from position `from` on (`after`, the commit at `from - 1`, is where
/// they continue the indexed chain), and among them the commits adding an event, as the
/// decision's 128-bit id and the commit's position on the chain.
#[derive(Clone, Default)]
pub struct IndexUpdate {
    pub from: usize,
    pub after: Option<Oid>,
    pub commits: Vec<Oid>,
    pub events: Vec<(u128, u32)>,
}

/// A warning of a verified commit, kept to be reported again.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct StoredWarning {
    code: String,
    refname: Option<String>,
    commit: Option<String>,
    path: Option<String>,
    message: String,
}

impl VerifyState {
    pub const VERSION: u32 = 3;
}

/// How a history check went about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    /// Every commit from the root.
    Full,
    /// Only the commits after a remembered, clean head.
    Resumed,
}
impl super::Checker<'_> {
    /// Checks every commit on main from the root, with the same rules as the hook, plus
    /// history-wide rules (ids unique across history, pinned trust root).
    pub fn check_history(&mut self, tip: Oid, trust_root: Option<Oid>) -> HistoryReport {
        self.check_history_from(tip, trust_root, None)
    }

    /// [`Self::check_history`], also failing when `remembered` (the head verified last time)
    /// or any checkpoint tag is not on main's history any more.
    pub fn check_history_from(
        &mut self,
        tip: Oid,
        trust_root: Option<Oid>,
        remembered: Option<Oid>,
    ) -> HistoryReport {
        self.check_history_resume(tip, trust_root, remembered, None)
            .0
    }

    /// [`Self::check_history_from`], resuming from `state` (what the last clean run
    /// remembered) when its head is on main: only the commits added since are checked, and
    /// history-wide rules (overdue reviews, outcomes) are judged with what the state carried
    /// over. A new policy change among them (it may revoke keys, retroactively) or a state
    /// that does not fit this history means a full check. Returns the report and the state to
    /// remember if the report is clean.
    pub fn check_history_resume(
        &mut self,
        tip: Oid,
        trust_root: Option<Oid>,
        remembered: Option<Oid>,
        state: Option<VerifyState>,
    ) -> (HistoryReport, VerifyState) {
        // Approvals on history counted when they landed: judge them at their signing time,
        // with hard revocations retroactive (see `pgp::VerifyMode::History`).
        let mode = std::mem::replace(&mut self.mode, pgp::VerifyMode::History);
        self.latest_tree = self.store.commit(tip).ok().map(|c| c.tree);
        let out = self.check_history_inner(tip, trust_root, remembered, state);
        self.mode = mode;
        self.latest_tree = None;
        out
    }

    fn check_history_inner(
        &mut self,
        tip: Oid,
        trust_root: Option<Oid>,
        remembered: Option<Oid>,
        state: Option<VerifyState>,
    ) -> (HistoryReport, VerifyState) {
        let mut report = HistoryReport {
            tip: Some(tip.to_string()),
            ..Default::default()
        };
        let empty_state = |report: &HistoryReport| VerifyState {
            version: VerifyState::VERSION,
            root: report.root.clone().unwrap_or_default(),
            tip: tip.to_string(),
            commits: 0,
            decisions: 0,
            events: 0,
            policy_changes: 0,
            warnings: Vec::new(),
            gaps: Gaps::default(),
            links: LinkCounts::default(),
            checkpoints: Vec::new(),
            index: None,
        };
        let checkpoints = match self.checkpoint_targets() {
            Ok(c) => c,
            Err(e) => {
                report.diagnostics.push(internal(e));
                let st = empty_state(&report);
                return (report, st);
            }
        };
        // A clean earlier run of this clone whose head is still on main's first-parent line,
        // with the same checkpoints and root of trust: only the commits since are read at all.
        let mut state = state.filter(|st| st.version == VerifyState::VERSION);
        let quick = state.as_ref().and_then(|st| {
            let stop = Oid::from_hex(st.tip.as_bytes()).ok()?;
            let fits = remembered.is_none_or(|r| r == stop)
                && trust_root
                    .is_none_or(|t| Oid::from_hex(st.root.as_bytes()).is_ok_and(|r| r == t))
                && st.checkpoints == checkpoints;
            if !fits {
                return None;
            }
            let newer = self.store.first_parent_ids_until(tip, stop).ok()??;
            Some(std::iter::once(stop).chain(newer).collect::<Vec<Oid>>())
        });
        if let Some((chain, st)) = quick.and_then(|c| Some((c, state.take()?))) {
            let mut merged = Merged::default();
            self.check_chunks(&chain, 1, &mut |r| merged.add(r));
            if merged.tally.policy_changes == 0 {
                report.root = Some(st.root.clone());
                // The remembered head is the last of the `st.commits` commits of the chain.
                let at = (st.commits.saturating_sub(1), 1);
                return self.finish_history(report, chain, at, merged, Some(st), checkpoints);
            }
            // A new policy change may revoke keys retroactively: everything again, below,
            // without the state (`take` above).
        }
        // Ids only: 20 bytes a commit, read without keeping every commit's pages mapped.
        let ids_chain = match self.store.first_parent_ids(tip) {
            Ok(c) => c,
            Err(e) => {
                report.diagnostics.push(internal(e).at_ref(MAIN_REF));
                let st = empty_state(&report);
                return (report, st);
            }
        };
        report.root = ids_chain.first().map(|c| c.to_string());
        if let (Some(want), Some(root)) = (trust_root, ids_chain.first()) {
            if *root != want {
                report.diagnostics.push(
                    Diagnostic::new(
                        Code::TrustRootMismatch,
                        format!("main's root commit is {root}, the pinned trust root is {want}"),
                    )
                    .at_commit(root.to_string()),
                );
            }
        }
        // A few lookups: a scan each rather than a set of every commit.
        let on_main = |c: &Oid| ids_chain.contains(c);
        if let Some(r) = remembered.filter(|r| !on_main(r)) {
            report.diagnostics.push(
                Diagnostic::new(
                    Code::HistoryRewritten,
                    format!("the head verified last time, {r}, is not an ancestor of {tip}"),
                )
                .at_commit(r.to_string())
                .at_ref(MAIN_REF),
            );
        }
        for (name, target) in &checkpoints {
            let on = Oid::from_hex(target.as_bytes()).is_ok_and(|t| on_main(&t));
            if !on {
                report.diagnostics.push(
                    Diagnostic::new(
                        Code::HistoryRewritten,
                        format!("checkpoint {name} tags {target}, which is not on main"),
                    )
                    .at_commit(target.clone())
                    .at_ref(name.clone()),
                );
            }
        }
        // Every commit is judged against its parent alone, so the chain splits into chunks
        // that threads check independently (each with its own caches); results merge in order.
        // Where the last clean run stopped, if it fits this history.
        let resume = state
            .filter(|st| Some(&st.root) == report.root.as_ref())
            .and_then(|st| {
                let want = Oid::from_hex(st.tip.as_bytes()).ok()?;
                let k = ids_chain.iter().rposition(|c| *c == want)?;
                Some((k + 1, st))
            });
        let mut merged = Merged::default();
        let (base, from) = match resume {
            Some((from, st)) => {
                self.check_chunks(&ids_chain, from, &mut |r| merged.add(r));
                if merged.tally.policy_changes > 0 {
                    merged = Merged::default();
                    self.check_chunks(&ids_chain, 0, &mut |r| merged.add(r));
                    (None, 0)
                } else {
                    (Some(st), from)
                }
            }
            None => {
                self.check_chunks(&ids_chain, 0, &mut |r| merged.add(r));
                (None, 0)
            }
        };
        self.finish_history(report, ids_chain, (0, from), merged, base, checkpoints)
    }

    /// Every checkpoint tag with the commit it tags (hex), sorted by name.
    fn checkpoint_targets(&self) -> Result<Vec<(String, String)>, crate::store::StoreError> {
        let mut out: Vec<(String, String)> = self
            .store
            .refs_with_prefix(CHECKPOINTS_PREFIX)?
            .into_iter()
            .map(|(name, oid)| {
                let target = self.store.tag(oid).map(|t| t.target).unwrap_or(oid);
                (name, target.to_string())
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Adds the chunks' merged results to what `base`, a remembered state, carries over,
    /// applies the history-wide rules, and builds the state to remember. `chain` ends at the
    /// tip; `(offset, from)`: the position of `chain[0]` on main's chain, and the first of
    /// `chain` this run checked.
    fn finish_history(
        &mut self,
        mut report: HistoryReport,
        mut chain: Vec<Oid>,
        (offset, from): (usize, usize),
        merged: Merged,
        base: Option<VerifyState>,
        checkpoints: Vec<(String, String)>,
    ) -> (HistoryReport, VerifyState) {
        let tip = chain.last().copied();
        let root = report.root.clone();
        report.checked = Some(merged.tally.commits);
        report.coverage = Some(if base.is_some() {
            Coverage::Resumed
        } else {
            Coverage::Full
        });
        let mut gaps = Gaps::default();
        if let Some(st) = base {
            report.commits = st.commits;
            report.decisions = st.decisions;
            report.events = st.events;
            report.policy_changes = st.policy_changes;
            report.links = st.links;
            report
                .diagnostics
                .extend(st.warnings.into_iter().filter_map(|w| {
                    let mut d = Diagnostic::new(Code::from_name(&w.code)?, w.message).warning();
                    d.refname = w.refname;
                    d.commit = w.commit;
                    d.path = w.path;
                    Some(d)
                }));
            gaps = st.gaps;
        }
        report.add(&merged.tally);
        report.diagnostics.extend(merged.diagnostics);
        gaps.merge(merged.gaps);
        let index = IndexUpdate {
            from: offset + from,
            after: from.checked_sub(1).and_then(|k| chain.get(k)).copied(),
            // Moved, not copied: at 1,000,000 commits the chain is 24 MB.
            commits: if from == 0 {
                std::mem::take(&mut chain)
            } else {
                chain.split_off(from.min(chain.len()))
            },
            events: merged
                .events_at
                .into_iter()
                .filter_map(|(k, i)| Some((k, u32::try_from(offset + i as usize).ok()?)))
                .collect(),
        };
        let resumed = report.coverage == Some(Coverage::Resumed);
        if let (true, Some(t)) = (resumed, tip) {
            // A resumed run saw only the new decisions: find the approvals of older ones that
            // new outcomes refer to on main.
            if let Err(d) = self.resolve_approvals(&mut gaps, t) {
                report.diagnostics.push(d.at_ref(MAIN_REF));
            }
        }
        let policy = tip
            .and_then(|t| self.store.commit(t).ok())
            .and_then(|c| self.gov.policy_at(c.tree).ok());
        // What the next run resumes from: per-commit warnings (history-wide findings are
        // recomputed from the gaps every time) and the gaps still open.
        let mut kept = gaps.clone();
        kept.high.retain(|(id, _, _)| !kept.outcomes.contains(id));
        kept.outcomes.clear();
        kept.recorded.clear();
        let next = VerifyState {
            version: VerifyState::VERSION,
            root: root.unwrap_or_default(),
            tip: tip.map(|t| t.to_string()).unwrap_or_default(),
            commits: report.commits,
            decisions: report.decisions,
            events: report.events,
            policy_changes: report.policy_changes,
            links: report.links,
            warnings: report
                .diagnostics
                .iter()
                .filter(|d| !d.is_error())
                .map(|d| StoredWarning {
                    code: d.code.name().to_owned(),
                    refname: d.refname.clone(),
                    commit: d.commit.clone(),
                    path: d.path.clone(),
                    message: d.message.clone(),
                })
                .collect(),
            gaps: kept,
            checkpoints,
            index: Some(index),
        };
        report
            .diagnostics
            .extend(gaps.finish(policy.as_deref(), self.now));
        (report, next)
    }

    /// The approval times of the decisions the outcomes in `gaps` refer to that this run did
    /// not see land, read from the commits that landed them on the main ending at `tip`.
    fn resolve_approvals(&mut self, gaps: &mut Gaps, tip: Oid) -> Result<(), Diagnostic> {
        let missing: Vec<String> = gaps
            .recorded
            .iter()
            .map(|r| r.0.clone())
            .filter(|id| super::gaps::id_key(id).is_some_and(|k| !gaps.approved.contains_key(&k)))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let tip = self.store.commit(tip).map_err(internal)?;
        for id in missing {
            let Some(path) = crate::record::path_for_id("decisions", &id) else {
                continue;
            };
            if self
                .store
                .lookup(tip.tree, &path)
                .map_err(internal)?
                .is_none()
            {
                continue;
            }
            if let (Some(t), Some(k)) = (
                self.landing_approval_time(&tip, &path)?,
                super::gaps::id_key(&id),
            ) {
                gaps.approved.insert(k, t);
            }
        }
        Ok(())
    }

    /// Checks every commit of `chain` from `from` (oldest first), in chunks that threads check
    /// in parallel when the store can be shared across threads, a round of chunks at a time.
    /// Each round reads through an object database of its own, shared by the threads: the pack
    /// index is mapped once, and the pack and index pages a round touched are unmapped when it
    /// is done. The chunks' results go to `sink` in history order after each round: what is
    /// held at once is a round's work, not the history.
    pub(super) fn check_chunks(
        &mut self,
        chain: &[Oid],
        from: usize,
        sink: &mut dyn FnMut(ChunkResult),
    ) {
        let n = chain.len();
        if let Some(p) = &self.progress {
            p.total(n.saturating_sub(from) as u64);
        }
        let threads = rayon::current_num_threads().max(1);
        let size = (n.saturating_sub(from) / (threads * 8)).clamp(4, MAX_CHUNK);
        let ranges: Vec<std::ops::Range<usize>> = (from..n)
            .step_by(size)
            .map(|s| s..(s + size).min(n))
            .collect();
        let shared = match self.store.shared() {
            Some(shared) if ranges.len() > 1 => shared,
            _ => {
                for r in ranges {
                    let out = self.check_range(chain, r);
                    sink(out);
                }
                return;
            }
        };
        let (now, mode, latest) = (self.now, self.mode, self.latest_tree);
        let judging_push = self.judging_push;
        let (progress, identity, pusher) = (
            self.progress.clone(),
            self.identity.clone(),
            self.pusher.clone(),
        );
        for round in ranges.chunks(threads * CHUNKS_PER_THREAD) {
            use rayon::prelude::*;
            let odb = self
                .store
                .with_own_objects()
                .ok()
                .and_then(|s| s.shared())
                .unwrap_or_else(|| shared.clone());
            let results: Vec<ChunkResult> = round
                .par_iter()
                .map(|r| {
                    let store = Store::from_shared(&odb);
                    let mut checker = Checker::new(&store, now);
                    checker.mode = mode;
                    checker.latest_tree = latest;
                    checker.progress = progress.clone();
                    checker.identity = identity.clone();
                    checker.pusher = pusher.clone();
                    checker.judging_push = judging_push;
                    checker.check_range(chain, r.clone())
                })
                .collect();
            // The round's pack and index pages are unmapped here, before the next round.
            drop(odb);
            for out in results {
                sink(out);
            }
        }
    }

    /// Checks `chain[range]`, each commit against its predecessor in `chain`.
    fn check_range(&mut self, chain: &[Oid], range: std::ops::Range<usize>) -> ChunkResult {
        let mut out = ChunkResult::default();
        // Newest first: packs store older trees as deltas against newer ones, so walking
        // backwards finds each delta's base freshly decoded. Results are put back in history
        // order at the end.
        let mut per_commit: Vec<CommitFindings> = Vec::new();
        let mut events_at = Vec::new();
        let mut child: Option<CommitData> = None;
        for i in range.rev() {
            let c = match child.take() {
                Some(c) => CommitView::new(c),
                None => match self.store.commit(chain[i]) {
                    Ok(c) => CommitView::new(c),
                    Err(e) => {
                        out.diagnostics
                            .push(internal(e).at_commit(chain[i].to_string()).at_ref(MAIN_REF));
                        return out;
                    }
                },
            };
            let parent = match i {
                0 => None,
                _ => match self.store.commit(chain[i - 1]) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        out.diagnostics.push(internal(e).at_ref(MAIN_REF));
                        return out;
                    }
                },
            };
            let (role, mut found) = self.check_main_commit(&c, parent.as_ref());
            if let (Some(p), true) = (&parent, self.judging_push) {
                if let Some(d) = self.check_pusher(&c, p, &role) {
                    found.push(d.at_commit(c.id.to_string()));
                }
            }
            out.tally.commits += 1;
            let clean = !found.iter().any(Diagnostic::is_error);
            if clean {
                out.tally.links.count(&role, &c);
            }
            let mut id = None;
            match role {
                CommitRole::Decision(d) => {
                    out.tally.decisions += 1;
                    id = c
                        .trailers
                        .first(trailers::DECISION_ID)
                        .map(|x| (x.to_owned(), c.id.to_string()));
                    if let (Some(d), Some(p), true) = (d, parent.as_ref(), clean) {
                        if let Ok(policy) = self.gov.policy_at(p.tree) {
                            out.gaps.decision(&d, policy.verdict(&d), &c);
                        }
                    }
                }
                CommitRole::Event(e) => {
                    out.tally.events += 1;
                    let key = e.as_ref().and_then(|e| super::gaps::id_key(&e.decision));
                    if let (Some(k), Ok(pos)) = (key, u32::try_from(i)) {
                        events_at.push((k, pos));
                    }
                    if let (Some(e), true) = (e, clean) {
                        out.gaps.event(&e, &c);
                    }
                }
                CommitRole::PolicyChange => out.tally.policy_changes += 1,
                _ => {}
            }
            per_commit.push((found.into_iter().map(|d| d.at_ref(MAIN_REF)).collect(), id));
            child = parent;
            if per_commit.len().is_multiple_of(256) {
                if let Some(p) = &self.progress {
                    p.advance(256);
                }
            }
        }
        if let Some(p) = &self.progress {
            p.advance((per_commit.len() % 256) as u64);
        }
        for (diags, id) in per_commit.into_iter().rev() {
            out.diagnostics.extend(diags);
            out.decision_ids.extend(id);
        }
        events_at.reverse();
        out.events_at = events_at;
        out
    }
}

/// The chunks' results merged as they come, in history order.
#[derive(Default)]
pub(super) struct Merged {
    tally: Tally,
    diagnostics: Vec<Diagnostic>,
    gaps: Gaps,
    /// The decision ids seen, as 128-bit ULIDs (16 bytes each, the only per-decision state of
    /// a run besides the approval times in `gaps`); ids that are not ULIDs apart.
    seen: HashSet<u128>,
    seen_other: HashSet<String>,
    /// The event commits: their decision's id and position in the checked chain.
    events_at: Vec<(u128, u32)>,
}

impl Merged {
    fn add(&mut self, r: ChunkResult) {
        self.tally.add(&r.tally);
        for (id, commit) in r.decision_ids {
            let first = match super::gaps::id_key(&id) {
                Some(k) => self.seen.insert(k),
                None => self.seen_other.insert(id.clone()),
            };
            if !first {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateId,
                        format!("decision id {id} appears more than once on main"),
                    )
                    .at_commit(commit)
                    .at_ref(MAIN_REF),
                );
            }
        }
        self.diagnostics.extend(r.diagnostics);
        self.gaps.merge(r.gaps);
        self.events_at.extend(r.events_at);
    }
}

/// The most commits one chunk holds, and the chunks a round gives each thread: a round's object
/// database keeps the pack pages its commits touched mapped until the round is done (at
/// 10,000 decisions a day, ~40 MB for a round of 2 × 2,048 commits). Each chunk starts cold
/// (delta chains resolved from their base, policy and certificates parsed): at 1,000,000
/// decisions, 2,048-commit chunks checked 5 % more commits in the first 40 s than 512-commit
/// ones, for the same pages per round.
const MAX_CHUNK: usize = 2048;
const CHUNKS_PER_THREAD: usize = 1;

/// One commit's findings and, for a decision, its (id, commit).
type CommitFindings = (Vec<Diagnostic>, Option<(String, String)>);

/// What one chunk of history yields, merged in order by `check_history`.
#[derive(Default)]
pub(super) struct ChunkResult {
    tally: Tally,
    /// (decision id, commit) in history order, for the uniqueness check across chunks.
    decision_ids: Vec<(String, String)>,
    pub(super) diagnostics: Vec<Diagnostic>,
    gaps: Gaps,
    /// The commits adding an event: the decision's id and the commit's position in the chain.
    events_at: Vec<(u128, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ids: &[(&str, &str)]) -> ChunkResult {
        ChunkResult {
            tally: Tally {
                commits: ids.len(),
                decisions: ids.len(),
                ..Default::default()
            },
            decision_ids: ids
                .iter()
                .map(|(i, c)| ((*i).to_owned(), (*c).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_decision_id_seen_in_an_earlier_chunk_is_a_duplicate_named_at_its_second_commit() {
        let a = "01M8QGA8WCEHQCWCHWDZKCWQY3";
        let b = "01M8QGA91C13KSKJXYSEB7TNA2";
        let mut m = Merged::default();
        m.add(chunk(&[(a, "c1"), (b, "c2")]));
        m.add(chunk(&[("not-a-ulid", "c3")]));
        m.add(chunk(&[(b, "c4"), ("not-a-ulid", "c5"), (a, "c6")]));
        assert_eq!((m.tally.commits, m.tally.decisions), (6, 6));
        let dups: Vec<(&str, &str)> = m
            .diagnostics
            .iter()
            .map(|d| (d.code.name(), d.commit.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            dups,
            [
                ("duplicate-id", "c4"),
                ("duplicate-id", "c5"),
                ("duplicate-id", "c6")
            ]
        );
        assert!(m.diagnostics[0].message.contains(b));
    }
}
