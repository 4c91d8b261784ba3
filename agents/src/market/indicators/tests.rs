//! Unit tests of each rule, and property tests (proptest, 256 cases each)
//! comparing every indicator, after every tick, with its definition
//! computed from scratch over the whole history; streams mix independent
//! prices, log-uniform ones and random walks (flat runs, small steps,
//! jumps), zero volumes, and cross UTC sessions.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::*;
use crate::market::tick::Tick;

const SYMBOL: &str = "AAPL";

/// 2026-12-01 23:30 UTC: half an hour before a UTC session ends, so
/// generated streams cross sessions early.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `seconds` after [`start`].
fn at(seconds: i64) -> DateTime<Utc> {
    start() + TimeDelta::seconds(seconds)
}

/// December `d`, 2026.
fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default()
}

fn tick(price: f64, volume: f64, time: DateTime<Utc>) -> Tick {
    Tick { symbol: SYMBOL.to_owned(), price, volume, time }
}

/// Applies a tick that must be the newest, and gives the indicators after it.
fn feed(state: &mut SymbolState, price: f64, volume: f64, time: DateTime<Utc>, session: NaiveDate) -> IndicatorSet {
    assert_eq!(state.apply(&tick(price, volume, time), session), Applied::Updated);
    let Some(set) = state.indicators() else { panic!("no indicators after an applied tick") };
    set
}

/// Whether `a` and `b` agree within `tolerance` relative to the larger of
/// them (absolute below 1).
fn close(a: Option<f64>, b: Option<f64>, tolerance: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0),
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn duplicates_and_late_ticks_change_nothing_and_are_reported() {
    let mut state = SymbolState::new(SYMBOL);
    assert_eq!((state.indicators(), state.last_time(), state.symbol()), (None, None, SYMBOL));
    feed(&mut state, 10.0, 5.0, at(0), day(1));
    feed(&mut state, 11.0, 5.0, at(60), day(1));
    let before = state.clone();
    assert_eq!(state.apply(&tick(99.0, 1.0, at(60)), day(1)), Applied::Duplicate);
    assert_eq!(state.apply(&tick(10.0, 5.0, at(0)), day(1)), Applied::Late);
    assert_eq!(state.apply(&tick(12.0, 5.0, at(30)), day(2)), Applied::Late);
    assert_eq!(state, before);
    let Some(set) = state.indicators() else { panic!("two ticks were applied") };
    assert_eq!((set.price, set.ticks, set.as_of, set.session_volume), (11.0, 2, at(60), 10.0));
    assert_eq!(state.last_time(), Some(at(60)));
}

#[test]
fn the_sma_waits_for_twenty_prices_then_is_their_mean() {
    let mut state = SymbolState::new(SYMBOL);
    for i in 1..=19 {
        assert_eq!(feed(&mut state, i as f64, 1.0, at(i), day(1)).sma20, None);
    }
    assert_eq!(feed(&mut state, 20.0, 1.0, at(20), day(1)).sma20, Some(10.5));
    // 2 + … + 20 = 209, and 41.
    assert_eq!(feed(&mut state, 41.0, 1.0, at(21), day(1)).sma20, Some(12.5));
}

#[test]
fn the_ema_is_seeded_by_the_mean_of_twelve_then_follows_the_recursion_across_sessions() {
    let mut state = SymbolState::new(SYMBOL);
    let prices = [3.0, 5.0, 4.0, 8.0, 6.0, 7.0, 9.0, 2.0, 1.0, 5.0, 6.0];
    for (i, price) in (0..).zip(prices) {
        assert_eq!(feed(&mut state, price, 1.0, at(i), day(1)).ema12, None);
    }
    // The twelfth: (56 + 4) / 12.
    assert_eq!(feed(&mut state, 4.0, 1.0, at(11), day(1)).ema12, Some(5.0));
    let alpha = 2.0 / 13.0;
    let thirteenth = alpha * 18.0 + (1.0 - alpha) * 5.0;
    assert_eq!(feed(&mut state, 18.0, 1.0, at(12), day(2)).ema12, Some(thirteenth));
    let fourteenth = alpha * 4.0 + (1.0 - alpha) * thirteenth;
    assert_eq!(feed(&mut state, 4.0, 1.0, at(13), day(2)).ema12, Some(fourteenth));
}

#[test]
fn the_vwap_starts_afresh_with_each_session() {
    let mut state = SymbolState::new(SYMBOL);
    feed(&mut state, 10.0, 1.0, at(0), day(1));
    let set = feed(&mut state, 20.0, 3.0, at(1), day(1));
    assert_eq!((set.vwap, set.session_volume, set.session), (Some(17.5), 4.0, day(1)));
    let set = feed(&mut state, 30.0, 0.0, at(2), day(2));
    assert_eq!((set.vwap, set.session_volume, set.session), (None, 0.0, day(2)));
    let set = feed(&mut state, 40.0, 2.0, at(3), day(2));
    assert_eq!((set.vwap, set.session_volume, set.session), (Some(40.0), 2.0, day(2)));
}

#[test]
fn volatility_needs_two_returns_and_annualises_by_the_mean_interval() {
    let mut state = SymbolState::new(SYMBOL);
    assert_eq!(feed(&mut state, 100.0, 1.0, at(0), day(1)).volatility, None);
    assert_eq!(feed(&mut state, 110.0, 1.0, at(60), day(1)).volatility, None);
    let got = feed(&mut state, 99.0, 1.0, at(180), day(1)).volatility;
    let (r1, r2) = ((110.0f64 / 100.0).ln(), (99.0f64 / 110.0).ln());
    let mean = (r1 + r2) / 2.0;
    // n − 1 = 1; the intervals are 60 s and 120 s.
    let per_tick = ((r1 - mean) * (r1 - mean) + (r2 - mean) * (r2 - mean)).sqrt();
    let want = per_tick * (SECONDS_PER_YEAR / 90.0).sqrt();
    assert!(close(got, Some(want), 1e-12), "{got:?}, want {want}");
}

#[test]
fn a_constant_price_has_no_volatility() {
    let mut state = SymbolState::new(SYMBOL);
    let mut set = None;
    for i in 0..45 {
        set = Some(feed(&mut state, 50.0, 10.0, at(i * 7), day(1)));
    }
    let Some(set) = set else { panic!("ticks were fed") };
    assert!(set.volatility.is_some_and(|v| v.abs() <= 1e-12), "{:?}", set.volatility);
    for value in [set.sma20, set.ema12, set.vwap] {
        assert!(close(value, Some(50.0), 1e-12), "{set:?}");
    }
}

#[test]
fn a_large_return_leaving_the_window_leaves_no_volatility_behind() {
    let mut state = SymbolState::new(SYMBOL);
    feed(&mut state, 100.0, 1.0, at(0), day(1));
    feed(&mut state, 1000.0, 1.0, at(1), day(1));
    // The returns are ln 10 then zeros; ln 10 is in the window until the
    // 21st return.
    for i in 2..=20 {
        let volatility = feed(&mut state, 1000.0, 1.0, at(i), day(1)).volatility;
        assert!(volatility.is_some_and(|v| v > 1.0), "tick {i}: {volatility:?}");
    }
    for i in 21..=45 {
        assert_eq!(feed(&mut state, 1000.0, 1.0, at(i), day(1)).volatility, Some(0.0), "tick {i}");
    }
}

#[test]
fn a_state_read_back_from_json_continues_like_the_original() {
    let ticks: Vec<Tick> =
        (0..60i64).map(|i| tick(95.0 + ((i * 7) % 11) as f64, ((i % 4) * 10) as f64, at(i * 37))).collect();
    let mut original = SymbolState::new(SYMBOL);
    for t in &ticks[..30] {
        assert_eq!(original.apply(t, t.time.date_naive()), Applied::Updated);
    }
    let json = match serde_json::to_string(&original) {
        Ok(json) => json,
        Err(e) => panic!("{e}"),
    };
    let mut restored: SymbolState = match serde_json::from_str(&json) {
        Ok(state) => state,
        Err(e) => panic!("{e}: {json}"),
    };
    assert_eq!(restored, original);
    // The rest crosses midnight UTC: a new session.
    for t in &ticks[30..] {
        let session = t.time.date_naive();
        assert_eq!(restored.apply(t, session), original.apply(t, session));
        assert_eq!(restored.indicators(), original.indicators());
    }
}

/// The indicators by their definitions.
struct Expected {
    sma20: Option<f64>,
    ema12: Option<f64>,
    vwap: Option<f64>,
    volatility: Option<f64>,
    session: NaiveDate,
    session_volume: f64,
}

/// [`Expected`] after `history`: every tick applied so far, oldest first,
/// at least one, each in the session of its UTC date.
fn expected(history: &[Tick]) -> Expected {
    let prices: Vec<f64> = history.iter().map(|t| t.price).collect();
    let n = prices.len();
    let sma20 = (n >= 20).then(|| prices[n - 20..].iter().sum::<f64>() / 20.0);
    let alpha = 2.0 / (12.0 + 1.0);
    let ema12 = (n >= 12).then(|| {
        let seed = prices[..12].iter().sum::<f64>() / 12.0;
        prices[12..].iter().fold(seed, |ema, &p| alpha * p + (1.0 - alpha) * ema)
    });
    let session = history[n - 1].time.date_naive();
    let (mut session_volume, mut price_volume) = (0.0, 0.0);
    for t in history.iter().filter(|t| t.time.date_naive() == session) {
        session_volume += t.volume;
        price_volume += t.price * t.volume;
    }
    let vwap = (session_volume > 0.0).then_some(price_volume / session_volume);
    // The last (up to) 20 returns need the last 21 ticks.
    let steps: Vec<(f64, i64)> = history[n.saturating_sub(21)..]
        .windows(2)
        .map(|w| ((w[1].price / w[0].price).ln(), (w[1].time - w[0].time).num_microseconds().unwrap_or(0)))
        .collect();
    let count = steps.len() as f64;
    let volatility = (steps.len() >= 2).then(|| {
        let mean = steps.iter().map(|s| s.0).sum::<f64>() / count;
        let variance = steps.iter().map(|s| (s.0 - mean) * (s.0 - mean)).sum::<f64>() / (count - 1.0);
        let interval_seconds = steps.iter().map(|s| s.1).sum::<i64>() as f64 / count / 1e6;
        variance.sqrt() * (SECONDS_PER_YEAR / interval_seconds).sqrt()
    });
    Expected { sma20, ema12, vwap, volatility, session, session_volume }
}

/// `state`'s indicators against [`expected`] of `history`.
///
/// Tolerances, relative to the larger value (absolute below 1): 1e-9 for
/// the SMA (its running sum is within ~40 ε of the largest window sum since
/// its recomputation, ~1e-11 of a mean even when prices span 10⁶ within a
/// window), the EMA (the same operations in the same order) and the VWAP
/// (compensated against plain sums of at most 400 terms: ~1e-13). 1e-7 for
/// the volatility: squaring and cancelling, Welford's M2 carries rounding
/// of up to ~20 ε of the largest M2 since its last recomputation (below
/// 1/1024 of that it is recomputed: ~1e-11 of what is left), plus ~40 ε of
/// the largest return times the spread through the mean; annualising then
/// multiplies by up to √(SECONDS_PER_YEAR / 1 ms) ≈ 1.8·10⁵, which the
/// absolute floor of the comparison meets.
fn check(state: &SymbolState, history: &[Tick]) -> Result<(), TestCaseError> {
    let (Some(got), Some(last)) = (state.indicators(), history.last()) else {
        return Err(TestCaseError::fail("no indicators after an applied tick"));
    };
    let want = expected(history);
    let n = history.len();
    prop_assert_eq!((got.price, got.volume, got.ticks, got.as_of), (last.price, last.volume, n as u64, last.time));
    prop_assert_eq!((got.symbol.as_str(), got.session), (SYMBOL, want.session));
    prop_assert!(close(got.sma20, want.sma20, 1e-9), "sma20 {:?}, want {:?} (tick {})", got.sma20, want.sma20, n);
    prop_assert!(close(got.ema12, want.ema12, 1e-9), "ema12 {:?}, want {:?} (tick {})", got.ema12, want.ema12, n);
    prop_assert!(close(got.vwap, want.vwap, 1e-9), "vwap {:?}, want {:?} (tick {})", got.vwap, want.vwap, n);
    prop_assert!(
        close(Some(got.session_volume), Some(want.session_volume), 1e-9),
        "session volume {}, want {} (tick {})",
        got.session_volume,
        want.session_volume,
        n
    );
    prop_assert!(
        close(got.volatility, want.volatility, 1e-7),
        "volatility {:?}, want {:?} (tick {})",
        got.volatility,
        want.volatility,
        n
    );
    Ok(())
}

/// `n` prices: independent (uniform or log-uniform in (0.01, 10 000)) or
/// a random walk.
fn prices(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(0.01f64..10_000.0, n),
        prop::collection::vec(0.01f64.ln()..10_000.0f64.ln(), n)
            .prop_map(|logs| logs.into_iter().map(f64::exp).collect::<Vec<f64>>()),
        walk(n),
    ]
}

/// `n` prices, each the last times e^step: steps of a scale drawn once per
/// walk, roughly normal (a sum of three uniforms), with flat runs (step 0)
/// and jumps of up to e^±2, to stress the log returns.
fn walk(n: usize) -> impl Strategy<Value = Vec<f64>> {
    let scale = prop_oneof![Just(1e-6), Just(1e-3), Just(1e-2)];
    (1.0f64..1000.0, scale).prop_flat_map(move |(first, scale)| {
        let step = prop_oneof![
            1 => Just(0.0),
            6 => (-1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0).prop_map(move |(a, b, c)| (a + b + c) * scale),
            1 => -2.0f64..2.0,
        ];
        prop::collection::vec(step, n).prop_map(move |steps| {
            let mut price = first;
            steps
                .into_iter()
                .map(|step| {
                    price *= step.exp();
                    price
                })
                .collect::<Vec<f64>>()
        })
    })
}

/// 1 to 399 ticks, each 1 ms to 10 min after the one before, with volumes
/// in [0, 10⁶], a quarter of them 0.
fn stream() -> impl Strategy<Value = Vec<Tick>> {
    let volume = prop_oneof![1 => Just(0.0), 3 => 0.0f64..=1e6];
    (1usize..400)
        .prop_flat_map(move |n| {
            (prop::collection::vec(1i64..=600_000, n), prices(n), prop::collection::vec(volume.clone(), n))
        })
        .prop_map(|(gaps, prices, volumes)| {
            let mut time = start();
            gaps.into_iter()
                .zip(prices)
                .zip(volumes)
                .map(|((gap, price), volume)| {
                    time += TimeDelta::milliseconds(gap);
                    tick(price, volume, time)
                })
                .collect::<Vec<Tick>>()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_indicator_matches_its_definition_after_every_tick(ticks in stream()) {
        let mut state = SymbolState::new(SYMBOL);
        for (i, t) in ticks.iter().enumerate() {
            prop_assert_eq!(state.apply(t, t.time.date_naive()), Applied::Updated);
            check(&state, &ticks[..=i])?;
        }
    }

    #[test]
    fn duplicates_and_late_ticks_never_change_the_result(
        ticks in stream(),
        replays in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>(), 0.01f64..10_000.0), 400)
    ) {
        let mut clean = SymbolState::new(SYMBOL);
        let mut noisy = SymbolState::new(SYMBOL);
        for ((i, t), (index, altered, price)) in ticks.iter().enumerate().zip(&replays) {
            let session = t.time.date_naive();
            prop_assert_eq!(clean.apply(t, session), Applied::Updated);
            prop_assert_eq!(noisy.apply(t, session), Applied::Updated);
            // Any tick applied so far, this one included, once more.
            let j = index.index(i + 1);
            let mut again = ticks[j].clone();
            let mut again_session = again.time.date_naive();
            if *altered {
                // Whatever it carries now and whichever session it claims.
                again.price = *price;
                again.volume += 1.0;
                again_session = NaiveDate::MAX;
            }
            let want = if j == i { Applied::Duplicate } else { Applied::Late };
            prop_assert_eq!(noisy.apply(&again, again_session), want);
            prop_assert_eq!(&noisy, &clean);
        }
    }

    #[test]
    fn a_state_read_back_anywhere_continues_identically(ticks in stream(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(ticks.len() + 1);
        let mut original = SymbolState::new(SYMBOL);
        for t in &ticks[..cut] {
            prop_assert_eq!(original.apply(t, t.time.date_naive()), Applied::Updated);
        }
        let json = serde_json::to_string(&original).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut restored: SymbolState = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&restored, &original);
        for t in &ticks[cut..] {
            let session = t.time.date_naive();
            prop_assert_eq!(restored.apply(t, session), original.apply(t, session));
            prop_assert_eq!(restored.indicators(), original.indicators());
        }
    }
}
