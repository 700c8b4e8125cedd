//! Stage 5: per-building figures and the missing list. No I/O here.

use crate::closure::{Closed, State};
use crate::ingest::roster::{Codes, Roster};
use crate::order::{invert, sort_listed};
use crate::reconcile::Reconciled;
use crate::record::{Class, Status, NONE};
use crate::retest::Entry;
use rayon::prelude::*;

/// The figures of one building in one round (see the contract for each definition).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildingRow {
    /// Index into the rounds.
    pub round: u32,
    /// Index into [`Roster::buildings`].
    pub building: u32,
    /// People not on leave.
    pub expected: i64,
    /// People on leave.
    pub on_leave: i64,
    /// Expected people with at least one sample row.
    pub sampled: i64,
    /// Expected people without a sample row.
    pub missing: i64,
    /// sampled / expected, `None` when nobody is expected.
    pub coverage: Option<f64>,
    /// Distinct tubes holding at least one roster person of the building.
    pub tubes: i64,
    /// Those tubes by class.
    pub positive_tubes: i64,
    /// Suspect tubes.
    pub suspect_tubes: i64,
    /// Invalid tubes.
    pub invalid_tubes: i64,
    /// Tubes without a result.
    pub pending_tubes: i64,
    /// Negative tubes.
    pub negative_tubes: i64,
    /// Distinct roster persons of the building on the retest list.
    pub to_retest: i64,
    /// Persons of the building whose individual retest was positive.
    pub confirmed_positive: i64,
    /// Retest-list entries of the building cleared by a negative retest.
    pub cleared: i64,
    /// Retest-list entries of the building not cleared or confirmed.
    pub open_retests: i64,
    /// Retest-list entries of the building whose deadline has passed.
    pub overdue_retests: i64,
    /// The median, over the building's tubes with both times, of the hours from a
    /// tube's first sample to its test; `None` when no tube has both.
    pub median_turnaround_hours: Option<f64>,
}

/// The per-building table: every roster building in every round, sorted by round then
/// building in natural order; `closed` holds the closure of each entry of `retests`.
/// Counts are written straight into each building's row of the table: a city that
/// reports by household has a million buildings, and a table by building code beside
/// it, copied over in order, was fresh memory of its size.
pub fn buildings(
    roster: &Roster,
    rec: &Reconciled,
    retests: &[Entry],
    closed: &Closed,
) -> Vec<BuildingRow> {
    let nb = roster.buildings.len();
    let rounds = rec.tube_of.len();
    // Where each building's row is within a round's rows: its rank in natural order,
    // which the roster worked out as it numbered its people.
    let place = &roster.building_rank;
    let order = invert(place);
    let slot = |round: u32, building: u32| round as usize * nb + place[building as usize] as usize;
    // Expected and on-leave people do not depend on the round: both counted in one pass,
    // a run of one building's people at a time.
    let runs = building_runs(&roster.building);
    let n = roster.len();
    let statuses = roster.status.values();
    let away = |people: &std::ops::Range<usize>| {
        statuses.map_or(0, |s| {
            s[people.clone()]
                .iter()
                .filter(|&&s| s == Status::OnLeave)
                .count()
        })
    };
    let present = per_building(&runs, n, nb, |people| {
        let away = away(&people);
        [(people.len() - away) as i64, away as i64]
    });
    let mut out: Vec<BuildingRow> = (0..rounds * nb)
        .into_par_iter()
        .map(|i| {
            let b = order[i % nb] as usize;
            let [expected, on_leave] = present[b];
            BuildingRow {
                round: (i / nb) as u32,
                building: b as u32,
                expected,
                on_leave,
                ..BuildingRow::default()
            }
        })
        .collect();
    out.par_chunks_mut(nb.max(1))
        .zip(&rec.tube_of)
        .for_each(|(table, tube_of)| {
            // Sampled and expected: swabbed, and not on leave.
            let sampled = per_building(&runs, n, nb, |people| {
                let swabbed = &tube_of[people.clone()];
                let count = match statuses {
                    None => swabbed.iter().filter(|&&t| t != NONE).count(),
                    Some(s) => swabbed
                        .iter()
                        .zip(&s[people])
                        .filter(|&(&t, &s)| t != NONE && s != Status::OnLeave)
                        .count(),
                };
                [count as i64]
            });
            for (row, &b) in table.iter_mut().zip(&order) {
                row.sampled = sampled[b as usize][0];
            }
        });
    for (round, confirmed) in closed.confirmed.iter().enumerate() {
        for &p in confirmed {
            out[slot(round as u32, roster.building.get(p as usize))].confirmed_positive += 1;
        }
    }
    // Tubes per building: each tube counts once for each building it holds people of.
    // The buildings of each tube are found on the workers, a piece of tubes each (a
    // city's tubes hold tens of millions of members); then counted in order.
    let in_building: Vec<Vec<(u32, u32)>> = rec
        .tubes
        .par_chunks(TUBES)
        .enumerate()
        .map(|(k, tubes)| {
            let mut seen: Vec<u32> = Vec::new();
            let mut found = Vec::with_capacity(tubes.len());
            for (t, tube) in (k * TUBES..).zip(tubes) {
                seen.clear();
                seen.extend(
                    rec.members_of(tube)
                        .iter()
                        .filter(|m| m.person < rec.roster_len)
                        .map(|m| roster.building.get(m.person as usize)),
                );
                seen.sort_unstable();
                seen.dedup();
                found.extend(seen.iter().map(|&b| (t as u32, b)));
            }
            found
        })
        .collect();
    // Turnarounds are counted by row here, and written in the second pass below.
    let tested = |t: u32| {
        let tube = &rec.tubes[t as usize];
        let tested_at = tube
            .result()
            .and_then(|r| rec.results[r as usize].tested_at.get());
        tested_at.map(|at| (at - tube.first_sampled_at) as f64 / 3_600_000_000.0)
    };
    let mut turnarounds = vec![0usize; out.len()];
    for &(t, b) in in_building.iter().flatten() {
        let tube = &rec.tubes[t as usize];
        let at = slot(tube.round, b);
        turnarounds[at] += usize::from(tested(t).is_some());
        let row = &mut out[at];
        row.tubes += 1;
        *match tube.class() {
            Class::Positive => &mut row.positive_tubes,
            Class::Suspect => &mut row.suspect_tubes,
            Class::Invalid => &mut row.invalid_tubes,
            Class::Pending => &mut row.pending_tubes,
            Class::Negative => &mut row.negative_tubes,
        } += 1;
    }
    // The retest list holds each person once per round already.
    for (e, c) in retests.iter().zip(&closed.closures) {
        if e.person < rec.roster_len {
            let row = &mut out[slot(e.round, roster.building.get(e.person as usize))];
            row.to_retest += 1;
            row.cleared += i64::from(c.state == State::Cleared);
            row.open_retests += i64::from(!c.state.is_closed());
            row.overdue_retests += i64::from(c.overdue == Some(true));
        }
    }
    // Each row's turnarounds, one stretch of a list grouped by row (a counting sort: a
    // list of its own for each of a million rows was a million allocations). Each
    // stretch is filled from its end; the median does not depend on the order.
    let mut end = 0;
    for count in &mut turnarounds {
        end += *count;
        *count = end;
    }
    let mut hours = vec![0.0; end];
    for &(t, b) in in_building.iter().flatten() {
        if let Some(h) = tested(t) {
            let at = &mut turnarounds[slot(rec.tubes[t as usize].round, b)];
            *at -= 1;
            hours[*at] = h;
        }
    }
    drop(in_building);
    // Each row's stretch now starts where `turnarounds` says and ends where the next
    // row's starts.
    let mut stretches: Vec<&mut [f64]> = Vec::with_capacity(out.len());
    let mut rest = &mut hours[..];
    for i in 0..out.len() {
        let end = turnarounds.get(i + 1).copied().unwrap_or(end);
        let (stretch, after) = rest.split_at_mut(end - turnarounds[i]);
        stretches.push(stretch);
        rest = after;
    }
    out.par_iter_mut()
        .zip(stretches)
        .for_each(|(row, stretch)| {
            row.median_turnaround_hours = median(stretch);
            row.missing = row.expected - row.sampled;
            row.coverage = (row.expected > 0).then(|| row.sampled as f64 / row.expected as f64);
        });
    out
}

/// The runs of one building's people, in order: each run's building and its first
/// person (a run ends where the next starts, the last at the roster's end). The roster
/// numbers its people building by building (`Roster::renumber`), so there are as many
/// runs as buildings, and one more where a building crosses the end of a worker's piece;
/// any order gives the same sums ([`per_building`]), with more runs.
/// Found on the workers, a piece of people each: a city has tens of millions.
fn building_runs(building: &Codes) -> Vec<(u32, usize)> {
    let n = building.len();
    let piece = n.div_ceil(4 * rayon::current_num_threads()).max(PIECE);
    let pieces: Vec<Vec<(u32, usize)>> = (0..n.div_ceil(piece))
        .into_par_iter()
        .map(|k| {
            let mut runs: Vec<(u32, usize)> = Vec::new();
            for p in k * piece..((k + 1) * piece).min(n) {
                let b = building.get(p);
                if runs.last().is_none_or(|&(last, _)| last != b) {
                    runs.push((b, p));
                }
            }
            runs
        })
        .collect();
    pieces.concat()
}

/// The sums over the people of each of `nb` buildings: `count` gives the `N` sums of a
/// run of people (a range of the roster's `n`, one building's, from [`building_runs`]),
/// so that a run is counted as one slice, and several sums are made in one pass. Runs
/// are counted on the workers, then added up in one table. Integer sums, so the order
/// they are added in changes nothing.
fn per_building<const N: usize>(
    runs: &[(u32, usize)],
    n: usize,
    nb: usize,
    count: impl Fn(std::ops::Range<usize>) -> [i64; N] + Sync,
) -> Vec<[i64; N]> {
    let sums: Vec<[i64; N]> = (0..runs.len())
        .into_par_iter()
        .with_min_len(RUNS)
        .map(|i| count(runs[i].1..runs.get(i + 1).map_or(n, |r| r.1)))
        .collect();
    let mut table = vec![[0i64; N]; nb];
    for (&(b, _), sum) in runs.iter().zip(sums) {
        for (t, s) in table[b as usize].iter_mut().zip(sum) {
            *t += s;
        }
    }
    table
}

/// The fewest runs [`per_building`] gives a worker at a time.
const RUNS: usize = 1 << 10;

/// The tubes [`buildings`] gives a worker at a time.
const TUBES: usize = 1 << 10;

/// The fewest people [`building_runs`] gives a worker at a time (but for the last piece).
const PIECE: usize = 1 << 16;

/// The median of `values` (the mean of the two middle ones for an even count), or
/// `None` for none. Sorts `values`.
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// One expected person never sampled in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingEntry {
    /// Index into the rounds.
    pub round: u32,
    /// Index into the roster.
    pub person: u32,
}

/// The missing list (漏采): expected people without a sample row, in no particular
/// order (see [`sort_missing`]).
pub fn missing(roster: &Roster, rec: &Reconciled) -> Vec<MissingEntry> {
    let mut list = Vec::new();
    for (round, tube_of) in rec.tube_of.iter().enumerate() {
        debug_assert_eq!(tube_of.len(), roster.len(), "a tube (or none) a person");
        // Found on the workers; rayon keeps the people in order.
        let round_list: Vec<MissingEntry> = tube_of
            .par_iter()
            .enumerate()
            .filter(|&(p, tube)| *tube == NONE && roster.status[p] != Status::OnLeave)
            .map(|(i, _)| MissingEntry {
                round: round as u32,
                person: i as u32,
            })
            .collect();
        list.extend(round_list);
    }
    list
}

/// Sorts the missing list by round, building, room and person_id as the outputs show
/// it (`shown`), buildings and rooms in natural order ([`crate::order::listed_cmp`]).
pub fn sort_missing<K: Ord>(
    list: &mut [MissingEntry],
    roster: &Roster,
    shown: &(dyn Fn(u32) -> K + Sync),
) {
    sort_listed(list, roster, shown, |m| m.round, |m| m.person);
}

#[cfg(test)]
mod tests {
    use super::{building_runs, per_building, PIECE};
    use crate::ingest::roster::Codes;

    #[test]
    fn people_are_counted_in_their_building_whatever_the_pieces() {
        // Several pieces, buildings interleaved (a run of one building a person), then
        // building by building (runs across the pieces' ends, a building coming back),
        // one building nobody lives in.
        let n = 5 * PIECE + 17;
        let interleaved: Vec<u32> = (0..n as u32).map(|p| (p * 7919 + p / 3) % 97).collect();
        let grouped: Vec<u32> = (0..n as u32).map(|p| (p / 4099) % 61).collect();
        for (layout, building) in [("interleaved", interleaved), ("grouped", grouped)] {
            // Two counts in one pass: the people counted, and their numbers' last digit.
            let one = |p: usize| {
                let counted = !p.is_multiple_of(3) && building[p] != 5;
                [i64::from(counted), (p % 10) as i64 * i64::from(counted)]
            };
            let counts = |people: std::ops::Range<usize>| {
                people
                    .map(one)
                    .fold([0, 0], |[a, b], [c, d]| [a + c, b + d])
            };
            let mut expected = vec![[0i64; 2]; 98];
            for (p, &b) in building.iter().enumerate() {
                let [counted, digit] = one(p);
                expected[b as usize][0] += counted;
                expected[b as usize][1] += digit;
            }
            let short = Codes::Narrow(building.iter().map(|&b| b as u16).collect());
            for (codes, name) in [(Codes::Wide(building.clone()), "4"), (short, "2")] {
                for threads in [1, 3] {
                    let pool = crate::testing::pool(threads);
                    let found = pool.install(|| {
                        let runs = building_runs(&codes);
                        // Every run holds its building's people only, and starts after
                        // the one before.
                        for w in runs.windows(2) {
                            assert!(w[0].1 < w[1].1);
                            assert!((w[0].1..w[1].1).all(|p| codes.get(p) == w[0].0));
                        }
                        per_building(&runs, n, 98, counts)
                    });
                    assert_eq!(found, expected, "{layout}, {threads} threads, {name} bytes");
                }
            }
            assert_eq!(expected[5], [0, 0]);
            assert_eq!(expected[97], [0, 0]);
        }
        let none = Codes::Wide(Vec::new());
        assert!(building_runs(&none).is_empty());
        assert_eq!(
            per_building(&[], 0, 3, |people| [people.len() as i64]),
            vec![[0], [0], [0]]
        );
    }
}
