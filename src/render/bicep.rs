//! Graph -> `main.bicep` (template `templates/main.bicep.j2`). Same resources, names and
//! api-versions as the graph; references become symbolic (`apim.identity.principalId`), so
//! Bicep derives the same dependencies.

use crate::graph::refs::{self, Ref};
use crate::graph::{Graph, Kind, Resource};
use crate::markup::templates::code;
use minijinja::context;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The Bicep symbol of a resource: its address with non-identifier characters as `_`.
pub fn symbol(address: &str) -> String {
    let mut s: String = address
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// Every resource's symbol, unique: addresses that differ only in punctuation (models
/// `gpt-4.1` and `gpt-4-1`) would otherwise declare one symbol twice. The later one in graph
/// order gets `_2`, `_3`, ...; the graph's order is stable, so the names are too.
struct Symbols(BTreeMap<String, String>);

impl Symbols {
    fn new(graph: &Graph) -> Self {
        let mut by_address = BTreeMap::new();
        let mut taken = BTreeSet::new();
        for r in &graph.resources {
            let base = symbol(&r.address);
            let mut s = base.clone();
            let mut n = 2;
            while !taken.insert(s.clone()) {
                s = format!("{base}_{n}");
                n += 1;
            }
            by_address.insert(r.address.clone(), s);
        }
        Symbols(by_address)
    }

    fn of(&self, address: &str) -> String {
        self.0
            .get(address)
            .cloned()
            .unwrap_or_else(|| symbol(address))
    }
}

use crate::markup::escape::bicep_key as key;
pub use crate::markup::escape::bicep_string as string;

/// Writes a JSON value as Bicep, references as symbolic expressions.
fn value(syms: &Symbols, v: &Value, indent: usize, out: &mut String) {
    if let Some(r) = refs::parse(v) {
        match r {
            Ref::Id { of } => out.push_str(&format!("{}.id", syms.of(&of))),
            Ref::Output { of, path, append } => {
                let expr = format!("{}.{}", syms.of(&of), path);
                if append.is_empty() {
                    out.push_str(&expr);
                } else {
                    let _ = write!(
                        out,
                        "'${{{expr}}}{}'",
                        &string(&append)[1..string(&append).len() - 1]
                    );
                }
            }
        }
        return;
    }
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&string(s)),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push_str("[\n");
            for x in a {
                out.push_str(&pad);
                value(syms, x, indent + 1, out);
                out.push('\n');
            }
            out.push_str(&end);
            out.push(']');
        }
        Value::Object(o) if o.is_empty() => out.push_str("{}"),
        Value::Object(o) => {
            out.push_str("{\n");
            for (k, x) in o {
                let _ = write!(out, "{pad}{}: ", key(k));
                value(syms, x, indent + 1, out);
                out.push('\n');
            }
            out.push_str(&end);
            out.push('}');
        }
    }
}

/// A role assignment's `properties`, its role definition named through
/// `subscriptionResourceId(...)` so the template deploys into any subscription.
fn role_assignment_properties(syms: &Symbols, v: &Value, out: &mut String) {
    let Value::Object(o) = v else {
        return value(syms, v, 1, out);
    };
    out.push_str("{\n");
    for (k, x) in o {
        let _ = write!(out, "    {}: ", key(k));
        match x.as_str().and_then(super::portable::role_definition_guid) {
            Some(guid) if k == "roleDefinitionId" => {
                out.push_str(&super::portable::role_definition(guid, string))
            }
            _ => value(syms, x, 2, out),
        }
        out.push('\n');
    }
    out.push_str("  }");
}

fn parent_address(graph: &Graph, r: &Resource) -> Option<String> {
    let parent_id = r.id.rsplitn(3, '/').nth(2)?;
    graph
        .resources
        .iter()
        .find(|p| p.id == parent_id && p.kind != Kind::ResourceGroup)
        .map(|p| p.address.clone())
}

/// The Log Analytics workspace the gateway logs to (the lab's output): the one gw creates,
/// or the id the spec names.
fn workspace_output(graph: &Graph, syms: &Symbols) -> Option<minijinja::Value> {
    let setting = graph
        .resources
        .iter()
        .find(|r| r.kind == Kind::DiagnosticSetting)?;
    let ws = setting.body.pointer("/properties/workspaceId")?;
    let mut text = String::new();
    value(syms, ws, 0, &mut text);
    Some(code(text))
}

pub fn render(graph: &Graph, spec_name: &str, header: &str) -> String {
    let rg = graph.get("resource_group");
    let syms = Symbols::new(graph);
    let mut resources = Vec::new();
    for r in graph.written().filter(|r| r.kind != Kind::ResourceGroup) {
        let scoped_to = graph.scope_of(r).map(|s| s.address.clone());
        let (parent, scope) = if let Some(s) = &scoped_to {
            (None, Some(code(syms.of(s))))
        } else {
            (parent_address(graph, r).map(|p| code(syms.of(&p))), None)
        };
        let mut props = Vec::new();
        if let Value::Object(o) = &r.body {
            for (k, v) in o {
                let mut text = String::new();
                if r.kind == Kind::Policy && k == "properties" {
                    // The XML lives next to the template, identical to what gw sends.
                    let api = r
                        .address
                        .trim_start_matches("apis.")
                        .trim_end_matches(".policy");
                    text = format!(
                        "{{\n    format: 'rawxml'\n    value: loadTextContent({})\n  }}",
                        string(&format!("policies/{api}.xml"))
                    );
                } else if r.kind == Kind::RoleAssignment && k == "properties" {
                    role_assignment_properties(&syms, v, &mut text);
                } else {
                    value(&syms, v, 1, &mut text);
                }
                props.push(context! { key => k, value => code(text) });
            }
        }
        // Dependencies Bicep cannot see from parent/scope/references.
        let mut seen = Vec::new();
        refs::collect(&r.body, &mut seen);
        let implicit: Vec<String> = seen
            .iter()
            .map(|x| match x {
                Ref::Id { of } | Ref::Output { of, .. } => of.clone(),
            })
            .collect();
        let parent_addr = parent_address(graph, r);
        let depends_on: Vec<minijinja::Value> = r
            .depends_on
            .iter()
            .filter(|d| {
                *d != "resource_group" && Some(*d) != parent_addr.as_ref() && !implicit.contains(d)
            })
            .filter(|d| Some(*d) != scoped_to.as_ref())
            .map(|d| code(syms.of(d)))
            .collect();
        resources.push(context! {
            address => r.address,
            label => r.kind.label(),
            symbol => code(syms.of(&r.address)),
            type => r.arm_type(),
            api_version => r.api_version(),
            parent,
            scope,
            name => r.name,
            props,
            depends_on,
        });
    }
    let ctx = context! {
        spec_name,
        header,
        resource_group => rg.map(|r| r.name.clone()).unwrap_or_default(),
        location => rg.and_then(|r| r.body.get("location")).and_then(Value::as_str).unwrap_or_default(),
        resources,
        apim_symbol => code(syms.of("apim")),
        workspace_output => workspace_output(graph, &syms),
        app_insights_output => graph
            .resources
            .iter()
            .find(|r| r.kind == Kind::Component)
            .map(|r| code(format!("{}.name", syms.of(&r.address)))),
    };
    crate::markup::templates::env()
        .get_template("main.bicep")
        .and_then(|t| t.render(ctx))
        .expect("the Bicep template renders with a complete context")
}
