//! Plain English as HTML: the one place where the report and the notebook views turn a
//! sentence's names into code and keep its dates on one line, so that both show a sentence
//! alike.

use std::ops::Range;

use minijinja::{Error, ErrorKind, HtmlEscape, Value};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The template filter `prose`: a sentence as HTML, escaped, its names as `<code>` and each
/// date written out ("31 March 2026") in a `nowrap` span, so that a narrow column never
/// breaks it across lines.
///
/// It takes the sentence either as its parts (the report's [`Sentence`](super::english::Sentence),
/// whose names are marked) or as plain text with names in backticks (what
/// [`Description`](super::Description) and the explanations hold, and what authors write in
/// descriptions); an unpaired backtick stays as it is.
pub(super) fn prose(value: &Value) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "prose needs text or a sentence's parts",
        ));
    }
    let mut out = String::new();
    if let Some(text) = value.as_str() {
        plain(&HtmlEscape(text).to_string(), &mut out);
    } else {
        for part in value.try_iter()? {
            let text = HtmlEscape(&part.get_attr("text")?.to_string()).to_string();
            if part.get_attr("code")?.is_true() {
                code(&text, &mut out);
            } else {
                dates(&text, &mut out);
            }
        }
    }
    Ok(Value::from_safe_string(out))
}

/// Escaped text whose names are in backticks.
fn plain(escaped: &str, out: &mut String) {
    let mut rest = escaped;
    while let Some((before, after)) = rest.split_once('`') {
        let Some((name, after)) = after.split_once('`') else {
            break;
        };
        dates(before, out);
        code(name, out);
        rest = after;
    }
    dates(rest, out);
}

fn code(escaped: &str, out: &mut String) {
    out.push_str("<code>");
    out.push_str(escaped);
    out.push_str("</code>");
}

/// Escaped text with each date written out kept whole.
fn dates(escaped: &str, out: &mut String) {
    let mut rest = escaped;
    while let Some(date) = first_date(rest) {
        out.push_str(&rest[..date.start]);
        out.push_str("<span class=\"nowrap\">");
        out.push_str(&rest[date.clone()]);
        out.push_str("</span>");
        rest = &rest[date.end..];
    }
    out.push_str(rest);
}

/// Where the first date written out as `english::long_date` writes it is in `text`.
fn first_date(text: &str) -> Option<Range<usize>> {
    MONTHS
        .iter()
        .flat_map(|month| {
            text.match_indices(month)
                .filter_map(|(at, _)| date_around(text, at..at + month.len()))
        })
        .min_by_key(|date| date.start)
}

/// The date around a month's name: one or two digits and a space before it, a space and
/// four digits after it.
fn date_around(text: &str, month: Range<usize>) -> Option<Range<usize>> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let before = text.get(..month.start)?.strip_suffix(' ')?;
    let day = before.bytes().rev().take_while(u8::is_ascii_digit).count();
    let year = digits(text.get(month.end..)?.strip_prefix(' ')?);
    ((1..=2).contains(&day) && year == 4).then(|| before.len() - day..month.end + 1 + year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(value: Value) -> String {
        prose(&value).unwrap().to_string()
    }

    #[test]
    fn names_in_backticks_become_code_after_escaping() {
        assert_eq!(
            html(Value::from("`age` is at least 65 & <b>`bmi`</b>")),
            "<code>age</code> is at least 65 &amp; &lt;b&gt;<code>bmi</code>&lt;&#x2f;b&gt;"
        );
        assert_eq!(html(Value::from("a ` alone")), "a ` alone");
        assert_eq!(html(Value::from("`a` and ` b")), "<code>a</code> and ` b");
    }

    #[test]
    fn dates_written_out_stay_on_one_line() {
        assert_eq!(
            html(Value::from(
                "between 1 April 2025 and 31 March 2026, not 2026-03-31"
            )),
            "between <span class=\"nowrap\">1 April 2025</span> and \
             <span class=\"nowrap\">31 March 2026</span>, not 2026-03-31"
        );
        // Not dates: a three-digit day, a year of five digits, a month inside a word.
        for text in ["123 May 2025", "1 May 20255", "1 Mayday 2025", "1 March"] {
            assert_eq!(html(Value::from(text)), text);
        }
        assert_eq!(
            html(Value::from("`d` on (1 May 2025)")),
            "<code>d</code> on (<span class=\"nowrap\">1 May 2025</span>)"
        );
    }

    #[test]
    fn parts_mark_their_names_and_leave_backticks_in_text_alone() {
        let parts = Value::from(minijinja::value::Serde(serde_json::json!([
            { "text": "the text \"a`b\" on 2 June 2025 in ", "code": false },
            { "text": "gp<1>", "code": true },
        ])));
        assert_eq!(
            html(parts),
            "the text &quot;a`b&quot; on <span class=\"nowrap\">2 June 2025</span> in \
             <code>gp&lt;1&gt;</code>"
        );
    }

    #[test]
    fn nothing_is_an_error() {
        assert!(prose(&Value::from(())).is_err());
        assert!(prose(&Value::UNDEFINED).is_err());
    }
}
