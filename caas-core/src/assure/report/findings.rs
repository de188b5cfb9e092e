//! The data-quality findings as text: what the command line prints and what the front ends
//! show (Python's `str()`), written once. (Beside the report, which presents the findings
//! too; the findings themselves are [`crate::quality`]'s.)

use std::fmt;

use super::disclosure::thousands;
use crate::quality::{ArithmeticFinding, DataQuality, Finding, FindingKind};

impl Finding {
    /// The finding as a line: "`persons`: 2 row(s) have an invalid NHS number (column
    /// nhs_number, policy keep)". Counts are exact: this is the analyst's view, not a
    /// published one.
    pub fn sentence(&self, table: &str) -> String {
        format!(
            "`{table}`: {} row(s) have {} (column {}, policy {})",
            thousands(self.count),
            self.kind.description(),
            self.column,
            self.policy
        )
    }
}

impl ArithmeticFinding {
    /// The variable or the rule: "variable `bmi`", "rule `high`".
    pub fn place(&self) -> String {
        match (&self.variable, &self.rule) {
            (Some(variable), _) => format!("variable `{variable}`"),
            (None, Some(rule)) => format!("rule `{rule}`"),
            (None, None) => "the definition".to_string(),
        }
    }

    /// The finding as a line: "variable `bmi`: 2 person(s) have a value that arithmetic
    /// left missing (...) (policy keep)". Counts are exact, as for [`Finding::sentence`].
    pub fn sentence(&self) -> String {
        format!(
            "{}: {} person(s) have {} (policy {})",
            self.place(),
            thousands(self.count),
            FindingKind::ArithmeticError.description(),
            self.policy
        )
    }
}

impl DataQuality {
    /// The findings with at least one row, over every table, each with its table's name.
    pub fn found(&self) -> impl Iterator<Item = (&str, &Finding)> {
        self.tables.iter().flat_map(|t| {
            t.findings
                .iter()
                .filter(|f| f.count > 0)
                .map(move |f| (t.table.as_str(), f))
        })
    }
}

impl fmt::Display for DataQuality {
    /// What was found, one line per finding with rows, then the rows excluded per table;
    /// or that nothing was found.
    ///
    /// ```
    /// use caas_core::quality::{DataQuality, Finding, FindingKind, Policy, TableQuality};
    /// use caas_core::Role;
    /// let finding = |kind, count, policy, excluded| Finding {
    ///     kind, column: "nhs_number".to_string(), count, policy, excluded,
    /// };
    /// let quality = DataQuality {
    ///     reference_date: "2026-01-01".to_string(),
    ///     tables: vec![TableQuality {
    ///         table: "persons".to_string(),
    ///         role: Role::Person,
    ///         rows: 5000,
    ///         rows_excluded: 1200,
    ///         findings: vec![
    ///             finding(FindingKind::InvalidNhsNumber, 1200, Policy::Exclude, 1200),
    ///             finding(FindingKind::MissingDate, 0, Policy::Keep, 0),
    ///         ],
    ///     }],
    ///     arithmetic: vec![],
    /// };
    /// assert_eq!(quality.to_string(), "Data quality: 1 finding(s)\n  \
    ///     `persons`: 1,200 row(s) have an invalid NHS number (column nhs_number, policy exclude)\n  \
    ///     `persons`: 1,200 row(s) excluded");
    /// assert_eq!(
    ///     DataQuality::default().to_string(),
    ///     "Data quality: nothing found in the 0 table(s) read"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let found: Vec<(&str, &Finding)> = self.found().collect();
        let arithmetic: Vec<&ArithmeticFinding> =
            self.arithmetic.iter().filter(|a| a.count > 0).collect();
        if found.is_empty() && arithmetic.is_empty() {
            return write!(
                f,
                "Data quality: nothing found in the {} table(s) read",
                self.tables.len()
            );
        }
        write!(
            f,
            "Data quality: {} finding(s)",
            found.len() + arithmetic.len()
        )?;
        for (table, finding) in found {
            write!(f, "\n  {}", finding.sentence(table))?;
        }
        for finding in arithmetic {
            write!(f, "\n  {}", finding.sentence())?;
        }
        for table in self.tables.iter().filter(|t| t.rows_excluded > 0) {
            write!(
                f,
                "\n  `{}`: {} row(s) excluded",
                table.table,
                thousands(table.rows_excluded)
            )?;
        }
        Ok(())
    }
}
