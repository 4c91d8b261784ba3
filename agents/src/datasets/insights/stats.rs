//! The statistics insights rest on, as pure functions over numbers, so the
//! property tests can hold each one to a direct computation of it.
//!
//! - Quantiles: Hyndman & Fan type 7 (linear interpolation between the
//!   closest ranks; numpy's and pandas' default, and PostgreSQL's
//!   `percentile_cont`): for p over the sorted x₀…xₙ₋₁, h = (n − 1)·p and
//!   the quantile is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋).
//! - Tukey's fences: q1 − 1.5·IQR and q3 + 1.5·IQR.
//! - Robust scale: 1.4826 × the median absolute deviation (consistent with
//!   σ for normal data), or 1.2533 × the mean absolute deviation when the
//!   MAD is 0 (half the values equal the centre), or none when both are 0.
//! - Least squares of y on x, its R² and the slope's t statistic against
//!   Student's t at 95 % (two-sided).

/// 1 / Φ⁻¹(3/4): the MAD times this estimates σ for normal data.
pub const MAD_SCALE: f64 = 1.4826;
/// √(π/2): the mean absolute deviation times this estimates σ for normal data.
pub const MEAN_AD_SCALE: f64 = 1.253_314;
/// Tukey's fence multiplier.
pub const FENCE: f64 = 1.5;

/// The quartiles of some numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quartiles {
    /// 25 %.
    pub q1: f64,
    /// 50 %.
    pub median: f64,
    /// 75 %.
    pub q3: f64,
}

impl Quartiles {
    /// q3 − q1.
    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }

    /// Tukey's fences: (q1 − 1.5·IQR, q3 + 1.5·IQR).
    pub fn fences(&self) -> (f64, f64) {
        (self.q1 - FENCE * self.iqr(), self.q3 + FENCE * self.iqr())
    }
}

/// The finite ones of `values`, ascending.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut kept: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    kept.sort_by(f64::total_cmp);
    kept
}

/// The `p` quantile (type 7) of ascending `sorted`; `None` when empty.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * p.clamp(0.0, 1.0);
    // `h` is within 0..=last, so both ranks are indices of `sorted`.
    let below = (h.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let (low, high) = (*sorted.get(below)?, *sorted.get(above)?);
    Some(low + (h - below as f64) * (high - low))
}

/// The quartiles of `values` (non-finite ones left out); `None` when none are left.
pub fn quartiles(values: &[f64]) -> Option<Quartiles> {
    let sorted = sorted(values);
    Some(Quartiles { q1: quantile(&sorted, 0.25)?, median: quantile(&sorted, 0.5)?, q3: quantile(&sorted, 0.75)? })
}

/// The median of `values`; `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(&sorted(values), 0.5)
}

/// The median absolute deviation of `values` from `center`.
pub fn mad(values: &[f64], center: f64) -> Option<f64> {
    let deviations: Vec<f64> = values.iter().map(|x| (x - center).abs()).collect();
    median(&deviations)
}

/// The mean absolute deviation of `values` from `center`.
pub fn mean_abs_dev(values: &[f64], center: f64) -> Option<f64> {
    let kept: Vec<f64> = values.iter().filter(|x| x.is_finite()).map(|x| (x - center).abs()).collect();
    if kept.is_empty() {
        return None;
    }
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

/// The robust scale of `values` around `center` (see the module doc);
/// `None` when every deviation is 0.
pub fn robust_scale(values: &[f64], center: f64) -> Option<f64> {
    let by_mad = mad(values, center)? * MAD_SCALE;
    if by_mad > 0.0 {
        return Some(by_mad);
    }
    let by_mean = mean_abs_dev(values, center)? * MEAN_AD_SCALE;
    (by_mean > 0.0).then_some(by_mean)
}

/// A fitted straight line y = intercept + slope·x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// Change of y per unit of x.
    pub slope: f64,
    /// y at x = 0.
    pub intercept: f64,
    /// Share of y's variance the line explains, 0–1 (0 when y is constant).
    pub r_squared: f64,
}

impl Line {
    /// The line's y at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// The least-squares line of y on x through `points`; `None` with fewer
/// than two distinct x or a non-finite coordinate.
pub fn least_squares(points: &[(f64, f64)]) -> Option<Line> {
    if points.len() < 2 || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r_squared = if syy > 0.0 { (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0) } else { 0.0 };
    Some(Line { slope, intercept: mean_y - slope * mean_x, r_squared })
}

/// The slope's t statistic over `n` points, r·√((n − 2) / (1 − r²));
/// infinite for a perfect fit, 0 below three points.
pub fn slope_t(line: &Line, n: usize) -> f64 {
    if n < 3 {
        return 0.0;
    }
    let r2 = line.r_squared;
    if r2 >= 1.0 {
        return f64::INFINITY;
    }
    (r2 * (n - 2) as f64 / (1.0 - r2)).sqrt()
}

/// Two-sided 95 % critical values of Student's t for 1–30 degrees of freedom.
const T_95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The two-sided 95 % critical value of Student's t with `df` degrees of
/// freedom; beyond the table, the value at the table's next lower entry
/// (40, 60, 120), which errs on the strict side; infinite for 0.
pub fn t_critical(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T_95.get(df - 1).copied().unwrap_or(2.042),
        31..=40 => 2.042,
        41..=60 => 2.021,
        61..=120 => 2.000,
        _ => 1.980,
    }
}
