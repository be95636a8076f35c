//! `gw render` and `gw schema`: golden files for every example, and the properties a user
//! relies on (well-formed XML, valid JSON, pools as declared, every model routed to a backend
//! that hosts it, byte-identical output on every run).

use crate::support::cli::{EXAMPLES, example, gw};
use gw::diag::Source;
use gw::graph::{self, Kind};
use gw::markup::xml;
use gw::model::{self, Context, Model, Routing};
use gw::render;
use std::collections::BTreeMap;

const SUB: &str = "11111111-2222-3333-4444-555555555555";

fn load(name: &str) -> Model {
    let path = example(name);
    let source = Source::new("gw.yaml", std::fs::read_to_string(path).unwrap());
    let ctx = Context {
        subscription: Some(SUB.into()),
    };
    model::load(&source, &ctx).expect("example is valid")
}

fn files(name: &str) -> BTreeMap<String, String> {
    let m = load(name);
    render::render(&m, &graph::build(&m), "gw.yaml")
}

#[test]
fn golden_renders() {
    for name in EXAMPLES {
        for (path, text) in files(name) {
            insta::assert_snapshot!(format!("{name}__{}", path.replace('/', "_")), text);
        }
    }
}

#[test]
fn policies_are_well_formed_xml() {
    for name in EXAMPLES {
        for (path, text) in files(name).iter().filter(|(p, _)| p.ends_with(".xml")) {
            xml::check_well_formed(text).unwrap_or_else(|e| panic!("{name}/{path}: {e}"));
            let (masked, _) = xml::mask_expressions(text).unwrap();
            let doc = roxmltree::Document::parse(&masked).unwrap();
            let sections: Vec<&str> = doc
                .root_element()
                .children()
                .filter(|n| n.is_element())
                .map(|n| n.tag_name().name())
                .collect();
            assert_eq!(
                sections,
                ["inbound", "backend", "outbound", "on-error"],
                "{name}/{path}"
            );
        }
    }
}

#[test]
fn arm_template_is_valid_json_with_every_resource() {
    for name in EXAMPLES {
        let m = load(name);
        let g = graph::build(&m);
        let json: serde_json::Value = serde_json::from_str(&files(name)["main.json"]).unwrap();
        let resources = json["resources"].as_array().unwrap();
        // Everything written but the resource group itself (the template deploys into it);
        // an API's operations come with its OpenAPI import.
        assert_eq!(resources.len(), g.written().count() - 1, "{name}");
        assert!(
            !resources
                .iter()
                .any(|r| r["type"] == "Microsoft.ApiManagement/service/apis/operations"),
            "{name}: operations are imported, not declared one by one"
        );
        for r in resources {
            let t = r["type"].as_str().unwrap();
            let v = r["apiVersion"].as_str().unwrap();
            assert!(
                g.resources
                    .iter()
                    .any(|x| x.arm_type() == t && x.api_version() == v),
                "{name}: {t}@{v}"
            );
        }
    }
}

#[test]
fn pool_members_carry_priority_and_weight() {
    for name in EXAMPLES {
        let m = load(name);
        let g = graph::build(&m);
        for r in g.resources.iter().filter(|r| r.kind == Kind::Pool) {
            let pool = m.pool(&r.name).unwrap();
            let services = r.body["properties"]["pool"]["services"].as_array().unwrap();
            assert_eq!(services.len(), pool.members.len());
            for (s, member) in services.iter().zip(&pool.members) {
                // Written exactly when declared: an unset one is absent, never `null`.
                let written = |k: &str| s.get(k).map(|v| v.as_u64().map(|n| n as u8));
                assert_eq!(
                    written("priority"),
                    member.priority.map(Some),
                    "{name}/{}",
                    r.name
                );
                assert_eq!(
                    written("weight"),
                    member.weight.map(Some),
                    "{name}/{}",
                    r.name
                );
                assert_eq!(s["id"]["of"], format!("backends.{}", member.foundry));
            }
        }
    }
    // The load-balancing example, as the scenario describes it.
    let m = load("load-balancing");
    let p = m.pool("inference-backend-pool").unwrap();
    let got: Vec<(&str, Option<u8>, Option<u8>)> = p
        .members
        .iter()
        .map(|x| (x.foundry.as_str(), x.priority, x.weight))
        .collect();
    assert_eq!(
        got,
        [
            // Groups 1 and 3 have one member and no weight: nothing to write.
            ("foundry1", Some(1), None),
            ("foundry2", Some(2), Some(50)),
            ("foundry3", Some(2), Some(50)),
            ("foundry4", Some(3), None)
        ]
    );
    let breaker = m.foundry("foundry1").unwrap().breaker.clone().unwrap();
    assert_eq!(
        (
            breaker.failures,
            breaker.status_codes.clone(),
            breaker.accept_retry_after
        ),
        (1, vec![(429, 429)], Some(true))
    );
}

/// Reads the routing `choose` of a rendered policy: for each `when`, its condition and the
/// backend it selects (None for a `return-response`).
fn routing_table(policy: &str) -> Vec<(String, Option<String>)> {
    let (masked, exprs) = xml::mask_expressions(policy).unwrap();
    let doc = roxmltree::Document::parse(&masked).unwrap();
    let expr = |v: &str| {
        v.strip_prefix("@(EXPR")
            .and_then(|s| s.strip_suffix(')'))
            .and_then(|i| i.parse::<usize>().ok())
            .map(|i| exprs[i].clone())
            .unwrap_or_else(|| v.to_string())
    };
    let inbound = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("inbound"))
        .unwrap();
    let choose = inbound
        .children()
        .find(|n| n.has_tag_name("choose"))
        .unwrap();
    choose
        .children()
        .filter(|n| n.has_tag_name("when"))
        .map(|w| {
            let backend = w
                .children()
                .find(|c| c.has_tag_name("set-backend-service"))
                .and_then(|c| c.attribute("backend-id"))
                .map(str::to_string);
            (expr(w.attribute("condition").unwrap()), backend)
        })
        .collect()
}

#[test]
fn every_model_is_routed_to_a_backend_that_hosts_it() {
    let m = load("model-routing");
    let api = &m.apis[0];
    let Routing::ByModel { routes, deny } = &api.routing else {
        panic!("routing API")
    };
    let table = routing_table(&files("model-routing")["policies/inference.xml"]);
    for dep in &m.deployments {
        let quoted = format!("\"{}\"", dep.name.to_lowercase());
        let hits: Vec<_> = table.iter().filter(|(c, _)| c.contains(&quoted)).collect();
        assert_eq!(
            hits.len(),
            1,
            "{} is matched by exactly one `when`",
            dep.name
        );
        let backend = hits[0].1.clone().expect("routes to a backend");
        let target = routes
            .iter()
            .find(|r| r.target.backend_id() == backend)
            .unwrap()
            .target
            .clone();
        for f in m.target_foundries(&target) {
            assert!(
                dep.foundries.iter().any(|h| h == f),
                "{} sent to {backend}, whose member {f} does not host it",
                dep.name
            );
        }
    }
    // The public sample sent these to a resource without them; here they go where they live.
    let host = |model: &str| {
        table
            .iter()
            .find(|(c, _)| c.contains(&format!("\"{model}\"")))
            .and_then(|(_, b)| b.clone())
            .unwrap()
    };
    assert_eq!(host("model-router"), "foundry2");
    assert_eq!(host("gpt-4.1-nano"), "foundry2");
    assert_eq!(host("gpt-4.1"), "gpt41-pool");
    assert_eq!(host("gpt-4.1-mini"), "gpt-4-1-mini-pool");
    // The deny pattern comes first and answers without a backend.
    assert_eq!(deny, &["gpt-4o*"]);
    // (After the branches for calls that name no model, which test the operation.)
    let first = table
        .iter()
        .find(|(c, _)| !c.contains("context.Operation.Id"))
        .unwrap();
    assert!(
        first.0.contains("StartsWith(\"gpt-4o\")") && first.1.is_none(),
        "{first:?}"
    );
}

#[test]
fn pool_policy_retries_through_the_pool_and_hides_exhaustion() {
    let policy = &files("load-balancing")["policies/inference.xml"];
    assert!(policy.contains(r#"<retry condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)" count="3" interval="0" first-fast-retry="true">"#), "{policy}");
    assert!(policy.contains(
        r#"<set-backend-service backend-id="inference-backend-pool" />
            <forward-request buffer-request-body="true" buffer-response="false" />"#
    ));
    assert!(policy.contains(r#"<set-status code="429" reason="Too Many Requests" />"#));
    assert!(
        policy.contains("<value>60</value>"),
        "Retry-After is the breaker's trip"
    );
    assert!(policy.contains(
        r#"<authentication-managed-identity resource="https://cognitiveservices.azure.com""#
    ));
    assert!(
        !policy.contains("LastError"),
        "no internal error details reach the caller"
    );
}

#[test]
fn render_is_byte_identical_on_every_run() {
    for name in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let mut outputs = Vec::new();
        for i in 0..2 {
            let out = dir.path().join(i.to_string());
            let run = gw()
                .args(["render", "--subscription", SUB, "--out"])
                .args([&out])
                .args(["-f"])
                .args([example(name)])
                .run();
            assert_eq!(run.code, 0, "{}", run.stderr);
            let mut files = BTreeMap::new();
            for entry in walk(&out) {
                files.insert(
                    entry.strip_prefix(&out).unwrap().to_path_buf(),
                    std::fs::read(&entry).unwrap(),
                );
            }
            outputs.push(files);
        }
        assert_eq!(outputs[0], outputs[1], "{name}");
        let names: Vec<String> = outputs[0].keys().map(|p| p.display().to_string()).collect();
        let mut want = vec!["main.bicep".to_string(), "main.json".to_string()];
        want.extend(
            load(name)
                .apis
                .iter()
                .map(|a| format!("policies/{}.xml", a.name)),
        );
        want.sort();
        assert_eq!(names, want, "{name}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out.sort();
    out
}

#[test]
fn suffix_auto_is_stable_and_depends_on_subscription_and_group() {
    let a = model::auto_suffix(SUB, "rg1");
    assert_eq!(a, model::auto_suffix(&SUB.to_uppercase(), "RG1"));
    assert_ne!(a, model::auto_suffix(SUB, "rg2"));
    assert_ne!(
        a,
        model::auto_suffix("99999999-2222-3333-4444-555555555555", "rg1")
    );
    let m = load("load-balancing");
    assert_eq!(
        m.foundries[0].account,
        format!("foundry1-{}", model::auto_suffix(SUB, "lab-load-balancing"))
    );
}

#[test]
fn role_assignments_are_deterministic_service_principal_grants() {
    let g1 = graph::build(&load("session-affinity"));
    let g2 = graph::build(&load("session-affinity"));
    let ids = |g: &graph::Graph| {
        g.resources
            .iter()
            .filter(|r| r.kind == Kind::RoleAssignment)
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&g1), ids(&g2));
    assert_eq!(ids(&g1).len(), 2);
    for r in g1
        .resources
        .iter()
        .filter(|r| r.kind == Kind::RoleAssignment)
    {
        assert_eq!(r.body["properties"]["principalType"], "ServicePrincipal");
        assert!(
            r.body["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .ends_with(graph::COGNITIVE_SERVICES_USER)
        );
        assert!(uuid::Uuid::parse_str(&r.name).is_ok());
    }
}

#[test]
fn graph_is_in_dependency_order() {
    for name in EXAMPLES {
        let g = graph::build(&load(name));
        for (i, r) in g.resources.iter().enumerate() {
            for d in &r.depends_on {
                let j = g
                    .index_of(d)
                    .unwrap_or_else(|| panic!("{name}: {} depends on unknown {d}", r.address));
                assert!(
                    j < i,
                    "{name}: {} comes before its dependency {d}",
                    r.address
                );
            }
        }
    }
}

#[test]
fn schema_is_generated_from_the_types() {
    let run = gw().args(["schema"]).run();
    assert_eq!(run.code, 0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["title"], "gw.yaml");
    insta::assert_snapshot!("schema", run.stdout);
}

/// Values the issue showed breaking or injecting into the outputs: each is accepted by
/// validation and comes out inert.
#[test]
fn hostile_values_validation_accepts_render_inert() {
    let spec = r#"version: 1
resource_group:
  name: rg-test
  location: eastus
  tags:
    "[concat('a', 'b')]": "[deployment().name]"
    owner: "it's ${x} \\ done"
    note: "[draft"
foundries:
  - { name: foundry1, location: eastus }
models:
  - { name: gpt-4o, publisher: OpenAI, version: "2024-08-06", sku: GlobalStandard, capacity: 10 }
apim:
  name: apim-test
  sku: BasicV2
  publisher_email: platform@example.com
  publisher_name: "Plat'form </x> & --"
apis:
  a--b-:
    path: inference
    routing: by-model
    deny: ["o1'<b>&amp;{x}*"]
"#;
    let dir = tempfile::tempdir().unwrap();
    // A spec whose file name would end the Bicep comment and start an `output` line.
    let file = dir.path().join("evil.yaml\noutput leak string = 'x'");
    std::fs::write(&file, spec).unwrap();
    let out = dir.path().join("out");
    let run = gw()
        .args(["render", "--subscription", SUB, "--out"])
        .args([&out])
        .args(["-f"])
        .args([&file])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();

    let policy = read("policies/a--b-.xml");
    xml::check_well_formed(&policy).unwrap_or_else(|e| panic!("{e}\n{policy}"));
    let (masked, exprs) = xml::mask_expressions(&policy).unwrap();
    let doc = roxmltree::Document::parse(&masked).unwrap();
    let comment = doc
        .descendants()
        .find(|n| n.is_comment())
        .and_then(|n| n.text())
        .unwrap();
    assert!(comment.contains("API `a- -b- `"), "{comment}");
    // The deny pattern reaches its condition and the 403 text only as C# escapes.
    let deny: Vec<&String> = exprs.iter().filter(|e| e.contains("o1'<b>")).collect();
    assert_eq!(deny.len(), 2, "{exprs:#?}");
    for e in deny {
        assert!(e.contains(r"\u0026amp;\u007bx\u007d"), "{e}");
        assert!(
            !e.contains('&') && !e.contains('{') && !e.contains('\n'),
            "{e}"
        );
    }

    let bicep = read("main.bicep");
    assert!(
        !bicep.lines().any(|l| l.starts_with("output leak")),
        "{bicep}"
    );
    assert!(
        bicep.starts_with(r"// Generated by gw from evil.yaml\u{a}output leak string = 'x'. Edit")
    );
    assert!(bicep.contains(r"owner: 'it\'s \${x} \\ done'"), "{bicep}");
    assert!(
        bicep.contains(r"publisherName: 'Plat\'form </x> & --'"),
        "{bicep}"
    );

    let json: serde_json::Value = serde_json::from_str(&read("main.json")).unwrap();
    let tags = &json["resources"][0]["tags"];
    assert_eq!(
        tags["[[concat('a', 'b')]"], "[[deployment().name]",
        "tag name and value stay literal: {tags}"
    );
    // Not shaped like an expression: literal as it is, no `[` added.
    assert_eq!(tags["note"], "[draft");
}

/// The role assignments name their role through `subscriptionResourceId`, so the templates
/// deploy into any subscription, not only the one they were rendered for.
#[test]
fn templates_are_portable_across_subscriptions() {
    let f = files("load-balancing");
    for file in ["main.bicep", "main.json"] {
        assert!(
            !f[file].contains("/subscriptions/"),
            "{file} holds a subscription's id"
        );
        assert!(
            f[file].contains(&format!(
                "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{}')",
                graph::COGNITIVE_SERVICES_USER
            )),
            "{file}"
        );
    }
}

/// Models whose names differ only in punctuation get distinct Bicep symbols (one symbol
/// declared twice would not compile).
#[test]
fn bicep_symbols_are_unique() {
    let spec = r#"version: 1
resource_group: { name: rg-test, location: eastus }
foundries:
  - { name: foundry1, location: eastus }
models:
  - { name: gpt-4.1, publisher: OpenAI, version: "2025-04-14", sku: GlobalStandard, capacity: 10 }
  - { name: gpt-4-1, model: gpt-4.1, publisher: OpenAI, version: "2025-04-14", sku: GlobalStandard, capacity: 10 }
apim: { name: apim-test, sku: BasicV2, publisher_email: p@example.com, publisher_name: P }
apis:
  inference: { path: inference, routing: by-model }
"#;
    let m = model::load(
        &Source::new("gw.yaml", spec),
        &Context {
            subscription: Some(SUB.into()),
        },
    )
    .expect("valid");
    let g = graph::build(&m);
    let bicep = &render::render(&m, &g, "gw.yaml")["main.bicep"];
    let symbols: Vec<&str> = bicep
        .lines()
        .filter_map(|l| l.strip_prefix("resource "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = symbols.iter().collect();
    assert_eq!(unique.len(), symbols.len(), "{symbols:?}");
    assert_eq!(symbols.len(), g.written().count() - 1);
}

#[test]
fn backends_at_openai_render_there_and_the_policy_forwards_operations_as_they_are() {
    let spec = std::fs::read_to_string(example("model-routing")).unwrap();
    let line = "  publisher_name: Platform team\n";
    assert!(spec.contains(line));
    let spec = spec.replace(line, &format!("{line}  backend_path: /openai/\n"));
    let ctx = Context {
        subscription: Some(SUB.into()),
    };
    let m = model::load(&Source::new("gw.yaml", spec), &ctx).expect("valid");
    assert_eq!(m.apim.backend_path, "/openai", "normalised");
    let out = render::render(&m, &graph::build(&m), "gw.yaml");
    // Both templates point every backend at the account endpoint plus `openai`.
    assert!(
        out["main.bicep"].contains("url: '${foundries_foundry1.properties.endpoint}openai'"),
        "{}",
        out["main.bicep"]
    );
    assert!(
        out["main.json"].contains(
            r#""url": "[concat(reference(resourceId('Microsoft.CognitiveServices/accounts', 'foundry1-"#
        ) && out["main.json"].contains("'full').properties.endpoint, 'openai')]\""),
        "{}",
        out["main.json"]
    );
    let policy = &out["policies/inference.xml"];
    assert!(!policy.contains("<rewrite-uri"), "{policy}");
    gw::policy::check(policy).expect("a policy APIM accepts");
    // At the root (the example as it is), the policy adds the type's path.
    let root = &files("model-routing")["policies/inference.xml"];
    assert!(
        root.contains(r#"<rewrite-uri template="@("/openai" + context.Operation.UrlTemplate)" />"#),
        "{root}"
    );
}
