//! Rough timing of the hot paths; run with
//! `cargo test -p http1 --release --test http1 perf -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A timing test needs the clock; the library itself never reads it.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use http1::{parse_request_head, Chunk, ChunkedDecoder, Limits, Parsed};

const REQUEST: &[u8] =
    b"GET http://www.example.com/some/path/to/resource?query=string&x=1 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==\r\n\
Cache-Control: max-age=0\r\n\r\n";

#[test]
#[ignore = "timing only"]
fn request_head_timing() {
    let limits = Limits::default();
    let iterations = 200_000u32;
    let start = Instant::now();
    let mut total = 0usize;
    for _ in 0..iterations {
        match parse_request_head(std::hint::black_box(REQUEST), &limits).unwrap() {
            Parsed::Complete { head, len } => total += len + head.len_headers(),
            Parsed::Partial => panic!("partial"),
        }
    }
    let per = start.elapsed() / iterations;
    println!(
        "{} byte request head: {per:?} per parse ({total})",
        REQUEST.len()
    );

    // Partial input: the cost of re-parsing an unfinished head.
    let cut = &REQUEST[..REQUEST.len() - 3];
    let start = Instant::now();
    for _ in 0..iterations {
        assert_eq!(
            parse_request_head(std::hint::black_box(cut), &limits),
            Ok(Parsed::Partial)
        );
    }
    println!("partial re-parse: {:?}", start.elapsed() / iterations);
}

#[test]
#[ignore = "timing only"]
fn chunked_timing() {
    let mut body = Vec::new();
    for _ in 0..1000 {
        body.extend_from_slice(b"400\r\n");
        body.extend_from_slice(&[b'x'; 1024]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let start = Instant::now();
    let mut data = 0usize;
    for _ in 0..20 {
        let mut dec = ChunkedDecoder::new();
        let mut rest = &body[..];
        loop {
            let (n, out) = dec.decode(rest).unwrap();
            rest = &rest[n..];
            match out {
                Some(Chunk::Data(d)) => data += d.len(),
                Some(Chunk::End) => break,
                None => panic!("incomplete"),
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("chunked: {:.0} MB/s ({data})", data as f64 / secs / 1e6);
}
