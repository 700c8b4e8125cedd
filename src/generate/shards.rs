//! `generate --shards N`: one round split into districts, one input folder each
//! (`d1`, `d2`, …: roster, samples, results, retests), buildings dealt out in order,
//! with the frictions of real borders planted and listed in `cross_border.csv`: per
//! pair of neighbouring districts, one person swabbed only in the next district (their
//! own does not see them), one person swabbed in both, and one tube barcode used in the
//! first two districts. The whole round's truth files stay at the top.

use super::{line, write, Campus, Files, GenerateOptions, Generated, Order};
use crate::error::{Error, Result};
use std::fmt::Write as _;

/// A sample row: its sort key (time, then sequence) and its text.
type Row = (i64, u64, String);

/// One district's files.
struct Shard {
    name: String,
    roster: String,
    samples: Vec<Row>,
    results: String,
    retests: String,
}

/// A tube of a shard's samples: its ID, its rows' indexes, and whether the lab called it
/// negative.
struct Tube {
    id: String,
    rows: Vec<usize>,
    negative: bool,
}

/// Splits the round of `parts` (one per building, headers in `top`) into `opts.shards`
/// districts under `opts.out`, plants the frictions, and writes the whole round's truth
/// files beside them.
pub(super) fn write_shards(
    opts: &GenerateOptions,
    campus: &Campus,
    top: &Files,
    parts: Vec<Files>,
) -> Result<Generated> {
    let n = opts.shards;
    let buildings = parts.len();
    if n > buildings {
        return Err(Error::Usage(format!(
            "--shards {n} needs at least {n} buildings (there are {buildings})"
        )));
    }
    let mut shards: Vec<Shard> = (0..n)
        .map(|s| Shard {
            name: format!("d{}", s + 1),
            roster: top.roster.clone(),
            samples: Vec::new(),
            results: top.results.clone(),
            retests: top.retests.clone(),
        })
        .collect();
    let mut whole = Files::new();
    whole.truth.push_str(&top.truth);
    whole.closure.push_str(&top.closure);
    whole.streaks.push_str(&top.streaks);
    let mut seq = 0u64;
    for (b, part) in parts.into_iter().enumerate() {
        let s = b * n / buildings;
        let shard = &mut shards[s];
        shard.roster.push_str(&part.roster);
        shard.results.push_str(&part.results);
        shard.retests.push_str(&part.retests);
        if opts.order == Order::Tube {
            for text in part.samples.split_inclusive('\n') {
                shard.samples.push((0, seq, text.to_string()));
                seq += 1;
            }
        } else {
            shard.samples.extend(part.sample_rows);
        }
        whole.truth.push_str(&part.truth);
        whole.closure.push_str(&part.closure);
        whole.streaks.push_str(&part.streaks);
        whole.infected += part.infected;
    }
    let mut planted = String::from("kind,person_id,tube_id,roster_shard,sampled_shard\r\n");
    plant(&mut shards, campus, &mut planted)?;
    // Once nothing can fail but the writes.
    super::remove_stale(opts)?;
    for shard in &mut shards {
        shard.samples.sort_by_key(|r| (r.0, r.1));
        let dir = opts.out.join(&shard.name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut samples = top.samples.clone();
        for row in &shard.samples {
            samples.push_str(&row.2);
        }
        write(&dir.join("roster.csv"), &[shard.roster.as_bytes()])?;
        write(&dir.join("samples.csv"), &[samples.as_bytes()])?;
        write(&dir.join("results.csv"), &[shard.results.as_bytes()])?;
        write(&dir.join("retests.csv"), &[shard.retests.as_bytes()])?;
    }
    let path = |name: &str| opts.out.join(name);
    write(&path("truth.csv"), &[whole.truth.as_bytes()])?;
    write(&path("closure.csv"), &[whole.closure.as_bytes()])?;
    write(&path("streaks.csv"), &[whole.streaks.as_bytes()])?;
    write(&path("cross_border.csv"), &[planted.as_bytes()])?;
    let first = opts.out.join(&shards[0].name);
    Ok(Generated {
        roster: first.join("roster.csv"),
        samples: first.join("samples.csv"),
        results: first.join("results.csv"),
        truth: path("truth.csv"),
        retests: first.join("retests.csv"),
        closure: path("closure.csv"),
        streaks: path("streaks.csv"),
        faults: Some(path("cross_border.csv")),
        people: opts.people,
        infected: whole.infected,
    })
}

/// The cells of a generated sample row: tube, person, time, site.
fn cells(row: &Row) -> Vec<&str> {
    row.2.trim_end_matches(['\r', '\n']).split(',').collect()
}

/// The negative pooled tubes of `shard`, in order of first row.
fn tubes(shard: &Shard) -> Vec<Tube> {
    let negative: std::collections::HashSet<&str> = shard
        .results
        .lines()
        .filter(|l| l.split(',').nth(4) == Some("阴性"))
        .filter_map(|l| l.split(',').next())
        .collect();
    let mut tubes: Vec<Tube> = Vec::new();
    let mut at = std::collections::HashMap::new();
    for (i, row) in shard.samples.iter().enumerate() {
        let id = cells(row)[0].to_string();
        let k = *at.entry(id.clone()).or_insert_with(|| {
            tubes.push(Tube {
                negative: negative.contains(id.as_str()),
                id,
                rows: Vec::new(),
            });
            tubes.len() - 1
        });
        tubes[k].rows.push(i);
    }
    tubes.retain(|t| t.negative && t.rows.len() >= 2);
    tubes
}

/// Plants the frictions (see the module's comment) and lists them in `planted`.
fn plant(shards: &mut [Shard], campus: &Campus, planted: &mut String) -> Result<()> {
    let n = shards.len();
    let lacking = || {
        Error::Usage(
            "--shards needs a pooled building with negative tubes in every district: use more people".into(),
        )
    };
    let negatives: Vec<Vec<Tube>> = shards.iter().map(tubes).collect();
    if negatives.iter().any(|t| t.len() < 4) {
        return Err(lacking());
    }
    let pick = |s: usize, salt: u64, among: usize| {
        (super::rand(campus.seed, s as u64, super::DRAW_SHARDS ^ salt << 8) % among as u64) as usize
    };
    let mut removed: Vec<Vec<usize>> = vec![Vec::new(); n];
    for s in 0..n {
        let next = (s + 1) % n;
        let own = &negatives[s];
        let there = &negatives[next];
        // The tubes of this district the two people were swabbed into, and the tube
        // of the next they are also (or only) swabbed into.
        let moved_tube = &own[pick(s, 1, own.len() / 2)];
        let twice_tube = &own[own.len() / 2 + pick(s, 2, own.len() - own.len() / 2)];
        // A pool with room for both (a building's last pool), so that no tube is
        // overfull; any pool when none has room.
        let roomy: Vec<&Tube> = there[1..]
            .iter()
            .filter(|t| t.rows.len() + 2 <= campus.pool_size)
            .collect();
        let target = if roomy.is_empty() {
            &there[1 + pick(next, 3, there.len() - 1)]
        } else {
            roomy[pick(next, 3, roomy.len())]
        };
        let template = shards[next].samples[target.rows[0]].clone();
        for (kind, tube, drop_own) in [
            ("sampled_outside_roster", moved_tube, true),
            ("sampled_in_two_shards", twice_tube, false),
        ] {
            let row = tube.rows[tube.rows.len() - 1];
            let person = cells(&shards[s].samples[row])[1].to_string();
            if drop_own {
                removed[s].push(row);
            }
            let mut visit = cells(&template)
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>();
            visit[1] = person.clone();
            let refs: Vec<&str> = visit.iter().map(String::as_str).collect();
            let mut text = String::new();
            line(&mut text, &refs);
            shards[next]
                .samples
                .push((template.0, template.1 + 1, text));
            let _ = write!(
                planted,
                "{kind},{person},{},{},{}\r\n",
                target.id, shards[s].name, shards[next].name
            );
        }
    }
    // One barcode in the first two districts: a negative tube of the second takes the
    // ID of one of the first (tube 0 of each list, never a visitor's tube above).
    let (a, b) = (&negatives[0][0], &negatives[1.min(n - 1)][0]);
    if n >= 2 {
        let (from, to) = (b.id.clone(), a.id.clone());
        for &i in &b.rows {
            let row = &mut shards[1].samples[i];
            row.2 = row.2.replacen(&from, &to, 1);
        }
        shards[1].results = shards[1]
            .results
            .lines()
            .map(|l| match l.strip_prefix(from.as_str()) {
                Some(rest) if rest.starts_with(',') => format!("{to}{rest}\r\n"),
                _ => format!("{l}\r\n"),
            })
            .collect();
        let _ = write!(
            planted,
            "tube_in_two_shards,,{to},{},{}\r\n",
            shards[0].name, shards[1].name
        );
    }
    for (s, rows) in removed.iter_mut().enumerate() {
        rows.sort_unstable();
        for &i in rows.iter().rev() {
            shards[s].samples.remove(i);
        }
    }
    Ok(())
}
