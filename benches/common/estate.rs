//! A large estate for benchmarks: `n` foundries in ten regions, ten models each on five
//! foundries, ten pools of five members, ten APIs (half behind a pool, half by model).

use std::fmt::Write as _;

pub fn spec(n: usize) -> String {
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
    for i in 0..n {
        let _ = writeln!(
            s,
            "  - {{ name: foundry{i}, location: {} }}",
            regions[i % regions.len()]
        );
    }
    s.push_str("models:\n");
    for m in 0..10 {
        let hosts: Vec<String> = (0..5)
            .map(|k| format!("foundry{}", (m * 5 + k) % n))
            .collect();
        let _ = writeln!(
            s,
            "  - {{ name: model-{m}, publisher: OpenAI, version: \"1\", sku: GlobalStandard, capacity: 10, foundries: [{}] }}",
            hosts.join(", ")
        );
    }
    s.push_str("apim: { name: apim-big, sku: StandardV2, publisher_email: a@example.com, publisher_name: A, subscriptions: [{ name: sub1 }] }\npools:\n");
    for p in 0..10 {
        let _ = writeln!(s, "  pool{p}:\n    members:");
        for k in 0..5 {
            let _ = writeln!(
                s,
                "      - {{ foundry: foundry{}, priority: {}, weight: 50 }}",
                (p * 5 + k) % n,
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
