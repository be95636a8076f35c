//! What a pool member's or breaker's field gw leaves out means, so a live value there is
//! compared by meaning instead of being ignored like other fields only Azure writes.
//!
//! gw writes a member's `priority`/`weight` only when the spec declares them. Absent, APIM puts
//! a pool's members in one priority group and splits a group evenly. A live estate that spells
//! these out (gw wrote 1/1 before it wrote only what was declared) is the same estate when its
//! values change nothing: every member at one priority, equal weights inside each group. Then
//! the plan shows nothing and live keeps its values. Otherwise each live value is a change to
//! absent, which apply makes by writing the body without it.
//!
//! The other way round, a breaker's `acceptRetryAfter: false` that gw writes is what a live
//! rule without the flag means (an optional flag, off), so that is no change either.

use super::types::FieldDiff;
use serde_json::Value;

/// The changes to fields the desired body leaves out and live sets to something else.
pub fn changes(desired: &Value, live: &Value) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    if let (Some(d), Some(l)) = (
        at(desired, "/properties/pool/services"),
        at(live, "/properties/pool/services"),
    ) {
        shares(d, l, &mut out);
    }
    out
}

/// Whether `d` says only that live leaves out a flag gw writes as off.
pub fn same_meaning(d: &FieldDiff) -> bool {
    d.path.ends_with(".acceptRetryAfter")
        && d.before.is_none()
        && d.after == Some(Value::Bool(false))
}

/// Priorities when no desired member sets one; weights per desired priority group where no
/// member of the group sets one. Members pair up by position, as the diff pairs them.
fn shares(d: &[Value], l: &[Value], out: &mut Vec<FieldDiff>) {
    let n = d.len().min(l.len());
    let differ = |key: &str, members: &[usize], out: &mut Vec<FieldDiff>| {
        let live: Vec<Option<Option<f64>>> = members
            .iter()
            // A number Azure answers as a string compares by value, as the diff does.
            .map(|&i| set(&l[i], key).map(number))
            .collect();
        if live.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        for &i in members {
            if let Some(v) = set(&l[i], key) {
                out.push(gone(format!("properties.pool.services[{i}].{key}"), v));
            }
        }
    };
    if (0..d.len()).all(|i| unset(&d[i], "priority")) {
        differ("priority", &(0..n).collect::<Vec<_>>(), out);
    }
    let group = |i: usize| d[i].get("priority").and_then(Value::as_f64);
    let mut groups: Vec<Option<f64>> = Vec::new();
    for i in 0..n {
        if !groups.contains(&group(i)) {
            groups.push(group(i));
        }
    }
    for g in groups {
        let members: Vec<usize> = (0..n).filter(|&i| group(i) == g).collect();
        if members.iter().all(|&i| unset(&d[i], "weight")) {
            differ("weight", &members, out);
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn at<'a>(v: &'a Value, pointer: &str) -> Option<&'a Vec<Value>> {
    v.pointer(pointer).and_then(Value::as_array)
}

fn set<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|v| !v.is_null())
}

fn unset(v: &Value, key: &str) -> bool {
    set(v, key).is_none()
}

fn gone(path: String, before: &Value) -> FieldDiff {
    FieldDiff {
        path,
        before: Some(before.clone()),
        after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::changes;
    use serde_json::{Value, json};

    fn pool(services: Value) -> Value {
        json!({ "properties": { "pool": { "services": services } } })
    }

    fn paths(desired: Value, live: Value) -> Vec<String> {
        changes(&desired, &live)
            .into_iter()
            .map(|d| d.path)
            .collect::<Vec<_>>()
    }

    #[test]
    fn live_ones_that_change_nothing_are_no_change() {
        // A gw-created pool from before: every member 1/1 where the spec now writes nothing.
        let desired = pool(json!([{ "id": "/a" }, { "id": "/b" }]));
        let live = pool(
            json!([{ "id": "/a", "priority": 1, "weight": 1 }, { "id": "/b", "priority": 1, "weight": 1 }]),
        );
        assert!(paths(desired, live).is_empty());
        // Equal weights inside each declared group are an even split too, "3" and 3 alike.
        let desired = pool(
            json!([{ "id": "/a", "priority": 1 }, { "id": "/b", "priority": 2 }, { "id": "/c", "priority": 2 }]),
        );
        let live = pool(
            json!([{ "id": "/a", "priority": 1, "weight": 7 }, { "id": "/b", "priority": 2, "weight": 3 }, { "id": "/c", "priority": 2, "weight": "3" }]),
        );
        assert!(paths(desired, live).is_empty());
    }

    #[test]
    fn live_groups_or_weights_the_spec_leaves_out_are_changes() {
        let desired = pool(json!([{ "id": "/a" }, { "id": "/b" }]));
        let live = pool(
            json!([{ "id": "/a", "priority": 1, "weight": 80 }, { "id": "/b", "priority": 2, "weight": 20 }]),
        );
        let d = changes(&desired, &live);
        let got: Vec<(&str, Option<&Value>, Option<&Value>)> = d
            .iter()
            .map(|d| (d.path.as_str(), d.before.as_ref(), d.after.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "properties.pool.services[0].priority",
                    Some(&json!(1)),
                    None
                ),
                (
                    "properties.pool.services[1].priority",
                    Some(&json!(2)),
                    None
                ),
                ("properties.pool.services[0].weight", Some(&json!(80)), None),
                ("properties.pool.services[1].weight", Some(&json!(20)), None),
            ]
        );
        // A declared weight is compared by the diff itself, not here.
        let desired = pool(json!([{ "id": "/a", "weight": 50 }, { "id": "/b", "weight": 50 }]));
        assert!(paths(desired, live).iter().all(|p| p.ends_with("priority")));
    }

    #[test]
    fn accept_retry_after_left_out_is_off() {
        let off = super::FieldDiff {
            path: "properties.circuitBreaker.rules[0].acceptRetryAfter".into(),
            before: None,
            after: Some(json!(false)),
        };
        assert!(super::same_meaning(&off));
        let on = super::FieldDiff {
            after: Some(json!(true)),
            ..off
        };
        assert!(!super::same_meaning(&on));
    }
}
