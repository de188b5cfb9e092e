//! The formats of NHS numbers and clinical codes, and the scalar functions that check them
//! inside DataFusion plans.

use std::cell::RefCell;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, GenericListArray};
use arrow::array::{OffsetSizeTrait, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::functions::math::expr_fn::{abs, isnan};
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::logical_expr::{cast, lit};

use crate::codelist::CodeSystem;
use crate::nhs;

/// Verhoeff's dihedral multiplication table.
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Verhoeff's permutation table: row `i` permutes the digit `i` places from the right; each
/// row is the one before composed with row 1.
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Whether a string of decimal digits ends with its Verhoeff check digit (the check digit
/// of SNOMED CT identifiers). Any other character makes it invalid.
///
/// ```
/// use caas_core::quality::verhoeff_valid;
/// assert!(verhoeff_valid("2363")); // Verhoeff's own example: 236 with check digit 3
/// assert!(verhoeff_valid("195967001")); // SNOMED CT: asthma
/// assert!(!verhoeff_valid("195967002"));
/// ```
pub fn verhoeff_valid(digits: &str) -> bool {
    let mut check = 0u8;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        check =
            VERHOEFF_D[usize::from(check)][usize::from(VERHOEFF_P[i % 8][usize::from(b - b'0')])];
    }
    !digits.is_empty() && check == 0
}

/// The Verhoeff step of two digits at once: `[q][check][v]` is the check after the digits of
/// `v` (0–99), its units digit `2q` places from the right modulo 8 and its tens digit one
/// place further, starting from `check`. It halves the chain of dependent lookups.
static VERHOEFF_PAIRS: [[[u8; 100]; 10]; 4] = verhoeff_pairs();

const fn verhoeff_pairs() -> [[[u8; 100]; 10]; 4] {
    let mut table = [[[0u8; 100]; 10]; 4];
    let mut q = 0;
    while q < 4 {
        let mut check = 0;
        while check < 10 {
            let mut v = 0;
            while v < 100 {
                let after_units = VERHOEFF_D[check][VERHOEFF_P[2 * q][v % 10] as usize];
                table[q][check][v] =
                    VERHOEFF_D[after_units as usize][VERHOEFF_P[2 * q + 1][v / 10] as usize];
                v += 1;
            }
            check += 1;
        }
        q += 1;
    }
    table
}

/// [`verhoeff_valid`] of the decimal digits of a non-negative integer.
fn verhoeff_valid_integer(mut n: u64) -> bool {
    let mut check = 0usize;
    let mut pair = 0;
    while n >= 10 {
        check = usize::from(VERHOEFF_PAIRS[pair % 4][check][(n % 100) as usize]);
        n /= 100;
        pair += 1;
    }
    if n > 0 {
        check = usize::from(VERHOEFF_D[check][usize::from(VERHOEFF_P[(2 * pair) % 8][n as usize])]);
    }
    check == 0
}

/// Identifiers checked lately and whether they were valid, by a hash of the identifier:
/// event tables repeat a few thousand codes millions of times, and a look-up costs a
/// fraction of a check. Each entry is `identifier << 1 | valid` (identifiers have at most
/// 18 digits, so the shift loses nothing).
struct Memo(Vec<u64>);

/// Entries of a [`Memo`] (a power of two): room for tens of thousands of codes.
const MEMO_SLOTS: usize = 1 << 16;

/// An entry no identifier makes.
const EMPTY: u64 = u64::MAX;

impl Memo {
    fn new() -> Self {
        Memo(vec![EMPTY; MEMO_SLOTS])
    }

    /// [`verhoeff_valid_integer`] of an identifier of at most 18 digits.
    fn verhoeff_valid(&mut self, n: u64) -> bool {
        let slot =
            (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEMO_SLOTS.trailing_zeros())) as usize;
        match self.0.get_mut(slot) {
            Some(entry) if *entry != EMPTY && *entry >> 1 == n => *entry & 1 == 1,
            Some(entry) => {
                let valid = verhoeff_valid_integer(n);
                *entry = n << 1 | u64::from(valid);
                valid
            }
            None => verhoeff_valid_integer(n),
        }
    }
}

thread_local! {
    /// Each thread's memo, kept from batch to batch.
    static MEMO: RefCell<Memo> = RefCell::new(Memo::new());
}

/// Runs `f` with this thread's memo.
fn with_memo<R>(f: impl FnOnce(&mut Memo) -> R) -> R {
    MEMO.with(|memo| match memo.try_borrow_mut() {
        Ok(mut memo) => f(&mut memo),
        Err(_) => f(&mut Memo::new()),
    })
}

/// Shortest and longest SNOMED CT identifier, in digits.
const SCTID_DIGITS: std::ops::RangeInclusive<usize> = 6..=18;

/// Whether a code has a format of its code system. Surrounding spaces are ignored; ICD-10
/// and OPCS-4 codes are first [normalised](CodeSystem::normalise).
///
/// - SNOMED CT: an identifier of 6 to 18 digits, not starting with 0, whose last digit is
///   its Verhoeff check digit.
/// - dm+d: an identifier of 6 to 18 digits, not starting with 0 (dm+d ids are SNOMED CT
///   style identifiers; their check digit is not required).
/// - ICD-10: a letter, two digits, then up to four more letters or digits (`J45`, `J450`,
///   `M8450`; `J45.X` normalises to `J45`).
/// - OPCS-4: a letter and two or three digits (`X65`, `H229`).
///
/// ```
/// use caas_core::CodeSystem;
/// use caas_core::quality::code_has_format;
/// assert!(code_has_format(CodeSystem::SnomedCt, "195967001"));
/// assert!(!code_has_format(CodeSystem::SnomedCt, "195967002")); // bad check digit
/// assert!(code_has_format(CodeSystem::Dmd, "10073011000001107"));
/// assert!(code_has_format(CodeSystem::Icd10, "j45.x"));
/// assert!(!code_has_format(CodeSystem::Icd10, "45J"));
/// assert!(code_has_format(CodeSystem::Opcs4, "H22.9"));
/// assert!(!code_has_format(CodeSystem::Opcs4, "H2291"));
/// ```
pub fn code_has_format(system: CodeSystem, code: &str) -> bool {
    with_memo(|memo| code_has_format_with(system, code, memo))
}

fn code_has_format_with(system: CodeSystem, code: &str, memo: &mut Memo) -> bool {
    // ICD-10 and OPCS-4 codes are matched trimmed (normalised); SNOMED CT and dm+d codes
    // exactly, so one with a space around it matches no codelist and is no valid code.
    let code = if system.matches_by_prefix() {
        code.trim_matches(' ')
    } else {
        code
    };
    match system {
        CodeSystem::SnomedCt => {
            is_identifier(code) && code.parse::<u64>().is_ok_and(|n| memo.verhoeff_valid(n))
        }
        CodeSystem::Dmd => is_identifier(code),
        CodeSystem::Icd10 | CodeSystem::Opcs4 => {
            let normalised = system.normalise(code);
            let b = normalised.as_bytes();
            let head = b.len() >= 3
                && b[0].is_ascii_uppercase()
                && b[1].is_ascii_digit()
                && b[2].is_ascii_digit();
            let rest = &b[b.len().min(3)..];
            head && if system == CodeSystem::Icd10 {
                rest.len() <= 4 && rest.iter().all(u8::is_ascii_alphanumeric)
            } else {
                rest.len() <= 1 && rest.iter().all(u8::is_ascii_digit)
            }
        }
    }
}

/// 6 to 18 digits, the first not 0.
fn is_identifier(code: &str) -> bool {
    SCTID_DIGITS.contains(&code.len())
        && !code.starts_with('0')
        && code.bytes().all(|b| b.is_ascii_digit())
}

/// [`code_has_format`] for a code held as an integer (SNOMED CT and dm+d).
fn integer_code_has_format(system: CodeSystem, code: i64, memo: &mut Memo) -> bool {
    let Ok(code) = u64::try_from(code) else {
        return false;
    };
    let in_range = (100_000..=999_999_999_999_999_999).contains(&code);
    match system {
        CodeSystem::SnomedCt => in_range && memo.verhoeff_valid(code),
        CodeSystem::Dmd => in_range,
        // Integer columns of prefix-matched systems are refused when the table is registered.
        CodeSystem::Icd10 | CodeSystem::Opcs4 => false,
    }
}

/// Whether a written NHS number is valid: ten digits (spaces between them are allowed, as
/// in `943 476 5919`) whose last is the Modulus 11 check digit of the first nine.
///
/// ```
/// use caas_core::quality::nhs_number_text_is_valid;
/// assert!(nhs_number_text_is_valid("943 476 5919"));
/// assert!(!nhs_number_text_is_valid("943 476 5918"));
/// assert!(!nhs_number_text_is_valid("94347659"));
/// ```
pub fn nhs_number_text_is_valid(text: &str) -> bool {
    let mut number = 0u64;
    let mut digits = 0;
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 10 {
                    return false;
                }
                number = number * 10 + u64::from(b - b'0');
            }
            b' ' => {}
            _ => return false,
        }
    }
    digits == 10 && nhs::is_valid(number)
}

/// What a [`Check`] looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    /// Codes of a system; a text value may hold several, separated by the delimiter.
    Codes {
        system: CodeSystem,
        delimiter: Option<String>,
    },
    /// NHS numbers.
    NhsNumbers,
}

/// `caas_has_bad_code(x)` and `caas_bad_nhs_number(x)`: true when a non-null value (or any
/// element of a list, or any part of a delimited text) has no valid format; false for null.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Check {
    signature: Signature,
    subject: Subject,
}

impl Check {
    fn text_is_bad(&self, text: &str, memo: &mut Memo) -> bool {
        match &self.subject {
            Subject::NhsNumbers => !nhs_number_text_is_valid(text),
            Subject::Codes { system, delimiter } => match delimiter {
                Some(d) => text
                    .split(d.as_str())
                    .map(|c| c.trim_matches(' '))
                    .any(|c| !c.is_empty() && !code_has_format_with(*system, c, memo)),
                None => !code_has_format_with(*system, text, memo),
            },
        }
    }

    fn integer_is_bad(&self, n: i64, memo: &mut Memo) -> bool {
        match &self.subject {
            Subject::NhsNumbers => !u64::try_from(n).is_ok_and(nhs::is_valid),
            Subject::Codes { system, .. } => !integer_code_has_format(*system, n, memo),
        }
    }

    fn list_is_bad<O: OffsetSizeTrait>(
        &self,
        list: &GenericListArray<O>,
    ) -> DfResult<BooleanArray> {
        let values = self.bad(list.values())?;
        let mut out = BooleanBuilder::with_capacity(list.len());
        for (i, range) in list.offsets().windows(2).enumerate() {
            let (start, end) = (range[0].as_usize(), range[1].as_usize());
            let bad = list.is_valid(i) && (start..end).any(|j| values.value(j));
            out.append_value(bad);
        }
        Ok(out.finish())
    }

    /// One flag per row, never null.
    fn bad(&self, values: &ArrayRef) -> DfResult<BooleanArray> {
        match values.data_type() {
            DataType::Null => Ok(BooleanArray::from(vec![false; values.len()])),
            DataType::List(_) => self.list_is_bad(values.as_list::<i32>()),
            DataType::LargeList(_) => self.list_is_bad(values.as_list::<i64>()),
            t if t.is_integer() => {
                let ints = arrow::compute::cast(values, &DataType::Int64)?;
                let ints = ints.as_primitive::<Int64Type>();
                let raw = ints.values();
                let bad = with_memo(|memo| {
                    BooleanBuffer::collect_bool(raw.len(), |i| {
                        ints.is_valid(i) && self.integer_is_bad(raw[i], memo)
                    })
                });
                Ok(BooleanArray::new(bad, None))
            }
            _ => {
                let text = arrow::compute::cast(values, &DataType::Utf8)?;
                let text: &StringArray = text.as_string::<i32>();
                let bad = with_memo(|memo| {
                    BooleanBuffer::collect_bool(text.len(), |i| {
                        text.is_valid(i) && self.text_is_bad(text.value(i), memo)
                    })
                });
                Ok(BooleanArray::new(bad, None))
            }
        }
    }
}

impl ScalarUDFImpl for Check {
    fn name(&self) -> &str {
        match self.subject {
            Subject::Codes { .. } => "caas_has_bad_code",
            Subject::NhsNumbers => "caas_bad_nhs_number",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let [values] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let out: ArrayRef = Arc::new(self.bad(&values.to_array(n)?)?);
        Ok(ColumnarValue::Array(out))
    }
}

fn check(subject: Subject, value: Expr) -> Expr {
    ScalarUDF::new_from_impl(Check {
        signature: Signature::any(1, Volatility::Immutable),
        subject,
    })
    .call(vec![value])
}

/// Whether a code value (a code, a list of codes, or with `delimiter` a delimited text of
/// codes) holds a code that has no format of `system`; false for null.
pub(crate) fn has_bad_code(value: Expr, system: CodeSystem, delimiter: Option<String>) -> Expr {
    check(Subject::Codes { system, delimiter }, value)
}

/// Whether a number is NaN or infinite (false for null), as a decimal.
pub(crate) fn non_finite(value: Expr) -> Expr {
    let value = cast(value, DataType::Float64);
    isnan(value.clone()).or(abs(value).eq(lit(f64::INFINITY)))
}

/// A number as a decimal, null where it is NaN or infinite: such a value satisfies no
/// comparison (NaN sorts above every number, so `NaN > 40` would hold) and is reported as
/// a [`NonFiniteValue`](crate::quality::FindingKind::NonFiniteValue) finding.
pub(crate) fn finite(value: Expr) -> Expr {
    let missing = Box::new(lit(ScalarValue::Float64(None)));
    Expr::Case(Case::new(
        None,
        vec![(Box::new(non_finite(value.clone())), missing)],
        Some(Box::new(cast(value, DataType::Float64))),
    ))
}

/// Whether a non-null NHS number (integer or text) is invalid; false for null.
pub(crate) fn bad_nhs_number(value: Expr) -> Expr {
    check(Subject::NhsNumbers, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_rows_are_powers_of_the_first() {
        for i in 2..8 {
            for j in 0..10 {
                let composed = VERHOEFF_P[i - 1][usize::from(VERHOEFF_P[1][j])];
                assert_eq!(VERHOEFF_P[i][j], composed, "row {i}, digit {j}");
            }
        }
    }

    #[test]
    fn every_flu_codelist_code_has_its_format() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/flu/codelists");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "csv") {
                continue;
            }
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let system = if name.ends_with("_icd10") {
                CodeSystem::Icd10
            } else if name.ends_with("_opcs4") {
                CodeSystem::Opcs4
            } else {
                CodeSystem::SnomedCt
            };
            let mut reader = csv::Reader::from_path(&path).unwrap();
            for record in reader.records() {
                let code = record.unwrap()[0].to_string();
                assert!(code_has_format(system, &code), "{name}: {code}");
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked} codes");
    }

    #[test]
    fn verhoeff_of_integers_agrees_with_text() {
        for n in (0u64..200_000)
            .step_by(7)
            .chain([195_967_001, 10_073_011_000_001_107])
        {
            assert_eq!(
                verhoeff_valid_integer(n),
                verhoeff_valid(&n.to_string()),
                "{n}"
            );
        }
    }

    #[test]
    fn exactly_one_last_digit_is_valid() {
        for stem in [19_596_700u64, 2_363, 123_456_789] {
            let valid = (0..10)
                .filter(|d| verhoeff_valid_integer(stem * 10 + d))
                .count();
            assert_eq!(valid, 1, "{stem}");
        }
    }

    #[test]
    fn snomed_formats() {
        let ok = |c: &str| code_has_format(CodeSystem::SnomedCt, c);
        assert!(ok("22298006")); // myocardial infarction
        // Codes are matched exactly: one with spaces or a tab around it matches no
        // codelist, and is reported.
        assert!(!ok(" 195967001") && !ok("195967001 "));
        assert!(!ok("195967001\t"));
        assert!(!ok("0195967001"), "leading zero");
        assert!(!ok("12345"), "too short");
        assert!(!ok("1234567890123456789"), "too long");
        assert!(!ok("19596700l"));
        assert!(!ok(""));
        let int = |system, code| with_memo(|memo| integer_code_has_format(system, code, memo));
        assert!(int(CodeSystem::SnomedCt, 22_298_006));
        assert!(!int(CodeSystem::SnomedCt, 22_298_007));
        assert!(!int(CodeSystem::SnomedCt, -22_298_006));
        assert!(!int(CodeSystem::Dmd, 12_345));
        assert!(int(CodeSystem::Dmd, 123_456));
    }

    #[test]
    fn hospital_formats() {
        let icd = |c: &str| code_has_format(CodeSystem::Icd10, c);
        assert!(icd("J45") && icd("J450") && icd("J45X") && icd("U07.1") && icd("M8450"));
        assert!(!icd("J4") && !icd("J4A") && !icd("4J5") && !icd("J45.123456"));
        assert!(!icd("J45\t"), "only spaces are trimmed");
        let opcs = |c: &str| code_has_format(CodeSystem::Opcs4, c);
        assert!(opcs("X65") && opcs("H229") && opcs("h22.9"));
        assert!(!opcs("H2") && !opcs("H22A") && !opcs("H22.91") && !opcs("22H"));
    }

    #[test]
    fn nhs_number_texts() {
        assert!(nhs_number_text_is_valid("9434765919"));
        assert!(nhs_number_text_is_valid(" 943 476 5919 "));
        assert!(!nhs_number_text_is_valid("943-476-5919"));
        assert!(!nhs_number_text_is_valid("9434765919\n"));
        assert!(!nhs_number_text_is_valid("94347659190"));
        assert!(!nhs_number_text_is_valid(""));
    }
}
