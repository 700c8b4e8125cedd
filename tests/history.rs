//! History across rounds: rounds published with `run --history`, read back with
//! `poolscreen history`. A campaign worked out by hand, generated campaigns published
//! in any order (and republished), reruns with more retests, damaged histories, and
//! the published tables read back by glob.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Publishes the round whose inputs are in `inputs` (roster, samples, results and
/// retests when there is one) into `history`, its outputs into `out`.
fn publish(dir: &Workdir, inputs: &Path, history: &str, out: &str, extra: &[&str]) {
    let mut args = vec!["--out", out, "--history", history];
    args.extend_from_slice(extra);
    run_inputs(dir, inputs, &args, 0);
}

/// `poolscreen run` of the round in folder `inputs` (its retests too, if it has them)
/// with `extra` arguments; checks its status and gives what it printed on stderr.
fn run_inputs(dir: &Workdir, inputs: &Path, extra: &[&str], status: i32) -> String {
    let f = |n: &str| inputs.join(n).display().to_string();
    let (roster, samples, results, retests) = (
        f("roster.csv"),
        f("samples.csv"),
        f("results.csv"),
        f("retests.csv"),
    );
    let mut args = vec![
        "run",
        "--roster",
        &roster,
        "--samples",
        &samples,
        "--results",
        &results,
        "--quiet",
    ];
    if inputs.join("retests.csv").exists() {
        args.extend(["--retests", retests.as_str()]);
    }
    args.extend_from_slice(extra);
    String::from_utf8_lossy(&dir.run(&args, status).stderr).to_string()
}

fn history(dir: &Workdir, history: &str, out: &str, extra: &[&str]) {
    let mut args = vec!["history", "--history", history, "--out", out, "--quiet"];
    args.extend_from_slice(extra);
    dir.run(&args, 0);
}

/// The campaign of `fixtures/history/three_rounds`: five people, a roster that changes
/// from round to round (A3 on leave, back, on leave again; A4 moves from 公寓2 to 公寓1;
/// A5 leaves the roster in round 2 and comes back in round 3; A6 arrives in round 2),
/// a positive pool of A1 and A4 in round 1 whose A4 is never retested. Worked out by
/// hand: A2 misses every round (streak 3); A4 is sampled in round 1 only (streak 2);
/// A5 misses rounds 1 and 3, and round 2, off the roster, neither breaks nor extends
/// the streak (2); A6 misses round 2 and is sampled in round 3 into a tube with no
/// result yet (streak 0, longest 1, last outcome pending).
/// The fixture campaign published in the order `rounds` into a new folder, read back
/// with `--streak 2`.
fn hand_campaign(case: &Path, rounds: [&str; 3]) -> Workdir {
    let dir = Workdir::new();
    for round in rounds {
        let out = format!("out-{round}");
        publish(&dir, &case.join(round), "hist", &out, &[]);
    }
    history(&dir, "hist", "campaign", &["--streak", "2"]);
    dir
}

#[test]
fn a_campaign_worked_out_by_hand() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/history/three_rounds");
    let dir = hand_campaign(&case, ["r1", "r2", "r3"]);
    for table in ["people_history", "persistent_missing", "trend"] {
        let got = frame_to_csv(&dir.parquet(&format!("campaign/{table}.parquet")));
        let want = fs::read_to_string(case.join(format!("expected/{table}.csv"))).unwrap();
        assert_eq!(got, want, "{table}");
    }
    // The same campaign published in reverse order reads the same.
    let reverse = hand_campaign(&case, ["r3", "r2", "r1"]);
    for table in ["people_history", "persistent_missing", "trend"] {
        let file = format!("campaign/{table}.parquet");
        assert_eq!(
            fs::read(dir.join(&file)).unwrap(),
            fs::read(reverse.join(&file)).unwrap(),
            "{table} depends on the order of publication"
        );
    }
}

/// Splits a generated file with a round column (轮次) into one file a round, under
/// `out/<round>/<name>`, each with the header.
fn split_by_round(file: &Path, out: &Path) -> Vec<String> {
    let text = fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let at = header.split(',').position(|h| h == "轮次").unwrap();
    let mut by_round: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let round = line.split(',').nth(at).unwrap().to_string();
        let body = by_round
            .entry(round)
            .or_insert_with(|| format!("{header}\n"));
        body.push_str(line);
        body.push('\n');
    }
    let name = file.file_name().unwrap();
    for (round, body) in &by_round {
        fs::create_dir_all(out.join(round)).unwrap();
        fs::write(out.join(round).join(name), body).unwrap();
    }
    by_round.into_keys().collect()
}

/// A generated campaign of `rounds` rounds, one input folder a round.
fn campaign(dir: &Workdir, seed: u64, rounds: usize) -> Vec<PathBuf> {
    dir.run(
        &[
            "generate",
            "--out",
            "gen",
            "--people",
            "2000",
            "--buildings",
            "5",
            "--rounds",
            &rounds.to_string(),
            "--prevalence",
            "0.01",
            "--seed",
            &seed.to_string(),
        ],
        0,
    );
    if rounds == 1 {
        // One round: the files carry no round column.
        return vec![dir.join("gen")];
    }
    let split = dir.join("split");
    let mut labels = Vec::new();
    for name in ["samples.csv", "results.csv", "retests.csv"] {
        labels = split_by_round(&dir.join("gen").join(name), &split);
    }
    labels
        .iter()
        .map(|label| {
            let folder = split.join(label);
            fs::copy(dir.join("gen/roster.csv"), folder.join("roster.csv")).unwrap();
            folder
        })
        .collect()
}

/// Every output of a history but its manifest (which counts the revisions read).
fn campaign_outputs(dir: &Workdir, out: &str) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir.join(out))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "manifest.json")
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// Publishing the rounds of a campaign in any order, and publishing some again,
    /// gives the same history, byte for byte.
    #[test]
    fn publication_order_and_republishing_change_nothing(
        seed in 1u64..500,
        order in Just((0..3usize).collect::<Vec<_>>()).prop_shuffle(),
        again in 0usize..3,
    ) {
        let dir = Workdir::new();
        let rounds = campaign(&dir, seed, 3);
        for (k, r) in [0, 1, 2].iter().enumerate() {
            publish(&dir, &rounds[*r], "in-order", &format!("o{k}"), &[]);
        }
        history(&dir, "in-order", "reference", &[]);
        for (k, r) in order.iter().enumerate() {
            publish(&dir, &rounds[*r], "shuffled", &format!("s{k}"), &[]);
        }
        publish(&dir, &rounds[again], "shuffled", "again", &[]);
        history(&dir, "shuffled", "other", &[]);
        let reference = campaign_outputs(&dir, "reference");
        prop_assert_eq!(reference.len(), 5);
        prop_assert!(reference == campaign_outputs(&dir, "other"));
        let m = manifest(&dir.join("other"));
        let revisions: Vec<u64> = m["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["revisions"][0].as_u64().unwrap())
            .collect();
        let mut want = vec![1, 1, 1];
        want[again] = 2;
        prop_assert_eq!(revisions, want);
    }
}

#[test]
fn a_generated_campaign_follows_its_truth() {
    let dir = Workdir::new();
    let rounds = campaign(&dir, 7, 3);
    for (k, r) in rounds.iter().enumerate() {
        publish(&dir, r, "hist", &format!("out{k}"), &[]);
    }
    history(&dir, "hist", "campaign", &["--streak", "1"]);
    let frame = dir.parquet("campaign/people_history.parquet");
    let col = |c: &str, i: usize| cell(frame.column(c).unwrap().get(i).unwrap());
    let streaks: BTreeMap<String, (String, String)> = (0..frame.height())
        .map(|i| {
            (
                col("person_id", i),
                (col("missed_streak", i), col("longest_streak", i)),
            )
        })
        .collect();
    let truth = fs::read_to_string(dir.join("gen/streaks.csv")).unwrap();
    let mut checked = 0;
    for line in truth.lines().skip(1) {
        let cells: Vec<&str> = line.trim_end().split(',').collect();
        assert_eq!(
            streaks[cells[0]],
            (cells[1].to_string(), cells[2].to_string()),
            "{}",
            cells[0]
        );
        checked += 1;
    }
    assert!(checked > 5, "{checked} people missed a round");
    let missed: usize = streaks.values().filter(|(_, l)| l != "0").count();
    assert_eq!(missed, checked, "nobody else missed a round");
    // Persistent (streak of at least 1): exactly those missing in the last round.
    let persistent = dir.parquet("campaign/persistent_missing.parquet");
    let in_truth = truth
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(1).unwrap().starts_with('0'))
        .count();
    assert_eq!(persistent.height(), in_truth);
}

#[test]
fn a_rerun_with_more_retests_replaces_the_round_and_no_state_goes_back() {
    let dir = Workdir::new();
    let rounds = campaign(&dir, 3, 1);
    let round = &rounds[0];
    let retests = fs::read_to_string(round.join("retests.csv")).unwrap();
    let lines: Vec<&str> = retests.lines().collect();
    // The first batch of retests: half of them.
    let half = 1 + (lines.len() - 1) / 2;
    fs::write(round.join("retests.csv"), lines[..half].join("\n") + "\n").unwrap();
    publish(&dir, round, "hist", "out1", &[]);
    let label = fs::read_dir(dir.join("hist/rounds"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let first = fs::read(label.join("manifest.json")).unwrap();
    let states = |out: &str| -> BTreeMap<String, String> {
        let f = dir.parquet(&format!("{out}/closure.parquet"));
        (0..f.height())
            .map(|i| {
                let c = |n: &str| cell(f.column(n).unwrap().get(i).unwrap());
                (c("person_id"), c("state"))
            })
            .collect()
    };
    let before = states("out1");
    // All of them.
    fs::write(round.join("retests.csv"), &retests).unwrap();
    publish(&dir, round, "hist", "out2", &[]);
    let after = states("out2");
    let m = manifest(&label);
    assert_eq!(m["revision"], 2);
    let sha = {
        use sha2::{Digest, Sha256};
        Sha256::digest(&first)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(m["replaces"], sha.as_str());
    assert_eq!(before.len(), after.len());
    let mut advanced = 0;
    for (person, was) in &before {
        let now = &after[person];
        if was == "cleared" || was == "confirmed" {
            assert_eq!(now, was, "{person} went back from {was}");
        }
        advanced += usize::from(was != now);
    }
    assert!(advanced > 0, "the second batch moved some entries on");
    // What the history reads is the latest publication.
    history(&dir, "hist", "campaign", &[]);
    assert_eq!(
        manifest(&dir.join("campaign"))["rounds"][0]["revisions"][0],
        2
    );
}

#[test]
fn a_damaged_history_is_an_error_naming_the_round() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/history/three_rounds");
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 4] = [
        ("no manifest", |r| {
            fs::remove_file(r.join("manifest.json")).unwrap()
        }),
        ("a changed file", |r| {
            let mut bytes = fs::read(r.join("people.parquet")).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0xFF;
            fs::write(r.join("people.parquet"), bytes).unwrap();
        }),
        ("another format", |r| {
            let text = fs::read_to_string(r.join("manifest.json")).unwrap();
            fs::write(
                r.join("manifest.json"),
                text.replace("\"format\": 1,", "\"format\": 99,"),
            )
            .unwrap();
        }),
        ("a missing file", |r| {
            fs::remove_file(r.join("closure.parquet")).unwrap()
        }),
    ];
    for (what, damage) in damages {
        let dir = Workdir::new();
        for round in ["r1", "r2"] {
            publish(
                &dir,
                &case.join(round),
                "hist",
                &format!("out-{round}"),
                &[],
            );
        }
        damage(&dir.join("hist/rounds/2022-05-02"));
        let output = dir.run(&["history", "--history", "hist", "--out", "campaign"], 1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("round \"2022-05-02\"") && !stderr.contains("bug"),
            "{what}: {stderr}"
        );
        assert!(!dir.join("campaign").exists(), "{what}: nothing written");
    }
}

#[test]
fn published_rounds_read_back_by_glob() {
    let dir = Workdir::new();
    let rounds = campaign(&dir, 5, 3);
    for (k, r) in rounds.iter().enumerate() {
        publish(&dir, r, "hist", &format!("out{k}"), &[]);
    }
    // What `DIR/rounds/*/people.parquet` matches, read with polars and stacked.
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("hist/rounds"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("people.parquet"))
        .filter(|p| p.exists())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3);
    let mut all = read_parquet(&files[0]);
    for f in &files[1..] {
        all.vstack_mut(&read_parquet(f)).unwrap();
    }
    // Each run published one round of the whole roster.
    let one_round = dir.parquet("out0/people.parquet").height();
    assert_eq!(all.height(), rounds.len() * one_round);
    let labels: std::collections::BTreeSet<String> = (0..all.height())
        .map(|i| cell(all.column("round").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(labels.len(), 3, "every file carries its own round");
}

#[test]
fn plain_and_pseudonymised_rounds_join_only_with_the_key() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/history/three_rounds");
    let dir = Workdir::new();
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    dir.write("key.hex", key);
    publish(&dir, &case.join("r1"), "hist", "o1", &[]);
    publish(
        &dir,
        &case.join("r2"),
        "hist",
        "o2",
        &["--pseudonymize", "key.hex"],
    );
    let refused = dir.run(&["history", "--history", "hist", "--out", "c"], 2);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--pseudonymize"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    history(&dir, "hist", "c", &["--pseudonymize", "key.hex", "--mask"]);
    let people = dir.parquet("c/people_history.parquet");
    let ids: Vec<String> = (0..people.height())
        .map(|i| cell(people.column("person_id").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(ids.len(), 6, "the rounds joined: {ids:?}");
    // Pseudonyms are shown whole: --mask masks resident ID numbers, never pseudonyms.
    assert!(
        ids.iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{ids:?}"
    );
    let missing = dir.parquet("c/persistent_missing.parquet");
    for i in 0..missing.height() {
        let name = cell(missing.column("name").unwrap().get(i).unwrap());
        assert!(name.contains('*'), "{name} masked");
    }
    // Another key is refused.
    dir.write("other.hex", key.replace('0', "1"));
    dir.run(
        &[
            "history",
            "--history",
            "hist",
            "--out",
            "d",
            "--pseudonymize",
            "other.hex",
        ],
        2,
    );
}

/// A round published as two districts is the union of its districts: a person listed by
/// both is one person of one round, and a district's publication in progress (only its
/// staging folder there yet) is no round.
#[test]
fn a_sharded_round_is_the_union_of_its_districts() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/history/three_rounds");
    let dir = Workdir::new();
    for shard in ["east", "west"] {
        publish(
            &dir,
            &case.join("r1"),
            "hist",
            &format!("o-{shard}"),
            &["--shard", shard],
        );
    }
    for round in ["r2", "r3"] {
        publish(&dir, &case.join(round), "hist", &format!("o-{round}"), &[]);
    }
    fs::create_dir_all(dir.join("hist/rounds/2022-05-09/.shard=x.poolscreen-tmp-1")).unwrap();
    history(&dir, "hist", "campaign", &["--streak", "2"]);
    for table in ["people_history", "persistent_missing"] {
        let got = frame_to_csv(&dir.parquet(&format!("campaign/{table}.parquet")));
        let want = fs::read_to_string(case.join(format!("expected/{table}.csv"))).unwrap();
        assert_eq!(got, want, "{table}");
    }
    // The trend tells the districts' buildings apart: a row per round, district and
    // building; the whole rounds have no district.
    let trend = dir.parquet("campaign/trend.parquet");
    let text = |c: &str, i: usize| cell(trend.column(c).unwrap().get(i).unwrap());
    let keys: BTreeSet<(String, String, String)> = (0..trend.height())
        .map(|i| (text("round", i), text("shard", i), text("building", i)))
        .collect();
    assert_eq!(keys.len(), trend.height(), "a key twice: {keys:?}");
    let first: BTreeSet<String> = keys
        .iter()
        .filter(|(r, _, _)| r == "2022-05-01")
        .map(|(_, s, _)| s.clone())
        .collect();
    assert_eq!(
        first,
        BTreeSet::from(["east".to_string(), "west".to_string()])
    );
    let whole: Vec<_> = keys.iter().filter(|(r, _, _)| r != "2022-05-01").collect();
    let rounds: BTreeSet<&String> = whole.iter().map(|(r, _, _)| r).collect();
    assert_eq!(rounds.len(), 2, "{keys:?}");
    assert!(whole.iter().all(|(_, s, _)| s.is_empty()), "{keys:?}");
    let shards = dir.parquet("hist/rounds/2022-05-01/shard=east/people.parquet");
    assert_eq!(
        shards.get_column_names().last().map(|c| c.as_str()),
        Some("shard")
    );
}

/// Published rounds are never written over: an output folder inside the history
/// folder, or one that is a published round, is refused before anything is written; a
/// round is published whole or as districts, never both.
#[test]
fn published_rounds_are_never_written_over() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/history/three_rounds");
    let dir = Workdir::new();
    publish(&dir, &case.join("r1"), "hist", "o1", &[]);
    let round = fs::read_dir(dir.join("hist/rounds"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let manifest = fs::read(round.join("manifest.json")).unwrap();
    let inside = round.display().to_string();
    for out in [inside.as_str(), "hist", "hist/new"] {
        let got = dir.run(
            &["history", "--history", "hist", "--out", out, "--quiet"],
            2,
        );
        let stderr = String::from_utf8_lossy(&got.stderr);
        assert!(stderr.contains("never written over"), "{out}: {stderr}");
    }
    // `run` into a published round or anywhere in the history, with the history named
    // or not, by any path (`..` through a folder not made yet too).
    let run = |extra: &[&str]| run_inputs(&dir, &case.join("r2"), extra, 2);
    let name = round.file_name().unwrap().to_string_lossy().to_string();
    let through = format!("nx/../hist/rounds/{name}");
    for out in [
        inside.as_str(),
        "hist/x",
        "hist/rounds/new",
        through.as_str(),
    ] {
        for extra in [&[][..], &["--history", "hist"][..]] {
            let mut args = vec!["--out", out];
            args.extend_from_slice(extra);
            let stderr = run(&args);
            assert!(
                stderr.contains("inside the history folder"),
                "{out}: {stderr}"
            );
        }
    }
    // A folder beside the history, named through it, is no part of it.
    run_inputs(
        &dir,
        &case.join("r2"),
        &["--out", "hist/nope/../../elsewhere"],
        0,
    );
    // The same round again as a district, and a district's round again whole.
    let stderr = run(&[
        "--out",
        "o2",
        "--history",
        "hist",
        "--round",
        "2022-05-01",
        "--shard",
        "east",
    ]);
    assert!(stderr.contains("either whole or as districts"), "{stderr}");
    assert_eq!(fs::read(round.join("manifest.json")).unwrap(), manifest);
    publish(&dir, &case.join("r2"), "hist", "o3", &["--shard", "east"]);
    let r2 = fs::read_dir(dir.join("hist/rounds"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .find(|n| dir.join(&format!("hist/rounds/{n}/shard=east")).exists())
        .unwrap();
    let stderr = run(&["--out", "o4", "--history", "hist", "--round", &r2]);
    assert!(stderr.contains("either whole or as districts"), "{stderr}");
    // A round published as districts only is a published round too.
    let district_only = format!("hist/rounds/{r2}");
    assert!(run(&["--out", &district_only]).contains("inside the history folder"));
    history(&dir, "hist", "campaign", &[]);
    // Rounds left out by --as-of are not "no round".
    let early = dir.run(
        &[
            "history",
            "--history",
            "hist",
            "--out",
            "c2",
            "--as-of",
            "2000-01-01 00:00",
        ],
        2,
    );
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(
        stderr.contains("none of the history's 2 round(s)"),
        "{stderr}"
    );
}

/// Person_ids that are resident ID numbers, two of them masked alike (same first 6 and
/// last 4 characters): `history --mask` joins the rounds by the IDs themselves and
/// masks them only when it writes them; a round published with `--mask` holds masked
/// IDs that cannot be joined, and the history says so instead of merging people.
#[test]
fn resident_id_person_ids_join_whole_and_show_masked() {
    let dir = Workdir::new();
    let (a, b) = ("11010519491231002X", "11010519500101002X");
    for (round, sampled) in [("R1", a), ("R2", b)] {
        dir.write(
            &format!("{round}/roster.csv"),
            format!("person_id,name,building\n{a},甲,公寓1\n{b},乙,公寓1\n"),
        );
        dir.write(
            &format!("{round}/samples.csv"),
            format!("tube_id,person_id,sampled_at,round\n{round}T1,{sampled},2022-04-10 08:00,{round}\n"),
        );
        dir.write(
            &format!("{round}/results.csv"),
            format!("tube_id,ct_orf1ab,ct_n\n{round}T1,,\n"),
        );
        publish(
            &dir,
            &dir.path().join(round),
            "hist",
            &format!("o{round}"),
            &[],
        );
        publish(
            &dir,
            &dir.path().join(round),
            "masked",
            &format!("m{round}"),
            &["--mask"],
        );
    }
    history(&dir, "hist", "c", &["--mask"]);
    let people = dir.parquet("c/people_history.parquet");
    assert_eq!(people.height(), 2, "two people, not one: {people}");
    for i in 0..2 {
        let id = cell(people.column("person_id").unwrap().get(i).unwrap());
        assert_eq!(id, "110105********002X");
        let sampled = cell(people.column("rounds_sampled").unwrap().get(i).unwrap());
        assert_eq!(sampled, "1", "{people}");
    }
    let refused = dir.run(&["history", "--history", "masked", "--out", "d"], 2);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--pseudonymize"), "{stderr}");
    assert!(!stderr.contains("19491231"), "{stderr}");
}

/// A sharded round is the union of its districts for the people one district lists and
/// another samples (its `unregistered_person`s of the samples file), as
/// `scaleout/province.py` counts them: sampled, with the outcome of the tube they were
/// swabbed into (of several, the one that ranks first, whatever the order of the
/// districts). A retest of someone off a district's roster is no sample.
#[test]
fn a_person_sampled_in_the_next_district_is_sampled_in_the_round() {
    let dir = Workdir::new();
    for (r, class) in [(1, ","), (2, "30,31")] {
        let day = format!("2022-05-0{r} 08:00");
        let files = [
            // A district read before d2 swabs A2 too, into a negative tube.
            (
                "d0",
                "person_id,name,building\nC1,戊,南1\n".to_string(),
                format!("tube_id,person_id,sampled_at\nN{r},C1,{day}\nN{r},A2,{day}\n"),
                format!("tube_id,ct_orf1ab,ct_n\nN{r},,\n"),
            ),
            (
                "d1",
                "person_id,name,building\nA1,甲,东1\nA2,乙,东1\nA3,丙,东1\n".to_string(),
                format!("tube_id,person_id,sampled_at\nE{r},A1,{day}\n"),
                format!("tube_id,ct_orf1ab,ct_n\nE{r},,\n"),
            ),
            (
                "d2",
                "person_id,name,building\nB1,丁,西1\n".to_string(),
                format!("tube_id,person_id,sampled_at\nW{r},B1,{day}\nW{r},A2,{day}\n"),
                format!("tube_id,ct_orf1ab,ct_n\nW{r},{class}\n"),
            ),
        ];
        for (district, roster, samples, results) in files {
            let folder = format!("r{r}/{district}");
            dir.write(&format!("{folder}/roster.csv"), roster);
            dir.write(&format!("{folder}/samples.csv"), samples);
            dir.write(&format!("{folder}/results.csv"), results);
            if district == "d2" {
                // A3, whom d1 lists and nobody samples, retested in d2.
                dir.write(
                    &format!("{folder}/retests.csv"),
                    format!("tube_id,person_id,lab_call,sampled_at\nX{r},A3,阴性,{day}\n"),
                );
            }
            publish(
                &dir,
                &dir.join(&folder),
                "hist",
                &format!("o{r}{district}"),
                &["--shard", district],
            );
        }
    }
    history(&dir, "hist", "campaign", &["--streak", "2"]);
    let people = dir.parquet("campaign/people_history.parquet");
    let row = |id: &str| {
        let i = (0..people.height())
            .find(|&i| cell(people.column("person_id").unwrap().get(i).unwrap()) == id)
            .unwrap();
        let get = |c: &str| cell(people.column(c).unwrap().get(i).unwrap());
        (
            get("rounds_sampled"),
            get("missed_streak"),
            get("last_outcome"),
        )
    };
    assert_eq!(row("A2"), ("2".into(), "0".into(), "to_retest".into()));
    assert_eq!(row("A3"), ("0".into(), "2".into(), "missing".into()));
    assert_eq!(row("A1"), ("2".into(), "0".into(), "negative".into()));
    let persistent = dir.parquet("campaign/persistent_missing.parquet");
    let ids: Vec<String> = (0..persistent.height())
        .map(|i| cell(persistent.column("person_id").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(ids, ["A3"]);
}

/// A person two districts of a sharded round both list is one person of the round, and
/// their building, status and last outcome are those the union reads (sampled in any
/// district before missing, expected in any before on leave), whatever the districts
/// are named: Q1 is on leave in one and missed in the other, Q2 on leave in one and
/// sampled (negative) in the other, Q3 on leave but swabbed (negative) in one and
/// missed in the other, Q4 sampled in both (the building first by name is theirs), Q5
/// missed in both (building A's, and the room of A's missing list, not B's), Q6 missed
/// in both under the same building and room, with names that differ.
#[test]
fn a_person_two_districts_list_takes_the_row_the_union_reads() {
    let tables = |first: &str, second: &str| {
        let dir = Workdir::new();
        let files = [
            (
                first,
                "person_id,name,building,room,status\nQ1,a,A,,on_leave\nQ2,b,A,,\nQ3,c,A,,on_leave\nQ4,d,A,,\nQ5,e,A,9,\nQ6,f1,C,3,\n",
                "tube_id,person_id,sampled_at\nK1,Q2,2022-08-01 08:00\nK1,Q3,2022-08-01 08:00\nK1,Q4,2022-08-01 08:00\n",
                "tube_id,lab_call\nK1,negative\n",
            ),
            (
                second,
                "person_id,name,building,room,status\nQ1,a,B,,\nQ2,b,B,,on_leave\nQ3,c,B,,\nQ4,d,B,,\nQ5,e,B,1,\nQ6,f2,C,3,\n",
                "tube_id,person_id,sampled_at\nK2,Q9,2022-08-01 08:00\nK2,Q4,2022-08-01 08:00\n",
                "tube_id,lab_call\nK2,negative\n",
            ),
        ];
        for (district, roster, samples, results) in files {
            dir.write(&format!("{district}/roster.csv"), roster);
            dir.write(&format!("{district}/samples.csv"), samples);
            dir.write(&format!("{district}/results.csv"), results);
            let out = format!("o-{district}");
            publish(
                &dir,
                &dir.join(district),
                "hist",
                &out,
                &["--shard", district],
            );
        }
        history(&dir, "hist", "h", &["--streak", "1"]);
        let read = |file: &str, columns: &[&str]| -> Vec<Vec<String>> {
            let frame = dir.parquet(&format!("h/{file}"));
            (0..frame.height())
                .map(|i| {
                    columns
                        .iter()
                        .map(|c| cell(frame.column(c).unwrap().get(i).unwrap()))
                        .collect()
                })
                .collect()
        };
        (
            read(
                "people_history.parquet",
                &[
                    "person_id",
                    "building",
                    "status",
                    "last_outcome",
                    "missed_streak",
                ],
            ),
            read(
                "persistent_missing.parquet",
                &["person_id", "name", "building", "room", "status"],
            ),
        )
    };
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let expected = (
        vec![
            row(&["Q1", "B", "on_campus", "missing", "1"]),
            row(&["Q2", "A", "on_campus", "negative", "0"]),
            row(&["Q3", "B", "on_campus", "negative", "0"]),
            row(&["Q4", "A", "on_campus", "negative", "0"]),
            row(&["Q5", "A", "on_campus", "missing", "1"]),
            row(&["Q6", "C", "on_campus", "missing", "1"]),
        ],
        vec![
            row(&["Q5", "e", "A", "9", "on_campus"]),
            row(&["Q1", "a", "B", "", "on_campus"]),
            // Both districts name Q6's building C and room 3: the row whose cells sort
            // first, whichever district is read first.
            row(&["Q6", "f1", "C", "3", "on_campus"]),
        ],
    );
    assert_eq!(tables("e1", "e2"), expected);
    assert_eq!(tables("z1", "a2"), expected);
}
