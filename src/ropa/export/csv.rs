//! The CSV export: one row per activity (see the module documentation of `export` for its shape).

use ::csv::{Terminator, WriterBuilder};

use super::layout::{self, Column, Field};
use super::text::neutralise;
use super::values::{self, Lines};
use super::{Ctx, ExportError, findings};
use crate::ropa::model::Record;

/// The UTF-8 byte order mark, so that Excel does not read the file as ANSI.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The columns of one record: the organisation fields not already in the table, then the table.
fn record_columns(record: &Record, ctx: &Ctx) -> Vec<Column> {
    let table = layout::table_columns(ctx.layout, record.perspective, ctx.terms);
    let mut columns: Vec<Column> =
        layout::organization_columns(ctx.layout, record.perspective, ctx.terms)
            .into_iter()
            .filter(|o| o.field == Field::NotRecorded || table.iter().all(|t| t.field != o.field))
            .collect();
    columns.extend(table);
    columns
}

/// The union of the records' headings, each record's columns kept in their order: headings new
/// to the union go right before the next heading they share with it (or at the end), so the
/// controller's columns come first where both records have their own.
fn union(per_record: &[Vec<Column>]) -> Vec<String> {
    let mut headings: Vec<String> = Vec::new();
    for columns in per_record {
        let mut pending: Vec<String> = Vec::new();
        for column in columns {
            match headings.iter().position(|h| *h == column.heading) {
                Some(at) => {
                    for (k, heading) in pending.drain(..).enumerate() {
                        headings.insert(at + k, heading);
                    }
                }
                None if !pending.contains(&column.heading) => pending.push(column.heading.clone()),
                None => {}
            }
        }
        headings.extend(pending);
    }
    headings
}

/// Writes one row, each cell neutralised against formula injection.
fn write_row(writer: &mut ::csv::Writer<Vec<u8>>, cells: &[String]) -> Result<(), ExportError> {
    for cell in cells {
        writer.write_field(neutralise(cell).as_bytes())?;
    }
    // An empty record ends the row begun by the fields.
    writer.write_record(std::iter::empty::<&[u8]>())?;
    Ok(())
}

fn join(lines: &Lines) -> String {
    lines.join("\n")
}

pub(super) fn write(records: &[Record], ctx: &Ctx) -> Result<Vec<u8>, ExportError> {
    let per_record: Vec<Vec<Column>> = records.iter().map(|r| record_columns(r, ctx)).collect();
    let headings = union(&per_record);
    let with_perspective = records.len() > 1;

    let mut buffer = Vec::with_capacity(64 * 1024);
    buffer.extend_from_slice(BOM);
    let mut writer = WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .from_writer(buffer);

    let mut header: Vec<String> = Vec::with_capacity(headings.len() + 2);
    if with_perspective {
        header.push(ctx.labels.perspective_column.clone());
    }
    header.extend(headings.iter().cloned());
    header.push(ctx.labels.findings_column.clone());
    write_row(&mut writer, &header)?;

    let mut row: Vec<String> = Vec::with_capacity(header.len());
    for (record, columns) in records.iter().zip(&per_record) {
        // Which field fills each union column for this record, and the record-level values once.
        let fields: Vec<Option<Field>> = headings
            .iter()
            .map(|h| columns.iter().find(|c| c.heading == *h).map(|c| c.field))
            .collect();
        let record_values: Vec<Option<String>> = fields
            .iter()
            .map(|f| {
                f.and_then(|f| values::record_field(f, record))
                    .map(|l| join(&l))
            })
            .collect();
        let perspective = ctx.labels.perspective(record.perspective);
        let about = findings::by_activity(record);

        for (activity, finding_ids) in record.activities.iter().zip(&about) {
            row.clear();
            if with_perspective {
                row.push(perspective.clone());
            }
            for (field, record_value) in fields.iter().zip(&record_values) {
                let cell = match (field, record_value) {
                    (_, Some(value)) => value.clone(),
                    (Some(field), None) => {
                        join(&values::activity_field(*field, record, activity, ctx.terms))
                    }
                    (None, None) => String::new(),
                };
                row.push(cell);
            }
            let lines: Lines = finding_ids
                .iter()
                .filter_map(|&i| record.findings.get(i))
                .map(findings::line)
                .collect();
            row.push(join(&lines));
            write_row(&mut writer, &row)?;
        }
    }
    writer.flush()?;
    writer.into_inner().map_err(|e| e.into_error().into())
}
