//! Guards on the listener, so that slow or idle clients cannot hold the server's connections:
//! a cap on concurrent connections (further ones wait in the kernel's backlog until one closes),
//! and a deadline for the headers of a connection's first request (a client that trickles them
//! is cut off). Idle keep-alive connections are closed by the server's idle timeout.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use poem::{
    listener::Acceptor,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Sleep,
};

/// Accepts at most `max_connections` at once, each with a deadline for its first request's
/// headers.
pub struct GuardedAcceptor<A> {
    inner: A,
    slots: Arc<Semaphore>,
    header_read_timeout: Duration,
}

impl<A> GuardedAcceptor<A> {
    pub fn new(inner: A, max_connections: usize, header_read_timeout: Duration) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max_connections)),
            header_read_timeout,
        }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("the listener is closed"))?;
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((
            GuardedIo {
                inner: io,
                _slot: slot,
                headers: HeaderDeadline::new(self.header_read_timeout),
            },
            local,
            remote,
            scheme,
        ))
    }
}

/// Watches the bytes read for the end of the first request's headers (`\r\n\r\n`).
struct HeaderDeadline {
    /// Until the headers are complete.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How many bytes of `\r\n\r\n` the bytes read so far end with.
    matched: usize,
}

const END_OF_HEADERS: &[u8] = b"\r\n\r\n";

impl HeaderDeadline {
    fn new(timeout: Duration) -> Self {
        Self {
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            matched: 0,
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready())
    }

    fn saw(&mut self, bytes: &[u8]) {
        if self.deadline.is_none() {
            return;
        }
        for &byte in bytes {
            self.matched = if byte == END_OF_HEADERS[self.matched] {
                self.matched + 1
            } else if byte == END_OF_HEADERS[0] {
                1
            } else {
                0
            };
            if self.matched == END_OF_HEADERS.len() {
                self.deadline = None;
                return;
            }
        }
    }
}

/// A connection holding one of the listener's slots until it closes.
pub struct GuardedIo<Io> {
    inner: Io,
    _slot: OwnedSemaphorePermit,
    headers: HeaderDeadline,
}

impl<Io: AsyncRead + Unpin> AsyncRead for GuardedIo<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.headers.expired(cx) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request headers did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        this.headers.saw(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for GuardedIo<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_end_of_the_headers_is_found_across_reads() {
        let mut watch = HeaderDeadline {
            deadline: Some(Box::pin(tokio::time::sleep(Duration::from_secs(1)))),
            matched: 0,
        };
        watch.saw(b"GET / HTTP/1.1\r\nHost: x\r\n\r");
        assert!(watch.deadline.is_some());
        watch.saw(b"\r");
        assert!(watch.deadline.is_some(), "\\r\\n\\r\\r is not the end");
        watch.saw(b"\n\r\n");
        assert!(watch.deadline.is_none());
    }
}
