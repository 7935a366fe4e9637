//! Rampart's HTTP server. Today: the JSON API (`/api/v1/...`, described at
//! `/api/v1/openapi.json`), served over rustls with security headers on every answer.
//! The admin console and webmail arrive later on the same router.
//!
//! Every login goes through [`rampart_auth::login::Login`], the same flow SMTP AUTH uses, so a
//! risk decision, its reasons and its event are the same whatever the door.

mod api;
mod compliance;
mod listener;
mod openapi;

pub use api::{router, AppState};
pub use listener::TlsListener;

use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The client's address, for handlers (`ConnectInfo<Peer>`), over TLS or plain TCP.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let stop = async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    let make = app.into_make_service_with_connect_info::<Peer>();
    match tls {
        Some(acceptor) => {
            axum::serve(TlsListener::new(listener, acceptor), make)
                .with_graceful_shutdown(stop)
                .await
        }
        None => {
            axum::serve(listener, make)
                .with_graceful_shutdown(stop)
                .await
        }
    }
}
