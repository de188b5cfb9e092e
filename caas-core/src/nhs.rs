//! NHS numbers: ten digits, the last a Modulus 11 check digit.

/// The check digit of the first nine digits of an NHS number (`0..=999_999_999`), or `None`
/// when no check digit exists (the remainder gives 10, so no valid number starts so).
///
/// ```
/// // 943 476 591 9 is the NHS's own example of a valid number.
/// assert_eq!(caas_core::nhs::check_digit(943_476_591), Some(9));
/// ```
pub fn check_digit(first_nine: u64) -> Option<u64> {
    if first_nine > 999_999_999 {
        return None;
    }
    let mut rest = first_nine;
    let mut sum = 0;
    // Digit i (1-based, from the left) has weight 11 - i; walk from the right.
    for weight in 2..=10 {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        check => Some(check),
    }
}

/// Whether a number is a valid NHS number: ten digits whose last is the Modulus 11 check
/// digit of the first nine.
///
/// ```
/// use caas_core::nhs::is_valid;
/// assert!(is_valid(9_434_765_919));
/// assert!(!is_valid(9_434_765_918));
/// assert!(!is_valid(434_765_919)); // nine digits
/// ```
pub fn is_valid(number: u64) -> bool {
    (1_000_000_000..=9_999_999_999).contains(&number)
        && check_digit(number / 10) == Some(number % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        assert!(is_valid(4_010_232_137));
        assert!(!is_valid(4_010_232_138));
        assert!(!is_valid(10_000_000_000));
    }

    #[test]
    fn prefixes_without_a_check_digit_have_no_valid_number() {
        let prefix = (100_000_000..100_001_000)
            .find(|p| check_digit(*p).is_none())
            .expect("about one prefix in eleven has no check digit");
        assert!((0..10).all(|last| !is_valid(prefix * 10 + last)));
    }
}
