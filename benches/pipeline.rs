//! Criterion benchmarks: one per stage (ingest of each file kind, reconciliation with
//! classification, lists and summaries, export), one end to end, and `assign` (the
//! plan alone, and the whole command with its files), at campus scale
//! (30,000 people) and city scale (1,000,000 people), on rounds whose samples come by
//! sampling time (tubes of many buildings interleaved, as a city platform exports). The
//! reading of each file and reconciling (the stages whose cost depends on that order)
//! are also measured on the same million people with the samples grouped by tube and in
//! no order. The campus roster is also read as an Excel workbook. The rounds are generated
//! from a fixed seed when the benchmark starts; nothing large is committed.
//!
//! The chunks' strings merged run-wide (`Interner::merge_strings`, as the roster
//! merges its buildings and rooms; `merge` adds the table) are measured apart, on a
//! city roster's thousand chunks in three shapes: rooms named after their building
//! (every chunk's rooms its own), buildings in no order (every chunk naming most of
//! them), and a million households (a thousand each chunk).
//!
//! Run with `cargo bench --bench pipeline`; `cargo bench --bench pipeline -- campus`
//! runs the campus scale only, `-- city_1m_by` the other orders only, `-- merge` the
//! merges only.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use poolscreen::assign;
use poolscreen::cmd::{self, assign::AssignArgs};
use poolscreen::export::staging::Staging;
use poolscreen::export::{self, RoundOutputs, OUTPUT_FILES};
use poolscreen::generate::{generate, GenerateOptions, Order};
use poolscreen::pipeline::{self, RunOptions};
use poolscreen::privacy::Privacy;
use poolscreen::progress::Progress;
use poolscreen::reconcile::{self, Settings};
use poolscreen::rules::Rules;
use poolscreen::strings::Interner;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Round {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn round(people: usize, order: Order) -> Round {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().to_path_buf();
    generate(&GenerateOptions {
        out: path.clone(),
        people,
        seed: 42,
        order,
        ..GenerateOptions::default()
    })
    .expect("the round is generated");
    Round { _dir: dir, path }
}

fn options(data: &Path, out: &Path) -> RunOptions {
    RunOptions::for_folder(data, out)
}

/// Benchmarks the stages on a round of `people` whose samples come in `order`: every
/// stage, or (not `every_stage`) the reading of each file and reconciling only.
fn bench_scale(c: &mut Criterion, label: &str, people: usize, order: Order, every_stage: bool) {
    let data = round(people, order);
    let d = &data.path;
    let mut group = c.benchmark_group(label);
    group.sample_size(10);
    if people > 100_000 {
        group.measurement_time(Duration::from_secs(20));
    }

    group.bench_function("ingest_roster", |b| {
        b.iter(|| pipeline::load_roster(&d.join("roster.csv"), None).unwrap())
    });
    let (mut roster, _, _) = pipeline::load_roster(&d.join("roster.csv"), None).unwrap();
    group.bench_function("ingest_samples", |b| {
        b.iter(|| pipeline::load_samples(&d.join("samples.csv"), &roster, None, None).unwrap())
    });
    group.bench_function("ingest_results", |b| {
        b.iter(|| pipeline::load_results(&d.join("results.csv"), None).unwrap())
    });

    let (set, _, _) = pipeline::load_samples(&d.join("samples.csv"), &roster, None, None).unwrap();
    let (results, columns, _, _) = pipeline::load_results(&d.join("results.csv"), None).unwrap();
    let rules = Rules::default();
    let settings = Settings {
        pool_size: 10,
        rules: &rules,
    };
    group.bench_function("reconcile_and_classify", |b| {
        b.iter_batched(
            || (set.clone(), results.clone()),
            |(set, results)| reconcile::reconcile(&roster, set, results, columns, &settings),
            BatchSize::LargeInput,
        )
    });
    if !every_stage {
        group.finish();
        return;
    }
    let rec = reconcile::reconcile(&roster, set.clone(), results.clone(), columns, &settings);
    let as_of = pipeline::latest_time(&rec, &[]);
    group.bench_function("retest_missing_and_buildings", |b| {
        let privacy = Privacy::default();
        let shown = pipeline::ShownIds {
            privacy: &privacy,
            pseudonyms: None,
        };
        b.iter(|| pipeline::lists(&roster, &rec, None, &rules, as_of, &shown).unwrap())
    });
    drop(rec);

    let analysis = pipeline::analyse(
        &Progress::hidden(),
        &mut roster,
        pipeline::Records {
            samples: set.clone(),
            results: results.clone(),
            result_columns: columns,
            retests: None,
        },
        &settings,
        &Privacy::default(),
        None,
        |_| Ok(None),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    group.bench_function("export", |b| {
        b.iter(|| {
            let staging = Staging::new(out.path(), &OUTPUT_FILES).unwrap();
            export::write_round(
                &staging,
                &RoundOutputs {
                    roster: &roster,
                    rec: &analysis.rec,
                    retests: &analysis.retests,
                    closed: &analysis.closed,
                    retest_rows: &analysis.retest_rows,
                    as_of: analysis.as_of,
                    publication: None,
                    buildings: &analysis.buildings,
                    missing: &analysis.missing,
                    details: &analysis.details,
                    pseudonyms: analysis.pseudonyms.as_deref(),
                    inputs: &[],
                    rejects: &[],
                    privacy: &Privacy::default(),
                },
            )
            .unwrap();
            staging.commit().unwrap();
        })
    });

    let opts = options(d, out.path());
    group.bench_function("end_to_end", |b| b.iter(|| pipeline::run(&opts).unwrap()));

    // `assign`: the plan alone, then the whole command with its three files.
    let (named, _, _) = pipeline::load_roster_for_plan(&d.join("roster.csv"), None).unwrap();
    group.bench_function("assign_plan", |b| b.iter(|| assign::assign(&named, 10)));
    let plan = tempfile::tempdir().expect("a temporary folder");
    group.bench_function("assign_end_to_end", |b| {
        b.iter(|| {
            let args = AssignArgs {
                roster: d.join("roster.csv"),
                pool_size: 10,
                out: plan.path().to_path_buf(),
                sheet: None,
                mask: false,
                pseudonymize: None,
                threads: None,
                quiet: true,
            };
            cmd::assign::run(args).unwrap()
        })
    });
    group.finish();
}

fn campus(c: &mut Criterion) {
    bench_scale(c, "campus_30k", 30_000, Order::Time, true);
}

/// Reading the campus roster as the data office keeps it in Excel: a workbook of shared
/// strings, as Excel and xlsxwriter write it.
fn campus_workbook(c: &mut Criterion) {
    let data = round(30_000, Order::Time);
    let path = data.path.join("roster.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let mut roster = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(data.path.join("roster.csv"))
        .expect("the roster");
    for (r, record) in roster.records().enumerate() {
        let record = record.expect("a roster row");
        for (c, cell) in record.iter().enumerate() {
            let cell = cell.trim_start_matches('\u{feff}');
            sheet
                .write_string(r as u32, c as u16, cell)
                .expect("a cell is written");
        }
    }
    book.save(&path).expect("the workbook is written");
    let mut group = c.benchmark_group("campus_30k_workbook");
    group.sample_size(10);
    group.bench_function("ingest_roster", |b| {
        b.iter(|| pipeline::load_roster(&path, None).unwrap())
    });
    group.finish();
}

fn city(c: &mut Criterion) {
    bench_scale(c, "city_1m", 1_000_000, Order::Time, true);
}

fn city_other_orders(c: &mut Criterion) {
    bench_scale(c, "city_1m_by_tube", 1_000_000, Order::Tube, false);
    bench_scale(c, "city_1m_by_no_order", 1_000_000, Order::Shuffled, false);
}

/// A city roster's chunks, as many interners: `names(chunk, row)` is a row's string.
fn chunks(rows: usize, names: impl Fn(usize, usize) -> String) -> Vec<Interner> {
    (0..1000)
        .map(|chunk| {
            let mut part = Interner::default();
            for row in 0..rows {
                part.intern(&names(chunk, row));
            }
            part
        })
        .collect()
}

fn merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_1000_chunks");
    group.sample_size(10);
    // A rough shuffle: the chunk's rows name buildings in no order.
    let scattered = |chunk: usize, row: usize| (chunk * 7919 + row * 104_729) % 10_000;
    let shapes = [
        (
            "rooms_named_after_buildings",
            chunks(2500, |chunk, row| {
                let room = chunk * 2500 + row;
                format!("公寓{}-{}", room / 250, room % 250 + 101)
            }),
        ),
        (
            "buildings_in_no_order",
            chunks(10_000, |chunk, row| {
                format!("公寓{}", scattered(chunk, row))
            }),
        ),
        (
            "households",
            chunks(1000, |chunk, row| format!("小区{chunk}栋{row}")),
        ),
    ];
    for (name, parts) in &shapes {
        let parts: Vec<&Interner> = parts.iter().collect();
        group.bench_function(*name, |b| b.iter(|| Interner::merge_strings(&parts)));
    }
    group.finish();
}

criterion_group!(
    benches,
    campus,
    campus_workbook,
    city,
    city_other_orders,
    merge
);
criterion_main!(benches);
