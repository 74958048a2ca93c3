//! Starting the server: connect, migrate, load the example registry into an empty database,
//! bind, serve until told to stop.

use crate::app::{AppState, router};
use crate::changes;
use crate::config::redact_url;
use crate::metrics::Metrics;
use crate::reference::AdequacyTable;
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
    let adequacy = match &options.settings.adequacy_file {
        Some(path) => {
            let table = AdequacyTable::load(path).map_err(anyhow::Error::msg)?;
            tracing::info!(
                path = %path.display(),
                decisions = table.decisions().len(),
                "reading the adequacy decisions from a file"
            );
            Arc::new(table)
        }
        None => AdequacyTable::builtin(),
    };
    let registry = Registry::with(db, options.clock, options.settings).with_adequacy(adequacy);
    // Where the registry stands when this process starts: later writes are news.
    registry.observe_version(crate::registry::version(registry.db()).await?);
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
    /// The address that also serves /metrics without a key, when the operator set one.
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Server {
    pub async fn bind(
        addr: SocketAddr,
        registry: Registry,
        metrics: Metrics,
        settings: ServerSettings,
    ) -> anyhow::Result<Self> {
        Self::bind_with_metrics(addr, None, registry, metrics, settings).await
    }

    /// Binds the server and, with `metrics_addr`, a second address that serves /metrics
    /// without an API key.
    pub async fn bind_with_metrics(
        addr: SocketAddr,
        metrics_addr: Option<SocketAddr>,
        registry: Registry,
        metrics: Metrics,
        mut settings: ServerSettings,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let metrics_listener = match metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?,
            ),
            None => None,
        };
        if settings.notices.public_url.is_empty() {
            settings.notices.public_url = format!("http://{}", listener.local_addr()?);
        }
        Ok(Self {
            listener,
            metrics_listener,
            state: AppState::new(registry, metrics, settings).await?,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address that serves /metrics without a key, if any.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics_listener.as_ref().map(TcpListener::local_addr)
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
        let header_timeout = self.state.settings().header_read_timeout;
        // When the grace period ends, once shutdown has begun.
        let (deadline_tx, deadline_rx) = tokio::sync::watch::channel(None);
        let mut deadline = deadline_rx.clone();
        let stopping = deadline_rx.clone();
        if let Some(listener) = self.metrics_listener {
            let metrics = crate::app::metrics_router(self.state.clone());
            let mut stopping = stopping.clone();
            tokio::spawn(serve(listener, metrics, header_timeout, async move {
                let _ = stopping.wait_for(Option::is_some).await;
            }));
        }
        let serve = serve(
            self.listener,
            router(self.state),
            header_timeout,
            async move {
                shutdown.await;
                deadline_tx.send_replace(Some(tokio::time::Instant::now() + grace));
                draining.begin_shutdown();
            },
        );
        let grace_over = async move {
            match deadline.wait_for(Option::is_some).await.map(|d| *d) {
                Ok(Some(deadline)) => tokio::time::sleep_until(deadline).await,
                _ => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            result = serve => result,
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

/// Serves `router` on every connection `listener` accepts, over HTTP/1.1 (with upgrades, for
/// WebSockets), each request knowing its peer's address (`ConnectInfo`). A client that takes
/// longer than `header_timeout` to send a request's headers is disconnected (hyper's header
/// read timeout), so that trickling headers cannot hold connections open. Once `shutdown`
/// completes it stops accepting, lets every connection finish the request it is serving, and
/// returns when all have closed.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service as _;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: the listener itself is fine.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
            let mut request = request.map(axum::body::Body::new);
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().call(request)
        });
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let stopping = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, %peer, "connection ended with an error");
                    }
                }
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(open);
        });
    }
    // New connections are refused from now on, while those open finish.
    drop(listener);
    stop_tx.send_replace(true);
    drop(open_rx);
    // Every connection holds a receiver; the sender's `closed` completes when the last goes.
    open_tx.closed().await;
    Ok(())
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
