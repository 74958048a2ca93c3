//! `GET /notices/register`: the notice register as a file, CSV, XLSX or JSON, one row per
//! attempt: the evidence that a customer was told of a change, when, how and what (GDPR
//! Art. 28(2)). `?customer=` and `?change=` (a change's cursor) narrow it; a SUBSCRIBER key
//! gets its own endpoints' deliveries only. Text cells that a spreadsheet would take for a
//! formula are neutralised.

use super::AppState;
use super::client::{Client, error_response};
use crate::changes::ChangeKey;
use crate::graphql::error::{FORBIDDEN, UNAUTHENTICATED};
use crate::registry::notices::{RegisterEntry, RegisterFilter};
use crate::ropa::export::neutralise;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::Role;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The register's columns, in order.
const COLUMNS: [&str; 18] = [
    "delivery",
    "customer",
    "channel",
    "address",
    "kind",
    "change",
    "message_id",
    "content_hash",
    "queued_at",
    "status",
    "accepted_at",
    "attempt",
    "attempted_at",
    "outcome",
    "code",
    "reply",
    "error",
    "transport",
];

/// One row per attempt (one for a delivery not attempted yet).
fn rows(entries: &[RegisterEntry]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for entry in entries {
        let d = &entry.delivery;
        let change = entry.change_cursor.clone();
        let base = vec![
            json!(d.id),
            json!(entry.subscriber.customer),
            json!(entry.subscriber.channel),
            json!(d.address),
            json!(d.kind),
            json!(change),
            json!(d.message_id),
            json!(d.content_hash),
            json!(d.queued_at),
            json!(d.status),
            json!(d.accepted_at),
        ];
        if entry.attempts.is_empty() {
            let mut row = base.clone();
            row.extend(std::iter::repeat_n(Value::Null, 7));
            rows.push(row);
        }
        for (n, a) in entry.attempts.iter().enumerate() {
            let mut row = base.clone();
            row.extend([
                json!(n + 1),
                json!(a.attempted_at),
                json!(a.outcome),
                json!(a.code),
                json!(a.reply),
                json!(a.error),
                json!(d.transport),
            ]);
            rows.push(row);
        }
    }
    rows
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => neutralise(s).into_owned(),
        other => other.to_string(),
    }
}

fn csv(rows: &[Vec<Value>]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for row in rows {
        writer.write_record(row.iter().map(cell))?;
    }
    Ok(writer.into_inner()?)
}

fn xlsx(rows: &[Vec<Value>]) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("Notice register")?;
    for (col, name) in COLUMNS.iter().enumerate() {
        sheet.write_string(0, col as u16, *name)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (col, value) in row.iter().enumerate() {
            let text = cell(value);
            match value {
                Value::Number(n) => {
                    sheet.write_number(r as u32 + 1, col as u16, n.as_f64().unwrap_or_default())?
                }
                _ => sheet.write_string(r as u32 + 1, col as u16, text)?,
            };
        }
    }
    Ok(book.save_to_buffer()?)
}

fn json_file(rows: &[Vec<Value>]) -> anyhow::Result<Vec<u8>> {
    let objects: Vec<serde_json::Map<String, Value>> = rows
        .iter()
        .map(|row| {
            COLUMNS
                .iter()
                .map(|c| c.to_string())
                .zip(row.iter().cloned())
                .collect()
        })
        .collect();
    Ok(serde_json::to_vec_pretty(&objects)?)
}

pub async fn export(
    State(state): State<AppState>,
    client: Client,
    RawQuery(raw): RawQuery,
) -> Response {
    let owner = match client.caller.role() {
        None => {
            return error_response(
                StatusCode::UNAUTHORIZED,
                UNAUTHENTICATED,
                "the notice register needs an API key",
            );
        }
        Some(Role::Subscriber) => client.caller.0.as_ref().map(|k| k.key_id),
        Some(_) => None,
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let seq = match params.get("change") {
        Some(cursor) => {
            let seq = match crate::registry::cursor::decode::<ChangeKey>("change", cursor) {
                Ok(key) => key.seq(state.inner.registry.db()).await,
                Err(err) => Err(err),
            };
            match seq {
                Ok(seq) => Some(seq),
                Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
            }
        }
        None => None,
    };
    if owner.is_none() && client.caller.role() == Some(Role::Subscriber) {
        return error_response(StatusCode::FORBIDDEN, FORBIDDEN, "not allowed");
    }
    let filter = RegisterFilter {
        seq,
        customer: params.get("customer").cloned(),
        subscriber_id: None,
        owner_key_id: owner,
    };
    let entries = match state.inner.registry.notice_register_all(&filter).await {
        Ok(entries) => entries,
        Err(err) => {
            tracing::error!(error = %err, "cannot read the notice register");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the register cannot be read now",
            )
                .into_response();
        }
    };
    let rows = rows(&entries);
    let (bytes, media, extension) = match params.get("format").map(String::as_str).unwrap_or("csv")
    {
        "csv" => (csv(&rows), "text/csv; charset=utf-8", "csv"),
        "xlsx" => (
            xlsx(&rows),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        "json" => (json_file(&rows), "application/json", "json"),
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("format `{other}`: one of csv, xlsx, json"),
            )
                .into_response();
        }
    };
    match bytes {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, media.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"notice-register.{extension}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot export the notice register");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
