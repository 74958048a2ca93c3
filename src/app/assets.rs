//! Assets served by Subreg itself, so that every page works with no internet access and loads
//! nothing from a third party: the public pages' stylesheet, and GraphiQL with the React it
//! runs on, pinned to exact versions (see README, "Front-end assets"), each under a
//! Content-Security-Policy that allows scripts from Subreg only.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy of the public pages: no script at all, styles and forms from Subreg only.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// GraphiQL's policy: scripts from Subreg only; its editor sets inline styles, and it talks to
/// /graphql over HTTP and WebSocket.
pub const GRAPHIQL_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self' ws: wss:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every asset, by path under /assets/.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "subreg.css",
        "text/css",
        include_bytes!("../../assets/subreg.css"),
    ),
    (
        "graphiql.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql.js"),
    ),
    (
        "vendor/graphiql-3.8.3/graphiql.min.js",
        "text/javascript",
        include_bytes!("../../assets/vendor/graphiql-3.8.3/graphiql.min.js"),
    ),
    (
        "vendor/graphiql-3.8.3/graphiql.min.css",
        "text/css",
        include_bytes!("../../assets/vendor/graphiql-3.8.3/graphiql.min.css"),
    ),
    (
        "vendor/react-18.3.1/react.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/vendor/react-18.3.1/react.production.min.js"),
    ),
    (
        "vendor/react-dom-18.3.1/react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/vendor/react-dom-18.3.1/react-dom.production.min.js"),
    ),
];

/// `GET /assets/{path}`: long-cached, since each vendored path names its version.
pub async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, media, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(media)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// The GraphiQL page.
pub fn graphiql() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(GRAPHIQL_POLICY),
            ),
        ],
        include_str!("../../assets/graphiql.html"),
    )
        .into_response()
}
