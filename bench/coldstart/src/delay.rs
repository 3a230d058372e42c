//! Injected latency: a TCP forwarder that holds every byte an upstream sends
//! back for a fixed delay before passing it on, so each answer of the AWS
//! emulator arrives that much later, as a round trip to an AWS endpoint
//! would (tens of milliseconds in a region, against well under one on
//! loopback). Requests go through at once; answers are delayed once each,
//! not once per chunk (every chunk is released at its arrival + the delay).

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running forwarder; it stops when dropped.
pub struct DelayProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DelayProxy {
    /// Listen on a free loopback port and forward each connection to
    /// `upstream`, delaying what comes back by `delay`.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<DelayProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, delay));
            }
        });
        Ok(DelayProxy { addr, task })
    }

    /// Where the functions connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, delay: Duration) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    let requests = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    tokio::join!(requests, delayed(server_read, client_write, delay));
}

/// Copy `from` to `to`, each chunk written `delay` after it was read.
async fn delayed(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server behind the forwarder: the answer comes back intact and
    /// no sooner than the delay (a lower bound only: no upper bound is
    /// asserted, the machine may be slow).
    #[tokio::test]
    async fn an_answer_comes_back_intact_and_not_before_the_delay() {
        let echo = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let upstream = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let delay = Duration::from_millis(30);
        let proxy = DelayProxy::start(upstream, delay).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let sent = Instant::now();
        c.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        assert!(sent.elapsed() >= delay);
    }
}
