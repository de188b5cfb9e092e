//! Statistical disclosure control of the counts in reports.
//!
//! A report for direct care shows exact counts: it goes to the people who care for the
//! patients counted. For any other purpose (research, planning) small numbers could
//! single people out, so counts follow the NHS convention for published figures:
//!
//! - 0 stays 0 (nobody is singled out by an empty cell, and it is what a reader needs to
//!   see that a rule removed no one);
//! - 1 to 7 are suppressed, shown as `*`;
//! - 8 and over are rounded to the nearest 5 (8 → 10, 12 → 10, 13 → 15; with whole
//!   numbers there are no halves to break).
//!
//! Each count is controlled on its own, so a count removed by a rule cannot be recovered
//! exactly from the controlled counts before and after it. Pictures drawn from counts (the
//! attrition funnel) are drawn from the controlled counts.

use std::fmt;

use serde::Serialize;

use crate::model::Purpose;

/// A count as a report may show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "count", rename_all = "snake_case")]
pub enum Disclosed {
    /// The exact count (direct care, or a count of 0).
    Exact(u64),
    /// The count rounded to the nearest 5.
    Rounded(u64),
    /// A count from 1 to 7, not shown.
    Suppressed,
}

impl Disclosed {
    /// The number shown, if any: what a picture of the count is drawn from.
    pub fn shown(self) -> Option<u64> {
        match self {
            Disclosed::Exact(n) | Disclosed::Rounded(n) => Some(n),
            Disclosed::Suppressed => None,
        }
    }
}

impl fmt::Display for Disclosed {
    /// Exact and rounded counts with thousands separators (`12,345`), suppressed ones as `*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shown() {
            Some(n) => f.write_str(&thousands(n)),
            None => f.write_str("*"),
        }
    }
}

/// Whether counts for `purpose` are controlled: for every purpose but direct care.
pub fn applies(purpose: Purpose) -> bool {
    purpose != Purpose::DirectCare
}

/// A count as a report for `purpose` may show it.
///
/// ```
/// use caas_core::model::Purpose;
/// use caas_core::report::disclosure::{disclose, Disclosed};
/// assert_eq!(disclose(5, Purpose::DirectCare), Disclosed::Exact(5));
/// assert_eq!(disclose(0, Purpose::Research), Disclosed::Exact(0));
/// assert_eq!(disclose(7, Purpose::Research), Disclosed::Suppressed);
/// assert_eq!(disclose(8, Purpose::Planning), Disclosed::Rounded(10));
/// assert_eq!(disclose(12, Purpose::Research), Disclosed::Rounded(10));
/// assert_eq!(disclose(13, Purpose::Research), Disclosed::Rounded(15));
/// assert_eq!(disclose(12_343, Purpose::Research).to_string(), "12,345");
/// ```
pub fn disclose(count: u64, purpose: Purpose) -> Disclosed {
    if !applies(purpose) || count == 0 {
        Disclosed::Exact(count)
    } else if count <= 7 {
        Disclosed::Suppressed
    } else {
        Disclosed::Rounded(round_to_5(count))
    }
}

fn round_to_5(n: u64) -> u64 {
    let down = n - n % 5;
    if n % 5 >= 3 {
        down.saturating_add(5)
    } else {
        down
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_small_count_and_the_rounding_boundaries() {
        for n in 1..=7 {
            assert_eq!(disclose(n, Purpose::Research), Disclosed::Suppressed, "{n}");
            assert_eq!(disclose(n, Purpose::DirectCare), Disclosed::Exact(n));
        }
        let rounded: Vec<u64> = (8..=17)
            .map(|n| disclose(n, Purpose::Planning).shown().unwrap_or(u64::MAX))
            .collect();
        assert_eq!(rounded, [10, 10, 10, 10, 10, 15, 15, 15, 15, 15]);
        for n in 8..10_000u64 {
            let shown = disclose(n, Purpose::Research).shown().unwrap_or(u64::MAX);
            assert_eq!(shown % 5, 0);
            assert!(shown.abs_diff(n) <= 2, "{n} -> {shown}");
        }
        // The largest count rounds up to itself, a multiple of 5, without overflowing.
        assert_eq!(
            disclose(u64::MAX - 1, Purpose::Research).shown(),
            Some(u64::MAX)
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
