//! Building explanations and the audit table from an evaluation's inputs.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, RecordBatch, StringBuilder,
};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use futures::StreamExt;

use super::{
    Datum, EventRow, Explanation, Outcome, PeriodRow, PersonId, RuleOutcome, VariableExplanation,
    Verdict,
};
use crate::assure::report::english::English;
use crate::compile::rule_column;
use crate::error::{CaasError, Result};
use crate::execute::Run;
use crate::execute::governance;
use crate::execute::lower::explain::{
    RowKind, SelectedRows, rule_value_column, selected_column, selected_rows, with_rule_values,
};
use crate::execute::sort_by_person;
use crate::model::{Aggregation, EventSelection, Ties, VariableKind};
use crate::results::Evaluation;
use crate::runtime::block_on;
use crate::source::{IdKey, column};

impl Evaluation {
    /// Why `person` is in the cohort or not: each variable's value with the rows behind
    /// it, each rule's outcome and the verdict (see [`explain`](crate::explain)).
    ///
    /// Reads only that person's rows of the tables this evaluation read. A person who is
    /// not in the person table is a [`CaasError::UnknownPerson`], which does not print the
    /// id. An evaluation made with a pseudonym key explains nobody: looking a person up by
    /// id would pair the id with the run's outcome, as an audit would
    /// ([`CaasError::InvalidInput`]).
    pub async fn explain(&self, person: impl Into<PersonId>) -> Result<Explanation> {
        self.refuse_if_pseudonymised("explain", "an explanation by person id")?;
        explain(&self.run, person.into()).await
    }

    /// [`Evaluation::explain`], blocking the calling thread.
    pub fn explain_blocking(&self, person: impl Into<PersonId>) -> Result<Explanation> {
        block_on(self.explain(person))?
    }

    /// Every person's rule outcomes, sorted by person id: `person_id`, one nullable boolean
    /// column per rule named after it (true, false, or null for unknown — the value of its
    /// condition, before `include` or `exclude` applies), then `member` (boolean) and
    /// `removed_by` (the first rule the person did not pass; null for members).
    ///
    /// This runs the cohort's plan again over every person. An evaluation made with a
    /// pseudonym key has no audit: the table would pair every person id with the run, and
    /// so undo the pseudonyms ([`CaasError::InvalidInput`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{AsArray, Date32Array, Int64Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use caas_core::{Cohort, Engine, Parameters, TableSpec};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("person_id", DataType::Int64, false),
    ///     Field::new("date_of_birth", DataType::Date32, true),
    /// ]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![
    ///     Arc::new(Int64Array::from(vec![2, 1, 3])),
    ///     Arc::new(Date32Array::from(vec![Some(10957), Some(-7305), None])),
    /// ]).unwrap();
    /// let engine = Engine::new();
    /// engine.register_batches("persons", TableSpec::person(), schema, vec![batch]).unwrap();
    /// let cohort = Cohort::from_yaml_str(r#"
    /// id: older
    /// title: Aged 65 or over
    /// purpose: direct_care
    /// parameters: { index_date: 2026-03-31 }
    /// variables:
    ///   age: { kind: age, on: index_date }
    /// rules:
    ///   - { name: aged 65+, include: age >= 65 }
    /// "#).unwrap();
    /// let audit = engine.evaluate_blocking(&cohort, &Parameters::new()).unwrap()
    ///     .audit_blocking().unwrap();
    /// let rule = audit.column_by_name("aged 65+").unwrap().as_boolean();
    /// assert_eq!(rule.iter().collect::<Vec<_>>(), [Some(true), Some(false), None]);
    /// let removed_by = audit.column_by_name("removed_by").unwrap().as_string::<i32>();
    /// assert_eq!(removed_by.iter().collect::<Vec<_>>(), [None, Some("aged 65+"), Some("aged 65+")]);
    /// ```
    pub async fn audit(&self) -> Result<RecordBatch> {
        self.refuse_if_pseudonymised("audit", "an audit by person id")?;
        audit(&self.run).await
    }

    fn refuse_if_pseudonymised(&self, what: &str, by_id: &str) -> Result<()> {
        if self.pseudonymised {
            return Err(CaasError::InvalidInput {
                what: what.to_string(),
                message: format!("the evaluation gave pseudonyms; {by_id} would undo them"),
            });
        }
        Ok(())
    }

    /// [`Evaluation::audit`], blocking the calling thread.
    pub fn audit_blocking(&self) -> Result<RecordBatch> {
        block_on(self.audit())?
    }
}

/// The person id as a key of the person table's ids, as the tables' ids are compared
/// (`Table::person_key`); `None` when it cannot be one (a text that is not exactly a whole
/// number, for integer ids: `01` is not person 1).
fn typed_id(run: &Run, person: &PersonId) -> Result<Option<ScalarValue>> {
    let key = IdKey::of(&run.person_table().shape);
    let without_spaces = |s: &str| {
        if key.nhs_numbers {
            s.replace(' ', "")
        } else {
            s.to_string()
        }
    };
    let text = |s: &str| ScalarValue::Utf8(Some(without_spaces(s)));
    Ok(match (person, key.integer) {
        (PersonId::Int(n), true) => Some(ScalarValue::Int64(Some(*n))),
        (PersonId::Text(s), true) => {
            let s = without_spaces(s);
            (s.parse::<i64>().ok())
                .filter(|n| n.to_string() == s)
                .map(|n| ScalarValue::Int64(Some(n)))
        }
        (PersonId::Int(n), false) => Some(text(&n.to_string())),
        (PersonId::Text(s), false) => Some(text(s)),
    })
}

async fn explain(run: &Run, person: PersonId) -> Result<Explanation> {
    let person_table = run.person_table().name.clone();
    let unknown = || CaasError::UnknownPerson {
        table: person_table.clone(),
    };
    let id = typed_id(run, &person)?.ok_or_else(unknown)?;
    let one = run.for_person(id)?;
    let cohort = &one.cohort;
    let parameters = &one.parameters;
    let cohort_plan = one.cohort_plan()?;
    let lowering = one.lowering();
    let persons = lowering.cohort(&cohort_plan)?;
    let selections = selected_rows(&lowering, &cohort_plan, &persons)?;
    let plan = with_rule_values(persons, &cohort_plan)?;

    let plan_schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
    let row_schemas: Vec<SchemaRef> = selections
        .iter()
        .map(|s| Arc::new(s.data.schema().as_arrow().clone()))
        .collect();
    let (person_batches, row_batches) = futures::try_join!(
        plan.collect(),
        futures::future::try_join_all(selections.iter().map(|s| s.data.clone().collect()))
    )?;
    let person_row = concat_batches(&plan_schema, &person_batches)?;
    // Attrition steps count the opt-out step first when the purpose applies it.
    let first_rule_step = if governance::applies(cohort.definition().purpose) {
        2
    } else {
        1
    };
    match person_row.num_rows() {
        0 => {
            // An opted-out person left before any rule: their data is not read further.
            return match governance::count_opt_outs(one.person_table(), cohort).await? {
                Some((_, opted_out)) if opted_out > 0 => Ok(Explanation {
                    cohort: cohort.id().to_string(),
                    person_id: person,
                    verdict: Verdict::Out {
                        step: 1,
                        rule: governance::OPT_OUT_STEP.to_string(),
                    },
                    rules: Vec::new(),
                    variables: Vec::new(),
                }),
                _ => Err(unknown()),
            };
        }
        1 => {}
        _ => {
            let rows = one.person_table().data.clone().count().await?;
            return Err(CaasError::InvalidInput {
                what: "person id".to_string(),
                message: format!(
                    "{rows} rows of person table `{person_table}` have this id; an explanation needs one row per person"
                ),
            });
        }
    }

    let mut events: HashMap<String, Vec<EventRow>> = HashMap::new();
    let mut periods: HashMap<String, Vec<PeriodRow>> = HashMap::new();
    for ((selection, schema), batches) in selections.iter().zip(&row_schemas).zip(row_batches) {
        let rows = concat_batches(schema, &batches)?;
        read_rows(selection, &rows, &mut events, &mut periods)?;
    }

    let english = English::new(cohort, parameters).with_deaths(one.person_table().has_deaths());
    let mut variables = Vec::new();
    for name in cohort.definition().variables.keys() {
        let Some(var) = cohort.variable(name) else {
            continue;
        };
        let value = datum(&cell(&person_row, name)?);
        let mut explained = VariableExplanation {
            name: name.clone(),
            kind: kind_name(&var.kind),
            sentence: english.variable(name).plain(),
            value,
            selected: None,
            events: Vec::new(),
            periods: Vec::new(),
        };
        match &var.kind {
            VariableKind::Events(ev) => {
                let rows = events.remove(name).unwrap_or_default();
                explained.selected = Some(rows.len() as u64);
                explained.events = behind(ev, &explained.value, rows);
            }
            VariableKind::Registered { .. } => {
                let rows = periods.remove(name).unwrap_or_default();
                explained.selected = Some(rows.len() as u64);
                explained.periods = rows;
            }
            VariableKind::Practice { .. } => {
                let rows = periods.remove(name).unwrap_or_default();
                explained.selected = Some(rows.len() as u64);
                // The practice comes from the greatest period by (start, practice), the
                // last one in the rows' order.
                explained.periods = rows.into_iter().last().into_iter().collect();
            }
            _ => {}
        }
        variables.push(explained);
    }

    let mut rules = Vec::new();
    let mut verdict = Verdict::In;
    for (i, rule) in cohort.rules().iter().enumerate() {
        let outcome = match datum(&cell(&person_row, &rule_value_column(i))?) {
            Datum::Bool(b) => Some(b),
            _ => None,
        };
        let passed = matches!(
            datum(&cell(&person_row, &rule_column(i))?),
            Datum::Bool(true)
        );
        if !passed && verdict == Verdict::In {
            verdict = Verdict::Out {
                step: i + first_rule_step,
                rule: rule.name.clone(),
            };
        }
        rules.push(RuleOutcome {
            step: i + first_rule_step,
            name: rule.name.clone(),
            action: if rule.exclude { "exclude" } else { "include" },
            condition: rule.expr.to_string(),
            sentence: english.rule(rule).plain(),
            outcome: Outcome::from(outcome),
            passed,
        });
    }
    Ok(Explanation {
        cohort: cohort.id().to_string(),
        person_id: person,
        verdict,
        rules,
        variables,
    })
}

/// The rows shown behind a value: those that decide it. `rows` come in the order of
/// (date, code, value).
fn behind(ev: &EventSelection, value: &Datum, rows: Vec<EventRow>) -> Vec<EventRow> {
    let last = matches!(ev.returns, Aggregation::LastValue | Aggregation::LastCode);
    if ev.returns.takes_one_event() && !ev.ties.is_code() {
        return chosen_by_value(rows, last, ev.ties == Ties::MaxValue)
            .into_iter()
            .collect();
    }
    match ev.returns {
        Aggregation::Count
        | Aggregation::Sum
        | Aggregation::Mean
        | Aggregation::CountDistinctCodes
        | Aggregation::CountDistinctDates
        | Aggregation::CountEpisodes => rows,
        Aggregation::Exists
        | Aggregation::FirstDate
        | Aggregation::FirstValue
        | Aggregation::FirstCode => rows.into_iter().take(1).collect(),
        Aggregation::LastDate | Aggregation::LastValue | Aggregation::LastCode => {
            rows.into_iter().last().into_iter().collect()
        }
        Aggregation::MinValue | Aggregation::MaxValue => match value {
            Datum::Float(x) => rows
                .into_iter()
                .find(|r| r.value == Some(*x))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        },
    }
}

fn kind_name(kind: &VariableKind) -> &'static str {
    match kind {
        VariableKind::Age { .. } => "age",
        VariableKind::Sex => "sex",
        VariableKind::Alive { .. } => "alive",
        VariableKind::Registered { .. } => "registered",
        VariableKind::Practice { .. } => "practice",
        VariableKind::PersonColumn { .. } => "person_column",
        VariableKind::Events(_) => "events",
        VariableKind::Derived { .. } => "derived",
        VariableKind::MemberOf { .. } => "member_of",
    }
}

fn plan_lost(name: &str) -> CaasError {
    CaasError::internal(format!("the plan lost column `{name}`"))
}

/// The value of column `name` in the first row.
fn cell(batch: &RecordBatch, name: &str) -> Result<ScalarValue> {
    let array = batch.column_by_name(name).ok_or_else(|| plan_lost(name))?;
    Ok(ScalarValue::try_from_array(array, 0)?)
}

fn date_of_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(719_163)?)
}

fn datum(value: &ScalarValue) -> Datum {
    if value.is_null() {
        return Datum::Null;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Datum::Bool(*b),
        ScalarValue::Int8(Some(n)) => Datum::Int(i64::from(*n)),
        ScalarValue::Int16(Some(n)) => Datum::Int(i64::from(*n)),
        ScalarValue::Int32(Some(n)) => Datum::Int(i64::from(*n)),
        ScalarValue::Int64(Some(n)) => Datum::Int(*n),
        ScalarValue::UInt8(Some(n)) => Datum::Int(i64::from(*n)),
        ScalarValue::UInt16(Some(n)) => Datum::Int(i64::from(*n)),
        ScalarValue::UInt32(Some(n)) => Datum::Int(i64::from(*n)),
        ScalarValue::Float32(Some(x)) => Datum::Float(f64::from(*x)),
        ScalarValue::Float64(Some(x)) => Datum::Float(*x),
        ScalarValue::Date32(Some(d)) => date_of_days(*d).map_or(Datum::Null, Datum::Date),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Datum::Text(s.clone()),
        ScalarValue::Dictionary(_, inner) => datum(inner),
        other => Datum::Text(other.to_string()),
    }
}

/// Reads the selected rows of one table into each variable's list, in their order.
fn read_rows(
    selection: &SelectedRows,
    rows: &RecordBatch,
    events: &mut HashMap<String, Vec<EventRow>>,
    periods: &mut HashMap<String, Vec<PeriodRow>>,
) -> Result<()> {
    let get = |name: &str| rows.column_by_name(name).ok_or_else(|| plan_lost(name));
    let flags = (0..selection.variables.len())
        .map(|i| {
            let name = selected_column(i);
            get(&name)?
                .as_boolean_opt()
                .cloned()
                .ok_or_else(|| plan_lost(&name))
        })
        .collect::<Result<Vec<BooleanArray>>>()?;
    let text = |name: &str| -> Result<ArrayRef> { Ok(cast(get(name)?, &DataType::Utf8)?) };
    let dates = |name: &str| -> Result<ArrayRef> { Ok(cast(get(name)?, &DataType::Date32)?) };
    match selection.kind {
        RowKind::Events => {
            let date = dates("date")?;
            let date = date.as_primitive::<Date32Type>();
            let code = text("code")?;
            let code = code.as_string::<i32>();
            let value = cast(get("value")?, &DataType::Float64)?;
            let value = value.as_primitive::<Float64Type>();
            for row in 0..rows.num_rows() {
                let Some(day) = (!date.is_null(row))
                    .then(|| date_of_days(date.value(row)))
                    .flatten()
                else {
                    continue;
                };
                let event = EventRow {
                    table: selection.table.clone(),
                    date: day,
                    code: if code.is_valid(row) {
                        code.value(row).to_string()
                    } else {
                        String::new()
                    },
                    value: value.is_valid(row).then(|| value.value(row)),
                };
                for (flag, name) in flags.iter().zip(&selection.variables) {
                    if flag.is_valid(row) && flag.value(row) {
                        events.entry(name.clone()).or_default().push(event.clone());
                    }
                }
            }
        }
        RowKind::Periods => {
            let start = dates("start_date")?;
            let start = start.as_primitive::<Date32Type>();
            let end = dates("end_date")?;
            let end = end.as_primitive::<Date32Type>();
            let practice = text("practice")?;
            let practice = practice.as_string::<i32>();
            for row in 0..rows.num_rows() {
                let day = |a: &arrow::array::Date32Array| {
                    a.is_valid(row)
                        .then(|| date_of_days(a.value(row)))
                        .flatten()
                };
                let period = PeriodRow {
                    table: selection.table.clone(),
                    start_date: day(start),
                    end_date: day(end),
                    practice: practice
                        .is_valid(row)
                        .then(|| practice.value(row).to_string()),
                };
                for (flag, name) in flags.iter().zip(&selection.variables) {
                    if flag.is_valid(row) && flag.value(row) {
                        periods
                            .entry(name.clone())
                            .or_default()
                            .push(period.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

async fn audit(run: &Run) -> Result<RecordBatch> {
    let rules = run.cohort.rules();
    let cohort_plan = run.cohort_plan()?;
    let plan = with_rule_values(run.lowering().cohort(&cohort_plan)?, &cohort_plan)?;
    let mut exprs = vec![column("person_id")];
    for i in 0..rules.len() {
        exprs.push(
            datafusion::logical_expr::cast(column(&rule_value_column(i)), DataType::Boolean)
                .alias(rule_value_column(i)),
        );
    }
    for i in 0..rules.len() {
        exprs.push(column(&rule_column(i)));
    }
    let plan = plan.select(exprs)?;
    let id = plan.schema().as_arrow().field(0).clone();

    let mut fields = vec![Field::new(
        "person_id",
        id.data_type().clone(),
        id.is_nullable(),
    )];
    for rule in rules {
        fields.push(Field::new(&rule.name, DataType::Boolean, true));
    }
    fields.push(Field::new("member", DataType::Boolean, false));
    fields.push(Field::new("removed_by", DataType::Utf8, true));
    let schema = Arc::new(Schema::new(fields));

    let mut out = Vec::new();
    let mut stream = plan.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let n = rules.len();
        let passes = (0..n)
            .map(|i| {
                batch
                    .column(1 + n + i)
                    .as_boolean_opt()
                    .cloned()
                    .ok_or_else(|| plan_lost(&rule_column(i)))
            })
            .collect::<Result<Vec<BooleanArray>>>()?;
        let mut member = BooleanBuilder::with_capacity(batch.num_rows());
        let mut removed_by = StringBuilder::new();
        for row in 0..batch.num_rows() {
            let failed = passes
                .iter()
                .position(|p| !(p.is_valid(row) && p.value(row)));
            member.append_value(failed.is_none());
            removed_by.append_option(failed.map(|i| rules[i].name.as_str()));
        }
        let mut columns: Vec<ArrayRef> = batch.columns()[..=n].to_vec();
        columns.push(Arc::new(member.finish()));
        columns.push(Arc::new(removed_by.finish()));
        out.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    sort_by_person(schema, &out)
}

/// The event a first (`last` false) or last takes when ties go by value: of the events on
/// the first (last) date, the one with the largest (`max`) or smallest value, an event
/// without one only when none has one, and of equals the first (last) by code.
fn chosen_by_value(rows: Vec<EventRow>, last: bool, max: bool) -> Option<EventRow> {
    let date = if last {
        rows.last()?.date
    } else {
        rows.first()?.date
    };
    let key = |r: &EventRow| r.value.map(|v| if max { v } else { -v });
    rows.into_iter()
        .filter(|r| r.date == date)
        .reduce(|kept, next| {
            let better = match (key(&next), key(&kept)) {
                (Some(n), Some(k)) => n > k || (n == k && last),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => last,
            };
            if better { next } else { kept }
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::physical_plan::displayable;

    use crate::execute::lower::explain::{selected_rows, with_rule_values};
    use crate::{CodeSystem, Cohort, Engine, Parameters, TableSpec};

    fn write(path: &std::path::Path, batch: &RecordBatch) {
        let file = std::fs::File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    }

    #[tokio::test]
    async fn an_explanation_filters_every_scan_on_the_person() {
        let dir = tempfile::tempdir().unwrap();
        let persons = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("person_id", DataType::Int64, false),
                Field::new("date_of_birth", DataType::Date32, true),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Date32Array::from(vec![0, 0])),
            ],
        )
        .unwrap();
        let events = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("person_id", DataType::Int64, false),
                Field::new("date", DataType::Date32, true),
                Field::new("code", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Date32Array::from(vec![100, 200])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        write(&dir.path().join("persons.parquet"), &persons);
        write(&dir.path().join("events.parquet"), &events);
        let engine = Engine::new();
        engine
            .register_file(
                "persons",
                dir.path().join("persons.parquet"),
                TableSpec::person(),
            )
            .await
            .unwrap();
        engine
            .register_file(
                "gp",
                dir.path().join("events.parquet"),
                TableSpec::events(CodeSystem::SnomedCt),
            )
            .await
            .unwrap();
        let cohort = Cohort::from_yaml_str(
            r#"
id: c
title: T
purpose: direct_care
codelists: { a: { system: snomed_ct, codes: [a] } }
variables:
  a: { kind: events, table: gp, codelists: [a], returns: count }
  any: { kind: events, table: gp, returns: last_date }
rules: [ { include: a > 0 } ]
"#,
        )
        .unwrap();
        let result = engine.evaluate(&cohort, &Parameters::new()).await.unwrap();
        let one = result.run.for_person(ScalarValue::Int64(Some(2))).unwrap();
        let cohort_plan = one.cohort_plan().unwrap();
        let lowering = one.lowering();
        let persons = lowering.cohort(&cohort_plan).unwrap();
        let plan = with_rule_values(persons.clone(), &cohort_plan).unwrap();
        let mut plans = vec![plan];
        plans.extend(
            selected_rows(&lowering, &cohort_plan, &persons)
                .unwrap()
                .into_iter()
                .map(|s| s.data),
        );
        for plan in plans {
            let physical = plan.create_physical_plan().await.unwrap();
            let text = displayable(physical.as_ref()).indent(true).to_string();
            // The file scans; the in-memory table of codes is not the person's.
            let scans: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("DataSourceExec") && l.contains("file_type="))
                .collect();
            assert!(!scans.is_empty(), "{text}");
            for scan in scans {
                assert!(
                    scan.contains("predicate=") && scan.contains("person_id@0 = 2"),
                    "a scan without the person's filter:\n{text}"
                );
            }
        }
    }

    /// The row behind a first or last whose ties go by value is the one that decides it.
    #[test]
    fn the_row_behind_a_tie_by_value_is_the_chosen_one() {
        let june = |day| chrono::NaiveDate::from_ymd_opt(2024, 6, day).unwrap_or_default();
        let row = |day: u32, code: &str, value: Option<f64>| super::EventRow {
            table: "gp".into(),
            date: june(day),
            code: code.into(),
            value,
        };
        // In the order of (date, code, value), as the rows come.
        let rows = vec![
            row(1, "162863004", Some(31.0)),
            row(1, "60621009", Some(30.0)),
            row(2, "162863004", Some(32.0)),
            row(2, "60621009", None),
            row(2, "60621009", Some(35.0)),
        ];
        let chosen = |last, max| super::chosen_by_value(rows.clone(), last, max).map(|r| r.value);
        assert_eq!(chosen(true, true), Some(Some(35.0)));
        assert_eq!(chosen(true, false), Some(Some(32.0)));
        assert_eq!(chosen(false, true), Some(Some(31.0)));
        assert_eq!(chosen(false, false), Some(Some(30.0)));
        let unvalued = vec![row(2, "162863004", None), row(2, "60621009", None)];
        let code = |last| super::chosen_by_value(unvalued.clone(), last, true).map(|r| r.code);
        assert_eq!(code(true).as_deref(), Some("60621009"));
        assert_eq!(code(false).as_deref(), Some("162863004"));
    }
}
