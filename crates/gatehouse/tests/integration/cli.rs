//! Tests that spawn the `gatehouse` binary itself: help, first start, the user/group/audit CLI
//! while `serve` runs, SIGHUP reload (including under load and with an invalid file), SIGTERM drain
//! and flush, `check-config`, and constant memory for 1 GiB bodies.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::Edit;
use testkit::{base_config, curl, Origin};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// The binary running `serve`, with its stderr collected. Killed on drop if still running.
pub(crate) struct Serve {
    child: Child,
    pub(crate) proxy: String,
    pub(crate) admin: String,
    pub(crate) stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    _data: tempfile::TempDir,
    pub(crate) data_dir: PathBuf,
    pub(crate) config: PathBuf,
    _config_dir: tempfile::TempDir,
    /// Held while `serve` runs: a heavy test waits for it (`testkit::gate`).
    _light: testkit::gate::Light,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_serve(config_text: &str) -> Serve {
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("gatehouse.toml");
    std::fs::write(&config, config_text).unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_path_buf();
    spawn_serve(config, config_dir, data_dir, data)
}

/// `serve` on an existing configuration file and data directory (the caller keeps both).
pub(crate) fn start_serve_in(config: &Path, data_dir: &Path) -> Serve {
    spawn_serve(
        config.to_path_buf(),
        tempfile::tempdir().unwrap(),
        data_dir.to_path_buf(),
        tempfile::tempdir().unwrap(),
    )
}

fn spawn_serve(
    config: PathBuf,
    config_dir: tempfile::TempDir,
    data_dir: PathBuf,
    data: tempfile::TempDir,
) -> Serve {
    let light = testkit::gate::light();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .env("GATEHOUSE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let collected = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("gatehouse is listening") {
                let _ = tx.send(line.clone());
            }
            let mut c = collected.lock().unwrap();
            c.push_str(&line);
            c.push('\n');
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("serve did not start:\n{}", stderr.lock().unwrap()));
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let (proxy, admin) = (field("proxy"), field("admin"));
    let stdout = Arc::new(Mutex::new(String::new()));
    let out = child.stdout.take().unwrap();
    let collected = stdout.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let mut c = collected.lock().unwrap();
            c.push_str(&line);
            c.push('\n');
        }
    });
    Serve {
        child,
        proxy,
        admin,
        stdout,
        stderr,
        _data: data,
        data_dir,
        config,
        _config_dir: config_dir,
        _light: light,
    }
}

impl Serve {
    pub(crate) fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    /// The process id of the running binary (for reading `/proc/PID/…`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn cli(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        cli_in(&self.data_dir, &self.config, args, stdin)
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    pub(crate) fn wait_exit(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(start.elapsed() < limit, "gatehouse did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub(crate) fn rss_peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    }
}

/// `gatehouse check-config FILE`.
fn check_config(file: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("check-config")
        .arg(file)
        .output()
        .unwrap()
}

pub(crate) fn cli_in(
    data: &Path,
    config: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // A command that refuses before it reads its input (a bad configuration) may be gone
        // already: a broken pipe here is its answer, judged by its exit status and output below.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Poll until `f` holds (changes made with the CLI apply within a second; this waits up to 10 s).
pub(crate) async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// Add `ada` (tier `open`, password `ada-password`) with the CLI and wait until the running gateway lets her
/// browse. Returns the proxy URL and the origin's root URL.
async fn add_ada_and_wait(s: &Serve, origin: &Origin) -> (String, String) {
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
    (proxy, url)
}

#[test]
fn help_is_complete_for_every_command() {
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["check-config"],
        &["user"],
        &["user", "add"],
        &["user", "list"],
        &["user", "set-tier"],
        &["user", "passwd"],
        &["user", "disable"],
        &["user", "enable"],
        &["user", "set-role"],
        &["user", "delete"],
        &["group"],
        &["group", "add"],
        &["group", "add-member"],
        &["group", "delete"],
        &["session"],
        &["session", "list"],
        &["session", "end"],
        &["audit"],
        &["request"],
        &["request", "create"],
        &["request", "withdraw"],
        &["review"],
        &["review", "approve"],
        &["review", "deny"],
        &["grant"],
        &["grant", "add"],
        &["revoke"],
        &["guest"],
        &["guest", "add"],
        &["approver"],
        &["approver", "add"],
    ];
    for c in commands {
        let out = Command::new(BIN).args(*c).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{c:?}");
        assert!(text.contains("Usage: gatehouse"), "{c:?}: {text}");
        assert!(text.lines().count() > 3, "{c:?}: {text}");
    }
    let top = Command::new(BIN).arg("--help").output().unwrap();
    let top = String::from_utf8_lossy(&top.stdout);
    for sub in ["serve", "check-config", "user", "group", "session", "audit"] {
        assert!(top.contains(sub), "{top}");
    }
    let serve = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let serve = String::from_utf8_lossy(&serve.stdout);
    assert!(
        serve.contains("--config <FILE>") && serve.contains("--data-dir <DIR>"),
        "{serve}"
    );
}

#[test]
fn check_config_accepts_good_files_and_locates_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, gatehouse::config::DEFAULT_CONFIG).unwrap();
    let out = check_config(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[proxy]\nlisten = \"127.0.0.1:3128\"\nmax_conections = 5\n",
    )
    .unwrap();
    let out = check_config(&bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3:1: key `proxy.max_conections`: unknown field `max_conections`",
            bad.display()
        )),
        "{err}"
    );
}

#[test]
fn store_commands_refuse_an_invalid_config_instead_of_ignoring_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[proxy]\nlisten = \"127.0.0.1:3128\"\n").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[proxy]\nlisten = \"127.0.0.1:3128\"\nmax_conections = 5\n",
    )
    .unwrap();
    let (code, out, err) = cli_in(
        &data,
        &good,
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    for args in [
        &["user", "list"][..],
        &["user", "add", "bob", "--tier", "open", "--password-stdin"],
        &["group", "list"],
        &["audit"],
    ] {
        let (code, out, err) = cli_in(&data, &bad, args, Some("ada-password\n"));
        assert_ne!(code, 0, "{args:?} accepted an invalid --config: {out}");
        assert!(
            err.contains(&format!(
                "{}:3:1: key `proxy.max_conections`",
                bad.display()
            )),
            "{args:?}: {err}"
        );
    }
    // Nothing was changed by the refused `user add`.
    let (code, out, err) = cli_in(&data, &good, &["user", "list"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ada") && !out.contains("bob"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_prints_an_admin_password_once_and_the_cli_works_while_serving() {
    let origin = Origin::start("127.0.0.2").await;
    let mut s = start_serve(&base_config(&origin));
    eventually("the first start prints the admin password", || {
        let out = s.stdout.lock().unwrap().clone();
        async move { out.contains("shown only this once: ") }
    })
    .await;
    let stdout = s.stdout.lock().unwrap().clone();
    assert!(stdout.contains("created the principal `admin`"), "{stdout}");
    assert_eq!(
        stdout.matches("shown only this once").count(),
        1,
        "{stdout}"
    );
    let admin_pw = stdout
        .lines()
        .find_map(|l| l.split("shown only this once: ").nth(1))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(admin_pw.len(), 20);
    let ready = curl(&[&format!("http://{}/readyz", s.admin)]).await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    let url = format!("http://origin.test:{}/", origin.port());
    // admin has tier none: administering is not browsing.
    let out = curl(&[
        "-x",
        &s.proxy_url(),
        "-U",
        &format!("admin:{admin_pw}"),
        &url,
    ])
    .await;
    assert_eq!(out.status, 403);
    assert_eq!(out.header("x-gatehouse-rule").as_deref(), Some("tier-none"));

    let (code, out, err) = s.cli(
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password-1\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added the principal `ada`"));
    let proxy = s.proxy_url();
    eventually("ada can browse", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move {
            curl(&["-x", &p, "-U", "ada:ada-password-1", &u])
                .await
                .status
                == 200
        }
    })
    .await;
    let (code, out, _) = s.cli(&["user", "add", "bob", "--tier", "filtered"], None);
    assert_eq!(code, 0);
    assert!(out.contains("shown only this once: "), "{out}");
    let (code, _, err) = s.cli(&["user", "add", "ada", "--tier", "open"], None);
    assert_ne!(code, 0);
    assert!(
        err.contains("a principal named `ada` already exists"),
        "{err}"
    );

    let (_, list, _) = s.cli(&["user", "list"], None);
    assert!(
        list.contains("ada") && list.contains("bob") && list.contains("admin"),
        "{list}"
    );
    let (_, json, _) = s.cli(&["user", "list", "--format", "json"], None);
    let ada: serde_json::Value =
        serde_json::from_str(json.lines().find(|l| l.contains("\"ada\"")).unwrap()).unwrap();
    assert_eq!(ada["tier"], "open");
    assert_eq!(ada["disabled"], false);

    assert_eq!(s.cli(&["user", "set-tier", "ada", "filtered"], None).0, 0);
    eventually("the new tier applies", || {
        let (p, u) = (
            proxy.clone(),
            format!("http://other.test:{}/", origin.port()),
        );
        async move {
            curl(&["-x", &p, "-U", "ada:ada-password-1", &u])
                .await
                .status
                == 403
        }
    })
    .await;
    assert_eq!(
        s.cli(
            &["user", "passwd", "ada", "--password-stdin"],
            Some("ada-password-2\n")
        )
        .0,
        0
    );
    eventually("the new password applies", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move {
            curl(&["-x", &p, "-U", "ada:ada-password-2", &u])
                .await
                .status
                == 200
        }
    })
    .await;
    assert_eq!(
        curl(&["-x", &proxy, "-U", "ada:ada-password-1", &url])
            .await
            .status,
        407
    );
    assert_eq!(s.cli(&["user", "disable", "ada"], None).0, 0);
    eventually("the disabled account is refused", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move {
            curl(&["-x", &p, "-U", "ada:ada-password-2", &u])
                .await
                .status
                == 403
        }
    })
    .await;

    // Groups.
    assert_eq!(s.cli(&["group", "add", "staff"], None).0, 0);
    assert_eq!(s.cli(&["group", "add-member", "staff", "bob"], None).0, 0);
    let (_, groups, _) = s.cli(&["group", "list"], None);
    assert!(
        groups.contains("staff") && groups.contains("bob"),
        "{groups}"
    );
    assert_eq!(
        s.cli(&["group", "remove-member", "staff", "bob"], None).0,
        0
    );

    // The audit CLI filters by principal, destination and decision, as a table or JSON lines.
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(30)), 0);
    let (code, table, _) = s.cli(&["audit", "--principal", "ada"], None);
    assert_eq!(code, 0);
    assert!(table.lines().next().unwrap().starts_with("TIME"), "{table}");
    assert!(
        table.lines().skip(1).all(|l| l.contains(" ada ")),
        "{table}"
    );
    let (_, json, _) = s.cli(&["audit", "--decision", "deny", "--format", "json"], None);
    let denied: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!denied.is_empty());
    assert!(denied.iter().all(|e| e["decision"] == "deny"));
    assert!(denied.iter().any(|e| e["rule"] == "principal-disabled"));
    let (_, json, _) = s.cli(
        &["audit", "--destination", "other.test", "--format", "json"],
        None,
    );
    assert!(json.lines().count() >= 1);
    assert!(json.lines().all(|l| l.contains("other.test")), "{json}");
    let (_, none, _) = s.cli(
        &[
            "audit",
            "--since",
            "2999-01-01T00:00:00Z",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(none, "");

    // A second start prints no password.
    let again = Command::new(BIN)
        .args(["user", "list", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&again.stdout).contains("shown only this once"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_atomically_under_load_and_keeps_the_old_config_when_invalid() {
    let origin = Origin::start("127.0.0.3").await;
    let text = base_config(&origin);
    let s = start_serve(&text);
    assert_eq!(
        s.cli(
            &[
                "user",
                "add",
                "fred",
                "--tier",
                "filtered",
                "--password-stdin"
            ],
            Some("fred-password\n")
        )
        .0,
        0
    );
    let proxy = s.proxy_url();
    let allowed = format!("http://origin.test:{}/", origin.port());
    eventually("fred can browse", || {
        let (p, u) = (proxy.clone(), allowed.clone());
        async move {
            curl(&["-x", &p, "-U", "fred:fred-password", &u])
                .await
                .status
                == 200
        }
    })
    .await;
    let other = format!("http://other.test:{}/", origin.port());
    assert_eq!(
        curl(&["-x", &proxy, "-U", "fred:fred-password", &other])
            .await
            .status,
        403
    );

    // Load: a keep-alive client requesting the allowed page in a loop while we reload.
    let (host, port) = s.proxy.split_once(':').unwrap();
    let script = format!(
        r#"
import base64, http.client, sys, time
c = http.client.HTTPConnection("{host}", {port}, timeout=30)
auth = "Basic " + base64.b64encode(b"fred:fred-password").decode()
ok = bad = 0
end = time.time() + 4
while time.time() < end:
    c.request("GET", "{allowed}", headers={{"Proxy-Authorization": auth}})
    r = c.getresponse(); r.read()
    if r.status == 200: ok += 1
    else: bad += 1; print("status", r.status, file=sys.stderr)
print(ok, bad)
"#
    );
    let load = std::thread::spawn(move || {
        Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap()
    });
    // Reload several times: with the new list, then an invalid file, then the original.
    let widened = text.edit(
        "domains = [\"allowed.test\", \"origin.test\"]",
        "domains = [\"allowed.test\", \"origin.test\", \"other.test\"]",
    );
    std::fs::write(&s.config, &widened).unwrap();
    s.signal("HUP");
    eventually("the reloaded allow list applies", || {
        let (p, u) = (proxy.clone(), other.clone());
        async move {
            curl(&["-x", &p, "-U", "fred:fred-password", &u])
                .await
                .status
                == 200
        }
    })
    .await;
    std::fs::write(&s.config, "[proxy]\nlisten = 5\n").unwrap();
    s.signal("HUP");
    eventually("the invalid reload is logged", || {
        let e = s.stderr();
        async move { e.contains("the new configuration is invalid; keeping the running one") }
    })
    .await;
    assert!(
        s.stderr()
            .contains("gatehouse.toml:2:10: key `proxy.listen`"),
        "{}",
        s.stderr()
    );
    assert_eq!(
        curl(&["-x", &proxy, "-U", "fred:fred-password", &other])
            .await
            .status,
        200
    );
    std::fs::write(&s.config, &text).unwrap();
    s.signal("HUP");
    eventually("the original allow list applies again", || {
        let (p, u) = (proxy.clone(), other.clone());
        async move {
            curl(&["-x", &p, "-U", "fred:fred-password", &u])
                .await
                .status
                == 403
        }
    })
    .await;
    let out = load.join().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the load client failed: {}\naudit:\n{}\nserve's log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.cli(&["audit", "--limit", "5"], None).1,
        s.stderr()
    );
    let mut counts = summary
        .split_whitespace()
        .map(|n| n.parse::<u64>().unwrap());
    let (ok, bad) = (counts.next().unwrap(), counts.next().unwrap());
    assert!(
        ok > 10,
        "{summary} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(bad, 0, "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_flushes_every_audit_event() {
    let origin = Origin::start("127.0.0.4").await;
    let mut s = start_serve(&base_config(&origin));
    let (proxy, url) = add_ada_and_wait(&s, &origin).await;
    let mut made = 0;
    for i in 0..50 {
        let out = curl(&[
            "-x",
            &proxy,
            "-U",
            "ada:ada-password",
            &format!("{url}n{i}"),
        ])
        .await;
        assert_eq!(out.status, 200);
        made += 1;
    }
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(30)), 0);
    assert!(s.stderr().contains("gatehouse stopped"), "{}", s.stderr());
    let (_, json, _) = s.cli(
        &[
            "audit",
            "--principal",
            "ada",
            "--decision",
            "allow",
            "--format",
            "json",
        ],
        None,
    );
    let paths: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["url"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|u| u.contains("/n"))
        .collect();
    assert_eq!(paths.len(), made, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_up_and_down_streams_in_constant_memory() {
    let _heavy = testkit::gate::heavy();
    let origin = Origin::start("127.0.0.2").await;
    let s = start_serve(&base_config(&origin));
    let (proxy, _) = add_ada_and_wait(&s, &origin).await;
    let before = s.rss_peak_kib();
    const GIB: u64 = 1 << 30;
    let down = format!("http://origin.test:{}/size/{GIB}", origin.port());
    let (p1, d1) = (proxy.clone(), down.clone());
    let got = tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "120",
                "-x",
                &p1,
                "-U",
                "ada:ada-password",
                "-o",
                "/dev/null",
            ])
            .args(["-w", "%{http_code} %{size_download}", &d1])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(got, format!("200 {GIB}"));
    let after_download = s.rss_peak_kib();
    // Upload from a generator (no 1 GiB file on disk): curl reads the body from a pipe, chunked.
    let up = format!("http://origin.test:{}/echo", origin.port());
    let (p2, u2) = (proxy.clone(), up.clone());
    let body = tokio::task::spawn_blocking(move || {
        let mut curl = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "120",
                "-x",
                &p2,
                "-U",
                "ada:ada-password",
                "-X",
                "POST",
                "-T",
                "-",
                &u2,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = curl.stdin.take().unwrap();
        let block = vec![b'u'; 1 << 20];
        for _ in 0..1024 {
            stdin.write_all(&block).unwrap();
        }
        drop(stdin);
        let out = curl.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
    .await
    .unwrap();
    assert!(body.starts_with(&format!("body-bytes: {GIB}\n")), "{body}");
    let peak = s.rss_peak_kib();
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB (before: {before} KiB, after the download: {after_download} KiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_at_most_the_last_second_of_audit_events() {
    let origin = Origin::start("127.0.0.3").await;
    let mut s = start_serve(&base_config(&origin));
    let (proxy, url) = add_ada_and_wait(&s, &origin).await;
    for i in 0..30 {
        let out = curl(&[
            "-x",
            &proxy,
            "-U",
            "ada:ada-password",
            &format!("{url}k{i}"),
        ])
        .await;
        assert_eq!(out.status, 200);
    }
    // Events are committed in batches at least every 250 ms; after a second all are on disk.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.signal("KILL");
    s.wait_exit(Duration::from_secs(10));
    let (_, json, _) = s.cli(&["audit", "--principal", "ada", "--format", "json"], None);
    let kept = json.lines().filter(|l| l.contains("/k")).count();
    assert_eq!(kept, 30, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections_still_open_after_the_grace_period_and_records_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = Origin::start("127.0.0.4").await;
    let text = base_config(&origin).edit("shutdown_grace_secs = 5", "shutdown_grace_secs = 1");
    let mut s = start_serve(&text);
    let _ = add_ada_and_wait(&s, &origin).await;
    // A tunnel that carried one exchange and would otherwise stay open for the tunnel idle timeout.
    let mut t = tokio::net::TcpStream::connect(&s.proxy).await.unwrap();
    let p = origin.port();
    let req = format!(
        "CONNECT origin.test:{p} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {a}\r\n\r\n",
        a = testkit::basic("ada", "ada-password")
    );
    t.write_all(req.as_bytes()).await.unwrap();
    let established = b"HTTP/1.1 200 Connection established\r\nVia: 1.1 gatehouse\r\n\r\n";
    let mut buf = vec![0u8; established.len()];
    testkit::within("the 200", t.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(buf, established);
    let inner = format!("GET /size/200 HTTP/1.1\r\nHost: origin.test:{p}\r\n\r\n");
    t.write_all(inner.as_bytes()).await.unwrap();
    let inner_len =
        "HTTP/1.1 200 OK\r\nContent-Length: 200\r\nContent-Type: application/octet-stream\r\n\r\n"
            .len()
            + 200;
    let mut answer = vec![0u8; inner_len];
    testkit::within("the answer through the tunnel", t.read_exact(&mut answer))
        .await
        .unwrap();
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), 0);
    assert!(
        s.stderr()
            .contains("connections still open after the grace period"),
        "{}",
        s.stderr()
    );
    assert!(
        !s.stderr().contains("are lost") && !s.stderr().contains("may be lost"),
        "{}",
        s.stderr()
    );
    assert!(
        testkit::closed(&mut t, Duration::from_secs(10)).await,
        "the tunnel stayed open"
    );
    // The process flushed the tunnel's event before it exited.
    let (code, json, err) = s.cli(&["audit", "--principal", "ada", "--format", "json"], None);
    assert_eq!(code, 0, "{err}");
    let tunnel: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["method"] == "CONNECT")
        .collect();
    assert_eq!(tunnel.len(), 1, "{json}");
    let e = &tunnel[0];
    assert_eq!(
        (
            e["decision"].as_str(),
            e["status"].as_u64(),
            e["bytes_up"].as_u64(),
            e["bytes_down"].as_u64(),
            e["stage"].as_str(),
            e["error"].as_str()
        ),
        (
            Some("allow"),
            Some(200),
            Some(inner.len() as u64),
            Some(inner_len as u64),
            Some("forward"),
            Some("shutdown")
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_cannot_listen_leaves_no_admin_behind() {
    let origin = Origin::start("127.0.0.2").await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("gatehouse.toml");
    let text = base_config(&origin).replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("new");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen on `127.0.0.1:{port}` (`proxy.listen`)"
        )),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("shown only this once"));
    // No admin was created whose password nobody saw: the next start that works prints one.
    drop(taken);
    let mut s = start_serve_in(&config, &data_dir);
    eventually("the first real start prints the admin password", || {
        let out = s.stdout.lock().unwrap().clone();
        async move { out.contains("shown only this once: ") }
    })
    .await;
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(30)), 0);
}

#[test]
fn the_store_is_private_and_read_only_commands_need_one() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("gatehouse-data");
    let config = tempfile::NamedTempFile::new().unwrap();
    // Reading commands on a directory without a store say so and create nothing.
    for args in [
        &["audit"][..],
        &["user", "list"],
        &["user", "disable", "ada"],
        &["group", "list"],
        &["session", "list"],
        &["session", "end", "--terminal", "t1"],
    ] {
        let (code, _, err) = cli_in(&dir, config.path(), args, None);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains("there is no store at"), "{args:?}: {err}");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
    }
    // Adding creates it, readable by its owner only.
    let (code, _, err) = cli_in(
        &dir,
        config.path(),
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password\n"),
    );
    assert_eq!(code, 0, "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("gatehouse.db")), 0o600);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} is readable by others",
            path.display()
        );
    }
    let (code, out, _) = cli_in(&dir, config.path(), &["user", "list"], None);
    assert_eq!(code, 0);
    assert!(out.contains("ada"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_squid_log_for_rotation() {
    let origin = Origin::start("127.0.0.3").await;
    let s = start_serve(&base_config(&origin));
    let (proxy, url) = add_ada_and_wait(&s, &origin).await;
    let log = s.data_dir.join("access.log");
    let rotated = s.data_dir.join("access.log.1");
    eventually("the first requests are logged", || {
        let log = log.clone();
        async move { std::fs::read_to_string(&log).is_ok_and(|t| !t.is_empty()) }
    })
    .await;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::rename(&log, &rotated).unwrap();
    s.signal("HUP");
    // The reopen happens in the writer, in order with the events: wait until the new file exists.
    eventually("the log is reopened at its path", || {
        let log = log.clone();
        async move { log.exists() }
    })
    .await;
    let after = format!("{url}after-rotation");
    assert_eq!(
        curl(&["-x", &proxy, "-U", "ada:ada-password", &after])
            .await
            .status,
        200
    );
    eventually("the request after the rotation is in the new file", || {
        let log = log.clone();
        async move { std::fs::read_to_string(&log).is_ok_and(|t| t.contains("after-rotation")) }
    })
    .await;
    // Events written before the signal stay in the rotated file, none after it.
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("TCP_MISS/200"), "{old}");
    assert!(!old.contains("after-rotation"), "{old}");
}

#[test]
fn check_config_reports_what_each_list_loaded_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ads.txt"),
        "||ads.test^\n||127.0.0.2^\n||tracker.test^$third-party\nexample.test##.banner\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("plain.txt"), "one.test\ntwo.test\n").unwrap();
    std::fs::write(
        dir.path().join("hosts.txt"),
        "127.0.0.1 localhost\n0.0.0.0 a.test 10.0.0.1\nnot-an-address b.test\n0.0.0.0 1.2.3.4\n\
         0.0.0.0 5.6.7.8 c.test\n0.0.0.0 9.9.9.9\n::1 ip6-localhost ip6-loopback\n",
    )
    .unwrap();
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        "[lists.ads]\nformat = \"adblock\"\npath = \"ads.txt\"\n[lists.plain]\nformat = \"plain\"\npath = \"plain.txt\"\n\
         [lists.hosts]\nformat = \"hosts\"\npath = \"hosts.txt\"\nlenient = true\n",
    )
    .unwrap();
    let out = check_config(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let path = |name: &str| dir.path().join(name).display().to_string();
    assert_eq!(
        text,
        format!(
            "{}: ok (5 domains in 3 categories)\n\
             \x20 list `ads`: 1 domain from `{}`, 3 entries skipped: 1 IP address (line 2), 2 AdBlock rules other than `||domain^` (lines 3, 4)\n\
             \x20 list `hosts`: 2 domains from `{}`, 8 entries skipped: 4 IP addresses (lines 2, 4, 5, …), 3 local names (lines 1, 7), 1 invalid entry (line 3)\n\
             \x20 list `plain`: 2 domains from `{}`\n",
            config.display(),
            path("ads.txt"),
            path("hosts.txt"),
            path("plain.txt"),
        )
    );
}

#[test]
fn a_missing_configuration_file_is_named_by_check_config_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let line = format!(
        "cannot read {}: No such file or directory",
        missing.display()
    );
    let out = check_config(&missing);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("{line}\n"));
    assert!(out.stdout.is_empty());

    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // One line that says what is wrong: the file is not invalid, it is not there.
    assert_eq!(err, format!("gatehouse: error: {line}\n"));
    // Nothing was started: no store was created.
    assert!(!data.join("gatehouse.db").exists());
}
