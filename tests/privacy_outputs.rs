//! `--mask` and `--pseudonymize`: no canary name, phone, ID or key anywhere in any
//! output, every byte read back (Parquet and workbooks decompressed), and pseudonyms
//! stable across rounds for one key.

mod common;

use calamine::{open_workbook_auto, Reader};
use common::*;
use std::fs;
use std::path::Path;

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Every output of a run as text.
fn all_output_text(out: &Path) -> String {
    let mut text = String::new();
    for entry in fs::read_dir(out).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".parquet") {
            text += &frame_to_csv(&read_parquet(&path));
        } else if name.ends_with(".xlsx") {
            let mut book = open_workbook_auto(&path).unwrap();
            for sheet in book.sheet_names() {
                for row in book.worksheet_range(&sheet).unwrap().rows() {
                    for cell in row {
                        text += &cell.to_string();
                        text.push(',');
                    }
                }
            }
            // And every part as stored, such as shared strings no cell shows.
            let mut zip = zip::ZipArchive::new(fs::File::open(&path).unwrap()).unwrap();
            for i in 0..zip.len() {
                std::io::Read::read_to_string(&mut zip.by_index(i).unwrap(), &mut text).unwrap();
            }
        } else {
            text += &String::from_utf8_lossy(&fs::read(&path).unwrap());
        }
        text.push('\n');
    }
    text
}

/// Fails naming the first of `canaries` that `text` holds.
fn assert_no_canary(text: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(
            !text.contains(canary),
            "{canary:?} is in the protected outputs"
        );
    }
}

/// Writes a round's roster, samples and results into `dir`.
fn write_files(dir: &Path, roster: &str, samples: &str, results: &str) {
    for (name, text) in [
        ("roster.csv", roster),
        ("samples.csv", samples),
        ("results.csv", results),
    ] {
        fs::write(dir.join(name), text).unwrap();
    }
}

fn write_inputs(dir: &Path, round: &str) {
    fs::write(
        dir.join("roster.csv"),
        "person_id,name,building,phone,id_card,counselor\nCANARY001,金丝雀,公寓1,13912345678,11010519491231002X,雀导员\nCANARY002,欧阳雀鸣,公寓1,18698765432,,雀导员\nCANARY003,买买提·艾力,公寓2,,,\n",
    )
    .unwrap();
    fs::write(
        dir.join("samples.csv"),
        format!("tube_id,person_id,sampled_at,round\nT1,CANARY001,2022-04-10 08:00,{round}\nT1,CANARY002,2022-04-10 08:00,{round}\nT2,CANARY777,2022-04-10 08:00,{round}\nT3,CANARY001,bad time,{round}\n"),
    )
    .unwrap();
    fs::write(
        dir.join("results.csv"),
        "tube_id,ct_orf1ab,ct_n\nT1,30,31\nT2,30,31\n",
    )
    .unwrap();
    fs::write(dir.join("key.hex"), format!("{KEY}\n")).unwrap();
}

#[test]
fn masked_and_pseudonymised_outputs_hold_no_canary() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), "R1");
    let plain = run_round(dir.path(), "plain", &[]);
    expect(&plain, 0);
    let plain_text = all_output_text(&dir.path().join("plain"));
    assert!(
        plain_text.contains("金丝雀")
            && plain_text.contains("CANARY001")
            && plain_text.contains("雀导员"),
        "the canaries are there without protection"
    );

    let out = run_round(
        dir.path(),
        "protected",
        &["--mask", "--pseudonymize", "key.hex"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = all_output_text(&dir.path().join("protected"))
        + &String::from_utf8_lossy(&out.stderr)
        + &String::from_utf8_lossy(&out.stdout);
    assert_no_canary(
        &text,
        &[
            "金丝雀",
            "欧阳雀鸣",
            "买买提·艾力",
            "雀导员",
            "13912345678",
            "18698765432",
            "11010519491231002X",
            "CANARY001",
            "CANARY002",
            "CANARY777",
            KEY,
            &KEY[..16],
        ],
    );
    assert!(text.contains("金*"), "names are masked: {text}");
    assert!(text.contains("139****5678"));
    let m = manifest(&dir.path().join("protected"));
    let privacy = m["privacy"].to_string();
    assert!(
        privacy.contains("mask") && privacy.contains("pseudonymize"),
        "{privacy}"
    );
}

#[test]
fn pseudonyms_are_stable_across_rounds_and_keyed() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), "R1");
    assert!(run_round(dir.path(), "r1", &["--pseudonymize", "key.hex"])
        .status
        .success());
    write_inputs(dir.path(), "R2");
    assert!(run_round(dir.path(), "r2", &["--pseudonymize", "key.hex"])
        .status
        .success());
    let ids = |out: &str| frame_to_csv(&read_parquet(&dir.path().join(out).join("retest.parquet")));
    let (a, b) = (ids("r1"), ids("r2"));
    let pseudo = |t: &str| {
        t.lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pseudo(&a),
        pseudo(&b),
        "the same people get the same pseudonyms in both rounds"
    );
    assert!(pseudo(&a)
        .iter()
        .all(|p| p.len() == 16 && p.chars().all(|c| c.is_ascii_hexdigit())));
    fs::write(dir.path().join("key.hex"), "ff".repeat(32)).unwrap();
    assert!(
        run_round(dir.path(), "other", &["--pseudonymize", "key.hex"])
            .status
            .success()
    );
    assert_ne!(
        pseudo(&ids("other")),
        pseudo(&a),
        "another key, other pseudonyms"
    );
}

#[test]
fn a_bad_key_file_is_a_clear_error_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), "R1");
    for (key, why) in [
        ("abcd", "holds 2 bytes"),
        ("not hex at all, surely", "is not hex"),
    ] {
        fs::write(dir.path().join("key.hex"), key).unwrap();
        let out = run_round(dir.path(), "out", &["--pseudonymize", "key.hex"]);
        expect(&out, 1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(why) && stderr.contains("at least 32 bytes"),
            "{stderr}"
        );
        assert!(!stderr.contains(key));
        assert!(!dir.path().join("out").exists());
    }
}

/// With `--pseudonymize` the lists sort by the pseudonyms they show, not by the real
/// IDs: the order of rows tells nothing of the IDs behind them. People not on the
/// roster come after those on it, by their pseudonyms too.
#[test]
fn pseudonymised_lists_sort_by_the_pseudonym() {
    let dir = Workdir::new();
    // One building, no rooms: 100 people in ten positive pools, 100 never sampled, and
    // 20 people not on the roster in two more positive pools.
    let mut roster = String::from("person_id,name,building\n");
    let mut samples = String::from("tube_id,person_id,sampled_at\n");
    let mut results = String::from("tube_id,ct_orf1ab,ct_n\n");
    for i in 0..200 {
        roster.push_str(&format!("S{i:04},某人,公寓1\n"));
        if i < 100 {
            samples.push_str(&format!("T{},S{i:04},2022-04-10 08:00\n", i / 10));
        }
    }
    for i in 0..20 {
        samples.push_str(&format!("T{},X{i:04},2022-04-10 08:00\n", 10 + i / 10));
    }
    for t in 0..12 {
        results.push_str(&format!("T{t},30,31\n"));
    }
    dir.write("roster.csv", roster);
    dir.write("samples.csv", samples);
    dir.write("results.csv", results);
    dir.write("key.hex", format!("{KEY}\n"));
    dir.run_round(&["--pseudonymize", "key.hex", "--quiet"], 0);
    let sorted = |prefix: &str, people: std::ops::Range<u32>| {
        let mut ids: Vec<String> = people
            .map(|i| pseudonym_of(&format!("{prefix}{i:04}")))
            .collect();
        ids.sort();
        ids
    };
    let on_roster = sorted("S", 0..100);
    let off_roster = sorted("X", 0..20);
    let never_sampled = sorted("S", 100..200);
    let expected = [
        ("retest", [on_roster.clone(), off_roster.clone()].concat()),
        ("closure", [on_roster, off_roster].concat()),
        ("missing", never_sampled),
        // Everyone on the roster, in one room: by pseudonym.
        ("people", sorted("S", 0..200)),
    ];
    for (table, expected) in expected {
        let frame = dir.parquet(&format!("out/{table}.parquet"));
        let ids: Vec<String> = (0..frame.height())
            .map(|i| cell(frame.column("person_id").unwrap().get(i).unwrap()))
            .collect();
        assert_eq!(
            ids, expected,
            "{table}: each person's pseudonym, in pseudonym order"
        );
    }
}

/// A piece of a building or room name for the natural order, as the fixture's names
/// need it: a run of digits by its value, before any other text.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Piece {
    Number(u64),
    Text(String),
}

/// A name in natural order (`公寓2` before `公寓10`, `A-3` before `A-12`).
fn natural(name: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        let digit = c.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(end);
        pieces.push(if digit {
            Piece::Number(run.parse().unwrap())
        } else {
            Piece::Text(run.to_string())
        });
        rest = after;
    }
    pieces
}

/// A committed fixture shaped as real exports are: the roster in no order, across four
/// buildings and rooms that sort only in natural order (some people without a room),
/// IDs of every shape (digits, letters, resident ID numbers), samples interleaved by
/// time, people off the roster in a pool, results repeated. Under `--pseudonymize`,
/// every list is worked out apart from the inputs: its people, each at the roster's
/// building and room, in the order round, action, building, room (people without one
/// last), then pseudonym, people off the roster last.
#[test]
fn pseudonymised_lists_of_a_shuffled_roster_follow_building_room_then_pseudonym() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pseudonymised_shuffled_rooms");
    let out = tempfile::tempdir().unwrap();
    let args = fs::read_to_string(case.join("args")).unwrap();
    let mut argv: Vec<String> = ["run", "--roster", "roster.csv", "--samples", "samples.csv"]
        .into_iter()
        .chain([
            "--results",
            "results.csv",
            "--retests",
            "retests.csv",
            "--quiet",
        ])
        .map(String::from)
        .chain(args.lines().map(String::from))
        .collect();
    argv.extend(["--out".to_string(), out.path().display().to_string()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    expect(&poolscreen(&case, &argv), 0);

    let rows = |file: &str| -> Vec<Vec<String>> {
        fs::read_to_string(case.join(file))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(String::from).collect())
            .collect()
    };
    // The roster, read apart: where each pseudonym lives.
    let home: std::collections::HashMap<String, (String, String)> = rows("roster.csv")
        .into_iter()
        .map(|r| (pseudonym_of(&r[0]), (r[2].clone(), r[3].clone())))
        .collect();
    // Tubes to act on: a Ct detected, or neither detected and no internal control.
    let listed_tubes: std::collections::HashSet<String> = rows("results.csv")
        .into_iter()
        .filter(|r| !r[1].is_empty() || !r[2].is_empty() || r[3].is_empty())
        .map(|r| r[0].clone())
        .collect();
    let samples = rows("samples.csv");
    let sampled: std::collections::HashSet<String> =
        samples.iter().map(|r| pseudonym_of(&r[1])).collect();
    let on_list: std::collections::HashSet<String> = samples
        .iter()
        .filter(|r| listed_tubes.contains(&r[0]))
        .map(|r| pseudonym_of(&r[1]))
        .collect();
    let everyone: std::collections::HashSet<String> = home.keys().cloned().collect();
    let never_sampled = everyone.difference(&sampled).cloned().collect();
    assert!(
        on_list.iter().any(|p| !home.contains_key(p)),
        "people off the roster are listed"
    );

    const ACTIONS: [&str; 4] = ["report", "isolate_and_retest", "retest", "resample"];
    for (table, people) in [
        ("retest", &on_list),
        ("closure", &on_list),
        ("missing", &never_sampled),
        ("people", &everyone),
    ] {
        let frame = read_parquet(&out.path().join(format!("{table}.parquet")));
        let column = |name: &str, i: usize| {
            frame
                .column(name)
                .ok()
                .map_or(String::new(), |c| cell(c.get(i).unwrap()))
        };
        let shown: Vec<_> = (0..frame.height())
            .map(|i| {
                let id = column("person_id", i);
                let action = column("action", i);
                let rank = ACTIONS.iter().position(|a| *a == action);
                let place = home.get(&id).cloned();
                assert_eq!(
                    (column("building", i), column("room", i)),
                    place.clone().unwrap_or_default(),
                    "{table}: {id} at the roster's building and room"
                );
                let (building, room) = place.clone().unwrap_or_default();
                let key = (
                    rank,
                    place.is_none(),
                    natural(&building),
                    room.is_empty(),
                    natural(&room),
                    id.clone(),
                );
                (key, id)
            })
            .collect();
        let ids: std::collections::HashSet<String> =
            shown.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(&ids, people, "{table}: who is on it");
        assert_eq!(ids.len(), shown.len(), "{table}: each person once");
        assert!(
            shown.windows(2).all(|w| w[0].0 < w[1].0),
            "{table}: rows in order of round, action, building, room, pseudonym"
        );
        // The workbook shows the list in the same order: whole on its first sheet,
        // then a sheet per building, people off the roster on the first alone.
        if table == "retest" || table == "missing" {
            let mut book = open_workbook_auto(out.path().join(format!("{table}.xlsx"))).unwrap();
            let sheets = book.sheet_names();
            assert_eq!(
                sheets.len(),
                5,
                "{table}.xlsx: all, then the four buildings"
            );
            for sheet in sheets {
                let in_sheet: Vec<String> = book
                    .worksheet_range(&sheet)
                    .unwrap()
                    .rows()
                    .skip(1)
                    .map(|row| row[if table == "retest" { 3 } else { 1 }].to_string())
                    .collect();
                let in_table: Vec<String> = shown
                    .iter()
                    .filter(|(_, id)| {
                        sheet == "全部" || home.get(id).is_some_and(|(b, _)| *b == sheet)
                    })
                    .map(|(_, id)| id.clone())
                    .collect();
                assert!(!in_sheet.is_empty(), "{table}.xlsx, sheet {sheet} is empty");
                assert_eq!(in_sheet, in_table, "{table}.xlsx, sheet {sheet}");
            }
        }
    }
}

#[test]
fn person_ids_that_are_resident_id_numbers_are_masked() {
    // A city's 人员编号 is often the resident ID number: with --mask it is an ID card
    // number like any other, in every output, while the people stay apart.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        "person_id,name,building\n11010519491231002X,金丝雀,公寓1\n11010519491231003X,银丝雀,公寓1\nS003,铜丝雀,公寓1\n",
        "tube_id,person_id,sampled_at\nT1,11010519491231002X,2022-04-10 08:00\nT1,S003,2022-04-10 08:00\nT2,11010519491231003X,2022-04-10 08:00\nT3,11010519491231003X,bad time\n",
        "tube_id,ct_orf1ab,ct_n\nT1,30,31\nT2,30,31\n",
    );
    expect(&run_round(dir.path(), "plain", &[]), 0);
    let plain = all_output_text(&dir.path().join("plain"));
    assert!(plain.contains("11010519491231002X") && plain.contains("S003"));
    let out = run_round(dir.path(), "masked", &["--mask"]);
    expect(&out, 0);
    let text = all_output_text(&dir.path().join("masked"))
        + &String::from_utf8_lossy(&out.stderr)
        + &String::from_utf8_lossy(&out.stdout);
    assert_no_canary(
        &text,
        &["11010519491231002X", "11010519491231003X", "19491231"],
    );
    assert!(text.contains("110105********002X"), "{text}");
    // Other IDs are not ID card numbers: they stay, and join as before.
    assert!(text.contains("S003"));
    // Two people masked alike are still two people: both positive pools' people are
    // on the retest list.
    let retest = read_parquet(&dir.path().join("masked/retest.parquet"));
    assert_eq!(retest.height(), 3, "{retest}");
}

#[test]
fn id_numbers_typed_into_names_and_rooms_are_masked_without_mask() {
    // An ID card number typed into a name or room cell (whole, or in groups of 6, 8
    // and 4) is still one: no output shows it whole, even without --mask.
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        "person_id,name,building,room\nS001,金丝雀11010519491231002X,公寓1,101\nS002,银丝雀,公寓1,110105 19491231 002X\nS003,铜丝雀,公寓1,102\n",
        "tube_id,person_id,sampled_at\nT1,S001,2022-04-10 08:00\nT1,S002,2022-04-10 08:00\n",
        "tube_id,ct_orf1ab,ct_n\nT1,30,31\n",
    );
    let out = run_round(dir.path(), "plain", &[]);
    expect(&out, 0);
    let text = all_output_text(&dir.path().join("plain"))
        + &String::from_utf8_lossy(&out.stderr)
        + &String::from_utf8_lossy(&out.stdout);
    assert_no_canary(&text, &["19491231"]);
    // The rest of the cell stays, and the people are listed: the pool is positive.
    assert!(text.contains("金丝雀110105********002X"), "{text}");
    assert!(text.contains("110105**********002X"), "{text}");
    assert!(
        text.contains("铜丝雀"),
        "the missing person is listed: {text}"
    );
}

/// The pseudonym the key `KEY` gives `id`: the first 8 bytes of its HMAC-SHA256, in hex.
fn pseudonym_of(id: &str) -> String {
    use hmac::{Hmac, Mac};
    let key: Vec<u8> = (0..KEY.len() / 2)
        .map(|k| u8::from_str_radix(&KEY[2 * k..2 * k + 2], 16).unwrap())
        .collect();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(id.as_bytes());
    mac.finalize().into_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Findings that name roster people (retests of people on no list, lab calls that
/// disagree) besides people off the roster: with a key, each is named by the pseudonym
/// people.parquet gives them, and none is taken for another ID with the same one.
#[test]
fn findings_naming_roster_people_get_their_pseudonyms_without_a_false_collision() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/closure_states");
    let dir = Workdir::new();
    for name in ["roster.csv", "samples.csv", "results.csv", "retests.csv"] {
        fs::copy(fixture.join(name), dir.join(name)).unwrap();
    }
    dir.write("key.hex", format!("{KEY}\n"));
    let retests = ["--retests", "retests.csv", "--quiet"];
    dir.run_round(&retests, 0);
    let plain = dir.parquet("out/anomalies.parquet");
    let keyed = Workdir::new();
    for name in [
        "roster.csv",
        "samples.csv",
        "results.csv",
        "retests.csv",
        "key.hex",
    ] {
        fs::copy(dir.join(name), keyed.join(name)).unwrap();
    }
    keyed.run_round(&[&retests[..], &["--pseudonymize", "key.hex"]].concat(), 0);
    let pseudonymised = keyed.parquet("out/anomalies.parquet");
    let ids = |frame: &polars::prelude::DataFrame| -> Vec<(String, String)> {
        let column = |name: &str| {
            (0..frame.height())
                .map(|i| cell(frame.column(name).unwrap().get(i).unwrap()))
                .collect::<Vec<_>>()
        };
        let mut pairs: Vec<(String, String)> = column("kind")
            .into_iter()
            .zip(column("person_id"))
            .collect();
        pairs.sort();
        pairs
    };
    let expected: Vec<(String, String)> = {
        let mut pairs: Vec<(String, String)> = ids(&plain)
            .into_iter()
            .map(|(kind, id)| {
                let shown = if id.is_empty() { id } else { pseudonym_of(&id) };
                (kind, shown)
            })
            .collect();
        pairs.sort();
        pairs
    };
    let on_roster = ids(&plain)
        .iter()
        .filter(|(kind, _)| kind == "retest_unlisted" || kind == "lab_call_mismatch")
        .count();
    assert!(on_roster >= 3, "the fixture names roster people: {plain}");
    assert_eq!(ids(&pseudonymised), expected);
}
