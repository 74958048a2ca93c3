//! `GET /subprocessors[?asOf=2026-01-01]`: the public subprocessor list, the page every
//! customer loads.
//!
//! The page is the same for every visitor but for the token of its objection forms, so it is
//! rendered once per registry generation and day (see [`super::cache`]) with a slot where the
//! token goes, and each visitor's token is put in the slot as it is sent. Its entity tag joins
//! the rendered page's to the visitor's token: a returning visitor whose page has not changed
//! gets 304 Not Modified.

use super::AppState;
use super::cache::{Answer, AnswerKey};
use super::client::Client;
use super::http::{kept_page, matches_etag, validators};
use super::pages::{failure, html};
use crate::graphql::auth::Audience;
use crate::notices::render::EventNotice;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use entity::{RecipientStatus, TransferMechanism, recipient};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Where the rendered page holds the visitor's form token: a text no page content produces
/// (the template escapes what the registry holds, and this has no character to escape).
const TOKEN_SLOT: &str = "subreg-form-token-slot-4f1d9c";

/// Public changes in the page's history.
const HISTORY: usize = 100;

/// One row of the list.
#[derive(Serialize)]
struct Row {
    key: String,
    legal_name: String,
    purpose: String,
    products: Vec<String>,
    locations: Vec<String>,
    mechanism: String,
    status: &'static str,
    /// For an announced subprocessor: when it starts, which is also the end of the time to
    /// object (Art. 28(2): the objection must be possible before the change).
    effective_at: Option<DateTime<Utc>>,
    objection_deadline: Option<DateTime<Utc>>,
}

/// What the page template is given.
#[derive(Serialize)]
struct ListPage<'a> {
    subprocessors: &'a [Row],
    /// The announced subprocessors customers may still object to, each with its form.
    announced: Vec<&'a Row>,
    history: &'a [EventNotice],
    as_of: Option<String>,
    as_of_input: Option<String>,
    notice_days: i64,
    csrf: &'static str,
}

/// How a transfer mechanism reads on the page.
fn mechanism(recipient: &recipient::Model, locations: &[String]) -> String {
    use TransferMechanism::*;
    if locations.iter().all(|c| crate::reference::is_eea(c)) {
        return "None needed: the data stays in the EEA".into();
    }
    let Some(m) = recipient.transfer_mechanism else {
        return "Not recorded".into();
    };
    let name = match m {
        AdequacyDecision => "Adequacy decision (Art. 45)",
        StandardContractualClauses => "Standard contractual clauses (Art. 46(2)(c))",
        UkIdta => "UK International Data Transfer Agreement",
        UkAddendum => "UK Addendum to the standard contractual clauses",
        BindingCorporateRules => "Binding corporate rules (Art. 47)",
        CodeOfConduct => "Code of conduct (Art. 46(2)(e))",
        Certification => "Certification (Art. 46(2)(f))",
        AdHocClauses => "Ad hoc contractual clauses (Art. 46(3)(a))",
        Derogation => "Derogation (Art. 49)",
    };
    match recipient.scc_module {
        Some(module) if m == StandardContractualClauses => format!("{name}, module {module}"),
        _ => name.into(),
    }
}

/// The `asOf` parameter: a date (the end of that day, UTC) or an instant, not in the future.
fn as_of(raw: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    match params
        .get("asOf")
        .map(String::as_str)
        .filter(|t| !t.is_empty())
    {
        None => Ok(None),
        Some(text) => {
            let at = crate::ropa::model::parse_as_of(text)?;
            if at > now {
                return Err("asOf must not be in the future".into());
            }
            Ok(Some(at))
        }
    }
}

/// Renders the list at `at` (today when `None`), with [`TOKEN_SLOT`] for the form token.
async fn render(state: &AppState, at: Option<DateTime<Utc>>) -> Result<Answer, Response> {
    let registry = &state.inner.registry;
    let now = registry.now();
    let list = crate::changes::as_of::subprocessor_list(registry, at)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "cannot read the subprocessor list");
            failure()
        })?;
    let ids: Vec<i32> = list.iter().map(|(r, _)| r.id).collect();
    let (products, history) = match (
        registry.recipient_products(&ids).await,
        crate::notices::render::latest_public(registry, HISTORY).await,
    ) {
        (Ok(p), Ok(h)) => (p, h),
        (Err(err), _) | (_, Err(err)) => {
            tracing::error!(error = %err, "cannot read the list's products or history");
            return Err(failure());
        }
    };
    let rows: Vec<Row> = list
        .into_iter()
        .map(|(r, locations)| {
            let announced = r.status == RecipientStatus::Announced;
            let effective_at = r.effective_at.filter(|_| announced);
            Row {
                mechanism: mechanism(&r, &locations),
                products: products.get(&r.id).cloned().unwrap_or_default(),
                purpose: r.description.unwrap_or_default(),
                status: if announced { "Announced" } else { "Active" },
                effective_at,
                objection_deadline: effective_at,
                key: r.key,
                legal_name: r.legal_name,
                locations,
            }
        })
        .collect();
    let announced = rows
        .iter()
        .filter(|r| at.is_none() && r.effective_at.is_some_and(|t| t > now))
        .collect();
    let page = ListPage {
        subprocessors: &rows,
        announced,
        history: &history,
        as_of: at.map(|a| a.format("%-d %B %Y").to_string()),
        as_of_input: at.map(|a| a.format("%Y-%m-%d").to_string()),
        notice_days: registry.settings().notice_period.num_days(),
        csrf: TOKEN_SLOT,
    };
    let body = state.render("subprocessors.html", &page).await?;
    Ok(Answer::new(Bytes::from(body), None))
}

/// The page's entity tag for a visitor with `token`: the rendered page's and the token's.
fn etag(page: &Answer, token: &str) -> String {
    let token = Sha256::digest(token.as_bytes());
    format!(
        "\"{}-{}\"",
        page.etag.trim_matches('"'),
        hex::encode(&token[..8])
    )
}

/// The kept page with `token` in each of its slots.
fn with_token(page: &[u8], token: &str) -> Bytes {
    let mut body = Vec::with_capacity(page.len() + 64);
    let mut from = 0;
    for at in memchr::memmem::find_iter(page, TOKEN_SLOT.as_bytes()) {
        body.extend_from_slice(&page[from..at]);
        body.extend_from_slice(token.as_bytes());
        from = at + TOKEN_SLOT.len();
    }
    body.extend_from_slice(&page[from..]);
    Bytes::from(body)
}

/// `GET /subprocessors[?asOf=2026-01-01]`: the public list.
pub async fn subprocessors(
    State(state): State<AppState>,
    _client: Client,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let now = state.inner.registry.now();
    let at = match as_of(raw.as_deref(), now) {
        Ok(at) => at,
        Err(message) => {
            return state
                .message(StatusCode::BAD_REQUEST, "Not a date", &message)
                .await;
        }
    };
    let key = AnswerKey::page(
        Audience::Public,
        format!(
            "/subprocessors?{}#{}",
            at.map(|a| a.to_rfc3339()).unwrap_or_default(),
            state.inner.dispatcher.context.templates.revision()
        ),
    );
    let page = match kept_page(&state, key, render(&state, at)).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let Some((token, set_cookie)) = state.form_token(&headers) else {
        return failure();
    };
    let etag = etag(&page, &token);
    // The visitor's own token is in the page: no shared cache may keep it; the visitor's
    // browser revalidates it each time.
    let control = "private, no-cache";
    if set_cookie.is_none() && matches_etag(&headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        validators(&mut response, &etag, control, Some("Cookie"));
        return response;
    }
    let mut response = html(StatusCode::OK, with_token(&page.body, &token), set_cookie);
    validators(&mut response, &etag, control, Some("Cookie"));
    response
}
