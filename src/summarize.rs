//! Stage 5: per-building figures and the missing list. No I/O here.

use crate::closure::{Closed, State};
use crate::ingest::roster::{Codes, Roster};
use crate::order::{invert, sort_listed};
use crate::reconcile::Reconciled;
use crate::record::{Class, Status, NONE};
use crate::retest::Entry;
use rayon::prelude::*;
use std::ops::Range;

/// The figures of one building in one round (see the contract for each definition).
/// Counts of people, tubes and entries are held in 4 bytes (a round holds fewer than
/// 4,294,967,295 people and tubes: the roster and reconcile number them in 4 bytes,
/// and a retest entry is a person's in a round), and `missing` and
/// `coverage` are worked out from them: a city that reports by household has a million
/// rows a round, each new memory (160 bytes a row when every count took 8, and the two
/// figures were held beside them; 80 now).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildingRow {
    /// Index into the rounds.
    pub round: u32,
    /// Index into [`Roster::buildings`].
    pub building: u32,
    /// People not on leave.
    pub expected: u32,
    /// People on leave.
    pub on_leave: u32,
    /// Expected people with at least one sample row.
    pub sampled: u32,
    /// Distinct tubes holding at least one roster person of the building.
    pub tubes: u32,
    /// Those tubes by class.
    pub positive_tubes: u32,
    /// Suspect tubes.
    pub suspect_tubes: u32,
    /// Invalid tubes.
    pub invalid_tubes: u32,
    /// Tubes without a result.
    pub pending_tubes: u32,
    /// Negative tubes.
    pub negative_tubes: u32,
    /// Distinct roster persons of the building on the retest list.
    pub to_retest: u32,
    /// Persons of the building whose individual retest was positive.
    pub confirmed_positive: u32,
    /// Retest-list entries of the building cleared by a negative retest.
    pub cleared: u32,
    /// Retest-list entries of the building not cleared or confirmed.
    pub open_retests: u32,
    /// Retest-list entries of the building whose deadline has passed.
    pub overdue_retests: u32,
    /// The median, over the building's tubes with both times, of the hours from a
    /// tube's first sample to its test; `None` when no tube has both.
    pub median_turnaround_hours: Option<f64>,
}

impl BuildingRow {
    /// Expected people without a sample row: only expected people are counted
    /// sampled (a row read back from a history that says otherwise misses none).
    pub fn missing(&self) -> u32 {
        self.expected.saturating_sub(self.sampled)
    }

    /// sampled / expected, `None` when nobody is expected.
    pub fn coverage(&self) -> Option<f64> {
        (self.expected > 0).then(|| f64::from(self.sampled) / f64::from(self.expected))
    }
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
    // The people counted a building at a time, in the order of the table's rows: the
    // roster numbers its people building by building in natural order, so a row's
    // people are one stretch, and the rows are read and written front to back.
    let spans = building_spans(&roster.building, place);
    let statuses = roster.status.values();
    // People on leave, and people swabbed and not on leave.
    let count = |tube_of: &[u32], people: Range<usize>| {
        let swabbed = &tube_of[people.clone()];
        match statuses {
            None => [0, swabbed.iter().filter(|&&t| t != NONE).count()],
            Some(s) => swabbed
                .iter()
                .zip(&s[people])
                .fold([0, 0], |[away, sampled], (&t, &s)| {
                    let on_leave = s == Status::OnLeave;
                    [
                        away + usize::from(on_leave),
                        sampled + usize::from(t != NONE && !on_leave),
                    ]
                }),
        }
    };
    let mut out: Vec<BuildingRow> = (0..rounds * nb)
        .into_par_iter()
        .map(|i| {
            let (round, rank) = (i / nb, i % nb);
            let people = spans[rank]..spans[rank + 1];
            let [on_leave, sampled] =
                in_pieces(people.clone(), |piece| count(&rec.tube_of[round], piece));
            BuildingRow {
                round: round as u32,
                building: order[rank],
                // A building's people number fewer than the roster's, all numbered in
                // 4 bytes.
                expected: (people.len() - on_leave) as u32,
                on_leave: on_leave as u32,
                sampled: sampled as u32,
                ..BuildingRow::default()
            }
        })
        .collect();
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
            row.cleared += u32::from(c.state == State::Cleared);
            row.open_retests += u32::from(!c.state.is_closed());
            row.overdue_retests += u32::from(c.overdue == Some(true));
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
        });
    out
}

/// Where each building's people are, by the building's rank in natural order
/// (`rank`): rank `k`'s people are `spans[k]..spans[k + 1]`. The roster numbers its
/// people building by building in that order ([`Roster`]), so each building's people
/// are one stretch; the stretches' starts are found on the workers, a piece of people
/// each (a city has tens of millions), where the building changes.
fn building_spans(building: &Codes, rank: &[u32]) -> Vec<usize> {
    let n = building.len();
    let piece = n.div_ceil(4 * rayon::current_num_threads()).max(PIECE);
    let starts: Vec<Vec<(u32, usize)>> = (0..n.div_ceil(piece))
        .into_par_iter()
        .map(|k| {
            let mut starts = Vec::new();
            let mut last = k.checked_sub(1).map(|_| building.get(k * piece - 1));
            for p in k * piece..((k + 1) * piece).min(n) {
                let b = building.get(p);
                if last != Some(b) {
                    starts.push((rank[b as usize], p));
                    last = Some(b);
                }
            }
            starts
        })
        .collect();
    let mut spans = vec![n; rank.len() + 1];
    // The first rank not given its start yet; one without people starts (and ends)
    // where the next one starts.
    let mut next = 0;
    for (k, p) in starts.into_iter().flatten() {
        let k = k as usize;
        assert!(
            k >= next,
            "the roster numbers its people building by building, in natural order"
        );
        spans[next..=k].fill(p);
        next = k + 1;
    }
    spans
}

/// The sums `count` gives of `people`, counted on the workers a piece at a time when
/// they are many (a campus of one building).
fn in_pieces<const N: usize>(
    people: Range<usize>,
    count: impl Fn(Range<usize>) -> [usize; N] + Sync,
) -> [usize; N] {
    if people.len() <= PIECE {
        return count(people);
    }
    let Range { start, end } = people;
    (start..end)
        .step_by(PIECE)
        .collect::<Vec<usize>>()
        .into_par_iter()
        .map(|from| count(from..(from + PIECE).min(end)))
        .reduce(|| [0; N], |a, b| std::array::from_fn(|i| a[i] + b[i]))
}

/// The tubes [`buildings`] gives a worker at a time.
const TUBES: usize = 1 << 10;

/// The fewest people [`building_spans`] and [`in_pieces`] give a worker at a time (but
/// for the last piece).
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
    use super::{building_spans, in_pieces, BuildingRow, PIECE};
    use crate::ingest::roster::Codes;

    /// A building's row in a round takes 80 bytes (a city that reports by household has
    /// a million a round); its missing and coverage are worked out from its counts.
    #[test]
    fn building_rows_are_small_and_their_figures_follow_their_counts() {
        assert_eq!(std::mem::size_of::<BuildingRow>(), 80);
        let row = |expected, sampled| BuildingRow {
            expected,
            sampled,
            ..BuildingRow::default()
        };
        assert_eq!((row(0, 0).missing(), row(0, 0).coverage()), (0, None));
        assert_eq!((row(8, 6).missing(), row(8, 6).coverage()), (2, Some(0.75)));
        assert_eq!((row(5, 5).missing(), row(5, 5).coverage()), (0, Some(1.0)));
    }

    #[test]
    fn each_building_s_people_are_found_as_one_stretch_whatever_the_pieces() {
        // 61 buildings whose codes are not their ranks, people numbered by rank as the
        // roster numbers them. Ragged: stretches of many pieces, stretches of one
        // person, stretches crossing the pieces' ends, and ranks nobody lives in (first,
        // inside and last). Aligned: 8 × PIECE people, so that the pieces (PIECE people
        // each on 3 threads, 2 × PIECE on one) end where a stretch ends, the last
        // person of each piece a stretch of one.
        let rank: Vec<u32> = (0..61u32).map(|b| (b * 37 + 11) % 61).collect();
        let mut code_of_rank = vec![0u32; 61];
        for (b, &k) in rank.iter().enumerate() {
            code_of_rank[k as usize] = b as u32;
        }
        let ragged = |k: usize| match k {
            0 | 30 | 60 => 0,
            k if k % 7 == 0 => 1,
            k if k % 5 == 0 => 3 * PIECE + 11,
            k => 4099 * (k % 4),
        };
        let aligned = |k: usize| match k {
            16.. => 0,
            k if k % 2 == 0 => PIECE - 1,
            _ => 1,
        };
        let layouts: [(&str, &dyn Fn(usize) -> usize); 2] =
            [("ragged", &ragged), ("aligned", &aligned)];
        for (layout, people_of) in layouts {
            let mut building = Vec::new();
            let mut expected = vec![0usize];
            for (k, &b) in code_of_rank.iter().enumerate() {
                building.extend(std::iter::repeat_n(b, people_of(k)));
                expected.push(building.len());
            }
            let short = Codes::Narrow(building.iter().map(|&b| b as u16).collect());
            for (codes, name) in [(Codes::Wide(building.clone()), "4"), (short, "2")] {
                for threads in [1, 3] {
                    let found =
                        crate::testing::pool(threads).install(|| building_spans(&codes, &rank));
                    assert_eq!(found, expected, "{layout}, {threads} threads, {name} bytes");
                }
            }
        }
        assert_eq!(
            building_spans(&Codes::Wide(Vec::new()), &[0, 1]),
            vec![0, 0, 0]
        );
    }

    #[test]
    #[should_panic(expected = "building by building")]
    fn people_not_numbered_building_by_building_are_refused() {
        // Building 1's people in two stretches.
        let codes = Codes::Wide(vec![0, 1, 1, 0, 1]);
        building_spans(&codes, &[0, 1]);
    }

    #[test]
    fn sums_in_pieces_are_the_sums_of_the_whole() {
        let one = |p: usize| [usize::from(p.is_multiple_of(3)), p % 10];
        let whole = |people: std::ops::Range<usize>| {
            people
                .map(one)
                .fold([0, 0], |[a, b], [c, d]| [a + c, b + d])
        };
        for people in [0..0, 5..PIECE, 17..5 * PIECE + 17, 3..PIECE + 4] {
            for threads in [1, 3] {
                let found =
                    crate::testing::pool(threads).install(|| in_pieces(people.clone(), whole));
                assert_eq!(
                    found,
                    whole(people.clone()),
                    "{people:?}, {threads} threads"
                );
            }
        }
    }
}
