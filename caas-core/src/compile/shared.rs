//! The scans that the plans of several cohorts share, for one pass over the tables in
//! [`Engine::evaluate_many`](crate::Engine::evaluate_many).
//!
//! The costly part of a plan is its scans: each event and period table read once and
//! aggregated per person ([`EventScan`], [`PeriodScan`]). Cohorts over the same tables
//! mostly scan the same tables, and often measure the same things (a flu cohort and a
//! COVID-19 cohort both ask for chronic kidney disease before the index date). Here their
//! scans become one plan: per table one scan whose code table and measures are the union
//! of the cohorts', each measure that several cohorts compute alike (same codes, window,
//! aggregate and condition: its canonical form, whatever the names) kept once. Each
//! cohort's variables, memberships and rules then run over that plan's rows, with the
//! shared columns under the cohort's own names: nothing of a cohort's own steps changes,
//! so neither do its members, attrition, explanations or provenance.
//!
//! Plans share when they agree on the person step (the same person table, the same
//! opt-outs) and on the value of every parameter their scans' conditions read; a plan
//! with a scan that reads the person's own variables ([`EventScan::after`] above 0)
//! runs alone, as that scan joins rows of its own persons.

use indexmap::IndexMap;

use super::plan::{CohortPlan, EventScan, Measure, PeriodMeasure, PeriodScan};
use crate::model::Value;

/// The shared scans of a group of plans.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedScans {
    /// The person step and the shared scans, with the parameters their conditions read:
    /// no variables, memberships or rules. Its rows are one per person, with the person
    /// columns and one column per distinct measure.
    pub plan: CohortPlan,
    /// Per plan of the group, in order: each of its measures' columns, and the column of
    /// the shared plan that holds its values.
    pub columns: Vec<Vec<(String, String)>>,
    /// The measures added to the shared plan so far, which name their columns.
    added: usize,
}

/// Whether a plan can take part in shared scans: none of its event scans reads the
/// person's own variables.
pub fn shareable(plan: &CohortPlan) -> bool {
    plan.events.iter().all(|scan| scan.after == 0)
}

/// The parameters that the conditions of a plan's scans read, with their values.
fn scan_parameters(plan: &CohortPlan) -> IndexMap<String, Value> {
    let mut read = IndexMap::new();
    for scan in &plan.events {
        for measure in scan.coded.iter().chain(&scan.uncoded) {
            let Some(condition) = &measure.condition else {
                continue;
            };
            for name in condition.names() {
                if scan.type_of(name, plan.person.id).is_some() {
                    continue;
                }
                if let Some(value) = plan.parameters.get(name) {
                    read.insert(name.to_string(), value.clone());
                }
            }
        }
    }
    read
}

/// Whether two sets of parameters agree on every name they share.
fn agree(a: &IndexMap<String, Value>, b: &IndexMap<String, Value>) -> bool {
    a.iter()
        .all(|(name, value)| b.get(name).is_none_or(|other| other == value))
}

/// The plans (by index) in groups that can share their scans, in order of their first
/// plan; a plan that cannot share ([`shareable`]) is a group of its own.
pub fn groups(plans: &[&CohortPlan]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Vec<usize>, IndexMap<String, Value>)> = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let parameters = scan_parameters(plan);
        let joins = shareable(plan)
            .then(|| {
                groups.iter().position(|(members, read)| {
                    let first = plans[members[0]];
                    shareable(first) && first.person == plan.person && agree(read, &parameters)
                })
            })
            .flatten();
        match joins {
            Some(g) => {
                groups[g].0.push(i);
                groups[g].1.extend(parameters);
            }
            None => groups.push((vec![i], parameters)),
        }
    }
    groups.into_iter().map(|(members, _)| members).collect()
}

impl SharedScans {
    /// The shared scans of `plans`, a group of [`groups`]; `None` for no plans.
    pub fn new(plans: &[&CohortPlan]) -> Option<Self> {
        let mut shared = SharedScans {
            plan: CohortPlan {
                cohort: plans
                    .iter()
                    .map(|p| p.cohort.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                parameters: IndexMap::new(),
                person: plans.first()?.person.clone(),
                events: Vec::new(),
                periods: Vec::new(),
                memberships: Vec::new(),
                types: IndexMap::new(),
                layers: Vec::new(),
                rules: Vec::new(),
                arithmetic: Vec::new(),
                columns: Vec::new(),
            },
            columns: Vec::new(),
            added: 0,
        };
        for plan in plans {
            shared.plan.parameters.extend(scan_parameters(plan));
            let mut columns = Vec::new();
            for scan in &plan.events {
                shared.add_events(scan, &mut columns);
            }
            for scan in &plan.periods {
                shared.add_periods(scan, &mut columns);
            }
            shared.columns.push(columns);
        }
        for scan in &mut shared.plan.events {
            scan.code_table.sort();
        }
        Some(shared)
    }

    /// A plan of the group without the scans that the shared plan does for it: its
    /// variables read the shared columns under its own names.
    pub fn rest(plan: &CohortPlan) -> CohortPlan {
        CohortPlan {
            events: Vec::new(),
            periods: Vec::new(),
            ..plan.clone()
        }
    }

    fn add_events(&mut self, scan: &EventScan, columns: &mut Vec<(String, String)>) {
        let bare = bare_events(scan);
        let index = match self.plan.events.iter().position(|s| bare_events(s) == bare) {
            Some(index) => index,
            None => {
                self.plan.events.push(bare);
                self.plan.events.len() - 1
            }
        };
        for measure in &scan.coded {
            let codes = codes_of(scan, measure.code_index);
            let found = self.plan.events[index].coded.iter().find(|m| {
                canonical(m) == canonical(measure)
                    && codes_of(&self.plan.events[index], m.code_index) == codes
            });
            let column = match found {
                Some(m) => m.column.clone(),
                None => {
                    self.added += 1;
                    let column = format!("__s{}", self.added);
                    let target = &mut self.plan.events[index];
                    let code_index = target
                        .coded
                        .iter()
                        .filter_map(|m| m.code_index)
                        .max()
                        .map_or(0, |i| i + 1);
                    target
                        .code_table
                        .extend(codes.into_iter().map(|c| (c, code_index)));
                    target.coded.push(Measure {
                        column: column.clone(),
                        code_index: Some(code_index),
                        ..measure.clone()
                    });
                    column
                }
            };
            columns.push((measure.column.clone(), column));
        }
        for measure in &scan.uncoded {
            let list = &mut self.plan.events[index].uncoded;
            let same = |m: &Measure| canonical(m) == canonical(measure);
            let column = shared_column(list, measure, same, &mut self.added);
            columns.push((measure.column.clone(), column));
        }
    }

    fn add_periods(&mut self, scan: &PeriodScan, columns: &mut Vec<(String, String)>) {
        let bare = bare_periods(scan);
        let index = match self
            .plan
            .periods
            .iter()
            .position(|s| bare_periods(s) == bare)
        {
            Some(index) => index,
            None => {
                self.plan.periods.push(bare);
                self.plan.periods.len() - 1
            }
        };
        for measure in &scan.measures {
            let list = &mut self.plan.periods[index].measures;
            let same = |m: &PeriodMeasure| (m.aggregate, m.on) == (measure.aggregate, measure.on);
            let column = shared_column(list, measure, same, &mut self.added);
            columns.push((measure.column.clone(), column));
        }
    }
}

/// A measure of the shared plan, under its column.
trait Column: Clone {
    fn column(&mut self) -> &mut String;
}

impl Column for Measure {
    fn column(&mut self) -> &mut String {
        &mut self.column
    }
}

impl Column for PeriodMeasure {
    fn column(&mut self) -> &mut String {
        &mut self.column
    }
}

/// The column of the measure of `list` that is the `same` as `measure`, or of `measure`
/// added to `list` under a fresh column, `added` counting the columns added so far.
fn shared_column<M: Column>(
    list: &mut Vec<M>,
    measure: &M,
    same: impl Fn(&M) -> bool,
    added: &mut usize,
) -> String {
    if let Some(found) = list.iter_mut().find(|m| same(m)) {
        return found.column().clone();
    }
    *added += 1;
    let column = format!("__s{added}");
    let mut shared = measure.clone();
    *shared.column() = column.clone();
    list.push(shared);
    column
}

/// An event scan without its code table and measures: scans of the same table that agree
/// on this read the same rows the same way.
fn bare_events(scan: &EventScan) -> EventScan {
    EventScan {
        code_table: Vec::new(),
        coded: Vec::new(),
        uncoded: Vec::new(),
        ..scan.clone()
    }
}

/// A period scan without its measures.
fn bare_periods(scan: &PeriodScan) -> PeriodScan {
    PeriodScan {
        measures: Vec::new(),
        ..scan.clone()
    }
}

/// A measure without its names: two measures of the same canonical form compute the same
/// column over the same rows (a coded one, given the same codes).
fn canonical(measure: &Measure) -> Measure {
    Measure {
        variable: String::new(),
        column: String::new(),
        code_index: None,
        ..measure.clone()
    }
}

/// The codes of a coded measure in its scan's code table, sorted.
fn codes_of(scan: &EventScan, code_index: Option<i32>) -> Vec<String> {
    scan.code_table
        .iter()
        .filter(|(_, i)| Some(*i) == code_index)
        .map(|(code, _)| code.clone())
        .collect()
}
