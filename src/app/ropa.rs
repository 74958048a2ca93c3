//! `GET /ropa`: the record of processing activities as a file, for VIEWER keys and up.

use super::AppState;
use super::client::Client;
use crate::ropa;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::Role;
use serde::Deserialize;

/// The parameters of a record download.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RopaParams {
    perspective: Option<String>,
    format: Option<String>,
    as_of: Option<String>,
    layout: Option<String>,
    terminology: Option<String>,
}

/// `GET /ropa?perspective=controller&format=xlsx&asOf=2023-01-01&layout=ico&terminology=gdpr`:
/// the record of processing activities as a file.
pub async fn download(
    State(state): State<AppState>,
    client: Client,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = client.refusal_below(Role::Viewer) {
        return refused;
    }
    let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
    let uri = format!("/?{}", raw.unwrap_or_default());
    let Some(params) = uri
        .parse()
        .ok()
        .and_then(|uri| axum::extract::Query::<RopaParams>::try_from_uri(&uri).ok())
        .map(|q| q.0)
    else {
        return bad("the query string is malformed".into());
    };
    let parse = || -> Result<_, String> {
        let perspectives: ropa::model::Perspectives =
            params.perspective.as_deref().unwrap_or("both").parse()?;
        let format: ropa::model::Format = params.format.as_deref().unwrap_or("xlsx").parse()?;
        let layout: ropa::model::Layout =
            params.layout.as_deref().unwrap_or("article30").parse()?;
        let terminology: ropa::model::Terminology =
            params.terminology.as_deref().unwrap_or("gdpr").parse()?;
        let as_of = params
            .as_of
            .as_deref()
            .map(ropa::model::parse_as_of)
            .transpose()?;
        Ok((perspectives, format, layout, terminology, as_of))
    };
    let (perspectives, format, layout, terminology, as_of) = match parse() {
        Ok(parsed) => parsed,
        Err(message) => return bad(message),
    };
    let registry = &state.inner.registry;
    if as_of.is_some_and(|at| at > registry.now()) {
        return bad("asOf must not be in the future".into());
    }
    let records = match ropa::build(
        registry,
        perspectives.list(),
        as_of,
        &state.inner.settings.findings,
    )
    .await
    {
        Ok(records) => records,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the record");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the record cannot be built now",
            )
                .into_response();
        }
    };
    let options = ropa::export::ExportOptions {
        layout,
        terminology,
    };
    let bytes =
        match tokio::task::spawn_blocking(move || ropa::export::export(&records, format, &options))
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cannot export the record");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
    let day = as_of.unwrap_or_else(|| registry.now()).format("%Y-%m-%d");
    let filename = format!(
        "record-of-processing-activities-{}-{day}.{}",
        params.perspective.as_deref().unwrap_or("both"),
        format.extension()
    );
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", filename.replace('"', "")),
            ),
        ],
        bytes,
    )
        .into_response()
}
