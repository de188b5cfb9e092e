//! The people of the person table, held in memory for the checks that compare a row with
//! its person: is the person known, is the date before their birth, is the id on several
//! rows of the person table.
//!
//! A look-up costs far less than a hash join of every event to the person table. Integer
//! ids are kept sorted, and each look-up searches forward from where the one before ended:
//! rows of one person usually come together and in the order of the ids (tables sorted by
//! person), so most look-ups repeat the one before or move a step ahead in memory already
//! fetched, where a hash table would miss the cache on nearly every new person.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int8Array};
use arrow::datatypes::{DataType, Date32Type, Int64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};

use crate::error::Result;
use crate::source::{IdKey, Table};

/// What the checks need of a person.
#[derive(Clone, Copy, Default)]
struct Person {
    /// Date of birth, days since 1970.
    birth: Option<i32>,
    /// Rows of the person table with this id.
    rows: u32,
}

impl Person {
    /// Counts one more row of the person, keeping the earliest date of birth of its rows.
    fn add(&mut self, birth: Option<i32>) {
        self.rows += 1;
        self.birth = match (self.birth, birth) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The people of the person table by id (integer or text, as the person table's ids).
pub(crate) struct People {
    /// Integer ids, sorted and distinct.
    ids: Vec<i64>,
    /// The person of each of `ids`.
    persons: Vec<Person>,
    texts: HashMap<String, Person>,
}

/// The first index of sorted `ids` whose id is not below `id`, searched forward from
/// `hint` when `id` is not below the id there (doubling the step, then bisecting), else
/// from the start.
fn lower_bound(ids: &[i64], id: i64, hint: usize) -> usize {
    let start = match ids.get(hint) {
        Some(at) if *at <= id => hint,
        _ => 0,
    };
    let mut step = 1;
    while ids.get(start + step).is_some_and(|at| *at < id) {
        step *= 2;
    }
    let low = start + step / 2;
    let high = (start + step + 1).min(ids.len());
    low + ids
        .get(low..high)
        .map_or(0, |window| window.partition_point(|at| *at < id))
}

impl fmt::Debug for People {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the ids.
        write!(f, "People({} ids)", self.ids.len() + self.texts.len())
    }
}

/// What a row's check finds; the values of the `caas_person_check` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub(crate) enum Verdict {
    /// Nothing to report (or no id: counted elsewhere).
    Fine = 0,
    /// The id is not in the person table.
    Unknown = 1,
    /// The row's date is before the person's birth.
    BeforeBirth = 2,
    /// The id is on more than one row of the person table.
    Duplicate = 3,
}

impl People {
    /// Reads the ids and dates of birth of the person table.
    pub async fn read(person: &Table) -> Result<Self> {
        let birth = match person.shape.column("date_of_birth") {
            Some(c) => person.date(c),
            None => lit(ScalarValue::Date32(None)),
        };
        let batches = person
            .data
            .clone()
            .select(vec![person.person_key(IdKey::of(&person.shape)), birth])?
            .collect()
            .await?;
        let mut integers: Vec<(i64, Option<i32>)> = Vec::new();
        let mut texts: HashMap<String, Person> = HashMap::new();
        for batch in &batches {
            let births = batch.column(1).as_primitive::<Date32Type>();
            let birth = |i: usize| (!births.is_null(i)).then(|| births.value(i));
            let ids = batch.column(0);
            if ids.data_type() == &DataType::Int64 {
                let ids = ids.as_primitive::<Int64Type>();
                integers.extend(
                    (0..ids.len())
                        .filter(|i| ids.is_valid(*i))
                        .map(|i| (ids.value(i), birth(i))),
                );
            } else {
                let ids = arrow::compute::cast(ids, &DataType::Utf8)?;
                let ids = ids.as_string::<i32>();
                for i in (0..ids.len()).filter(|i| ids.is_valid(*i)) {
                    let entry = texts.entry(ids.value(i).to_string()).or_default();
                    entry.add(birth(i));
                }
            }
        }
        integers.sort_unstable_by_key(|(id, _)| *id);
        let mut people = People {
            ids: Vec::with_capacity(integers.len()),
            persons: Vec::with_capacity(integers.len()),
            texts,
        };
        for (id, birth) in integers {
            if people.ids.last() != Some(&id) {
                people.ids.push(id);
                people.persons.push(Person::default());
            }
            if let Some(person) = people.persons.last_mut() {
                person.add(birth);
            }
        }
        Ok(people)
    }

    fn verdict(person: Option<&Person>, date: Option<i32>, own_rows: bool) -> Verdict {
        match person {
            None if own_rows => Verdict::Fine,
            None => Verdict::Unknown,
            Some(p) if own_rows => {
                if p.rows > 1 {
                    Verdict::Duplicate
                } else {
                    Verdict::Fine
                }
            }
            Some(p) => match (p.birth, date) {
                (Some(birth), Some(date)) if date < birth => Verdict::BeforeBirth,
                _ => Verdict::Fine,
            },
        }
    }

    /// The verdict of every row, given its person id (Int64 or text) and date (or null).
    fn verdicts(&self, ids: &ArrayRef, dates: &ArrayRef, own_rows: bool) -> DfResult<Int8Array> {
        let dates = arrow::compute::cast(dates, &DataType::Date32)?;
        let dates = dates.as_primitive::<Date32Type>();
        let date = |i: usize| (!dates.is_null(i)).then(|| dates.value(i));
        let mut out = Vec::with_capacity(ids.len());
        if ids.data_type().is_integer() {
            let ids = arrow::compute::cast(ids, &DataType::Int64)?;
            let ids = ids.as_primitive::<Int64Type>();
            let mut last: Option<(i64, Option<&Person>)> = None;
            let mut hint = 0;
            for i in 0..ids.len() {
                if ids.is_null(i) {
                    out.push(Verdict::Fine as i8);
                    continue;
                }
                let id = ids.value(i);
                let person = match last {
                    Some((seen, person)) if seen == id => person,
                    _ => {
                        hint = lower_bound(&self.ids, id, hint);
                        let person = (self.ids.get(hint) == Some(&id))
                            .then(|| self.persons.get(hint))
                            .flatten();
                        last = Some((id, person));
                        person
                    }
                };
                out.push(Self::verdict(person, date(i), own_rows) as i8);
            }
        } else {
            let ids = arrow::compute::cast(ids, &DataType::Utf8)?;
            let ids = ids.as_string::<i32>();
            let mut last: Option<(&str, Option<&Person>)> = None;
            for i in 0..ids.len() {
                if ids.is_null(i) {
                    out.push(Verdict::Fine as i8);
                    continue;
                }
                let id = ids.value(i);
                let person = match last {
                    Some((seen, person)) if seen == id => person,
                    _ => {
                        let person = self.texts.get(id);
                        last = Some((id, person));
                        person
                    }
                };
                out.push(Self::verdict(person, date(i), own_rows) as i8);
            }
        }
        Ok(Int8Array::from(out))
    }
}

/// `caas_person_check(id, date)`: the [`Verdict`] of each row as an Int8.
struct PersonCheck {
    signature: Signature,
    people: Arc<People>,
    /// Whether the rows are the person table's own (then only duplicates are looked for).
    own_rows: bool,
}

impl fmt::Debug for PersonCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonCheck")
            .field("people", &self.people)
            .field("own_rows", &self.own_rows)
            .finish()
    }
}

impl PartialEq for PersonCheck {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.people, &other.people) && self.own_rows == other.own_rows
    }
}

impl Eq for PersonCheck {}

impl std::hash::Hash for PersonCheck {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.people).hash(state);
        self.own_rows.hash(state);
    }
}

impl ScalarUDFImpl for PersonCheck {
    fn name(&self) -> &str {
        "caas_person_check"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let [ids, dates] = args.args.as_slice() else {
            return exec_err!("caas_person_check takes an id and a date");
        };
        let out = self
            .people
            .verdicts(&ids.to_array(n)?, &dates.to_array(n)?, self.own_rows)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// The [`Verdict`] of each row of `table`, whose `date` (or null) is compared with the
/// person's birth. For the person table itself, whether the row's id is on several rows.
pub(crate) fn person_check(people: &Arc<People>, table: &Table, key: IdKey, date: Expr) -> Expr {
    let own_rows = table.shape.role == crate::source::Role::Person;
    ScalarUDF::new_from_impl(PersonCheck {
        signature: Signature::any(2, Volatility::Immutable),
        people: people.clone(),
        own_rows,
    })
    .call(vec![table.person_key(key), date])
}

#[cfg(test)]
mod tests {
    use super::lower_bound;

    #[test]
    fn lower_bound_agrees_with_a_search_from_the_start() {
        let ids: Vec<i64> = (0..300).map(|i| i * 3 + i % 2).collect();
        for hint in [0, 1, 5, 100, 299, 300, 1000] {
            for id in -2..1000 {
                let expected = ids.partition_point(|at| *at < id);
                assert_eq!(
                    lower_bound(&ids, id, hint),
                    expected,
                    "id {id}, hint {hint}"
                );
            }
        }
        assert_eq!(lower_bound(&[], 5, 0), 0);
    }
}
