//! What a governance change changed: the policy before and after, compared field by field, as
//! statements an auditor reads ("bob was added to group `security`", "the admin threshold went
//! from 1 to 2"). `aiaudit export` carries them on its `aiaudit.governance` lines.

use super::Policy;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The changes from `old` (none: the root of trust) to `new`, each a JSON object with a
/// `change` kind: `principal-added`, `principal-removed`, `groups-changed`, `keys-changed`,
/// `principal-changed`, `admins-changed`, `rules-changed`, `default-changed`,
/// `pushers-changed`, `separation-changed`, `shared-accounts-changed`.
pub fn changes(old: Option<&Policy>, new: &Policy) -> Vec<Value> {
    let mut out = Vec::new();
    let empty: Vec<super::Principal> = Vec::new();
    let before = old.map(|p| &p.principals).unwrap_or(&empty);
    for p in &new.principals {
        match before.iter().find(|q| q.id == p.id) {
            None => out.push(json!({
                "change": "principal-added",
                "principal": p.id,
                "kind": p.kind.as_str(),
                "owner": p.owner,
                "groups": p.groups,
                "keys": p.keys,
            })),
            Some(q) => {
                let (added, removed) = set_diff(&q.groups, &p.groups);
                if !added.is_empty() || !removed.is_empty() {
                    out.push(json!({
                        "change": "groups-changed",
                        "principal": p.id,
                        "added": added,
                        "removed": removed,
                    }));
                }
                let (added, removed) = set_diff(&q.keys, &p.keys);
                if !added.is_empty() || !removed.is_empty() {
                    out.push(json!({
                        "change": "keys-changed",
                        "principal": p.id,
                        "added": added,
                        "removed": removed,
                    }));
                }
                let mut fields = Vec::new();
                if q.kind != p.kind {
                    fields.push("kind");
                }
                if q.name != p.name {
                    fields.push("name");
                }
                if q.email != p.email {
                    fields.push("email");
                }
                if q.owner != p.owner {
                    fields.push("owner");
                }
                if q.forge_logins != p.forge_logins {
                    fields.push("forge_logins");
                }
                if !fields.is_empty() {
                    out.push(json!({
                        "change": "principal-changed",
                        "principal": p.id,
                        "fields": fields,
                    }));
                }
            }
        }
    }
    for q in before {
        if !new.principals.iter().any(|p| p.id == q.id) {
            out.push(json!({"change": "principal-removed", "principal": q.id}));
        }
    }
    let Some(old) = old else {
        out.push(json!({
            "change": "admins-changed",
            "group": new.admins.group,
            "threshold": new.admins.threshold,
            "before": Value::Null,
        }));
        return out;
    };
    if old.admins != new.admins {
        out.push(json!({
            "change": "admins-changed",
            "group": new.admins.group,
            "threshold": new.admins.threshold,
            "before": {"group": old.admins.group, "threshold": old.admins.threshold},
        }));
    }
    let names = |p: &Policy| p.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    let (added, removed) = set_diff(&names(old), &names(new));
    let changed: Vec<&String> = new
        .rules
        .iter()
        .filter(|r| old.rules.iter().any(|o| o.name == r.name && o != *r))
        .map(|r| &r.name)
        .collect();
    let order_changed = {
        let kept_old: Vec<String> = names(old)
            .into_iter()
            .filter(|n| !removed.contains(n))
            .collect();
        let kept_new: Vec<String> = names(new)
            .into_iter()
            .filter(|n| !added.contains(n))
            .collect();
        kept_old != kept_new
    };
    if !added.is_empty() || !removed.is_empty() || !changed.is_empty() || order_changed {
        out.push(json!({
            "change": "rules-changed",
            "added": added,
            "removed": removed,
            "changed": changed,
            "reordered": order_changed,
        }));
    }
    if old.default != new.default {
        out.push(json!({"change": "default-changed"}));
    }
    if old.pushers != new.pushers {
        out.push(json!({
            "change": "pushers-changed",
            "bind": new.pushers.as_ref().map(|p| p.bind),
            "signed": new.pushers.as_ref().map(|p| p.signed),
            "landing_accounts": new.pushers.as_ref().map(|p| &p.landing_accounts),
        }));
    }
    if old.separate_roles != new.separate_roles {
        out.push(json!({"change": "separation-changed", "separate_roles": new.separate_roles}));
    }
    if old.shared_accounts != new.shared_accounts {
        out.push(json!({"change": "shared-accounts-changed"}));
    }
    out
}

/// What `new` has that `old` has not, and the reverse, each in `new`'s / `old`'s order.
fn set_diff(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let o: BTreeSet<&String> = old.iter().collect();
    let n: BTreeSet<&String> = new.iter().collect();
    (
        new.iter().filter(|x| !o.contains(x)).cloned().collect(),
        old.iter().filter(|x| !n.contains(x)).cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(id: &str, groups: &[&str], keys: &[&str]) -> super::super::Principal {
        super::super::Principal {
            id: id.into(),
            kind: crate::record::PrincipalKind::Human,
            name: None,
            email: None,
            owner: None,
            forge_logins: vec![],
            groups: groups.iter().map(|s| s.to_string()).collect(),
            keys: keys.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn who_was_made_an_approver_and_how_the_admins_changed() {
        let mut old = Policy::default_for(human("alice", &["admins"], &["A1"]));
        old.principals.push(human("bob", &["dev"], &["B1"]));
        let mut new = old.clone();
        new.principals
            .insert(0, human("carol", &["security"], &["C1"]));
        new.principals[2] = human("bob", &["dev", "security"], &["B1", "B2"]);
        new.admins.threshold = 2;
        let c = changes(Some(&old), &new);
        let kinds: Vec<&str> = c.iter().map(|v| v["change"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "principal-added",
                "groups-changed",
                "keys-changed",
                "admins-changed"
            ],
            "{c:#?}"
        );
        assert_eq!(c[0]["principal"], "carol");
        assert_eq!(c[0]["groups"], json!(["security"]));
        assert_eq!(c[1]["principal"], "bob");
        assert_eq!(c[1]["added"], json!(["security"]));
        assert_eq!(c[2]["added"], json!(["B2"]));
        assert_eq!(c[3]["before"]["threshold"], 1);
        assert_eq!(c[3]["threshold"], 2);
        // The root of trust: everyone added, and the admins named.
        let root = changes(None, &old);
        assert_eq!(root.len(), 3, "{root:#?}"); // alice, bob, the admins
        assert!(changes(Some(&old), &old).is_empty());
        let removed = changes(Some(&new), &old);
        assert!(removed
            .iter()
            .any(|v| v["change"] == "principal-removed" && v["principal"] == "carol"));
    }
}
