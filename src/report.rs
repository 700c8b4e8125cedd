//! `report.html`, the daily report (两报告) for the leadership: one self-contained page
//! in Chinese, made of the same rows as the Parquet outputs. No script and no load of
//! any kind (a Content-Security-Policy of `default-src 'none'` with the one inline
//! stylesheet allowed by its hash), charts as inline SVG drawn here, colours and
//! patterns that read in black-and-white print, an A4 print stylesheet. The same
//! inputs give the same bytes: the only time on the page is the run's as-of time.
//!
//! Every figure carries a `data-figure` attribute naming it, so that a test can read
//! the page back and compare each figure with the tables.
//!
//! The HTML is written through maud's `html!` templates, checked when the crate is
//! compiled and escaped by construction: a building name or a person's name can never
//! become markup.

use crate::export::workbook::label;
use crate::order::natural_ranks;
use crate::record::Micros;
use crate::summarize::BuildingRow;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Buildings past which the per-building views show the worst and a distribution.
pub const ALL_BUILDINGS_UP_TO: usize = 100;

/// How many of the worst buildings a large round shows.
pub const WORST_SHOWN: usize = 30;

/// The stylesheet, the page's one inline block, allowed by its hash.
const STYLE: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; color: #000; background: #fff; margin: 0 auto; max-width: 190mm; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 0.4mm solid #000; padding-bottom: 1mm; }
p.meta { margin: 0 0 3mm; color: #333; }
p.zero { font-size: 12pt; font-weight: bold; border: 0.5mm solid #000; padding: 2mm 3mm; }
p.alarm { font-size: 12pt; font-weight: bold; border: 1mm double #000; padding: 2mm 3mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; }
th, td { border: 0.2mm solid #666; padding: 0.6mm 1.5mm; text-align: right; }
th { background: #e6e6e6; font-weight: bold; }
td.name, th.name { text-align: left; }
.totals td { font-size: 11pt; }
svg { display: block; margin: 1mm 0 3mm; }
svg text { font-size: 9px; font-family: inherit; }
.note { color: #333; font-size: 9pt; }
section { break-inside: avoid-page; }
@media print { h2 { break-after: avoid; } tr { break-inside: avoid; } }
"#;

/// One building's figures for the page.
pub struct BuildingFigures<'a> {
    /// The building.
    pub name: &'a str,
    /// Its row of `buildings.parquet`.
    pub row: &'a BuildingRow,
}

/// A person the page names: a confirmed case or an overdue retest, as the lists show
/// them (masked and pseudonymised when asked).
pub struct NamedPerson<'a> {
    /// The person_id as the lists show it.
    pub person_id: &'a str,
    /// The name as the lists show it.
    pub name: Option<&'a str>,
    /// Building.
    pub building: Option<&'a str>,
    /// Room.
    pub room: Option<&'a str>,
    /// The closure state.
    pub state: &'static str,
    /// The round of an overdue retest of an earlier round of the run; `None` for the
    /// round reported.
    pub earlier_round: Option<&'a str>,
    /// When the step is due.
    pub due_at: Option<Micros>,
}

/// What the report of a round is made of.
pub struct RoundReport<'a> {
    /// The round reported.
    pub round: &'a str,
    /// The run's other rounds, if it had several.
    pub other_rounds: Vec<&'a str>,
    /// The moment deadlines were judged at.
    pub as_of: Micros,
    /// The round's buildings, in natural order.
    pub buildings: Vec<BuildingFigures<'a>>,
    /// The round's tubes by class: positive, suspect, invalid, pending, negative.
    pub tubes: [i64; 5],
    /// The round's findings by kind.
    pub anomalies: Vec<(&'static str, usize)>,
    /// Rejected rows by input file (over the whole run).
    pub rejects: Vec<(String, usize)>,
    /// Confirmed cases and overdue retests of the round, then the overdue retests of the
    /// run's earlier rounds.
    pub people: Vec<NamedPerson<'a>>,
    /// The run's other rounds with overdue retests, and how many each: still due when
    /// the page is read, so it is no zero report.
    pub earlier_overdue: Vec<(&'a str, i64)>,
    /// The round's retest-list entries: cleared, confirmed, open (not cleared or
    /// confirmed), overdue (of the open).
    pub closure: [i64; 4],
    /// Of `closure`, the entries of people sampled but not on the roster, whom no
    /// building's row counts.
    pub off_roster: [i64; 4],
    /// Result rows of the round that call a tube positive but match no tube sampled:
    /// a positive no list follows, so the page is no zero report.
    pub positive_orphans: u64,
    /// The protections applied, in words.
    pub privacy: Vec<String>,
}

/// A number with its unit, for the page.
fn count(n: impl Into<i64>, unit: &str) -> String {
    let n = n.into();
    format!("{n} {unit}")
}

fn percent(share: Option<f64>) -> String {
    share.map_or("—".to_string(), |c| format!("{:.1}%", c * 100.0))
}

fn hours(h: Option<f64>) -> String {
    h.map_or("—".to_string(), |h| format!("{h:.1} 小时"))
}

/// The patterns the charts fill with: black and white print tells them apart.
fn patterns() -> Markup {
    html! {
        svg width="0" height="0" aria-hidden="true" {
            defs {
                pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" {
                    rect width="4" height="4" fill="#fff" {}
                    path d="M0,4 L4,0" stroke="#000" stroke-width="1" {}
                }
                pattern id="cross" width="4" height="4" patternUnits="userSpaceOnUse" {
                    rect width="4" height="4" fill="#fff" {}
                    path d="M0,4 L4,0 M0,0 L4,4" stroke="#000" stroke-width="0.8" {}
                }
                pattern id="dots" width="4" height="4" patternUnits="userSpaceOnUse" {
                    rect width="4" height="4" fill="#fff" {}
                    circle cx="2" cy="2" r="0.9" fill="#000" {}
                }
            }
        }
    }
}

/// The fill of each tube class, and its label.
const CLASS_FILLS: [(&str, &str); 5] = [
    ("positive", "#000"),
    ("suspect", "url(#hatch)"),
    ("invalid", "url(#cross)"),
    ("pending", "url(#dots)"),
    ("negative", "#d9d9d9"),
];

/// One horizontal bar a row: `rows` of (label, value, text); the bar's length is the
/// value over `max`.
fn bars(rows: &[(String, f64, String)], max: f64, dark_below: Option<f64>) -> Markup {
    // The labels' column is as wide as the longest label (a campus's 研究生公寓东区1座
    // as much as a city's 1号楼), up to a limit past which a label is cut, whole on
    // hover.
    let widest = rows.iter().map(|r| label_width(&r.0)).fold(0.0, f64::max);
    let label_w = widest.clamp(LABEL_WIDTHS.0, LABEL_WIDTHS.1) + 4.0;
    let (bar_w, row_h) = (380.0, 13.0);
    let height = rows.len() as f64 * row_h + 4.0;
    let scale = if max > 0.0 { bar_w / max } else { 0.0 };
    html! {
        svg width=(label_w + bar_w + 70.0) height=(height) role="img" {
            @for (i, (name, value, text)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 2.0;
                @let dark = dark_below.is_some_and(|d| *value < d);
                @let shown = fit_label(name, LABEL_WIDTHS.1);
                text x="0" y=(y + 9.5) {
                    @if matches!(shown, Cow::Owned(_)) { title { (name) } }
                    (shown)
                }
                rect x=(label_w) y=(y) width=(format!("{:.2}", value * scale)) height=(row_h - 3.0)
                    fill=(if dark { "#000" } else { "#8c8c8c" }) stroke="#000" stroke-width="0.3" {}
                text x=(label_w + value * scale + 3.0) y=(y + 9.5) { (text) }
            }
            @if let Some(d) = dark_below {
                line x1=(label_w + d * scale) y1="0" x2=(label_w + d * scale) y2=(height)
                    stroke="#000" stroke-width="0.6" stroke-dasharray="2,2" {}
            }
        }
    }
}

/// The narrowest and widest column of labels in [`bars`], in pixels.
const LABEL_WIDTHS: (f64, f64) = (66.0, 176.0);

/// About how wide `text` is in the charts' 9-pixel text: a wide character (Chinese)
/// the font size, a narrow one (ASCII) about 0.6 of it.
fn label_width(text: &str) -> f64 {
    text.chars().map(char_width).sum()
}

/// About how wide `c` is in the charts' text (see [`label_width`]).
fn char_width(c: char) -> f64 {
    if c.is_ascii() {
        5.4
    } else {
        9.0
    }
}

/// `text` as it fits in `width` pixels: whole, or cut with an ellipsis.
fn fit_label(text: &str, width: f64) -> Cow<'_, str> {
    if label_width(text) <= width {
        return Cow::Borrowed(text);
    }
    let mut used = char_width('…');
    let kept: String = text
        .chars()
        .take_while(|&c| {
            used += char_width(c);
            used <= width
        })
        .collect();
    Cow::Owned(kept + "…")
}

/// A stacked bar of `parts` (label, count, fill) with its legend.
fn stacked(parts: &[(&str, i64, &str)]) -> Markup {
    let total: i64 = parts.iter().map(|p| p.1).sum();
    let width = 560.0;
    let mut x = 0.0;
    let mut pieces = Vec::new();
    for (name, n, fill) in parts {
        let w = if total > 0 {
            *n as f64 / total as f64 * width
        } else {
            0.0
        };
        pieces.push((x, w, *fill, *name, *n));
        x += w;
    }
    html! {
        svg width=(width + 2.0) height="44" role="img" {
            @for (x, w, fill, _, _) in &pieces {
                rect x=(format!("{:.2}", x)) y="0" width=(format!("{:.2}", w)) height="16" fill=(fill) stroke="#000" stroke-width="0.4" {}
            }
            @for (i, (_, _, fill, name, n)) in pieces.iter().enumerate() {
                rect x=(i as f64 * 110.0) y="24" width="10" height="10" fill=(fill) stroke="#000" stroke-width="0.4" {}
                text x=(i as f64 * 110.0 + 14.0) y="33" { (label(name)) " " (n) }
            }
        }
    }
}

/// Each building's rank in natural order (0 for the first), computed once for every
/// view of a page: ties of a view's order, frequent when most buildings are fully
/// sampled, are broken by it. A round's buildings come in natural order (as
/// `buildings.parquet`'s rows do), so the rank is then the index and no name is
/// sorted; none is needed up to [`ALL_BUILDINGS_UP_TO`] buildings, where every one is
/// shown.
fn natural_rank(buildings: &[BuildingFigures]) -> Vec<u32> {
    if buildings.len() <= ALL_BUILDINGS_UP_TO {
        return Vec::new();
    }
    let names: Vec<&str> = buildings.iter().map(|b| b.name).collect();
    natural_ranks(&names)
}

/// The buildings a per-building view shows: every one up to [`ALL_BUILDINGS_UP_TO`]
/// that `has` a figure for the view, else the [`WORST_SHOWN`] worst of those by
/// `worse` (ties by `rank`, [`natural_rank`]), in natural order; and the rest, every
/// other building in the order they come, for a distribution (none when every
/// building is shown). The worst are selected, not sorted: a city may list a million
/// buildings (households), and a page has several views.
fn shown<'b, 'a>(
    buildings: &'b [BuildingFigures<'a>],
    rank: &[u32],
    worse: impl Fn(&BuildingRow, &BuildingRow) -> std::cmp::Ordering,
    has: impl Fn(&BuildingRow) -> bool,
) -> Shown<'b, 'a> {
    if buildings.len() <= ALL_BUILDINGS_UP_TO {
        return (
            buildings.iter().filter(|b| has(b.row)).collect(),
            Vec::new(),
        );
    }
    let mut kept: Vec<usize> = (0..buildings.len())
        .filter(|&i| has(buildings[i].row))
        .collect();
    if kept.len() > WORST_SHOWN {
        // Ranks are distinct, so the order is total and the worst are the same
        // buildings whatever order the selection meets them in.
        kept.select_nth_unstable_by(WORST_SHOWN - 1, |&a, &b| {
            worse(buildings[a].row, buildings[b].row).then(rank[a].cmp(&rank[b]))
        });
        kept.truncate(WORST_SHOWN);
    }
    kept.sort_unstable_by_key(|&i| rank[i]);
    let mut is_kept = vec![false; buildings.len()];
    for &i in &kept {
        is_kept[i] = true;
    }
    let rest = (0..buildings.len())
        .filter(|&i| !is_kept[i])
        .map(|i| &buildings[i])
        .collect();
    (kept.into_iter().map(|i| &buildings[i]).collect(), rest)
}

/// The order of buildings from the lowest coverage (a building without people to
/// sample counts as covered), the most missed first on a tie.
fn lowest_coverage(a: &BuildingRow, b: &BuildingRow) -> std::cmp::Ordering {
    a.coverage()
        .unwrap_or(1.0)
        .total_cmp(&b.coverage().unwrap_or(1.0))
        .then(b.missing().cmp(&a.missing()))
}

/// The buildings a view shows, and the rest.
type Shown<'b, 'a> = (Vec<&'b BuildingFigures<'a>>, Vec<&'b BuildingFigures<'a>>);

/// Bins of a distribution: from (inclusive), to (exclusive), label.
type Bins = [(f64, f64, &'static str)];

/// Coverage bins.
const COVERAGE_BINS: [(f64, f64, &str); 6] = [
    (0.0, 0.90, "90% 以下"),
    (0.90, 0.95, "90%–95%"),
    (0.95, 0.98, "95%–98%"),
    (0.98, 0.99, "98%–99%"),
    (0.99, 1.0, "99%–100%"),
    (1.0, f64::INFINITY, "100%"),
];

/// Bins of positive and suspect tubes in a building.
const POOL_BINS: [(f64, f64, &str); 5] = [
    (0.0, 1.0, "0 管"),
    (1.0, 2.0, "1 管"),
    (2.0, 3.0, "2 管"),
    (3.0, 6.0, "3–5 管"),
    (6.0, f64::INFINITY, "6 管及以上"),
];

/// Bins of people missed in a building.
const MISSING_BINS: [(f64, f64, &str); 6] = [
    (0.0, 1.0, "0 人"),
    (1.0, 2.0, "1 人"),
    (2.0, 6.0, "2–5 人"),
    (6.0, 11.0, "6–10 人"),
    (11.0, 21.0, "11–20 人"),
    (21.0, f64::INFINITY, "21 人及以上"),
];

/// Bins of a building's median turnaround, in hours.
const TURNAROUND_BINS: [(f64, f64, &str); 5] = [
    // A result dated before its swab (a clock set wrong) is no long turnaround.
    (f64::NEG_INFINITY, 6.0, "6 小时以内"),
    (6.0, 12.0, "6–12 小时"),
    (12.0, 24.0, "12–24 小时"),
    (24.0, 48.0, "24–48 小时"),
    (48.0, f64::INFINITY, "48 小时及以上"),
];

/// How the buildings a view does not show spread over `bins` of `value`: a bar a bin,
/// and, with `none`, how many have no value (`none` says why).
fn distribution(
    rest: &[&BuildingFigures],
    what: &str,
    bins: &Bins,
    value: impl Fn(&BuildingRow) -> Option<f64>,
    none: Option<&str>,
) -> Markup {
    let mut counts = vec![0i64; bins.len()];
    let mut without = 0;
    for b in rest {
        match value(b.row) {
            Some(v) => {
                let k = bins
                    .iter()
                    .position(|(lo, hi, _)| v >= *lo && v < *hi)
                    .unwrap_or(bins.len() - 1);
                counts[k] += 1;
            }
            None => without += 1,
        }
    }
    let rows: Vec<(String, f64, String)> = bins
        .iter()
        .zip(&counts)
        .map(|((_, _, name), &n)| (name.to_string(), n as f64, count(n, "栋")))
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0) as f64;
    html! {
        p.note {
            "其余 " (rest.len()) " 栋楼的" (what) "分布"
            @if let Some(none) = none { "（" (without) " 栋" (none) "）" }
            "："
        }
        (bars(&rows, max, None))
    }
}

/// The page of one round.
pub fn round_page(r: &RoundReport) -> String {
    let sum =
        |f: fn(&BuildingRow) -> u32| r.buildings.iter().map(|b| i64::from(f(b.row))).sum::<i64>();
    let (expected, sampled, missing) = (
        sum(|b| b.expected),
        sum(|b| b.sampled),
        sum(|b| b.missing()),
    );
    let coverage = (expected > 0).then(|| sampled as f64 / expected as f64);
    // People off the roster are on the retest list and may be confirmed or overdue:
    // the totals count them, though no building does.
    let [off_cleared, off_confirmed, off_open, _] = r.off_roster;
    let off_listed = off_cleared + off_confirmed + off_open;
    let to_retest = sum(|b| b.to_retest) + off_listed;
    let confirmed = sum(|b| b.confirmed_positive) + off_confirmed;
    let [cleared, confirmed_entries, open, overdue] = r.closure;
    let [positive, suspect, invalid, pending, negative] = r.tubes;
    let earlier_overdue: i64 = r.earlier_overdue.iter().map(|(_, n)| n).sum();
    let earlier_rounds = r
        .earlier_overdue
        .iter()
        .map(|(round, n)| format!("{round} {n} 人"))
        .collect::<Vec<_>>()
        .join("、");
    let zero = positive == 0
        && confirmed == 0
        && overdue == 0
        && r.positive_orphans == 0
        && earlier_overdue == 0;
    let title = format!("混采核酸检测日报 · {}", r.round);
    let figure = |name: &str, value: String| {
        html! { span data-figure=(name) { (value) } }
    };
    let rank = natural_rank(&r.buildings);
    let (cov_shown, cov_rest) = shown(&r.buildings, &rank, lowest_coverage, |_| true);
    let coverage_rows: Vec<(String, f64, String)> = cov_shown
        .iter()
        .map(|b| {
            (
                b.name.to_string(),
                b.row.coverage().unwrap_or(0.0) * 100.0,
                percent(b.row.coverage()),
            )
        })
        .collect();
    let pools_of = |b: &BuildingRow| b.positive_tubes + b.suspect_tubes;
    let (pools, pool_rest) = shown(
        &r.buildings,
        &rank,
        |a, b| {
            (pools_of(b), b.positive_tubes, b.to_retest).cmp(&(
                pools_of(a),
                a.positive_tubes,
                a.to_retest,
            ))
        },
        |b| pools_of(b) > 0,
    );
    let (miss_shown, miss_rest) = shown(
        &r.buildings,
        &rank,
        |a, b| b.missing().cmp(&a.missing()),
        |_| true,
    );
    let missing_rows: Vec<(String, f64, String)> = miss_shown
        .iter()
        .map(|b| {
            (
                b.name.to_string(),
                b.row.missing() as f64,
                count(b.row.missing(), "人"),
            )
        })
        .collect();
    let max_missing = missing_rows.iter().map(|m| m.1).fold(0.0, f64::max);
    let turnaround = |b: &BuildingRow| b.median_turnaround_hours.unwrap_or(0.0);
    let (turn_shown, turn_rest) = shown(
        &r.buildings,
        &rank,
        |a, b| turnaround(b).total_cmp(&turnaround(a)),
        |b| b.median_turnaround_hours.is_some(),
    );
    let turn_rows: Vec<(String, f64, String)> = turn_shown
        .iter()
        .map(|b| {
            (
                b.name.to_string(),
                b.row.median_turnaround_hours.unwrap_or(0.0),
                hours(b.row.median_turnaround_hours),
            )
        })
        .collect();
    let max_turn = turn_rows.iter().map(|t| t.1).fold(0.0, f64::max);
    let body = html! {
        h1 { (title) }
        p.meta {
            "截至 " span data-figure="as_of" { (crate::time::format_local(r.as_of)) }
            "（复核时限按此时刻判定）"
            @if !r.other_rounds.is_empty() {
                "；本次运行另含轮次：" (r.other_rounds.join("、"))
            }
        }
        @if zero {
            p.zero data-figure="zero_report" { "零报告：本轮无阳性管、无确诊、无超时未复核。" }
        } @else {
            p.alarm data-figure="zero_report" {
                "非零报告：阳性管 " (positive) " 管，确诊阳性 " (confirmed) " 人，超时未复核 " (overdue) " 人。"
                @if r.positive_orphans > 0 {
                    "另有阳性结果 " (figure("positive_orphans", count(r.positive_orphans as i64, "条")))
                    "对不上本轮已采样的试管（试管编号不符，或其采样行被退回），无人因此列入复核名单："
                    "请核对 anomalies.parquet 中的 orphan_result 与 rejects.csv。"
                }
                @if earlier_overdue > 0 {
                    "往轮仍有超时未复核 " (figure("earlier_overdue_retests", count(earlier_overdue, "人")))
                    "（" (earlier_rounds) "）。"
                }
            }
        }
        section {
            h2 { "总体情况" }
            table.totals {
                tr { th.name { "应检" } th.name { "已采" } th.name { "漏采" } th.name { "覆盖率" } th.name { "待复核" } th.name { "确诊阳性" } }
                tr {
                    td { (figure("expected", count(expected, "人"))) }
                    td { (figure("sampled", count(sampled, "人"))) }
                    td { (figure("missing", count(missing, "人"))) }
                    td { (figure("coverage", percent(coverage))) }
                    td { (figure("to_retest", count(to_retest, "人"))) }
                    td { (figure("confirmed_positive", count(confirmed, "人"))) }
                }
            }
            @if off_listed > 0 {
                p.note {
                    "待复核含不在花名册的 " (figure("off_roster_retests", count(off_listed, "人")))
                    "（已采样，未计入各楼栋）。"
                }
            }
        }
        section {
            h2 { "各楼栋采样覆盖率" }
            @if !cov_rest.is_empty() {
                p.note { "楼栋超过 " (ALL_BUILDINGS_UP_TO) " 栋，下图列出覆盖率最低的 " (WORST_SHOWN) " 栋。" }
            }
            (bars(&coverage_rows, 100.0, Some(95.0)))
            p.note { "虚线为 95%；低于 95% 的楼栋以黑色标出。" }
            @if !cov_rest.is_empty() {
                (distribution(&cov_rest, "采样覆盖率", &COVERAGE_BINS, |b| b.coverage(), Some("无应检人员")))
            }
        }
        section {
            h2 { "试管结果" }
            p {
                "共 " (figure("tubes", count(positive + suspect + invalid + pending + negative, "管")))
                "：阳性 " (figure("positive_tubes", count(positive, "管")))
                "，可疑 " (figure("suspect_tubes", count(suspect, "管")))
                "，无效 " (figure("invalid_tubes", count(invalid, "管")))
                "，待检 " (figure("pending_tubes", count(pending, "管")))
                "，阴性 " (figure("negative_tubes", count(negative, "管"))) "。"
            }
            (stacked(&[
                ("positive", positive, CLASS_FILLS[0].1),
                ("suspect", suspect, CLASS_FILLS[1].1),
                ("invalid", invalid, CLASS_FILLS[2].1),
                ("pending", pending, CLASS_FILLS[3].1),
                ("negative", negative, CLASS_FILLS[4].1),
            ]))
        }
        section {
            h2 { "阳性及可疑混管（按楼栋）" }
            @if !pool_rest.is_empty() {
                p.note { "楼栋超过 " (ALL_BUILDINGS_UP_TO) " 栋，列出阳性及可疑管最多的 " (WORST_SHOWN) " 栋中有阳性或可疑管的楼栋。" }
            }
            @if pools.is_empty() {
                p { "无。" }
            } @else {
                table {
                    tr { th.name { "楼栋" } th { "阳性管" } th { "可疑管" } th { "待复核" } th { "确诊阳性" } }
                    @for b in &pools {
                        tr data-building=(b.name) {
                            td.name { (b.name) }
                            td { (count(b.row.positive_tubes, "管")) }
                            td { (count(b.row.suspect_tubes, "管")) }
                            td { (count(b.row.to_retest, "人")) }
                            td { (count(b.row.confirmed_positive, "人")) }
                        }
                    }
                }
            }
            @if !pool_rest.is_empty() {
                (distribution(&pool_rest, "阳性及可疑管数", &POOL_BINS, |b| Some(pools_of(b) as f64), None))
            }
        }
        section {
            h2 { "复核闭环" }
            p {
                "待复核 " (count(to_retest, "人")) "：已排除 " (figure("cleared", count(cleared, "人")))
                "，确诊 " (figure("confirmed_entries", count(confirmed_entries, "人")))
                "，未闭环 " (figure("open_retests", count(open, "人")))
                "（其中超时 " (figure("overdue_retests", count(overdue, "人"))) "）。"
                @if earlier_overdue > 0 {
                    "往轮未闭环且超时 " (count(earlier_overdue, "人")) "（" (earlier_rounds) "），列于下表，详见 closure.parquet。"
                }
            }
            (stacked(&[
                ("cleared", cleared, "#d9d9d9"),
                ("confirmed", confirmed_entries, "#000"),
                ("open", open - overdue, "url(#dots)"),
                ("overdue", overdue, "url(#cross)"),
            ]))
            @if !r.people.is_empty() {
                table {
                    tr { th.name { "学号/工号" } th.name { "姓名" } th.name { "楼栋" } th.name { "宿舍号" } th.name { "状态" } th.name { "截止时间" } }
                    @for p in &r.people {
                        tr {
                            td.name { (p.person_id) }
                            td.name { (p.name.unwrap_or("")) }
                            td.name { (p.building.unwrap_or("")) }
                            td.name { (p.room.unwrap_or("")) }
                            td.name {
                                @match (p.state, p.earlier_round) {
                                    ("confirmed", _) => "确诊阳性",
                                    (_, Some(round)) => { "超时未复核（" (round) "）" }
                                    _ => "超时未复核",
                                }
                            }
                            td.name { (p.due_at.map(crate::time::format_local).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        section {
            h2 { "各楼栋漏采人数" }
            @if !miss_rest.is_empty() {
                p.note { "楼栋超过 " (ALL_BUILDINGS_UP_TO) " 栋，列出漏采最多的 " (WORST_SHOWN) " 栋。" }
            }
            (bars(&missing_rows, max_missing, None))
            @if !miss_rest.is_empty() {
                (distribution(&miss_rest, "漏采人数", &MISSING_BINS, |b| Some(b.missing() as f64), None))
            }
        }
        section {
            h2 { "检测用时（采样至出结果，中位数）" }
            @if turn_rows.is_empty() {
                p { "结果未注明检测时间，无法计算。" }
            } @else {
                @if !turn_rest.is_empty() {
                    p.note { "楼栋超过 " (ALL_BUILDINGS_UP_TO) " 栋，列出用时最长的 " (WORST_SHOWN) " 栋。" }
                }
                (bars(&turn_rows, max_turn, None))
                @if !turn_rest.is_empty() {
                    (distribution(&turn_rest, "检测用时", &TURNAROUND_BINS, |b| b.median_turnaround_hours, Some("无检测时间")))
                }
            }
        }
        section {
            h2 { "异常与退回行" }
            table {
                tr { th.name { "异常类型" } th { "条数" } }
                @for (kind, n) in &r.anomalies {
                    tr data-anomaly=(kind) { td.name { (anomaly_label(kind)) } td { (n) } }
                }
                @if r.anomalies.is_empty() { tr { td.name { "无" } td { "0" } } }
            }
            table {
                tr { th.name { "文件" } th { "退回行数" } }
                @for (file, n) in &r.rejects {
                    tr { td.name { (file) } td { (n) } }
                }
                @if r.rejects.is_empty() { tr { td.name { "无" } td { "0" } } }
            }
        }
        @if !r.privacy.is_empty() {
            p.note { "个人信息保护：" (r.privacy.join("；")) }
        }
    };
    page(&title, body)
}

/// The Chinese name of an anomaly kind.
pub fn anomaly_label(kind: &str) -> &str {
    match kind {
        "unregistered_person" => "花名册外人员",
        "duplicate_sample" => "一人多管",
        "duplicate_row" => "重复采样记录",
        "overfull_tube" => "混管超员",
        "orphan_result" => "无采样的结果",
        "conflicting_results" => "结果不一致",
        "lab_call_mismatch" => "Ct 与判读不符",
        "tube_reused" => "试管重复使用",
        "sampled_on_leave" => "离校人员被采样",
        "mixed_buildings" => "跨楼栋混管",
        "retest_unlisted" => "名单外复核",
        "pool_all_negative" => "阳性混管单检全阴",
        "priority_pooled" => "重点人群混采",
        other => other,
    }
}

/// A round of a campaign for the history page.
pub struct RoundTrend<'a> {
    /// The round's label.
    pub round: &'a str,
    /// Its buildings' figures, in natural order.
    pub buildings: Vec<(String, BuildingRow)>,
}

/// The history page: coverage and positives across rounds.
pub fn history_page(rounds: &[RoundTrend], persistent: usize, streak: i64) -> String {
    let title = "核酸检测趋势报告".to_string();
    let totals: Vec<(i64, i64, i64, i64)> = rounds
        .iter()
        .map(|r| {
            let s = |f: fn(&BuildingRow) -> u32| {
                r.buildings
                    .iter()
                    .map(|(_, b)| i64::from(f(b)))
                    .sum::<i64>()
            };
            (
                s(|b| b.expected),
                s(|b| b.sampled),
                s(|b| b.positive_tubes),
                s(|b| b.confirmed_positive),
            )
        })
        .collect();
    // The buildings of the latest round; past 100, the 30 of lowest latest coverage,
    // and how the rest spread.
    let latest: Vec<BuildingFigures> = rounds
        .last()
        .map_or(&[][..], |r| r.buildings.as_slice())
        .iter()
        .map(|(name, row)| BuildingFigures { name, row })
        .collect();
    let (shown_now, rest) = shown(&latest, &natural_rank(&latest), lowest_coverage, |_| true);
    let names: Vec<&str> = shown_now.iter().map(|b| b.name).collect();
    // Each shown building's coverage in each round, from one pass over each round's
    // buildings (a city may list a million).
    let place: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(k, &name)| (name, k))
        .collect();
    let mut coverage = vec![vec![None; rounds.len()]; names.len()];
    for (k, r) in rounds.iter().enumerate() {
        // From the last, so that the first of a name is the one kept, as a scan finds it.
        for (name, b) in r.buildings.iter().rev() {
            if let Some(&at) = place.get(name.as_str()) {
                coverage[at][k] = b.coverage();
            }
        }
    }
    let series = |name: &str| -> Vec<Option<f64>> { coverage[place[name]].clone() };
    let body = html! {
        h1 { (title) }
        p.meta { "共 " span data-figure="rounds" { (rounds.len()) } " 轮："
            (rounds.iter().map(|r| r.round).collect::<Vec<_>>().join("、")) }
        p data-figure="persistent" { "连续 " (streak) " 轮及以上应检未检：" (persistent) " 人（见 persistent_missing.xlsx）。" }
        section {
            h2 { "各轮总体" }
            table {
                tr { th.name { "轮次" } th { "应检" } th { "已采" } th { "覆盖率" } th { "阳性管" } th { "确诊阳性" } }
                @for (r, (e, s, p, c)) in rounds.iter().zip(&totals) {
                    tr data-round=(r.round) {
                        td.name { (r.round) }
                        td { (count(*e, "人")) }
                        td { (count(*s, "人")) }
                        td { (percent((*e > 0).then(|| *s as f64 / *e as f64))) }
                        td { (count(*p, "管")) }
                        td { (count(*c, "人")) }
                    }
                }
            }
            (bars(&rounds.iter().zip(&totals).map(|(r, t)| (r.round.to_string(), t.2 as f64, count(t.2, "管"))).collect::<Vec<_>>(),
                totals.iter().map(|t| t.2).max().unwrap_or(0) as f64, None))
        }
        section {
            h2 { "各楼栋覆盖率走势" }
            @if !rest.is_empty() {
                p.note { "楼栋超过 " (ALL_BUILDINGS_UP_TO) " 栋，列出最近一轮覆盖率最低的 " (WORST_SHOWN) " 栋。" }
            }
            (small_multiples(&names, &series, rounds.len()))
            @if !rest.is_empty() {
                (distribution(&rest, "最近一轮采样覆盖率", &COVERAGE_BINS, |b| b.coverage(), Some("无应检人员")))
            }
        }
    };
    page(&title, body)
}

/// A small line chart of coverage across rounds for each building.
fn small_multiples(
    names: &[&str],
    series: &dyn Fn(&str) -> Vec<Option<f64>>,
    rounds: usize,
) -> Markup {
    let (w, h, per_row) = (112.0, 46.0, 5usize);
    let rows = names.len().div_ceil(per_row);
    html! {
        svg width=(w * per_row as f64 + 10.0) height=(rows as f64 * (h + 16.0) + 4.0) role="img" {
            @for (i, name) in names.iter().enumerate() {
                @let (x0, y0) = ((i % per_row) as f64 * w, (i / per_row) as f64 * (h + 16.0));
                @let points = series(name);
                text x=(x0 + 2.0) y=(y0 + 9.0) { (name) " " (percent(points.last().copied().flatten())) }
                rect x=(x0 + 2.0) y=(y0 + 12.0) width=(w - 10.0) height=(h - 6.0) fill="none" stroke="#999" stroke-width="0.4" {}
                polyline fill="none" stroke="#000" stroke-width="1"
                    points=(points.iter().enumerate().filter_map(|(k, c)| c.map(|c| {
                        let x = x0 + 4.0 + if rounds > 1 { k as f64 * (w - 14.0) / (rounds - 1) as f64 } else { 0.0 };
                        let frac = (c.clamp(0.9, 1.0) - 0.9) / 0.1;
                        let y = y0 + 14.0 + (h - 10.0) * (1.0 - frac);
                        format!("{x:.1},{y:.1}")
                    })).collect::<Vec<_>>().join(" ")) {}
            }
        }
        p.note { "纵轴 90%–100%；每格一栋楼，自左至右为各轮。" }
    }
}

/// The whole page around `body`.
fn page(title: &str, body: Markup) -> String {
    let hash = base64_sha256(STYLE);
    let csp = format!("default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'");
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (patterns())
                (body)
            }
        }
    }
    .into_string()
}

/// The SHA-256 of `text`, base64, as a Content-Security-Policy hash names it.
fn base64_sha256(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::new();
    for chunk in digest.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::natural_cmp;

    /// Each building of `names` with its row of `rows`.
    fn figures<'a>(names: &'a [String], rows: &'a [BuildingRow]) -> Vec<BuildingFigures<'a>> {
        names
            .iter()
            .zip(rows)
            .map(|(name, row)| BuildingFigures { name, row })
            .collect()
    }

    /// Past [`ALL_BUILDINGS_UP_TO`] buildings a view shows the worst, the first in
    /// natural order among buildings alike (every building fully sampled, say), in
    /// natural order whatever order the buildings come in; the rest in their order.
    #[test]
    fn the_worst_shown_are_alike_buildings_first_in_natural_order() {
        let n = ALL_BUILDINGS_UP_TO + 50;
        let names: Vec<String> = (0..n)
            .map(|i| format!("公寓{}", (i * 37) % n + 1))
            .collect();
        let rows: Vec<BuildingRow> = (0..n)
            .map(|i| BuildingRow {
                // Two buildings worse than the rest, which are all alike (nobody
                // sampled: the missing are the expected).
                expected: u32::from(names[i] == "公寓100" || names[i] == "公寓7"),
                ..BuildingRow::default()
            })
            .collect();
        let buildings = figures(&names, &rows);
        let rank = natural_rank(&buildings);
        let (kept, rest) = shown(
            &buildings,
            &rank,
            |a, b| b.missing().cmp(&a.missing()),
            |_| true,
        );
        let numbers = |list: &[&BuildingFigures]| -> Vec<usize> {
            list.iter().map(|b| b.name[6..].parse().unwrap()).collect()
        };
        // The two worse ones, and the first 28 of the others.
        let mut expected: Vec<usize> = (1..=29).filter(|&k| k != 7).chain([7, 100]).collect();
        expected.sort_unstable();
        assert_eq!(numbers(&kept), expected);
        // The rest: every other building, in the order they came.
        let others: Vec<usize> = names
            .iter()
            .map(|name| name[6..].parse().unwrap())
            .filter(|k| !expected.contains(k))
            .collect();
        assert_eq!(numbers(&rest), others);
    }

    /// The history page shows, past 100 buildings, the 30 of lowest coverage in the
    /// latest round, the most missed first among buildings alike (as the round's page
    /// does): worked out from the counts read back, where a missing figure never set
    /// (0 for all) once left the ties to natural order alone.
    #[test]
    fn the_history_page_shows_the_most_missed_first_among_alike_coverage() {
        let n = ALL_BUILDINGS_UP_TO as u32 + 30;
        // Nobody sampled anywhere: every coverage 0%, building k missing 1 + k % 10.
        let buildings: Vec<(String, BuildingRow)> = (1..=n)
            .map(|k| {
                let row = BuildingRow {
                    expected: 1 + k % 10,
                    ..BuildingRow::default()
                };
                (format!("楼{k}栋"), row)
            })
            .collect();
        let rounds = [RoundTrend {
            round: "r1",
            buildings,
        }];
        let page = history_page(&rounds, 0, 2);
        // The 13 missing 10 and the 13 missing 9, then the first 4 of those missing 8.
        let shown = |k: u32| k % 10 == 9 || k % 10 == 8 || (k % 10 == 7 && k <= 37);
        for k in 1..=n {
            assert_eq!(page.contains(&format!("楼{k}栋")), shown(k), "building {k}");
        }
    }

    /// The worst a view shows are those a full sort by the view's order, then by name,
    /// puts first, with many ties, for a view some buildings have no figure for and one
    /// every building has, for buildings in natural order (ranked by their index) and in
    /// none.
    #[test]
    fn the_worst_shown_are_those_a_full_sort_puts_first() {
        let n = 5_000;
        let mut state = 7u64;
        let mut draw = |below: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % below
        };
        let rows: Vec<BuildingRow> = (0..n)
            .map(|_| BuildingRow {
                // Nobody sampled: the missing are the expected.
                expected: draw(4) as u32,
                median_turnaround_hours: (draw(3) > 0).then(|| draw(5) as f64),
                ..BuildingRow::default()
            })
            .collect();
        let natural: Vec<String> = (1..=n).map(|k| format!("楼{k}")).collect();
        let scrambled: Vec<String> = (0..n).map(|i| format!("楼{}", (i * 37) % n + 1)).collect();
        /// The names `shown` keeps, and those a full sort keeps.
        fn both(
            buildings: &[BuildingFigures],
            worse: impl Fn(&BuildingRow, &BuildingRow) -> std::cmp::Ordering,
            has: impl Fn(&BuildingRow) -> bool,
        ) -> (Vec<String>, Vec<String>) {
            let rank = natural_rank(buildings);
            let (kept, rest) = shown(buildings, &rank, &worse, &has);
            let with = buildings.iter().filter(|b| has(b.row)).count();
            assert_eq!(rest.len(), buildings.len() - with.min(WORST_SHOWN));
            let mut all: Vec<&BuildingFigures> = buildings.iter().filter(|b| has(b.row)).collect();
            all.sort_by(|a, b| worse(a.row, b.row).then(natural_cmp(a.name, b.name)));
            all.truncate(WORST_SHOWN);
            all.sort_by(|a, b| natural_cmp(a.name, b.name));
            let names_of = |list: &[&BuildingFigures]| -> Vec<String> {
                list.iter().map(|b| b.name.to_string()).collect()
            };
            (names_of(&kept), names_of(&all))
        }
        let turnaround = |b: &BuildingRow| b.median_turnaround_hours.unwrap_or(0.0);
        for names in [&natural, &scrambled] {
            let buildings = figures(names, &rows);
            let (kept, full) = both(
                &buildings,
                |a, b| turnaround(b).total_cmp(&turnaround(a)),
                |b| b.median_turnaround_hours.is_some(),
            );
            assert_eq!(kept, full);
            let (kept, full) = both(&buildings, |a, b| b.missing().cmp(&a.missing()), |_| true);
            assert_eq!(kept, full);
        }
    }

    /// A label is never under its bar: the labels' column grows with the longest (to a
    /// limit), and a label past the limit is cut, whole on hover.
    #[test]
    fn bar_labels_fit_their_column() {
        let row = |name: &str| (name.to_string(), 50.0, "50%".to_string());
        let start = |svg: &str| -> f64 {
            let at = svg.find("<rect x=\"").unwrap() + 9;
            svg[at..at + svg[at..].find('"').unwrap()].parse().unwrap()
        };
        let short = bars(&[row("1号楼")], 100.0, None).into_string();
        let campus = bars(&[row("1号楼"), row("研究生公寓东区1座")], 100.0, None).into_string();
        assert!(start(&campus) >= label_width("研究生公寓东区1座"));
        assert!(start(&campus) > start(&short));
        let long = "某市某区某街道某社区第十二网格研究生公寓东区甲座";
        let cut = bars(&[row(long)], 100.0, None).into_string();
        assert!(start(&cut) <= LABEL_WIDTHS.1 + 4.0);
        assert!(cut.contains(&format!("<title>{long}</title>")));
        // Cut by no more bytes than the ellipsis takes, a label is still whole on hover.
        let ascii = "Graduate Residence East Block 12A";
        let cut = bars(&[row(ascii)], 100.0, None).into_string();
        assert!(cut.contains(&format!("<title>{ascii}</title>")), "{cut}");
        let shown = fit_label(long, LABEL_WIDTHS.1);
        assert!(shown.ends_with('…') && label_width(&shown) <= LABEL_WIDTHS.1);
        assert!(long.starts_with(shown.trim_end_matches('…')));
    }

    #[test]
    fn the_style_hash_is_base64_of_sha256() {
        // echo -n "abc" | openssl dgst -sha256 -binary | base64
        assert_eq!(
            base64_sha256("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
