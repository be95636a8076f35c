//! A saved plan (`gw apply PLAN.json`) is untrusted input: it is an artefact passed between
//! CI jobs, and whoever can edit it would otherwise hold the pipeline's rights. So gw never
//! executes it. It recomputes the plan from the spec and what is live now, and applies that,
//! only when the file says exactly the same thing: same spec, subscription and group, same
//! stamps of everything read, and the same changes. The file is the user's review of the
//! changes; the recomputed plan is what runs.

use crate::plan::{Change, Plan, ReadStamp};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Reads a plan file; a file that is not a plan is an error naming it.
pub fn load(path: &Path) -> anyhow::Result<Plan> {
    let text = fs_err::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a plan saved by `gw plan --out`: {e}\nhint: save one with `gw plan --out {}`",
            path.display(),
            path.display()
        )
    })
}

/// Why a saved plan cannot be checked, known before reading Azure: it was made from another
/// spec, or it holds no stamps to compare what is live against.
pub fn unusable(saved: &Plan, spec_digest: &str) -> Vec<String> {
    let mut out = Vec::new();
    if saved.spec_digest != spec_digest {
        out.push("the spec changed since the plan was made (its digest differs)".into());
    }
    if saved.read.is_empty() {
        out.push(
            "the plan carries no stamps of what it read (printed by an older gw, planned with `--offline`, or edited), so gw cannot tell whether Azure changed since".into(),
        );
    }
    out
}

/// Whether the plan was made for the subscription and group the spec resolves to now.
pub fn other_target(saved: &Plan, subscription: &str, resource_group: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !saved.subscription.eq_ignore_ascii_case(subscription) {
        out.push(format!(
            "the plan is for subscription {}, the spec resolves to {subscription}",
            saved.subscription
        ));
    }
    if !saved.resource_group.eq_ignore_ascii_case(resource_group) {
        out.push(format!(
            "the plan is for resource group {}, the spec names {resource_group}",
            saved.resource_group
        ));
    }
    out
}

/// Ids whose stamp now differs from the saved one, or that only one side stamped. Every
/// resource the plan reads must be stamped: dropping a stamp from the file must not skip
/// the check for that resource.
pub fn stale(saved: &[ReadStamp], now: &[ReadStamp]) -> Vec<String> {
    let key = |s: &ReadStamp| s.id.to_lowercase();
    let saved_by_id: BTreeMap<String, &ReadStamp> = saved.iter().map(|s| (key(s), s)).collect();
    let now_ids: std::collections::BTreeSet<String> = now.iter().map(key).collect();
    let mut out: Vec<String> = now
        .iter()
        .filter(|s| {
            saved_by_id
                .get(&key(s))
                .is_none_or(|old| old.stamp != s.stamp)
        })
        .map(|s| s.id.clone())
        .collect();
    out.extend(
        saved
            .iter()
            .filter(|s| !now_ids.contains(&key(s)))
            .map(|s| s.id.clone()),
    );
    out
}

/// One way the saved changes differ from the recomputed ones.
#[derive(Clone, Debug, PartialEq)]
pub enum Difference {
    /// In the file, not in the recomputed plan (e.g. an appended delete).
    Added { action: String, id: String },
    /// In the recomputed plan, not in the file.
    Missing { action: String, address: String },
    /// Both have the resource, with another action.
    Action {
        address: String,
        saved: String,
        now: String,
    },
    /// Both have it with the same action; these fields of the body diff differ.
    Diff { address: String, paths: Vec<String> },
    /// Another field of the change differs (type, id casing aside, soft-delete handling...).
    Field {
        address: String,
        field: String,
        saved: String,
        now: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Added { action, id } => {
                write!(
                    f,
                    "added: {action} {id} (the recomputed plan has no such change)"
                )
            }
            Difference::Missing { action, address } => {
                write!(
                    f,
                    "missing: {action} {address} (the recomputed plan has it, the file does not)"
                )
            }
            Difference::Action {
                address,
                saved,
                now,
            } => {
                write!(
                    f,
                    "changed action: {address}: the file says {saved}, the recomputed plan {now}"
                )
            }
            Difference::Diff { address, paths } => {
                write!(f, "changed body: {address}: {}", paths.join(", "))
            }
            Difference::Field {
                address,
                field,
                saved,
                now,
            } => {
                write!(
                    f,
                    "changed {field}: {address}: the file says {saved}, the recomputed plan {now}"
                )
            }
        }
    }
}

/// Compares the file's changes with the recomputed ones, by ARM id (case-insensitive, as
/// ARM compares them). Each change is compared as the JSON both sides serialise to, so a
/// field added to `Change` later is compared too.
pub fn differences(saved: &[Change], now: &[Change]) -> Vec<Difference> {
    let key = |c: &Change| c.id.to_lowercase();
    let mut now_by_id: BTreeMap<String, &Change> = now.iter().map(|c| (key(c), c)).collect();
    let mut out = Vec::new();
    for s in saved {
        // Removing as we go: a second entry for one id is itself an addition.
        match now_by_id.remove(&key(s)) {
            None => out.push(Difference::Added {
                action: action_name(s),
                id: s.id.clone(),
            }),
            Some(n) => out.extend(compare(s, n)),
        }
    }
    for n in now {
        if now_by_id.contains_key(&key(n)) {
            out.push(Difference::Missing {
                action: action_name(n),
                address: n.address.clone(),
            });
        }
    }
    out
}

fn action_name(c: &Change) -> String {
    to_json(&c.action)
        .as_str()
        .map_or_else(|| format!("{:?}", c.action), str::to_string)
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn compare(saved: &Change, now: &Change) -> Vec<Difference> {
    let (s, n) = (to_json(saved), to_json(now));
    if s == n {
        return Vec::new();
    }
    if saved.action != now.action {
        return vec![Difference::Action {
            address: now.address.clone(),
            saved: action_name(saved),
            now: action_name(now),
        }];
    }
    let empty = serde_json::Map::new();
    let (so, no) = (
        s.as_object().unwrap_or(&empty),
        n.as_object().unwrap_or(&empty),
    );
    let mut fields: Vec<&String> = so.keys().chain(no.keys()).collect();
    fields.sort();
    fields.dedup();
    let mut out = Vec::new();
    for field in fields {
        let (a, b) = (so.get(field), no.get(field));
        if a == b
            || (field == "id"
                && a.and_then(Value::as_str).map(str::to_lowercase)
                    == b.and_then(Value::as_str).map(str::to_lowercase))
        {
            continue;
        }
        if field == "diff" {
            out.push(Difference::Diff {
                address: now.address.clone(),
                paths: diff_paths(a, b),
            });
        } else {
            let show =
                |v: Option<&Value>| v.map_or_else(|| "nothing".to_string(), Value::to_string);
            out.push(Difference::Field {
                address: now.address.clone(),
                field: field.clone(),
                saved: show(a),
                now: show(b),
            });
        }
    }
    out
}

/// The field paths whose before/after differ between two `diff` lists.
fn diff_paths(saved: Option<&Value>, now: Option<&Value>) -> Vec<String> {
    let entries = |v: Option<&Value>| -> BTreeMap<String, Value> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|d| {
                let path = d.get("path").and_then(Value::as_str).unwrap_or_default();
                (path.to_string(), d.clone())
            })
            .collect()
    };
    let (s, n) = (entries(saved), entries(now));
    let mut paths: Vec<String> = s
        .keys()
        .chain(n.keys())
        .filter(|p| s.get(*p) != n.get(*p))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    if paths.is_empty() {
        // Same entries in another order, or a duplicated entry.
        paths.push("(the order or number of field changes)".into());
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, diff::FieldDiff};
    use serde_json::json;

    fn change(id: &str, action: Action, diff: &[(&str, Value)]) -> Change {
        Change {
            address: format!("x.{}", id.rsplit('/').next().unwrap()),
            arm_type: "T".into(),
            id: id.into(),
            action,
            diff: diff
                .iter()
                .map(|(p, v)| FieldDiff {
                    path: p.to_string(),
                    before: None,
                    after: Some(v.clone()),
                })
                .collect(),
            soft_deleted: None,
            reason: None,
            kind: None,
        }
    }

    #[test]
    fn the_same_changes_have_no_differences_and_id_case_does_not_matter() {
        let now = vec![change("/a/B", Action::Update, &[("p", json!(1))])];
        let mut saved = now.clone();
        saved[0].id = "/A/b".into();
        assert_eq!(differences(&saved, &now), []);
    }

    #[test]
    fn each_kind_of_difference_is_named() {
        let now = vec![
            change("/a/1", Action::Update, &[("p", json!(1))]),
            change("/a/2", Action::Create, &[]),
            change("/a/3", Action::NoOp, &[]),
        ];
        let saved = vec![
            change("/a/1", Action::Update, &[("p", json!(2))]),
            change("/a/3", Action::Delete, &[]),
            change("/other/rg", Action::Delete, &[]),
            change("/a/1", Action::Update, &[("p", json!(1))]),
        ];
        let text: Vec<String> = differences(&saved, &now)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "changed body: x.1: p",
                "changed action: x.3: the file says delete, the recomputed plan no-op",
                "added: delete /other/rg (the recomputed plan has no such change)",
                "added: update /a/1 (the recomputed plan has no such change)",
                "missing: create x.2 (the recomputed plan has it, the file does not)",
            ]
        );
    }

    #[test]
    fn a_dropped_stamp_is_stale_like_a_changed_one() {
        let st = |id: &str, s: &str| ReadStamp {
            id: id.into(),
            stamp: s.into(),
        };
        let now = [st("/a", "etag:1"), st("/b", "etag:2"), st("/c", "absent")];
        let saved = [st("/A", "etag:1"), st("/c", "etag:9"), st("/d", "absent")];
        assert_eq!(stale(&saved, &now), ["/b", "/c", "/d"]);
    }
}
