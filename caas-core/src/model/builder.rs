//! Building a definition in code. The builder produces the same [`Definition`] that the
//! YAML or JSON text would, so a cohort built in Rust and one read from a file are checked,
//! hashed and evaluated alike.

use std::path::Path;

use super::definition::{
    Aggregation, Definition, EventVariable, Output, ParameterValue, Purpose, Rule, Ties, Variable,
};
use super::{Cohort, Value};
use crate::codelist::{CodeSystem, CodelistSpec};
use crate::error::Result;

/// Builds a [`Definition`].
///
/// ```
/// use caas_core::model::{AgeUnit, Aggregation, DefinitionBuilder, EventVariable, Purpose, Variable};
/// use caas_core::{CodeSystem, Cohort};
/// use chrono::NaiveDate;
///
/// let built = DefinitionBuilder::new("older_or_asthma", "Aged 65+ or asthma", Purpose::DirectCare)
///     .parameter("index_date", NaiveDate::from_ymd_opt(2025, 8, 31).unwrap())
///     .inline_codelist("asthma", CodeSystem::SnomedCt, ["195967001"])
///     .variable("age", Variable::Age { on: "index_date".into(), unit: AgeUnit::Years })
///     .variable(
///         "asthma",
///         EventVariable::new("gp", Aggregation::Exists)
///             .codelists(["asthma"])
///             .to("index_date")
///             .into(),
///     )
///     .include("eligible", "age >= 65 or asthma")
///     .output(["age"])
///     .build();
///
/// let from_yaml = Cohort::from_yaml_str(r#"
/// id: older_or_asthma
/// title: Aged 65+ or asthma
/// purpose: direct_care
/// parameters: { index_date: 2025-08-31 }
/// codelists:
///   asthma: { system: snomed_ct, codes: ["195967001"] }
/// variables:
///   age: { kind: age, on: index_date }
///   asthma: { kind: events, table: gp, codelists: [asthma], to: index_date, returns: exists }
/// rules:
///   - { name: eligible, include: age >= 65 or asthma }
/// output: { columns: [age] }
/// "#).unwrap();
/// assert_eq!(&built, from_yaml.definition());
/// ```
#[derive(Debug, Clone)]
pub struct DefinitionBuilder {
    definition: Definition,
}

impl DefinitionBuilder {
    /// A definition with its id, title and purpose, and nothing else.
    pub fn new(id: impl Into<String>, title: impl Into<String>, purpose: Purpose) -> Self {
        DefinitionBuilder {
            definition: Definition {
                id: id.into(),
                title: title.into(),
                version: None,
                description: None,
                owner: None,
                purpose,
                legal_basis: None,
                dpia_reference: None,
                assurance: None,
                parameters: Default::default(),
                codelists: Default::default(),
                variables: Default::default(),
                rules: Vec::new(),
                output: Output::default(),
            },
        }
    }

    /// Sets the version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.definition.version = Some(version.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.definition.description = Some(description.into());
        self
    }

    /// Sets the owner or commissioner.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.definition.owner = Some(owner.into());
        self
    }

    /// Declares a parameter with its default value.
    pub fn parameter(mut self, name: impl Into<String>, default: impl Into<Value>) -> Self {
        let raw = ParameterValue::from(default.into());
        self.definition.parameters.insert(name.into(), raw);
        self
    }

    /// Adds a codelist.
    pub fn codelist(mut self, name: impl Into<String>, spec: CodelistSpec) -> Self {
        self.definition.codelists.insert(name.into(), spec);
        self
    }

    /// Adds a codelist written inline.
    pub fn inline_codelist<S: Into<String>>(
        self,
        name: impl Into<String>,
        system: CodeSystem,
        codes: impl IntoIterator<Item = S>,
    ) -> Self {
        let spec = CodelistSpec {
            system,
            codes: Some(codes.into_iter().map(Into::into).collect()),
            file: None,
            code_column: None,
            category_column: None,
            categories: None,
            description: None,
        };
        self.codelist(name, spec)
    }

    /// Adds a variable.
    pub fn variable(mut self, name: impl Into<String>, variable: Variable) -> Self {
        self.definition.variables.insert(name.into(), variable);
        self
    }

    /// Appends an `include` rule.
    pub fn include(self, name: impl Into<String>, expr: impl Into<String>) -> Self {
        self.rule(name.into(), Some(expr.into()), None)
    }

    /// Appends an `exclude` rule.
    pub fn exclude(self, name: impl Into<String>, expr: impl Into<String>) -> Self {
        self.rule(name.into(), None, Some(expr.into()))
    }

    fn rule(mut self, name: String, include: Option<String>, exclude: Option<String>) -> Self {
        self.definition.rules.push(Rule {
            name: Some(name),
            include,
            exclude,
            description: None,
        });
        self
    }

    /// Sets the output columns.
    pub fn output<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.definition.output.columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// The definition.
    pub fn build(self) -> Definition {
        self.definition
    }

    /// The definition, checked; codelist files are resolved from `base_dir`.
    pub fn check(self, base_dir: &Path) -> Result<Cohort> {
        Cohort::from_definition_in(self.definition, base_dir)
    }
}

impl EventVariable {
    /// An aggregate over every event of `table`; narrow it with the other methods.
    pub fn new(table: impl Into<String>, returns: Aggregation) -> Self {
        EventVariable {
            table: table.into(),
            codelists: Vec::new(),
            from: None,
            to: None,
            min_value: None,
            max_value: None,
            condition: None,
            returns,
            ties: Ties::Code,
            order_by: Vec::new(),
            column: None,
            gap_days: None,
        }
    }

    /// For `first_*` and `last_*`: `date`, then the columns that break its ties.
    pub fn order_by<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.order_by = columns.into_iter().map(Into::into).collect();
        self
    }

    /// For `first_value` and `last_value`: the column of the chosen event to return.
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// For `count_episodes`: the days from one event to the next that start a new
    /// episode.
    pub fn gap_days(mut self, days: u32) -> Self {
        self.gap_days = Some(days);
        self
    }

    /// Which of several events on the first (last) date a `first_*` (`last_*`) variable
    /// takes.
    pub fn ties(mut self, ties: Ties) -> Self {
        self.ties = ties;
        self
    }

    /// Selects events whose code is in any of these codelists.
    pub fn codelists<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.codelists = names.into_iter().map(Into::into).collect();
        self
    }

    /// First day of the window (an expression over parameters and the person's earlier
    /// variables), inclusive.
    pub fn from(mut self, expr: impl Into<String>) -> Self {
        self.from = Some(expr.into());
        self
    }

    /// Last day of the window (an expression over parameters and the person's earlier
    /// variables), inclusive.
    pub fn to(mut self, expr: impl Into<String>) -> Self {
        self.to = Some(expr.into());
        self
    }

    /// Inclusive value range; `None` leaves a side open.
    pub fn values(mut self, min: Option<f64>, max: Option<f64>) -> Self {
        self.min_value = min;
        self.max_value = max;
        self
    }

    /// An extra condition over the event's columns, parameters and the person's earlier
    /// variables.
    pub fn condition(mut self, expr: impl Into<String>) -> Self {
        self.condition = Some(expr.into());
        self
    }
}

impl From<EventVariable> for Variable {
    fn from(ev: EventVariable) -> Self {
        Variable::Events(ev)
    }
}
