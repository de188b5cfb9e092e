//! The statistics of a characterisation, each made as a report may show it: counts under the
//! report's [disclosure control](crate::report::disclosure), and the values of numbers and
//! dates withheld where they could be one person's.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::assure::report::disclosure::{self, Disclosed, disclose};
use crate::model::Purpose;

/// The smallest count that disclosure control shows (1 to 7 are suppressed): also how many
/// people's values a summary needs on each side of it before it is shown.
const SMALLEST_SHOWN: f64 = 8.0;

/// The label of the people whose value is missing.
pub(crate) const MISSING: &str = "(missing)";
/// The label of the categories not listed on their own.
pub(crate) const OTHER: &str = "(other)";

/// One statistic as it may be shown: the number or date (none when it is suppressed,
/// withheld or undefined) and its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shown {
    /// The number shown (a count as rounded, a percentage, a summary), if any.
    pub value: Option<f64>,
    /// The date shown, for statistics of dates.
    pub date: Option<NaiveDate>,
    /// The text a report shows: `*` for what is not shown, empty for what is undefined
    /// (a summary of no values).
    pub text: String,
}

impl Shown {
    /// A count as disclosure control shows it.
    pub(crate) fn count(count: Disclosed) -> Self {
        Shown {
            value: count.shown().map(|n| n as f64),
            date: None,
            text: count.to_string(),
        }
    }

    fn number(x: f64) -> Self {
        Shown {
            value: Some(x),
            date: None,
            text: number_text(x),
        }
    }

    fn percent(x: f64) -> Self {
        Shown {
            value: Some(x),
            date: None,
            text: format!("{x:.1}"),
        }
    }

    /// A date.
    pub(crate) fn date(date: NaiveDate) -> Self {
        Shown {
            value: None,
            date: Some(date),
            text: date.format("%Y-%m-%d").to_string(),
        }
    }

    /// A value that disclosure control does not show.
    fn withheld() -> Self {
        Shown {
            value: None,
            date: None,
            text: "*".to_string(),
        }
    }

    /// A summary of no values.
    fn undefined() -> Self {
        Shown {
            value: None,
            date: None,
            text: String::new(),
        }
    }
}

/// A number as a report writes it: a whole number without decimals, another with at most
/// two (trailing zeros dropped).
fn number_text(x: f64) -> String {
    let text = format!("{x:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A statistic of a variable: of one of its categories or of the whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stat {
    /// The category it is of, if any.
    pub category: Option<String>,
    /// What it is: `count`, `percent`, `n`, `missing`, `min`, `q1`, `median`, ...
    pub statistic: &'static str,
    /// Its value as shown.
    pub shown: Shown,
}

impl Stat {
    fn of(statistic: &'static str, shown: Shown) -> Self {
        Stat {
            category: None,
            statistic,
            shown,
        }
    }
}

/// A category with its people and their share of the group, as shown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Category {
    /// The category's label: a value, an age band, `(other)` or `(missing)`.
    pub label: String,
    /// Its people.
    pub count: Disclosed,
    /// Their percentage of the group's people, from the counts as shown.
    pub percent: Shown,
}

/// The disclosure control of one characterisation: that of the report for `purpose`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Control {
    /// The purpose whose control applies (research when it was asked for direct care).
    pub purpose: Purpose,
    /// The people of the group, as shown: the denominator of the percentages.
    pub people: Disclosed,
}

impl Control {
    /// Whether counts and summaries are under control.
    pub fn applies(self) -> bool {
        disclosure::applies(self.purpose)
    }

    /// A count as shown.
    pub fn count(self, n: u64) -> Disclosed {
        disclose(n, self.purpose)
    }

    /// `n` people of the group as a category.
    fn category(self, label: String, n: u64) -> Category {
        let count = self.count(n);
        let percent = match (count.shown(), self.people.shown()) {
            (Some(part), Some(whole)) if whole > 0 => {
                Shown::percent(part as f64 / whole as f64 * 100.0)
            }
            (_, Some(0)) => Shown::undefined(),
            _ => Shown::withheld(),
        };
        Category {
            label,
            count,
            percent,
        }
    }

    /// Categories in a fixed order (age bands, true and false), each listed whatever its
    /// count.
    pub fn fixed(self, counts: &[(String, u64)]) -> Vec<Category> {
        counts
            .iter()
            .map(|(label, n)| self.category(label.clone(), *n))
            .collect()
    }

    /// The values of a text variable as categories: those listed, then `(other)` when it
    /// has people, then `(missing)`. Under control a value of 1 to 7 people is counted in
    /// `(other)`: its label alone would say that someone has it.
    pub fn values(self, values: &Values) -> Vec<Category> {
        let mut other = values.other;
        let mut categories = Vec::with_capacity(values.counts.len() + 2);
        for (label, n) in &values.counts {
            if self.count(*n) == Disclosed::Suppressed {
                other += n;
            } else {
                categories.push(self.category(label.clone(), *n));
            }
        }
        if other > 0 {
            categories.push(self.category(OTHER.to_string(), other));
        }
        categories.push(self.category(MISSING.to_string(), values.missing));
        categories
    }

    /// `n` and `missing` as counts.
    fn counted(self, n: u64, missing: u64) -> [Stat; 2] {
        [
            Stat::of("n", Shown::count(self.count(n))),
            Stat::of("missing", Shown::count(self.count(missing))),
        ]
    }

    /// A quantile at `p` of `n` values: under control shown only when at least 8 values
    /// (the smallest count shown) lie on each side of it, `n * min(p, 1 - p) >= 8`: 16
    /// values for the median, 32 for the quartiles.
    fn quantile(self, n: u64, p: f64, value: Option<Shown>) -> Shown {
        match value {
            None => Shown::undefined(),
            Some(_) if self.applies() && (n as f64) * p.min(1.0 - p) < SMALLEST_SHOWN => {
                Shown::withheld()
            }
            Some(value) => value,
        }
    }

    /// The smallest or largest value: under control never shown, being one person's.
    fn extreme(self, value: Option<Shown>) -> Shown {
        match value {
            None => Shown::undefined(),
            Some(_) if self.applies() => Shown::withheld(),
            Some(value) => value,
        }
    }

    /// The summary of numbers: `n`, `missing`, `min`, `q1`, `median`, `q3`, `max` and
    /// `mean`. Under control the mean needs 8 values.
    pub fn numbers(self, summary: &Numbers) -> Vec<Stat> {
        let n = summary.n;
        let number = |x: Option<f64>| x.map(Shown::number);
        let mean = match summary.mean {
            None => Shown::undefined(),
            Some(_) if self.applies() && (n as f64) < SMALLEST_SHOWN => Shown::withheld(),
            Some(mean) => Shown::number(mean),
        };
        let mut stats = self.counted(n, summary.missing).to_vec();
        stats.extend([
            Stat::of("min", self.extreme(number(summary.min))),
            Stat::of("q1", self.quantile(n, 0.25, number(summary.q1))),
            Stat::of("median", self.quantile(n, 0.5, number(summary.median))),
            Stat::of("q3", self.quantile(n, 0.75, number(summary.q3))),
            Stat::of("max", self.extreme(number(summary.max))),
            Stat::of("mean", mean),
        ]);
        stats
    }

    /// The summary of dates: `n`, `missing`, `earliest`, `median` and `latest`.
    pub fn dates(self, summary: &Dates) -> Vec<Stat> {
        let n = summary.n;
        let date = |d: Option<NaiveDate>| d.map(Shown::date);
        let mut stats = self.counted(n, summary.missing).to_vec();
        stats.extend([
            Stat::of("earliest", self.extreme(date(summary.earliest))),
            Stat::of("median", self.quantile(n, 0.5, date(summary.median))),
            Stat::of("latest", self.extreme(date(summary.latest))),
        ]);
        stats
    }

    /// A practice variable: `practices` (distinct practices, a count), `missing` (people
    /// without one), then the summary of the members per practice (category `members per
    /// practice`), whose thresholds count practices.
    pub fn practices(self, practices: &Practices) -> Vec<Stat> {
        let mut stats = vec![
            Stat::of("practices", Shown::count(self.count(practices.sizes.n))),
            Stat::of("missing", Shown::count(self.count(practices.missing))),
        ];
        // The summary's `n` and `missing` are the practices and the people just given.
        for stat in self.numbers(&practices.sizes).into_iter().skip(2) {
            stats.push(Stat {
                category: Some("members per practice".to_string()),
                ..stat
            });
        }
        stats
    }
}

/// The values of a text variable, exactly: the most frequent with their people (by
/// people, then label), the people of the others, and those without a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Values {
    /// The values listed, most frequent first.
    pub counts: Vec<(String, u64)>,
    /// The people of the values not listed.
    pub other: u64,
    /// The people without a value.
    pub missing: u64,
}

impl Values {
    /// The `top` most frequent of `counts`, the rest counted in `other`. Disclosure
    /// control later counts the listed values of 1 to 7 people in `other` too: those are
    /// the last listed, and every value not listed has no more people than they.
    pub fn of(counts: HashMap<String, u64>, missing: u64, top: usize) -> Self {
        let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let other = match counts.len() > top {
            true => counts.split_off(top).iter().map(|(_, n)| n).sum(),
            false => 0,
        };
        Values {
            counts,
            other,
            missing,
        }
    }
}

/// The exact summary of numbers (finite values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Numbers {
    /// How many values.
    pub n: u64,
    /// How many people have none (or one that is not a number).
    pub missing: u64,
    /// The smallest.
    pub min: Option<f64>,
    /// The lower quartile.
    pub q1: Option<f64>,
    /// The median.
    pub median: Option<f64>,
    /// The upper quartile.
    pub q3: Option<f64>,
    /// The largest.
    pub max: Option<f64>,
    /// The mean.
    pub mean: Option<f64>,
}

impl Numbers {
    /// The summary of `values` (sorted ascending, finite). Quantiles interpolate linearly
    /// between the values either side (as numpy's and pandas' default).
    pub fn of(values: &[f64], missing: u64) -> Self {
        let (n, any) = (values.len(), !values.is_empty());
        let at = |p: f64| any.then(|| quantile(values, p));
        Numbers {
            n: n as u64,
            missing,
            min: values.first().copied(),
            q1: at(0.25),
            median: at(0.5),
            q3: at(0.75),
            max: values.last().copied(),
            mean: any.then(|| values.iter().sum::<f64>() / n as f64),
        }
    }
}

/// The exact summary of dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Dates {
    /// How many dates.
    pub n: u64,
    /// How many people have none.
    pub missing: u64,
    /// The earliest.
    #[serde(with = "iso_date")]
    pub earliest: Option<NaiveDate>,
    /// The median: of an even number, the earlier of the two middle dates, so that it is
    /// a date.
    #[serde(with = "iso_date")]
    pub median: Option<NaiveDate>,
    /// The latest.
    #[serde(with = "iso_date")]
    pub latest: Option<NaiveDate>,
}

impl Dates {
    /// The summary of `dates` (sorted ascending).
    pub fn of(dates: &[NaiveDate], missing: u64) -> Self {
        Dates {
            n: dates.len() as u64,
            missing,
            earliest: dates.first().copied(),
            median: dates.get(dates.len().saturating_sub(1) / 2).copied(),
            latest: dates.last().copied(),
        }
    }
}

/// The practices of a practice variable: the members per practice, and the members
/// without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Practices {
    /// The summary of the members per practice (its `n` is the practices).
    pub sizes: Numbers,
    /// The members without a practice.
    pub missing: u64,
}

impl Practices {
    /// The practices of `counts` (members per practice).
    pub fn of(counts: &HashMap<String, u64>, missing: u64) -> Self {
        let mut sizes: Vec<f64> = counts.values().map(|n| *n as f64).collect();
        sizes.sort_by(f64::total_cmp);
        Practices {
            sizes: Numbers::of(&sizes, 0),
            missing,
        }
    }
}

/// A date as ISO 8601 text (`2026-03-31`).
pub(crate) mod iso_day {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&date.format("%Y-%m-%d").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(serde::de::Error::custom)
    }
}

/// Dates as ISO 8601 text (`2026-03-31`), or null.
mod iso_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.serialize_str(&d.format("%Y-%m-%d").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

/// The quantile at `p` of sorted `values` (not empty), interpolating linearly between the
/// two values either side of rank `p * (n - 1)`.
fn quantile(values: &[f64], p: f64) -> f64 {
    let rank = p * values.len().saturating_sub(1) as f64;
    // The rank is within 0..n, so the indexes are too.
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    match (values.get(low), values.get(high)) {
        (Some(a), Some(b)) => a + (b - a) * (rank - rank.floor()),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(purpose: Purpose, people: u64) -> Control {
        Control {
            purpose,
            people: disclose(people, purpose),
        }
    }

    fn texts(stats: &[Stat]) -> Vec<(&str, &str)> {
        stats
            .iter()
            .map(|s| (s.statistic, s.shown.text.as_str()))
            .collect()
    }

    fn numbers(purpose: Purpose, values: &[f64], missing: u64) -> Vec<Stat> {
        control(purpose, values.len() as u64).numbers(&Numbers::of(values, missing))
    }

    #[test]
    fn quantiles_interpolate_as_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&values, 0.25), 1.75);
        assert_eq!(quantile(&values, 0.5), 2.5);
        assert_eq!(quantile(&values, 0.75), 3.25);
        assert_eq!(quantile(&[7.0], 0.25), 7.0);
        assert_eq!(number_text(2.5), "2.5");
        assert_eq!(number_text(1.0 / 3.0), "0.33");
        assert_eq!(number_text(-0.001), "0");
        assert_eq!(number_text(70.0), "70");
    }

    #[test]
    fn summaries_are_withheld_until_enough_values_lie_each_side() {
        assert_eq!(
            texts(&numbers(Purpose::DirectCare, &[1.0, 2.0, 4.0], 1)),
            [
                ("n", "3"),
                ("missing", "1"),
                ("min", "1"),
                ("q1", "1.5"),
                ("median", "2"),
                ("q3", "3"),
                ("max", "4"),
                ("mean", "2.33")
            ]
        );
        let values: Vec<f64> = (1..=16).map(f64::from).collect();
        assert_eq!(
            texts(&numbers(Purpose::Research, &values, 0)),
            [
                ("n", "15"),
                ("missing", "0"),
                ("min", "*"),
                ("q1", "*"),
                ("median", "8.5"),
                ("q3", "*"),
                ("max", "*"),
                ("mean", "8.5")
            ]
        );
        let values: Vec<f64> = (1..=32).map(f64::from).collect();
        let research = numbers(Purpose::Research, &values, 0);
        let shown = texts(&research);
        assert_eq!(shown[3], ("q1", "8.75"));
        assert_eq!(shown[5], ("q3", "24.25"));
        assert_eq!(shown[6], ("max", "*"));
        // Seven values: no summary at all; none: nothing to summarise.
        let seven = numbers(Purpose::Research, &[1.0; 7], 0);
        let seven = texts(&seven);
        assert_eq!(seven[0], ("n", "*"));
        assert!(seven[2..].iter().all(|(_, t)| *t == "*"));
        let none = numbers(Purpose::Research, &[], 3);
        let none = texts(&none);
        assert_eq!(none[0], ("n", "0"));
        assert!(none[2..].iter().all(|(_, t)| t.is_empty()));
    }

    #[test]
    fn small_values_fold_into_other_under_control() {
        let counts = |pairs: &[(&str, u64)]| {
            pairs
                .iter()
                .map(|(l, n)| (l.to_string(), *n))
                .collect::<HashMap<_, _>>()
        };
        let shown = |cats: Vec<Category>| {
            cats.into_iter()
                .map(|c| (c.label, c.count.to_string(), c.percent.text))
                .collect::<Vec<_>>()
        };
        let values = Values::of(counts(&[("F", 20), ("M", 18), ("I", 2)]), 1, 10);
        assert_eq!(
            shown(control(Purpose::DirectCare, 41).values(&values)),
            [
                ("F".into(), "20".into(), "48.8".into()),
                ("M".into(), "18".into(), "43.9".into()),
                ("I".into(), "2".into(), "4.9".into()),
                (MISSING.into(), "1".into(), "2.4".into()),
            ]
        );
        assert_eq!(
            shown(control(Purpose::Planning, 41).values(&values)),
            [
                ("F".into(), "20".into(), "50.0".into()),
                ("M".into(), "20".into(), "50.0".into()),
                (OTHER.into(), "*".into(), "*".into()),
                (MISSING.into(), "*".into(), "*".into()),
            ]
        );
        // Beyond the top values, the rest are `(other)`.
        let top = Values::of(counts(&[("F", 20), ("M", 18), ("I", 2)]), 0, 1);
        assert_eq!(
            shown(control(Purpose::DirectCare, 40).values(&top)),
            [
                ("F".into(), "20".into(), "50.0".into()),
                (OTHER.into(), "20".into(), "50.0".into()),
                (MISSING.into(), "0".into(), "0.0".into()),
            ]
        );
    }

    #[test]
    fn dates_and_practices() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let dates = [d(2024, 1, 1), d(2024, 2, 1), d(2024, 3, 1), d(2024, 4, 1)];
        let summary = Dates::of(&dates, 1);
        assert_eq!(
            texts(&control(Purpose::DirectCare, 5).dates(&summary)),
            [
                ("n", "4"),
                ("missing", "1"),
                ("earliest", "2024-01-01"),
                ("median", "2024-02-01"),
                ("latest", "2024-04-01")
            ]
        );
        let json = serde_json::to_string(&summary).unwrap();
        assert!(json.contains(r#""median":"2024-02-01""#), "{json}");
        assert_eq!(serde_json::from_str::<Dates>(&json).unwrap(), summary);
        let practices: HashMap<String, u64> = [("A".to_string(), 3), ("B".to_string(), 1)].into();
        let stats = control(Purpose::DirectCare, 5).practices(&Practices::of(&practices, 1));
        assert_eq!(
            texts(&stats),
            [
                ("practices", "2"),
                ("missing", "1"),
                ("min", "1"),
                ("q1", "1.5"),
                ("median", "2"),
                ("q3", "2.5"),
                ("max", "3"),
                ("mean", "2")
            ]
        );
        assert_eq!(stats[2].category.as_deref(), Some("members per practice"));
    }
}
