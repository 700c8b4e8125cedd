//! Planning pools: the operating characteristics of three group-testing algorithms for
//! every pool size, the best size of each, the Ct shift pooling adds, and the
//! prevalence of a past round. No I/O here.
//!
//! Every test is assumed to have the same sensitivity `Se` and specificity `Sp`
//! whatever the pool's size, and tests of different pools are independent given the
//! people's true states (the assumptions of Kim, Hudgens, Dreyfuss, Westreich and
//! Pilcher, "Comparison of group testing algorithms for case identification in the
//! presence of test error", Biometrics 63 (2007) 1152–1163, and of binGroup2's
//! `opChar1`). `p` is the prevalence, `q = 1 − p`, `k` the pool size.
//!
//! **Dorfman two-stage** (Dorfman, "The detection of defective members of large
//! populations", Ann. Math. Statist. 14 (1943) 436–440): a pool of `k`; everyone in a
//! positive pool is tested alone.
//!
//! - a pool tests positive with `P = Se·(1 − q^k) + (1 − Sp)·q^k`;
//! - tests per person `T = 1/k + P` (`k = 1`: one test);
//! - sensitivity `Se²`;
//! - specificity `1 − (1 − Sp)·(Se·(1 − q^(k−1)) + (1 − Sp)·q^(k−1))`;
//! - positive predictive value `p·Se' / (p·Se' + q·(1 − Sp'))` of the scheme's `Se'`,
//!   `Sp'`.
//!
//! **Hierarchical three-stage** (Kim et al. 2007, section 2.2): a pool of `k`, split
//! into `m` sub-pools as even as can be (sizes `s_j`); a positive pool's sub-pools are
//! tested; a positive sub-pool's people are tested alone (a sub-pool of one is a test
//! alone already). For each `k` the `m` of fewest tests is used.
//!
//! - sub-pool `j` tested positive after its pool:
//!   `X_j = Se²·(1 − q^s) + Se·(1 − Sp)·q^s·(1 − q^(k−s)) + (1 − Sp)²·q^k`;
//! - tests per person `T = (1 + m·P + Σ_{s_j > 1} s_j·X_j) / k`;
//! - sensitivity `Se³` (`Se²` in a sub-pool of one), averaged over the people;
//! - specificity `1 − (1 − Sp)·Y_j`, `Y_j = Se²·(1 − q^(s−1)) + Se·(1 − Sp)·q^(s−1)·(1 −
//!   q^(k−s)) + (1 − Sp)²·q^(k−1)`, averaged over the people (in a sub-pool of one, the
//!   sub-pool's test is the person's: `1 − (1 − Sp)·(Se·(1 − q^(k−1)) + (1 − Sp)·q^(k−1))`).
//!
//! **Square array without a master pool** (Phatarfod and Sudbury, "The use of a square
//! array scheme in blood testing", Stat. Med. 13 (1994) 2337–2343; Kim et al. 2007,
//! section 2.3): `k²` people in a `k × k` grid, every row and every column pooled; the
//! people at the crossing of a positive row and a positive column are tested alone.
//! This is the variant without the rescue of rows positive with no column positive (or
//! the reverse), whose people some schemes test alone too: with an imperfect test it
//! finds fewer people than that variant, and needs fewer tests.
//!
//! - a row (or column) without the person tests positive with
//!   `a = Se·(1 − q^(k−1)) + (1 − Sp)·q^(k−1)`;
//! - tests per person `T = 2/k + p·Se² + q·a²`;
//! - sensitivity `Se³`; specificity `1 − (1 − Sp)·a²`.

use serde::Serialize;

/// The accuracy of the test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accuracy {
    /// Sensitivity, in (0.5, 1].
    pub se: f64,
    /// Specificity, in (0.5, 1].
    pub sp: f64,
}

/// A group-testing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Pool, then everyone of a positive pool alone.
    Dorfman,
    /// Pool, then sub-pools of a positive pool, then people of a positive sub-pool.
    Hierarchical,
    /// Rows and columns of a square, then the people at positive crossings.
    Array,
}

impl Algorithm {
    /// Every algorithm, in the order they are printed.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::Dorfman,
        Algorithm::Hierarchical,
        Algorithm::Array,
    ];

    /// The algorithm's name on the terminal.
    pub fn title(self) -> &'static str {
        match self {
            Algorithm::Dorfman => "Dorfman two-stage (混采后阳性管逐一单检)",
            Algorithm::Hierarchical => "hierarchical three-stage (混采、分组、单检)",
            Algorithm::Array => "square array, no master pool (矩阵混采)",
        }
    }
}

/// What an algorithm gives at one pool size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Operating {
    /// The pool size (for an array, the row length: k² people a grid).
    pub size: usize,
    /// Sub-pools of a pool, for the hierarchical algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_pools: Option<usize>,
    /// Expected tests per person.
    pub tests_per_person: f64,
    /// The probability that an infected person is found.
    pub sensitivity: f64,
    /// The probability that a person not infected is cleared.
    pub specificity: f64,
    /// The probability that a person found is infected.
    pub ppv: f64,
}

impl Operating {
    /// The figures of a scheme at size `k` (with `sub_pools`) and prevalence `p`: its
    /// tests per person, sensitivity and specificity, and the PPV they give.
    fn new(k: usize, sub_pools: Option<usize>, p: f64, tests: f64, se: f64, sp: f64) -> Operating {
        Operating {
            size: k,
            sub_pools,
            tests_per_person: tests,
            sensitivity: se,
            specificity: sp,
            ppv: ppv(p, se, sp),
        }
    }
}

fn ppv(p: f64, se: f64, sp: f64) -> f64 {
    let found = p * se + (1.0 - p) * (1.0 - sp);
    if found > 0.0 {
        p * se / found
    } else {
        0.0
    }
}

/// Dorfman two-stage at pool size `k`.
pub fn dorfman(p: f64, k: usize, a: Accuracy) -> Operating {
    let q = 1.0 - p;
    let kf = k as i32;
    let (tests, se, sp) = if k <= 1 {
        (1.0, a.se, a.sp)
    } else {
        let positive = a.se * (1.0 - q.powi(kf)) + (1.0 - a.sp) * q.powi(kf);
        let others = a.se * (1.0 - q.powi(kf - 1)) + (1.0 - a.sp) * q.powi(kf - 1);
        (
            1.0 / k as f64 + positive,
            a.se * a.se,
            1.0 - (1.0 - a.sp) * others,
        )
    };
    Operating::new(k, None, p, tests, se, sp)
}

/// The sizes of `m` sub-pools of a pool of `k`, as even as can be.
pub fn sub_pool_sizes(k: usize, m: usize) -> Vec<usize> {
    (0..m).map(|j| k / m + usize::from(j < k % m)).collect()
}

/// Hierarchical three-stage at pool size `k` with `m` sub-pools.
pub fn hierarchical_with(p: f64, k: usize, m: usize, a: Accuracy) -> Operating {
    let q = 1.0 - p;
    let (se, sp) = (a.se, a.sp);
    let pw = |n: usize| q.powi(n as i32);
    let pool = se * (1.0 - pw(k)) + (1.0 - sp) * pw(k);
    let mut tests = 1.0 + m as f64 * pool;
    let (mut sens, mut spec) = (0.0, 0.0);
    for s in sub_pool_sizes(k, m) {
        let share = s as f64 / k as f64;
        if s > 1 {
            let x = se * se * (1.0 - pw(s))
                + se * (1.0 - sp) * pw(s) * (1.0 - pw(k - s))
                + (1.0 - sp) * (1.0 - sp) * pw(k);
            tests += s as f64 * x;
            let y = se * se * (1.0 - pw(s - 1))
                + se * (1.0 - sp) * pw(s - 1) * (1.0 - pw(k - s))
                + (1.0 - sp) * (1.0 - sp) * pw(k - 1);
            sens += share * se * se * se;
            spec += share * (1.0 - (1.0 - sp) * y);
        } else {
            let y = se * (1.0 - pw(k - 1)) + (1.0 - sp) * pw(k - 1);
            sens += share * se * se;
            spec += share * (1.0 - (1.0 - sp) * y);
        }
    }
    Operating::new(k, Some(m), p, tests / k as f64, sens, spec)
}

/// Hierarchical three-stage at pool size `k`, with the number of sub-pools (2 to `k`)
/// that needs the fewest tests; `None` for a pool of fewer than 3 (no sub-pool of two
/// or more people and another).
pub fn hierarchical(p: f64, k: usize, a: Accuracy) -> Option<Operating> {
    (2..k)
        .map(|m| hierarchical_with(p, k, m, a))
        .min_by(|x, y| x.tests_per_person.total_cmp(&y.tests_per_person))
}

/// Square array without a master pool, `k` a row.
pub fn array(p: f64, k: usize, a: Accuracy) -> Operating {
    let q = 1.0 - p;
    let others = a.se * (1.0 - q.powi(k as i32 - 1)) + (1.0 - a.sp) * q.powi(k as i32 - 1);
    let tests = 2.0 / k as f64 + p * a.se * a.se + q * others * others;
    let (se, sp) = (a.se.powi(3), 1.0 - (1.0 - a.sp) * others * others);
    Operating::new(k, None, p, tests, se, sp)
}

/// The expected tests of `algorithm` at each of `sizes` for everyone of `groups`, each
/// group (a building's people to pool, as `assign` places them: a tube holds one
/// building only; `--people N` is one group) pooled apart: full pools of `k` (for the
/// array, grids of k × k), then one pool of the people left, as `assign` makes it. The
/// formulas above are for full pools; the last pool is worked out for its own size:
///
/// - a person left alone is one test;
/// - Dorfman: a pool of `m`, `1 + m·P(m)` tests;
/// - hierarchical: a pool of `m ≥ 3` with its own sub-pools of fewest tests; a pool of
///   two is Dorfman's;
/// - array: `r` people left fill rows of `k` in turn (the last row partly), so the grid
///   has `⌈r/k⌉` rows and `min(r, k)` columns, and its tests are those pools plus, for
///   each person in a row of `R` and a column of `C`, `p·Se² + q·a(R − 1)·a(C − 1)`,
///   `a(n) = Se·(1 − q^n) + (1 − Sp)·q^n` (for a full grid, the formula above).
///
/// Each size costs one pass over the groups, and each distinct pool's tests are worked
/// out once for all sizes: a city's 100,000 buildings and sizes up to 1,000 stay fast.
pub fn tests_in_all(
    algorithm: Algorithm,
    p: f64,
    sizes: &[usize],
    groups: &[u64],
    a: Accuracy,
) -> Vec<f64> {
    // The tests of a pool of m (Dorfman and hierarchical), whatever the size.
    let mut pools: std::collections::HashMap<usize, f64> = std::collections::HashMap::new();
    let mut pool = |m: usize| -> f64 {
        *pools.entry(m).or_insert_with(|| match (m, algorithm) {
            (0 | 1, _) => m as f64,
            (_, Algorithm::Hierarchical) => {
                let best = hierarchical(p, m, a).unwrap_or_else(|| dorfman(p, m, a));
                m as f64 * best.tests_per_person
            }
            _ => m as f64 * dorfman(p, m, a).tests_per_person,
        })
    };
    sizes
        .iter()
        .map(|&k| {
            let k = k.max(1);
            let per_pool = if algorithm == Algorithm::Array {
                k * k
            } else {
                k
            };
            let mut full = 0u64;
            let mut left: std::collections::BTreeMap<usize, u64> = Default::default();
            for &n in groups {
                full += n / per_pool as u64;
                *left.entry((n % per_pool as u64) as usize).or_default() += 1;
            }
            let mut tests = |m: usize| match algorithm {
                Algorithm::Array if m > 1 => grid_tests(p, k, m, a),
                _ => pool(m),
            };
            full as f64 * tests(per_pool)
                + left
                    .into_iter()
                    .map(|(m, count)| count as f64 * tests(m))
                    .sum::<f64>()
        })
        .collect()
}

/// The expected tests of a grid of `r` people (at most k²) in rows of `k`: `⌊r/k⌋` full
/// rows and a last one of `r mod k`; the first `r mod k` columns one person longer.
fn grid_tests(p: f64, k: usize, r: usize, a: Accuracy) -> f64 {
    let q = 1.0 - p;
    let others = |n: usize| a.se * (1.0 - q.powi(n as i32)) + (1.0 - a.sp) * q.powi(n as i32);
    let (full_rows, last_row) = (r / k, r % k);
    let pools = (full_rows + usize::from(last_row > 0) + r.min(k)) as f64;
    // People by (row length, column length): in full rows and long columns, in full
    // rows and short columns, in the last row (whose columns are the long ones).
    let classes = [
        (full_rows * last_row, k, full_rows + 1),
        (full_rows * (k - last_row), k, full_rows),
        (last_row, last_row, full_rows + 1),
    ];
    let crossings: f64 = classes
        .iter()
        .filter(|&&(people, _, _)| people > 0)
        .map(|&(people, row, column)| {
            people as f64 * (p * a.se * a.se + q * others(row - 1) * others(column - 1))
        })
        .sum();
    pools + crossings
}

/// Every size of `sizes` for `algorithm`, and the best (fewest tests per person, the
/// smaller size on a tie).
pub fn table(
    algorithm: Algorithm,
    p: f64,
    sizes: &[usize],
    a: Accuracy,
) -> (Vec<Operating>, Option<usize>) {
    let rows: Vec<Operating> = sizes
        .iter()
        .filter_map(|&k| match algorithm {
            Algorithm::Dorfman => Some(dorfman(p, k, a)),
            Algorithm::Hierarchical => hierarchical(p, k, a),
            Algorithm::Array => Some(array(p, k, a)),
        })
        .collect();
    let best = rows
        .iter()
        .min_by(|x, y| {
            x.tests_per_person
                .total_cmp(&y.tests_per_person)
                .then(x.size.cmp(&y.size))
        })
        .map(|o| o.size);
    (rows, best)
}

/// The Ct shift of a pool of `k`: its sample is diluted `k` times, and each halving is
/// about one cycle (log2 k).
pub fn ct_shift(k: usize) -> f64 {
    (k as f64).log2()
}

/// The prevalence of a round from the share `r` of its pools that were positive and
/// their mean size `k`: `p = 1 − (1 − r)^(1/k)`, with the 95% interval of the Wilson
/// score interval of `r` (of `n` pools) carried through the same formula.
pub fn prevalence_from_pools(positive: u64, n: u64, k: f64) -> (f64, f64, f64) {
    let to_p = |r: f64| 1.0 - (1.0 - r.clamp(0.0, 1.0)).powf(1.0 / k);
    let nf = n as f64;
    let r = positive as f64 / nf;
    let z = 1.959_963_984_540_054;
    let centre = (r + z * z / (2.0 * nf)) / (1.0 + z * z / nf);
    let half = z / (1.0 + z * z / nf) * (r * (1.0 - r) / nf + z * z / (4.0 * nf * nf)).sqrt();
    (to_p(r), to_p(centre - half), to_p(centre + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERFECT: Accuracy = Accuracy { se: 1.0, sp: 1.0 };

    fn round4(v: f64) -> f64 {
        (v * 10_000.0).round() / 10_000.0
    }

    #[test]
    fn dorfman_reproduces_the_contract_check_values() {
        let sizes: Vec<usize> = (2..=32).collect();
        for (p, best, tests) in [(0.001, 32, 0.0628), (0.01, 11, 0.1956), (0.05, 5, 0.4262)] {
            let (rows, chosen) = table(Algorithm::Dorfman, p, &sizes, PERFECT);
            assert_eq!(chosen, Some(best), "p = {p}");
            let row = rows.iter().find(|r| r.size == best).unwrap();
            assert_eq!(round4(row.tests_per_person), tests, "p = {p}");
        }
        let o = dorfman(0.01, 10, Accuracy { se: 0.99, sp: 0.99 });
        assert_eq!(round4(o.tests_per_person), 0.2037);
        assert_eq!(round4(o.sensitivity), 0.9801);
        assert_eq!(round4(o.specificity), 0.9991);
        assert_eq!(round4(o.ppv), 0.9127);
    }

    #[test]
    fn a_perfect_test_finds_everyone_and_clears_everyone() {
        for k in [3, 10, 20] {
            for o in [
                dorfman(0.02, k, PERFECT),
                hierarchical(0.02, k, PERFECT).unwrap(),
                array(0.02, k, PERFECT),
            ] {
                assert_eq!((o.sensitivity, o.specificity, o.ppv), (1.0, 1.0, 1.0));
            }
        }
    }

    /// Tests in all at one size.
    fn in_all(algorithm: Algorithm, p: f64, k: usize, groups: &[u64], a: Accuracy) -> f64 {
        tests_in_all(algorithm, p, &[k], groups, a)[0]
    }

    #[test]
    fn tests_in_all_of_full_pools_are_the_tests_per_person() {
        // Full pools only, at any prevalence: also where a pool costs more than a test
        // a person (a 2 × 2 grid; 40% infected).
        for (p, a) in [
            (0.02, Accuracy { se: 0.97, sp: 0.98 }),
            (0.4, Accuracy { se: 0.99, sp: 0.99 }),
        ] {
            for k in [2, 3, 10, 16] {
                let hier = hierarchical(p, k, a).unwrap_or_else(|| dorfman(p, k, a));
                for (algorithm, o, people) in [
                    (Algorithm::Dorfman, dorfman(p, k, a), 7 * k),
                    (Algorithm::Hierarchical, hier, 7 * k),
                    (Algorithm::Array, array(p, k, a), 7 * k * k),
                ] {
                    let groups = [people as u64, 0, 2 * people as u64];
                    let all = in_all(algorithm, p, k, &groups, a);
                    let expected = 3.0 * people as f64 * o.tests_per_person;
                    assert!(
                        (all - expected).abs() < 1e-9 * expected,
                        "{algorithm:?} p={p} k={k}: {all} {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_people_left_are_a_smaller_pool() {
        let a = Accuracy { se: 0.99, sp: 0.99 };
        for algorithm in Algorithm::ALL {
            // Three people and pools of twenty: a pool of three, never nothing; as a
            // grid, a row and three columns of one, and a test at each crossing found.
            let three = in_all(algorithm, 0.01, 20, &[3], a);
            match algorithm {
                Algorithm::Array => assert!(three > 4.0 && three < 4.1, "{three}"),
                _ => assert!(three > 1.0 && three < 1.2, "{algorithm:?}: {three}"),
            }
            // A person left alone is one test.
            assert_eq!(in_all(algorithm, 0.01, 20, &[1], a), 1.0);
        }
        let dorfman_21 = in_all(Algorithm::Dorfman, 0.01, 20, &[21], a);
        assert!((dorfman_21 - (20.0 * dorfman(0.01, 20, a).tests_per_person + 1.0)).abs() < 1e-12);
        // Two buildings of 5 are two pools of 5, where 10 people of one building are
        // one pool of 10: one test more, less the people retested more often.
        let apart = in_all(Algorithm::Dorfman, 0.01, 10, &[5, 5], a);
        let together = in_all(Algorithm::Dorfman, 0.01, 10, &[10], a);
        let pool_of = |k: usize| k as f64 * dorfman(0.01, k, a).tests_per_person;
        assert!((apart - 2.0 * pool_of(5)).abs() < 1e-12, "{apart}");
        assert!((together - pool_of(10)).abs() < 1e-12, "{together}");
        assert!(apart > together, "{apart} {together}");
        // Sizes at once give what each gives alone.
        let groups = [3, 23, 47, 1000];
        for algorithm in Algorithm::ALL {
            let sizes = [3, 5, 10, 32];
            let together = tests_in_all(algorithm, 0.02, &sizes, &groups, a);
            for (k, all) in sizes.into_iter().zip(together) {
                assert_eq!(all, in_all(algorithm, 0.02, k, &groups, a));
            }
        }
    }

    #[test]
    fn sub_pools_are_as_even_as_can_be() {
        assert_eq!(sub_pool_sizes(10, 3), vec![4, 3, 3]);
        assert_eq!(sub_pool_sizes(7, 7), vec![1; 7]);
    }

    #[test]
    fn prevalence_comes_back_from_its_pools() {
        // 1% prevalence in pools of 10: 9.56% of pools positive.
        let (p, lo, hi) = prevalence_from_pools(956, 10_000, 10.0);
        assert!((p - 0.01).abs() < 0.0002, "{p}");
        assert!(lo < p && p < hi && hi - lo < 0.002, "{lo} {hi}");
    }
}
