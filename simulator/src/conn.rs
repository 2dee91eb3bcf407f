//! A TCP listener whose connections can be killed from a request handler, to inject
//! "connection reset" (RST, zero linger) and "connection dropped" (plain close, no response) faults.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const ALIVE: u8 = 0;
const RESET: u8 = 1;
const DROP: u8 = 2;

#[derive(Debug, Default)]
struct ConnCtl {
    state: AtomicU8,
}

/// Registry of live connections by peer address.
#[derive(Debug, Default, Clone)]
pub struct KillSwitch {
    conns: Arc<Mutex<HashMap<SocketAddr, Arc<ConnCtl>>>>,
}

impl KillSwitch {
    /// Mark the connection from `peer` as killed: with `reset` the socket is closed with an RST,
    /// otherwise it is closed normally; either way no response is sent.
    pub fn kill(&self, peer: SocketAddr, reset: bool) {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = conns.get(&peer) {
            c.state
                .store(if reset { RESET } else { DROP }, Ordering::SeqCst);
        }
    }

    fn register(&self, peer: SocketAddr) -> Arc<ConnCtl> {
        let ctl = Arc::new(ConnCtl::default());
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer, ctl.clone());
        ctl
    }

    fn unregister(&self, peer: &SocketAddr) {
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(peer);
    }
}

pub struct KillableListener {
    inner: TcpListener,
    switch: KillSwitch,
}

impl KillableListener {
    pub fn new(inner: TcpListener, switch: KillSwitch) -> Self {
        Self { inner, switch }
    }
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let ctl = self.switch.register(peer);
                    return (
                        KillableStream {
                            inner: stream,
                            ctl,
                            peer,
                            switch: self.switch.clone(),
                            lingered: false,
                        },
                        peer,
                    );
                }
                Err(_) => {
                    // Transient accept errors (e.g. too many open files): back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

pub struct KillableStream {
    inner: TcpStream,
    ctl: Arc<ConnCtl>,
    peer: SocketAddr,
    switch: KillSwitch,
    lingered: bool,
}

impl KillableStream {
    fn killed(&mut self) -> Option<io::Error> {
        match self.ctl.state.load(Ordering::SeqCst) {
            ALIVE => None,
            RESET => {
                if !self.lingered {
                    self.lingered = true;
                    let _ = self.inner.set_zero_linger();
                }
                Some(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "simulated reset",
                ))
            }
            _ => Some(io::Error::new(io::ErrorKind::BrokenPipe, "simulated drop")),
        }
    }
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        self.switch.unregister(&self.peer);
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ctl.state.load(Ordering::SeqCst) == RESET {
            let _ = self.killed();
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What handlers know of the peer (`ConnectInfo<Peer>`): its address and, on the TLS listener,
/// the SHA-256 thumbprint (lowercase hex) of the client certificate it presented, if any.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub client_cert_sha256: Option<String>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, KillableListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, KillableListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            client_cert_sha256: None,
        }
    }
}
