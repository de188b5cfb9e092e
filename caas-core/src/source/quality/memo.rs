//! What has already been counted of a registered table, so that each registration is read
//! in full once, not at every evaluation.
//!
//! The counts of a table depend on its rows, on the reference date, and (for the checks
//! that look up the person) on the person table; they do not depend on the cohort or the
//! policies. They are kept with the registration and used again when its row count (from
//! file metadata, for Parquet) is unchanged, the reference date is the same and the person
//! table is the same registration. Registering a table again starts afresh.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use super::people::People;

/// The counts of one registration of a table.
#[derive(Debug)]
pub(crate) struct QualityMemo {
    /// Tells this registration from every other of the process.
    registration: u64,
    counts: Mutex<Vec<Counted>>,
    people: Mutex<Option<(u64, Arc<People>)>>,
}

impl Default for QualityMemo {
    fn default() -> Self {
        static REGISTRATIONS: AtomicU64 = AtomicU64::new(0);
        QualityMemo {
            registration: REGISTRATIONS.fetch_add(1, Ordering::Relaxed),
            counts: Mutex::default(),
            people: Mutex::default(),
        }
    }
}

/// The counts of one kind of check, in check order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counted {
    pub key: CountKey,
    pub counts: Vec<u64>,
}

/// What the counts were made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CountKey {
    /// Rows of the table.
    pub rows: u64,
    pub reference_date: NaiveDate,
    /// The person table's registration and rows.
    pub person: (u64, u64),
    /// Whether the counts are of the checks that read every row (else the plain ones).
    pub every_row: bool,
    /// The kinds counted, in order.
    pub kinds: Vec<super::FindingKind>,
}

/// Entries kept per table: a few reference dates or person tables at most.
const KEPT: usize = 8;

impl QualityMemo {
    /// The number of this registration.
    pub fn registration(&self) -> u64 {
        self.registration
    }

    /// The counts made with `key`, if any.
    pub fn counts(&self, key: &CountKey) -> Option<Vec<u64>> {
        let counts = self.counts.lock().ok()?;
        counts
            .iter()
            .find(|c| &c.key == key)
            .map(|c| c.counts.clone())
    }

    /// Keeps counts made with `key`.
    pub fn keep(&self, key: CountKey, counts: Vec<u64>) {
        if let Ok(mut kept) = self.counts.lock() {
            kept.retain(|c| c.key != key);
            if kept.len() >= KEPT {
                kept.remove(0);
            }
            kept.push(Counted { key, counts });
        }
    }

    /// The people of this (person) table when it had `rows` rows, if read before.
    pub fn people(&self, rows: u64) -> Option<Arc<People>> {
        let people = self.people.lock().ok()?;
        people
            .as_ref()
            .filter(|(r, _)| *r == rows)
            .map(|(_, p)| p.clone())
    }

    /// Keeps the people of this (person) table, read with `rows` rows.
    pub fn keep_people(&self, rows: u64, people: Arc<People>) {
        if let Ok(mut kept) = self.people.lock() {
            *kept = Some((rows, people));
        }
    }
}
