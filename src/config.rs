//! Settings, from command-line flags and the environment (flags win), read once at start.

use crate::graphql::Limits;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

/// Subreg: the registry of everyone who receives personal data from the organization.
#[derive(Debug, Parser)]
#[command(name = "subreg", version, about)]
pub struct Cli {
    /// Log format: `text` for people, `json` for log collectors (one object per line).
    #[arg(long, global = true, env = "SUBREG_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (migrates the database and loads the example registry if empty).
    Serve(ServeArgs),
    /// Apply the database migrations.
    Migrate(DatabaseArgs),
    /// Load the example registry into an empty database.
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL) the server serves.
    ExportSchema,
    /// Export the record of processing activities (GDPR Art. 30).
    Ropa(RopaArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; its secret is printed once and stored only as a hash.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Who or what will hold the key; changes made with it are recorded under this name.
        #[arg(long)]
        name: String,
        /// viewer (reads everything), editor (also changes the registry) or admin (also
        /// manages keys).
        #[arg(long, value_parser = parse_role)]
        role: entity::Role,
    },
    /// List every key (never the secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key for good, by the number `list` shows.
    Revoke {
        #[command(flatten)]
        database: DatabaseArgs,
        id: i32,
    },
}

fn parse_role(text: &str) -> Result<entity::Role, String> {
    match text.to_ascii_lowercase().as_str() {
        "viewer" => Ok(entity::Role::Viewer),
        "editor" => Ok(entity::Role::Editor),
        "admin" => Ok(entity::Role::Admin),
        _ => Err("one of viewer, editor, admin".into()),
    }
}

#[derive(Debug, Clone, Args)]
pub struct RopaArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// controller (Art. 30(1)), processor (Art. 30(2)) or both.
    #[arg(long, default_value = "both")]
    pub perspective: crate::ropa::model::Perspectives,
    /// csv, xlsx, json or markdown.
    #[arg(long, default_value = "xlsx")]
    pub format: crate::ropa::model::Format,
    /// The record as it stood at this date (end of day, UTC) or RFC 3339 instant; today when
    /// absent.
    #[arg(long, value_parser = crate::ropa::model::parse_as_of)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// article30, ico or cnil: the column layout.
    #[arg(long, default_value = "article30")]
    pub layout: crate::ropa::model::Layout,
    /// gdpr, or singapore-pdpa for the PDPA 2012 terms (individual, organisation, data
    /// intermediary).
    #[arg(long, default_value = "gdpr")]
    pub terminology: crate::ropa::model::Terminology,
    /// Transfer impact assessments older than this many days are reported as findings.
    #[arg(long, default_value_t = 365)]
    pub tia_max_age_days: u32,
    /// Where to write the record; standard output when absent.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH?mode=rwc` or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://subreg.db?mode=rwc"
    )]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Also add this many synthetic data flows (with their activities and recipients), for
    /// benchmarks.
    #[arg(long)]
    pub synthetic: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SUBREG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Page size of a connection when `first` is absent.
    #[arg(long, env = "SUBREG_DEFAULT_PAGE_SIZE", default_value_t = 50)]
    pub default_page_size: u64,
    /// Largest `first` a client may ask for.
    #[arg(long, env = "SUBREG_MAX_PAGE_SIZE", default_value_t = 500)]
    pub max_page_size: u64,
    /// Deepest selection nesting a query may have.
    #[arg(long, env = "SUBREG_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,
    /// Most fields a query may select, fragments expanded.
    #[arg(long, env = "SUBREG_MAX_COMPLEXITY", default_value_t = 1000)]
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    #[arg(long, env = "SUBREG_MAX_ALIASES", default_value_t = 15)]
    pub max_aliases: usize,
    /// Most lexical tokens in one document.
    #[arg(long, env = "SUBREG_MAX_TOKENS", default_value_t = 1000)]
    pub max_tokens: usize,
    /// Most directives on one field.
    #[arg(long, env = "SUBREG_MAX_DIRECTIVES", default_value_t = 50)]
    pub max_directives: usize,
    /// Most operations in one batched HTTP request (a JSON array); 1 turns batching off.
    #[arg(long, env = "SUBREG_MAX_BATCH_SIZE", default_value_t = 5)]
    pub max_batch_size: usize,
    /// Most subscriptions one WebSocket connection may hold open.
    #[arg(
        long,
        env = "SUBREG_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 20
    )]
    pub max_subscriptions_per_connection: usize,
    /// Most WebSocket connections open at once per API key (per client address without a key).
    #[arg(long, env = "SUBREG_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 50)]
    pub max_connections_per_client: usize,
    /// Requests a minute one API key may make (bursts of a sixth of it); 0 for no limit.
    #[arg(long, env = "SUBREG_KEY_REQUESTS_PER_MINUTE", default_value_t = 600)]
    pub key_requests_per_minute: u32,
    /// Requests a minute one client address may make (bursts of a sixth of it); 0 for no
    /// limit. The address is the TCP peer's, or the left-most `X-Forwarded-For` entry with
    /// `--trust-forwarded-for`.
    #[arg(
        long,
        env = "SUBREG_ADDRESS_REQUESTS_PER_MINUTE",
        default_value_t = 1200
    )]
    pub address_requests_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    #[arg(long, env = "SUBREG_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Seconds to wait, on SIGTERM, for requests in flight and for subscriptions to complete.
    #[arg(long, env = "SUBREG_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "SUBREG_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds.
    #[arg(long, env = "SUBREG_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Serve GraphiQL to browsers at /graphql (`false` to switch it off in production).
    #[arg(long, env = "SUBREG_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,
    /// Allow schema introspection (`false` to switch it off in production).
    #[arg(long, env = "SUBREG_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,
    /// Do not load the example registry into an empty database.
    #[arg(long, env = "SUBREG_NO_SEED")]
    pub no_seed: bool,
    /// Transfer impact assessments older than this many days are reported as findings.
    #[arg(long, env = "SUBREG_TIA_MAX_AGE_DAYS", default_value_t = 365)]
    pub tia_max_age_days: u32,
    /// Days between announcing a new subprocessor and its earliest effective date.
    #[arg(long, env = "SUBREG_NOTICE_PERIOD_DAYS", default_value_t = 30)]
    pub notice_period_days: u32,
    /// Seconds between checks for announced recipients whose notice period ended.
    #[arg(long, env = "SUBREG_ACTIVATION_INTERVAL_SECS", default_value_t = 60)]
    pub activation_interval_secs: u64,
    /// Seconds between checks of the change log's head, beside PostgreSQL notifications (a
    /// safety net, and how processes sharing one SQLite file see each other's changes).
    #[arg(long, env = "SUBREG_CHANGE_POLL_INTERVAL_SECS", default_value_t = 5)]
    pub change_poll_interval_secs: u64,
}

/// What runs beside the HTTP server.
#[derive(Debug, Clone)]
pub struct BackgroundSettings {
    pub activation_interval: Duration,
    pub change_poll_interval: Duration,
}

impl Default for BackgroundSettings {
    fn default() -> Self {
        Self {
            activation_interval: Duration::from_secs(60),
            change_poll_interval: Duration::from_secs(5),
        }
    }
}

/// What the HTTP server needs to know.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub limits: Limits,
    pub findings: crate::ropa::FindingOptions,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub graphiql: bool,
    pub max_batch_size: usize,
    pub max_connections_per_client: usize,
    /// Requests a minute per API key; 0 for no limit.
    pub key_requests_per_minute: u32,
    /// Requests a minute per client address; 0 for no limit.
    pub address_requests_per_minute: u32,
    pub trust_forwarded_for: bool,
    pub shutdown_grace: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            findings: crate::ropa::FindingOptions::default(),
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            graphiql: true,
            max_batch_size: 5,
            max_connections_per_client: 50,
            key_requests_per_minute: 600,
            address_requests_per_minute: 1200,
            trust_forwarded_for: false,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServeArgs {
    pub fn registry_settings(&self) -> crate::registry::RegistrySettings {
        crate::registry::RegistrySettings {
            notice_period: chrono::Duration::days(i64::from(self.notice_period_days)),
        }
    }

    pub fn background(&self) -> BackgroundSettings {
        BackgroundSettings {
            activation_interval: Duration::from_secs(self.activation_interval_secs.max(1)),
            change_poll_interval: Duration::from_secs(self.change_poll_interval_secs.max(1)),
        }
    }

    pub fn settings(&self) -> ServerSettings {
        ServerSettings {
            findings: crate::ropa::FindingOptions {
                tia_max_age_days: i64::from(self.tia_max_age_days),
            },
            limits: Limits {
                default_page_size: self.default_page_size.min(self.max_page_size),
                max_page_size: self.max_page_size,
                max_depth: self.max_depth,
                max_complexity: self.max_complexity,
                max_aliases: self.max_aliases,
                max_tokens: self.max_tokens,
                max_directives: self.max_directives,
                max_subscriptions_per_connection: self.max_subscriptions_per_connection,
                introspection: self.introspection,
            },
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            graphiql: self.graphiql,
            max_batch_size: self.max_batch_size.max(1),
            max_connections_per_client: self.max_connections_per_client,
            key_requests_per_minute: self.key_requests_per_minute,
            address_requests_per_minute: self.address_requests_per_minute,
            trust_forwarded_for: self.trust_forwarded_for,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}

/// The URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redact_url("postgres://subreg:s3cret@db:5432/subreg"),
            "postgres://subreg:***@db:5432/subreg"
        );
        assert_eq!(
            redact_url("sqlite://subreg.db?mode=rwc"),
            "sqlite://subreg.db?mode=rwc"
        );
    }
}
