//! The command line: its flags and environment variables (flags win), read once at start into
//! the typed [`crate::settings`]. Every default a flag shows is the settings' own.

use crate::settings::{
    BackgroundSettings, FindingOptions, Limits, NoticeSettings, RegistrySettings, ServerSettings,
    Settings,
};
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
    Serve(Box<ServeArgs>),
    /// Apply the database migrations.
    Migrate(DatabaseArgs),
    /// Load the example registry into an empty database.
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL) the server serves.
    ExportSchema,
    /// Export the record of processing activities (GDPR Art. 30).
    Ropa(RopaArgs),
    /// Write the registry (or, with --as-of, the registry as it stood then) as a manifest in
    /// the format of data/registry.yaml, or as fideslang manifests (--format fides).
    Export(ExportArgs),
    /// Show what applying a manifest would change and what customers would be told; exit 0
    /// for no change, 2 for changes, 1 for an error.
    Plan(PlanArgs),
    /// Make the registry match a manifest, in one transaction, through the registry's rules.
    Apply(ApplyArgs),
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
        /// subscriber (a customer: the public view and its own webhook endpoints), viewer
        /// (reads everything), editor (also changes the registry) or admin (also manages keys).
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
        "subscriber" => Ok(entity::Role::Subscriber),
        "viewer" => Ok(entity::Role::Viewer),
        "editor" => Ok(entity::Role::Editor),
        "admin" => Ok(entity::Role::Admin),
        _ => Err("one of subscriber, viewer, editor, admin".into()),
    }
}

#[derive(Debug, Clone, Args)]
pub struct RopaArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub adequacy: AdequacyArgs,
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
    #[arg(long, default_value_t = FindingOptions::DEFAULT.tia_max_age_days)]
    pub tia_max_age_days: u32,
    /// Where to write the record; standard output when absent.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

/// Which adequacy decisions the transfer rules read.
#[derive(Debug, Clone, Args)]
pub struct AdequacyArgs {
    /// An updated adequacy-decision file (the format of `data/adequacy.yaml`) to read instead of
    /// the compiled-in one, when a decision is adopted, renewed or struck down before the next
    /// release; checked on start.
    #[arg(long, env = "SUBREG_ADEQUACY_FILE")]
    pub adequacy_file: Option<std::path::PathBuf>,
}

impl AdequacyArgs {
    /// The registry settings with this file.
    pub fn registry_settings(&self) -> RegistrySettings {
        RegistrySettings {
            adequacy_file: self.adequacy_file.clone(),
            ..RegistrySettings::DEFAULT
        }
    }
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

/// The format of an exported or planned manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestFormat {
    /// data/registry.yaml's format.
    Subreg,
    /// fideslang manifests (an organization, a system per recipient, the data categories).
    Fides,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The registry as it stood at this date (end of day, UTC) or RFC 3339 instant; as it
    /// stands when absent.
    #[arg(long, value_parser = crate::ropa::model::parse_as_of)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// subreg (data/registry.yaml's format) or fides.
    #[arg(long, value_enum, default_value = "subreg")]
    pub format: ManifestFormat,
    /// Where to write it; standard output when absent.
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
}

/// What `plan` and `apply` share.
#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub adequacy: AdequacyArgs,
    /// The manifest: data/registry.yaml's format, or fideslang's with --format fides.
    pub file: std::path::PathBuf,
    /// subreg (data/registry.yaml's format) or fides (imported: see README).
    #[arg(long, value_enum, default_value = "subreg")]
    pub format: ManifestFormat,
    /// Also remove what the manifest leaves out (otherwise listed as ignored).
    #[arg(long)]
    pub prune: bool,
    /// Announce the public recipients the manifest wants announced or active, with the
    /// earliest effective date the notice period allows (otherwise they stay PROPOSED).
    #[arg(long)]
    pub announce: bool,
    /// The plan as JSON, for tools.
    #[arg(long)]
    pub json: bool,
    /// The notice period: earliest effective date of an announcement, in days.
    #[arg(long, env = "SUBREG_NOTICE_PERIOD_DAYS", default_value_t = whole_days(RegistrySettings::DEFAULT.notice_period))]
    pub notice_period_days: u32,
}

impl ManifestArgs {
    pub fn registry_settings(&self) -> RegistrySettings {
        RegistrySettings {
            notice_period: chrono::Duration::days(i64::from(self.notice_period_days)),
            ..self.adequacy.registry_settings()
        }
    }

    pub fn options(&self) -> crate::manifest::Options {
        crate::manifest::Options {
            prune: self.prune,
            announce: self.announce,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Why: recorded with every change in the change log.
    #[arg(long)]
    pub reason: String,
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
    #[arg(long, env = "SUBREG_DEFAULT_PAGE_SIZE", default_value_t = Limits::DEFAULT.default_page_size)]
    pub default_page_size: u64,
    /// Largest `first` a client may ask for.
    #[arg(long, env = "SUBREG_MAX_PAGE_SIZE", default_value_t = Limits::DEFAULT.max_page_size)]
    pub max_page_size: u64,
    /// Deepest selection nesting a query may have.
    #[arg(long, env = "SUBREG_MAX_DEPTH", default_value_t = Limits::DEFAULT.max_depth)]
    pub max_depth: usize,
    /// Most fields a query may select, fragments expanded.
    #[arg(long, env = "SUBREG_MAX_COMPLEXITY", default_value_t = Limits::DEFAULT.max_complexity)]
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    #[arg(long, env = "SUBREG_MAX_ALIASES", default_value_t = Limits::DEFAULT.max_aliases)]
    pub max_aliases: usize,
    /// Most lexical tokens in one document.
    #[arg(long, env = "SUBREG_MAX_TOKENS", default_value_t = Limits::DEFAULT.max_tokens)]
    pub max_tokens: usize,
    /// Most directives on one field.
    #[arg(long, env = "SUBREG_MAX_DIRECTIVES", default_value_t = Limits::DEFAULT.max_directives)]
    pub max_directives: usize,
    /// Most operations in one batched HTTP request (a JSON array); 1 turns batching off.
    #[arg(long, env = "SUBREG_MAX_BATCH_SIZE", default_value_t = ServerSettings::DEFAULT.max_batch_size)]
    pub max_batch_size: usize,
    /// Most subscriptions one WebSocket connection may hold open.
    #[arg(
        long,
        env = "SUBREG_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = Limits::DEFAULT.max_subscriptions_per_connection
    )]
    pub max_subscriptions_per_connection: usize,
    /// Most WebSocket connections open at once per API key (per client address without a key).
    #[arg(long, env = "SUBREG_MAX_CONNECTIONS_PER_CLIENT", default_value_t = ServerSettings::DEFAULT.max_connections_per_client)]
    pub max_connections_per_client: usize,
    /// Requests a minute one API key may make (bursts of a sixth of it); 0 for no limit.
    #[arg(long, env = "SUBREG_KEY_REQUESTS_PER_MINUTE", default_value_t = ServerSettings::DEFAULT.key_requests_per_minute)]
    pub key_requests_per_minute: u32,
    /// Requests a minute one client address may make (bursts of a sixth of it); 0 for no
    /// limit. The address is the TCP peer's, or the left-most `X-Forwarded-For` entry with
    /// `--trust-forwarded-for`.
    #[arg(
        long,
        env = "SUBREG_ADDRESS_REQUESTS_PER_MINUTE",
        default_value_t = ServerSettings::DEFAULT.address_requests_per_minute
    )]
    pub address_requests_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    #[arg(long, env = "SUBREG_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Seconds to wait, on SIGTERM, for requests in flight and for subscriptions to complete.
    #[arg(long, env = "SUBREG_SHUTDOWN_GRACE_SECS", default_value_t = ServerSettings::DEFAULT.shutdown_grace.as_secs())]
    pub shutdown_grace_secs: u64,
    /// Seconds a client may take to send a request's headers before its connection is closed.
    #[arg(long, env = "SUBREG_HEADER_READ_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.header_read_timeout.as_secs())]
    pub header_read_timeout_secs: u64,
    /// Bytes of memory for answers kept to serve repeated queries; 0 keeps none.
    #[arg(long, env = "SUBREG_RESPONSE_CACHE_BYTES", default_value_t = ServerSettings::DEFAULT.response_cache_bytes)]
    pub response_cache_bytes: usize,
    /// Rows of each kind the API resolves by id (recipients, a flow's data categories, its
    /// transfers, ...) kept in memory between writes; 0 keeps none.
    #[arg(long, env = "SUBREG_KEPT_ROWS", default_value_t = RegistrySettings::DEFAULT.kept_rows)]
    pub kept_rows: usize,
    /// Seconds a shared cache (a CDN) may serve a public answer before asking again.
    #[arg(long, env = "SUBREG_PUBLIC_MAX_AGE_SECS", default_value_t = ServerSettings::DEFAULT.public_max_age.as_secs())]
    pub public_max_age_secs: u64,
    /// Also serve /metrics without an API key on this address (for a Prometheus scraper on an
    /// internal network); on the main address /metrics needs a VIEWER key.
    #[arg(long, env = "SUBREG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Largest request body, in bytes.
    #[arg(long, env = "SUBREG_MAX_BODY_BYTES", default_value_t = ServerSettings::DEFAULT.max_body_bytes)]
    pub max_body_bytes: usize,
    /// Largest GraphQL request body of an EDITOR (or ADMIN) key, in bytes: the manifest of
    /// `planRegistry` and `applyRegistry` travels in it.
    #[arg(long, env = "SUBREG_MAX_EDITOR_BODY_BYTES", default_value_t = ServerSettings::DEFAULT.max_editor_body_bytes)]
    pub max_editor_body_bytes: usize,
    /// Longest a request may take, in seconds.
    #[arg(long, env = "SUBREG_REQUEST_TIMEOUT_SECS", default_value_t = ServerSettings::DEFAULT.request_timeout.as_secs())]
    pub request_timeout_secs: u64,
    /// Serve GraphiQL to browsers at /graphql (`false` to switch it off in production).
    #[arg(long, env = "SUBREG_GRAPHIQL", default_value_t = ServerSettings::DEFAULT.graphiql, action = clap::ArgAction::Set)]
    pub graphiql: bool,
    /// Allow schema introspection (`false` to switch it off in production).
    #[arg(long, env = "SUBREG_INTROSPECTION", default_value_t = Limits::DEFAULT.introspection, action = clap::ArgAction::Set)]
    pub introspection: bool,
    /// Do not load the example registry into an empty database.
    #[arg(long, env = "SUBREG_NO_SEED")]
    pub no_seed: bool,
    /// Transfer impact assessments older than this many days are reported as findings.
    #[arg(long, env = "SUBREG_TIA_MAX_AGE_DAYS", default_value_t = FindingOptions::DEFAULT.tia_max_age_days)]
    pub tia_max_age_days: u32,
    /// Days between announcing a new subprocessor and its earliest effective date.
    #[arg(long, env = "SUBREG_NOTICE_PERIOD_DAYS", default_value_t = whole_days(RegistrySettings::DEFAULT.notice_period))]
    pub notice_period_days: u32,
    #[command(flatten)]
    pub adequacy: AdequacyArgs,
    /// Seconds between checks for announced recipients whose notice period ended.
    #[arg(long, env = "SUBREG_ACTIVATION_INTERVAL_SECS", default_value_t = BackgroundSettings::DEFAULT.activation_interval.as_secs())]
    pub activation_interval_secs: u64,
    /// Seconds between checks of the change log's head, beside PostgreSQL notifications (a
    /// safety net, and how processes sharing one SQLite file see each other's changes).
    #[arg(long, env = "SUBREG_CHANGE_POLL_INTERVAL_SECS", default_value_t = BackgroundSettings::DEFAULT.change_poll_interval.as_secs())]
    pub change_poll_interval_secs: u64,
    #[command(flatten)]
    pub notices: NoticeArgs,
}

/// The public pages and the notices to customers.
#[derive(Debug, Clone, Args)]
pub struct NoticeArgs {
    /// Where customers reach Subreg (`https://subprocessors.example.com`), for the links in
    /// notices and the feed; empty for `http://` and the listen address.
    #[arg(long, env = "SUBREG_PUBLIC_URL", default_value_t = NoticeSettings::DEFAULT.public_url)]
    pub public_url: String,
    /// SMTP server for notices (`smtp://host:25`, `smtp://host:587?tls=required`,
    /// `smtps://user:password@host`); empty to write .eml files into --mail-dir instead.
    #[arg(long, env = "SUBREG_SMTP_URL", default_value_t = NoticeSettings::DEFAULT.smtp_url)]
    pub smtp_url: String,
    /// A PEM file of certificates to trust, beside the public roots, as issuers of the SMTP
    /// server's certificate (an internal relay's own certificate authority).
    #[arg(long, env = "SUBREG_SMTP_CA_FILE", default_value_t = NoticeSettings::DEFAULT.smtp_ca_file)]
    pub smtp_ca_file: String,
    /// The From address of notices.
    #[arg(long, env = "SUBREG_MAIL_FROM", default_value_t = NoticeSettings::DEFAULT.mail_from.to_string())]
    pub mail_from: String,
    /// Where messages are written as .eml files when no SMTP server is configured.
    #[arg(long, env = "SUBREG_MAIL_DIR", default_value_t = NoticeSettings::DEFAULT.mail_dir.to_string())]
    pub mail_dir: String,
    /// A directory of templates that replace the built-in ones of the same name (e.g.
    /// `subprocessors.html` in the organization's branding).
    #[arg(long, env = "SUBREG_TEMPLATES_DIR", default_value_t = NoticeSettings::DEFAULT.templates_dir)]
    pub templates_dir: String,
    /// Deliver webhooks to loopback, private and link-local addresses (refused otherwise, as
    /// server-side request forgery).
    #[arg(long, env = "SUBREG_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// Longest one webhook attempt may take, in seconds.
    #[arg(long, env = "SUBREG_WEBHOOK_TIMEOUT_SECS", default_value_t = NoticeSettings::DEFAULT.webhook_timeout.as_secs())]
    pub webhook_timeout_secs: u64,
    /// Seconds before each retry of a failed delivery (comma-separated; the Standard Webhooks
    /// schedule by default).
    #[arg(
        long,
        env = "SUBREG_NOTICE_RETRY_SCHEDULE_SECS",
        value_delimiter = ',',
        default_values_t = NoticeSettings::DEFAULT.retry_schedule_secs.to_vec()
    )]
    pub notice_retry_schedule_secs: Vec<u64>,
    /// Most deliveries sent at once by this process (one at a time per subscriber).
    #[arg(long, env = "SUBREG_NOTICE_CONCURRENCY", default_value_t = NoticeSettings::DEFAULT.dispatch_concurrency)]
    pub notice_concurrency: usize,
    /// How much nicer (lower in priority) the notice dispatcher's threads run than those that
    /// serve requests: 0 to 19, as `nice`; 0 on a machine with cores to spare.
    #[arg(long, env = "SUBREG_NOTICE_NICENESS", default_value_t = NoticeSettings::DEFAULT.dispatch_niceness)]
    pub notice_niceness: u8,
    /// Milliseconds between looks for due deliveries, beside each commit's wake-up.
    #[arg(long, env = "SUBREG_NOTICE_INTERVAL_MS", default_value_t = NoticeSettings::DEFAULT.dispatch_interval.as_millis() as u64)]
    pub notice_interval_ms: u64,
    /// Seconds a replica holds the subscribers it leased (one that dies leaves them to the
    /// others after this).
    #[arg(long, env = "SUBREG_NOTICE_LEASE_SECS", default_value_t = NoticeSettings::DEFAULT.lease.as_secs())]
    pub notice_lease_secs: u64,
    /// Subscription and objection forms one client address may send an hour.
    #[arg(long, env = "SUBREG_FORM_POSTS_PER_HOUR", default_value_t = NoticeSettings::DEFAULT.form_posts_per_hour)]
    pub form_posts_per_hour: u32,
    /// Confirmation emails one email address may be sent an hour.
    #[arg(long, env = "SUBREG_CONFIRMATIONS_PER_ADDRESS_PER_HOUR", default_value_t = NoticeSettings::DEFAULT.confirmations_per_address_per_hour)]
    pub confirmations_per_address_per_hour: u32,
}

impl NoticeArgs {
    pub fn settings(&self) -> NoticeSettings {
        NoticeSettings {
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            smtp_url: self.smtp_url.clone(),
            smtp_ca_file: self.smtp_ca_file.clone(),
            mail_from: self.mail_from.clone().into(),
            mail_dir: self.mail_dir.clone().into(),
            templates_dir: self.templates_dir.clone(),
            webhook_allow_private: self.webhook_allow_private,
            webhook_timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            retry_schedule_secs: self.notice_retry_schedule_secs.clone().into(),
            dispatch_concurrency: self.notice_concurrency.max(1),
            dispatch_niceness: self.notice_niceness.min(19),
            dispatch_interval: Duration::from_millis(self.notice_interval_ms.max(10)),
            lease: Duration::from_secs(self.notice_lease_secs.max(1)),
            form_posts_per_hour: self.form_posts_per_hour,
            confirmations_per_address_per_hour: self.confirmations_per_address_per_hour,
        }
    }
}

/// A period in whole days, as a flag takes it.
fn whole_days(period: chrono::Duration) -> u32 {
    u32::try_from(period.num_days()).unwrap_or(u32::MAX)
}

impl RopaArgs {
    pub fn findings(&self) -> FindingOptions {
        FindingOptions {
            tia_max_age_days: self.tia_max_age_days,
        }
    }
}

impl ServeArgs {
    /// The settings the flags and the environment ask for, with the few corrections a value
    /// needs to make sense (a default page no larger than the largest, batches of at least one
    /// operation, background intervals of at least a second).
    pub fn settings(&self) -> Settings {
        Settings {
            server: ServerSettings {
                findings: FindingOptions {
                    tia_max_age_days: self.tia_max_age_days,
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
                max_editor_body_bytes: self.max_editor_body_bytes,
                request_timeout: Duration::from_secs(self.request_timeout_secs),
                graphiql: self.graphiql,
                max_batch_size: self.max_batch_size.max(1),
                max_connections_per_client: self.max_connections_per_client,
                key_requests_per_minute: self.key_requests_per_minute,
                address_requests_per_minute: self.address_requests_per_minute,
                trust_forwarded_for: self.trust_forwarded_for,
                shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
                header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
                response_cache_bytes: self.response_cache_bytes,
                public_max_age: Duration::from_secs(self.public_max_age_secs),
                notices: self.notices.settings(),
            },
            registry: RegistrySettings {
                notice_period: chrono::Duration::days(i64::from(self.notice_period_days)),
                adequacy_file: self.adequacy.adequacy_file.clone(),
                kept_rows: self.kept_rows,
            },
            background: BackgroundSettings {
                activation_interval: Duration::from_secs(self.activation_interval_secs.max(1)),
                change_poll_interval: Duration::from_secs(self.change_poll_interval_secs.max(1)),
            },
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
    use super::{Cli, Command, redact_url};
    use crate::settings::Settings;
    use clap::{ArgAction, CommandFactory, Parser};
    use std::collections::BTreeMap;

    #[test]
    fn the_flags_default_to_the_settings_defaults() {
        // The environment would win over the defaults.
        if std::env::vars().any(|(name, _)| name.starts_with("SUBREG_")) {
            eprintln!("skipped: SUBREG_* variables are set");
            return;
        }
        let Command::Serve(args) = Cli::parse_from(["subreg", "serve"]).command else {
            panic!("`subreg serve` parses as the serve command");
        };
        assert_eq!(args.settings(), Settings::DEFAULT);
    }

    /// README's Configuration table: flag → (environment variable, default).
    fn configuration_table() -> BTreeMap<String, (String, String)> {
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has a Configuration section");
        section
            .lines()
            .filter(|line| line.starts_with("| `--"))
            .map(|line| {
                let cells: Vec<&str> = line
                    .trim_matches('|')
                    .split('|')
                    .map(|cell| cell.trim().trim_matches('`'))
                    .collect();
                (
                    cells[0].to_owned(),
                    (cells[1].to_owned(), cells[2].to_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn the_readme_lists_every_flag_of_serve_with_its_variable_and_default() {
        let mut cli = Cli::command();
        cli.build();
        let serve = cli.find_subcommand("serve").expect("a serve command");
        let flags: BTreeMap<String, (String, String)> = serve
            .get_arguments()
            .filter_map(|arg| {
                let long = arg
                    .get_long()
                    .filter(|l| !matches!(*l, "help" | "version"))?;
                let env = arg
                    .get_env()
                    .map(|env| env.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let default = if matches!(arg.get_action(), ArgAction::SetTrue) {
                    "off".to_owned()
                } else if arg.get_default_values().is_empty() {
                    // An optional setting, unset unless given.
                    "none".to_owned()
                } else {
                    let values: Vec<_> = arg
                        .get_default_values()
                        .iter()
                        .map(|v| v.to_string_lossy().into_owned())
                        .collect();
                    values.join(", ")
                };
                Some((format!("--{long}"), (env, default)))
            })
            .collect();
        let table = configuration_table();
        for (flag, expected) in &flags {
            assert_eq!(table.get(flag), Some(expected), "README's row for {flag}");
        }
        let extra: Vec<_> = table.keys().filter(|f| !flags.contains_key(*f)).collect();
        assert!(
            extra.is_empty(),
            "README lists flags serve lacks: {extra:?}"
        );
    }

    #[test]
    fn switches_default_to_off() {
        // A switch can only turn a setting on: the settings it sets must default to off.
        let settings = crate::settings::ServerSettings::default();
        assert!(!settings.trust_forwarded_for);
        assert!(!settings.notices.webhook_allow_private);
    }

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
