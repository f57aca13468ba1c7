//! Chunked decoder tests: valid streams at every feeding granularity, every malformed shape,
//! bounds, trailers, and re-encoding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http1::{
    encode_chunk_header, Chunk, ChunkError, ChunkedDecoder, CHUNK_TRAILER, LAST_CHUNK,
    MAX_CHUNK_EXT_BYTES, MAX_TRAILER_BYTES,
};

/// Feeds `input` `step` bytes at a time, as a socket would, keeping unconsumed bytes.
/// Returns the decoded data and how many input bytes the body used, or the first error.
fn decode_stream(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkError> {
    let mut dec = ChunkedDecoder::new();
    let mut data = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut used = 0;
    loop {
        let (n, out) = dec.decode(&pending)?;
        used += n;
        let need_more = out.is_none();
        match out {
            Some(Chunk::Data(d)) => {
                assert!(!d.is_empty());
                data.extend_from_slice(d);
            }
            Some(Chunk::End) => {
                pending.drain(..n);
                assert!(dec.is_done());
                // Once done, nothing more is consumed.
                assert_eq!(dec.decode(&pending).unwrap(), (0, None));
                return Ok((data, used));
            }
            None => {
                assert_eq!(n, pending.len(), "None must consume everything");
                if fed == input.len() {
                    panic!("stream ended before the last chunk");
                }
            }
        }
        pending.drain(..n);
        if need_more {
            let end = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..end]);
            fed = end;
        }
    }
}

/// Decodes `input` one byte at a time and all at once; both must agree.
fn decode_both(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkError> {
    let whole = decode_stream(input, input.len().max(1));
    for step in [1, 2, 3, 7] {
        assert_eq!(decode_stream(input, step), whole, "step {step}");
    }
    whole
}

fn expect_error(input: &[u8]) -> ChunkError {
    let mut dec = ChunkedDecoder::new();
    let mut rest = input;
    loop {
        match dec.decode(rest) {
            Err(e) => {
                // Errors are sticky.
                assert_eq!(dec.decode(b"0\r\n\r\n"), Err(e));
                // Byte-at-a-time feeding finds the same error.
                let bytewise = decode_stream(input, 1).unwrap_err();
                assert_eq!(bytewise, e);
                return e;
            }
            Ok((_, Some(Chunk::End))) => panic!("accepted {:?}", input.escape_ascii().to_string()),
            Ok((0, _)) => {
                panic!("needs more input: {:?}", input.escape_ascii().to_string())
            }
            Ok((n, _)) => rest = &rest[n..],
        }
    }
}

#[test]
fn valid_streams() {
    let cases: Vec<(Vec<u8>, &[u8])> = vec![
        (b"5\r\nhello\r\n0\r\n\r\n".to_vec(), b"hello"),
        (
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
            b"hello world",
        ),
        (b"0\r\n\r\n".to_vec(), b""),
        (b"000\r\n\r\n".to_vec(), b""),
        (b"A\r\n0123456789\r\n0\r\n\r\n".to_vec(), b"0123456789"),
        (b"a\r\n0123456789\r\n0\r\n\r\n".to_vec(), b"0123456789"),
        (
            b"000000000000000A\r\n0123456789\r\n0\r\n\r\n".to_vec(),
            b"0123456789",
        ),
        (b"3;a\r\nabc\r\n0\r\n\r\n".to_vec(), b"abc"),
        (b"3;a=b;c=\"d e\"\r\nabc\r\n0;last\r\n\r\n".to_vec(), b"abc"),
        (b"3 ; a = b ; c\r\nabc\r\n0\r\n\r\n".to_vec(), b"abc"),
        (b"3;a=\"q\\\"x\\\\\"\r\nabc\r\n0\r\n\r\n".to_vec(), b"abc"),
        (b"3;a=\"\"\r\nabc\r\n0\r\n\r\n".to_vec(), b"abc"),
        (b"3;a=\"\xe9\"\r\nabc\r\n0\r\n\r\n".to_vec(), b"abc"),
        (b"2\r\n\r\n\r\n0\r\n\r\n".to_vec(), b"\r\n"),
        (
            b"0\r\nX-Trailer: 1\r\nChecksum: abc \t d\r\nEmpty:\r\n\r\n".to_vec(),
            b"",
        ),
        (b"1\r\nz\r\n0\r\nX: \xff\r\n\r\n".to_vec(), b"z"),
    ];
    for (input, expected) in cases {
        let (data, used) = decode_both(&input)
            .unwrap_or_else(|e| panic!("{e} for {:?}", input.escape_ascii().to_string()));
        assert_eq!(data, expected);
        assert_eq!(used, input.len());
    }
}

#[test]
fn large_chunk_passes_through_in_slices() {
    let body = vec![b'x'; 100_000];
    let mut input = Vec::new();
    encode_chunk_header(body.len(), &mut input);
    input.extend_from_slice(&body);
    input.extend_from_slice(CHUNK_TRAILER);
    input.extend_from_slice(LAST_CHUNK);
    let mut dec = ChunkedDecoder::new();
    let (n, out) = dec.decode(&input).unwrap();
    assert_eq!(out, Some(Chunk::Data(&body[..])));
    let (m, out) = dec.decode(&input[n..]).unwrap();
    assert_eq!(out, Some(Chunk::End));
    assert_eq!(n + m, input.len());
    assert_eq!(decode_stream(&input, 4096).unwrap().0, body);
}

#[test]
fn stops_at_end_of_body() {
    let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    let (data, used) = decode_both(input).unwrap();
    assert_eq!(data, b"abc");
    assert_eq!(&input[used..], b"GET / HTTP/1.1\r\n");
}

#[test]
fn malformed_streams() {
    let long_ext = format!(
        "1;a=\"{}\"\r\nx\r\n0\r\n\r\n",
        "e".repeat(MAX_CHUNK_EXT_BYTES)
    );
    let ok_ext = format!(
        "1;a=\"{}\"\r\nx\r\n0\r\n\r\n",
        "e".repeat(MAX_CHUNK_EXT_BYTES - 5)
    );
    assert_eq!(decode_both(ok_ext.as_bytes()).unwrap().0, b"x");
    let long_trailer = format!("0\r\nX: {}\r\n\r\n", "t".repeat(MAX_TRAILER_BYTES));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "0x prefix",
            b"0x5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "minus",
            b"-5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "plus",
            b"+5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "leading space",
            b" 5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "leading tab",
            b"\t5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "underscore",
            b"5_0\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "leading underscore",
            b"_5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "non-hex",
            b"5g\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "empty size",
            b"\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_size",
        ),
        (
            "17 digits",
            b"00000000000000005\r\nhello\r\n0\r\n\r\n".to_vec(),
            "chunk_size_too_long",
        ),
        (
            "overflow",
            b"10000000000000000\r\n".to_vec(),
            "chunk_size_too_long",
        ),
        (
            "bare lf after size",
            b"5\nhello\r\n0\r\n\r\n".to_vec(),
            "bare_lf",
        ),
        (
            "bare lf after ext",
            b"5;a=b\nhello\r\n0\r\n\r\n".to_vec(),
            "bare_lf",
        ),
        (
            "bare lf at start",
            b"\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bare_lf",
        ),
        ("cr cr lf", b"5\r\r\nhello\r\n0\r\n\r\n".to_vec(), "bare_cr"),
        (
            "data too long",
            b"5\r\nhelloX\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_terminator",
        ),
        (
            "data lf only",
            b"5\r\nhello\n0\r\n\r\n".to_vec(),
            "bad_chunk_terminator",
        ),
        (
            "data cr only",
            b"5\r\nhello\r0\r\n\r\n".to_vec(),
            "bad_chunk_terminator",
        ),
        (
            "data no terminator",
            b"5\r\nhello0\r\n\r\n".to_vec(),
            "bad_chunk_terminator",
        ),
        (
            "data too short",
            b"5\r\nhell\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_terminator",
        ),
        (
            "ext empty",
            b"5;\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext no name",
            b"5;=a\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext empty value",
            b"5;a=\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext unterminated quote",
            b"5;a=\"x\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext space in name",
            b"5;a b\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext trailing ws",
            b"5;a \r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "size trailing ws",
            b"5 \r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext bad byte",
            b"5;a=b@c\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext nul",
            b"5;a\0\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext ctl in quote",
            b"5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext after quote",
            b"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        (
            "ext double equals",
            b"5;a==b\r\nhello\r\n0\r\n\r\n".to_vec(),
            "bad_chunk_ext",
        ),
        ("ext too long", long_ext.into_bytes(), "chunk_ext_too_large"),
        (
            "trailer obs-fold",
            b"0\r\nX: 1\r\n folded\r\n\r\n".to_vec(),
            "bad_trailer",
        ),
        (
            "trailer leading space",
            b"0\r\n X: 1\r\n\r\n".to_vec(),
            "bad_trailer",
        ),
        (
            "trailer no colon",
            b"0\r\nX\r\n\r\n".to_vec(),
            "bad_trailer",
        ),
        (
            "trailer empty name",
            b"0\r\n: 1\r\n\r\n".to_vec(),
            "bad_trailer",
        ),
        (
            "trailer ws before colon",
            b"0\r\nX : 1\r\n\r\n".to_vec(),
            "bad_trailer",
        ),
        (
            "trailer nul",
            b"0\r\nX: a\0\r\n\r\n".to_vec(),
            "bad_trailer",
        ),
        ("trailer bare lf", b"0\r\nX: 1\n\r\n".to_vec(), "bare_lf"),
        ("trailer end bare lf", b"0\r\n\n".to_vec(), "bare_lf"),
        (
            "trailer bare cr",
            b"0\r\nX: 1\rY\r\n\r\n".to_vec(),
            "bare_cr",
        ),
        ("trailer end bare cr", b"0\r\n\rX".to_vec(), "bare_cr"),
        (
            "trailer too large",
            long_trailer.into_bytes(),
            "trailer_too_large",
        ),
    ];
    for (name, input, code) in cases {
        let e = expect_error(&input);
        assert_eq!(e.code(), code, "{name}: {e}");
        assert!(e.status() == 400 || e.status() == 431);
        assert!(!e.to_string().ends_with('.'));
    }
}

#[test]
fn encodes_chunk_headers() {
    let mut out = Vec::new();
    for (len, expected) in [
        (1usize, &b"1\r\n"[..]),
        (10, b"a\r\n"),
        (255, b"ff\r\n"),
        (4096, b"1000\r\n"),
        (usize::MAX, b"ffffffffffffffff\r\n"),
    ] {
        out.clear();
        encode_chunk_header(len, &mut out);
        assert_eq!(out, expected);
    }
}

#[test]
fn reencoded_body_decodes_to_same_data() {
    let input = b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n";
    let (data, _) = decode_both(input).unwrap();
    // Re-encode as the gateway forwards it: one chunk per Data output, no ext, no trailer.
    let mut dec = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut rest = &input[..];
    loop {
        let (n, chunk) = dec.decode(rest).unwrap();
        rest = &rest[n..];
        match chunk {
            Some(Chunk::Data(d)) => {
                encode_chunk_header(d.len(), &mut out);
                out.extend_from_slice(d);
                out.extend_from_slice(CHUNK_TRAILER);
            }
            Some(Chunk::End) => {
                out.extend_from_slice(LAST_CHUNK);
                break;
            }
            None => panic!("incomplete"),
        }
    }
    assert_eq!(out, b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
    assert_eq!(decode_both(&out).unwrap().0, data);
}
