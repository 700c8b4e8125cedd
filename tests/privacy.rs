//! No personal data in messages: canary names, phones and ID numbers are planted in
//! every input, every error and warning path is forced, and none of them may appear in
//! standard output, standard error or the manifest.

mod common;

use common::*;
use std::fs;
use std::path::Path;

const NAMES: [&str; 3] = ["金丝雀", "欧阳雀鸣", "Canary Zhang"];
const PHONES: [&str; 2] = ["13912345678", "18698765432"];
const IDS: [&str; 3] = ["CANARY0001", "CANARY0002", "CANARY0003"];
const ID_CARD: &str = "11010519491231002X";

fn roster() -> String {
    format!(
        "person_id,name,building,room,phone,id_card,status\n\
         {},{},公寓1,101,{},{ID_CARD},\n\
         {},{},公寓1,101,{},,\n\
         {},{},公寓2,201,,,离校\n\
         {},重复{},公寓2,201,,,\n\
         1.10101E+17,{},公寓2,201,,,\n",
        IDS[0],
        NAMES[0],
        PHONES[0],
        IDS[1],
        NAMES[1],
        PHONES[1],
        IDS[2],
        NAMES[2],
        IDS[0],
        NAMES[0],
        NAMES[1]
    )
}

fn samples() -> String {
    format!(
        "tube_id,person_id,sampled_at\nT1,{a},2022-04-10 08:00\nT1,{b},2022-04-10 08:00\nT1,{b},2022-04-10 08:00\nT2,{c},2022-04-10 08:00\nT2,{a},2022-04-10 08:00\nT3,UNKNOWN{p},2022-04-10 08:00\nT4,{a},not a time\n",
        a = IDS[0],
        b = IDS[1],
        c = IDS[2],
        p = PHONES[0]
    )
}

const RESULTS: &str = "tube_id,ct_orf1ab,ct_n,ct_ic,lab_call\nT1,30,31,28,阴性\nT1,,,28,阴性\nT2,,,,\nT9,30,30,28,阳性\nT3,abc,,28,\n";

fn assert_clean(what: &str, dir: &Path, output: &std::process::Output) {
    let mut texts = vec![
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    ];
    if let Ok(m) = fs::read_to_string(dir.join("out/manifest.json")) {
        texts.push(m);
    }
    for text in &texts {
        for canary in NAMES.iter().chain(&PHONES).chain(&IDS).chain(&[ID_CARD]) {
            assert!(
                !text.contains(canary),
                "{what}: {canary:?} appears in:\n{text}"
            );
        }
    }
}

fn run_case(
    what: &str,
    roster: &str,
    samples: &str,
    results: &str,
    extra: &[&str],
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("roster.csv"), roster).unwrap();
    fs::write(dir.path().join("samples.csv"), samples).unwrap();
    fs::write(dir.path().join("results.csv"), results).unwrap();
    fs::write(dir.path().join("rules.toml"), "cutoff = 38\n").unwrap();
    let output = run_round(dir.path(), "out", extra);
    assert_clean(what, dir.path(), &output);
    output
}

#[test]
fn canaries_never_reach_messages() {
    let (r, s) = (roster(), samples());
    // Every warning path: rejects, duplicates, anomalies of every kind the data allows.
    let ok = run_case(
        "warnings",
        &r,
        &s,
        RESULTS,
        &["--strict", "--pool-size", "1", "--rules", "rules.toml"],
    );
    expect(&ok, 3);
    // Fatal paths, each with canaries in the file.
    let without_header = r.split_once('\n').unwrap().1.to_string();
    let fatal = [
        (
            "no header row",
            without_header.as_str(),
            s.as_str(),
            RESULTS,
        ),
        (
            "two aliases",
            &*format!(
                "学号,工号,姓名,楼栋\n{},{},{},公寓1\n",
                IDS[0], IDS[1], NAMES[0]
            ),
            s.as_str(),
            RESULTS,
        ),
        (
            "results without Ct or call",
            r.as_str(),
            s.as_str(),
            &*format!("tube_id,备注\nT1,{}\n", NAMES[0]),
        ),
        (
            "samples without header",
            r.as_str(),
            &*format!("T1,{},2022-04-10 08:00\n", IDS[0]),
            RESULTS,
        ),
    ];
    for (what, roster, samples, results) in fatal {
        let out = run_case(what, roster, samples, results, &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Bytes that are neither UTF-8 nor GB18030 next to a canary.
    let mut broken =
        format!("person_id,name,building\n{},{},公寓1\n", IDS[0], NAMES[0]).into_bytes();
    broken.extend_from_slice(b"S9,\x80\xff\x80\xff,B\n");
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("roster.csv"), &broken).unwrap();
    fs::write(dir.path().join("samples.csv"), samples()).unwrap();
    fs::write(dir.path().join("results.csv"), RESULTS).unwrap();
    let out = run_round(dir.path(), "out", &[]);
    assert_clean("encoding", dir.path(), &out);
    // A record too long, whose start holds canaries.
    let long = format!("{}\"{}{}", r, NAMES[0], "x".repeat(1 << 21));
    let out = run_case("record too long", &long, &s, RESULTS, &[]);
    expect(&out, 1);
    // Usage errors.
    let out = run_case("usage", &r, &s, RESULTS, &["--threads", "0"]);
    expect(&out, 2);
}
