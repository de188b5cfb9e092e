//! The registered tables: a [`Catalog`] that an engine adds to and removes from, and the
//! [`Snapshot`] of it that one evaluation reads — with exactly one person table, so that no
//! later stage has to look for it.

use std::fmt;
use std::sync::{Arc, RwLock};

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::functions::expr_fn::replace;
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::{Expr as DfExpr, cast, lit, try_cast};
use indexmap::IndexMap;

use super::quality::QualityMemo;
use super::{Role, TableShape, column};
use crate::error::{CaasError, Place, Result};

/// A registered table.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: String,
    pub shape: TableShape,
    pub data: DataFrame,
    /// The data-quality counts made of this registration.
    pub quality: QualityMemo,
}

impl Table {
    /// The same table over other rows (e.g. one person's), with counts of its own: the
    /// full table's data-quality counts must not be taken for the restricted rows'.
    pub fn with_data(&self, data: DataFrame) -> Table {
        Table {
            name: self.name.clone(),
            shape: self.shape.clone(),
            data,
            quality: QualityMemo::default(),
        }
    }

    /// The table's person id as a key of the person table's ids. A text id matches an
    /// integer id only when it is exactly the integer's decimal form: `'01'`, `'1.0'` and
    /// `' 1'` are not person 1, and convert to null. Such a row matches nobody, and counts
    /// as an `unknown_person` finding (see [`Table::unmatched_id`]); no value is ever
    /// printed in an error. NHS numbers used as ids lose their spaces, so `943 476 5919`
    /// and `9434765919` are one person, whether the person table holds them as text or as
    /// integers.
    pub fn person_key(&self, key: IdKey) -> DfExpr {
        let source = column(self.person_id_column());
        match (self.shape.integer_person_id, key.integer) {
            (false, true) => {
                let text = if key.nhs_numbers {
                    replace(cast(source, DataType::Utf8), lit(" "), lit(""))
                } else {
                    cast(source, DataType::Utf8)
                };
                let number = try_cast(text.clone(), DataType::Int64);
                let exact = cast(number.clone(), DataType::Utf8).eq(text);
                DfExpr::Case(Case::new(
                    None,
                    vec![(Box::new(exact), Box::new(number))],
                    None,
                ))
            }
            (_, true) => cast(source, DataType::Int64),
            (_, false) if key.nhs_numbers => {
                replace(cast(source, DataType::Utf8), lit(" "), lit(""))
            }
            (_, false) => cast(source, DataType::Utf8),
        }
    }

    /// True for a row whose person id is given but of the other kind than the key's and
    /// not convertible to it: its key is null though its id is not.
    pub fn unmatched_id(&self, key: IdKey) -> DfExpr {
        if self.shape.integer_person_id == key.integer {
            return lit(false);
        }
        column(self.person_id_column())
            .is_not_null()
            .and(self.person_key(key).is_null())
    }

    /// Whether `column` can hold NaN or an infinity: unless it is of a whole-number or
    /// fixed-point decimal type (text is parsed, and may say `NaN`).
    pub fn may_hold_non_finite(&self, column: &str) -> bool {
        let schema = self.data.schema().as_arrow();
        schema.field_with_name(column).is_ok_and(|f| {
            let t = f.data_type();
            !(t.is_integer() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)))
        })
    }

    /// `column` as a date: itself when it holds dates, else read as one — text in the
    /// table's format for the column — failing with an error naming the table and the
    /// column where a value is beyond any calendar date or not a date in that format.
    pub fn date(&self, column: &str) -> DfExpr {
        let schema = self.data.schema().as_arrow();
        let data_type = schema
            .field_with_name(column)
            .map_or(DataType::Date32, |f| f.data_type().clone());
        let format = (self.shape.text_dates.iter())
            .find(|(c, _)| c == column)
            .map(|(_, f)| f.as_str());
        super::dates::date_of(&self.name, column, &data_type, format)
    }

    /// Whether the table has dates of death (a person table without them records no
    /// deaths: `alive` is true for everyone).
    pub fn has_deaths(&self) -> bool {
        self.shape.column("date_of_death").is_some()
    }

    fn person_id_column(&self) -> &str {
        self.shape.column("person_id").unwrap_or("person_id")
    }
}

/// How the person ids of every table are compared: in the type of the person table's ids,
/// and, when those are NHS numbers (the person table's `nhs_number` is its `person_id`),
/// with the spaces of text ids removed (`943 476 5919` is the usual layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdKey {
    /// Whether ids are compared as integers, else as text.
    pub integer: bool,
    /// Whether ids are NHS numbers, whose text is compared without spaces.
    pub nhs_numbers: bool,
}

impl IdKey {
    /// The key of a person table of this shape.
    pub fn of(person: &TableShape) -> IdKey {
        let id = person.column("person_id").unwrap_or("person_id");
        IdKey {
            integer: person.integer_person_id,
            nhs_numbers: person.column("nhs_number") == Some(id),
        }
    }
}

/// The tables registered with an engine, by name; at most one has the role `person`.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    tables: RwLock<IndexMap<String, Arc<Table>>>,
}

impl Catalog {
    /// Registers `data` as `name`, replacing a table of that name. Fails when another
    /// table is already the person table.
    pub fn add(&self, name: &str, shape: TableShape, data: DataFrame) -> Result<()> {
        let mut tables = self.tables.write().map_err(|_| poisoned())?;
        if shape.role == Role::Person
            && let Some(other) = tables
                .values()
                .find(|t| t.shape.role == Role::Person && t.name != name)
        {
            return Err(CaasError::Registration {
                table: name.to_string(),
                message: format!("`{}` is already the person table", other.name),
            });
        }
        let table = Table {
            name: name.to_string(),
            shape,
            data,
            quality: QualityMemo::default(),
        };
        tables.insert(name.to_string(), Arc::new(table));
        Ok(())
    }

    /// Removes a table; returns whether it was registered.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let mut tables = self.tables.write().map_err(|_| poisoned())?;
        Ok(tables.shift_remove(name).is_some())
    }

    /// The table called `name`, if registered.
    pub fn get(&self, name: &str) -> Result<Option<Arc<Table>>> {
        let tables = self.tables.read().map_err(|_| poisoned())?;
        Ok(tables.get(name).cloned())
    }

    /// The names of the registered tables, in order of registration.
    pub fn names(&self) -> Result<Vec<String>> {
        let tables = self.tables.read().map_err(|_| poisoned())?;
        Ok(tables.keys().cloned().collect())
    }

    /// The tables as registered now. Fails when no person table is registered: every
    /// evaluation starts from the person table.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let tables = self.tables.read().map_err(|_| poisoned())?.clone();
        Snapshot::new(tables)
    }
}

/// The registered tables as one evaluation reads them, with exactly one person table.
#[derive(Clone)]
pub(crate) struct Snapshot {
    tables: IndexMap<String, Arc<Table>>,
    person: Arc<Table>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tables.keys()).finish()
    }
}

impl Snapshot {
    fn new(tables: IndexMap<String, Arc<Table>>) -> Result<Snapshot> {
        let person = tables
            .values()
            .find(|t| t.shape.role == Role::Person)
            .cloned()
            .ok_or_else(|| CaasError::Table {
                place: Place::Definition,
                table: "(person table)".to_string(),
                problem: "is not registered: register one table with role `person`".to_string(),
            })?;
        Ok(Snapshot { tables, person })
    }

    /// The person table.
    pub fn person(&self) -> &Arc<Table> {
        &self.person
    }

    /// Whether person ids are integers (the person table's are), else text: the type in
    /// which the ids of every table are compared.
    pub fn integer_ids(&self) -> bool {
        self.id_key().integer
    }

    /// How the ids of every table are compared.
    pub fn id_key(&self) -> IdKey {
        IdKey::of(&self.person.shape)
    }

    /// A table's person id as a key of the person table's ids.
    pub fn person_id(&self, table: &Table) -> DfExpr {
        table.person_key(self.id_key())
    }

    /// The names of the tables.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// The table called `name`, if registered.
    pub fn get(&self, name: &str) -> Option<&Arc<Table>> {
        self.tables.get(name)
    }

    /// The table called `name`, which `place` needs in `role`.
    pub fn table(&self, name: &str, place: &Place, role: Role) -> Result<&Arc<Table>> {
        let table = self.tables.get(name).ok_or_else(|| CaasError::Table {
            place: place.clone(),
            table: name.to_string(),
            problem: "is not registered".to_string(),
        })?;
        if table.shape.role != role {
            return Err(CaasError::Table {
                place: place.clone(),
                table: name.to_string(),
                problem: format!("is {}, not {role}", table.shape.role),
            });
        }
        Ok(table)
    }

    /// The same snapshot with each table replaced by `f` of it.
    pub fn map(&self, mut f: impl FnMut(&Arc<Table>) -> Result<Arc<Table>>) -> Result<Snapshot> {
        let tables = self
            .tables
            .iter()
            .map(|(name, table)| Ok((name.clone(), f(table)?)))
            .collect::<Result<IndexMap<_, _>>>()?;
        Snapshot::new(tables)
    }
}

fn poisoned() -> CaasError {
    CaasError::internal("a thread panicked while holding the table registry")
}
