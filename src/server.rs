//! Starting the server: connect, migrate, load the example registry into an empty database,
//! bind, serve until told to stop.

use crate::app::{AppState, router};
use crate::changes;
use crate::config::redact_url;
use crate::metrics::Metrics;
use crate::registry::{Clock, Registry, SystemClock};
use crate::settings::{BackgroundSettings, RegistrySettings, ServerSettings};
use crate::{db, seed};
use anyhow::Context as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How to open the registry.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    pub settings: RegistrySettings,
    pub clock: Arc<dyn Clock>,
    /// Load the example registry into an empty database.
    pub load_example: bool,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            settings: RegistrySettings::default(),
            clock: Arc::new(SystemClock),
            load_example: true,
        }
    }
}

/// A database opened, migrated and (unless told otherwise) seeded.
pub async fn open_registry(
    url: &str,
    metrics: Option<Metrics>,
    options: RegistryOptions,
) -> anyhow::Result<Registry> {
    let db = db::connect(url, metrics)
        .await
        .with_context(|| format!("cannot open the database at {}", redact_url(url)))?;
    db::migrate(&db)
        .await
        .context("cannot migrate the database")?;
    let registry = Registry::with(db, options.clock, options.settings);
    if options.load_example && seed::is_empty(&registry).await? {
        let file = seed::parse(seed::EXAMPLE_REGISTRY)?;
        match seed::load(&registry, &file).await {
            Ok(summary) => tracing::info!(?summary, "loaded the example registry"),
            // Replicas starting together on an empty database race to load it; one wins.
            Err(err) if !seed::is_empty(&registry).await? => {
                tracing::info!(error = %err, "another instance loaded the example registry");
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(registry)
}

/// What runs beside the HTTP server: change-feed wake-ups and the activation of announced
/// recipients. Stopped when dropped.
pub struct Background(Vec<JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Activates the announced recipients that are due (idempotently, so also on start-up), then
/// starts the background tasks.
pub async fn start_background(
    registry: &Registry,
    database_url: &str,
    settings: &BackgroundSettings,
) -> anyhow::Result<Background> {
    let activated = registry.activate_due().await?;
    if !activated.is_empty() {
        tracing::info!(
            count = activated.len(),
            "activated recipients whose notice period ended"
        );
    }
    let mut tasks = Vec::new();
    if database_url.starts_with("postgres") {
        tasks.push(changes::listener::spawn_listener(
            registry.clone(),
            database_url.to_owned(),
        ));
    }
    tasks.push(changes::listener::spawn_poller(
        registry.clone(),
        settings.change_poll_interval,
    ));
    // Keys revoked by another process end this one's connections too.
    let keys = registry.clone();
    let poll = settings.change_poll_interval;
    tasks.push(tokio::spawn(async move {
        let mut known = keys.revoked_api_key_count().await.ok();
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
        loop {
            ticker.tick().await;
            match keys.revoked_api_key_count().await {
                Ok(count) if Some(count) != known => {
                    known = Some(count);
                    keys.notify_revocations();
                }
                Ok(_) => {}
                Err(err) => tracing::debug!(error = %err, "cannot check for revoked API keys"),
            }
        }
    }));
    let activator = registry.clone();
    let interval = settings.activation_interval;
    tasks.push(tokio::spawn(async move {
        // Start-up already activated what was due.
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            ticker.tick().await;
            match activator.activate_due().await {
                Ok(activated) if !activated.is_empty() => {
                    tracing::info!(
                        count = activated.len(),
                        "activated recipients whose notice period ended"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "cannot activate announced recipients"),
            }
        }
    }));
    Ok(Background(tasks))
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    pub async fn bind(
        addr: SocketAddr,
        registry: Registry,
        metrics: Metrics,
        mut settings: ServerSettings,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        if settings.notices.public_url.is_empty() {
            settings.notices.public_url = format!("http://{}", listener.local_addr()?);
        }
        Ok(Self {
            listener,
            state: AppState::new(registry, metrics, settings).await?,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; then stops accepting connections, lets requests in
    /// flight finish, completes every open subscription and closes the WebSocket connections,
    /// waiting at most `grace` for all of it: what is still running then (a client that stalls
    /// mid-request) is cut off when the process exits.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let draining = self.state.clone();
        // When the grace period ends, once shutdown has begun.
        let (deadline_tx, deadline_rx) = tokio::sync::watch::channel(None);
        let mut deadline = deadline_rx.clone();
        let serve = axum::serve(
            self.listener,
            router(self.state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            deadline_tx.send_replace(Some(tokio::time::Instant::now() + grace));
            draining.begin_shutdown();
        });
        let grace_over = async move {
            match deadline.wait_for(Option::is_some).await.map(|d| *d) {
                Ok(Some(deadline)) => tokio::time::sleep_until(deadline).await,
                _ => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            result = std::future::IntoFuture::into_future(serve) => result,
            () = grace_over => {
                tracing::warn!(
                    grace_secs = grace.as_secs_f64(),
                    "requests still in flight after the shutdown grace period are cut off"
                );
                Ok(())
            }
        };
        state.begin_shutdown();
        let left = deadline_rx.borrow().map_or(grace, |deadline| {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        });
        state.websockets_closed(left).await;
        result
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
