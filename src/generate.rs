//! Synthetic rounds: a roster, samples, lab results and the truth behind them, from a
//! seed. Every value is a pure function of the seed and the person's or tube's index,
//! so the files are the same whatever the thread count, and a city of ten million is
//! written in parallel by building.
//!
//! With `dirty`, the files look like a real campus's (a GB18030 roster with shuffled
//! Chinese headers, a samples file with a BOM and every timestamp form, results with
//! every spelling of "not detected") and carry one of each fault at known places,
//! listed in `faults.csv`.

mod shards;

use crate::error::{Error, Result};
use crate::time::{days_from_civil, format_local};
use rayon::prelude::*;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// The folder to write into.
    pub out: PathBuf,
    /// People on the roster.
    pub people: usize,
    /// Dormitory buildings, named 公寓1, 公寓2, …; with 25 or more, 公寓25 is the
    /// isolation building, smaller, with single tubes.
    pub buildings: usize,
    /// People per pooled tube.
    pub pool_size: usize,
    /// The share of people infected, between 0 and 1.
    pub prevalence: f64,
    /// Rounds; with more than one, samples and results carry a round column.
    pub rounds: usize,
    /// The seed.
    pub seed: u64,
    /// Write messy files with one of each fault.
    pub dirty: bool,
    /// How many of the first rounds have their retests in `retests.csv` (the later ones
    /// have no retest yet); all of them unless set lower.
    pub retest_rounds: usize,
    /// The order of the sample rows.
    pub order: Order,
    /// Districts to split the round into (`d1`, `d2`, … folders); 1 writes one folder.
    pub shards: usize,
    /// The order of the roster's rows.
    pub roster_order: RosterOrder,
}

/// The order of a generated roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RosterOrder {
    /// Building by building, room by room, as a dormitory office lists people.
    #[default]
    Building,
    /// In no order at all, as an export sorted by something else (an enrolment date, a
    /// class) comes to the data office.
    Shuffled,
}

/// The order of a generated samples file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Order {
    /// Grouped by tube, buildings one after another: a friendly export.
    Tube,
    /// By sampling time, as a city platform exports: sites swab in parallel, a tube's
    /// people one after another, so tubes of many buildings interleave.
    #[default]
    Time,
    /// In no order at all.
    Shuffled,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            out: PathBuf::from("."),
            people: 30_000,
            buildings: 28,
            pool_size: 10,
            prevalence: 0.0005,
            rounds: 1,
            seed: 1,
            dirty: false,
            retest_rounds: usize::MAX,
            order: Order::Time,
            shards: 1,
            roster_order: RosterOrder::Building,
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Generated {
    /// `roster.csv`.
    pub roster: PathBuf,
    /// `samples.csv`.
    pub samples: PathBuf,
    /// `results.csv`.
    pub results: PathBuf,
    /// `truth.csv`: per round, every person infected or not sampled.
    pub truth: PathBuf,
    /// `retests.csv`: the individual retests of the people of positive and suspect
    /// tubes.
    pub retests: PathBuf,
    /// `closure.csv`: per round, every person of a positive or suspect tube with the
    /// closure state their retests give, and when the step they are at is due.
    pub closure: PathBuf,
    /// `streaks.csv`: every person who missed a round, with the missed streak at the
    /// last round and the longest.
    pub streaks: PathBuf,
    /// `faults.csv` (only with `dirty`): every injected fault and where it is.
    pub faults: Option<PathBuf>,
    /// People on the roster, injected ones included.
    pub people: usize,
    /// Infected people.
    pub infected: usize,
}

/// The isolation building of the seed's campus: 公寓25.
pub const ISOLATION_BUILDING: usize = 25;

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "欧阳", "司马", "诸葛", "上官",
];
const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华",
];
const COLLEGES: [&str; 8] = [
    "石油化工学院",
    "建筑与环境学院",
    "机电工程学院",
    "信息工程学院",
    "经济管理学院",
    "医学院",
    "教育学院",
    "艺术学院",
];
const SITES: [&str; 4] = ["一号采样点", "二号采样点", "三号采样点", "体育馆采样点"];
const NOT_DETECTED: [&str; 6] = ["", "No Ct", "未检出", "Undetermined", "N/A", "-"];

/// The rows of `table` after its header in an order drawn from `seed`.
fn shuffle_rows(table: &mut String, seed: u64) {
    let Some(header_end) = table.find('\n').map(|i| i + 1) else {
        return;
    };
    let mut rows: Vec<(u64, &str)> = table[header_end..]
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, row)| (rand(seed, DRAW_ROSTER_ORDER, i as u64), row))
        .collect();
    rows.par_sort_unstable();
    let mut shuffled = String::with_capacity(table.len());
    shuffled.push_str(&table[..header_end]);
    for (_, row) in rows {
        shuffled.push_str(row);
    }
    *table = shuffled;
}

/// A counter-based random number: a pure function of the seed and the inputs.
fn rand(seed: u64, a: u64, b: u64) -> u64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64, a: u64, b: u64) -> f64 {
    (rand(seed, a, b) >> 11) as f64 / (1u64 << 53) as f64
}

// Purposes of random draws, so draws for one person never collide.
const DRAW_NAME: u64 = 1;
const DRAW_INFECTED: u64 = 2;
const DRAW_LEAVE: u64 = 3;
const DRAW_MISSED: u64 = 4;
const DRAW_CT: u64 = 5;
const DRAW_PHONE: u64 = 6;
const DRAW_ROLE: u64 = 7;
const DRAW_RETEST: u64 = 8;
const DRAW_CHRONIC: u64 = 9;
const DRAW_ORDER: u64 = 10;
const DRAW_SHARDS: u64 = 11;
const DRAW_ROSTER_ORDER: u64 = 12;

struct Campus {
    seed: u64,
    /// First person index of each building, and one past the last.
    starts: Vec<usize>,
    pool_size: usize,
    prevalence: f64,
    dirty: bool,
}

impl Campus {
    fn new(opts: &GenerateOptions) -> Campus {
        let weights: Vec<f64> = (1..=opts.buildings)
            .map(|b| if b == ISOLATION_BUILDING { 0.1 } else { 1.0 })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut starts = vec![0];
        let mut acc = 0.0;
        for w in &weights {
            acc += w;
            starts.push(((acc / total) * opts.people as f64).round() as usize);
        }
        *starts.last_mut().expect("at least one building") = opts.people;
        Campus {
            seed: opts.seed,
            starts,
            pool_size: opts.pool_size,
            prevalence: opts.prevalence,
            dirty: opts.dirty,
        }
    }

    fn buildings(&self) -> usize {
        self.starts.len() - 1
    }

    fn person_id(i: usize) -> String {
        format!("{}", 2_000_000_000u64 + i as u64)
    }

    fn on_leave(&self, i: usize) -> bool {
        unit(self.seed, i as u64, DRAW_LEAVE) < 0.01
    }

    fn infected(&self, i: usize) -> bool {
        unit(self.seed, i as u64, DRAW_INFECTED) < self.prevalence
    }

    /// Missed in `round`: 0.3% of people now and then, and 0.2% of people in every
    /// round (they never come: the 应检未检 the history must find).
    fn missed(&self, round: usize, i: usize) -> bool {
        unit(self.seed, i as u64, DRAW_CHRONIC) < 0.002
            || unit(self.seed, (i as u64) << 8 | round as u64, DRAW_MISSED) < 0.003
    }

    fn isolated_building(b: usize) -> bool {
        b + 1 == ISOLATION_BUILDING
    }

    fn name(&self, i: usize) -> String {
        let r = rand(self.seed, i as u64, DRAW_NAME);
        let mut name = String::from(SURNAMES[(r % 24) as usize]);
        name.push_str(GIVEN[((r >> 8) % 24) as usize]);
        if !(r >> 16).is_multiple_of(3) {
            name.push_str(GIVEN[((r >> 24) % 24) as usize]);
        }
        name
    }

    /// The roster row of person `i` in building `b`, columns in [`ROSTER_HEADER`] order.
    fn roster_row(&self, b: usize, i: usize) -> [String; 10] {
        let k = i - self.starts[b];
        let room = format!("{}{:02}", k / 120 + 1, (k / 4) % 30 + 1);
        let college = COLLEGES[(k / 400) % COLLEGES.len()];
        let class = format!("{}级{}班", 2019 + (k / 1000) % 4, (k / 40) % 9 + 1);
        let staff = unit(self.seed, i as u64, DRAW_ROLE) < 0.03;
        let phone = format!(
            "13{:09}",
            rand(self.seed, i as u64, DRAW_PHONE) % 1_000_000_000
        );
        let status = if self.on_leave(i) {
            "离校"
        } else if Campus::isolated_building(b) {
            "隔离"
        } else {
            "在校"
        };
        [
            Campus::person_id(i),
            self.name(i),
            format!("公寓{}", b + 1),
            room,
            college.to_string(),
            class,
            (if staff { "教职工" } else { "学生" }).to_string(),
            phone,
            format!("辅导员{}", (k / 400) % 50 + 1),
            status.to_string(),
        ]
    }

    /// The people of building `b` sampled in `round`, grouped into tubes.
    fn tubes(&self, round: usize, b: usize) -> Vec<Vec<usize>> {
        let people: Vec<usize> = (self.starts[b]..self.starts[b + 1])
            .filter(|&i| !self.on_leave(i) && !self.missed(round, i))
            .collect();
        let size = if Campus::isolated_building(b) {
            1
        } else {
            self.pool_size
        };
        people.chunks(size).map(|c| c.to_vec()).collect()
    }
}

const ROSTER_HEADER: [&str; 10] = [
    "学号",
    "姓名",
    "楼栋",
    "宿舍号",
    "学院",
    "班级",
    "身份",
    "手机号",
    "辅导员",
    "状态",
];

/// Quotes a CSV field when it needs quotes.
fn field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn line(out: &mut String, cells: &[&str]) {
    for (k, c) in cells.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push_str("\r\n");
}

fn round_day(round: usize) -> i64 {
    days_from_civil(2022, 4, 10) + round as i64
}

/// A sample time in one of the four accepted text forms.
fn sample_time(micros: i64, form: usize) -> String {
    let s = format_local(micros);
    let (y, m, d, mm, sec) = (&s[0..4], &s[5..7], &s[8..10], &s[14..16], &s[17..19]);
    let (m1, d1, h1) = (
        m.trim_start_matches('0'),
        d.trim_start_matches('0'),
        s[11..13].parse::<u32>().unwrap_or(0),
    );
    match form % 4 {
        0 => s.clone(),
        1 => format!("{y}/{m1}/{d1} {h1}:{mm}:{sec}"),
        2 => format!("{y}-{m}-{d}T{}", &s[11..19]),
        _ => format!("{y}年{m1}月{d1}日 {h1}:{mm}:{sec}"),
    }
}

/// A generated round's rows, before faults are added.
struct Files {
    roster: String,
    samples: String,
    /// The sample rows with their sort keys, when they are not written in tube order.
    sample_rows: Vec<(i64, u64, String)>,
    results: String,
    truth: String,
    retests: String,
    closure: String,
    streaks: String,
    infected: usize,
    /// The latest moment of any timestamp written.
    latest: i64,
}

impl Files {
    fn new() -> Files {
        Files {
            roster: String::new(),
            samples: String::new(),
            sample_rows: Vec::new(),
            results: String::new(),
            truth: String::new(),
            retests: String::new(),
            closure: String::new(),
            streaks: String::new(),
            infected: 0,
            latest: i64::MIN,
        }
    }
}

/// Writes a synthetic round into `opts.out`.
pub fn generate(opts: &GenerateOptions) -> Result<Generated> {
    if opts.buildings == 0 || opts.pool_size == 0 || opts.rounds == 0 {
        return Err(Error::Usage(
            "--buildings, --pool-size and --rounds must be at least 1".into(),
        ));
    }
    if !(0.0..=1.0).contains(&opts.prevalence) {
        return Err(Error::Usage("--prevalence must be between 0 and 1".into()));
    }
    if opts.shards > 1 && (opts.rounds > 1 || opts.dirty) {
        return Err(Error::Usage(
            "--shards writes one clean round: drop --rounds and --dirty".into(),
        ));
    }
    if opts.people < opts.buildings {
        return Err(Error::Usage("--people must be at least --buildings".into()));
    }
    if opts.out.is_file() {
        return Err(Error::output_is_file(&opts.out));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let campus = Campus::new(opts);
    let with_round = opts.rounds > 1;
    let roster_order: Vec<usize> = if opts.dirty {
        vec![3, 0, 9, 2, 1, 5, 4, 8, 7, 6]
    } else {
        (0..10).collect()
    };

    let parts: Vec<Files> = (0..campus.buildings())
        .into_par_iter()
        .map(|b| building_files(&campus, b, opts, with_round, &roster_order))
        .collect();
    let mut files = Files::new();
    let header: Vec<&str> = roster_order.iter().map(|&k| ROSTER_HEADER[k]).collect();
    line(&mut files.roster, &header);
    let mut samples_header = vec!["试管编号", "学号", "采样时间", "采样点"];
    if opts.dirty {
        samples_header.push("采样员");
    }
    let mut results_header = vec!["试管编号", "ORF1ab", "N", "内参", "检测结果"];
    let mut retests_header = vec![
        "试管编号",
        "学号",
        "ORF1ab",
        "N",
        "内参",
        "检测结果",
        "采样时间",
        "检测时间",
    ];
    if with_round {
        samples_header.push("轮次");
        results_header.push("轮次");
        retests_header.push("轮次");
    }
    results_header.push("检测时间");
    line(&mut files.samples, &samples_header);
    line(&mut files.results, &results_header);
    line(&mut files.retests, &retests_header);
    files.truth.push_str("round,person_id,infected,sampled\r\n");
    files.closure.push_str("round,person_id,state,due_at\r\n");
    files
        .streaks
        .push_str("person_id,missed_streak,longest_streak\r\n");
    if opts.shards > 1 {
        return shards::write_shards(opts, &campus, &files, parts);
    }
    if opts.order != Order::Tube {
        let mut rows: Vec<&(i64, u64, String)> =
            parts.iter().flat_map(|p| p.sample_rows.iter()).collect();
        rows.par_sort_unstable_by_key(|r| (r.0, r.1));
        let bytes: usize = rows.iter().map(|r| r.2.len()).sum();
        files.samples.reserve(bytes);
        for r in rows {
            files.samples.push_str(&r.2);
        }
    }
    for p in &parts {
        files.roster.push_str(&p.roster);
        files.samples.push_str(&p.samples);
        files.results.push_str(&p.results);
        files.truth.push_str(&p.truth);
        files.retests.push_str(&p.retests);
        files.closure.push_str(&p.closure);
        files.streaks.push_str(&p.streaks);
        files.infected += p.infected;
        files.latest = files.latest.max(p.latest);
    }
    if opts.roster_order == RosterOrder::Shuffled {
        shuffle_rows(&mut files.roster, opts.seed);
    }
    let mut people = opts.people;
    let faults = if opts.dirty {
        let faults = inject_faults(&mut files, opts, &roster_order, with_round);
        people += INJECTED_PEOPLE;
        Some(faults)
    } else {
        None
    };

    // Once nothing can fail but the writes.
    remove_stale(opts)?;
    let path = |name: &str| opts.out.join(name);
    let roster_bytes = if opts.dirty {
        encoding_rs::GB18030.encode(&files.roster).0.into_owned()
    } else {
        files.roster.into_bytes()
    };
    write(&path("roster.csv"), &[&roster_bytes])?;
    let bom: &[u8] = if opts.dirty { b"\xEF\xBB\xBF" } else { b"" };
    write(&path("samples.csv"), &[bom, files.samples.as_bytes()])?;
    write(&path("results.csv"), &[files.results.as_bytes()])?;
    write(&path("truth.csv"), &[files.truth.as_bytes()])?;
    write(&path("retests.csv"), &[files.retests.as_bytes()])?;
    write(&path("closure.csv"), &[files.closure.as_bytes()])?;
    write(&path("streaks.csv"), &[files.streaks.as_bytes()])?;
    let faults_path = match faults {
        Some(text) => {
            write(&path("faults.csv"), &[text.as_bytes()])?;
            Some(path("faults.csv"))
        }
        None => None,
    };
    Ok(Generated {
        roster: path("roster.csv"),
        samples: path("samples.csv"),
        results: path("results.csv"),
        truth: path("truth.csv"),
        retests: path("retests.csv"),
        closure: path("closure.csv"),
        streaks: path("streaks.csv"),
        faults: faults_path,
        people,
        infected: files.infected,
    })
}

fn write(path: &Path, parts: &[&[u8]]) -> Result<()> {
    let mut file = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).map_err(|e| Error::io(path, e))?,
    );
    for p in parts {
        file.write_all(p).map_err(|e| Error::io(path, e))?;
    }
    file.flush().map_err(|e| Error::io(path, e))
}

/// The tube ID of tube `n` of building `b` in `round`: digits, like real barcodes.
fn tube_id(round: usize, b: usize, n: usize) -> String {
    format!("22{:02}{:03}{:07}", round + 1, b + 1, n + 1)
}

fn building_files(
    campus: &Campus,
    b: usize,
    opts: &GenerateOptions,
    with_round: bool,
    order: &[usize],
) -> Files {
    let rounds = opts.rounds;
    let mut f = Files::new();
    for i in campus.starts[b]..campus.starts[b + 1] {
        let row = campus.roster_row(b, i);
        let cells: Vec<&str> = order.iter().map(|&k| row[k].as_str()).collect();
        line(&mut f.roster, &cells);
        f.infected += campus.infected(i) as usize;
    }
    let seed = campus.seed;
    for round in 0..rounds {
        let label =
            format_local(round_day(round) * 86_400_000_000 - 8 * 3_600_000_000)[..10].to_string();
        let start = (round_day(round) * 86_400 - 8 * 3600 + 7 * 3600) * 1_000_000;
        for (n, tube) in campus.tubes(round, b).iter().enumerate() {
            let id = tube_id(round, b, n);
            let at = start + ((n as i64 * 20) % (12 * 3600)) * 1_000_000;
            let site = SITES[(b + n / 500) % SITES.len()];
            for (j, &i) in tube.iter().enumerate() {
                // A collector swabs the tube's people a quarter of a minute apart.
                let at_j = at + j as i64 * 15_000_000;
                let when = if campus.dirty {
                    sample_time(at_j, i)
                } else {
                    format_local(at_j)
                };
                let pid = Campus::person_id(i);
                let mut cells = vec![id.as_str(), pid.as_str(), when.as_str(), site];
                if campus.dirty {
                    cells.push(COLLECTORS[n % COLLECTORS.len()]);
                }
                if with_round {
                    cells.push(&label);
                }
                if opts.order == Order::Tube {
                    line(&mut f.samples, &cells);
                } else {
                    let mut text = String::new();
                    line(&mut text, &cells);
                    let seq = (b as u64) << 32 | (n as u64) << 8 | j as u64;
                    let time = if opts.order == Order::Time {
                        at_j
                    } else {
                        rand(seed, seq ^ (round as u64) << 56, DRAW_ORDER) as i64
                    };
                    f.sample_rows.push((time, seq, text));
                }
            }
            let infected = tube.iter().any(|&i| campus.infected(i));
            let r = rand(
                seed,
                (round as u64) << 40 | (b as u64) << 24 | n as u64,
                DRAW_CT,
            );
            let ct = |shift: u32| format!("{:.1}", 18.0 + ((r >> shift) % 180) as f64 / 10.0);
            let nd = |k: u64| {
                if campus.dirty {
                    NOT_DETECTED[(k % 6) as usize]
                } else {
                    ""
                }
            };
            let (orf, gene_n, call) = if infected {
                if (r >> 40).is_multiple_of(7) {
                    (ct(0), nd(r).to_string(), "可疑")
                } else {
                    (ct(0), ct(16), "阳性")
                }
            } else {
                (nd(r).to_string(), nd(r >> 3).to_string(), "阴性")
            };
            let ic = format!("{:.1}", 24.0 + ((r >> 48) % 80) as f64 / 10.0);
            // The lab tests a tube four to five hours after it was swabbed.
            let tested = at + (4 * 3600 + (n as i64 % 60) * 60) * 1_000_000;
            f.latest = f.latest.max(tested);
            let tested_text = format_local(tested);
            let mut cells = vec![
                id.as_str(),
                orf.as_str(),
                gene_n.as_str(),
                ic.as_str(),
                call,
            ];
            if with_round {
                cells.push(&label);
            }
            cells.push(&tested_text);
            line(&mut f.results, &cells);
            if infected && round < opts.retest_rounds {
                for (k, &i) in tube.iter().enumerate() {
                    let rt = RetestTube {
                        round,
                        label: &label,
                        tube: &id,
                        k,
                        pool_tested: tested,
                        with_round,
                    };
                    retest(campus, &mut f, &rt, i);
                }
            } else if infected {
                for &i in tube {
                    let due = format_local(tested + 6 * 3_600_000_000);
                    let _ = writeln!(f.closure, "{label},{},open,{due}\r", Campus::person_id(i));
                }
            }
        }
        for i in campus.starts[b]..campus.starts[b + 1] {
            let sampled = !campus.on_leave(i) && !campus.missed(round, i);
            let expected = !campus.on_leave(i);
            if campus.infected(i) || (expected && !sampled) {
                let _ = writeln!(
                    f.truth,
                    "{label},{},{},{}\r",
                    Campus::person_id(i),
                    campus.infected(i),
                    sampled
                );
            }
        }
    }
    for i in campus.starts[b]..campus.starts[b + 1] {
        if campus.on_leave(i) {
            continue;
        }
        let (mut streak, mut longest) = (0, 0);
        for round in 0..rounds {
            if campus.missed(round, i) {
                streak += 1;
                longest = longest.max(streak);
            } else {
                streak = 0;
            }
        }
        if longest > 0 {
            let _ = writeln!(f.streaks, "{},{streak},{longest}\r", Campus::person_id(i));
        }
    }
    f
}

/// A tube whose people are retested one by one.
struct RetestTube<'a> {
    round: usize,
    label: &'a str,
    tube: &'a str,
    /// The person's place in the tube.
    k: usize,
    /// When the lab tested the tube.
    pool_tested: i64,
    with_round: bool,
}

/// Writes the retest rows of person `i` of a positive or suspect tube, and the closure
/// state they give, into `f`. Of the people not infected: most are swabbed two hours
/// after the pool's test and cleared three hours later; some are swabbed late (nine
/// hours on) and cleared; some are swabbed and still pending; some come back invalid
/// (inconclusive); and some have no retest yet (open). The infected are confirmed.
fn retest(campus: &Campus, f: &mut Files, t: &RetestTube, i: usize) {
    const HOUR: i64 = 3_600_000_000;
    let pid = Campus::person_id(i);
    let u = unit(campus.seed, (i as u64) << 8 | t.round as u64, DRAW_RETEST);
    // A retest's result: when it was tested, the call, and the two Ct values.
    type Result<'a> = (i64, &'a str, &'a str, &'a str);
    let (state, swab, result): (&str, Option<i64>, Option<Result>) = if campus.infected(i) {
        let positive = (t.pool_tested + 6 * HOUR, "阳性", "24.5", "25.1");
        ("confirmed", Some(t.pool_tested + 2 * HOUR), Some(positive))
    } else if u < 0.08 {
        ("open", None, None)
    } else if u < 0.16 {
        ("resampled", Some(t.pool_tested + 2 * HOUR), None)
    } else if u < 0.24 {
        let late = (t.pool_tested + 11 * HOUR, "阴性", "", "");
        ("cleared", Some(t.pool_tested + 9 * HOUR), Some(late))
    } else if u < 0.28 {
        let invalid = (t.pool_tested + 5 * HOUR, "无效", "", "");
        (
            "inconclusive",
            Some(t.pool_tested + 2 * HOUR),
            Some(invalid),
        )
    } else {
        let negative = (t.pool_tested + 5 * HOUR, "阴性", "", "");
        ("cleared", Some(t.pool_tested + 2 * HOUR), Some(negative))
    };
    let due = match state {
        "open" => Some(t.pool_tested + 6 * HOUR),
        "inconclusive" => result.map(|r| r.0 + 6 * HOUR),
        _ => swab.map(|s| s + 12 * HOUR),
    };
    let _ = writeln!(
        f.closure,
        "{},{pid},{state},{}\r",
        t.label,
        due.map(format_local).unwrap_or_default()
    );
    let Some(swab) = swab else {
        return;
    };
    f.latest = f.latest.max(swab);
    let retest_tube = format!("R{}{:02}", t.tube, t.k + 1);
    let swab_text = format_local(swab);
    let (tested_text, call, orf, n, ic) = match result {
        Some((at, call, orf, n)) => {
            f.latest = f.latest.max(at);
            let ic = if call == "无效" { "" } else { "27.0" };
            (format_local(at), call, orf, n, ic)
        }
        None => (String::new(), "待检", "", "", ""),
    };
    let mut cells = vec![
        retest_tube.as_str(),
        pid.as_str(),
        orf,
        n,
        ic,
        call,
        swab_text.as_str(),
        tested_text.as_str(),
    ];
    if t.with_round {
        cells.push(t.label);
    }
    line(&mut f.retests, &cells);
}

/// The files a district gets.
const DISTRICT_FILES: [&str; 4] = ["roster.csv", "samples.csv", "results.csv", "retests.csv"];

/// Removes what an earlier `generate` into the same folder wrote and this one will not
/// write over: a clean round beside an old `faults.csv` would be checked against faults
/// it does not have. Called once every check has passed, just before the files are
/// written. Only where a generate wrote before (its `truth.csv` and `streaks.csv` are
/// there), and only generate's own file names: a district's files only where districts
/// were generated (`cross_border.csv` is there), a district's folder (`d1`, `d2` …) only
/// when nothing else is left in it.
pub(crate) fn remove_stale(opts: &GenerateOptions) -> Result<()> {
    let generated = ["truth.csv", "streaks.csv"]
        .iter()
        .all(|f| opts.out.join(f).is_file());
    if !generated {
        return Ok(());
    }
    let mut stale: Vec<PathBuf> = Vec::new();
    // Districts were written here before, if their list of border cases was.
    let had_districts = opts.out.join("cross_border.csv").is_file();
    if !opts.dirty {
        stale.push(opts.out.join("faults.csv"));
    }
    if opts.shards > 1 {
        stale.extend(DISTRICT_FILES.iter().map(|f| opts.out.join(f)));
    } else {
        stale.push(opts.out.join("cross_border.csv"));
    }
    let districts: Vec<PathBuf> = std::fs::read_dir(&opts.out)
        .map_err(|e| Error::io(&opts.out, e))?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let k = name.strip_prefix('d').and_then(|k| k.parse::<usize>().ok());
            had_districts
                && k.is_some_and(|k| k == 0 || k > opts.shards || opts.shards == 1)
                && e.path().is_dir()
        })
        .map(|e| e.path())
        .collect();
    for district in &districts {
        stale.extend(DISTRICT_FILES.iter().map(|f| district.join(f)));
    }
    for file in stale.iter().filter(|f| f.is_file()) {
        std::fs::remove_file(file).map_err(|e| Error::io(file, e))?;
    }
    for district in districts {
        // Left in place when it holds anything else.
        let _ = std::fs::remove_dir(district);
    }
    Ok(())
}

/// People added to the roster by [`inject_faults`]: valid rows, for the faulty tubes.
const INJECTED_PEOPLE: usize = 70;

/// The most people of the overfull tube of [`inject_faults`] (X00010 on).
const OVERFULL_MAX: usize = 40;

/// Collectors (采样员) of dirty rounds.
const COLLECTORS: [&str; 3] = ["采样员1", "采样员2", "采样员3"];

/// Appends one of each fault to the files and returns `faults.csv`: where each fault
/// is and what poolscreen must make of it (a reject of that file and line, or an
/// anomaly of that kind, tube and person).
fn inject_faults(
    files: &mut Files,
    opts: &GenerateOptions,
    order: &[usize],
    with_round: bool,
) -> String {
    let mut faults = String::from("outcome,kind,file,line,tube_id,person_id\r\n");
    let lines = |text: &str| text.matches('\n').count() as u64;
    let label = format_local(round_day(0) * 86_400_000_000 - 8 * 3_600_000_000)[..10].to_string();
    let label2 = format_local(round_day(1) * 86_400_000_000 - 8 * 3_600_000_000)[..10].to_string();
    let at = format_local((round_day(0) * 86_400 - 8 * 3600 + 19 * 3600) * 1_000_000);

    // Valid extra people for the faulty tubes; X0 is on leave, X1 lives in 公寓2.
    let x = |k: usize| format!("X{k:05}");
    for k in 0..INJECTED_PEOPLE {
        let building = if k == 1 { "公寓2" } else { "公寓1" };
        let status = if k == 0 { "离校" } else { "在校" };
        let row = [
            x(k),
            format!("测试{}", GIVEN[k % 24]),
            building.into(),
            "999".into(),
            COLLEGES[0].into(),
            "2022级1班".into(),
            "学生".into(),
            "13800000000".into(),
            "辅导员1".into(),
            status.into(),
        ];
        let cells: Vec<&str> = order.iter().map(|&c| row[c].as_str()).collect();
        line(&mut files.roster, &cells);
    }
    let mut roster_reject = |kind: &str, row: [&str; 10]| {
        let cells: Vec<&str> = order.iter().map(|&c| row[c]).collect();
        let n = lines(&files.roster) + 1;
        line(&mut files.roster, &cells);
        let _ = write!(faults, "reject,{kind},roster.csv,{n},,\r\n");
    };
    roster_reject(
        "excel_mangled_id",
        [
            "1.10101E+17",
            "测试甲",
            "公寓1",
            "101",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    );
    roster_reject(
        "empty_name",
        ["X99001", "", "公寓1", "101", "", "", "", "", "", ""],
    );
    roster_reject(
        "duplicate_person",
        ["X00005", "测试重", "公寓1", "101", "", "", "", "", "", ""],
    );
    roster_reject(
        "bad_status",
        [
            "X99002",
            "测试乙",
            "公寓1",
            "101",
            "",
            "",
            "",
            "",
            "",
            "毕业",
        ],
    );
    roster_reject(
        "empty_building",
        ["X99003", "测试丙", "", "101", "", "", "", "", "", ""],
    );

    let mut sample_by =
        |tube: &str, person: &str, when: &str, round: &str, site: &str, who: &str| {
            let mut cells = vec![tube, person, when, site, who];
            if with_round {
                cells.push(round);
            }
            let n = lines(&files.samples) + 1;
            line(&mut files.samples, &cells);
            n
        };
    let mut record = |outcome: &str, kind: &str, file: &str, n: u64, tube: &str, person: &str| {
        let _ = write!(faults, "{outcome},{kind},{file},{n},{tube},{person}\r\n");
    };
    // unregistered_person
    sample_by("D0000001", &x(2), &at, &label, SITES[0], COLLECTORS[0]);
    let n = sample_by("D0000001", "U0000001", &at, &label, SITES[0], COLLECTORS[0]);
    record(
        "anomaly",
        "unregistered_person",
        "samples.csv",
        n,
        "D0000001",
        "U0000001",
    );
    // duplicate_row
    sample_by("D0000002", &x(3), &at, &label, SITES[0], COLLECTORS[0]);
    sample_by("D0000002", &x(4), &at, &label, SITES[0], COLLECTORS[0]);
    let n = sample_by("D0000002", &x(3), &at, &label, SITES[0], COLLECTORS[0]);
    record(
        "anomaly",
        "duplicate_row",
        "samples.csv",
        n,
        "D0000002",
        &x(3),
    );
    // duplicate_sample
    sample_by("D0000003", &x(5), &at, &label, SITES[0], COLLECTORS[0]);
    sample_by("D0000003", &x(6), &at, &label, SITES[0], COLLECTORS[0]);
    sample_by("D0000004", &x(7), &at, &label, SITES[0], COLLECTORS[0]);
    let n = sample_by("D0000004", &x(5), &at, &label, SITES[0], COLLECTORS[0]);
    record(
        "anomaly",
        "duplicate_sample",
        "samples.csv",
        n,
        "D0000004",
        &x(5),
    );
    // overfull_tube
    let mut overfull_line = 0;
    for k in 0..=opts.pool_size.min(OVERFULL_MAX) {
        let n = sample_by("D0000005", &x(10 + k), &at, &label, SITES[0], COLLECTORS[0]);
        if k == opts.pool_size {
            overfull_line = n;
        }
    }
    if opts.pool_size <= OVERFULL_MAX {
        record(
            "anomaly",
            "overfull_tube",
            "samples.csv",
            overfull_line,
            "D0000005",
            "",
        );
    }
    // mixed_buildings and sampled_on_leave
    // The line cited is the earliest swab's, then the smallest person_id's: X00001.
    sample_by("D0000006", &x(8), &at, &label, SITES[0], COLLECTORS[0]);
    let n = sample_by("D0000006", &x(1), &at, &label, SITES[0], COLLECTORS[0]);
    record(
        "anomaly",
        "mixed_buildings",
        "samples.csv",
        n,
        "D0000006",
        "",
    );
    sample_by("D0000007", &x(9), &at, &label, SITES[0], COLLECTORS[0]);
    let n = sample_by("D0000007", &x(0), &at, &label, SITES[0], COLLECTORS[0]);
    record(
        "anomaly",
        "sampled_on_leave",
        "samples.csv",
        n,
        "D0000007",
        &x(0),
    );
    // tube_reused (needs two rounds)
    if with_round {
        // Someone swabbed into no other tube of the round: X00009 is in D0000007.
        sample_by("D0000008", &x(57), &at, &label, SITES[0], COLLECTORS[0]);
        let at2 = format_local((round_day(1) * 86_400 - 8 * 3600 + 19 * 3600) * 1_000_000);
        let n = sample_by("D0000008", &x(2), &at2, &label2, SITES[0], COLLECTORS[0]);
        record("anomaly", "tube_reused", "samples.csv", n, "D0000008", "");
    }
    // Shapes of real exports that are no fault: a tube swabbed at two sites (its site
    // is the more frequent), and a row exported twice, to the byte (a duplicate_row).
    sample_by("D0000010", &x(52), &at, &label, SITES[1], COLLECTORS[0]);
    sample_by("D0000010", &x(53), &at, &label, SITES[0], COLLECTORS[0]);
    sample_by("D0000010", &x(54), &at, &label, SITES[1], COLLECTORS[0]);
    let later = format_local((round_day(0) * 86_400 - 8 * 3600 + 19 * 3600 + 60) * 1_000_000);
    sample_by("D0000011", &x(55), &later, &label, SITES[2], COLLECTORS[0]);
    sample_by("D0000011", &x(56), &at, &label, SITES[2], COLLECTORS[0]);
    let n = sample_by("D0000011", &x(55), &later, &label, SITES[2], COLLECTORS[0]);
    record(
        "anomaly",
        "duplicate_row",
        "samples.csv",
        n,
        "D0000011",
        &x(55),
    );
    // A person swabbed twice into one tube at different times (the earlier row stays),
    // a tube whose two people were swabbed at two sites (the smaller name is its site),
    // and two rows that differ only in the collector (the smaller name stays).
    let evening = format_local((round_day(0) * 86_400 - 8 * 3600 + 19 * 3600 + 120) * 1_000_000);
    // The row reported is the later swab, which comes first in the file.
    let later_swab = sample_by(
        "D0000012",
        &x(60),
        &evening,
        &label,
        SITES[0],
        COLLECTORS[0],
    );
    sample_by("D0000012", &x(61), &at, &label, SITES[0], COLLECTORS[0]);
    sample_by("D0000012", &x(60), &at, &label, SITES[0], COLLECTORS[1]);
    record(
        "anomaly",
        "duplicate_row",
        "samples.csv",
        later_swab,
        "D0000012",
        &x(60),
    );
    sample_by("D0000013", &x(62), &at, &label, SITES[3], COLLECTORS[0]);
    sample_by("D0000013", &x(63), &at, &label, SITES[1], COLLECTORS[0]);
    // The row reported is the one of the larger collector name, first in the file.
    let other_collector = sample_by("D0000014", &x(64), &at, &label, SITES[2], COLLECTORS[1]);
    sample_by("D0000014", &x(65), &at, &label, SITES[2], COLLECTORS[0]);
    sample_by("D0000014", &x(64), &at, &label, SITES[2], COLLECTORS[0]);
    record(
        "anomaly",
        "duplicate_row",
        "samples.csv",
        other_collector,
        "D0000014",
        &x(64),
    );
    // Sample rows to reject.
    for (kind, tube, person, when) in [
        ("impossible_date", "D0000009", x(11), "2022-02-30 08:00"),
        ("hour_24", "D0000009", x(11), "2022-04-10 24:00"),
        ("excel_serial_date", "D0000009", x(11), "44661.375"),
        ("bad_tube_id", "D 9", x(11), at.as_str()),
        (
            "excel_mangled_id",
            "D0000009",
            "2.00000001E+9".to_string(),
            at.as_str(),
        ),
    ] {
        let n = sample_by(tube, &person, when, &label, SITES[0], COLLECTORS[0]);
        record("reject", kind, "samples.csv", n, "", "");
    }

    let mut result = |tube: &str, orf: &str, n: &str, ic: &str, call: &str, round: &str| {
        let mut cells = vec![tube, orf, n, ic, call];
        if with_round {
            cells.push(round);
        }
        cells.push("");
        let k = lines(&files.results) + 1;
        line(&mut files.results, &cells);
        k
    };
    for t in ["D0000001", "D0000004", "D0000005", "D0000006", "D0000007"] {
        result(t, "未检出", "未检出", "28.1", "阴性", &label);
    }
    // conflicting_results
    // The line cited is the deciding row's: the positive one.
    result("D0000002", "", "", "27.5", "阴性", &label);
    let n = result("D0000002", "31.2", "32.4", "27.5", "阳性", &label);
    record(
        "anomaly",
        "conflicting_results",
        "results.csv",
        n,
        "D0000002",
        "",
    );
    // Several result rows for one tube: the same row twice (nothing to report), and two
    // runs with different Ct values (the lower decides).
    result("D0000010", "未检出", "未检出", "28.1", "阴性", &label);
    result("D0000010", "未检出", "未检出", "28.1", "阴性", &label);
    for t in ["D0000012", "D0000013", "D0000014"] {
        result(t, "未检出", "未检出", "28.3", "阴性", &label);
    }
    result("D0000011", "33.1", "34.2", "27.9", "阳性", &label);
    let n = result("D0000011", "30.5", "31.0", "27.9", "阳性", &label);
    record(
        "anomaly",
        "conflicting_results",
        "results.csv",
        n,
        "D0000011",
        "",
    );
    // lab_call_mismatch
    let n = result("D0000003", "No Ct", "No Ct", "26.0", "阳性", &label);
    record(
        "anomaly",
        "lab_call_mismatch",
        "results.csv",
        n,
        "D0000003",
        "",
    );
    // orphan_result
    let n = result("D0009999", "", "", "27.0", "阴性", &label);
    record("anomaly", "orphan_result", "results.csv", n, "D0009999", "");
    for (kind, orf, call) in [
        ("comma_decimal_ct", "38,5", "阴性"),
        ("ct_out_of_range", "51", "阴性"),
        ("bad_lab_call", "", "待定"),
    ] {
        let n = result("D0000001", orf, "", "27.0", call, &label);
        record("reject", kind, "results.csv", n, "", "");
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_time_forms_parse_back() {
        let at = crate::time::timestamp("2022-04-10 07:05:20").unwrap();
        for form in 0..4 {
            let text = sample_time(at, form);
            assert_eq!(crate::time::timestamp(&text), Ok(at), "{text}");
        }
    }

    #[test]
    fn buildings_split_the_people() {
        let c = Campus::new(&GenerateOptions::default());
        assert_eq!(c.buildings(), 28);
        assert_eq!(*c.starts.last().unwrap(), 30_000);
        let iso = c.starts[25] - c.starts[24];
        assert!(iso < 200, "the isolation building is small: {iso}");
    }
}
