//! The statistics kiln reports about timings, in one place so that `kiln
//! run`, `kiln devices`, the benchmark tables and the dispatch log agree: the
//! median of repeated measurements and the way a duration is printed.

/// The median of `samples` (the mean of the two middle values when their
/// number is even); `None` for no samples. NaNs sort last (`total_cmp`).
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(0.5 * (v[n / 2 - 1] + v[n / 2])),
    }
}

/// The geometric mean of positive ratios; `None` for none.
pub fn geomean(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    Some((v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

/// Seconds for humans: three significant digits in the unit that suits the
/// size (`850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`).
pub fn duration(seconds: f64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s")];
    if !seconds.is_finite() {
        return format!("{seconds} s");
    }
    if seconds == 0.0 {
        return "0 s".into();
    }
    let magnitude = seconds.abs();
    let mut unit = UNITS
        .iter()
        .rposition(|&(scale, _)| magnitude >= scale)
        .unwrap_or(0);
    loop {
        let (scale, name) = UNITS[unit];
        let value = seconds / scale;
        // Thresholds on the rounded value: 9.996 prints as `10.0`, not `10.00`.
        let decimals = match value.abs() {
            v if v >= 99.95 => 0,
            v if v >= 9.995 => 1,
            _ => 2,
        };
        let text = format!("{value:.decimals$}");
        // 999.7 µs rounds to `1000`: print it as `1.00 ms` instead.
        if unit + 1 < UNITS.len() && value.abs() >= 999.5 {
            unit += 1;
            continue;
        }
        return format!("{text} {name}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        // A NaN sorts after every number instead of scrambling the order.
        assert_eq!(median(&[f64::NAN, 1.0, 2.0]), Some(2.0));
    }

    #[test]
    fn durations_have_three_significant_digits_and_a_fitting_unit() {
        let cases = [
            (3e-8, "30.0 ns"),
            (8.5e-7, "850 ns"),
            (1.0e-6, "1.00 µs"),
            (12.34e-6, "12.3 µs"),
            (1.234e-3, "1.23 ms"),
            (0.5, "500 ms"),
            (2.5, "2.50 s"),
            (4321.0, "4321 s"),
            (0.0, "0 s"),
            (-2.5e-3, "-2.50 ms"),
        ];
        for (s, text) in cases {
            assert_eq!(duration(s), text, "{s}");
        }
    }

    #[test]
    fn rounding_up_moves_to_the_next_digit_or_unit() {
        assert_eq!(duration(9.996e-3), "10.0 ms");
        assert_eq!(duration(99.96e-3), "100 ms");
        assert_eq!(duration(999.7e-6), "1.00 ms");
        assert_eq!(duration(0.9999), "1.00 s");
        assert_eq!(duration(f64::INFINITY), "inf s");
    }
}
