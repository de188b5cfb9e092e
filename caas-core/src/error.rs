//! The one error type of caas.
//!
//! Every fallible function in the crate returns [`Result`]. Each variant names the place
//! that is wrong (a line and column, a variable, a rule, a codelist, a table, a column) so
//! that a user can fix it without reading the engine's source. Messages never contain
//! values read from patient data: they name columns and types, never cells.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::vocabulary::{CodeSystem, FindingKind};

/// Result type of every fallible caas function.
pub type Result<T, E = CaasError> = std::result::Result<T, E>;

/// A place in a cohort definition, used by errors to say where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Place {
    /// The definition as a whole (e.g. its metadata or output).
    Definition,
    /// A named parameter.
    Parameter(String),
    /// A named codelist.
    Codelist(String),
    /// A named variable.
    Variable(String),
    /// A rule, by its 1-based position and its name.
    Rule {
        /// 1-based position in the rule list.
        index: usize,
        /// The rule's name (given, or derived from its position).
        name: String,
    },
    /// The output section.
    Output,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Definition => write!(f, "definition"),
            Place::Parameter(name) => write!(f, "parameter `{name}`"),
            Place::Codelist(name) => write!(f, "codelist `{name}`"),
            Place::Variable(name) => write!(f, "variable `{name}`"),
            Place::Rule { index, name } => write!(f, "rule {index} (`{name}`)"),
            Place::Output => write!(f, "output"),
        }
    }
}

/// The format a definition was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML text.
    Yaml,
    /// JSON text.
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        })
    }
}

/// " (did you mean `x`?)" for a suggestion `x`, else nothing.
fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"))
}

/// The candidate nearest to `word` by edit distance (ignoring case), if it is near enough
/// to be what was meant — at most one edit in a word of up to four letters, two in a
/// longer one — and is not `word` itself.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let most = if word.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| (1..=most).contains(d))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The end of an [`CaasError::ExpressionSyntax`] message: the suggestion, then the line of
/// the expression that holds `column` with a caret under it, prefixed by its line of the
/// definition when known.
fn syntax_context(
    expression: &str,
    column: usize,
    line: Option<u32>,
    suggestion: &Option<String>,
) -> String {
    let mut out = did_you_mean(suggestion);
    // The line of a multi-line expression that holds the column, and the column in it.
    let (mut offset, mut at) = (0, column.saturating_sub(1));
    let mut shown = expression;
    for (i, text) in expression.split('\n').enumerate() {
        let width = text.chars().count();
        shown = text;
        offset = i;
        if at <= width {
            break;
        }
        at -= width + 1;
    }
    if shown.trim().is_empty() {
        return out;
    }
    // A long line is cut to the characters around the place.
    let chars: Vec<char> = shown.chars().collect();
    let (from, to) = (at.saturating_sub(SHOWN), (at + SHOWN).min(chars.len()));
    let mut shown: String = chars[from..to].iter().collect();
    if from > 0 {
        shown.insert(0, '…');
        at = at - from + 1;
    }
    if to < chars.len() {
        shown.push('…');
    }
    let prefix = match line {
        Some(l) => format!("line {}: ", u64::from(l) + offset as u64),
        None => String::new(),
    };
    let pad = prefix.chars().count() + at;
    out.push_str(&format!("\n  {prefix}{shown}\n  {}^", " ".repeat(pad)));
    out
}

/// How many characters of an expression's line a syntax error shows on each side of the
/// place.
const SHOWN: usize = 60;

/// Everything that can go wrong in caas.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaasError {
    /// The definition text is not valid YAML/JSON, or does not fit the definition's shape
    /// (an unknown field, a missing field, a value of the wrong kind). Line and column are
    /// 1-based.
    #[error("{format} error at line {line}, column {column}: {message}")]
    Syntax {
        /// YAML or JSON.
        format: Format,
        /// 1-based line, 0 when the parser could not tell.
        line: usize,
        /// 1-based column, 0 when the parser could not tell.
        column: usize,
        /// What the parser said.
        message: String,
    },

    /// An expression (a rule, a derived variable, a window bound) could not be parsed.
    /// `column` is the 1-based character position inside the expression text. The message
    /// goes on to suggest the keyword or function meant, where one is near what is
    /// written, and quotes the expression's line with a caret under that place, giving the
    /// line of the definition where it is known.
    #[error(
        "{place}: cannot parse expression at character {column}: {message}{}",
        syntax_context(.expression, *.column, *.line, .suggestion)
    )]
    ExpressionSyntax {
        /// Where the expression is.
        place: Place,
        /// 1-based character position in the expression.
        column: usize,
        /// What is wrong.
        message: String,
        /// The expression's text.
        expression: String,
        /// The 1-based line of the definition's text where the expression starts, when
        /// the definition was read from text and the expression found in it.
        line: Option<u32>,
        /// The keyword or function most likely meant by the word at `column`.
        suggestion: Option<String>,
    },

    /// A name refers to nothing: a variable, parameter, codelist, table, column or cohort
    /// that does not exist.
    #[error("{place}: unknown {what} `{name}`{}", did_you_mean(.suggestion))]
    UnknownReference {
        /// Where the reference is.
        place: Place,
        /// What kind of thing was expected ("variable or parameter", "codelist", ...).
        what: &'static str,
        /// The name that was not found.
        name: String,
        /// The known name nearest to it, where one is near enough to be what was meant.
        suggestion: Option<String>,
    },

    /// Values of incompatible types meet, e.g. a date compared with a number.
    #[error("{place}: type mismatch: {message}")]
    TypeMismatch {
        /// Where the mismatch is.
        place: Place,
        /// What was expected and what was found.
        message: String,
    },

    /// Variables depend on each other in a circle, or cohorts are members of each other.
    #[error("cycle between {what}: {}", path.join(" -> "))]
    Cycle {
        /// "variables" or "cohorts".
        what: &'static str,
        /// The names along the cycle, the first repeated at the end.
        path: Vec<String>,
    },

    /// A date window ends before it starts.
    #[error("{place}: window ends ({to}) before it starts ({from})")]
    EmptyWindow {
        /// The variable with the window.
        place: Place,
        /// The start of the window, resolved.
        from: String,
        /// The end of the window, resolved.
        to: String,
    },

    /// A run-time parameter is not declared by the definition.
    #[error("unknown parameter `{name}`: the definition declares {declared}")]
    UnknownParameter {
        /// The name given at run time.
        name: String,
        /// The declared names, for the message.
        declared: String,
    },

    /// A codelist's code system does not fit the table a variable reads.
    #[error(
        "{place}: codelist `{codelist}` is {codelist_system} but table `{table}` holds {table_system} codes"
    )]
    CodeSystemMismatch {
        /// The variable.
        place: Place,
        /// The codelist.
        codelist: String,
        /// The codelist's system.
        codelist_system: CodeSystem,
        /// The table the variable reads.
        table: String,
        /// The table's system.
        table_system: CodeSystem,
    },

    /// The definition is well-formed but says something impossible (two rules with one
    /// name, a rule that neither includes nor excludes, an output column listed twice, a
    /// window bound that uses a variable, ...).
    #[error("{place}: {message}")]
    InvalidDefinition {
        /// Where the problem is.
        place: Place,
        /// What is wrong.
        message: String,
    },

    /// A codelist file could not be read.
    #[error("codelist `{codelist}` ({}): {message}", path.display())]
    Codelist {
        /// The codelist's name.
        codelist: String,
        /// The file.
        path: PathBuf,
        /// What is wrong (with the CSV line where known).
        message: String,
    },

    /// A table is not registered, or is registered with another role.
    #[error("{place}: table `{table}` {problem}")]
    Table {
        /// Where the table is needed.
        place: Place,
        /// The table's name.
        table: String,
        /// "is not registered", "is a person table, not an event table", ...
        problem: String,
    },

    /// A table cannot be registered under this name or with this specification.
    #[error("table `{table}`: {message}")]
    Registration {
        /// The table's name.
        table: String,
        /// What is wrong.
        message: String,
    },

    /// A column that the mapping or the definition needs is missing from a table.
    #[error("table `{table}` has no column `{column}` (needed as {needed_as})")]
    MissingColumn {
        /// The table.
        table: String,
        /// The missing column.
        column: String,
        /// The role the column was to play ("person_id", "date", "a code column", ...).
        needed_as: String,
    },

    /// A column has a type that caas cannot use for its role.
    #[error("table `{table}`, column `{column}`: expected {expected}, found {actual}")]
    ColumnType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The types that would do.
        expected: String,
        /// The column's type.
        actual: String,
    },

    /// A column of text dates holds text that is not a date in the table's format for it.
    #[error(
        "table `{table}`, column `{column}`: expected dates written as `{format}`, found text \
         that is not a date in that format{}",
        row.map(|r| format!(" (first at row {r})")).unwrap_or_default()
    )]
    UnreadableDate {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The strftime format the column is read in.
        format: String,
        /// The first row (1-based, in the table's order: its files by name, each from the
        /// top, not counting a header) whose text is not a date, when it could be found.
        row: Option<u64>,
    },

    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// Evaluation failed inside DataFusion, Arrow or Parquet, or the runtime it runs on.
    /// Quoted text, long numbers, dates and decimals are removed from the underlying
    /// message, which may otherwise quote values read from the data; for the same reason
    /// the underlying error is not kept as a [`source`](std::error::Error::source), whose
    /// text a caller could print unscrubbed.
    #[error("evaluation failed: {message}")]
    Engine {
        /// What kind of failure it was.
        kind: EngineFailure,
        /// The underlying message, scrubbed of values.
        message: String,
    },

    /// A broken invariant inside caas: a bug, never a problem of the definition or the
    /// data. Please report it.
    #[error("internal error in caas: {0}")]
    Internal(String),

    /// The definition uses something that a SQL dialect cannot express with caas's
    /// meaning; nothing was run.
    #[error("{place}: {feature} cannot be expressed in {dialect} SQL")]
    Unsupported {
        /// Where the definition uses it.
        place: Place,
        /// What cannot be expressed.
        feature: String,
        /// The dialect.
        dialect: &'static str,
    },

    /// A person asked about by id (to explain them) is not in the person table. The id is
    /// not printed: it identifies a patient.
    #[error("person table `{table}` has no person with the given id")]
    UnknownPerson {
        /// The person table.
        table: String,
    },

    /// Something given to a method after an evaluation cannot be used: a person id that is
    /// on several rows of the person table, a previous run's members with missing ids or in
    /// a file of unknown format, ...
    #[error("{what}: {message}")]
    InvalidInput {
        /// What was given ("previous members", "person id", ...).
        what: String,
        /// What is wrong (never a value from the data).
        message: String,
    },

    /// A report could not be rendered from its templates.
    #[error("cannot render the report: {0}")]
    Report(String),
    /// Rows of a table have a data-quality finding whose policy is `fail`.
    #[error(
        "table `{table}`, column `{column}`: {count} row(s) have {} (finding `{kind}`, policy `fail`)",
        kind.description()
    )]
    DataQuality {
        /// The table.
        table: String,
        /// The column or columns checked.
        column: String,
        /// The kind of finding.
        kind: FindingKind,
        /// How many rows have it.
        count: u64,
    },

    /// A derived variable's or a rule's arithmetic left people without a value (a division
    /// by zero, a whole number out of range, a date outside the years 1 to 9999) and the
    /// policy of `arithmetic_error` is
    /// `fail`. Its code is `data_quality`, as for the findings in tables.
    #[error(
        "{place}: {count} person(s) have {} (finding `arithmetic_error`, policy `fail`)",
        FindingKind::ArithmeticError.description()
    )]
    ArithmeticError {
        /// The variable or the rule.
        place: Place,
        /// How many people.
        count: u64,
    },

    /// A definition, an expression or a codelist is larger than a [limit](crate::Limits)
    /// allows. The limits' defaults are far above what real definitions need: a definition
    /// over one is almost certainly generated by mistake; if it is right, raise the limit.
    #[error("{place}: larger than the limit `{limit}` allows ({max})")]
    LimitExceeded {
        /// Where the definition is too large.
        place: Place,
        /// The limit, by its option name (`max_expression_depth`, ...).
        limit: &'static str,
        /// The limit's value.
        max: u64,
    },

    /// The work was cancelled through its [`Cancellation`](crate::Cancellation) (Ctrl-C in
    /// Python): it stopped at its next planning step or await, and gave no result.
    #[error("cancelled")]
    Cancelled,

    /// An evaluation option is unusable (e.g. a pseudonym key that is too short).
    #[error("evaluation option `{option}`: {message}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl CaasError {
    /// An [`UnknownReference`](CaasError::UnknownReference) to `name`, suggesting the
    /// nearest of the `known` names.
    pub(crate) fn unknown<'a>(
        place: Place,
        what: &'static str,
        name: &str,
        known: impl IntoIterator<Item = &'a str>,
    ) -> CaasError {
        CaasError::UnknownReference {
            place,
            what,
            name: name.to_string(),
            suggestion: nearest(name, known).map(str::to_string),
        }
    }

    /// A stable snake_case name for the kind of error, for front ends and tests that
    /// match on errors without parsing messages.
    ///
    /// ```
    /// use caas_core::Cohort;
    /// let err = Cohort::from_yaml_str("id: [unclosed").unwrap_err();
    /// assert_eq!(err.code(), "syntax");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            CaasError::Syntax { .. } => "syntax",
            CaasError::ExpressionSyntax { .. } => "expression_syntax",
            CaasError::UnknownReference { .. } => "unknown_reference",
            CaasError::TypeMismatch { .. } => "type_mismatch",
            CaasError::Cycle { .. } => "cycle",
            CaasError::EmptyWindow { .. } => "empty_window",
            CaasError::UnknownParameter { .. } => "unknown_parameter",
            CaasError::CodeSystemMismatch { .. } => "code_system_mismatch",
            CaasError::InvalidDefinition { .. } => "invalid_definition",
            CaasError::Codelist { .. } => "codelist",
            CaasError::Table { .. } => "table",
            CaasError::Registration { .. } => "registration",
            CaasError::MissingColumn { .. } => "missing_column",
            CaasError::ColumnType { .. } | CaasError::UnreadableDate { .. } => "column_type",
            CaasError::Io { .. } => "io",
            CaasError::Engine {
                kind: EngineFailure::ResourcesExhausted,
                ..
            } => "resources_exhausted",
            CaasError::Engine { .. } => "engine",
            CaasError::Internal(_) => "internal",
            CaasError::Unsupported { .. } => "unsupported",
            CaasError::UnknownPerson { .. } => "unknown_person",
            CaasError::InvalidInput { .. } => "invalid_input",
            CaasError::Report(_) => "report",
            CaasError::DataQuality { .. } | CaasError::ArithmeticError { .. } => "data_quality",
            CaasError::InvalidOption { .. } => "invalid_option",
            CaasError::LimitExceeded { .. } => "limit_exceeded",
            CaasError::Cancelled => "cancelled",
        }
    }

    /// The broad kind of the error: the one mapping from error codes to categories, which
    /// the front ends turn into a C status or a Python exception class.
    ///
    /// ```
    /// use caas_core::{Category, Cohort};
    /// let err = Cohort::from_yaml_str("id: [unclosed").unwrap_err();
    /// assert_eq!(err.category(), Category::Definition);
    /// ```
    pub fn category(&self) -> Category {
        Category::of_code(self.code()).unwrap_or(Category::Internal)
    }

    /// Line and column (1-based) in the definition text, for syntax errors.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match self {
            CaasError::Syntax { line, column, .. } if *line > 0 => Some((*line, *column)),
            _ => None,
        }
    }

    /// The name most likely meant, where the error suggests one ("did you mean").
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            CaasError::ExpressionSyntax { suggestion, .. }
            | CaasError::UnknownReference { suggestion, .. } => suggestion.as_deref(),
            _ => None,
        }
    }

    /// The place in the definition the error is about, when it is about one.
    pub fn place(&self) -> Option<&Place> {
        match self {
            CaasError::ExpressionSyntax { place, .. }
            | CaasError::UnknownReference { place, .. }
            | CaasError::TypeMismatch { place, .. }
            | CaasError::EmptyWindow { place, .. }
            | CaasError::CodeSystemMismatch { place, .. }
            | CaasError::InvalidDefinition { place, .. }
            | CaasError::LimitExceeded { place, .. }
            | CaasError::ArithmeticError { place, .. }
            | CaasError::Table { place, .. } => Some(place),
            _ => None,
        }
    }

    pub(crate) fn invalid(place: Place, message: impl Into<String>) -> Self {
        CaasError::InvalidDefinition {
            place,
            message: message.into(),
        }
    }

    pub(crate) fn type_mismatch(place: &Place, message: impl Into<String>) -> Self {
        CaasError::TypeMismatch {
            place: place.clone(),
            message: message.into(),
        }
    }

    /// An [`Engine`](CaasError::Engine) error of `kind` with a message that quotes no data.
    pub(crate) fn engine(kind: EngineFailure, message: impl Into<String>) -> Self {
        CaasError::Engine {
            kind,
            message: message.into(),
        }
    }

    /// An [`Internal`](CaasError::Internal) error: a broken invariant of caas.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        CaasError::Internal(message.into())
    }
}

/// What kind of failure an [`Engine`](CaasError::Engine) error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineFailure {
    /// Memory ran out under the engine's memory limit and could not be spilled: raise the
    /// limit or lower the partitions.
    ResourcesExhausted,
    /// Reading or writing a file (an input, a spill file) failed.
    Io,
    /// The async runtime could not start, or a blocking call was made inside one.
    Runtime,
    /// Any other failure while a plan ran (an unreadable file, an arithmetic overflow).
    Execution,
}

impl fmt::Display for EngineFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineFailure::ResourcesExhausted => "resources exhausted",
            EngineFailure::Io => "I/O",
            EngineFailure::Runtime => "runtime",
            EngineFailure::Execution => "execution",
        })
    }
}

/// The broad kind of an error, which each front end maps to its own form: a C status
/// (`CAAS_ERR_DEFINITION`, ...), a Python exception class (`caas.DefinitionError`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// The cohort definition or its parameters are wrong.
    Definition,
    /// A table, a file, or data given after an evaluation cannot be used.
    Data,
    /// An argument of the calling program cannot be used (an evaluation option).
    InvalidArgument,
    /// Evaluation failed in the engine (resources, I/O, the runtime, rendering).
    Engine,
    /// A bug in caas.
    Internal,
}

/// Every error code of [`CaasError::code`] with its category: the one place where the
/// categories are decided.
pub const ERROR_CODES: &[(&str, Category)] = &[
    ("syntax", Category::Definition),
    ("expression_syntax", Category::Definition),
    ("unknown_reference", Category::Definition),
    ("type_mismatch", Category::Definition),
    ("cycle", Category::Definition),
    ("empty_window", Category::Definition),
    ("unknown_parameter", Category::Definition),
    ("code_system_mismatch", Category::Definition),
    ("invalid_definition", Category::Definition),
    ("codelist", Category::Definition),
    ("unsupported", Category::Definition),
    ("limit_exceeded", Category::Definition),
    ("table", Category::Data),
    ("registration", Category::Data),
    ("missing_column", Category::Data),
    ("column_type", Category::Data),
    ("io", Category::Data),
    ("data_quality", Category::Data),
    ("invalid_input", Category::Data),
    ("unknown_person", Category::Data),
    ("invalid_option", Category::InvalidArgument),
    ("engine", Category::Engine),
    ("resources_exhausted", Category::Engine),
    ("report", Category::Engine),
    ("cancelled", Category::Engine),
    ("internal", Category::Internal),
];

impl Category {
    /// The category of an error code of [`CaasError::code`], if it is one.
    ///
    /// ```
    /// use caas_core::Category;
    /// assert_eq!(Category::of_code("unknown_person"), Some(Category::Data));
    /// assert_eq!(Category::of_code("invalid_option"), Some(Category::InvalidArgument));
    /// ```
    pub fn of_code(code: &str) -> Option<Category> {
        ERROR_CODES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, category)| *category)
    }

    /// A stable snake_case name: `definition`, `data`, `invalid_argument`, `engine`,
    /// `internal`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Definition => "definition",
            Category::Data => "data",
            Category::InvalidArgument => "invalid_argument",
            Category::Engine => "engine",
            Category::Internal => "internal",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl CaasError {
    /// A copy of an error that caas raises inside a plan (a text date that is not a date, a
    /// date and time beyond the calendar, a cancelled run): DataFusion may hand it back
    /// shared, and only these are ever raised there.
    fn raised_in_plan(&self) -> Option<CaasError> {
        match self {
            CaasError::UnreadableDate {
                table,
                column,
                format,
                row,
            } => Some(CaasError::UnreadableDate {
                table: table.clone(),
                column: column.clone(),
                format: format.clone(),
                row: *row,
            }),
            CaasError::ColumnType {
                table,
                column,
                expected,
                actual,
            } => Some(CaasError::ColumnType {
                table: table.clone(),
                column: column.clone(),
                expected: expected.clone(),
                actual: actual.clone(),
            }),
            CaasError::Cancelled => Some(CaasError::Cancelled),
            _ => None,
        }
    }
}

impl From<datafusion::error::DataFusionError> for CaasError {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as E;
        // caas's own error, raised inside a plan (by a function or an optimizer rule of
        // caas's, which DataFusion may wrap in a context), as it was.
        fn is_own(err: &E) -> bool {
            match err {
                E::Context(_, inner) => is_own(inner),
                E::External(inner) => inner.is::<CaasError>(),
                _ => false,
            }
        }
        // The same, shared by the partitions that wait for the build side of a join: not
        // to be moved out, so copied.
        fn shared_own(err: &E) -> Option<&CaasError> {
            match err {
                E::Context(_, inner) => shared_own(inner),
                E::Shared(inner) => shared_own(inner),
                E::External(inner) => inner.downcast_ref::<CaasError>(),
                _ => None,
            }
        }
        let err = match err {
            E::Context(_, inner) if is_own(&inner) => return CaasError::from(*inner),
            E::External(inner) => match inner.downcast::<CaasError>() {
                Ok(caas) => return *caas,
                Err(other) => E::External(other),
            },
            other => other,
        };
        if let Some(own) = shared_own(&err).and_then(CaasError::raised_in_plan) {
            return own;
        }
        let kind = match err.find_root() {
            E::ResourcesExhausted(_) => EngineFailure::ResourcesExhausted,
            E::IoError(_) | E::ObjectStore(_) => EngineFailure::Io,
            E::Internal(_) => return CaasError::internal(scrub(&err.to_string())),
            _ => EngineFailure::Execution,
        };
        CaasError::engine(kind, scrub(&err.to_string()))
    }
}

impl From<arrow::error::ArrowError> for CaasError {
    fn from(err: arrow::error::ArrowError) -> Self {
        let kind = match err {
            arrow::error::ArrowError::IoError(..) => EngineFailure::Io,
            _ => EngineFailure::Execution,
        };
        CaasError::engine(kind, scrub(&err.to_string()))
    }
}

impl From<datafusion::parquet::errors::ParquetError> for CaasError {
    fn from(err: datafusion::parquet::errors::ParquetError) -> Self {
        CaasError::engine(EngineFailure::Execution, scrub(&err.to_string()))
    }
}

/// Where a message of Arrow or DataFusion goes on to print values (a CSV row, the operands
/// of an overflow): everything after such a marker is removed.
const VALUE_TAILS: [&str; 2] = ["Row data:", "Overflow happened on:"];

/// A message of Arrow, DataFusion or Parquet without the values it may quote from the data:
/// single-quoted text becomes `'…'`, and every number becomes `…` — whatever its length,
/// since a date held as a day number or a small count is data too — except a whole number
/// that says where (after `column`, `line`, `row`, `field`, `index` or `position`). Names in
/// backticks or double quotes stay.
///
/// The front ends pass the messages of Arrow producers (pyarrow, polars, DuckDB, a C
/// stream's `get_last_error`) through it too, since those may quote a cell.
///
/// ```
/// use caas_core::error::scrub;
/// assert_eq!(scrub("could not convert '9434765919' to int64"), "could not convert '…' to int64");
/// ```
pub fn scrub(message: &str) -> String {
    let cut = VALUE_TAILS
        .iter()
        .filter_map(|m| message.find(m).map(|i| i + m.len()))
        .min();
    let head = cut.map_or(message, |i| &message[..i]);
    let chars: Vec<char> = head.chars().collect();
    let mut out = String::with_capacity(head.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // A quote after a letter is an apostrophe ("can't"); one after anything else opens
        // a quoted value, closed by the next quote that no letter or digit follows.
        let opens = c == '\'' && (i == 0 || !chars[i - 1].is_alphanumeric());
        if opens {
            let closes = |j: usize| {
                chars[j] == '\'' && chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric())
            };
            match (i + 1..chars.len()).position(closes) {
                Some(len) => {
                    out.push_str("'…'");
                    i += len + 2;
                    continue;
                }
                None => {
                    out.push_str("'…");
                    break;
                }
            }
        }
        let starts_token =
            i == 0 || !(chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | '.'));
        if c.is_ascii_digit() && starts_token {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | '-' | ':' | '/')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let token = &chars[start..i];
            let whole = token.iter().all(char::is_ascii_digit);
            if whole && says_where(&out) {
                out.extend(token);
            } else {
                out.push('…');
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    if cut.is_some_and(|i| i < message.len()) {
        out.push_str(" …");
    }
    out
}

/// Whether the text before a number ends with a word after which a number is a position in
/// a file or a table, not a value.
fn says_where(before: &str) -> bool {
    const PLACES: [&str; 6] = ["column", "line", "row", "field", "index", "position"];
    let word = before
        .trim_end()
        .rsplit(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    PLACES.iter().any(|p| word.eq_ignore_ascii_case(p))
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn values_are_scrubbed_from_engine_messages() {
        assert_eq!(
            scrub(
                "Parser error: Error while parsing value 'ZEBRA-7' as type 'Date32' for column 1 at \
                 line 3. Row data: '[9434765919,ZEBRA-7]'"
            ),
            "Parser error: Error while parsing value '…' as type '…' for column 1 at line 3. \
             Row data: …"
        );
        assert_eq!(
            scrub("Arithmetic overflow: Overflow happened on: 9223372036854775807 + 1"),
            "Arithmetic overflow: Overflow happened on: …"
        );
        assert_eq!(
            scrub("Can't cast value 9434765919 to type Int32 on 2024-01-31 or 42.5"),
            "Can't cast value … to type Int32 on … or …"
        );
        assert_eq!(
            scrub("column `date` of table \"gp\" in Int64 at line 12"),
            "column `date` of table \"gp\" in Int64 at line 12"
        );
        assert_eq!(scrub("unclosed 'quote 123456"), "unclosed '…");
        // A birth date held as a day number (1 January 1990) is as much data as a long one.
        assert_eq!(
            scrub("Cast error: Can't cast 7305 at row 3 to Date32: 9 + 7305 overflows"),
            "Cast error: Can't cast … at row 3 to Date32: … + … overflows"
        );
    }
}
