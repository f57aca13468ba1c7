//! Replays the committed fuzz seed corpus (`fuzz/corpus/lists_parse`) through the same
//! property checks the fuzz target runs (`properties`), so that every test run exercises them
//! without libFuzzer. A file that once made the target fail stays in the corpus and is checked
//! here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::properties;

#[test]
fn lists_seed_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/lists_parse");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| properties::check_lists(&bytes)) {
            eprintln!("property failed on {}", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}
