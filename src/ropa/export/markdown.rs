//! The Markdown export: per record, a title, the organisation block, one section per activity
//! (a two-column table of the layout's fields) and the findings.

use super::Ctx;
use super::layout::{self, Field};
use super::text::{self, markdown_code, markdown_inline};
use super::values::{self, Lines};
use crate::ropa::model::{Record, name_of};

/// Appends escaped lines as one cell, lines separated by `<br>`.
fn cell(lines: &Lines, out: &mut String) {
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        markdown_inline(line, out);
    }
}

/// A Markdown table row of already-escaped cells.
fn table_row<'a>(cells: impl IntoIterator<Item = &'a str>, out: &mut String) {
    out.push('|');
    for c in cells {
        out.push(' ');
        out.push_str(c);
        out.push_str(" |");
    }
    out.push('\n');
}

fn table_head(headings: &[&str], out: &mut String) {
    let escaped: Vec<String> = headings
        .iter()
        .map(|h| {
            let mut s = String::new();
            markdown_inline(h, &mut s);
            s
        })
        .collect();
    table_row(escaped.iter().map(String::as_str), out);
    table_row(headings.iter().map(|_| "---"), out);
}

/// A field/value row.
fn field_row(label: &str, value: &Lines, out: &mut String) {
    out.push_str("| ");
    markdown_inline(label, out);
    out.push_str(" | ");
    cell(value, out);
    out.push_str(" |\n");
}

/// A heading's text: escaped, on one line.
fn heading(level: usize, text: &str, out: &mut String) {
    for _ in 0..level {
        out.push('#');
    }
    out.push(' ');
    let one_line = text.replace(['\r', '\n'], " ");
    markdown_inline(one_line.trim(), out);
    out.push_str("\n\n");
}

fn record(record: &Record, ctx: &Ctx, out: &mut String) {
    let labels = &ctx.labels;
    heading(1, &labels.title(record.perspective), out);
    markdown_inline(&labels.subtitle(&record.organization.name), out);
    out.push_str("\n\n");

    // Organisation block.
    table_head(&[&labels.field, &labels.value], out);
    for column in layout::organization_columns(ctx.layout, record.perspective, ctx.terms) {
        let value = values::record_field(column.field, record).unwrap_or_default();
        field_row(&column.heading, &value, out);
    }
    let instant =
        |t: chrono::DateTime<chrono::Utc>| vec![t.format("%Y-%m-%d %H:%M:%S").to_string()];
    field_row(&labels.as_of, &instant(record.as_of), out);
    field_row(&labels.generated_at, &instant(record.generated_at), out);
    out.push('\n');

    // One section per activity.
    heading(2, &labels.activities_section, out);
    if record.activities.is_empty() {
        markdown_inline(&labels.no_activities, out);
        out.push_str("\n\n");
    }
    let columns = layout::table_columns(ctx.layout, record.perspective, ctx.terms);
    for activity in &record.activities {
        heading(3, &activity.name, out);
        table_head(&[&labels.field, &labels.value], out);
        for column in &columns {
            if column.field == Field::Reference {
                // Keys read best as code.
                out.push_str("| ");
                markdown_inline(&column.heading, out);
                out.push_str(" | ");
                markdown_code(&activity.key, out);
                out.push_str(" |\n");
                continue;
            }
            let value = values::activity_field(column.field, record, activity, ctx.terms);
            field_row(&column.heading, &value, out);
        }
        out.push('\n');
    }

    // Findings.
    heading(2, &labels.findings_section, out);
    if record.findings.is_empty() {
        markdown_inline(&labels.no_findings, out);
        out.push_str("\n\n");
        return;
    }
    let [severity, code, entity_type, entity, article, message] = &labels.finding_headings;
    table_head(
        &[severity, code, entity_type, entity, article, message],
        out,
    );
    for finding in &record.findings {
        out.push_str("| ");
        out.push_str(text::severity(finding.severity));
        out.push_str(" | ");
        markdown_code(&finding.code, out);
        out.push_str(" | ");
        markdown_inline(&text::humanize_enum(name_of(finding.entity_type)), out);
        out.push_str(" | ");
        markdown_inline(&finding.entity, out);
        out.push_str(" | ");
        markdown_inline(&finding.article, out);
        out.push_str(" | ");
        markdown_inline(&finding.message, out);
        out.push_str(" |\n");
    }
    out.push('\n');
}

pub(super) fn write(records: &[Record], ctx: &Ctx) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n\n");
        }
        record(r, ctx, &mut out);
    }
    out
}
