//! Starting the server: connect, migrate, load the example registry into an empty database,
//! bind, serve until told to stop.

use crate::app::{AppState, router};
use crate::config::{ServerSettings, redact_url};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::{db, seed};
use anyhow::Context as _;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A database opened, migrated and (unless told otherwise) seeded.
pub async fn open_registry(
    url: &str,
    metrics: Option<Metrics>,
    load_example: bool,
) -> anyhow::Result<Registry> {
    let db = db::connect(url, metrics)
        .await
        .with_context(|| format!("cannot open the database at {}", redact_url(url)))?;
    db::migrate(&db)
        .await
        .context("cannot migrate the database")?;
    let registry = Registry::new(db);
    if load_example && seed::is_empty(&registry).await? {
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
        settings: ServerSettings,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Self {
            listener,
            state: AppState::new(registry, metrics, settings),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
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
