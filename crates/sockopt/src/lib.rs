//! `SO_RCVLOWAT` for TCP sockets, the one socket option gatehouse needs that neither `socket2`,
//! `nix` nor `rustix` exposes.
//!
//! A tunnel relay that keeps up with its sender wakes for every segment the sender writes (a TLS
//! record, 16 KiB, is typical), and on a busy machine each wake-up preempts the sender or the
//! receiver. With a receive low-water mark the kernel reports the socket readable only once that
//! many bytes are queued (or at the end of the stream, or when the receive window is nearly closed),
//! so the relay moves the same bytes in fewer, larger reads. Lowering the mark signals readability at
//! once if enough bytes are already queued (Linux ≥ 4.19, `tcp_set_rcvlowat`), which is what lets
//! a caller leave the low-water mode without waiting for the next segment.
//!
//! The crate denies `unsafe` except in the single block below.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// Set the receive low-water mark of `socket` to `bytes` (at least 1; the kernel may cap it at half
/// the largest receive buffer).
pub fn set_recv_lowat(socket: &impl AsFd, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes.max(1)).unwrap_or(libc::c_int::MAX);
    let fd = socket.as_fd().as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    #[allow(unsafe_code)]
    // SAFETY: `fd` is open for as long as `socket` is borrowed; `optval` points at a live `c_int`
    // and `optlen` is its size, which is what SO_RCVLOWAT reads.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&value as *const libc::c_int).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (a.unwrap(), b.unwrap().0)
    }

    /// The two kernel behaviours the tunnel relay relies on: below the mark the socket is not
    /// readable, and lowering the mark under what is queued makes it readable without more data.
    #[tokio::test]
    async fn below_the_mark_is_not_readable_and_lowering_it_wakes_the_reader() {
        let (mut tx, rx) = pair().await;
        set_recv_lowat(&rx, 64 * 1024).unwrap();
        let mut buf = [0u8; 2000];
        // tokio takes a new socket for ready until a read says otherwise.
        let nothing = rx.try_read(&mut buf).unwrap_err();
        assert_eq!(nothing.kind(), std::io::ErrorKind::WouldBlock);
        tx.write_all(&[7u8; 1000]).await.unwrap();
        let early = tokio::time::timeout(Duration::from_millis(200), rx.readable()).await;
        assert!(early.is_err(), "readable with 1000 of 65536 bytes queued");
        set_recv_lowat(&rx, 1).unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx.readable())
            .await
            .expect("lowering the mark did not signal the queued bytes")
            .unwrap();
        assert_eq!(rx.try_read(&mut buf).unwrap(), 1000);
    }

    #[tokio::test]
    async fn reaching_the_mark_is_readable() {
        let (mut tx, rx) = pair().await;
        set_recv_lowat(&rx, 4096).unwrap();
        let mut buf = [0u8; 8192];
        assert!(rx.try_read(&mut buf).is_err());
        tx.write_all(&[1u8; 4096]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx.readable())
            .await
            .expect("not readable with the mark reached")
            .unwrap();
        assert_eq!(rx.try_read(&mut buf).unwrap(), 4096);
    }

    #[test]
    fn a_closed_descriptor_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // A listening socket accepts the option; a UDP socket does too. What must fail is a
        // descriptor that is not a socket.
        assert!(set_recv_lowat(&listener, 1).is_ok());
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(set_recv_lowat(&file, 1).is_err());
    }
}
