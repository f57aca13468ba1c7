//! The verifiable audit log's reader side, with the real binary: `gatehouse audit verify` over a
//! real store file (untouched, then each kind of tampering: an edited field, a deleted row, an
//! inserted row, two swapped rows, a tail cut after a checkpoint, a replaced key — each caught and
//! the event named); exports and proofs checked in a fresh directory with nothing but the public
//! key; an inclusion proof checked by an independent RFC 9162 implementation written here with
//! `blake3` directly; a consistency proof across a restart; retention by hand and in the
//! background (the injected clock), after which what stays verifies and the pruning is recorded.
//!
//! Checkpoints are signed with `store::sign_checkpoint` and the data directory's key
//! (`logkey::load_or_create`), as the gateway's writer does on its schedule.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use base64::Engine;
use gatehouse::clock::ManualClock;
use gatehouse::config::Config;
use gatehouse::logkey;
use gatehouse::server::{Server, ServerOptions};
use gatehouse::store::{sign_checkpoint, AuditRow, AuditStore, LogStore, Store};
use policy::Tier;
use testkit::{base_config, curl, Gateway, Origin};

use crate::cli::BIN;

/// Run the binary with `args` (and `--data-dir DATA` when given) in `cwd`: code, stdout, stderr.
fn run(data: Option<&Path>, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG");
    if let Some(data) = data {
        cmd.arg("--data-dir").arg(data);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `gatehouse audit verify` over the store in `data`.
fn verify(data: &Path) -> (i32, String) {
    let (code, out, err) = run(Some(data), &["audit", "verify"], data);
    (code, format!("{out}{err}"))
}

fn us(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

/// Event `n`: a request by ada to `site<n>.test`, at `day` plus `n` seconds.
fn event(n: i64, day: &str) -> AuditRow {
    AuditRow {
        ts_us: us(&format!("{day}T00:00:00Z")) + n * 1_000_000,
        principal: Some("ada".into()),
        client: "127.0.0.1:4000".into(),
        method: "GET".into(),
        destination: format!("site{n}.test:80"),
        url: Some(format!("http://site{n}.test/")),
        decision: "allow".into(),
        rule: "tier-open".into(),
        status: 200,
        bytes_down: 100 + n as u64,
        stage: "done".into(),
        ..AuditRow::default()
    }
}

/// A store of 23 events: leaves 0–9 on 2020-01-01 and a checkpoint signed on 2020-01-02 (size
/// 10), leaves 10–19 on 2020-02-01 and a checkpoint on 2020-02-02 (size 20), then 3 events not
/// yet covered by a checkpoint. Event ids are leaf numbers + 1.
fn store_with_checkpoints() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let signer = logkey::load_or_create(dir.path()).unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    for (batch, day) in [(0, "2020-01-01"), (1, "2020-02-01")] {
        let rows: Vec<AuditRow> = (1..=10).map(|i| event(batch * 10 + i, day)).collect();
        store.append_audit(&rows[..4]).unwrap();
        store.append_audit(&rows[4..]).unwrap();
        let signed_at = us(&format!("{}-02T00:00:00Z", &day[..7]));
        assert!(sign_checkpoint(&mut store, &signer, signed_at)
            .unwrap()
            .is_some());
    }
    store
        .append_audit(&[
            event(21, "2020-03-01"),
            event(22, "2020-03-01"),
            event(23, "2020-03-01"),
        ])
        .unwrap();
    dir
}

/// Change the store file behind gatehouse's back.
fn tamper(data: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(data.join("gatehouse.db")).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn assert_caught(data: &Path, expected: &[&str]) {
    let (code, out) = verify(data);
    assert_eq!(code, 1, "{out}");
    for e in expected {
        assert!(out.contains(e), "expected `{e}` in:\n{out}");
    }
}

#[test]
fn an_untouched_store_verifies_with_its_own_key_and_with_the_printed_one() {
    let dir = store_with_checkpoints();
    let (code, out) = verify(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("audit log verified: 23 events (leaves 0..23), 2 checkpoints"),
        "{out}"
    );
    assert!(out.contains("the newest 3 events are not covered"), "{out}");
    let (code, key, err) = run(Some(dir.path()), &["audit", "pubkey"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(key.starts_with("gatehouse/audit/"), "{key}");
    let (code, out, _) = run(
        Some(dir.path()),
        &["audit", "verify", "--pubkey", key.trim()],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    // The listing works as before, beside the new subcommands.
    let (code, list, err) = run(
        Some(dir.path()),
        &[
            "audit",
            "--principal",
            "ada",
            "--limit",
            "2",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(list.lines().count(), 2, "{list}");
}

#[test]
fn an_edited_field_is_named_by_its_event() {
    let dir = store_with_checkpoints();
    tamper(
        dir.path(),
        "UPDATE audit_events SET destination = 'elsewhere.test:80' WHERE id = 5",
    );
    assert_caught(
        dir.path(),
        &[
            "edited: event 5 (leaf 4) was changed",
            "the first: edited at event 5",
        ],
    );
}

#[test]
fn an_edit_that_rewrites_the_stored_leaf_hash_too_is_caught_by_the_signed_root() {
    let dir = store_with_checkpoints();
    tamper(
        dir.path(),
        "UPDATE audit_events SET status = 404 WHERE id = 14",
    );
    let store = Store::open(dir.path()).unwrap();
    let edited = store
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .find(|e| e.id == 14)
        .unwrap();
    let hash = gatehouse::store::event_leaf(&edited);
    let conn = rusqlite::Connection::open(dir.path().join("gatehouse.db")).unwrap();
    conn.execute(
        "UPDATE audit_leaves SET hash = ?1 WHERE event_id = 14",
        [hash.0.to_vec()],
    )
    .unwrap();
    assert_caught(
        dir.path(),
        &[
            "edited: the events of leaves 10..20 (from event 11) do not give the root signed at size 20",
        ],
    );
}

#[test]
fn a_deleted_row_is_named_whether_its_leaf_stays_or_goes() {
    let dir = store_with_checkpoints();
    tamper(dir.path(), "DELETE FROM audit_events WHERE id = 7");
    assert_caught(
        dir.path(),
        &[
            "removed: event 7 (leaf 6) was deleted",
            "the first: removed at event 7",
        ],
    );
    let dir = store_with_checkpoints();
    tamper(
        dir.path(),
        "DELETE FROM audit_events WHERE id = 7; DELETE FROM audit_leaves WHERE leaf = 6",
    );
    assert_caught(
        dir.path(),
        &["removed: leaves 6..7 and their events are gone (after event 6, before event 8)"],
    );
}

#[test]
fn an_inserted_row_is_named() {
    let dir = store_with_checkpoints();
    tamper(
        dir.path(),
        "INSERT INTO audit_events (ts_us, client, method, destination, decision, rule, status,
            bytes_up, bytes_down, duration_us, stage)
         VALUES (1577836805000000, '127.0.0.1:1', 'GET', 'alibi.test:80', 'allow', 'tier-open',
            200, 0, 0, 0, 'done')",
    );
    assert_caught(
        dir.path(),
        &[
            "inserted: event 24 has no leaf",
            "the first: inserted at event 24",
        ],
    );
}

#[test]
fn two_swapped_rows_are_named_as_reordered() {
    let dir = store_with_checkpoints();
    tamper(
        dir.path(),
        "UPDATE audit_events SET id = -3 WHERE id = 3;
         UPDATE audit_events SET id = 3 WHERE id = 4;
         UPDATE audit_events SET id = 4 WHERE id = -3;",
    );
    assert_caught(
        dir.path(),
        &[
            "reordered: event 3 (leaf 2) holds what was recorded at leaf 3",
            "reordered: event 4 (leaf 3) holds what was recorded at leaf 2",
            "the first: reordered at event 3",
        ],
    );
}

#[test]
fn a_tail_cut_after_a_checkpoint_is_named() {
    let dir = store_with_checkpoints();
    tamper(
        dir.path(),
        "DELETE FROM audit_events WHERE id > 15; DELETE FROM audit_leaves WHERE leaf >= 15",
    );
    assert_caught(
        dir.path(),
        &["tail cut: the log ends at leaf 14 (event 15), but a checkpoint was signed for 20 leaves"],
    );
}

#[test]
fn a_replaced_key_is_named() {
    let dir = store_with_checkpoints();
    let (_, old_key, _) = run(Some(dir.path()), &["audit", "pubkey"], dir.path());
    std::fs::remove_file(logkey::key_path(dir.path())).unwrap();
    logkey::load_or_create(dir.path()).unwrap();
    assert_caught(
        dir.path(),
        &[
            "wrong key: 2 of 2 checkpoints (the first of size 10) are not signed by the key",
            "the first: wrong key at event 1",
        ],
    );
    // With the key the log was signed with, it verifies.
    let (code, out, _) = run(
        Some(dir.path()),
        &["audit", "verify", "--pubkey", old_key.trim()],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
}

/// Sign a checkpoint of the gateway's log now, with its data directory's key; the size of the
/// newest checkpoint then (the gateway's own schedule may have signed the same tree first).
fn sign_now(data: &Path) -> u64 {
    let signer = logkey::load_or_create(data).unwrap();
    let mut store = Store::open(data).unwrap();
    let now = jiff::Timestamp::now().as_microsecond();
    if let Ok(Some(c)) = sign_checkpoint(&mut store, &signer, now) {
        return c.size;
    }
    let newest = store.latest_checkpoint().unwrap().unwrap().size;
    assert_eq!(
        newest,
        store.tree_size().unwrap(),
        "nothing signed the tail"
    );
    newest
}

/// `n` requests by ada through the gateway, then wait until their events are committed.
async fn browse(gw: &Gateway, origin: &Origin, n: usize) {
    for i in 0..n {
        let url = format!("http://origin.test:{}/page{i}", origin.port());
        let out = curl(&["-x", &gw.proxy_url(), "-U", "ada:ada-password", &url]).await;
        assert_eq!(out.status, 200);
    }
    gw.flush_audit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_verifies_on_its_own_in_a_fresh_directory_and_a_changed_line_is_caught() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-password").await;
    browse(&gw, &origin, 4).await;
    sign_now(gw.data_path());
    browse(&gw, &origin, 3).await;
    let covered = sign_now(gw.data_path());
    browse(&gw, &origin, 2).await;
    let data = gw.data_path().to_path_buf();
    let export = data.join("export.jsonl");
    let out_arg = export.to_str().unwrap();
    let (code, _, err) = run(
        Some(&data),
        &[
            "audit",
            "export",
            "--since",
            "2000-01-01",
            "--format",
            "jsonl",
            "--output",
            out_arg,
        ],
        &data,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exported"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&export).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "an export holds people's records");
    }
    let exported = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"event\""))
        .count();
    assert!(exported as u64 >= covered, "{exported} {covered}");
    let (_, key, _) = run(Some(&data), &["audit", "pubkey"], &data);
    let key = key.trim().to_string();

    // Elsewhere: a fresh directory, no store, no configuration.
    let fresh = tempfile::tempdir().unwrap();
    let copy = fresh.path().join("export.jsonl");
    std::fs::copy(&export, &copy).unwrap();
    let check = |file: &Path| {
        run(
            None,
            &[
                "audit",
                "verify",
                "--file",
                file.to_str().unwrap(),
                "--pubkey",
                &key,
            ],
            fresh.path(),
        )
    };
    let (code, out, err) = check(&copy);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "export verified: {exported} events (leaves 0..{exported})"
        )),
        "{out}"
    );
    let left: Vec<_> = std::fs::read_dir(fresh.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "verifying an export created files: {left:?}");

    // One event line changed: caught, with the range it falls in.
    let text = std::fs::read_to_string(&copy).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let changed = lines[3].replace("/page2", "/elsewhere");
    assert_ne!(changed, lines[3]);
    let mut edited = lines.clone();
    edited[3] = &changed;
    std::fs::write(&copy, edited.join("\n") + "\n").unwrap();
    let (code, out, _) = check(&copy);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("edited: the events of leaves 0.."), "{out}");

    // Two lines swapped, one removed: named.
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    std::fs::write(&copy, swapped.join("\n") + "\n").unwrap();
    let (code, out, _) = check(&copy);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reordered: line 3"), "{out}");
    let mut removed = lines.clone();
    removed.remove(2);
    std::fs::write(&copy, removed.join("\n") + "\n").unwrap();
    let (code, out, _) = check(&copy);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("removed: line 3 (event 3): the line of leaf 1 is missing"),
        "{out}"
    );
    assert!(!out.contains("tail cut"), "{out}");

    // Another key: refused.
    let other = logkey::load_or_create(fresh.path())
        .unwrap()
        .verifier()
        .to_string();
    std::fs::copy(&export, &copy).unwrap();
    let (code, out, _) = run(
        None,
        &[
            "audit",
            "verify",
            "--file",
            copy.to_str().unwrap(),
            "--pubkey",
            &other,
        ],
        fresh.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("wrong key"), "{out}");

    // An export from a later time starts at a later leaf and still verifies (the header's
    // frontier carries the tree below it).
    let fifth = &gw.audit()[4];
    let since = jiff::Timestamp::from_microsecond(fifth.ts_us)
        .unwrap()
        .to_string();
    let (code, _, err) = run(
        Some(&data),
        &["audit", "export", "--since", &since, "--output", out_arg],
        &data,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = check(&export);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(leaves 4.."), "{out}");
    gw.shutdown().await;
}

fn blake3_of(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    *h.finalize().as_bytes()
}

/// The leaf hash of an event, from its JSON fields, as `docs/audit-log.md` specifies it:
/// `H(0x00 || d)` with `d` the format line and each field absent (`0xFF`) or present (`0x00`,
/// 4-byte big-endian length, UTF-8 text; numbers in decimal). Written here from the document,
/// not with the code under test.
fn independent_leaf(event: &serde_json::Value) -> [u8; 32] {
    let mut d = b"gatehouse-audit-event/1\n".to_vec();
    for name in [
        "ts_us",
        "principal",
        "tried_principal",
        "client",
        "method",
        "destination",
        "url",
        "decision",
        "rule",
        "status",
        "bytes_up",
        "bytes_down",
        "duration_us",
        "stage",
        "error",
        "terminal",
        "location",
        "session_id",
        "groups",
        "tier",
        "policy_version",
        "role",
        "revoked_by",
        "grant_id",
    ] {
        let text = match &event[name] {
            serde_json::Value::Null => {
                d.push(0xFF);
                continue;
            }
            serde_json::Value::String(s) => s.clone(),
            n => n.to_string(),
        };
        d.push(0);
        d.extend_from_slice(&(text.len() as u32).to_be_bytes());
        d.extend_from_slice(text.as_bytes());
    }
    blake3_of(&[&[0], &d])
}

/// RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or `None` when its length is wrong.
fn independent_root(index: u64, size: u64, leaf: [u8; 32], path: &[[u8; 32]]) -> Option<[u8; 32]> {
    let (mut fnode, mut snode, mut r) = (index, size - 1, leaf);
    for p in path {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = blake3_of(&[&[1], p, &r]);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = blake3_of(&[&[1], &r, p]);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(r)
}

fn b64(text: &str) -> [u8; 32] {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
        .try_into()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inclusion_proof_checks_out_with_an_independent_rfc_9162_implementation() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-password").await;
    browse(&gw, &origin, 7).await;
    let size = sign_now(gw.data_path());
    let data = gw.data_path().to_path_buf();
    let events = gw.audit();
    assert_eq!(events.len() as u64, size);
    for (leaf, event) in events.iter().enumerate() {
        let id = event.id.to_string();
        let (code, proof, err) = run(Some(&data), &["audit", "prove", "--event", &id], &data);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&proof).unwrap();
        assert_eq!(v["leaf"], leaf as u64);
        assert_eq!(v["event"]["destination"], event.destination.as_str());
        let hash = independent_leaf(&v["event"]);
        assert_eq!(hash, b64(v["leaf_hash"].as_str().unwrap()));
        let note = v["checkpoint"].as_str().unwrap();
        let body: Vec<&str> = note.lines().collect();
        assert_eq!(body[1], size.to_string());
        let path: Vec<[u8; 32]> = v["inclusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| b64(h.as_str().unwrap()))
            .collect();
        assert_eq!(
            independent_root(leaf as u64, size, hash, &path),
            Some(b64(body[2])),
            "leaf {leaf}"
        );
    }

    // The same proof, checked by `verify --proof` elsewhere; and a changed event is refused.
    let (_, key, _) = run(Some(&data), &["audit", "pubkey"], &data);
    let fresh = tempfile::tempdir().unwrap();
    let file = fresh.path().join("proof.json");
    let id = events[2].id.to_string();
    let (_, proof, _) = run(Some(&data), &["audit", "prove", "--event", &id], &data);
    std::fs::write(&file, &proof).unwrap();
    let check = || {
        run(
            None,
            &[
                "audit",
                "verify",
                "--proof",
                "proof.json",
                "--pubkey",
                key.trim(),
            ],
            fresh.path(),
        )
    };
    let (code, out, err) = check();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("proof verified: event {id} is leaf 2 of the log")),
        "{out}"
    );
    std::fs::write(&file, proof.replace("/page2", "/page9")).unwrap();
    let (code, out, _) = check();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("edited: event {id}")), "{out}");
    gw.shutdown().await;
}

/// Start a gateway on `config` and `data` (the same entry point as the binary).
async fn start_on(config: &Path, data: &Path) -> Server {
    Server::start(ServerOptions {
        config: Config::from_file(config).unwrap(),
        config_path: Some(config.to_path_buf()),
        data_dir: data.to_path_buf(),
        clock: Arc::new(gatehouse::clock::SystemClock),
    })
    .await
    .unwrap()
}

/// `n` requests by ada through `server`, then wait until their events are committed.
async fn browse_via(server: &Server, origin: &Origin, n: usize) {
    let proxy = format!("http://{}", server.proxy_addr());
    for i in 0..n {
        let url = format!("http://origin.test:{}/r{i}", origin.port());
        let out = curl(&["-x", &proxy, "-U", "ada:ada-password", &url]).await;
        assert_eq!(out.status, 200);
    }
    server.gateway().audit.flush().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consistency_proof_holds_across_a_restart() {
    let origin = Origin::start("127.0.0.2").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("gatehouse.toml"), dir.path().join("data"));
    std::fs::write(&config, base_config(&origin)).unwrap();
    let first = start_on(&config, &data).await;
    let hash = gatehouse::identity::hash_password("ada-password").unwrap();
    gatehouse::store::PrincipalStore::add_principal(
        &Store::open(&data).unwrap(),
        "ada",
        gatehouse::store::Role::User,
        Tier::Open,
        &hash,
    )
    .unwrap();
    let proxy = format!("http://{}", first.proxy_addr());
    let url = format!("http://origin.test:{}/", origin.port());
    crate::cli::eventually("ada can browse", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", "ada:ada-password", &u]).await.status == 200 }
    })
    .await;
    browse_via(&first, &origin, 5).await;
    let old = sign_now(&data);
    first.shutdown().await;

    let second = start_on(&config, &data).await;
    browse_via(&second, &origin, 6).await;
    let new = sign_now(&data);
    second.shutdown().await;
    assert!(new > old, "{old} {new}");

    let (_, key, _) = run(Some(&data), &["audit", "pubkey"], dir.path());
    let old_arg = old.to_string();
    let new_arg = new.to_string();
    for args in [
        vec!["audit", "prove", "--consistency", &old_arg],
        vec![
            "audit",
            "prove",
            "--consistency",
            &old_arg,
            "--to",
            &new_arg,
        ],
    ] {
        let (code, proof, err) = run(Some(&data), &args, dir.path());
        assert_eq!(code, 0, "{err}");
        let file = dir.path().join("consistency.json");
        std::fs::write(&file, &proof).unwrap();
        let check = || {
            run(
                None,
                &[
                    "audit",
                    "verify",
                    "--proof",
                    file.to_str().unwrap(),
                    "--pubkey",
                    key.trim(),
                ],
                dir.path(),
            )
        };
        let (code, out, err) = check();
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!("at size {new} extends its state at size {old}")),
            "{out}"
        );
        // A proof with one hash changed shows nothing.
        let mut v: serde_json::Value = serde_json::from_str(&proof).unwrap();
        v["consistency"][0] =
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        std::fs::write(&file, v.to_string()).unwrap();
        let (code, out, _) = check();
        assert_eq!(code, 1, "{out}");
    }
    let (code, out) = verify(&data);
    assert_eq!(code, 0, "{out}");
}

/// The `audit.prune` events in the store.
fn prune_events(data: &Path) -> Vec<AuditRow> {
    Store::open(data)
        .unwrap()
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.rule == "audit.prune")
        .collect()
}

#[test]
fn prune_by_hand_keeps_what_stays_verifiable_and_records_itself() {
    let dir = store_with_checkpoints();
    let data = dir.path();
    // The checkpoint of size 20 was signed on 2020-02-02: pruning before 2020-02-01 stops at the
    // one of size 10 (signed 2020-01-02).
    let (code, out, err) = run(
        Some(data),
        &["audit", "prune", "--before", "2020-02-01"],
        data,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("pruned leaves 0..10 (10 events older than 2020-02-01T00:00:00Z); the log now starts at leaf 10"),
        "{out}"
    );
    let (code, out) = verify(data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified: 14 events (leaves 10..24)"), "{out}");
    let pruned = prune_events(data);
    assert_eq!(pruned.len(), 1);
    let detail = pruned[0].url.as_deref().unwrap();
    assert_eq!(
        detail,
        "pruned leaves 0..10 (10 events older than 2020-02-01T00:00:00Z)"
    );
    assert!(pruned[0].destination.starts_with("log:gatehouse/audit/"));
    assert_eq!(pruned[0].client, "cli");
    let left = Store::open(data)
        .unwrap()
        .audit(&Default::default())
        .unwrap();
    assert_eq!(left.len(), 14);
    assert!(left.iter().all(|e| e.ts_us >= us("2020-02-01T00:00:00Z")));
    // Nothing more to prune before the same date; the events left can still be proven.
    let (_, out, _) = run(
        Some(data),
        &["audit", "prune", "--before", "2020-02-01"],
        data,
    );
    assert!(out.contains("nothing to prune"), "{out}");
    sign_checkpoint(
        &mut Store::open(data).unwrap(),
        &logkey::load(data).unwrap(),
        us("2020-03-02T00:00:00Z"),
    )
    .unwrap()
    .unwrap();
    let (code, proof, err) = run(Some(data), &["audit", "prove", "--event", "11"], data);
    assert_eq!(code, 0, "{err}");
    std::fs::write(data.join("p.json"), proof).unwrap();
    let (_, key, _) = run(Some(data), &["audit", "pubkey"], data);
    let (code, out, err) = run(
        None,
        &[
            "audit",
            "verify",
            "--proof",
            "p.json",
            "--pubkey",
            key.trim(),
        ],
        data,
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(Some(data), &["audit", "prove", "--consistency", "20"], data);
    assert_eq!(code, 0, "{out}{err}");
    // The pruning point's own checkpoint still can be: the frontier kept there gives the
    // subtrees below it that the proof needs.
    let (code, _, err) = run(Some(data), &["audit", "prove", "--consistency", "10"], data);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        Some(data),
        &["audit", "export", "--output", "e.jsonl"],
        data,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        None,
        &[
            "audit",
            "verify",
            "--file",
            "e.jsonl",
            "--pubkey",
            key.trim(),
        ],
        data,
    );
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_days_prunes_at_start_by_the_injected_clock() {
    let origin = Origin::start("127.0.0.2").await;
    let dir = store_with_checkpoints();
    let data = dir.path().to_path_buf();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("gatehouse.toml");
    std::fs::write(
        &config,
        base_config(&origin).replace("[audit]\n", "[audit]\nretention_days = 30\n"),
    )
    .unwrap();
    // 2020-03-03 minus 30 days is 2020-02-02: the checkpoint of size 20, signed at exactly that
    // moment, is not before the cut-off; the one of size 10 is.
    let clock = ManualClock::new("2020-03-03T00:00:00Z".parse().unwrap());
    let server = Server::start(ServerOptions {
        config: Config::from_file(&config).unwrap(),
        config_path: Some(config.clone()),
        data_dir: data.clone(),
        clock,
    })
    .await
    .unwrap();
    crate::cli::eventually("the gateway pruned at start", || {
        let found = !prune_events(&data).is_empty();
        async move { found }
    })
    .await;
    server.shutdown().await;
    let pruned = prune_events(&data);
    assert_eq!(pruned.len(), 1);
    assert_eq!(pruned[0].ts_us, us("2020-03-03T00:00:00Z"));
    assert_eq!(pruned[0].principal.as_deref(), Some("gatehouse"));
    assert_eq!(
        pruned[0].url.as_deref(),
        Some("pruned leaves 0..10 (10 events older than 2020-02-02T00:00:00Z)")
    );
    let (code, out) = verify(&data);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(leaves 10.."), "{out}");
}

#[test]
fn retention_days_out_of_range_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.toml");
    std::fs::write(&file, "[audit]\nretention_days = 0\n").unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("g.toml:2") && err.contains("audit.retention_days"),
        "{err}"
    );
    assert!(
        err.contains("`0` is not a number of days from 1 to 36500"),
        "{err}"
    );
}

#[test]
fn the_subcommands_have_help_take_the_common_options_either_side_and_refuse_listing_filters() {
    for sub in ["verify", "export", "prove", "pubkey", "prune"] {
        let out = Command::new(BIN)
            .args(["audit", sub, "--help"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{sub}");
        assert!(
            text.contains(&format!("Usage: gatehouse audit {sub}")),
            "{text}"
        );
    }
    let dir = store_with_checkpoints();
    let data = dir.path().to_str().unwrap();
    let (code, out, err) = run(None, &["audit", "--data-dir", data, "verify"], dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(
        Some(dir.path()),
        &["audit", "--principal", "ada", "verify"],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("the listing options"), "{err}");
    // A data directory without a store is named, and nothing is created in it.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(Some(empty.path()), &["audit", "verify"], empty.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("audit log key") || err.contains("no store"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_while_the_gateway_records_and_prunes_sees_one_consistent_log() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-password").await;
    browse(&gw, &origin, 3).await;
    sign_now(gw.data_path());
    let data = gw.data_path().to_path_buf();
    // A bounded client loop appends events while `verify`, checkpoints and a prune run.
    let proxy = gw.proxy_url();
    let url = format!("http://origin.test:{}/busy", origin.port());
    let load = tokio::spawn(async move {
        for _ in 0..60 {
            let out = curl(&["-x", &proxy, "-U", "ada:ada-password", &url]).await;
            assert_eq!(out.status, 200);
        }
    });
    for round in 0..6 {
        let d = data.clone();
        let (code, out) = tokio::task::spawn_blocking(move || verify(&d))
            .await
            .unwrap();
        assert_eq!(code, 0, "round {round}: {out}");
        sign_now(&data);
        if round == 3 {
            // Everything up to the newest checkpoint, while events keep coming.
            let d = data.clone();
            let cutoff = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
            let (code, out, err) = tokio::task::spawn_blocking(move || {
                run(Some(&d), &["audit", "prune", "--before", &cutoff], &d)
            })
            .await
            .unwrap();
            assert_eq!(code, 0, "{out}{err}");
            assert!(out.contains("pruned leaves 0.."), "{out}");
        }
    }
    load.await.unwrap();
    gw.flush_audit().await;
    let (code, out) = verify(&data);
    assert_eq!(code, 0, "{out}");
    assert_eq!(prune_events(&data).len(), 1);
    gw.shutdown().await;
}
