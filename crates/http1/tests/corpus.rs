//! Replays the committed fuzz seed corpora (`fuzz/corpus/http1_*`) through the same property
//! checks the fuzz targets run (`properties`), so that every test run exercises them without
//! libFuzzer. A file that once made a target fail stays in its corpus and is checked here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::properties;

/// The files of one target's seed corpus, sorted by name.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    for path in corpus(target) {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| check(&bytes)) {
            eprintln!("property failed on {}", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn request_head_seed_corpus() {
    replay("http1_request_head", properties::check_request_head);
}

#[test]
fn response_head_seed_corpus() {
    replay("http1_response_head", properties::check_response_head);
}

#[test]
fn chunked_seed_corpus() {
    replay("http1_chunked", properties::check_chunked);
}
