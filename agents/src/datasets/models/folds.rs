//! k-fold assignment: which fold each row tests in. Rows are shuffled by a
//! generator of this module's own (SplitMix64, seeded), not a
//! dependency's, so a library upgrade never changes which rows a model
//! was scored on. Classification folds are stratified: each class's rows
//! are shuffled and dealt round the folds in turn, the deal carrying on
//! from class to class, so every fold holds each class in proportion and
//! fold sizes differ by at most one.

use super::MAX_FOLDS;

/// Folds for `rows` rows: half the rows, at least 2, at most [`MAX_FOLDS`].
pub fn fold_count(rows: usize) -> usize {
    (rows / 2).clamp(2, MAX_FOLDS)
}

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and fixed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0), by Lemire's multiply-shift.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}

/// Shuffles `items` (Fisher–Yates).
fn shuffle(items: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// The fold (0 to `k` − 1) of each of `n` rows, shuffled with `seed`.
pub fn assign(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut SplitMix64(seed));
    let mut folds = vec![0; n];
    for (position, row) in order.into_iter().enumerate() {
        folds[row] = position % k.max(1);
    }
    folds
}

/// The fold of each row, stratified by `classes` (each row's class).
pub fn assign_stratified(classes: &[u32], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let count = classes.iter().map(|c| *c as usize + 1).max().unwrap_or(0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (row, class) in classes.iter().enumerate() {
        members[*class as usize].push(row);
    }
    let mut rng = SplitMix64(seed);
    let mut folds = vec![0; classes.len()];
    let mut dealt = 0usize;
    for mut rows in members {
        shuffle(&mut rows, &mut rng);
        for row in rows {
            folds[row] = dealt % k;
            dealt += 1;
        }
    }
    folds
}

/// The training and test rows of fold `fold`.
pub fn split(folds: &[usize], fold: usize) -> (Vec<usize>, Vec<usize>) {
    let (test, train): (Vec<usize>, Vec<usize>) = (0..folds.len()).partition(|row| folds[*row] == fold);
    (train, test)
}
