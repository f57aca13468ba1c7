//! Bounded inputs and bounded, printable errors (issue 14, points 2 and 3), driven through the
//! real binary: `check-config`, a `serve` that cannot start, and a `serve` given a bad file by
//! SIGHUP. A megabyte token and terminal control bytes (ESC, BEL) in the configuration, a list
//! file and a rule file must come back as a short report with every control byte escaped.

use std::path::Path;
use std::process::Command;

use testkit::{base_config, curl, Origin};

use crate::cli::{eventually, start_serve, BIN};

/// A megabyte of one label: an invalid domain whose error used to quote it whole.
const TOKEN_BYTES: usize = 1 << 20;

/// What a terminal would obey in `bytes`: C0 controls other than the line break, DEL, and C1
/// controls (UTF-8 `C2 80`–`C2 9F`).
fn control_bytes(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        let c1 = b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..0xa0).contains(n));
        if (b < 0x20 && b != b'\n') || b == 0x7f || c1 {
            found.push(format!("byte {b:#04x} at {i}"));
        }
    }
    found
}

/// Assert that `stderr` is a short report, with no byte a terminal would act on.
fn assert_short_and_printable(what: &str, stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    assert!(
        stderr.len() < 16 * 1024,
        "{what}: {} bytes of stderr, starting {:?}",
        stderr.len(),
        text.chars().take(400).collect::<String>()
    );
    let found = control_bytes(stderr);
    assert!(found.is_empty(), "{what}: {found:?} in {text:?}");
}

/// A configuration whose list file, rule file and `proxy.listen` quote a megabyte token and
/// control bytes; written into `dir`, returns its path.
fn poisoned_config(dir: &Path) -> std::path::PathBuf {
    let mut big = b"ok.test\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', TOKEN_BYTES));
    big.extend(b".test\n");
    std::fs::write(dir.join("big.txt"), big).unwrap();
    std::fs::write(dir.join("esc.txt"), b"\x1b[31mevil\x07.test\n").unwrap();
    let mut rule = b"permit(principal, action, resource) when { \x1b]0;owned\x07 ".to_vec();
    rule.extend(std::iter::repeat_n(b'y', TOKEN_BYTES));
    rule.extend(b" };\n");
    std::fs::write(dir.join("rules.cedar"), rule).unwrap();
    let config = dir.join("gatehouse.toml");
    std::fs::write(
        &config,
        "[proxy]\nlisten = \"\\u001b[2J\\u0007127.0.0.1:0\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\
         [lists.big]\nformat = \"plain\"\npath = \"big.txt\"\n\
         [lists.esc]\nformat = \"plain\"\npath = \"esc.txt\"\n\
         [rules]\nfiles = [\"rules.cedar\"]\n",
    )
    .unwrap();
    config
}

#[test]
fn check_config_quotes_a_megabyte_token_by_its_beginning_and_escapes_control_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = poisoned_config(dir.path());
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_short_and_printable("check-config", &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    // Each problem is still there, named by its file and line, the token by its length.
    let big = dir.path().join("big.txt").display().to_string();
    assert!(
        err.contains(&format!("`{big}` line 2: invalid domain `xxxxxxxx")),
        "{err}"
    );
    assert!(
        err.contains(&format!("({} bytes)", TOKEN_BYTES + 5)),
        "{err}"
    );
    assert!(
        err.contains("invalid domain `\\u{1b}[31mevil\\u{7}.test`"),
        "{err}"
    );
    assert!(
        err.contains("key `proxy.listen`: `\\u{1b}[2J\\u{7}127.0.0.1:0`"),
        "{err}"
    );
    assert!(err.contains("rules.cedar:1:"), "{err}");
}

#[test]
fn a_serve_that_cannot_start_prints_a_short_report_without_control_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = poisoned_config(dir.path());
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_short_and_printable("serve", &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("gatehouse: error: invalid configuration:\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!("({} bytes)", TOKEN_BYTES + 5)),
        "{err}"
    );
    assert!(!data.join("gatehouse.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reload_logs_a_short_report_and_the_running_config_keeps_serving() {
    let origin = Origin::start("127.0.0.3").await;
    let text = base_config(&origin);
    let s = start_serve(&text);
    let (code, _, err) = s.cli(
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let proxy = s.proxy_url();
    let url = format!("http://origin.test:{}/", origin.port());
    eventually("ada can browse", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", "ada:ada-password", &u]).await.status == 200 }
    })
    .await;

    let dir = s.config.parent().unwrap().to_path_buf();
    let mut line = vec![b'x'; TOKEN_BYTES];
    line.extend(b"\x1b[31m\x07.test");
    let mut big = b"ok.test\n".to_vec();
    big.extend(&line);
    big.push(b'\n');
    std::fs::write(dir.join("big.txt"), big).unwrap();
    let poisoned = format!("{text}\n[lists.big]\nformat = \"plain\"\npath = \"big.txt\"\n");
    std::fs::write(&s.config, &poisoned).unwrap();
    let before = s.stderr().len();
    for n in 1..=3 {
        s.signal("HUP");
        eventually("the invalid reload is logged", || {
            let e = s.stderr();
            async move { e.matches("keeping the running one").count() == n }
        })
        .await;
    }
    let log = s.stderr();
    let added = &log.as_bytes()[before..];
    assert!(added.len() < 16 * 1024, "{} bytes logged", added.len());
    let found = control_bytes(added);
    assert!(found.is_empty(), "{found:?}");
    assert!(
        log.contains(&format!("({} bytes)", line.len())),
        "{}",
        String::from_utf8_lossy(added)
    );
    // The running configuration still answers.
    assert_eq!(
        curl(&["-x", &proxy, "-U", "ada:ada-password", &url])
            .await
            .status,
        200
    );
    // A command given the same file says so briefly too.
    let (code, _, err) = s.cli(&["user", "list"], None);
    assert_eq!(code, 1, "{err}");
    assert_short_and_printable("user list", err.as_bytes());
}

/// A file of `size` zero bytes that takes no room on disk (sparse).
fn sparse(path: &Path, size: u64) {
    std::fs::File::create(path).unwrap().set_len(size).unwrap();
}

#[test]
fn check_config_refuses_oversize_files_unread_naming_each_with_its_size_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("junk.toml");
    sparse(&config, 64 << 20);
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "cannot read {}: it is 64 MiB (67108864 bytes), larger than the limit of a \
             configuration or rule file (4 MiB, 4194304 bytes)\n",
            config.display()
        )
    );

    // A list file and a rule file over their limits, named by their keys.
    sparse(&dir.path().join("big.txt"), lists::MAX_FILE_BYTES + 1);
    sparse(
        &dir.path().join("rules.cedar"),
        gatehouse::config::MAX_CONFIG_BYTES + 1,
    );
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        "[lists.big]\nformat = \"plain\"\npath = \"big.txt\"\n[rules]\nfiles = [\"rules.cedar\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let big = dir.path().join("big.txt");
    let rules = dir.path().join("rules.cedar");
    assert_eq!(
        err,
        format!(
            "{c}:3:8: key `lists.big.path`: `{}` is 268435457 bytes, larger than a list file may be: \
             256 MiB (268435456 bytes)\n\
             {c}:5:10: key `rules.files`: cannot read the rule file {}: it is 4 MiB (4194305 bytes), \
             larger than the limit of a configuration or rule file (4 MiB, 4194304 bytes)\n",
            big.display(),
            rules.display(),
            c = config.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_with_an_oversize_configuration_costs_no_memory_and_keeps_serving() {
    let origin = Origin::start("127.0.0.3").await;
    let s = start_serve(&base_config(&origin));
    let (code, _, err) = s.cli(
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let proxy = s.proxy_url();
    let url = format!("http://origin.test:{}/", origin.port());
    eventually("ada can browse", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", "ada:ada-password", &u]).await.status == 200 }
    })
    .await;
    let peak_before = s.rss_peak_kib();

    // 64 MiB of junk: read whole, it would raise the peak by at least as much.
    sparse(&s.config, 64 << 20);
    s.signal("HUP");
    eventually("the refused reload is logged", || {
        let e = s.stderr();
        async move { e.contains("keeping the running one") }
    })
    .await;
    let log = s.stderr();
    assert!(
        log.contains("it is 64 MiB (67108864 bytes), larger than the limit of a configuration or rule file (4 MiB, 4194304 bytes)"),
        "{log}"
    );
    let grown = s.rss_peak_kib().saturating_sub(peak_before);
    assert!(grown < 16 * 1024, "the peak grew by {grown} KiB");
    // The running configuration keeps serving.
    assert_eq!(
        curl(&["-x", &proxy, "-U", "ada:ada-password", &url])
            .await
            .status,
        200
    );
}

#[test]
fn a_usage_error_quotes_the_argument_briefly_and_without_control_bytes_even_on_a_terminal() {
    let arg = format!("\x1b[31m{}\x07", "z".repeat(100_000));
    let out = Command::new(BIN)
        .args(["user", "add", "bob", "--tier", &arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_short_and_printable("usage error", &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    // The parser's plain rendering drops escape sequences; what is left is cut to its beginning.
    assert!(err.starts_with("error: invalid value 'zzzz"), "{err}");
    assert!(err.contains("… (100043 bytes)"), "{err}");

    // On a terminal (`script` gives the command a pseudo-terminal and copies what it shows),
    // where the argument parser would otherwise colour its message and pass the bytes through.
    let shell =
        format!("'{BIN}' user add bob --tier \"$(printf '\\033]0;owned\\007\\033[31mred')\"");
    let out = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // The terminal ends lines with CR LF; any other control byte came from the program.
    let shown = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert_short_and_printable("usage error on a terminal", shown.as_bytes());
    assert!(shown.contains("invalid value '"), "{shown}");
}
