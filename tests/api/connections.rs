//! Slow and idle clients cannot hold the server's connections: a connection whose first
//! request's headers do not arrive in time is closed, so is one left idle, and at most
//! `max_connections` are served at once.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

use crate::helpers::spawn_app_with;

/// Whether the server has closed `stream`: a read gives end of file or an error.
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1024];
    loop {
        match timeout(within, stream.read(&mut byte)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Reads one response's head and body (a small one, as `/healthz` gives).
async fn response(stream: &mut TcpStream) -> String {
    let mut buffer = vec![0u8; 4096];
    let read = timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("an answer in time")
        .expect("a readable stream");
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: staybase\r\n\r\n";

#[tokio::test]
async fn half_sent_and_trickled_requests_are_cut_off_at_the_header_deadline() {
    let app = spawn_app_with(|config| config.header_read_timeout_seconds = 1).await;
    let started = Instant::now();
    let mut half_sent = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: staybase\r\n")
            .await
            .unwrap();
        half_sent.push(stream);
    }
    // One more keeps sending a header byte every 100 ms: busy, but never done.
    let mut trickling = TcpStream::connect(app.addr).await.unwrap();
    trickling
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut cut_off = false;
    while started.elapsed() < Duration::from_secs(4) {
        if trickling.write_all(b"a").await.is_err()
            || closed(&mut trickling, Duration::from_millis(100)).await
        {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "a trickling client was still connected after 4 s");
    for stream in &mut half_sent {
        assert!(
            closed(stream, Duration::from_secs(3)).await,
            "a half-sent request was still held"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "cut off before the deadline: {:?}",
        started.elapsed()
    );
    // A client that sends its request in time is served.
    let mut prompt = TcpStream::connect(app.addr).await.unwrap();
    prompt.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut prompt).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|config| config.idle_timeout_seconds = 1).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut stream).await.starts_with("HTTP/1.1 200"));
    let idle_since = Instant::now();
    assert!(
        closed(&mut stream, Duration::from_secs(4)).await,
        "an idle connection was kept past the idle timeout"
    );
    assert!(idle_since.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let app = spawn_app_with(|config| config.max_connections = 2).await;
    let mut first = TcpStream::connect(app.addr).await.unwrap();
    let mut second = TcpStream::connect(app.addr).await.unwrap();
    for stream in [&mut first, &mut second] {
        stream.write_all(HEALTHZ).await.unwrap();
        assert!(response(stream).await.starts_with("HTTP/1.1 200"));
    }
    // The kernel accepts a third connection, but the server serves it only once a slot frees.
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    third.write_all(HEALTHZ).await.unwrap();
    let mut buffer = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(500), third.read(&mut buffer))
            .await
            .is_err(),
        "a connection beyond the cap was served"
    );
    drop(first);
    assert!(response(&mut third).await.starts_with("HTTP/1.1 200"));
}
