//! Settings, from command-line flags and the environment (flags win), read once at start.

use crate::graphql::Limits;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

/// Subreg: the registry of everyone who receives personal data from the organization.
#[derive(Debug, Parser)]
#[command(name = "subreg", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    /// Most fields a query may select.
    #[arg(long, env = "SUBREG_MAX_COMPLEXITY", default_value_t = 1000)]
    pub max_complexity: usize,
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
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            findings: crate::ropa::FindingOptions::default(),
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            graphiql: true,
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
                introspection: self.introspection,
            },
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            graphiql: self.graphiql,
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
