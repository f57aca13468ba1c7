//! Deterministic mutation tests: random byte edits of valid messages must never panic, a
//! head that parses as Complete must be Partial at every shorter prefix, and the chunked
//! decoder must give the same outcome whether fed all at once or byte by byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http1::{parse_request_head, parse_response_head, Chunk, ChunkedDecoder, Limits, Parsed};

/// xorshift64*: a tiny deterministic generator, enough to spread edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\r\n \t:;,=\"\\\x00\x0b\x7f\x80\xff0aAzZ-_/";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let byte = if rng.below(2) == 0 {
            INTERESTING[rng.below(INTERESTING.len())]
        } else {
            rng.next() as u8
        };
        match rng.below(3) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = byte;
            }
            1 if !v.is_empty() => {
                v.remove(rng.below(v.len()));
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.insert(i, byte);
            }
        }
    }
    v
}

#[test]
fn request_mutations() {
    let seeds: [&[u8]; 4] = [
        b"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n",
        b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: keep-alive, x\r\n\r\nhello",
        b"\r\nPUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
    ];
    let limits = Limits {
        max_head_bytes: 120,
        max_headers: 4,
        max_uri_bytes: 24,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut completes = 0;
    for _ in 0..6000 {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        for l in [&limits, &Limits::default()] {
            if let Ok(Parsed::Complete { head, len }) = parse_request_head(&input, l) {
                completes += 1;
                assert!(len <= input.len());
                assert_eq!(head.as_bytes(), &input[..len]);
                for cut in 0..len {
                    assert_eq!(
                        parse_request_head(&input[..cut], l),
                        Ok(Parsed::Partial),
                        "cut {cut} of {:?}",
                        input.escape_ascii().to_string()
                    );
                }
                let _ = (
                    head.headers().count(),
                    head.connection(),
                    head.keep_alive(),
                    head.upgrade(),
                );
            }
        }
    }
    assert!(completes > 100, "mutations too destructive: {completes}");
}

#[test]
fn response_mutations() {
    let seeds: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello",
        b"HTTP/1.1 204\nX: y\n\n",
        b"HTTP/1.0 301 Moved\r\nLocation: /x\r\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..6000 {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        if let Ok(Parsed::Complete { head, len }) = parse_response_head(&input, &Limits::default())
        {
            for cut in 0..len {
                assert_eq!(
                    parse_response_head(&input[..cut], &Limits::default()),
                    Ok(Parsed::Partial)
                );
            }
            let _ = (head.framing(false, false), head.reason(), head.connection());
        }
    }
}

/// Outcome of decoding `input` fed `step` bytes at a time.
fn chunked_outcome(input: &[u8], step: usize) -> Result<(Vec<u8>, Option<usize>), &'static str> {
    let mut dec = ChunkedDecoder::new();
    let mut data = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut used = 0;
    loop {
        let (n, out) = dec.decode(&pending).map_err(|e| e.code())?;
        used += n;
        let need_more = out.is_none();
        match out {
            Some(Chunk::Data(d)) => data.extend_from_slice(d),
            Some(Chunk::End) => return Ok((data, Some(used))),
            None if fed == input.len() => return Ok((data, None)),
            None => {}
        }
        pending.drain(..n);
        if need_more {
            let end = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..end]);
            fed = end;
        }
    }
}

#[test]
fn chunked_mutations() {
    let seeds: [&[u8]; 3] = [
        b"5\r\nhello\r\n6;a=b\r\n world\r\n0\r\n\r\n",
        b"3;q=\"x\\\"y\"\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        b"A\r\n0123456789\r\n0\r\n\r\n",
    ];
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..4000 {
        let seed = seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        let whole = chunked_outcome(&input, input.len().max(1));
        assert_eq!(
            chunked_outcome(&input, 1),
            whole,
            "{:?}",
            input.escape_ascii().to_string()
        );
        assert_eq!(chunked_outcome(&input, 3), whole);
    }
}
