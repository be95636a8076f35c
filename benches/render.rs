//! Render a large estate: 50 foundries, 10 models, 10 pools, 10 APIs (half by-model).
//! `cargo bench --bench render`

use criterion::{Criterion, criterion_group, criterion_main};
use gw::diag::Source;
use gw::model::{Context, load};

#[path = "common/estate.rs"]
mod estate;

fn bench(c: &mut Criterion) {
    let source = Source::new("big.yaml", estate::spec(50));
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
