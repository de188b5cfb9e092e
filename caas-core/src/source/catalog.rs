//! The registered tables: a [`Catalog`] that an engine adds to and removes from, and the
//! [`Snapshot`] of it that one evaluation reads — with exactly one person table, so that no
//! later stage has to look for it.

use std::fmt;
use std::sync::{Arc, RwLock};

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr as DfExpr, cast, try_cast};
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

    /// The table's person id as Int64 (when `integer`) or text. Ids of the other kind that
    /// cannot be converted are null: they match nobody, and no value is ever printed in an
    /// error.
    pub fn person_key(&self, integer: bool) -> DfExpr {
        let source = column(self.shape.column("person_id").unwrap_or("person_id"));
        let target = if integer {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        if self.shape.integer_person_id == integer {
            cast(source, target)
        } else {
            try_cast(source, target)
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
        self.person.shape.integer_person_id
    }

    /// A table's person id in the type of the person table's ids.
    pub fn person_id(&self, table: &Table) -> DfExpr {
        table.person_key(self.integer_ids())
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
