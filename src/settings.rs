//! Every setting an operator may tune, typed, each default written once: in the `DEFAULT`
//! constant of its struct, which `Default` returns and the command line shows as the flag's
//! default (`subreg serve --help`). [`crate::config`] fills these structs from flags and the
//! environment; the layers that use them (graphql, registry, ropa, app, server) read them from
//! here. This module depends on nothing else of Subreg.

use std::borrow::Cow;
use std::time::Duration;

/// Everything `subreg serve` is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub server: ServerSettings,
    pub registry: RegistrySettings,
    pub background: BackgroundSettings,
}

impl Settings {
    pub const DEFAULT: Self = Self {
        server: ServerSettings::DEFAULT,
        registry: RegistrySettings::DEFAULT,
        background: BackgroundSettings::DEFAULT,
    };
}

impl Default for Settings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Bounds on what one GraphQL request may ask for. The document bounds (tokens, aliases,
/// fields, depth, directives, introspection) are checked before execution, the page sizes by
/// the connections, the subscriptions per connection by the WebSocket handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Page size when a connection's `first` is absent.
    pub default_page_size: u64,
    /// Largest page size a client may ask for.
    pub max_page_size: u64,
    /// Deepest selection nesting: most fields on one path, fragments expanded.
    pub max_depth: usize,
    /// Largest number of fields one request may select (fragments expanded).
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    pub max_aliases: usize,
    /// Most lexical tokens (names, punctuators, values) in one document.
    pub max_tokens: usize,
    /// Most directives on one field.
    pub max_directives: usize,
    /// Most subscriptions one WebSocket connection may hold open.
    pub max_subscriptions_per_connection: usize,
    /// Whether clients may introspect the schema (`__schema`, `__type`, and "did you mean"
    /// suggestions).
    pub introspection: bool,
}

impl Limits {
    /// The OWASP GraphQL cheat sheet's and graphql-armor's defaults.
    pub const DEFAULT: Self = Self {
        default_page_size: 50,
        max_page_size: 500,
        max_depth: 12,
        max_complexity: 1_000,
        max_aliases: 15,
        max_tokens: 1_000,
        max_directives: 50,
        max_subscriptions_per_connection: 20,
        introspection: true,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Thresholds of the compliance findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingOptions {
    /// A transfer impact assessment older than this many days is reported as outdated.
    pub tia_max_age_days: u32,
}

impl FindingOptions {
    pub const DEFAULT: Self = Self {
        tia_max_age_days: 365,
    };
}

impl Default for FindingOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Rules of the registry that an operator may tune.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySettings {
    /// How long before a newly announced subprocessor may start (GDPR Art. 28(2): customers must
    /// be able to object in time).
    pub notice_period: chrono::Duration,
    /// An updated copy of the adequacy decisions (the format of `data/adequacy.yaml`) to read
    /// instead of the compiled-in one; none by default.
    pub adequacy_file: Option<std::path::PathBuf>,
    /// How many rows of each kind the API resolves by id (recipients, a flow's data
    /// categories, its transfers, ...) are kept in memory between writes; 0 keeps none.
    pub kept_rows: usize,
}

impl RegistrySettings {
    pub const DEFAULT: Self = Self {
        notice_period: chrono::Duration::days(30),
        adequacy_file: None,
        kept_rows: 100_000,
    };
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What runs beside the HTTP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackgroundSettings {
    /// How often announced recipients whose notice period ended are activated.
    pub activation_interval: Duration,
    /// How often the change log's head is checked, beside PostgreSQL notifications (a safety
    /// net, and how processes sharing one SQLite file see each other's changes); also how
    /// often revocations by other processes are looked for.
    pub change_poll_interval: Duration,
}

impl BackgroundSettings {
    pub const DEFAULT: Self = Self {
        activation_interval: Duration::from_secs(60),
        change_poll_interval: Duration::from_secs(5),
    };
}

impl Default for BackgroundSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the HTTP server needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub limits: Limits,
    pub findings: FindingOptions,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest GraphQL request body of a caller with an EDITOR key or higher, in bytes: a
    /// manifest for `planRegistry` or `applyRegistry` travels in it.
    pub max_editor_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Serve GraphiQL to browsers at /graphql.
    pub graphiql: bool,
    /// Most operations in one batched HTTP request (a JSON array); 1 turns batching off.
    pub max_batch_size: usize,
    /// Most WebSocket connections open at once per API key (per client address without one).
    pub max_connections_per_client: usize,
    /// Requests a minute per API key (bursts of a sixth of it); 0 for no limit.
    pub key_requests_per_minute: u32,
    /// Requests a minute per client address (bursts of a sixth of it); 0 for no limit.
    pub address_requests_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// On shutdown, how long requests in flight and open WebSockets get to finish.
    pub shutdown_grace: Duration,
    /// Longest a client may take to send a request's headers: a connection that trickles them
    /// (slowloris) is closed instead of holding a slot for ever.
    pub header_read_timeout: Duration,
    /// Memory for answers kept to serve repeated queries (bodies and their keys); 0 keeps none.
    pub response_cache_bytes: usize,
    /// How long a shared cache (a CDN) may serve a public answer without asking again.
    pub public_max_age: Duration,
    /// The public pages and the notices: email, webhooks, the Atom feed.
    pub notices: NoticeSettings,
}

impl ServerSettings {
    pub const DEFAULT: Self = Self {
        limits: Limits::DEFAULT,
        findings: FindingOptions::DEFAULT,
        max_body_bytes: 256 * 1024,
        max_editor_body_bytes: 32 * 1024 * 1024,
        request_timeout: Duration::from_secs(30),
        graphiql: true,
        max_batch_size: 5,
        max_connections_per_client: 50,
        key_requests_per_minute: 600,
        address_requests_per_minute: 1200,
        trust_forwarded_for: false,
        shutdown_grace: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(10),
        response_cache_bytes: 64 * 1024 * 1024,
        public_max_age: Duration::from_secs(30),
        notices: NoticeSettings::DEFAULT,
    };
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The public subprocessor pages and the notices sent to customers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeSettings {
    /// Where customers reach Subreg (`https://subprocessors.example.com`), for the links in
    /// notices and the Atom feed; empty for `http://` and the address the server listens on.
    pub public_url: String,
    /// The SMTP server notices are sent through (`smtp://host:25`, `smtps://user:pass@host`,
    /// `smtp://host:587?tls=required`); empty to write each message as an .eml file into
    /// `mail_dir` instead.
    pub smtp_url: String,
    /// A PEM file of certificates trusted, beside the public roots, to have issued the SMTP
    /// server's certificate (an internal relay's own certificate authority); empty for none.
    pub smtp_ca_file: String,
    /// The notices' From address.
    pub mail_from: Cow<'static, str>,
    /// Where messages are written when no SMTP server is configured.
    pub mail_dir: Cow<'static, str>,
    /// A directory of templates that replace the built-in ones of the same name (the page in
    /// the organization's branding); empty for the built-in ones only.
    pub templates_dir: String,
    /// Deliver webhooks to loopback, private and link-local addresses (for tests and closed
    /// networks; off, such targets are refused as server-side request forgery).
    pub webhook_allow_private: bool,
    /// How long one webhook attempt may take.
    pub webhook_timeout: Duration,
    /// Seconds between a failed attempt and the next: the Standard Webhooks schedule (5 s, 5 min,
    /// 30 min, 2 h, 5 h, 10 h, 10 h), each with up to 10 % jitter. After the last, the delivery
    /// fails (and a webhook endpoint is disabled).
    pub retry_schedule_secs: Cow<'static, [u64]>,
    /// Most deliveries this process sends at once (one at a time per subscriber).
    pub dispatch_concurrency: usize,
    /// How much nicer than the threads that serve requests the dispatcher's threads run (0 to
    /// 19, as `nice`, on Linux): when every core is busy, a fan-out slows down rather than the
    /// answers.
    pub dispatch_niceness: u8,
    /// How often due deliveries are looked for, beside the wake-up of each commit.
    pub dispatch_interval: Duration,
    /// How long a replica holds the subscribers it leased: one that dies leaves them to the
    /// others after this.
    pub lease: Duration,
    /// Subscription and objection forms a client address may send an hour.
    pub form_posts_per_hour: u32,
    /// Confirmation emails one address may be sent an hour.
    pub confirmations_per_address_per_hour: u32,
}

impl NoticeSettings {
    pub const DEFAULT: Self = Self {
        public_url: String::new(),
        smtp_url: String::new(),
        smtp_ca_file: String::new(),
        mail_from: Cow::Borrowed("Subprocessor notices <notices@localhost>"),
        mail_dir: Cow::Borrowed("notices-outbox"),
        templates_dir: String::new(),
        webhook_allow_private: false,
        webhook_timeout: Duration::from_secs(10),
        retry_schedule_secs: Cow::Borrowed(&[5, 300, 1800, 7200, 18000, 36000, 36000]),
        dispatch_concurrency: 64,
        dispatch_niceness: 5,
        dispatch_interval: Duration::from_secs(1),
        lease: Duration::from_secs(60),
        form_posts_per_hour: 60,
        confirmations_per_address_per_hour: 3,
    };
}

impl Default for NoticeSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}
