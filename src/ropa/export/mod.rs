//! Exports of the record of processing activities (GDPR Art. 30) as CSV, XLSX, JSON and Markdown.
//!
//! All four carry the same content:
//!
//! - **XLSX**: one sheet per record (perspective) with a header block (organisation, DPO,
//!   representative, for the processor record the controllers it acts for, the as-of and
//!   generation instants as real dates) above a table with one row per processing activity;
//!   a "Transfers" sheet with one row per transfer and its impact assessment date as a real date;
//!   and a "Findings" sheet.
//! - **CSV**: one table, one row per activity. A perspective column comes first when more than one
//!   record is exported, then the organisation fields (the CSV has no header block, so they repeat
//!   on every row), then the layout's columns, then a "Findings" column listing the findings about
//!   that activity (see the matching rules in the `findings` module: findings about no activity
//!   are only in the other formats). When both records are exported, the columns are the union of
//!   both layouts and each row fills its own record's columns. The file starts with a UTF-8 byte
//!   order mark so that spreadsheet programs read accents and arrows correctly.
//! - **JSON**: the records as they are, with the layout and terminology that were asked for.
//! - **Markdown**: one document per record for a DPO to read: the organisation block, a section per
//!   activity, and the findings.
//!
//! The [`Layout`] picks the columns and their headings (the Art. 30 points, the UK ICO template,
//! the CNIL template in French), the [`Terminology`] the words (Singapore PDPA: individual,
//! organisation, data intermediary). Terminology rewrites what the exporter writes (headings,
//! labels, readable enum values); text entered in the registry is shown as entered.
//!
//! Every text cell of the CSV and XLSX exports that a spreadsheet could run as a formula (it starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with a single quote (OWASP's
//! advice against CSV injection), and XLSX cells are always written as strings, never formulas.

mod csv;
mod findings;
mod layout;
mod markdown;
pub mod text;
mod values;
mod xlsx;

/// Neutralises a text cell that a spreadsheet would take for a formula (OWASP CSV injection).
pub use text::neutralise;
pub use text::retention_words;

#[cfg(test)]
mod tests;

use serde::Serialize;

use self::layout::{Labels, Terms};
use crate::ropa::model::{Format, Layout, Record, Terminology};

/// How an export is laid out and worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// The columns and their headings: the Art. 30 points, the UK ICO template or the CNIL one.
    pub layout: Layout,
    /// The legal vocabulary: GDPR, or Singapore's PDPA (individual, organisation, data
    /// intermediary).
    pub terminology: Terminology,
}

impl Default for ExportOptions {
    /// The Art. 30 layout in GDPR terms.
    fn default() -> Self {
        ExportOptions {
            layout: Layout::Article30,
            terminology: Terminology::Gdpr,
        }
    }
}

/// Why an export could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// There was no record to export.
    #[error("nothing to export: no record was given")]
    NoRecords,
    /// Writing the CSV failed.
    #[error("could not write the CSV export: {0}")]
    Csv(#[from] ::csv::Error),
    /// Writing the XLSX workbook failed.
    #[error("could not write the XLSX export: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// Serialising the JSON export failed.
    #[error("could not write the JSON export: {0}")]
    Json(#[from] serde_json::Error),
    /// Flushing the export into memory failed.
    #[error("could not write the export: {0}")]
    Io(#[from] std::io::Error),
}

impl Format {
    /// The media type to serve the export with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Markdown => "md",
        }
    }
}

/// Exports the record of processing activities in `format`.
///
/// `records` holds one record per perspective (controller and/or processor), in that order.
pub fn export(
    records: &[Record],
    format: Format,
    options: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    if records.is_empty() {
        return Err(ExportError::NoRecords);
    }
    let ctx = Ctx::new(options);
    match format {
        Format::Csv => csv::write(records, &ctx),
        Format::Xlsx => xlsx::write(records, &ctx),
        Format::Json => json(records, options),
        Format::Markdown => Ok(markdown::write(records, &ctx).into_bytes()),
    }
}

/// What every writer needs to know about the options.
struct Ctx {
    layout: Layout,
    terms: Terms,
    labels: Labels,
}

impl Ctx {
    fn new(options: &ExportOptions) -> Self {
        let terms = Terms(options.terminology, layout::Language::of(options.layout));
        Ctx {
            layout: options.layout,
            terms,
            labels: Labels::new(options.layout, terms),
        }
    }
}

/// The JSON document: the options asked for, then the records as the model serialises them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonExport<'a> {
    layout: Layout,
    terminology: Terminology,
    records: &'a [Record],
}

fn json(records: &[Record], options: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    let mut out = serde_json::to_vec_pretty(&JsonExport {
        layout: options.layout,
        terminology: options.terminology,
        records,
    })?;
    out.push(b'\n');
    Ok(out)
}
