//! Generated rounds checked against the truth: `generate --dirty` writes the files and
//! the list of injected faults; the pipeline must find every fault where it was put,
//! nothing else, and act on every infected person.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::Path;

fn read_csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn table(path: &Path) -> Vec<HashMap<String, String>> {
    let df = read_parquet(path);
    (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| (c.name().to_string(), cell(c.get(i).unwrap())))
                .collect()
        })
        .collect()
}

/// A folder holding the round `generate ARGS` writes.
fn generated(args: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["generate", "--out", "."];
    all.extend_from_slice(args);
    let gen = poolscreen(dir.path(), &all);
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    dir
}

struct Round {
    dir: tempfile::TempDir,
}

impl Round {
    fn new(args: &[&str]) -> Round {
        let dir = generated(args);
        let run = run_round(dir.path(), "out", &[]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        Round { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

#[test]
fn a_dirty_round_shows_every_injected_fault_and_nothing_else() {
    let round = Round::new(&[
        "--people",
        "20000",
        "--rounds",
        "2",
        "--dirty",
        "--seed",
        "3",
        "--prevalence",
        "0.002",
    ]);
    let faults = read_csv_rows(&round.path("faults.csv"));
    let kinds: BTreeSet<&str> = faults
        .iter()
        .filter(|f| f["outcome"] == "anomaly")
        .map(|f| f["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.len(),
        10,
        "one of each anomaly kind is injected: {kinds:?}"
    );

    let rejects = read_csv_rows(&round.path("out/rejects.csv").with_extension("csv"));
    let rejected: BTreeSet<(String, String)> = rejects
        .iter()
        .map(|r| (r["file"].clone(), r["line"].clone()))
        .collect();
    let injected: BTreeSet<(String, String)> = faults
        .iter()
        .filter(|f| f["outcome"] == "reject")
        .map(|f| (f["file"].clone(), f["line"].clone()))
        .collect();
    assert_eq!(
        rejected, injected,
        "exactly the injected bad rows are rejected"
    );

    let anomalies = table(&round.path("out/anomalies.parquet"));
    for f in faults.iter().filter(|f| f["outcome"] == "anomaly") {
        let found = anomalies.iter().any(|a| {
            a["kind"] == f["kind"]
                && a["tube_id"] == f["tube_id"]
                && (f["person_id"].is_empty() || a["person_id"] == f["person_id"])
                && a["file"] == f["file"]
                && a["line"] == f["line"]
        });
        assert!(found, "fault {f:?} not among the anomalies");
    }
    // Every anomaly is a listed fault: the clean part of the round has none, and the
    // faulty tubes none but their own.
    for a in &anomalies {
        let listed = faults.iter().any(|f| {
            f["outcome"] == "anomaly"
                && a["kind"] == f["kind"]
                && a["tube_id"] == f["tube_id"]
                && a["person_id"] == f["person_id"]
        });
        assert!(listed, "anomaly {a:?} is no listed fault");
    }

    // Conservation for every input, against the files' own line counts; the hash and size
    // are those of the whole file (GB18030 and with a BOM, several chunks each).
    let m = manifest(&round.path("out"));
    for input in m["inputs"].as_array().unwrap() {
        let path = round.path(input["path"].as_str().unwrap());
        let bytes = fs::read(&path).unwrap();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(input["sha256"].as_str().unwrap(), sha, "{path:?}");
        assert_eq!(input["bytes"].as_u64().unwrap(), bytes.len() as u64);
        let data_lines = fs::read(&path)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
            - 1;
        assert_eq!(input["rows_read"].as_u64().unwrap(), data_lines, "{path:?}");
        assert_eq!(
            input["rows_read"].as_u64().unwrap(),
            input["rows_accepted"].as_u64().unwrap() + input["rows_rejected"].as_u64().unwrap()
        );
    }
    assert_eq!(m["inputs"][0]["encoding"], "GB18030");
    assert_eq!(m["inputs"][1]["encoding"], "UTF-8 with BOM");
}

#[test]
fn every_infected_person_sampled_is_on_the_retest_list() {
    let round = Round::new(&[
        "--people",
        "20000",
        "--rounds",
        "2",
        "--dirty",
        "--seed",
        "5",
        "--prevalence",
        "0.003",
    ]);
    let truth = read_csv_rows(&round.path("truth.csv"));
    let retest = table(&round.path("out/retest.parquet"));
    let on_list: HashSet<(String, String)> = retest
        .iter()
        .map(|r| (r["round"].clone(), r["person_id"].clone()))
        .collect();
    let infected: HashSet<(String, String)> = truth
        .iter()
        .filter(|t| t["infected"] == "true" && t["sampled"] == "true")
        .map(|t| (t["round"].clone(), t["person_id"].clone()))
        .collect();
    assert!(infected.len() > 20, "the round has infections to find");
    for person in &infected {
        assert!(
            on_list.contains(person),
            "infected {person:?} is not on the retest list"
        );
    }
    // Conversely, every tube on the list outside the injected ones holds an infected person.
    let mut by_tube: HashMap<(String, String), Vec<String>> = HashMap::new();
    for r in &retest {
        if !r["tube_id"].starts_with('D') {
            assert!(
                r["tube_class"] == "positive" || r["tube_class"] == "suspect",
                "{r:?}"
            );
            by_tube
                .entry((r["round"].clone(), r["tube_id"].clone()))
                .or_default()
                .push(r["person_id"].clone());
        }
    }
    for ((round_label, tube), people) in &by_tube {
        assert!(
            people
                .iter()
                .any(|p| infected.contains(&(round_label.clone(), p.clone()))),
            "tube {tube} of round {round_label} is on the list without an infected person"
        );
    }
    // The missing list is exactly the people the generator skipped (injected people aside).
    let missing: HashSet<(String, String)> = table(&round.path("out/missing.parquet"))
        .into_iter()
        .filter(|m| !m["person_id"].starts_with('X'))
        .map(|m| (m["round"].clone(), m["person_id"].clone()))
        .collect();
    let skipped: HashSet<(String, String)> = truth
        .iter()
        .filter(|t| t["sampled"] == "false")
        .map(|t| (t["round"].clone(), t["person_id"].clone()))
        .collect();
    assert_eq!(missing, skipped);
}

#[test]
fn a_clean_campus_round_has_no_rejects_and_no_anomalies() {
    let round = Round::new(&["--people", "30000", "--seed", "9"]);
    assert_eq!(
        read_spreadsheet_csv(&round.path("out/rejects.csv")),
        "file,line,column,reason,raw\n"
    );
    assert!(table(&round.path("out/anomalies.parquet")).is_empty());
    let buildings = table(&round.path("out/buildings.parquet"));
    assert_eq!(buildings.len(), 28);
    let people: i64 = buildings
        .iter()
        .map(|b| b["expected"].parse::<i64>().unwrap() + b["on_leave"].parse::<i64>().unwrap())
        .sum();
    assert_eq!(people, 30_000);
}

/// A generated campaign with its retests: every retested person's closure state and
/// due time are those `closure.csv` says, and every person infected and sampled is
/// confirmed or still on the way there (open, resampled: the retests of the last round
/// may not have come yet).
#[test]
fn a_generated_campaign_closes_its_retest_list_as_its_truth_says() {
    let dir = Workdir::new();
    dir.run(
        &[
            "generate",
            "--out",
            "gen",
            "--people",
            "20000",
            "--rounds",
            "2",
            "--prevalence",
            "0.01",
            "--seed",
            "21",
        ],
        0,
    );
    dir.run(
        &[
            "run",
            "--roster",
            "gen/roster.csv",
            "--samples",
            "gen/samples.csv",
            "--results",
            "gen/results.csv",
            "--retests",
            "gen/retests.csv",
            "--out",
            "out",
            "--quiet",
        ],
        0,
    );
    let closure: HashMap<(String, String), HashMap<String, String>> =
        table(&dir.join("out/closure.parquet"))
            .into_iter()
            .map(|r| ((r["round"].clone(), r["person_id"].clone()), r))
            .collect();
    let truth = read_csv_rows(&dir.join("gen/closure.csv"));
    assert!(truth.len() > 100, "{} people retested", truth.len());
    let mut states = HashSet::new();
    for t in &truth {
        let got = &closure[&(t["round"].clone(), t["person_id"].clone())];
        assert_eq!(got["state"], t["state"], "{t:?}");
        assert_eq!(got["due_at"], t["due_at"], "{t:?}");
        states.insert(t["state"].clone());
    }
    assert_eq!(states.len(), 5, "every closure state occurs: {states:?}");
    assert_eq!(closure.len(), truth.len(), "nobody else is on the list");
    // The retests' own times are inputs: the as-of time is the latest of them.
    let m = manifest(&dir.join("out"));
    let as_of = m["rules"]["as_of"].as_str().unwrap().replace('T', " ");
    let overdue = closure.values().filter(|r| r["overdue"] == "true").count();
    let by_hand = truth
        .iter()
        .filter(|t| {
            matches!(t["state"].as_str(), "open" | "resampled" | "inconclusive")
                && !t["due_at"].is_empty()
                && as_of[..19] > *t["due_at"]
        })
        .count();
    assert_eq!(overdue, by_hand);
}

/// `--roster-order shuffled` writes the same roster rows in another order, the rest of
/// the round unchanged, and the run's tables and lists do not change with it, nor does
/// the plan `assign` makes. (The rows `--dirty` adds for its faults are appended after
/// the shuffle, so the roster lines that anomalies and rejects cite stay the same.)
#[test]
fn a_shuffled_roster_is_the_same_roster_and_gives_the_same_outputs() {
    let args = ["--people", "20000", "--seed", "4", "--dirty"];
    let listed = Round::new(&args);
    let mut shuffled_args = args.to_vec();
    shuffled_args.extend_from_slice(&["--roster-order", "shuffled"]);
    let shuffled = Round::new(&shuffled_args);
    let lines = |round: &Round, name: &str| -> Vec<Vec<u8>> {
        fs::read(round.path(name))
            .unwrap()
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    };
    let (a, b) = (lines(&listed, "roster.csv"), lines(&shuffled, "roster.csv"));
    assert_ne!(a, b, "the rows moved");
    assert_eq!(a[0], b[0], "the header stays first");
    let sorted = |mut v: Vec<Vec<u8>>| {
        v.sort();
        v
    };
    assert_eq!(sorted(a), sorted(b));
    assert_eq!(
        fs::read(listed.path("samples.csv")).unwrap(),
        fs::read(shuffled.path("samples.csv")).unwrap()
    );
    for round in [&listed, &shuffled] {
        let plan = poolscreen(
            round.dir.path(),
            &[
                "assign",
                "--roster",
                "roster.csv",
                "--pool-size",
                "10",
                "--out",
                "plan",
            ],
        );
        expect(&plan, 0);
    }
    for name in [
        "out/buildings.parquet",
        "out/tubes.parquet",
        "out/people.parquet",
        "out/retest.csv",
        "out/missing.parquet",
        "out/closure.parquet",
        "out/anomalies.parquet",
        "out/report.html",
        "plan/plan.parquet",
        "plan/plan.csv",
        "plan/plan.xlsx",
    ] {
        assert!(
            fs::read(listed.path(name)).unwrap() == fs::read(shuffled.path(name)).unwrap(),
            "{name} changed with the roster's order"
        );
    }
}

/// A `generate` into a folder an earlier one wrote leaves none of the earlier files it
/// does not write again: a clean round is never checked against an old `faults.csv`,
/// a whole round never read beside old districts. Files of the user's own stay.
#[test]
fn generating_again_leaves_no_stale_files() {
    let dir = tempfile::tempdir().unwrap();
    let gen = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--out",
            "g",
            "--people",
            "3000",
            "--buildings",
            "3",
        ];
        args.extend_from_slice(extra);
        expect(&poolscreen(dir.path(), &args), 0);
    };
    let g = dir.path().join("g");
    gen(&["--dirty"]);
    assert!(g.join("faults.csv").exists());
    gen(&["--shards", "3"]);
    assert!(
        !g.join("faults.csv").exists(),
        "a clean round has no faults"
    );
    assert!(
        !g.join("roster.csv").exists(),
        "districts have their own rosters"
    );
    assert!(g.join("d3/roster.csv").exists() && g.join("cross_border.csv").exists());
    fs::write(g.join("d3/notes.txt"), "mine").unwrap();
    gen(&["--shards", "2"]);
    assert!(!g.join("d3/roster.csv").exists() && g.join("d3/notes.txt").exists());
    gen(&[]);
    assert!(!g.join("cross_border.csv").exists() && !g.join("d1").exists());
    assert!(g.join("roster.csv").exists() && g.join("d3/notes.txt").exists());
    // A folder of the user's own (no truth.csv of a generate) is never cleared, nor
    // one where the generate then fails.
    let mine = dir.path().join("mine");
    fs::create_dir(&mine).unwrap();
    for f in ["roster.csv", "faults.csv"] {
        fs::write(mine.join(f), "mine").unwrap();
    }
    // Two districts of 20 people: too few for a negative pool in each to plant border
    // cases in, so the generate fails late, once the round is made.
    let fails = |out: &str| {
        let args = [
            "generate",
            "--out",
            out,
            "--people",
            "40",
            "--buildings",
            "2",
            "--shards",
            "2",
        ];
        expect(&poolscreen(dir.path(), &args), 2);
    };
    fails("mine");
    let args = [
        "generate",
        "--out",
        "mine",
        "--people",
        "300",
        "--buildings",
        "3",
    ];
    expect(&poolscreen(dir.path(), &args), 0);
    assert_eq!(fs::read_to_string(mine.join("faults.csv")).unwrap(), "mine");
    gen(&["--dirty"]);
    fails("g");
    assert!(
        g.join("faults.csv").exists(),
        "a failed generate removes nothing"
    );
}

/// A round saved in GB18030 (as Excel saves "CSV" on Chinese Windows) gives the outputs
/// of the same round in UTF-8, byte for byte (the manifest aside), the raw text of its
/// rejects included: with Chinese headers, and with a roster whose header is plain ASCII
/// (so that its rows, not its header, tell it is not UTF-8). The roster spans several
/// chunks and holds quoted rows with commas in their values, a duplicate read again for
/// its raw text, and a row of full-width spaces, which is blank.
#[test]
fn a_round_in_gb18030_gives_the_outputs_of_its_utf8_text() {
    let round = Round::new(&["--people", "40000", "--seed", "12", "--dirty"]);
    let text = |name: &str| -> String {
        let bytes = fs::read(round.path(name)).unwrap();
        match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => String::from_utf8(rest.to_vec()).unwrap(),
            None => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let (text, _, bad) = encoding_rs::GB18030.decode(e.as_bytes());
                    assert!(!bad);
                    text.into_owned()
                }
            },
        }
    };
    let roster = text("roster.csv");
    let mut lines: Vec<String> = roster.lines().map(String::from).collect();
    let header: Vec<String> = lines[0].split(',').map(String::from).collect();
    let id = header.iter().position(|h| h == "学号").unwrap();
    let name = header.iter().position(|h| h == "姓名").unwrap();
    let quoted = |cells: &[String]| -> String {
        cells
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cells = |line: &str| -> Vec<String> { line.split(',').map(String::from).collect() };
    // A duplicate of the fifth person, quoted; a new person quoted, a comma in the name.
    let duplicate = quoted(&cells(&lines[5]));
    let mut new = cells(&lines[7]);
    new[id] = "2999999999".into();
    new[name] = "欧阳,小明".into();
    let blank = vec!["\u{3000}"; header.len()].join(",");
    lines.insert(1000, duplicate);
    lines.insert(2000, quoted(&new));
    lines.insert(3000, blank);
    let roster = lines.join("\n") + "\n";
    let english: Vec<&str> = header
        .iter()
        .map(|h| match h.as_str() {
            "学号" => "person_id",
            "姓名" => "name",
            "楼栋" => "building",
            "宿舍号" => "room",
            "学院" => "college",
            "班级" => "class",
            "身份" => "role",
            "手机号" => "phone",
            "辅导员" => "counselor",
            "状态" => "status",
            other => panic!("no English name for {other}"),
        })
        .collect();
    let roster_en = english.join(",") + &roster[roster.find('\n').unwrap()..];
    let gb = |text: &str| -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    };
    let (samples, results) = (text("samples.csv"), text("results.csv"));
    // Every value quoted, as platform exports write them (lines already holding a quote
    // stay as they are, so that every value and line stays the same).
    let quote_all = |text: &str| -> String {
        let lines: Vec<String> = text
            .lines()
            .map(|l| match l.contains('"') || l.is_empty() {
                true => l.to_string(),
                false => quoted(&cells(l)),
            })
            .collect();
        lines.join("\n") + "\n"
    };
    let versions: [(&str, [Vec<u8>; 3]); 4] = [
        (
            "utf8",
            [
                roster.clone().into(),
                samples.clone().into(),
                results.clone().into(),
            ],
        ),
        ("gb", [gb(&roster), gb(&samples), gb(&results)]),
        (
            "gb-ascii-header",
            [gb(&roster_en), gb(&samples), gb(&results)],
        ),
        (
            "gb-quoted",
            [
                gb(&quote_all(&roster)),
                gb(&quote_all(&samples)),
                gb(&quote_all(&results)),
            ],
        ),
    ];
    let mut outs = Vec::new();
    for (version, files) in &versions {
        let dir = round.path(version);
        fs::create_dir(&dir).unwrap();
        for (file, bytes) in ["roster.csv", "samples.csv", "results.csv"]
            .iter()
            .zip(files)
        {
            fs::write(dir.join(file), bytes).unwrap();
        }
        expect(&run_round(&dir, "out", &["--quiet"]), 0);
        outs.push(dir.join("out"));
    }
    let rejects = read_csv_rows(&outs[0].join("rejects.csv"));
    assert!(
        rejects.iter().any(|r| r["raw"] == lines[1000]),
        "the duplicate's raw text is in rejects.csv"
    );
    let rejects_by = |out: &Path, columns: &[&str]| -> Vec<Vec<String>> {
        read_csv_rows(&out.join("rejects.csv"))
            .into_iter()
            .map(|r| columns.iter().map(|c| r[*c].clone()).collect())
            .collect()
    };
    let names = |dir: &Path| -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "manifest.json")
            .collect()
    };
    for out in &outs[1..] {
        assert_eq!(names(out), names(&outs[0]));
        for file in names(out) {
            if file == "rejects.csv" && out.ends_with("gb-ascii-header/out") {
                // The rejects name the roster's columns by its own (English) header.
                assert_eq!(
                    rejects_by(out, &["file", "line", "raw"]),
                    rejects_by(&outs[0], &["file", "line", "raw"])
                );
                continue;
            }
            if file == "rejects.csv" && out.ends_with("gb-quoted/out") {
                // The raw text of a reject shows its quotes.
                let key = &["file", "line", "column", "reason"];
                assert_eq!(rejects_by(out, key), rejects_by(&outs[0], key));
                continue;
            }
            assert!(
                fs::read(out.join(&file)).unwrap() == fs::read(outs[0].join(&file)).unwrap(),
                "{file} of {out:?} differs from the UTF-8 round's"
            );
        }
        let (m, utf8) = (manifest(out), manifest(&outs[0]));
        for (input, same) in m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(utf8["inputs"].as_array().unwrap())
        {
            assert_eq!(input["encoding"], "GB18030");
            for count in ["rows_read", "rows_accepted", "rows_rejected"] {
                assert_eq!(input[count], same[count], "{count} of {}", input["path"]);
            }
        }
    }
}

#[test]
fn a_samples_file_repeated_whole_lists_every_repeat_as_polars_writes_the_table() {
    // An export saved three times into one file: each row's two later copies are
    // duplicate_rows, well over 524,288 of them, so anomalies.parquet is written in two
    // row groups (polars cuts a table in groups of 512² rows), a group at a time; and
    // the round's copy in the history, as a district's.
    let dir = generated(&["--people", "300000", "--order", "shuffled", "--seed", "5"]);
    let samples = fs::read_to_string(dir.path().join("samples.csv")).unwrap();
    let (header, body) = samples.split_once('\n').unwrap();
    let rows = body.lines().count() as i64;
    fs::write(
        dir.path().join("samples.csv"),
        format!("{header}\n{body}{body}{body}"),
    )
    .unwrap();
    let run = run_round(
        dir.path(),
        "out",
        &["--history", "history", "--shard", "d1", "--quiet"],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let path = dir.path().join("out/anomalies.parquet");
    let df = read_parquet(&path);
    let kinds = df.column("kind").unwrap().str().unwrap();
    let lines = df.column("line").unwrap().i64().unwrap();
    let details = df.column("detail").unwrap().str().unwrap();
    let mut repeats = HashSet::new();
    for i in 0..df.height() {
        assert_eq!(kinds.get(i), Some("duplicate_row"), "row {i}");
        // Line 1 is the header: copy k of body row j is on line 2 + j + k * rows.
        let line = lines.get(i).unwrap();
        let copy = (line - 2) / rows;
        assert!(copy == 1 || copy == 2, "line {line}");
        let first = line - copy * rows;
        assert_eq!(
            details.get(i),
            Some(format!("the same person is already in this tube at line {first}").as_str())
        );
        assert!(repeats.insert(line), "line {line} twice");
    }
    assert_eq!(repeats.len() as i64, 2 * rows);
    assert!(
        repeats.len() > 2 * 512 * 512 + 20_000,
        "{} findings: too few for two row groups",
        repeats.len()
    );

    // The file is the one polars makes of the whole table.
    let whole = dir.path().join("whole");
    let staging = poolscreen::export::staging::Staging::new(&whole, &[]).unwrap();
    staging
        .write("anomalies.parquet", |out| {
            poolscreen::export::parquet::write(out, df.clone())
        })
        .unwrap();
    staging.commit().unwrap();
    assert!(fs::read(whole.join("anomalies.parquet")).unwrap() == fs::read(&path).unwrap());

    // The district's copy holds the same rows, with its shard.
    let round = df
        .column("round")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let copy = read_parquet(
        &dir.path()
            .join(format!("history/rounds/{round}/shard=d1/anomalies.parquet")),
    );
    let shards = copy.column("shard").unwrap().str().unwrap();
    assert!(shards.iter().all(|s| s == Some("d1")));
    assert!(copy.drop("shard").unwrap().equals_missing(&df));
}

#[test]
fn row_findings_sort_among_the_other_findings_by_person_id_or_pseudonym() {
    // Two rounds whose samples file is saved twice over, and sampled a third time into
    // other tubes, with person IDs that sort
    // against the roster's room order (people are numbered by room, then ID), and a few
    // rows of other kinds on both sides of duplicate_row: conflicting_results before it,
    // duplicate_sample, orphan_result, sampled_on_leave and unregistered_person after
    // it (all but the results' kinds held as row findings, merged by kind).
    let dir = generated(&["--people", "20000", "--rounds", "2", "--seed", "11"]);
    let reversed = |id: &str| match id.parse::<u64>() {
        Ok(n) => format!("P{}", 9_999_999_999 - n),
        Err(_) => id.to_string(),
    };
    let rewrite = |name: &str, column: usize, extra: &str, twice: bool| {
        let text = fs::read_to_string(dir.path().join(name)).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        let body: String = body
            .lines()
            .map(|line| {
                let mut cells: Vec<String> = line.split(',').map(String::from).collect();
                if column < cells.len() {
                    cells[column] = reversed(&cells[column]);
                }
                cells.join(",") + "\n"
            })
            .collect();
        let again = if twice { body.as_str() } else { "" };
        fs::write(
            dir.path().join(name),
            format!("{header}\n{body}{again}{extra}"),
        )
        .unwrap();
        body
    };
    let roster = rewrite("roster.csv", 0, "", false);
    let samples = rewrite("samples.csv", 1, "", true);
    let row_of = |line: &str, id: &str| {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        cells[1] = id.to_string();
        cells.join(",") + "\n"
    };
    let mut lines = samples.lines();
    let (first, second) = (lines.next().unwrap(), lines.next().unwrap());
    // An unregistered person in the first row's tube, twice (a repeat of a person whose
    // ID sorts first but whose key comes after the roster's), and in the second row's
    // tube (a duplicate_sample); a person on leave in the first row's tube.
    let on_leave = roster
        .lines()
        .find(|line| line.ends_with(",离校"))
        .and_then(|line| line.split(',').next())
        .unwrap();
    let mut all = fs::read_to_string(dir.path().join("samples.csv")).unwrap();
    // The round sampled again into other tubes: every row a duplicate_sample.
    for line in samples.lines() {
        all.push_str(&format!("9{line}\n"));
    }
    all.push_str(&row_of(first, "P0").repeat(2));
    all.push_str(&row_of(second, "P0"));
    all.push_str(&row_of(first, on_leave));
    fs::write(dir.path().join("samples.csv"), all).unwrap();
    let results = fs::read_to_string(dir.path().join("results.csv")).unwrap();
    let row: Vec<&str> = results.lines().nth(1).unwrap().split(',').collect();
    let mut conflicting = row.clone();
    conflicting[3] = "31.5";
    let mut orphan = row.clone();
    orphan[0] = "NO-SUCH-TUBE";
    fs::write(
        dir.path().join("results.csv"),
        format!("{results}{}\n{}\n", conflicting.join(","), orphan.join(",")),
    )
    .unwrap();
    // A retest of someone neither on the roster nor sampled, in the first row's round
    // and in a tube whose ID sorts before every sampled one: an unregistered_person of
    // the retests, which sorts among those of the samples by tube_id.
    let round = first.split(',').next_back().unwrap();
    fs::write(
        dir.path().join("retests.csv"),
        format!(
            "试管编号,学号,ORF1ab,N,内参,检测结果,采样时间,检测时间,轮次\n\
             0-FIRST,P1,,,27.0,阴性,2022-04-10 14:00:00,2022-04-10 17:00:00,{round}\n"
        ),
    )
    .unwrap();
    fs::write(dir.path().join("key.hex"), "ab".repeat(32)).unwrap();

    for (out, extra) in [
        ("plain", vec![]),
        ("pseudonyms", vec!["--pseudonymize", "key.hex"]),
    ] {
        let mut args = extra.clone();
        args.extend(["--retests", "retests.csv", "--quiet"]);
        let run = run_round(dir.path(), out, &args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let rows = table(&dir.path().join(out).join("anomalies.parquet"));
        let kinds: BTreeSet<&str> = rows.iter().map(|r| r["kind"].as_str()).collect();
        for kind in [
            "conflicting_results",
            "duplicate_sample",
            "orphan_result",
            "sampled_on_leave",
            "unregistered_person",
        ] {
            assert!(kinds.contains(kind), "{out}: no {kind} in {kinds:?}");
        }
        let unregistered: Vec<(&str, &str)> = rows
            .iter()
            .filter(|r| r["kind"] == "unregistered_person")
            .map(|r| (r["tube_id"].as_str(), r["file"].as_str()))
            .collect();
        assert_eq!(
            unregistered.first(),
            Some(&("0-FIRST", "retests.csv")),
            "{out}: {unregistered:?}"
        );
        assert!(unregistered.len() > 1, "{out}: {unregistered:?}");
        let repeats = rows.iter().filter(|r| r["kind"] == "duplicate_row").count();
        assert_eq!(repeats, samples.lines().count() + 1, "{out}");
        let twice = rows
            .iter()
            .filter(|r| r["kind"] == "duplicate_sample")
            .count();
        assert_eq!(twice, samples.lines().count() + 1, "{out}");
        let key = |r: &HashMap<String, String>| {
            (
                r["round"].clone(),
                r["kind"].clone(),
                r["tube_id"].clone(),
                r["person_id"].clone(),
                r["line"].parse::<u64>().unwrap_or(0),
            )
        };
        for pair in rows.windows(2) {
            assert!(
                key(&pair[0]) < key(&pair[1]),
                "{out}: {:?} before {:?}",
                key(&pair[0]),
                key(&pair[1])
            );
        }
    }
}

/// IDs renamed into new shapes that keep their order: `new` maps each valid ID to its
/// new one, `back` the new ones to the old.
struct Renamed {
    new: HashMap<String, String>,
    back: HashMap<String, String>,
}

impl Renamed {
    /// Numbers `ids` in their order and names ID number `k` `shape(k, id)`.
    fn new(ids: BTreeSet<String>, shape: impl Fn(usize, &str) -> String) -> Renamed {
        let new: HashMap<String, String> = ids
            .into_iter()
            .enumerate()
            .map(|(k, id)| (shape(k, &id), id))
            .map(|(new, id)| (id, new))
            .collect();
        let back: HashMap<String, String> = new
            .iter()
            .map(|(id, new)| (new.clone(), id.clone()))
            .collect();
        assert_eq!(back.len(), new.len());
        Renamed { new, back }
    }

    /// The new ID of `id`; an ID that is not valid stays as it is.
    fn of(&self, id: &str) -> String {
        self.new.get(id).cloned().unwrap_or(id.to_string())
    }
}

/// Whether `id` is a valid ID of at most `max` characters as it stands.
fn valid_id(id: &str, max: usize) -> bool {
    !id.is_empty()
        && id.len() <= max
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Rewrites `name` in `dir`, each row's cells under the headers `columns` renamed
/// through `rename` (given the header's place in `columns`).
fn rename_cells(
    dir: &Path,
    name: &str,
    columns: &[&str],
    rename: &mut dyn FnMut(usize, &str) -> String,
) {
    let path = dir.join(name);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(&path)
        .unwrap();
    // Byte records: a dirty round's roster may be GB18030; IDs are ASCII either way.
    let rows: Vec<csv::ByteRecord> = reader.byte_records().map(Result::unwrap).collect();
    let header: Vec<String> = rows[0]
        .iter()
        .map(|h| {
            let (text, _, _) = encoding_rs::GB18030.decode(h);
            match std::str::from_utf8(h) {
                Ok(h) => h.trim_start_matches('\u{feff}').to_string(),
                Err(_) => text.into_owned(),
            }
        })
        .collect();
    let column_of: Vec<Option<usize>> = header
        .iter()
        .map(|h| columns.iter().position(|c| c == h))
        .collect();
    assert_eq!(
        column_of.iter().flatten().count(),
        columns.len(),
        "{name}: {header:?}"
    );
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<Vec<u8>> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                match (
                    std::str::from_utf8(cell),
                    column_of.get(c).copied().flatten(),
                ) {
                    (Ok(text), Some(column)) if i > 0 => rename(column, text).into_bytes(),
                    _ => cell.to_vec(),
                }
            })
            .collect();
        writer.write_record(&cells).unwrap();
    }
    writer.flush().unwrap();
}

#[test]
fn ids_of_every_shape_give_the_outputs_of_digits() {
    // Tube_ids of digits, codes and text, mixed row by row; then serials (letters,
    // then digits, as labs print barcodes: a key of its own kind) mixed with codes and
    // text after the same letters (their order is kept only among IDs that start
    // alike).
    for (letters, serial) in [("", ""), ("TB", "000")] {
        renamed_ids_give_the_outputs_of_digits(&|k| match k % 3 {
            0 => format!("{letters}{k:07}{serial}"),
            1 => format!("{letters}{k:07}T"),
            _ => format!("{letters}{k:07}-tube-barcode"),
        });
    }
}

/// The same round twice: once as generated (student numbers and barcodes of digits,
/// the dirty rows' codes), once with every person and tube ID renamed into shapes the
/// ID tables hold differently: person_ids of digits, codes of up to 10 characters of
/// any case, codes of 11 capitals and digits, and longer IDs kept as text, mixed row
/// by row; tube_id number `k` renamed `tube(k)`, which packs for `k % 3` of 0 and 1,
/// and is text for 2. Samples in no order, so that most people are looked up in their
/// chunk's batch.
fn renamed_ids_give_the_outputs_of_digits(tube: &dyn Fn(usize) -> String) {
    let args = [
        "--people", "40000", "--seed", "21", "--dirty", "--order", "shuffled",
    ];
    let plain = Round::new(&args);
    let dir = generated(&args);
    // The IDs first, to number them in their order; then each renamed, the shape
    // chosen by its number, after a prefix of that number (of a fixed width, followed
    // by no digit) that keeps their order, so that every tie broken by an ID is broken
    // alike.
    let (mut person_ids, mut tube_ids) = (BTreeSet::new(), BTreeSet::new());
    let mut gather = |name: &str, columns: &[&str]| {
        rename_cells(dir.path(), name, columns, &mut |c, id| {
            let (ids, max) = match columns[c] {
                "试管编号" => (&mut tube_ids, 40),
                _ => (&mut person_ids, 32),
            };
            if valid_id(id, max) {
                ids.insert(id.to_string());
            }
            id.to_string()
        })
    };
    gather("roster.csv", &["学号"]);
    gather("samples.csv", &["试管编号", "学号"]);
    gather("results.csv", &["试管编号"]);
    let people = Renamed::new(person_ids, |k, _| match k % 5 {
        0 => format!("{k:07}"),
        1 => format!("{k:07}p"),
        2 => format!("{k:07}-Q"),
        3 => format!("{k:07}ABCD"),
        _ => format!("{k:07}_person_id"),
    });
    let tubes = Renamed::new(tube_ids, |k, _| tube(k));
    // Codes of up to 10 characters of any case, codes of 11 capitals and digits, and
    // longer IDs kept as text, besides digits.
    use poolscreen::ingest::keys::{pack, UNPACKED};
    let tubes_packed = [(tube(0), true), (tube(1), true), (tube(2), false)];
    for (id, packed) in [
        ("0000001p".to_string(), true),
        ("0000003ABCD".to_string(), true),
        ("0000004_person_id".to_string(), false),
    ]
    .into_iter()
    .chain(tubes_packed)
    {
        assert_eq!(pack(&id) != UNPACKED, packed, "{id}");
    }
    rename_cells(dir.path(), "roster.csv", &["学号"], &mut |_, id| {
        people.of(id)
    });
    rename_cells(
        dir.path(),
        "samples.csv",
        &["试管编号", "学号"],
        &mut |c, id| match c {
            0 => tubes.of(id),
            _ => people.of(id),
        },
    );
    rename_cells(
        dir.path(),
        "results.csv",
        &["试管编号"],
        &mut |_, id| tubes.of(id),
    );
    assert!(
        people.new.len() > 39_000 && tubes.new.len() > 3_900,
        "{} people, {} tubes",
        people.new.len(),
        tubes.new.len()
    );
    let run = run_round(dir.path(), "out", &[]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    assert!(
        fs::read(plain.path("out/buildings.parquet")).unwrap()
            == fs::read(dir.path().join("out/buildings.parquet")).unwrap(),
        "buildings.parquet differs with the IDs renamed"
    );
    // A renamed round's rows, with their IDs (in any column, and any word of a
    // detail) named back, in a canonical order.
    let named_back = |rows: Vec<HashMap<String, String>>| -> Vec<Vec<(String, String)>> {
        let back = |map: &HashMap<String, String>, id: &str| {
            map.get(id).cloned().unwrap_or(id.to_string())
        };
        let mut rows: Vec<Vec<(String, String)>> = rows
            .into_iter()
            .map(|row| {
                let mut row: Vec<(String, String)> = row
                    .into_iter()
                    .map(|(column, value)| {
                        let value = if column.ends_with("person_id") {
                            back(&people.back, &value)
                        } else if column.ends_with("tube_id") {
                            back(&tubes.back, &value)
                        } else if column == "detail" {
                            value
                                .split(' ')
                                .map(|word| back(&tubes.back, &back(&people.back, word)))
                                .collect::<Vec<_>>()
                                .join(" ")
                        } else {
                            value
                        };
                        (column, value)
                    })
                    .collect();
                row.sort();
                row
            })
            .collect();
        rows.sort();
        rows
    };
    let canonical = |rows: Vec<HashMap<String, String>>| {
        let mut rows: Vec<Vec<(String, String)>> = rows
            .into_iter()
            .map(|row| {
                let mut row: Vec<_> = row.into_iter().collect();
                row.sort();
                row
            })
            .collect();
        rows.sort();
        rows
    };
    for name in [
        "people.parquet",
        "tubes.parquet",
        "retest.parquet",
        "missing.parquet",
        "closure.parquet",
        "anomalies.parquet",
    ] {
        let expected = canonical(table(&plain.path("out").join(name)));
        assert!(!expected.is_empty(), "{name}");
        let renamed = named_back(table(&dir.path().join("out").join(name)));
        let only = |a: &[Vec<(String, String)>], b: &[Vec<(String, String)>]| {
            a.iter()
                .filter(|row| !b.contains(row))
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(
            renamed == expected,
            "{name} differs with the IDs renamed: expected {:?}, got {:?}",
            only(&expected, &renamed),
            only(&renamed, &expected)
        );
    }
}
