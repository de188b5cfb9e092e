//! The `stream` target: a table made from the input, handed to caas through its C ABI as an
//! Arrow C stream — as a C program registers data — then a cohort evaluated over it, its
//! data quality read and its members read back as a stream. Any status but success or a
//! typed error (a panic caught at the boundary, an internal error) is a finding, as is a
//! crash.
//!
//! The input chooses the table's role, its columns (names a mapping knows, of every type
//! Arrow has that a table might hold), how many batches and rows, and every value, from
//! small pools where ids and codes collide and dates and numbers reach their extremes.
//! The stream itself keeps the C stream contract: a producer that breaks it (a batch of
//! another schema than the one it announced) is undefined behaviour for any consumer.

use std::ffi::{CString, c_char, c_void};
use std::ptr;
use std::sync::{Arc, OnceLock};

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Date64Array, DictionaryArray, Float64Array, Int32Array,
    Int64Array, LargeStringArray, NullArray, RecordBatch, RecordBatchIterator, StringArray,
    StringViewArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};

// The library's exported functions, called by their C symbols as a C program calls them
// (the crate is linked in as an rlib: `caas_ffi_linked` below keeps it).
unsafe extern "C" {
    fn caas_engine_new(options_json: *const c_char, out: *mut *mut c_void) -> u32;
    fn caas_engine_register_stream(
        engine: *mut c_void,
        name: *const c_char,
        stream: *mut FFI_ArrowArrayStream,
        spec_json: *const c_char,
    ) -> u32;
    fn caas_cohort_parse(
        text: *const c_char,
        format: u32,
        base_dir: *const c_char,
        out: *mut *mut c_void,
    ) -> u32;
    fn caas_engine_evaluate(
        engine: *const c_void,
        cohort: *const c_void,
        parameters_json: *const c_char,
        out: *mut *mut c_void,
    ) -> u32;
    fn caas_result_members(result: *const c_void, out: *mut FFI_ArrowArrayStream) -> u32;
    fn caas_result_data_quality_json(result: *const c_void, out: *mut *mut c_char) -> u32;
    fn caas_result_free(result: *mut c_void);
    fn caas_string_free(text: *mut c_char);
}

/// Keeps the C library's rlib linked, so that the symbols above resolve.
#[used]
static CAAS_FFI_LINKED: u32 = caas::CAAS_ABI_VERSION;

const OK: u32 = caas::CaasStatus::CAAS_OK as u32;
const PANIC: u32 = caas::CaasStatus::CAAS_ERR_PANIC as u32;
const INTERNAL: u32 = caas::CaasStatus::CAAS_ERR_INTERNAL as u32;

const DEFINITION: &str = "
id: streamed
title: Streamed
purpose: direct_care
parameters: { index_date: 2025-03-31 }
codelists:
  asthma: { system: snomed_ct, codes: ['195967001'] }
variables:
  age: { kind: age, on: index_date }
  alive: { kind: alive, on: index_date }
  asthma: { kind: events, table: gp, codelists: [asthma], to: index_date, returns: exists }
  last: { kind: events, table: gp, codelists: [asthma], returns: last_value }
  ratio: { kind: derived, expr: 'age / (age - 70)' }
rules:
  - { name: alive, include: alive }
  - { name: eligible, include: age >= 65 or asthma or last > 40 or ratio > 1 }
output: { columns: [age, last, ratio] }
";

/// The column names a table might have: the parts of the mappings and one of no part.
const NAMES: [&str; 12] = [
    "person_id",
    "date",
    "code",
    "value",
    "date_of_birth",
    "date_of_death",
    "sex",
    "nhs_number",
    "start_date",
    "end_date",
    "practice",
    "x",
];
const INTEGERS: [i64; 8] = [1, 2, 3, 0, -1, i64::MAX, i64::MIN, 9_434_765_919];
const TEXTS: [&str; 10] = [
    "1",
    "2",
    "01",
    "195967001",
    "44054006",
    " 1 ",
    "943 476 5919",
    "",
    "F",
    "\u{0}\u{ffff}",
];
/// Days since 1970-01-01: ordinary dates, 0001-01-01, 9999-12-31 and beyond.
const DAYS: [i32; 7] = [0, 19_000, 20_000, -719_162, 2_932_896, i32::MAX, i32::MIN];
const NUMBERS: [f64; 7] = [0.0, 41.5, -0.0, f64::NAN, f64::INFINITY, 1e308, -1e-308];

/// The input, read a byte at a time; past its end, zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// One of `pool`, or none.
    fn pick<T: Copy>(&mut self, pool: &[T]) -> Option<T> {
        let byte = self.byte();
        (byte & 1 == 0).then(|| pool[usize::from(byte >> 1) % pool.len()])
    }
}

const TYPES: usize = 11;

fn data_type(kind: usize) -> DataType {
    match kind {
        0 => DataType::Int64,
        1 => DataType::Int32,
        2 => DataType::Utf8,
        3 => DataType::LargeUtf8,
        4 => DataType::Utf8View,
        5 => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        6 => DataType::Date32,
        7 => DataType::Date64,
        8 => DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
        9 => DataType::Float64,
        10 => DataType::Boolean,
        _ => DataType::Null,
    }
}

fn column(input: &mut Input<'_>, kind: usize, rows: usize) -> ArrayRef {
    let mut ints = || (0..rows).map(|_| input.pick(&INTEGERS)).collect::<Vec<_>>();
    match kind {
        0 => Arc::new(Int64Array::from(ints())),
        1 => Arc::new(Int32Array::from(
            ints()
                .into_iter()
                .map(|n| n.map(|n| n as i32))
                .collect::<Vec<_>>(),
        )),
        2..=5 => {
            let texts: Vec<Option<&str>> = (0..rows).map(|_| input.pick(&TEXTS)).collect();
            match kind {
                2 => Arc::new(StringArray::from(texts)),
                3 => Arc::new(LargeStringArray::from(texts)),
                4 => Arc::new(StringViewArray::from(texts)),
                _ => Arc::new(texts.into_iter().collect::<DictionaryArray<Int32Type>>()),
            }
        }
        6..=8 => {
            let days: Vec<Option<i32>> = (0..rows).map(|_| input.pick(&DAYS)).collect();
            let millis = || {
                (days.iter())
                    .map(|d| d.map(|d| i64::from(d) * 86_400_000))
                    .collect::<Vec<_>>()
            };
            match kind {
                6 => Arc::new(Date32Array::from(days.clone())),
                7 => Arc::new(Date64Array::from(millis())),
                _ => Arc::new(TimestampMillisecondArray::from(millis())),
            }
        }
        9 => Arc::new(Float64Array::from(
            (0..rows).map(|_| input.pick(&NUMBERS)).collect::<Vec<_>>(),
        )),
        10 => Arc::new(BooleanArray::from(
            (0..rows)
                .map(|_| input.pick(&[true, false]))
                .collect::<Vec<_>>(),
        )),
        _ => Arc::new(NullArray::new(rows)),
    }
}

/// The columns a table of the role needs, each with the kind of its usual type.
fn required(person: bool) -> &'static [(&'static str, usize)] {
    if person {
        &[("person_id", 0), ("date_of_birth", 6), ("date_of_death", 6)]
    } else {
        &[("person_id", 0), ("date", 6), ("code", 2), ("value", 9)]
    }
}

/// The table the input describes: its schema and batches. Mostly the columns its role
/// needs, of their usual types, so that most inputs reach the evaluation; then any.
fn table(input: &mut Input<'_>, person: bool) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let mut columns: Vec<(&str, usize)> = Vec::new();
    for (name, usual) in required(person) {
        match input.below(8) {
            0 => {}
            1 => columns.push((name, input.below(TYPES + 1))),
            _ => columns.push((name, *usual)),
        }
    }
    for _ in 0..input.below(4) {
        let name = NAMES[input.below(NAMES.len())];
        if !columns.iter().any(|(n, _)| *n == name) {
            columns.push((name, input.below(TYPES + 1)));
        }
    }
    let schema = Arc::new(Schema::new(
        (columns.iter())
            .map(|(name, kind)| Field::new(*name, data_type(*kind), true))
            .collect::<Vec<_>>(),
    ));
    let mut batches = Vec::new();
    for _ in 0..input.below(4) {
        let rows = input.below(16);
        let arrays = (columns.iter())
            .map(|(_, kind)| column(input, *kind, rows))
            .collect();
        batches.push(RecordBatch::try_new(schema.clone(), arrays)?);
    }
    Ok((schema, batches))
}

/// Exports `batches` as an Arrow C stream.
fn export(schema: SchemaRef, batches: Vec<RecordBatch>) -> FFI_ArrowArrayStream {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    FFI_ArrowArrayStream::new(Box::new(reader))
}

/// The fixed person or event table beside the fuzzed one.
fn fixed(person: bool) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let batch = if person {
        RecordBatch::try_from_iter([
            (
                "person_id",
                Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
            ),
            (
                "date_of_birth",
                Arc::new(Date32Array::from(vec![-7_000, 0, 5_000])),
            ),
            (
                "date_of_death",
                Arc::new(Date32Array::from(vec![None, Some(19_500), None])),
            ),
        ])?
    } else {
        RecordBatch::try_from_iter([
            (
                "person_id",
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
            ),
            ("date", Arc::new(Date32Array::from(vec![19_000, 20_000]))),
            ("code", Arc::new(StringArray::from(vec!["195967001", "x"]))),
            ("value", Arc::new(Float64Array::from(vec![41.5, 1.0]))),
        ])?
    };
    Ok((batch.schema(), vec![batch]))
}

/// Panics, as a finding, when a call gave a status other than success or a typed error.
fn checked(status: u32, call: &str) -> bool {
    assert!(
        status != PANIC && status != INTERNAL,
        "{call} gave status {status}: a panic or an internal error"
    );
    status == OK
}

/// The body of the `stream` target.
pub fn stream(data: &[u8]) {
    let mut input = Input(data);
    let fuzzed_person = input.byte() & 1 == 1;
    let Ok((schema, batches)) = table(&mut input, fuzzed_person) else {
        return;
    };
    let Ok(other) = fixed(!fuzzed_person) else {
        return;
    };
    let (person, events) = if fuzzed_person {
        ((schema, batches), other)
    } else {
        (other, (schema, batches))
    };
    // SAFETY: every pointer handed over is a live handle from the library, a NUL-terminated
    // string that outlives the call, or an initialised stream; each handle is freed once.
    unsafe { run(person, events) }
}

/// The engine and the parsed cohort every input uses, made once: an engine per input
/// (its runtime and session) cost nine in ten of the target's time. Each input registers
/// both tables again, and evaluates only when both registrations succeeded, so no table
/// of an earlier input is read. Kept as addresses (raw pointers are not `Sync`) and never
/// freed: they live as long as the fuzzing process.
struct Shared {
    engine: usize,
    cohort: usize,
}

fn shared() -> Option<&'static Shared> {
    static SHARED: OnceLock<Option<Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let mut engine: *mut c_void = ptr::null_mut();
            // SAFETY: `out` is writable; NULL options are the defaults.
            let status = unsafe { caas_engine_new(ptr::null(), &mut engine) };
            checked(status, "caas_engine_new").then_some(())?;
            let mut cohort: *mut c_void = ptr::null_mut();
            let definition = CString::new(DEFINITION).ok()?;
            // SAFETY: a NUL-terminated string; NULL base folder; `out` writable.
            let parsed =
                unsafe { caas_cohort_parse(definition.as_ptr(), 0, ptr::null(), &mut cohort) };
            checked(parsed, "caas_cohort_parse").then_some(())?;
            Some(Shared {
                engine: engine as usize,
                cohort: cohort as usize,
            })
        })
        .as_ref()
}

/// Registers the two tables, evaluates the cohort and reads what it gave.
///
/// # Safety
///
/// Only the library's own handles are passed back to it (see [`stream`]).
unsafe fn run(person: (SchemaRef, Vec<RecordBatch>), events: (SchemaRef, Vec<RecordBatch>)) {
    let Some(shared) = shared() else {
        return;
    };
    let (engine, cohort) = (shared.engine as *mut c_void, shared.cohort as *const c_void);
    let text = |s: &str| CString::new(s).unwrap_or_default();
    let tables = [
        ("persons", person, r#"{"role": "person"}"#),
        (
            "gp",
            events,
            r#"{"role": "events", "code_system": "snomed_ct"}"#,
        ),
    ];
    let mut registered = true;
    for (name, (schema, batches), spec) in tables {
        let mut stream = export(schema, batches);
        let (name, spec) = (text(name), text(spec));
        // SAFETY: a live engine, NUL-terminated strings, an initialised stream (consumed).
        let status = unsafe {
            caas_engine_register_stream(engine, name.as_ptr(), &mut stream, spec.as_ptr())
        };
        registered &= checked(status, "caas_engine_register_stream");
    }
    if registered {
        let mut result: *mut c_void = ptr::null_mut();
        // SAFETY: live handles; NULL parameters; `out` writable.
        let status = unsafe { caas_engine_evaluate(engine, cohort, ptr::null(), &mut result) };
        if checked(status, "caas_engine_evaluate") {
            // SAFETY: a live result.
            unsafe { read(result) };
        }
        // SAFETY: the result is the library's, freed once (NULL after a failure).
        unsafe { caas_result_free(result) };
    }
}

/// Reads a result's data quality and members.
///
/// # Safety
///
/// `result` is a live result of the library.
unsafe fn read(result: *mut c_void) {
    let mut json: *mut c_char = ptr::null_mut();
    // SAFETY: a live result; `out` writable.
    let status = unsafe { caas_result_data_quality_json(result, &mut json) };
    checked(status, "caas_result_data_quality_json");
    // SAFETY: the library's string (NULL after a failure), freed once.
    unsafe { caas_string_free(json) };
    let mut members = FFI_ArrowArrayStream::empty();
    // SAFETY: a live result; `out` points to a stream to overwrite.
    let status = unsafe { caas_result_members(result, &mut members) };
    if checked(status, "caas_result_members") {
        let read = ArrowArrayStreamReader::try_new(members).and_then(|reader| {
            reader
                .map(|batch| batch.map(|b| b.num_rows()))
                .sum::<Result<usize, _>>()
        });
        assert!(read.is_ok(), "the members stream cannot be read: {read:?}");
    }
}
