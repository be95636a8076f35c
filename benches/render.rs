//! Render a large estate: 50 foundries, 10 models, 10 pools, 10 APIs (half by-model).
//! `cargo bench --bench render`

use criterion::{Criterion, criterion_group, criterion_main};
use gw::diag::Source;
use gw::model::{Context, load};
use std::fmt::Write as _;

fn big_spec() -> String {
    let regions = [
        "eastus",
        "eastus2",
        "westus",
        "westus3",
        "swedencentral",
        "uksouth",
        "francecentral",
        "japaneast",
        "australiaeast",
        "canadaeast",
    ];
    let mut s = String::from(
        "version: 1\nresource_group: { name: rg-big, location: eastus }\nfoundries:\n",
    );
    for i in 0..50 {
        let _ = writeln!(
            s,
            "  - {{ name: foundry{i}, location: {} }}",
            regions[i % regions.len()]
        );
    }
    s.push_str("models:\n");
    for m in 0..10 {
        let hosts: Vec<String> = (0..5).map(|k| format!("foundry{}", m * 5 + k)).collect();
        let _ = writeln!(
            s,
            "  - {{ name: model-{m}, publisher: OpenAI, version: \"1\", sku: GlobalStandard, capacity: 10, foundries: [{}] }}",
            hosts.join(", ")
        );
    }
    s.push_str("apim: { name: apim-big, sku: StandardV2, publisher_email: a@example.com, publisher_name: A }\npools:\n");
    for p in 0..10 {
        let _ = writeln!(s, "  pool{p}:\n    members:");
        for k in 0..5 {
            let _ = writeln!(
                s,
                "      - {{ foundry: foundry{}, priority: {}, weight: 50 }}",
                p * 5 + k,
                1 + k % 2
            );
        }
        s.push_str(
            "    circuit_breaker: { failures: 1, interval: 1m, status_codes: [429], trip: 1m }\n",
        );
    }
    s.push_str("apis:\n");
    for a in 0..10 {
        if a % 2 == 0 {
            let _ = writeln!(s, "  api{a}: {{ path: api{a}, backend: pool{a} }}");
        } else {
            let _ = writeln!(
                s,
                "  api{a}: {{ path: api{a}, routing: by-model, deny: [\"gpt-4o*\"] }}"
            );
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let source = Source::new("big.yaml", big_spec());
    let ctx = Context {
        subscription: Some("11111111-2222-3333-4444-555555555555".into()),
    };
    let model = load(&source, &ctx).expect("the generated spec is valid");
    let graph = gw::graph::build(&model);
    eprintln!("estate: {} Azure resources", graph.resources.len());
    c.bench_function("load (parse + validate)", |b| {
        b.iter(|| load(&source, &ctx).unwrap())
    });
    c.bench_function("graph", |b| b.iter(|| gw::graph::build(&model)));
    c.bench_function("render (bicep + arm + xml)", |b| {
        b.iter(|| gw::render::render(&model, &graph, "big.yaml"))
    });
    c.bench_function("end to end", |b| {
        b.iter(|| {
            let m = load(&source, &ctx).unwrap();
            let g = gw::graph::build(&m);
            gw::render::render(&m, &g, "big.yaml")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
