//! `floor-relay LISTEN`: the plainest CONNECT relay there is, as a benchmark reference.
//!
//! It reads a request head, takes the port after the last `:` of the request target, connects to
//! 127.0.0.1 on that port, answers `200`, and copies bytes both ways on two blocking threads with
//! 256 KiB buffers. No authentication, no policy, no audit, no timeouts and no checks: it is not a
//! proxy to run, only the cost of relaying bytes through user space and an extra loopback hop, so
//! that `bench/tunnel.sh --floor` can say how far gatehouse's tunnel is from that floor. It connects
//! only to loopback.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:23199".into());
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("floor-relay: cannot listen on {listen}: {e}");
        std::process::exit(1)
    });
    for client in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = serve(client) {
                eprintln!("floor-relay: {e}");
            }
        });
    }
}

fn serve(mut client: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    let target = line.split(' ').nth(1).unwrap_or("");
    let port: u16 = target
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(443);
    let upstream = TcpStream::connect(("127.0.0.1", port))?;
    for s in [&client, &upstream] {
        s.set_nodelay(true)?;
    }
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || copy(c2, u2));
    copy(upstream, client);
    let _ = up.join();
    Ok(())
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
