//! The [characterisation](crate::characterise) as the report and the notebook show it: its
//! tables in Markdown and HTML, and a bar chart of each of age, sex and region drawn as
//! inline SVG — by the templates `characterisation.md`, `characterisation.html` and
//! `bars.svg`, so that every front end shows the same.

use indexmap::IndexMap;
use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;

use super::english::long_date;
use super::template_error;
use crate::assure::characterise::{Block, Category, Characterisation, Content, Section, Stat};
use crate::error::Result;

/// A category as a row of a table and a bar of a chart.
#[derive(Serialize)]
struct CategoryRow {
    label: String,
    count: String,
    percent: String,
}

/// A table of categories, with its chart (SVG markup drawn by `bars.svg`, for the HTML).
#[derive(Serialize)]
struct Categories {
    title: String,
    /// The column or parameter it is of, shown beside the title.
    code: Option<String>,
    heading: &'static str,
    rows: Vec<CategoryRow>,
    chart: String,
}

/// A variable's categories, in the table of the categorical variables.
#[derive(Serialize)]
struct Variable {
    variable: String,
    rows: Vec<CategoryRow>,
}

/// A row of a summary table: the variable and each statistic's text by its name.
#[derive(Serialize)]
struct Summary {
    variable: String,
    stats: IndexMap<&'static str, String>,
}

#[derive(Serialize)]
struct Age {
    bands: Categories,
    summary: Summary,
}

#[derive(Serialize)]
struct Context {
    disclosure: bool,
    purpose: &'static str,
    people: String,
    notes: Vec<String>,
    age: Option<Age>,
    demographics: Vec<Categories>,
    practices: Vec<Summary>,
    categorical: Vec<Variable>,
    numbers: Vec<Summary>,
    dates: Vec<Summary>,
    /// The heading level of the sections in HTML (the report's subsections are `h3`, the
    /// notebook's `h4`).
    level: u8,
}

/// One bar of a chart.
#[derive(Serialize)]
struct Bar {
    label: String,
    text: String,
    y: i64,
    width: i64,
    text_y: i64,
}

/// A horizontal bar chart of a table of categories, laid out as the funnel is: labels on
/// the left, bars in proportion to the counts as shown (a suppressed count draws none),
/// the count and percentage on the right.
#[derive(Serialize)]
struct Bars {
    id: String,
    title: String,
    width: i64,
    height: i64,
    label_x: i64,
    bar_x: i64,
    bar_width: i64,
    bar_height: i64,
    count_x: i64,
    bars: Vec<Bar>,
}

impl Bars {
    const ROW: i64 = 24;
    const BAR_HEIGHT: i64 = 16;
    const LABEL_WIDTH: i64 = 140;
    const BAR_WIDTH: i64 = 300;
    const COUNT_WIDTH: i64 = 130;

    fn new(id: String, title: String, categories: &[Category]) -> Self {
        let shown = |c: &Category| c.count.shown().unwrap_or(0) as f64;
        let largest = categories.iter().map(shown).fold(1.0, f64::max);
        let bar_x = Self::LABEL_WIDTH + 10;
        let bars: Vec<Bar> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let y = 10 + i as i64 * Self::ROW;
                // At most BAR_WIDTH: the float never leaves the range of an i64.
                let width = (shown(c) / largest * Self::BAR_WIDTH as f64).round() as i64;
                Bar {
                    label: c.label.clone(),
                    text: row_text(c),
                    y,
                    width,
                    text_y: y + 12,
                }
            })
            .collect();
        Bars {
            id,
            title,
            width: bar_x + Self::BAR_WIDTH + Self::COUNT_WIDTH + 10,
            height: 20 + bars.len() as i64 * Self::ROW,
            label_x: Self::LABEL_WIDTH,
            bar_x,
            bar_width: Self::BAR_WIDTH,
            bar_height: Self::BAR_HEIGHT,
            count_x: bar_x + Self::BAR_WIDTH + 10,
            bars,
        }
    }
}

/// A category's count with its percentage: `12 (25.0%)`, `*`, `0`.
fn row_text(c: &Category) -> String {
    match c.percent.value {
        Some(_) => format!("{} ({}%)", c.count, c.percent.text),
        None => c.count.to_string(),
    }
}

fn rows(categories: &[Category]) -> Vec<CategoryRow> {
    categories
        .iter()
        .map(|c| CategoryRow {
            label: c.label.clone(),
            count: c.count.to_string(),
            percent: c.percent.text.clone(),
        })
        .collect()
}

fn summary(variable: &str, stats: &[Stat]) -> Summary {
    Summary {
        variable: variable.to_string(),
        stats: stats
            .iter()
            .map(|s| (s.statistic, s.shown.text.clone()))
            .collect(),
    }
}

/// The characterisation as Markdown and as an HTML fragment (its sections at heading
/// `level`, with inline charts), rendered by `env` (the report's environment).
pub(crate) fn render(
    env: &Environment<'_>,
    characterisation: &Characterisation,
    level: u8,
) -> Result<(String, String)> {
    let chart = |id: &str, title: String, categories: &[Category]| -> Result<String> {
        let bars = Bars::new(format!("bars-{id}"), title, categories);
        env.get_template("bars.svg")
            .and_then(|t| t.render(Serde(&bars)))
            .map_err(template_error)
    };
    let mut context = Context {
        disclosure: characterisation.disclosure_control,
        purpose: super::purpose_words(characterisation.purpose),
        people: String::new(),
        notes: characterisation.notes.clone(),
        age: None,
        demographics: Vec::new(),
        practices: Vec::new(),
        categorical: Vec::new(),
        numbers: Vec::new(),
        dates: Vec::new(),
        level,
    };
    for Block {
        section,
        variable,
        content,
    } in &characterisation.blocks
    {
        match content {
            Content::People(count) => context.people = count.to_string(),
            Content::Age {
                parameter,
                on,
                bands,
                summary: years,
            } => {
                let title = format!("Age on {}", long_date(*on));
                context.age = Some(Age {
                    bands: Categories {
                        chart: chart("age", format!("{title}: members by band"), bands)?,
                        title,
                        code: Some(parameter.clone()),
                        heading: "Age band",
                        rows: rows(bands),
                    },
                    summary: summary("age", years),
                });
            }
            Content::Categories(categories) if *section == Section::Variable => {
                context.categorical.push(Variable {
                    variable: variable.clone(),
                    rows: rows(categories),
                })
            }
            Content::Categories(categories) => {
                let (heading, code) = match section {
                    Section::Sex => ("Sex", None),
                    _ => ("Region", Some(variable.clone())),
                };
                context.demographics.push(Categories {
                    chart: chart(
                        section.name(),
                        format!("{heading}: members by {}", heading.to_lowercase()),
                        categories,
                    )?,
                    title: heading.to_string(),
                    code,
                    heading,
                    rows: rows(categories),
                })
            }
            Content::Numbers(stats) => context.numbers.push(summary(variable, stats)),
            Content::Dates(stats) => context.dates.push(summary(variable, stats)),
            Content::Practices(stats) => context.practices.push(summary(variable, stats)),
        }
    }
    // Without the last line's end: the report and the notebook put their own around it.
    let render = |name: &str| {
        env.get_template(name)
            .and_then(|t| t.render(Serde(&context)))
            .map(|text| text.trim_end().to_string())
            .map_err(template_error)
    };
    Ok((
        render("characterisation.md")?,
        render("characterisation.html")?,
    ))
}
