//! Real clients through the gateway, against real local servers: git (dumb HTTP clone), pip
//! (PEP 503 index and a wheel), Python `requests` (keep-alive, POST, HTTPS through CONNECT) and
//! headless Chromium driven by Playwright (a page, a refusal page, an HTTPS page). Each test checks
//! what the person running the client would check, and that the audit trail shows the requests under
//! the principal.
//!
//! Every process a test starts is in its own process group, killed when the test lets go of it, and
//! every client run has a time limit. The clients are told about the proxy only on their command
//! line or in their script; proxy variables inherited from the environment are removed, so nothing
//! but the gateway and the loopback servers is ever contacted.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse::store::AuditRow;
use policy::Tier;
use testkit::Edit;
use testkit::{base_config, Gateway, Origin, TlsOrigin};

const PW: &str = "pw";

/// Variables that would send a client somewhere other than where the test says.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A child process leading its own process group. Dropping it kills the whole group (the child and
/// anything it started: git's remote helper, Chromium's processes) unless the child was already
/// reaped after exiting on its own.
struct Group {
    child: Option<Child>,
}

impl Group {
    fn spawn(cmd: &mut Command) -> Group {
        use std::os::unix::process::CommandExt;
        for v in PROXY_VARS {
            cmd.env_remove(v);
        }
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Group { child: Some(child) }
    }

    /// Kill the group, then reap the leader. The leader is not reaped before the group is killed, so
    /// the group id still names only this test's processes.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a client run printed and how it ended.
pub(crate) struct Ran {
    what: String,
    pub(crate) ok: bool,
    code: Option<i32>,
    pub(crate) stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} exited {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

/// Run a client to completion on a blocking thread, with its output in files (no pipe can fill
/// up), killing its whole process group if it is still running after `limit`.
pub(crate) async fn run(mut cmd: Command, limit: Duration) -> Ran {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let out_path = dir.path().join("stdout");
        let err_path = dir.path().join("stderr");
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap());
        let what = format!("{cmd:?}");
        let mut g = Group::spawn(&mut cmd);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = g.child.as_mut().unwrap().try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() >= deadline {
                g.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let ran = Ran {
            what,
            ok: status.is_some_and(|s| s.success()),
            code: status.and_then(|s| s.code()),
            stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        };
        assert!(status.is_some(), "timed out after {limit:?}: {ran:?}");
        ran
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Start a long-running helper that prints its port on its first line of output; wait for that
/// line at most 30 s. Its standard error goes to `stderr` (shown if it does not start).
fn start_printing_port(cmd: &mut Command, stderr: &Path) -> (Group, u16) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap());
    let mut g = Group::spawn(cmd);
    let stdout = g.child.as_mut().unwrap().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let errors = || std::fs::read_to_string(stderr).unwrap_or_default();
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{cmd:?} printed no port within 30 s\n{}", errors()));
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{cmd:?} printed {line:?}, not a port\n{}", errors()));
    (g, port)
}

/// A static file server (Python's `http.server`, HTTP/1.1 keep-alive) serving `root` on `ip`, port 0.
/// Every request line it answers is appended to a log file, so tests can tell what reached it.
struct FileServer {
    port: u16,
    log: PathBuf,
    _group: Group,
}

const FILE_SERVER: &str = r#"
import functools, http.server, sys
root, ip, log = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, fmt, *args):
        with open(log, "a") as f:
            f.write(self.requestline + "\n")
s = http.server.ThreadingHTTPServer((ip, 0), functools.partial(H, directory=root))
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

impl FileServer {
    fn start(ip: &str, root: &Path, log_dir: &Path) -> FileServer {
        let log = log_dir.join("file-server.log");
        std::fs::write(&log, "").unwrap();
        let (group, port) = start_printing_port(
            Command::new("python3")
                .args(["-c", FILE_SERVER])
                .arg(root)
                .arg(ip)
                .arg(&log),
            &log_dir.join("file-server.stderr"),
        );
        FileServer {
            port,
            log,
            _group: group,
        }
    }

    /// The request lines answered so far, in order.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway helpers
// ---------------------------------------------------------------------------------------------

/// The base configuration plus `files.test` (for servers started next to `origin`, on its address)
/// in the static hosts table and on the `research` allow list.
fn files_config(origin: &Origin) -> String {
    let base = base_config(origin);
    let ip = origin.addr.ip();
    let text = base
        .edit(
            "hosts = { ",
            &format!(r#"hosts = {{ "files.test" = ["{ip}"], "#),
        )
        .edit(
            r#"domains = ["allowed.test", "origin.test"]"#,
            r#"domains = ["allowed.test", "origin.test", "files.test"]"#,
        );
    assert_eq!(
        text.matches("files.test").count(),
        2,
        "base_config changed shape: {text}"
    );
    text
}

/// `http://user:pw@127.0.0.1:PORT`
fn proxy_with_credentials(gw: &Gateway, user: &str) -> String {
    format!("http://{user}:{PW}@{}", gw.proxy)
}

/// Poll the audit trail (bounded: 15 s) until `done` holds for it; return it either way, so the
/// caller's assertions show what was there.
async fn audit_until(gw: &Gateway, done: impl Fn(&[AuditRow]) -> bool) -> Vec<AuditRow> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        gw.flush_audit().await;
        let rows = gw.audit();
        if done(&rows) || Instant::now() >= deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by<'a>(rows: &'a [AuditRow], principal: &str) -> Vec<&'a AuditRow> {
    rows.iter()
        .filter(|r| r.principal.as_deref() == Some(principal))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------------------------

/// A git command that reads no user or system configuration and never prompts.
fn git(home: &Path) -> Command {
    let mut c = Command::new("git");
    c.env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    c
}

async fn git_ok(home: &Path, args: &[&str]) -> Ran {
    let mut c = git(home);
    c.args(args);
    let ran = run(c, Duration::from_secs(60)).await;
    assert!(ran.ok, "{ran:?}");
    ran
}

const README: &str = "cloned through the gatehouse\n";

/// `<dir>/srv/repo.git`: a bare repository with two commits, prepared for the dumb HTTP protocol.
async fn make_served_repo(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    let s = src.to_str().unwrap();
    git_ok(dir, &["init", "-q", "-b", "main", s]).await;
    std::fs::write(src.join("README.txt"), "first\n").unwrap();
    let id = ["-c", "user.name=Test", "-c", "user.email=test@localhost"];
    git_ok(dir, &["-C", s, "add", "README.txt"]).await;
    git_ok(
        dir,
        &[&id[..], &["-C", s, "commit", "-q", "-m", "first"]].concat(),
    )
    .await;
    std::fs::write(src.join("README.txt"), README).unwrap();
    std::fs::create_dir(src.join("docs")).unwrap();
    std::fs::write(src.join("docs/notes.txt"), "a second file\n").unwrap();
    git_ok(dir, &["-C", s, "add", "."]).await;
    git_ok(
        dir,
        &[&id[..], &["-C", s, "commit", "-q", "-m", "second"]].concat(),
    )
    .await;
    let bare = dir.join("srv/repo.git");
    git_ok(dir, &["clone", "-q", "--bare", s, bare.to_str().unwrap()]).await;
    git_ok(dir, &["-C", bare.to_str().unwrap(), "update-server-info"]).await;
    bare
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_clones_over_dumb_http_through_the_proxy() {
    let origin = Origin::start("127.0.0.3").await;
    let gw = Gateway::start(&files_config(&origin)).await;
    gw.add_user("ada", Tier::Open, PW).await;
    let dir = tempfile::tempdir().unwrap();
    make_served_repo(dir.path()).await;
    let server = FileServer::start("127.0.0.3", &dir.path().join("srv"), dir.path());

    let dest = dir.path().join("dest");
    let url = format!("http://files.test:{}/repo.git", server.port);
    let mut c = git(dir.path());
    c.arg("-c")
        .arg(format!("http.proxy={}", proxy_with_credentials(&gw, "ada")))
        .args(["clone", &url])
        .arg(&dest);
    let ran = run(c, Duration::from_secs(120)).await;
    assert!(ran.ok, "{ran:?}");

    // What the person checks: the files and the history arrived.
    assert_eq!(
        std::fs::read_to_string(dest.join("README.txt")).unwrap(),
        README
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("docs/notes.txt")).unwrap(),
        "a second file\n"
    );
    let log = git_ok(
        dir.path(),
        &["-C", dest.to_str().unwrap(), "log", "--format=%s"],
    )
    .await;
    assert_eq!(log.stdout, "second\nfirst\n");
    let remote = git_ok(
        dir.path(),
        &["-C", dest.to_str().unwrap(), "remote", "get-url", "origin"],
    )
    .await;
    assert_eq!(remote.stdout.trim(), url);

    // The dumb protocol went through: the server answered git's requests...
    let served = server.requests();
    assert!(
        served
            .iter()
            .any(|l| l.starts_with("GET /repo.git/info/refs?service=git-upload-pack ")),
        "{served:#?}"
    );
    assert!(
        served
            .iter()
            .any(|l| l.starts_with("GET /repo.git/objects/")),
        "{served:#?}"
    );
    // ...and each of them is in the audit trail under ada, allowed.
    let rows = audit_until(&gw, |rows| by(rows, "ada").len() >= served.len()).await;
    let ada = by(&rows, "ada");
    assert_eq!(ada.len(), served.len(), "{rows:#?}\nserved: {served:#?}");
    for r in &ada {
        assert_eq!(r.decision, "allow", "{r:?}");
        assert_eq!(r.method, "GET", "{r:?}");
        assert_eq!(
            r.destination,
            format!("files.test:{}", server.port),
            "{r:?}"
        );
    }
    assert!(
        ada.iter().any(|r| r.url.as_deref()
            == Some(&*format!("{url}/info/refs?service=git-upload-pack"))
            && r.status == 200),
        "{ada:#?}"
    );
    // Anything else in the trail is a 407 challenge (git tries without credentials first).
    for r in rows.iter().filter(|r| r.principal.is_none()) {
        assert_eq!((r.status, r.rule.as_str()), (407, "auth-required"), "{r:?}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_clone_off_the_allow_list_is_refused_with_403() {
    let origin = Origin::start("127.0.0.3").await;
    let gw = Gateway::start(&files_config(&origin)).await;
    gw.add_user("fred", Tier::Filtered, PW).await;
    let dir = tempfile::tempdir().unwrap();
    make_served_repo(dir.path()).await;
    let server = FileServer::start("127.0.0.3", &dir.path().join("srv"), dir.path());

    // other.test resolves to the same server, but is on no list of the filtered tier.
    let dest = dir.path().join("dest");
    let url = format!("http://other.test:{}/repo.git", server.port);
    let mut c = git(dir.path());
    c.arg("-c")
        .arg(format!(
            "http.proxy={}",
            proxy_with_credentials(&gw, "fred")
        ))
        .args(["clone", &url])
        .arg(&dest);
    let ran = run(c, Duration::from_secs(120)).await;
    assert!(!ran.ok, "the clone should have failed: {ran:?}");
    assert!(ran.stderr.contains("403"), "{ran:?}");
    assert!(!dest.join("README.txt").exists());
    assert_eq!(
        server.requests(),
        Vec::<String>::new(),
        "nothing may reach the server"
    );

    let rows = audit_until(&gw, |rows| !by(rows, "fred").is_empty()).await;
    let fred = by(&rows, "fred");
    assert!(!fred.is_empty(), "{rows:#?}");
    for r in &fred {
        assert_eq!(
            (r.decision.as_str(), r.rule.as_str(), r.status),
            ("deny", "filtered-default", 403),
            "{r:?}"
        );
        assert_eq!(r.destination, format!("other.test:{}", server.port));
    }
    assert!(fred
        .iter()
        .any(|r| r.url.as_deref() == Some(&*format!("{url}/info/refs?service=git-upload-pack"))));
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// pip
// ---------------------------------------------------------------------------------------------

const WHEEL: &str = "demo_pkg-1.0-py3-none-any.whl";

/// Builds `<root>/packages/<WHEEL>` by hand and a PEP 503 index for it under `<root>/simple/`.
const MAKE_INDEX: &str = r#"
import base64, hashlib, os, sys, zipfile
root, wheel = sys.argv[1], sys.argv[2]
files = {
    "demo_pkg/__init__.py": b'GREETING = "installed through the gatehouse"\n',
    "demo_pkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\nSummary: a test package\n",
    "demo_pkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join("%s,%s,%d\n" % (n, digest(d), len(d)) for n, d in files.items())
record += "demo_pkg-1.0.dist-info/RECORD,,\n"
files["demo_pkg-1.0.dist-info/RECORD"] = record.encode()
os.makedirs(os.path.join(root, "packages"))
path = os.path.join(root, "packages", wheel)
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    for n, d in files.items():
        z.writestr(n, d)
sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
os.makedirs(os.path.join(root, "simple", "demo-pkg"))
with open(os.path.join(root, "simple", "index.html"), "w") as f:
    f.write('<!DOCTYPE html><html><body><a href="demo-pkg/">demo-pkg</a></body></html>\n')
with open(os.path.join(root, "simple", "demo-pkg", "index.html"), "w") as f:
    f.write('<!DOCTYPE html><html><body><a href="../../packages/%s#sha256=%s">%s</a></body></html>\n' % (wheel, sha, wheel))
print(sha)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pip_downloads_a_wheel_from_a_local_index_through_the_proxy() {
    let origin = Origin::start("127.0.0.4").await;
    let gw = Gateway::start(&files_config(&origin)).await;
    gw.add_user("ada", Tier::Open, PW).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    let mut c = Command::new("python3");
    c.args(["-c", MAKE_INDEX]).arg(&root).arg(WHEEL);
    let made = run(c, Duration::from_secs(60)).await;
    assert!(made.ok, "{made:?}");
    let sha = made.stdout.trim().to_string();
    let server = FileServer::start("127.0.0.4", &root, dir.path());

    let out = dir.path().join("out");
    let index = format!("http://files.test:{}/simple/", server.port);
    let mut c = Command::new("python3");
    // No configuration file and no inherited PIP_* settings (a find-links directory, another
    // index): pip's only source is the local index, and its only connection is to the proxy.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PIP_") {
            c.env_remove(k);
        }
    }
    c.env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .args([
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--no-cache-dir",
            "--retries",
            "0",
            "--timeout",
            "30",
            "-d",
        ])
        .arg(&out)
        .args(["--index-url", &index, "--trusted-host", "files.test"])
        .args(["--proxy", &proxy_with_credentials(&gw, "ada"), "demo-pkg"]);
    let ran = run(c, Duration::from_secs(180)).await;
    assert!(ran.ok, "{ran:?}");
    assert!(ran.stdout.contains("Saved"), "{ran:?}");

    // The wheel landed, byte for byte what the index served.
    let got = out.join(WHEEL);
    assert!(got.exists(), "{ran:?}");
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(root.join("packages").join(WHEEL)).unwrap()
    );
    let mut c = Command::new("python3");
    c.args([
        "-c",
        "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
    ])
    .arg(&got);
    assert_eq!(run(c, Duration::from_secs(30)).await.stdout.trim(), sha);

    let served = server.requests();
    assert!(
        served
            .iter()
            .any(|l| l.starts_with("GET /simple/demo-pkg/ ")),
        "{served:#?}"
    );
    assert!(
        served
            .iter()
            .any(|l| l.starts_with(&format!("GET /packages/{WHEEL} "))),
        "{served:#?}"
    );
    // Every request pip made is in the audit trail under ada, and went to the local index only.
    let rows = audit_until(&gw, |rows| by(rows, "ada").len() >= served.len()).await;
    let ada = by(&rows, "ada");
    assert_eq!(ada.len(), served.len(), "{rows:#?}\nserved: {served:#?}");
    assert_eq!(rows.len(), ada.len(), "only ada's requests: {rows:#?}");
    for r in &ada {
        assert_eq!(
            (r.decision.as_str(), r.method.as_str(), r.status),
            ("allow", "GET", 200),
            "{r:?}"
        );
        assert_eq!(
            r.destination,
            format!("files.test:{}", server.port),
            "{r:?}"
        );
    }
    let wheel_url = format!("http://files.test:{}/packages/{WHEEL}", server.port);
    let wheel_len = std::fs::metadata(&got).unwrap().len();
    assert!(
        ada.iter()
            .any(|r| r.url.as_deref() == Some(&*wheel_url) && r.bytes_down == wheel_len),
        "{ada:#?}"
    );
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Python requests
// ---------------------------------------------------------------------------------------------

const REQUESTS_SCRIPT: &str = r#"
import json, sys
try:
    import requests
except ImportError as e:
    print(json.dumps({"missing": str(e)}), flush=True)
    sys.exit(3)
cfg = json.loads(sys.argv[1])
proxies = {"http": cfg["proxy"], "https": cfg["proxy"]}
out = {"gets": []}
with requests.Session() as s:
    s.trust_env = False
    s.proxies = proxies
    for i in range(3):
        r = s.get("http://origin.test:%d/r%d" % (cfg["port"], i), proxies=proxies, timeout=30)
        out["gets"].append({"status": r.status_code, "text": r.text, "via": r.headers.get("Via")})
    body = "name=ada&note=" + "x" * 5000
    r = s.post("http://origin.test:%d/echo" % cfg["port"], data=body,
               headers={"Content-Type": "application/x-www-form-urlencoded"}, proxies=proxies, timeout=30)
    out["post"] = {"status": r.status_code, "text": r.text, "sent": len(body)}
    r = s.get("http://ads.test:%d/banner" % cfg["port"], proxies=proxies, timeout=30)
    out["refused"] = {"status": r.status_code, "text": r.text,
                      "rule": r.headers.get("X-Gatehouse-Rule"),
                      "decision": r.headers.get("X-Gatehouse-Decision")}
    r = s.get("https://origin.test:%d/tls" % cfg["tls_port"], proxies=proxies, verify=cfg["cert"], timeout=30)
    out["https"] = {"status": r.status_code, "text": r.text}
print(json.dumps(out), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_session_keeps_alive_posts_and_tunnels_tls() {
    let mut c = Command::new("python3");
    c.args(["-c", "import requests"]);
    let probe = run(c, Duration::from_secs(30)).await;
    assert!(
        probe.ok,
        "python3 cannot import `requests`: .ci/run must `pip install requests` \
         (python3 -m pip install requests) before the tests run\n{probe:?}"
    );

    let origin = Origin::start("127.0.0.2").await;
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsOrigin::start("127.0.0.2", dir.path(), "origin.test");
    let text = base_config(&origin).edit(
        "connect_ports = [443, ",
        &format!("connect_ports = [443, {}, ", tls.port),
    );
    assert!(text.contains(&format!("[443, {}, ", tls.port)), "{text}");
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, PW).await;

    let cfg = serde_json::json!({
        "proxy": proxy_with_credentials(&gw, "ada"),
        "port": origin.port(),
        "tls_port": tls.port,
        "cert": tls.cert,
    });
    let mut c = Command::new("python3");
    c.args(["-c", REQUESTS_SCRIPT]).arg(cfg.to_string());
    let ran = run(c, Duration::from_secs(120)).await;
    assert!(ran.ok, "{ran:?}");
    let out: serde_json::Value =
        serde_json::from_str(ran.stdout.trim()).expect("JSON from the script");

    for g in out["gets"].as_array().unwrap() {
        assert_eq!(g["status"], 200, "{out}");
        assert_eq!(g["text"], "hello from origin\n", "{out}");
        assert!(
            g["via"].as_str().unwrap_or("").contains("gatehouse"),
            "{out}"
        );
    }
    assert_eq!(out["gets"].as_array().unwrap().len(), 3);
    let post = &out["post"];
    assert_eq!(post["status"], 200, "{out}");
    let echoed = post["text"].as_str().unwrap();
    assert!(
        echoed.starts_with(&format!("body-bytes: {}\n", post["sent"])),
        "{echoed}"
    );
    assert!(
        echoed.starts_with("body-bytes: 5014\nPOST /echo HTTP/1.1\r\n"),
        "{echoed}"
    );
    assert!(
        echoed.contains("Content-Type: application/x-www-form-urlencoded\r\n"),
        "{echoed}"
    );
    assert!(
        !echoed.to_ascii_lowercase().contains("proxy-authorization"),
        "credentials leaked to the origin: {echoed}"
    );
    let refused = &out["refused"];
    assert_eq!(refused["status"], 403, "{out}");
    assert_eq!(refused["rule"], "global-deny:ads", "{out}");
    assert_eq!(refused["decision"], "deny", "{out}");
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("refused by rule: global-deny:ads"),
        "{out}"
    );
    assert_eq!(out["https"]["status"], 200, "{out}");
    assert_eq!(out["https"]["text"], "hello over tls\n", "{out}");

    // Keep-alive: three GETs and the POST reached the origin over one connection.
    assert_eq!(origin.requests(), 4, "{}", origin.seen());
    assert_eq!(origin.connections(), 1, "{}", origin.seen());

    // The audit trail: every request under ada, the plain ones over one client connection.
    let rows = audit_until(&gw, |rows| rows.iter().any(|r| r.method == "CONNECT")).await;
    let ada = by(&rows, "ada");
    assert_eq!(
        ada.len(),
        rows.len(),
        "requests sends credentials up front: {rows:#?}"
    );
    assert_eq!(ada.len(), 6, "{rows:#?}");
    let plain: Vec<_> = ada.iter().filter(|r| r.method != "CONNECT").collect();
    for (r, path) in plain.iter().zip(["/r0", "/r1", "/r2", "/echo", "/banner"]) {
        assert!(r.url.as_deref().unwrap_or("").ends_with(path), "{r:?}");
    }
    for r in &plain[..4] {
        assert_eq!((r.decision.as_str(), r.status), ("allow", 200), "{r:?}");
    }
    assert_eq!(plain[3].method, "POST");
    assert_eq!(plain[3].bytes_up, 5014, "{:?}", plain[3]);
    assert_eq!(
        (
            plain[4].decision.as_str(),
            plain[4].rule.as_str(),
            plain[4].status
        ),
        ("deny", "global-deny:ads", 403)
    );
    assert!(
        plain[..4].iter().all(|r| r.client == plain[0].client),
        "one client connection for the session: {plain:#?}"
    );
    let tunnel = ada.iter().find(|r| r.method == "CONNECT").unwrap();
    assert_eq!(tunnel.destination, format!("origin.test:{}", tls.port));
    assert_eq!(tunnel.decision, "allow");
    assert!(
        tunnel.bytes_up > 100 && tunnel.bytes_down > 100,
        "{tunnel:?}"
    );
    gw.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium through Playwright
// ---------------------------------------------------------------------------------------------

pub(crate) fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_through_playwright() {
    let _heavy = testkit::gate::heavy();
    let browser = browser_dir();
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: .ci/run must `apt-get install -y chromium` (after apt-get update)"
    );
    assert!(
        browser
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing: .ci/run must run `npm ci` in tests/browser"
    );

    let origin = Origin::start("127.0.0.2").await;
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsOrigin::start("127.0.0.2", dir.path(), "origin.test");
    let text = base_config(&origin).edit(
        "connect_ports = [443, ",
        &format!("connect_ports = [443, {}, ", tls.port),
    );
    assert!(text.contains(&format!("[443, {}, ", tls.port)), "{text}");
    let gw = Gateway::start(&text).await;
    // Filtered: only origin.test and allowed.test are reachable, so anything else the browser
    // might try on its own is refused by name, before any lookup.
    gw.add_user("ada", Tier::Filtered, PW).await;

    let profile = dir.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let shot = dir.path().join("refused.png");
    let p = origin.port();
    let allowed = format!("http://origin.test:{p}/welcome");
    let refused = format!("http://other.test:{p}/secret");
    let secure = format!("https://origin.test:{}/tls", tls.port);
    let cfg = serde_json::json!({
        "executablePath": CHROMIUM,
        "proxy": gw.proxy_url(),
        "username": "ada",
        "password": PW,
        "userDataDir": profile,
        "pages": [
            {"name": "allowed", "url": allowed},
            {"name": "refused", "url": refused, "screenshot": shot},
            {"name": "https", "url": secure},
        ],
    });
    let mut c = Command::new("node");
    c.arg(browser.join("through_gateway.mjs"))
        .arg(cfg.to_string())
        .current_dir(&browser)
        .env("HOME", dir.path());
    let ran = run(c, Duration::from_secs(180)).await;
    assert!(ran.ok, "{ran:?}");
    let out: serde_json::Value = serde_json::from_str(ran.stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no JSON from the script ({e}): {ran:?}"));
    let pages = out["pages"].as_array().unwrap();
    let page = |name: &str| pages.iter().find(|p| p["name"] == name).unwrap().clone();

    let a = page("allowed");
    assert_eq!(a["error"], serde_json::Value::Null, "{out}");
    assert_eq!(a["status"], 200, "{out}");
    assert_eq!(
        a["text"].as_str().unwrap().trim(),
        "hello from origin",
        "{out}"
    );

    let r = page("refused");
    assert_eq!(r["error"], serde_json::Value::Null, "{out}");
    assert_eq!(r["status"], 403, "{out}");
    assert_eq!(r["title"], "gatehouse: access refused", "{out}");
    let text = r["text"].as_str().unwrap();
    for want in [
        "403 — access refused",
        "refused by rule\tfiltered-default",
        &format!("destination\tother.test:{p}"),
        "principal\tada",
        "tier\tfiltered",
    ] {
        assert!(text.contains(want), "{want:?} not in the page:\n{text}");
    }
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "{}",
        png.len()
    );
    if let Ok(keep) = std::env::var("GATEHOUSE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let s = page("https");
    assert_eq!(s["error"], serde_json::Value::Null, "{out}");
    assert_eq!(s["status"], 200, "{out}");
    assert_eq!(
        s["text"].as_str().unwrap().trim(),
        "hello over tls",
        "{out}"
    );

    // The audit trail shows the pages under ada (after the browser's first, unauthenticated try).
    let rows = audit_until(&gw, |rows| {
        by(rows, "ada").iter().any(|r| r.method == "CONNECT")
    })
    .await;
    let ada = by(&rows, "ada");
    assert!(
        ada.iter().any(|r| r.url.as_deref() == Some(&*allowed)
            && (r.decision.as_str(), r.status) == ("allow", 200)),
        "{rows:#?}"
    );
    assert!(
        ada.iter().any(|r| r.url.as_deref() == Some(&*refused)
            && (r.decision.as_str(), r.rule.as_str(), r.status)
                == ("deny", "filtered-default", 403)),
        "{rows:#?}"
    );
    assert!(
        ada.iter().any(|r| r.method == "CONNECT"
            && r.destination == format!("origin.test:{}", tls.port)
            && r.decision == "allow"),
        "{rows:#?}"
    );
    for r in rows.iter().filter(|r| r.principal.is_none()) {
        assert_eq!((r.status, r.rule.as_str()), (407, "auth-required"), "{r:?}");
    }
    gw.shutdown().await;
}
