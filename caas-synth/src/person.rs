//! One synthetic person: demographics, registrations and clinical history.

use arrow::datatypes::Date32Type;
use chrono::NaiveDate;

use super::catalogue::{Catalogue, Cluster};
use super::rng::Rng;
use super::tables::{DIAGNOSES, PROCEDURES, Slice};

/// England's population by five-year age band (0–4, 5–9, …, 90+), in percent (2021 census).
const AGE_BANDS: [f64; 19] = [
    5.4, 5.9, 6.0, 5.6, 6.0, 6.6, 6.9, 6.6, 6.3, 6.4, 6.9, 6.7, 5.8, 5.0, 5.0, 3.6, 2.5, 1.5, 0.9,
];

/// NHS England regions: code, share of the population, postcode areas.
const REGIONS: [(&str, f64, &[&str]); 7] = [
    ("Y56", 15.7, &["E", "N", "SE", "SW", "W", "NW"]),
    ("Y58", 9.9, &["BS", "EX", "PL", "TR", "BA", "GL"]),
    ("Y59", 16.3, &["RG", "OX", "SO", "BN", "ME", "GU"]),
    ("Y60", 19.2, &["B", "NG", "LE", "DE", "CV", "ST"]),
    ("Y61", 11.4, &["CB", "NR", "IP", "CO", "LU", "SG"]),
    ("Y62", 13.0, &["M", "L", "PR", "BL", "WA", "CH"]),
    ("Y63", 14.5, &["LS", "S", "BD", "HU", "NE", "YO"]),
];

/// ICD-10 diagnoses of ordinary admissions (four characters, `X`-padded), none of them
/// asthma.
const BACKGROUND_ICD10: [&str; 36] = [
    "I10X", "E119", "E780", "J440", "J189", "N390", "K590", "R074", "R104", "M545", "F329", "F419",
    "I480", "I501", "I219", "C509", "C61X", "C349", "Z867", "Z864", "Z921", "K219", "N179", "A419",
    "S720", "S060", "G409", "G35X", "J181", "K529", "L031", "R296", "R55X", "H269", "O800", "E669",
];

/// OPCS-4 procedures of ordinary admissions, none of them chemotherapy or radiotherapy.
const BACKGROUND_OPCS4: [&str; 18] = [
    "H229", "W401", "K634", "M459", "A521", "C751", "Y532", "Z942", "Q074", "E031", "G451", "H251",
    "T202", "W371", "B281", "U051", "L853", "R171",
];

/// Fixed dates of the generated data.
pub struct Calendar {
    /// The day the data was extracted.
    pub extract: i32,
    /// The first day of the current flu season.
    pub season_start: i32,
}

impl Calendar {
    /// 31 January 2026, in the 2025/26 season that began on 1 September 2025.
    pub fn new() -> Self {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).map_or(0, Date32Type::from_naive_date);
        Calendar {
            extract: day(2026, 1, 31),
            season_start: day(2025, 9, 1),
        }
    }
}

const YEAR: i64 = 365;

/// Codes drawn for background events, which match no codelist.
pub struct Background {
    pub snomed: Vec<i64>,
    pub dmd: Vec<i64>,
}

impl Background {
    /// `count` SNOMED-like and dm+d-like ids outside the catalogue, each ending with its
    /// Verhoeff check digit as real SNOMED CT identifiers do, so that they have the format
    /// the data-quality checks expect.
    pub fn new(catalogue: &Catalogue, seed: u64) -> Self {
        let mut rng = Rng::new(seed, u64::MAX);
        let mut draw = |low: i64, high: i64, n: usize| {
            let mut codes = Vec::with_capacity(n);
            while codes.len() < n {
                let code = with_check_digit(rng.between(low, high));
                if !catalogue.is_taken(code) {
                    codes.push(code);
                }
            }
            codes
        };
        Background {
            snomed: draw(100_000_000, 999_999_999, 3_000),
            dmd: draw(300_000_000_000_000, 399_999_999_999_999, 800),
        }
    }
}

/// `code` with its last digit replaced by the Verhoeff check digit of the others.
fn with_check_digit(code: i64) -> i64 {
    let stem = code - code % 10;
    (stem..stem + 10)
        .find(|c| {
            caas_core::quality::code_has_format(caas_core::CodeSystem::SnomedCt, &c.to_string())
        })
        .unwrap_or(code)
}

/// Everything needed to generate people.
pub struct World<'a> {
    pub catalogue: &'a Catalogue,
    pub background: &'a Background,
    pub calendar: Calendar,
    pub practices_per_region: u64,
    pub invalid_nhs_share: f64,
    /// Codes of CKD stages 1–2 (stages 1–5 minus 3–5).
    pub ckd12: Vec<i64>,
    /// Delivery codes (pregnancy-or-delivery minus pregnancy).
    pub delivery: Vec<i64>,
    /// Residence codes that are not long-stay care.
    pub other_residence: Vec<i64>,
    /// Diagnoses of hospital episodes: ordinary ones, then asthma admissions.
    pub diagnosis_codes: Vec<String>,
    /// Procedures of hospital episodes: ordinary ones, then chemotherapy.
    pub procedure_codes: Vec<String>,
}

/// A person's clinical events before sorting: (date, code, value).
type History = Vec<(i32, i64, Option<f64>)>;

impl World<'_> {
    /// Appends person `id` (an NHS number) to `slice`.
    pub fn person(&self, rng: &mut Rng, id: i64, slice: &mut Slice) {
        let cal = &self.calendar;
        let band = rng.weighted(&AGE_BANDS) as i64;
        let age = if band == 18 {
            rng.between(90, 104)
        } else {
            band * 5 + rng.between(0, 4)
        };
        let dob = cal.extract - (age * YEAR + age / 4) as i32 - rng.between(0, 364) as i32;
        let female = rng.chance(0.51);
        let region = rng.weighted(&REGIONS.map(|r| r.1));
        let (region_code, _, areas) = REGIONS[region];
        let practice_no = rng.below(self.practices_per_region);
        let practice = practice_code(region, practice_no);
        let area = rng.pick(areas).copied().unwrap_or("E");
        let death_risk = match age {
            0..=49 => 0.002,
            50..=64 => 0.008,
            65..=74 => 0.02,
            75..=84 => 0.06,
            _ => 0.16,
        };
        let dod = rng
            .chance(death_risk)
            .then(|| cal.extract - rng.between(1, 2 * YEAR) as i32)
            .filter(|d| *d > dob);

        let p = &mut slice.persons;
        p.person_id.push(id);
        p.date_of_birth.push(dob);
        p.sex.push(if female { "F" } else { "M" });
        p.date_of_death.push(dod);
        p.region.push(region_code);
        p.icb.push(format!(
            "Q{}{}",
            (b'A' + region as u8) as char,
            (b'A' + (practice_no % 6) as u8) as char
        ));
        p.postcode_district
            .push(format!("{area}{}", 1 + rng.below(20)));
        p.lsoa.push(format!("E01{:06}", rng.below(35_000)));
        p.practice.push(practice.clone());
        p.national_opt_out.push(rng.chance(0.054));
        p.type1_opt_out.push(rng.chance(0.025));

        self.registrations(rng, id, dob, dod, region, practice, slice);
        let end = dod.unwrap_or(cal.extract);
        let mut gp: History = Vec::new();
        let mut meds: History = Vec::new();
        self.background_events(rng, age, dob, end, &mut gp, &mut meds);
        self.conditions(rng, id, age, female, dob, end, &mut gp, &mut meds, slice);
        push_sorted(&mut slice.gp_events, id, gp);
        push_sorted(&mut slice.gp_medications, id, meds);
    }

    #[allow(clippy::too_many_arguments)]
    fn registrations(
        &self,
        rng: &mut Rng,
        id: i64,
        dob: i32,
        dod: Option<i32>,
        region: usize,
        current: String,
        slice: &mut Slice,
    ) {
        let cal = &self.calendar;
        let r = &mut slice.registrations;
        let left = rng.chance(0.015);
        let mut start = (cal.extract - rng.between(30, 20 * YEAR) as i32).max(dob);
        let earlier = rng.below(3);
        let mut periods = Vec::new();
        let end = dod.or_else(|| left.then(|| cal.extract - rng.between(1, YEAR) as i32));
        periods.push((start, end.filter(|e| *e >= start), current));
        for _ in 0..earlier {
            if start - 400 <= dob {
                break;
            }
            let previous_end = start - 1;
            start = (previous_end - rng.between(365, 8 * YEAR) as i32).max(dob);
            let practice = practice_code(region, rng.below(self.practices_per_region));
            periods.push((start, Some(previous_end), practice));
        }
        for (start, end, practice) in periods.into_iter().rev() {
            r.person_id.push(id);
            r.start_date.push(start);
            r.end_date.push(end);
            r.practice.push(practice);
        }
    }

    fn background_events(
        &self,
        rng: &mut Rng,
        age: i64,
        dob: i32,
        end: i32,
        gp: &mut History,
        meds: &mut History,
    ) {
        let from = dob.max(self.calendar.extract - (10 * YEAR) as i32);
        for _ in 0..rng.count(30.0 + 1.3 * age as f64) {
            let code = *rng.pick(&self.background.snomed).unwrap_or(&100_000_000);
            let value = rng
                .chance(0.15)
                .then(|| (rng.between(600, 1800) as f64) / 10.0);
            gp.push((day_between(rng, from, end), code, value));
        }
        for _ in 0..rng.count(3.0 + 0.22 * age as f64) {
            let code = *rng
                .pick(&self.background.dmd)
                .unwrap_or(&300_000_000_000_000);
            meds.push((day_between(rng, from, end), code, None));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn conditions(
        &self,
        rng: &mut Rng,
        id: i64,
        age: i64,
        female: bool,
        dob: i32,
        end: i32,
        gp: &mut History,
        meds: &mut History,
        slice: &mut Slice,
    ) {
        let c = self.catalogue;
        let cal = &self.calendar;
        let ever = dob.max(end - (10 * YEAR) as i32);
        let recent = |months: i64| (end - (months * 30) as i32).max(dob);
        // Adds an event of the cluster on `date` (none when the cluster has no codes).
        let one = |rng: &mut Rng, list: &mut History, cluster: Cluster, date: i32, value| {
            if let Some(code) = rng.pick(c.numeric(cluster)) {
                list.push((date, *code, value));
            }
        };
        // Adds between `times.0` and `times.1` events of the cluster from `from` on.
        let add =
            |rng: &mut Rng, list: &mut History, cluster: Cluster, from: i32, times: (i64, i64)| {
                for _ in 0..rng.between(times.0, times.1) {
                    let date = day_between(rng, from, end);
                    one(rng, list, cluster, date, None);
                }
            };
        let older = |young: f64, old: f64| if age >= 65 { old } else { young };

        let asthma = rng.chance(if age < 18 { 0.10 } else { 0.12 });
        if asthma {
            add(rng, gp, Cluster::Asthma, ever, (1, 3));
            if rng.chance(0.65) {
                add(rng, meds, Cluster::AsthmaMedication, recent(12), (2, 6));
            } else if rng.chance(0.5) {
                add(rng, meds, Cluster::AsthmaMedication, ever, (1, 3));
            }
            if rng.chance(0.04) {
                let diagnosis = BACKGROUND_ICD10.len() as u64
                    + rng.below((self.diagnosis_codes.len() - BACKGROUND_ICD10.len()) as u64);
                self.episode(rng, id, ever, end, Some(diagnosis as u16), None, slice);
            }
        }
        let diabetes_rate = match age {
            0..=17 => 0.003,
            18..=39 => 0.02,
            40..=64 => 0.08,
            _ => 0.16,
        };
        if rng.chance(diabetes_rate) {
            add(rng, gp, Cluster::Diabetes, ever, (1, 4));
            if rng.chance(0.08) {
                let date = day_between(rng, recent(24), end);
                one(rng, gp, Cluster::DiabetesResolved, date, None);
            }
        }
        if rng.chance(0.00015) {
            add(rng, gp, Cluster::Addisons, ever, (1, 1));
        }
        let ckd_rate = match age {
            0..=39 => 0.002,
            40..=64 => 0.04,
            65..=79 => 0.15,
            _ => 0.30,
        };
        if rng.chance(ckd_rate) {
            add(rng, gp, Cluster::KidneyStage1To5, ever, (0, 2));
            // The latest stage code decides: stage 3–5 for a little over half.
            let (cluster_codes, severe) = if rng.chance(0.55) {
                (c.numeric(Cluster::KidneyStage3To5), true)
            } else {
                (self.ckd12.as_slice(), false)
            };
            if let Some(latest) = rng.pick(cluster_codes) {
                gp.push((day_between(rng, recent(12), end), *latest, None));
            }
            if severe && rng.chance(0.4) {
                add(rng, gp, Cluster::Kidney, ever, (1, 1));
            }
        }
        let simple = [
            (Cluster::Heart, older(0.02, 0.12)),
            (Cluster::Liver, 0.01),
            (Cluster::Neurological, older(0.02, 0.05)),
            (Cluster::Respiratory, older(0.02, 0.09)),
            (Cluster::Immunosuppression, 0.015),
            (Cluster::Asplenia, 0.001),
            (Cluster::HouseholdContact, 0.004),
            (Cluster::LearningDisability, 0.005),
        ];
        for (cluster, rate) in simple {
            if rng.chance(rate) {
                add(rng, gp, cluster, ever, (1, 2));
            }
        }
        if rng.chance(0.012) {
            add(
                rng,
                meds,
                Cluster::ImmunosuppressantMedication,
                recent(6),
                (1, 6),
            );
        }
        if rng.chance(0.004) {
            add(rng, gp, Cluster::Chemotherapy, recent(6), (1, 4));
            if rng.chance(0.6) {
                let procedure = BACKGROUND_OPCS4.len() as u64
                    + rng.below((self.procedure_codes.len() - BACKGROUND_OPCS4.len()) as u64);
                self.episode(rng, id, recent(6), end, None, Some(procedure as u16), slice);
            }
        }
        if age >= 18 {
            if rng.chance(0.02) {
                add(rng, gp, Cluster::SevereObesity, ever, (1, 1));
            }
            if rng.chance(0.55) {
                let mean = if rng.chance(0.05) { 42.0 } else { 27.5 };
                for _ in 0..1 + rng.below(4) {
                    let bmi = (rng.normal(mean, 5.0).clamp(14.0, 70.0) * 10.0).round() / 10.0;
                    let date = day_between(rng, ever, end);
                    one(rng, gp, Cluster::Bmi, date, Some(bmi));
                }
            }
        }
        if female && (15..=44).contains(&age) && rng.chance(0.05) {
            let conceived = day_between(rng, recent(12), end);
            one(rng, gp, Cluster::Pregnancy, conceived, None);
            if rng.chance(0.4)
                && let Some(delivered) = rng.pick(&self.delivery)
            {
                gp.push((day_between(rng, conceived, end), *delivered, None));
            }
        }
        if age >= 16 && rng.chance(0.05) {
            let became = day_between(rng, ever, end);
            one(rng, gp, Cluster::Carer, became, None);
            if rng.chance(0.15) {
                let stopped = day_between(rng, became, end);
                one(rng, gp, Cluster::NotCarer, stopped, None);
            }
        }
        if rng.chance(0.08)
            && let Some(home) = rng.pick(&self.other_residence)
        {
            gp.push((day_between(rng, ever, end), *home, None));
        }
        let care_home = match age {
            0..=64 => 0.0005,
            65..=84 => 0.025,
            _ => 0.10,
        };
        if rng.chance(care_home) {
            add(rng, gp, Cluster::LongStayCare, recent(36), (1, 1));
        }
        if (16..=64).contains(&age) && rng.chance(0.06) {
            add(rng, gp, Cluster::CareWorker, ever, (1, 1));
        }
        for season in 1..=2 {
            if rng.chance(older(0.25, 0.7)) {
                let start = cal.season_start - (season * YEAR) as i32;
                let given = day_between(rng, start, start + 120).max(dob);
                one(rng, gp, Cluster::FluVaccination, given, None);
            }
        }
        if end >= cal.season_start {
            if rng.chance(older(0.15, 0.6)) {
                let given = day_between(rng, cal.season_start, end).max(dob);
                one(rng, gp, Cluster::FluVaccination, given, None);
            } else if rng.chance(0.03) {
                let declined = day_between(rng, cal.season_start, end).max(dob);
                one(rng, gp, Cluster::FluDeclined, declined, None);
            }
        }
        let admissions = rng.count(if age >= 65 { 0.6 } else { 0.2 });
        for _ in 0..admissions {
            self.episode(rng, id, ever, end, None, None, slice);
        }
    }

    /// A hospital episode with ordinary diagnoses and procedures, led by `primary` and
    /// `procedure` when given.
    #[allow(clippy::too_many_arguments)]
    fn episode(
        &self,
        rng: &mut Rng,
        id: i64,
        from: i32,
        end: i32,
        primary: Option<u16>,
        procedure: Option<u16>,
        slice: &mut Slice,
    ) {
        let a = &mut slice.apc;
        let admitted = day_between(rng, from, end);
        let mut diagnoses = [None; DIAGNOSES];
        let count = 1 + rng.below(8) as usize;
        for (i, d) in diagnoses.iter_mut().take(count).enumerate() {
            *d = if i == 0 && primary.is_some() {
                primary
            } else {
                Some(rng.below(BACKGROUND_ICD10.len() as u64) as u16)
            };
        }
        let mut procedures = [None; PROCEDURES];
        let count = if procedure.is_some() {
            1
        } else if rng.chance(0.3) {
            1 + rng.below(3) as usize
        } else {
            0
        };
        for (i, p) in procedures.iter_mut().take(count).enumerate() {
            *p = if i == 0 && procedure.is_some() {
                procedure
            } else {
                Some(rng.below(BACKGROUND_OPCS4.len() as u64) as u16)
            };
        }
        a.person_id.push(id);
        a.admission_date.push(admitted);
        a.discharge_date.push(admitted + rng.below(10) as i32);
        a.diagnoses.push(diagnoses);
        a.procedures.push(procedures);
    }
}

/// The diagnosis codes of hospital episodes, as hospital data writes them.
pub fn diagnosis_codes(catalogue: &Catalogue) -> Vec<String> {
    let admissions = catalogue
        .text(Cluster::AsthmaAdmission)
        .iter()
        .map(|c| hospital_code(c));
    BACKGROUND_ICD10
        .iter()
        .map(|c| c.to_string())
        .chain(admissions)
        .collect()
}

/// The procedure codes of hospital episodes, as hospital data writes them.
pub fn procedure_codes(catalogue: &Catalogue) -> Vec<String> {
    let chemo = catalogue
        .text(Cluster::ChemotherapyProcedure)
        .iter()
        .map(|c| hospital_code(c));
    BACKGROUND_OPCS4
        .iter()
        .map(|c| c.to_string())
        .chain(chemo)
        .collect()
}

fn practice_code(region: usize, number: u64) -> String {
    format!("{}{:05}", (b'A' + region as u8) as char, 81_000 + number)
}

fn day_between(rng: &mut Rng, from: i32, to: i32) -> i32 {
    rng.between(i64::from(from), i64::from(to.max(from))) as i32
}

fn push_sorted(events: &mut super::tables::Events, id: i64, mut history: History) {
    history.sort_by_key(|e| (e.0, e.1));
    for (date, code, value) in history {
        events.person_id.push(id);
        events.date.push(date);
        events.code.push(code);
        events.value.push(value);
    }
}

/// A code as hospital data writes it: no dot, four characters, `X`-padded.
fn hospital_code(code: &str) -> String {
    let code: String = code.chars().filter(|c| *c != '.').collect();
    format!("{code:X<4}")
}
