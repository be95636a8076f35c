//! What a spec string may contain, whatever field it is in. Spec text reaches policy XML and
//! its C# expressions, Bicep, ARM JSON and the terminal; `markup/escape.rs` escapes it for each
//! of those, and these rules refuse what no escaping makes right:
//!
//! - control characters (a line break inside a C# string or a Bicep comment, terminal escapes),
//!   Unicode line separators and bidirectional overrides (text that displays other than it reads);
//! - `{{` and `}}`: APIM replaces `{{name}}` anywhere in a policy with the named value `name`,
//!   possibly a secret, before the policy runs;
//! - in tag names, the characters Azure refuses there (`<>%&\?/`), and a leading `$`, which gw
//!   uses to mark references between resources.

use super::diags::Diags;
use crate::spec::{Loc, NamedMap, Sp, Spec};

/// Whether a spec value may hold `s`, by the rules above (tag names aside): what `gw import`
/// asks before it writes a live value into a spec.
pub fn holdable(s: &str) -> bool {
    !s.chars().any(unsafe_char) && !s.contains("{{") && !s.contains("}}")
}

/// Checks every string in the spec; each problem is reported at its value.
pub(super) fn check(spec: &Spec, d: &mut Diags) {
    let mut c = Checker { d };
    c.opt(&spec.subscription, "subscription");
    let rg = &spec.resource_group;
    c.sp(&rg.name, "resource_group.name");
    c.sp(&rg.location, "resource_group.location");
    for (k, v) in rg.tags.iter() {
        let path = format!("resource_group.tags.{}", printable(k));
        c.tag_name(k, &path);
        c.text(v, k.loc, &path);
    }
    if let Some(n) = &spec.naming {
        c.opt(&n.suffix, "naming.suffix");
    }
    for (i, f) in spec.foundries.iter().enumerate() {
        c.sp(&f.name, &format!("foundries[{i}].name"));
        c.sp(&f.location, &format!("foundries[{i}].location"));
    }
    for (i, m) in spec.models.iter().enumerate() {
        let path = format!("models[{i}]");
        c.sp(&m.name, &format!("{path}.name"));
        c.opt(&m.model, &format!("{path}.model"));
        c.sp(&m.publisher, &format!("{path}.publisher"));
        c.text(
            &m.version.value.0,
            m.version.loc,
            &format!("{path}.version"),
        );
        c.sp(&m.sku, &format!("{path}.sku"));
        for (j, f) in m.foundries.iter().flat_map(|l| l.iter()).enumerate() {
            c.sp(f, &format!("{path}.foundries[{j}]"));
        }
    }
    let a = &spec.apim;
    c.sp(&a.name, "apim.name");
    c.opt(&a.location, "apim.location");
    c.sp(&a.sku, "apim.sku");
    c.sp(&a.publisher_email, "apim.publisher_email");
    c.sp(&a.publisher_name, "apim.publisher_name");
    for (i, s) in a.subscriptions.iter().enumerate() {
        let path = format!("apim.subscriptions[{i}]");
        c.sp(&s.name, &format!("{path}.name"));
        c.opt(&s.display_name, &format!("{path}.display_name"));
        c.opt(&s.api, &format!("{path}.api"));
    }
    for (name, p) in spec.pools.iter() {
        let path = format!("pools.{}", printable(name));
        c.sp(name, &path);
        for (j, m) in p.members.iter().enumerate() {
            c.sp(&m.foundry, &format!("{path}.members[{j}].foundry"));
        }
        if let Some(b) = &p.circuit_breaker {
            let bpath = format!("{path}.circuit_breaker");
            c.text(
                &b.interval.value.0,
                b.interval.loc,
                &format!("{bpath}.interval"),
            );
            c.text(&b.trip.value.0, b.trip.loc, &format!("{bpath}.trip"));
            for (k, s) in b.status_codes.iter().flat_map(|l| l.iter()).enumerate() {
                c.text(&s.value.0, s.loc, &format!("{bpath}.status_codes[{k}]"));
            }
        }
        if let Some(s) = &p.session_affinity
            && let crate::spec::AffinitySpec::Cookie(Some(cookie)) = &s.value
        {
            c.text(cookie, s.loc, &format!("{path}.session_affinity.cookie"));
        }
    }
    for (name, api) in spec.apis.iter() {
        let path = format!("apis.{}", printable(name));
        c.sp(name, &path);
        c.sp(&api.path, &format!("{path}.path"));
        c.opt(&api.api_type, &format!("{path}.type"));
        c.opt(&api.backend, &format!("{path}.backend"));
        c.opt(&api.routing, &format!("{path}.routing"));
        c.map(&api.routes, &format!("{path}.routes"));
        for (i, p) in api.deny.iter().enumerate() {
            c.sp(p, &format!("{path}.deny[{i}]"));
        }
        for (i, op) in api.operations.iter().flat_map(|o| o.iter()).enumerate() {
            let at = format!("{path}.operations[{i}]");
            c.sp(&op.name, &format!("{at}.name"));
            c.sp(&op.method, &format!("{at}.method"));
            c.sp(&op.url, &format!("{at}.url"));
            c.opt(&op.display_name, &format!("{at}.display_name"));
        }
    }
}

struct Checker<'a> {
    d: &'a mut Diags,
}

impl Checker<'_> {
    fn sp(&mut self, s: &Sp<String>, path: &str) {
        self.text(&s.value, s.loc, path);
    }

    fn opt(&mut self, s: &Option<Sp<String>>, path: &str) {
        if let Some(s) = s {
            self.sp(s, path);
        }
    }

    fn map(&mut self, m: &NamedMap<Sp<String>>, path: &str) {
        for (k, v) in m.iter() {
            let p = format!("{path}.{}", printable(k));
            self.sp(k, &p);
            self.sp(v, &p);
        }
    }

    fn text(&mut self, s: &str, loc: Loc, path: &str) {
        if let Some(c) = s.chars().find(|c| unsafe_char(*c)) {
            self.d.err_hint(
                loc,
                path,
                format!("contains the invisible character {}", codepoint(c)),
                Some(
                    "remove it: control characters, line breaks and direction overrides are not allowed in spec values"
                        .into(),
                ),
            );
        }
        if s.contains("{{") || s.contains("}}") {
            self.d.err_hint(
                loc,
                path,
                format!("`{}` contains `{{{{` or `}}}}`", printable(s)),
                Some(
                    "API Management replaces `{{name}}` with the named value `name` (possibly a secret): remove the double braces"
                        .into(),
                ),
            );
        }
    }

    fn tag_name(&mut self, k: &Sp<String>, path: &str) {
        self.text(&k.value, k.loc, path);
        if let Some(c) = k.value.chars().find(|c| "<>%&\\?/".contains(*c)) {
            self.d.err_hint(
                k.loc,
                path,
                format!("tag name `{}` contains `{c}`", printable(k)),
                Some(
                    "Azure does not allow `<`, `>`, `%`, `&`, `\\`, `?` or `/` in tag names".into(),
                ),
            );
        }
        if k.value.starts_with('$') {
            self.d.err_hint(
                k.loc,
                path,
                format!("tag name `{}` starts with `$`", printable(k)),
                Some(
                    "names starting with `$` are reserved for gw's own markers: rename the tag"
                        .into(),
                ),
            );
        }
    }
}

/// Control characters, Unicode line/paragraph separators and bidirectional formatting.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

fn codepoint(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// `s` for a message: unsafe characters shown as `U+XXXX`, so the error itself is safe to print.
pub(super) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if unsafe_char(c) {
                format!("<{}>", codepoint(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_named_not_printed() {
        assert!(unsafe_char('\n') && unsafe_char('\u{1b}') && unsafe_char('\u{202E}'));
        assert!(!unsafe_char('é') && !unsafe_char(' '));
        assert_eq!(printable("a\u{1b}[31mb"), "a<U+001B>[31mb");
    }
}
