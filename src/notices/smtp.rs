//! The SMTP client of the notices: lettre's SMTP protocol ([`AsyncSmtpConnection`]) over
//! connections this process opens itself and keeps open between messages.
//!
//! Why not lettre's `AsyncSmtpTransport`: it opens its sockets without `TCP_NODELAY`, and
//! lettre writes a message's body and its terminating `.` in two writes; Nagle's algorithm
//! then holds the `.` back until the server acknowledges the body, which the server (waiting
//! for the `.` before it replies) does only when its delayed-ACK timer fires, about 40 ms
//! later. Every message waited those 40 ms, so the rate could come only from many connections
//! at once, and its pool keeps 10 of them, closing and reopening the others for every message.
//! Here each socket is opened with `TCP_NODELAY`, so a message costs its round trips and no
//! more, and every connection that ends a transaction cleanly is kept for the next message: a
//! few connections carry the rate that took 64 before, with far less work on both ends.
//!
//! `--smtp-url` means what it meant with lettre's transport (the same schemes, ports, `tls`
//! parameter, HELO name and credentials, see [`SmtpRelay::from_url`]); TLS is lettre's own
//! (rustls, the same certificate checks, with the operator's own authorities beside the public
//! roots: `--smtp-ca-file`), whether by STARTTLS or implicit.

use lettre::address::Envelope;
use lettre::transport::smtp::Error as ProtocolError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Longest one message may take, from connecting (if it must) to the server's reply to its
/// `.`; lettre's transport bounded only the connect, so a server that stopped answering held
/// a sender for good.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// A kept connection idle longer than this is checked with a `NOOP` before it carries a
/// message (the server may have closed it meanwhile); one idle for less is used at once, so a
/// fan-out pays no extra round trip per message.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);

/// Kept connections idle longer than this are closed: RFC 5321 (4.5.3.2.7) lets a server drop
/// an idle client after 5 minutes, and a connection that waits that long is not needed.
pub const CLOSE_AFTER_IDLE: Duration = Duration::from_secs(60);

/// What is wrong with `--smtp-url`.
#[derive(Debug, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("the SMTP URL cannot be parsed: {0}")]
    Unparsable(#[from] url::ParseError),
    #[error("the SMTP URL names no host")]
    NoHost,
    #[error(
        "the SMTP URL's scheme {scheme:?} with tls={tls:?} is not one of smtp://, \
         smtp://…?tls=required, smtp://…?tls=opportunistic, smtps://"
    )]
    UnknownScheme { scheme: String, tls: Option<String> },
    #[error("the SMTP URL's user name or password is not UTF-8 once percent-decoded")]
    Credentials(#[from] std::str::Utf8Error),
    #[error("the SMTP server's TLS parameters cannot be built: {0}")]
    Tls(#[source] ProtocolError),
    #[error("cannot read the SMTP server's certificate authorities from {path}: {source}")]
    CaFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// The server's reply refused it, or the protocol failed (lettre's error, which tells a
    /// permanent refusal from a transient one).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("cannot connect to the SMTP server {server}: {source}")]
    Connect {
        server: String,
        #[source]
        source: io::Error,
    },
    #[error("the SMTP server {server} did not finish within {SEND_TIMEOUT:?}")]
    TimedOut { server: String },
}

/// How the connection is protected, as the URL's scheme and `tls` parameter say.
#[derive(Clone)]
enum Security {
    /// `smtp://`: plain.
    None,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
    /// `smtp://…?tls=required`: STARTTLS, or no message.
    Required(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Implicit(TlsParameters),
}

/// A connection kept for the next message, and since when it waits.
struct Kept {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// An SMTP server and the connections kept open to it.
pub struct SmtpRelay {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// Idle connections, the most recently used last (taken first: the warmest).
    kept: Mutex<Vec<Kept>>,
    /// Most idle connections kept: as many as may send at once.
    keep_at_most: usize,
}

impl SmtpRelay {
    /// The server `url` names, as lettre's `AsyncSmtpTransport::from_url` reads it: `smtp://`
    /// (port 25, plain), `?tls=required` or `?tls=opportunistic` (port 587, STARTTLS),
    /// `smtps://` (port 465, implicit TLS); the path as the HELO name; `user:password@`
    /// (percent-encoded) to authenticate (PLAIN or LOGIN). The server's certificate must be
    /// issued by a public root (webpki-roots) or by one of the PEM certificates in `roots`.
    /// `keep_at_most` idle connections are kept for the next messages.
    pub fn from_url(
        url: &str,
        roots: Option<&[u8]>,
        keep_at_most: usize,
    ) -> Result<Self, SmtpUrlError> {
        let url = url::Url::parse(url)?;
        let host = url.host_str().ok_or(SmtpUrlError::NoHost)?.to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let parameters = || {
            let mut builder = TlsParameters::builder(tls_domain(&host).to_owned());
            if let Some(pem) = roots {
                builder = builder
                    .add_root_certificate(Certificate::from_pem(pem).map_err(SmtpUrlError::Tls)?);
            }
            builder.build_rustls().map_err(SmtpUrlError::Tls)
        };
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::None, 25),
            ("smtp", Some("required")) => (Security::Required(parameters()?), 587),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic(parameters()?), 587),
            ("smtps", _) => (Security::Implicit(parameters()?), 465),
            (scheme, _) => {
                return Err(SmtpUrlError::UnknownScheme {
                    scheme: scheme.to_owned(),
                    tls,
                });
            }
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(
                percent_decoded(url.username())?,
                percent_decoded(password)?,
            )),
            None => None,
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            hello,
            credentials,
            kept: Mutex::new(Vec::new()),
            keep_at_most: keep_at_most.max(1),
        })
    }

    /// `host:port`, for errors.
    fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Sends `message` (its formatted bytes) to the envelope's recipients: the server's reply
    /// to the `.`. On a kept connection if one is good, else on a new one; the connection is
    /// kept afterwards unless the transaction broke it.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<Response, SmtpError> {
        tokio::time::timeout(SEND_TIMEOUT, async {
            let mut connection = self.connection().await?;
            let reply = connection.send(envelope, message).await?;
            self.keep(connection);
            Ok(reply)
        })
        .await
        .unwrap_or_else(|_| {
            Err(SmtpError::TimedOut {
                server: self.server(),
            })
        })
    }

    /// A kept connection that is still good, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        loop {
            let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(Kept {
                mut connection,
                since,
            }) = kept
            else {
                return self.connect().await;
            };
            if since.elapsed() > CLOSE_AFTER_IDLE {
                connection.abort().await;
                continue;
            }
            if since.elapsed() < CHECK_AFTER_IDLE || connection.test_connected().await {
                return Ok(connection);
            }
            connection.abort().await;
        }
    }

    /// Gives a connection back for the next message, unless it broke or enough are kept.
    fn keep(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < self.keep_at_most {
            kept.push(Kept {
                connection,
                since: Instant::now(),
            });
        }
    }

    /// Closes (with `QUIT`) the kept connections idle longer than [`CLOSE_AFTER_IDLE`].
    pub async fn close_idle(&self) {
        let stale: Vec<Kept> = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            let (stale, fresh) = std::mem::take(&mut *kept)
                .into_iter()
                .partition(|k| k.since.elapsed() > CLOSE_AFTER_IDLE);
            *kept = fresh;
            stale
        };
        for mut kept in stale {
            kept.connection.abort().await;
        }
    }

    /// Opens a connection with `TCP_NODELAY`, protects it as the URL says, greets the server
    /// and authenticates, as lettre's transport does (and in its order).
    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let connect_error = |source| SmtpError::Connect {
            server: self.server(),
            source,
        };
        let socket = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(connect_error)?;
        socket.set_nodelay(true).map_err(connect_error)?;
        let mut connection = match &self.security {
            Security::Implicit(parameters) => {
                let encrypted = Encrypted::over(socket, parameters.clone(), self.server()).await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(encrypted), &self.hello)
                    .await?
            }
            _ => AsyncSmtpConnection::connect_with_transport(Box::new(socket), &self.hello).await?,
        };
        match &self.security {
            Security::Required(parameters) => {
                connection.starttls(parameters.clone(), &self.hello).await?;
            }
            Security::Opportunistic(parameters) if connection.can_starttls() => {
                connection.starttls(parameters.clone(), &self.hello).await?;
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// The name a server's certificate is checked against: the host without an IPv6 literal's
/// brackets.
fn tls_domain(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

fn percent_decoded(text: &str) -> Result<String, std::str::Utf8Error> {
    Ok(percent_encoding::percent_decode_str(text)
        .decode_utf8()?
        .into_owned())
}

/// A socket under implicit TLS, done by lettre (rustls, the certificate checks of its
/// `TlsParameters`) before the server's greeting, as lettre's transport does for `smtps://`.
/// lettre can protect only its own stream type, whose reads and writes are those of the
/// `futures` traits: this hands them to the SMTP connection as the tokio ones it takes.
#[allow(deprecated)] // `AsyncNetworkStream`: public, but meant for lettre's own use.
#[derive(Debug)]
struct Encrypted {
    stream: lettre::transport::smtp::client::AsyncNetworkStream,
    peer: SocketAddr,
}

#[allow(deprecated)]
impl Encrypted {
    async fn over(
        socket: tokio::net::TcpStream,
        parameters: TlsParameters,
        server: String,
    ) -> Result<Self, SmtpError> {
        use lettre::transport::smtp::client::AsyncNetworkStream;
        let peer = socket
            .peer_addr()
            .map_err(|source| SmtpError::Connect { server, source })?;
        let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(socket));
        stream.upgrade_tls(parameters).await?;
        Ok(Self { stream, peer })
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

impl tokio::io::AsyncRead for Encrypted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        match futures_util::io::AsyncRead::poll_read(Pin::new(&mut self.stream), cx, unfilled) {
            Poll::Ready(Ok(read)) => {
                buf.advance(read);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for Encrypted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_util::io::AsyncWrite::poll_write(Pin::new(&mut self.stream), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::io::AsyncWrite::poll_flush(Pin::new(&mut self.stream), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_util::io::AsyncWrite::poll_close(Pin::new(&mut self.stream), cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(url: &str) -> SmtpRelay {
        SmtpRelay::from_url(url, None, 4).unwrap()
    }

    #[test]
    fn the_url_means_what_it_meant_to_lettres_transport() {
        let plain = relay("smtp://mail.example.com");
        assert_eq!((plain.host.as_str(), plain.port), ("mail.example.com", 25));
        assert!(matches!(plain.security, Security::None));
        assert!(plain.credentials.is_none());

        let required = relay("smtp://mail.example.com?tls=required");
        assert_eq!(required.port, 587);
        assert!(matches!(required.security, Security::Required(_)));

        let opportunistic = relay("smtp://mail.example.com:2525?tls=opportunistic");
        assert_eq!(opportunistic.port, 2525);
        assert!(matches!(opportunistic.security, Security::Opportunistic(_)));

        let implicit = relay("smtps://notices:p%40ss%3Aword@mail.example.com/subreg.example.com");
        assert_eq!(implicit.port, 465);
        assert!(matches!(implicit.security, Security::Implicit(_)));
        assert!(
            implicit.credentials == Some(Credentials::new("notices".into(), "p@ss:word".into()))
        );
        assert_eq!(
            implicit.hello,
            ClientId::Domain("subreg.example.com".into())
        );
    }

    #[test]
    fn an_unknown_scheme_or_tls_mode_is_refused() {
        assert!(matches!(
            SmtpRelay::from_url("http://mail.example.com", None, 4),
            Err(SmtpUrlError::UnknownScheme { .. })
        ));
        assert!(matches!(
            SmtpRelay::from_url("smtp://mail.example.com?tls=maybe", None, 4),
            Err(SmtpUrlError::UnknownScheme { .. })
        ));
        assert!(matches!(
            SmtpRelay::from_url("smtp://", None, 4),
            Err(SmtpUrlError::NoHost) | Err(SmtpUrlError::Unparsable(_))
        ));
    }
}
