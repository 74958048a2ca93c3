//! `GET /subprocessors/feed.atom`: the public changes as an Atom feed (RFC 4287), newest first,
//! one entry per event with a stable id (from the event's cursor). Answered 304 Not Modified
//! to a matching `If-None-Match` (the strong ETag of the feed's bytes) or an
//! `If-Modified-Since` not older than its newest entry.

use super::AppState;
use super::cache::{Answer, AnswerKey};
use super::client::Client;
use super::http::{kept_page, matches_etag, validators};
use crate::graphql::auth::Audience;
use crate::notices::render::EventNotice;
use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// Entries in the feed.
const ENTRIES: usize = 200;

fn link(href: String, rel: &str) -> Link {
    let mut link = Link::default();
    link.set_href(href);
    link.set_rel(rel);
    link
}

/// The entry of a public change.
fn entry(public: &str, notice: &EventNotice) -> Entry {
    let mut lines = vec![notice.headline.clone()];
    if !notice.products.is_empty() {
        lines.push(format!(
            "Products and services: {}",
            notice.products.join(", ")
        ));
    }
    if !notice.locations.is_empty() {
        lines.push(format!(
            "Processing locations: {}",
            notice.locations.join(", ")
        ));
    }
    if let Some(at) = notice.effective_at {
        lines.push(format!("Effective date: {}", at.format("%Y-%m-%d")));
    }
    if let Some(at) = notice.objection_deadline {
        lines.push(format!("Objections until: {}", at.format("%Y-%m-%d")));
    }
    lines.extend(notice.changes.iter().cloned());
    let mut content = Content::default();
    content.set_content_type("text".to_owned());
    content.set_value(lines.join("\n"));
    let mut entry = Entry::default();
    entry.set_id(format!("urn:subreg:change:{}", notice.cursor));
    entry.set_title(Text::plain(notice.headline.clone()));
    entry.set_updated(notice.occurred_at.fixed_offset());
    entry.set_published(Some(notice.occurred_at.fixed_offset()));
    let anchor = notice.recipient_key.as_deref().unwrap_or_default();
    entry.set_links(vec![link(
        format!("{public}/subprocessors#{anchor}"),
        "alternate",
    )]);
    entry.set_content(Some(content));
    entry
}

/// Builds the feed of the latest public changes.
async fn build(state: &AppState) -> Result<Answer, Response> {
    let registry = &state.inner.registry;
    let Ok(notices) = crate::notices::render::latest_public(registry, ENTRIES).await else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the feed cannot be read now",
        )
            .into_response());
    };
    let updated: DateTime<Utc> = notices
        .first()
        .map_or(DateTime::UNIX_EPOCH, |n| n.occurred_at);
    let public = &state.inner.dispatcher.context.settings.public_url;
    let organization = registry
        .organization()
        .await
        .ok()
        .flatten()
        .map_or_else(|| "the organization".to_owned(), |o| o.name);
    let mut feed = Feed::default();
    feed.set_id(format!("{public}/subprocessors/feed.atom"));
    feed.set_title(Text::plain(format!(
        "Subprocessor changes of {organization}"
    )));
    feed.set_updated(updated.fixed_offset());
    let mut author = Person::default();
    author.set_name(organization);
    feed.set_authors(vec![author]);
    feed.set_links(vec![
        link(format!("{public}/subprocessors/feed.atom"), "self"),
        link(format!("{public}/subprocessors"), "alternate"),
    ]);
    feed.set_entries(notices.iter().map(|n| entry(public, n)).collect::<Vec<_>>());
    Ok(Answer::new(Bytes::from(feed.to_string()), None).modified_at(updated))
}

/// `GET /subprocessors/feed.atom`. Built once per registry generation (see [`super::cache`]);
/// a shared cache may keep it for a minute.
pub async fn feed(State(state): State<AppState>, _client: Client, headers: HeaderMap) -> Response {
    let key = AnswerKey::page(Audience::Public, "/subprocessors/feed.atom".into());
    let answer = match kept_page(&state, key, build(&state)).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let updated = answer.modified.unwrap_or(DateTime::UNIX_EPOCH);
    let not_modified_since = headers.get(header::IF_NONE_MATCH).is_none()
        && headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .is_some_and(|since| updated.timestamp() <= since.timestamp());
    let mut response = if matches_etag(&headers, &answer.etag) || not_modified_since {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = answer.body.clone().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/atom+xml; charset=utf-8"),
        );
        response
    };
    validators(&mut response, &answer.etag, "public, max-age=60", None);
    let last_modified = updated.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response
}
