//! The accept loop. It is hand-rolled (instead of `axum::serve`) for one reason: a
//! handler must be able to close its own connection without sending a response, to
//! inject dropped connections. Each connection gets a [`ConnKiller`] in its requests'
//! extensions; firing it drops the hyper connection, which closes the socket.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot, watch};
use tower::ServiceExt as _;

/// Closes the connection of the request that carries it.
#[derive(Debug, Clone)]
pub struct ConnKiller(Arc<Notify>);

impl ConnKiller {
    /// Closes the connection; the caller must then never complete its response
    /// (await forever), so nothing is written before the socket goes away.
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` on `listener` until `shutdown` fires or its sender is dropped.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => spawn_connection(stream, router.clone(), stop_rx.clone()),
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!("sandbox accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
}

fn spawn_connection(stream: TcpStream, router: Router, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let killer = ConnKiller(kill.clone());
        let service = router.map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(killer.clone());
            req.map(Body::new)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("sandbox connection ended: {e}");
                }
            }
            // Dropping `conn` here closes the socket with no response written.
            _ = kill.notified() => tracing::debug!("sandbox dropped a connection (injected fault)"),
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
            }
        }
    });
}
