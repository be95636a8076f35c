//! Collects validation problems as the model is built, with the helpers every rule uses.

use super::names::NameError;
use super::regions;
use crate::diag::{Diagnostic, Note, did_you_mean};
use crate::spec::{Loc, Sp};
use std::collections::BTreeMap;

#[derive(Default)]
pub(super) struct Diags(pub(super) Vec<Diagnostic>);

impl Diags {
    /// Every problem, sorted by position in the file; `Ok` when there are none.
    pub(super) fn finish(self) -> Result<(), Vec<Diagnostic>> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut v = self.0;
        v.sort_by_key(|x| (x.loc, x.path.clone()));
        Err(v)
    }
    pub(super) fn err(
        &mut self,
        loc: Loc,
        path: impl Into<String>,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.0.push(Diagnostic::new(loc, path, msg));
        self.0.last_mut().expect("just pushed")
    }
    pub(super) fn err_hint(
        &mut self,
        loc: Loc,
        path: impl Into<String>,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        let d = self.err(loc, path, msg);
        d.hint = hint;
    }
    /// A problem that involves two places: `loc` is reported, `first` is drawn beside it.
    pub(super) fn collision(
        &mut self,
        loc: Loc,
        path: impl Into<String>,
        msg: impl Into<String>,
        first: Loc,
        note: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self.err(loc, path, msg);
        d.note = Some(Note {
            loc: first,
            message: note.into(),
        });
        d.hint = Some(hint.into());
    }
    pub(super) fn name(&mut self, loc: Loc, path: impl Into<String>, r: Result<(), NameError>) {
        if let Err(e) = r {
            let d = self.err(loc, path, e.message);
            d.hint = Some(e.rule.to_string());
        }
    }
    pub(super) fn region(&mut self, s: &Sp<String>, path: &str) {
        if !regions::is_known(&s.value) {
            let hint = did_you_mean(&s.value, regions::REGIONS.iter().copied())
                .or_else(|| Some("use an Azure region name such as `eastus` or `swedencentral` (`az account list-locations -o table`)".into()));
            self.err_hint(
                s.loc,
                path,
                format!("unknown Azure region `{}`", s.value),
                hint,
            );
        }
    }
    pub(super) fn range(&mut self, v: &Sp<i64>, path: &str, min: i64, max: i64) -> Option<u32> {
        if v.value < min || v.value > max {
            self.err_hint(
                v.loc,
                path,
                format!("{} is out of range", v.value),
                Some(format!("use a number from {min} to {max}")),
            );
            None
        } else {
            u32::try_from(v.value).ok()
        }
    }
    pub(super) fn duplicate(
        &mut self,
        seen: &mut BTreeMap<String, Loc>,
        s: &Sp<String>,
        path: &str,
        what: &str,
    ) {
        if let Some(first) = seen.get(&s.value.to_lowercase()) {
            self.collision(
                s.loc,
                path,
                format!("duplicate {what} `{}`", s.value),
                *first,
                "the first is here",
                format!("each {what} must be unique, ignoring case: rename or remove one of them"),
            );
        } else {
            seen.insert(s.value.to_lowercase(), s.loc);
        }
    }
}

/// `"{intro}: `a`, `b`"`, or `none` (what to declare) when there is nothing to list, so a
/// hint never ends in an empty list.
pub(super) fn choices(intro: &str, items: &[&str], none: &str) -> String {
    if items.is_empty() {
        none.to_string()
    } else {
        format!("{intro}: {}", listing(items))
    }
}

/// `` `a`, `b`, `c` ``: sorted, unique, for "declared pools: ..." hints.
pub(super) fn listing(items: &[&str]) -> String {
    let set: std::collections::BTreeSet<_> = items.iter().collect();
    set.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Is `s` a declared foundry? Reports it (with the closest name) when not.
pub(super) fn known_foundry(
    d: &mut Diags,
    foundry_names: &[&str],
    s: &Sp<String>,
    path: &str,
) -> bool {
    if foundry_names.contains(&s.value.as_str()) {
        return true;
    }
    let hint = did_you_mean(&s.value, foundry_names.iter().copied()).unwrap_or_else(|| {
        choices(
            "declared foundries",
            foundry_names,
            "declare the foundry under `foundries:` first",
        )
    });
    d.err_hint(
        s.loc,
        path,
        format!("unknown foundry `{}`", s.value),
        Some(hint),
    );
    false
}
