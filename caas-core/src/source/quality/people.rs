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

/// What the checks need of a person, in 8 bytes: with its id, 4 to a cache line.
#[derive(Clone, Copy)]
struct Person {
    /// Date of birth, days since 1970; `NO_BIRTH` when unknown.
    birth: i32,
    /// Rows of the person table with this id.
    rows: u32,
}

/// The `birth` of a person without a date of birth: 5.8 million years BC, no real date.
const NO_BIRTH: i32 = i32::MIN;

impl Default for Person {
    fn default() -> Self {
        Person {
            birth: NO_BIRTH,
            rows: 0,
        }
    }
}

impl Person {
    /// Counts one more row of the person, keeping the earliest date of birth of its rows.
    fn add(&mut self, birth: Option<i32>) {
        self.rows += 1;
        self.birth = match (self.birth(), birth) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(NO_BIRTH),
        };
    }

    fn birth(&self) -> Option<i32> {
        (self.birth != NO_BIRTH).then_some(self.birth)
    }
}

/// A person with an integer id. Held beside its id, so that a look-up in events not
/// sorted by person misses the cache once, not once for the id and once for the person.
#[derive(Clone, Copy)]
struct Numbered {
    id: i64,
    person: Person,
}

/// What is searched by id.
trait Id {
    fn id(&self) -> i64;
}

impl Id for i64 {
    fn id(&self) -> i64 {
        *self
    }
}

impl Id for Numbered {
    fn id(&self) -> i64 {
        self.id
    }
}

/// The people of the person table by id (integer or text, as the person table's ids).
pub(crate) struct People {
    /// The people with integer ids, sorted by id, each id once.
    numbered: Vec<Numbered>,
    texts: HashMap<String, Person>,
}

/// How far ahead of the last look-up an id may be for the search to start there.
const NEAR: usize = 64;

/// How many rows' people [`People::fetch`] reads at once.
const GROUP: usize = 16;

/// The first index of sorted, distinct `ids` whose id is not below `id`. Rows sorted by
/// person ask for the id of the look-up before (`hint`) or one a little ahead: the search
/// starts there. Rows in any other order start where `id` would be were the ids evenly
/// spread — exact for ids numbered 1 to n, close for most others. From the start it
/// doubles its step forward or backward, then bisects: a few probes near one place, where
/// a bisection of the whole array makes twenty far apart, each a miss of the cache (events
/// not sorted by person were 4× slower to check than sorted ones).
fn lower_bound<T: Id>(ids: &[T], id: i64, hint: usize) -> usize {
    let near = ids.get(hint).is_some_and(|at| at.id() <= id)
        && ids.get(hint + NEAR).is_none_or(|far| far.id() >= id);
    let start = if near { hint } else { interpolate(ids, id) };
    match ids.get(start) {
        Some(at) if at.id() <= id => forward(ids, id, start),
        Some(_) => backward(ids, id, start),
        None => ids.len(),
    }
}

/// Where `id` would be in `ids` were they evenly spread between the first and the last:
/// `ids.len()` when it is above the last.
fn interpolate<T: Id>(ids: &[T], id: i64) -> usize {
    let (Some(first), Some(last)) = (ids.first().map(Id::id), ids.last().map(Id::id)) else {
        return 0;
    };
    if id <= first {
        return 0;
    }
    if id > last {
        return ids.len();
    }
    // In floating point: the span of two i64 overflows an i64, and a guess is enough.
    let share = (id as f64 - first as f64) / (last as f64 - first as f64);
    ((share * (ids.len() - 1) as f64) as usize).min(ids.len() - 1)
}

/// The lower bound of `id` at or after `start`, where `ids[start] <= id`.
fn forward<T: Id>(ids: &[T], id: i64, start: usize) -> usize {
    let mut step = 1;
    while ids.get(start + step).is_some_and(|at| at.id() < id) {
        step *= 2;
    }
    let low = start + step / 2;
    let high = (start + step + 1).min(ids.len());
    low + ids
        .get(low..high)
        .map_or(0, |window| window.partition_point(|at| at.id() < id))
}

/// The lower bound of `id` at or before `start`, where `ids[start] >= id`.
fn backward<T: Id>(ids: &[T], id: i64, start: usize) -> usize {
    let mut step = 1;
    while step <= start && ids.get(start - step).is_some_and(|at| at.id() >= id) {
        step *= 2;
    }
    let low = start.saturating_sub(step);
    let high = start - step / 2 + 1;
    low + ids
        .get(low..high)
        .map_or(0, |window| window.partition_point(|at| at.id() < id))
}

impl fmt::Debug for People {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the ids.
        write!(f, "People({} ids)", self.numbered.len() + self.texts.len())
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
        let mut numbered: Vec<Numbered> = Vec::with_capacity(integers.len());
        for (id, birth) in integers {
            if numbered.last().map(|n| n.id) != Some(id) {
                numbered.push(Numbered {
                    id,
                    person: Person::default(),
                });
            }
            if let Some(last) = numbered.last_mut() {
                last.person.add(birth);
            }
        }
        Ok(People { numbered, texts })
    }

    /// Reads the place where the search of each of `ids` starts when it is not near the
    /// one before, all at once, so that in events not sorted by person the misses of the
    /// cache overlap instead of each waiting for the one before (the loop is short enough
    /// for the processor to have them all in flight); the searches then find those places
    /// cached. Rows sorted by person find them cached anyway.
    fn fetch(&self, ids: &[i64]) {
        let mut probed = [0; GROUP];
        for (slot, id) in probed.iter_mut().zip(ids) {
            let at = interpolate(&self.numbered, *id);
            *slot = self.numbered.get(at).map_or(0, |n| n.id);
        }
        std::hint::black_box(&probed);
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
            Some(p) => match (p.birth(), date) {
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
                if i % GROUP == 0
                    && let Some(group) = ids.values().get(i..(i + GROUP).min(ids.len()))
                {
                    self.fetch(group);
                }
                if ids.is_null(i) {
                    out.push(Verdict::Fine as i8);
                    continue;
                }
                let id = ids.value(i);
                let person = match last {
                    Some((seen, person)) if seen == id => person,
                    _ => {
                        hint = lower_bound(&self.numbered, id, hint);
                        let person = self
                            .numbered
                            .get(hint)
                            .filter(|n| n.id == id)
                            .map(|n| &n.person);
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
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Date32Array, Int64Array};

    use super::{Numbered, People, Person, Verdict, lower_bound};

    #[test]
    fn rows_in_any_order_get_the_verdicts_of_a_hash_look_up() {
        // People 3, 6, 9, ..., born on day 10 × id; one of them on two rows.
        let mut people: HashMap<i64, Person> = HashMap::new();
        for id in (3..3000).step_by(3) {
            people.entry(id).or_default().add(Some(10 * id as i32));
        }
        people.entry(300).or_default().add(None);
        let mut numbered: Vec<Numbered> = people
            .iter()
            .map(|(&id, &person)| Numbered { id, person })
            .collect();
        numbered.sort_by_key(|n| n.id);
        let checked = People {
            numbered,
            texts: HashMap::new(),
        };
        // Rows in a scrambled order, ids known and unknown, some missing, dates either side
        // of birth.
        let ids: Vec<Option<i64>> = (0..5000_i64)
            .map(|i| (i % 97 != 0).then_some((i * 7919) % 3100 - 20))
            .collect();
        let dates: Vec<Option<i32>> = (0..5000).map(|i| Some((i * 104_729) % 31_000)).collect();
        let expected: Vec<i8> = ids
            .iter()
            .zip(&dates)
            .map(|(id, date)| {
                let verdict = match id.map(|id| people.get(&id)) {
                    None => Verdict::Fine,
                    Some(person) => People::verdict(person, *date, false),
                };
                verdict as i8
            })
            .collect();
        let ids: ArrayRef = Arc::new(Int64Array::from(ids));
        let dates: ArrayRef = Arc::new(Date32Array::from(dates));
        let actual = checked.verdicts(&ids, &dates, false).unwrap();
        assert_eq!(actual.values().to_vec(), expected);
        assert!(expected.contains(&(Verdict::Unknown as i8)));
        assert!(expected.contains(&(Verdict::BeforeBirth as i8)));
    }

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
        assert_eq!(lower_bound::<i64>(&[], 5, 0), 0);
    }

    #[test]
    fn lower_bound_finds_ids_in_any_order_and_spread() {
        let spreads: Vec<Vec<i64>> = vec![
            (1..=1000).collect(),
            (0..500).map(|i| i * i).collect(),
            (0..400)
                .map(|i| if i < 390 { i } else { 1_000_000 + i })
                .collect(),
            vec![i64::MIN, -5, 0, 7, i64::MAX],
            vec![42],
        ];
        for ids in &spreads {
            let probes: Vec<i64> = ids
                .iter()
                .flat_map(|&id| [id.saturating_sub(1), id, id.saturating_add(1)])
                .chain([i64::MIN, i64::MAX, 0])
                .collect();
            for &id in &probes {
                let expected = ids.partition_point(|at| *at < id);
                for hint in [0, 3, ids.len() / 2, ids.len().saturating_sub(1), ids.len()] {
                    assert_eq!(lower_bound(ids, id, hint), expected, "id {id}, hint {hint}");
                }
            }
        }
    }
}
