//! Reading the administrator's text files (the configuration and its rule files) with a size limit
//! checked before a byte is read, so that a file of junk given to `check-config`, `serve` or a
//! SIGHUP costs a `stat`, not memory in proportion to its size.
//!
//! Guarantees: a file larger than [`MAX_CONFIG_BYTES`] is never read; a file that grows while it is
//! read, or that has no size (a pipe, `/dev/zero`), is read at most one byte past the limit and
//! then refused the same way. The reason names the size and the limit; the caller names the file.

use std::io::Read;
use std::path::Path;

/// The largest configuration file, and the largest rule file, that gatehouse reads (4 MiB).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The text of `path`, or why not, as the end of ``cannot read FILE: …``.
pub(super) fn read_text(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| io_reason(&e))?;
    let size = file.metadata().map_err(|e| io_reason(&e))?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_reason(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "it holds more than {} bytes, the limit of a configuration or rule file ({})",
            MAX_CONFIG_BYTES,
            human(MAX_CONFIG_BYTES)
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (an invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn too_large(size: u64) -> String {
    format!(
        "it is {} ({size} bytes), larger than the limit of a configuration or rule file ({}, {} bytes)",
        human(size),
        human(MAX_CONFIG_BYTES),
        MAX_CONFIG_BYTES
    )
}

/// `No such file or directory (os error 2)`: the code says nothing more to a person.
fn io_reason(e: &std::io::Error) -> String {
    let reason = e.to_string();
    reason
        .split(" (os error ")
        .next()
        .unwrap_or(&reason)
        .to_string()
}

/// A size in the largest binary unit that keeps it at least 1, with one decimal.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let shown = format!("{value:.1}");
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    format!("{shown} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(17), "17 bytes");
        assert_eq!(human(MAX_CONFIG_BYTES), "4 MiB");
        assert_eq!(human(58 * 1000 * 1000), "55.3 MiB");
        assert_eq!(human(3 << 30), "3 GiB");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_unread_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        assert_eq!(
            read_text(&path).unwrap_err(),
            "it is 4 MiB (4194305 bytes), larger than the limit of a configuration or rule file (4 MiB, 4194304 bytes)"
        );
        file.set_len(MAX_CONFIG_BYTES).unwrap();
        assert_eq!(read_text(&path).unwrap().len() as u64, MAX_CONFIG_BYTES);
    }

    #[test]
    fn a_file_without_a_size_is_read_only_to_the_limit() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.starts_with("it holds more than 4194304 bytes"), "{e}");
    }
}
