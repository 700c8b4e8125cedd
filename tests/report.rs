//! `report.html` as a person sees it. Without a browser: every figure on the page is the
//! tables' figure, the page is the same bytes for the same inputs, it holds no script
//! and loads nothing, a city of 10,000 buildings stays under 1 MB, and names are masked
//! as the lists mask them. In a real browser (Debian's chromium, headless, installed by
//! `.ci/run`): the page loads with no blocked request and no console message, prints to
//! a PDF whose text (pdftotext, Debian's poppler-utils) holds the Chinese headings and
//! the totals, and is not blank on screen.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every `data-figure` of a page, by name, with the text it shows.
fn figures(page: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for piece in page.split("data-figure=\"").skip(1) {
        let name = piece[..piece.find('"').unwrap()].to_string();
        let body = &piece[piece.find('>').unwrap() + 1..];
        let text = body[..body.find('<').unwrap()].to_string();
        found.insert(name, text);
    }
    found
}

/// The leading number of a figure's text: `29693 人` → 29693.
fn number(text: &str) -> f64 {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|s| !s.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}

fn demo(dir: &Workdir, extra: &[&str]) {
    let mut args = vec!["demo", "--out", "demo"];
    args.extend_from_slice(extra);
    dir.run(&args, 0);
}

#[test]
fn every_figure_is_the_tables_figure() {
    let dir = Workdir::new();
    demo(&dir, &[]);
    let page = fs::read_to_string(dir.join("demo/report.html")).unwrap();
    let shown = figures(&page);
    // The report is of the latest round: the last rows of buildings.parquet.
    let buildings = dir.parquet("demo/buildings.parquet");
    let round = cell(
        buildings
            .column("round")
            .unwrap()
            .get(buildings.height() - 1)
            .unwrap(),
    );
    let rows: Vec<usize> = (0..buildings.height())
        .filter(|&i| cell(buildings.column("round").unwrap().get(i).unwrap()) == round)
        .collect();
    let sum = |c: &str| -> f64 {
        rows.iter()
            .map(|&i| {
                cell(buildings.column(c).unwrap().get(i).unwrap())
                    .parse::<f64>()
                    .unwrap()
            })
            .sum()
    };
    for figure in [
        "expected",
        "sampled",
        "missing",
        "to_retest",
        "confirmed_positive",
        "cleared",
        "open_retests",
        "overdue_retests",
    ] {
        assert_eq!(number(&shown[figure]), sum(figure), "{figure}");
    }
    // The closure's counts add up to the people to retest.
    assert_eq!(
        number(&shown["cleared"])
            + number(&shown["confirmed_entries"])
            + number(&shown["open_retests"]),
        sum("to_retest")
    );
    let coverage = sum("sampled") / sum("expected") * 100.0;
    assert_eq!(shown["coverage"], format!("{coverage:.1}%"));
    let tubes = dir.parquet("demo/tubes.parquet");
    let classes: Vec<String> = (0..tubes.height())
        .filter(|&i| cell(tubes.column("round").unwrap().get(i).unwrap()) == round)
        .map(|i| cell(tubes.column("tube_class").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(number(&shown["tubes"]), classes.len() as f64);
    for class in ["positive", "suspect", "invalid", "pending", "negative"] {
        let n = classes.iter().filter(|c| *c == class).count();
        assert_eq!(
            number(&shown[&format!("{class}_tubes")]),
            n as f64,
            "{class}"
        );
    }
    // The run's earlier rounds: their retests still open past the deadline, of people
    // with no entry in a later round (the demo's rounds are dates: later sorts after).
    let closure = dir.parquet("demo/closure.parquet");
    let text = |c: &str, i: usize| cell(closure.column(c).unwrap().get(i).unwrap());
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..closure.height() {
        let at = latest.entry(text("person_id", i)).or_default();
        *at = (*at).clone().max(text("round", i));
    }
    let earlier = (0..closure.height())
        .filter(|&i| text("round", i) != round && text("overdue", i) == "true")
        .filter(|&i| !matches!(text("state", i).as_str(), "cleared" | "confirmed"))
        .filter(|&i| latest[&text("person_id", i)] == text("round", i))
        .count();
    assert!(
        earlier > 0,
        "the demo has overdue retests of earlier rounds"
    );
    match shown.get("earlier_overdue_retests") {
        Some(figure) => assert_eq!(number(figure), earlier as f64),
        None => assert_eq!(earlier, 0),
    }
    let m = manifest(&dir.join("demo"));
    assert_eq!(
        shown["as_of"],
        m["rules"]["as_of"].as_str().unwrap()[..19].replace('T', " ")
    );
    // No script, nothing loaded: the policy forbids it and nothing asks.
    assert!(page.contains("default-src 'none'"));
    for banned in [
        "<script",
        "src=",
        "href=",
        "@import",
        "url(http",
        "@font-face",
    ] {
        assert!(!page.contains(banned), "the page holds {banned}");
    }
    // The history's page counts its rounds and the people missing round after round.
    let trend = fs::read_to_string(dir.join("demo/history-out/report.html")).unwrap();
    let shown = figures(&trend);
    assert_eq!(shown["rounds"], "3");
    let persistent = dir
        .parquet("demo/history-out/persistent_missing.parquet")
        .height();
    assert!(trend.contains(&format!("{persistent} 人")), "{persistent}");
}

#[test]
fn the_same_inputs_give_the_same_page() {
    let (a, b) = (Workdir::new(), Workdir::new());
    demo(&a, &[]);
    demo(&b, &[]);
    for page in ["demo/report.html", "demo/history-out/report.html"] {
        assert_eq!(
            fs::read(a.join(page)).unwrap(),
            fs::read(b.join(page)).unwrap(),
            "{page}"
        );
    }
}

#[test]
fn a_city_page_shows_the_worst_buildings_and_stays_small() {
    let dir = Workdir::new();
    dir.run(
        &[
            "generate",
            "--out",
            "in",
            "--people",
            "300000",
            "--buildings",
            "10000",
            "--seed",
            "4",
        ],
        0,
    );
    let mut args = generated_args("out");
    args.extend(["--history", "hist"]);
    dir.run(&args, 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(page.len() < 1 << 20, "{} bytes", page.len());
    assert!(
        page.contains("覆盖率最低的 30 栋"),
        "the 30 worst are shown"
    );
    // Each per-building view: the 30 worst, and how the other 9,970 spread.
    for what in ["采样覆盖率", "阳性及可疑管数", "漏采人数", "检测用时"] {
        assert!(
            page.contains(&format!("其余 9970 栋楼的{what}分布")),
            "the distribution of the rest by {what}"
        );
    }
    assert_eq!(
        page.matches("data-building=").count(),
        30,
        "the 30 buildings of most positive and suspect tubes"
    );
    let bars = page.matches("<text x=\"0\"").count();
    assert!(bars < 200, "{bars} labelled bars");
    // The history's page too: the 30 buildings of lowest coverage, and the rest spread.
    dir.run(&["history", "--history", "hist", "--out", "trend"], 0);
    let trend = fs::read_to_string(dir.join("trend/report.html")).unwrap();
    assert!(trend.len() < 1 << 20, "{} bytes", trend.len());
    assert!(
        trend.contains("其余 9970 栋楼的最近一轮采样覆盖率分布"),
        "the distribution of the rest"
    );
    assert_eq!(trend.matches("<polyline").count(), 30, "30 small charts");
}

/// At 101 buildings the views are cut: each shows its worst and spreads every other
/// building, those of the worst that have nothing to show (no positive tube) included.
#[test]
fn past_100_buildings_every_building_is_shown_or_spread() {
    let dir = Workdir::new();
    let args = ["--people", "3000", "--buildings", "101", "--seed", "5"];
    dir.run(&[&["generate", "--out", "in"][..], &args].concat(), 0);
    dir.run(&generated_args("out"), 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    let rest = |what: &str| -> usize {
        let at = page
            .find(&format!("栋楼的{what}分布"))
            .unwrap_or_else(|| panic!("no distribution by {what}"));
        let head = &page[..at];
        head[head.rfind("其余 ").unwrap() + "其余 ".len()..]
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(rest("采样覆盖率"), 71);
    assert_eq!(rest("漏采人数"), 71);
    let pools = page.matches("data-building=").count();
    assert!(
        pools < 30,
        "{pools} buildings with positive or suspect tubes"
    );
    assert_eq!(pools + rest("阳性及可疑管数"), 101);
}

/// A folder with a roster of two people in one building, S1 and S2.
fn two_people() -> Workdir {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        "person_id,name,building\nS1,张小三,公寓1\nS2,李小四,公寓1\n",
    );
    dir
}

/// A positive the lab reported for a tube no accepted sample row has (a mistyped tube
/// ID, or a sample row rejected) puts nobody on the retest list: the page is then no
/// zero report, and the run says so.
#[test]
fn a_positive_result_that_matches_no_tube_is_no_zero_report() {
    let dir = two_people();
    // T2's only sample row is rejected (no time), and the lab's T3 was never sampled.
    dir.write(
        "samples.csv",
        "tube_id,person_id,sampled_at\nT1,S1,2022-04-10 08:00\nT2,S2,\n",
    );
    let results = |t2: &str, t3: &str| {
        format!("tube_id,lab_call,tested_at\nT1,阴性,2022-04-10 12:00\nT2,{t2},2022-04-10 12:00\nT3,{t3},2022-04-10 12:00\n")
    };
    dir.write("results.csv", results("阴性", "阴性"));
    dir.run_round(&[], 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(
        page.contains("零报告：本轮无阳性"),
        "negatives everywhere: a zero report"
    );
    dir.write("results.csv", results("阳性", "阳性"));
    let run = dir.run_round(&[], 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(!page.contains("零报告：本轮无阳性"), "not a zero report");
    assert_eq!(figures(&page)["positive_orphans"], "2 条");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("warning: 2 result row(s) call a tube positive"),
        "{stderr}"
    );
}

/// A run of two rounds reports the latest; an earlier round's retest still open past
/// its deadline is due as the page is read: no zero report, and the person is named
/// with their round. Retested in time, the earlier round leaves the page a zero report.
#[test]
fn an_overdue_retest_of_an_earlier_round_is_no_zero_report() {
    let dir = two_people();
    dir.write(
        "samples.csv",
        "tube_id,person_id,sampled_at,round\nT1,S1,2022-04-10 08:00,R1\nT1,S2,2022-04-10 08:00,R1\nT2,S1,2022-04-11 08:00,R2\nT2,S2,2022-04-11 08:00,R2\n",
    );
    dir.write(
        "results.csv",
        "tube_id,lab_call,tested_at,round\nT1,阳性,2022-04-10 12:00,R1\nT2,阴性,2022-04-11 12:00,R2\n",
    );
    let retests = |lab_call: &str| {
        format!("tube_id,person_id,lab_call,sampled_at,tested_at,round\nU1,S1,{lab_call},2022-04-10 14:00,2022-04-10 18:00,R1\nU2,S2,{lab_call},2022-04-10 14:00,2022-04-10 18:00,R1\n")
    };
    dir.write("retests.csv", retests("待检"));
    dir.run_round(&["--retests", "retests.csv", "--quiet"], 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(page.contains("日报 · R2"), "the latest round is reported");
    assert!(
        !page.contains("零报告：本轮无阳性"),
        "R1's retests are overdue"
    );
    assert_eq!(figures(&page)["earlier_overdue_retests"], "2 人");
    assert!(page.contains("超时未复核（R1）"), "the people are named");
    dir.write("retests.csv", retests("阴性"));
    dir.run_round(&["--retests", "retests.csv", "--quiet"], 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(page.contains("零报告：本轮无阳性"), "R1's retests are done");
    assert!(!figures(&page).contains_key("earlier_overdue_retests"));
    // Both rounds positive, and retests without a round: they close each person's R2
    // entry, the one to follow; R1's, left open past its deadline, is no longer due.
    dir.write(
        "results.csv",
        "tube_id,lab_call,tested_at,round\nT1,阳性,2022-04-10 12:00,R1\nT2,阳性,2022-04-11 12:00,R2\n",
    );
    dir.write(
        "retests.csv",
        "tube_id,person_id,lab_call,sampled_at,tested_at\nU1,S1,阴性,2022-04-11 14:00,2022-04-11 18:00\nU2,S2,阴性,2022-04-11 14:00,2022-04-11 18:00\n",
    );
    dir.run_round(&["--retests", "retests.csv", "--quiet"], 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    let closure = dir.parquet("out/closure.parquet");
    let states: Vec<String> = (0..closure.height())
        .map(|i| cell(closure.column("state").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(
        states,
        ["open", "open", "cleared", "cleared"],
        "R1 open, R2 cleared"
    );
    assert!(!figures(&page).contains_key("earlier_overdue_retests"));
    assert!(!page.contains("超时未复核（R1）"));
}

#[test]
fn people_are_named_as_the_lists_name_them() {
    let dir = two_people();
    dir.write(
        "samples.csv",
        "tube_id,person_id,sampled_at\nT1,S1,2022-04-10 08:00\nT2,S2,2022-04-10 08:00\n",
    );
    dir.write(
        "results.csv",
        "tube_id,ct_orf1ab,ct_n,tested_at\nT1,30,31,2022-04-10 12:00\nT2,,,2022-04-10 12:00\n",
    );
    dir.write("retests.csv", "tube_id,person_id,lab_call,sampled_at,tested_at\nR1,S1,阳性,2022-04-10 13:00,2022-04-10 16:00\n");
    dir.run_round(&["--retests", "retests.csv", "--mask"], 0);
    let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(page.contains("张*三"), "the confirmed case, masked");
    assert!(!page.contains("张小三") && !page.contains("李小四"));
    assert!(!page.contains("零报告：本轮无阳性"), "not a zero report");
}

/// A person sampled but not on the roster is on the retest list like anyone else: a
/// confirmed case or an overdue retest of theirs is never a zero report, and the totals
/// count them (saying so), though no building's row does.
#[test]
fn people_off_the_roster_count_in_the_totals() {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        "person_id,name,building\nS1,张小三,A\nS2,李小四,A\n",
    );
    dir.write(
        "samples.csv",
        "tube_id,person_id,sampled_at\nT1,S1,2022-04-10 08:00\nT1,Z9,2022-04-10 08:01\nT2,S2,2022-04-10 08:02\n",
    );
    dir.write(
        "results.csv",
        "tube_id,ct_orf1ab,ct_n,tested_at\nT1,36,,2022-04-10 12:00\nT2,,,2022-04-10 12:00\n",
    );
    let retests = "tube_id,person_id,lab_call,sampled_at,tested_at\nR1,S1,negative,2022-04-10 13:00,2022-04-10 15:00\n";
    for (extra, confirmed, overdue) in [
        (
            "R2,Z9,positive,2022-04-10 13:00,2022-04-10 15:00\n",
            1.0,
            0.0,
        ),
        ("", 0.0, 1.0),
    ] {
        dir.write("retests.csv", format!("{retests}{extra}"));
        dir.run_round(
            &["--retests", "retests.csv", "--as-of", "2022-04-11 12:00"],
            0,
        );
        let page = fs::read_to_string(dir.join("out/report.html")).unwrap();
        let shown = figures(&page);
        assert!(
            !page.contains("零报告：本轮无阳性"),
            "{extra:?}: a zero report"
        );
        assert_eq!(number(&shown["to_retest"]), 2.0, "{extra:?}");
        assert_eq!(number(&shown["off_roster_retests"]), 1.0, "{extra:?}");
        assert_eq!(number(&shown["confirmed_positive"]), confirmed, "{extra:?}");
        assert_eq!(number(&shown["overdue_retests"]), overdue, "{extra:?}");
        assert_eq!(
            number(&shown["to_retest"]),
            dir.parquet("out/retest.parquet").height() as f64,
            "the page's to_retest is retest.csv's rows"
        );
    }
}

/// The browser, or a clear failure: `.ci/run` installs it.
fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("this test needs `{name}` (Debian package {package}); .ci/run installs it with apt-get");
}

/// Runs headless chromium on `page` with `what` (a screenshot or a PDF) and returns
/// its console messages: every blocked load and every script error is one.
fn chromium(page: &Path, what: &str, profile: &Path) -> Vec<String> {
    let out = Command::new(tool("chromium", "chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--no-pdf-header-footer",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1240,1754",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(what)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect()
}

/// The share of pixels of a PNG that are not white (8-bit RGB or RGBA, not
/// interlaced, as chromium writes its screenshots).
fn ink(png: &[u8]) -> f64 {
    use std::io::Read;
    let mut at = 8;
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut data = Vec::new();
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let body = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                assert_eq!(body[8], 8, "8-bit");
                channels = match body[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("colour type {other}"),
                };
            }
            b"IDAT" => data.extend_from_slice(body),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = width * channels;
    let mut prev = vec![0u8; stride];
    let mut line = vec![0u8; stride];
    let mut inked = 0usize;
    for y in 0..height {
        let row = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels { line[x - channels] } else { 0 };
            let (b, c) = (prev[x], if x >= channels { prev[x - channels] } else { 0 });
            let predictor = match row[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                _ => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
            };
            line[x] = row[1 + x].wrapping_add(predictor);
        }
        inked += line
            .chunks(channels)
            .filter(|px| px[..3].iter().any(|&v| v < 200))
            .count();
        std::mem::swap(&mut prev, &mut line);
    }
    inked as f64 / (width * height) as f64
}

#[test]
fn the_report_renders_in_a_real_browser() {
    let pdftotext = tool("pdftotext", "poppler-utils");
    let dir = Workdir::new();
    demo(&dir, &[]);
    let page = dir.join("demo/report.html");
    let profile = dir.join("profile");
    let png = dir.join("report.png");
    let console = chromium(&page, &format!("--screenshot={}", png.display()), &profile);
    assert!(console.is_empty(), "the page logged: {console:?}");
    let ink = ink(&fs::read(&png).unwrap());
    assert!(ink > 0.02, "the screenshot is blank: {ink}");
    let pdf = dir.join("report.pdf");
    let console = chromium(
        &page,
        &format!("--print-to-pdf={}", pdf.display()),
        &profile,
    );
    assert!(console.is_empty(), "the page logged: {console:?}");
    let text = Command::new(pdftotext).arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let shown = figures(&fs::read_to_string(&page).unwrap());
    for heading in [
        "混采核酸检测日报",
        "总体情况",
        "各楼栋采样覆盖率",
        "复核闭环",
        "异常与退回行",
    ] {
        assert!(text.contains(heading), "the PDF lacks {heading}");
    }
    for figure in ["expected", "sampled", "missing", "to_retest"] {
        assert!(
            text.contains(&shown[figure]),
            "the PDF lacks {figure} {}",
            shown[figure]
        );
    }
    // The history's page too.
    let trend = dir.join("demo/history-out/report.html");
    let console = chromium(
        &trend,
        &format!("--screenshot={}", dir.join("trend.png").display()),
        &profile,
    );
    assert!(console.is_empty(), "the history page logged: {console:?}");
    // The detector can fail: a page with the same policy that loads an image and runs
    // a script logs both as blocked.
    let bad = dir.write(
        "bad.html",
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"></head><body><img src=\"http://example.invalid/x.png\"><script>1</script></body></html>",
    );
    let console = chromium(
        &bad,
        &format!("--screenshot={}", dir.join("bad.png").display()),
        &profile,
    );
    assert!(
        console
            .iter()
            .filter(|l| l.contains("Content Security Policy"))
            .count()
            >= 2,
        "{console:?}"
    );
}
