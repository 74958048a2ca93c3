//! `GET /ropa`: the record of processing activities as a file, for VIEWER keys and up, with a
//! strong entity tag: a request whose `If-None-Match` names it is answered 304 Not Modified.

use super::AppState;
use super::cache::{Answer, AnswerKey};
use super::client::Client;
use super::http::{kept_page, matches_etag, validators};
use crate::ropa;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::Role;
use serde::Deserialize;
use sha2::{Digest, Sha256};

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
    headers: HeaderMap,
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
    let options = ropa::export::ExportOptions {
        layout,
        terminology,
    };
    let day = as_of.unwrap_or_else(|| registry.now()).format("%Y-%m-%d");
    let filename = format!(
        "record-of-processing-activities-{}-{day}.{}",
        params.perspective.as_deref().unwrap_or("both"),
        format.extension()
    );
    let file = |mut response: Response, etag: &str| {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            format.content_type().parse().expect("a media type"),
        );
        if let Ok(disposition) =
            format!("attachment; filename=\"{}\"", filename.replace('"', "")).parse()
        {
            headers.insert(header::CONTENT_DISPOSITION, disposition);
        }
        // Only the caller, with its key, may keep the record; it revalidates each time.
        validators(
            &mut response,
            etag,
            "private, no-cache",
            Some("Authorization"),
        );
        response
    };
    let build = async {
        ropa::build(
            registry,
            perspectives.list(),
            as_of,
            &state.inner.settings.findings,
        )
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "cannot build the record");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the record cannot be built now",
            )
                .into_response()
        })
    };
    let export = |records: Vec<ropa::model::Record>| async move {
        match tokio::task::spawn_blocking(move || ropa::export::export(&records, format, &options))
            .await
        {
            Ok(Ok(bytes)) => Ok(Bytes::from(bytes)),
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cannot export the record");
                Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
            Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        }
    };
    if as_of.is_some() {
        // A past record follows from the change log alone: kept until the registry moves.
        let key = AnswerKey::page(client.caller.audience(), uri);
        let kept = kept_page(&state, key, async {
            Ok(Answer::new(export(build.await?).await?, None))
        })
        .await;
        return match kept {
            Ok(kept) if matches_etag(&headers, &kept.etag) => {
                file(StatusCode::NOT_MODIFIED.into_response(), &kept.etag)
            }
            Ok(kept) => file(kept.body.clone().into_response(), &kept.etag),
            Err(response) => response,
        };
    }
    // Today's processor record shows notices not yet accepted, which change without the
    // registry moving: built each time, and tagged by what it says (not by when it was built),
    // so an unchanged record is answered 304 without being exported again.
    let records = match build.await {
        Ok(records) => records,
        Err(response) => return response,
    };
    let etag = content_tag(&records, &uri);
    if matches_etag(&headers, &etag) {
        return file(StatusCode::NOT_MODIFIED.into_response(), &etag);
    }
    match export(records).await {
        Ok(bytes) => file(bytes.into_response(), &etag),
        Err(response) => response,
    }
}

/// An entity tag for today's `records` exported as `uri` asks: a hash of what they say, apart
/// from the instants they were produced at and describe (both "now"). Weak (RFC 9110, 8.8.1):
/// two files with the same tag say the same but for those instants.
fn content_tag(records: &[ropa::model::Record], uri: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(uri.as_bytes());
    for record in records {
        let timeless = ropa::model::Record {
            generated_at: chrono::DateTime::UNIX_EPOCH,
            as_of: chrono::DateTime::UNIX_EPOCH,
            ..record.clone()
        };
        hash.update(serde_json::to_vec(&timeless).unwrap_or_default());
    }
    format!("W/\"{}\"", hex::encode(&hash.finalize()[..16]))
}
