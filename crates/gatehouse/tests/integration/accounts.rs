//! Accounts through the real binary while `serve` runs: `user delete` (the principal is refused
//! at once, its audit trail stays), `user set-role`, `group delete`, the refusal to remove the last
//! enabled admin, and the password minimum of `user add` and `user passwd`. Each change moves the
//! running gateway's principals generation (`/metrics`) within a second.

use std::time::Duration;

use testkit::{base_config, curl, Origin};

use crate::cli::{eventually, start_serve, Serve};

/// The running gateway's `gatehouse_principals_generation`.
async fn gateway_generation(s: &Serve) -> i64 {
    let out = curl(&[&format!("http://{}/metrics", s.admin)]).await;
    out.text()
        .lines()
        .find_map(|l| l.strip_prefix("gatehouse_principals_generation "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Run a CLI command that must succeed, then wait until the gateway has loaded a newer generation.
async fn change_and_wait(s: &Serve, args: &[&str]) -> String {
    let before = gateway_generation(s).await;
    let (code, out, err) = s.cli(args, None);
    assert_eq!(code, 0, "{args:?}: {err}");
    eventually(
        &format!("the gateway notices `{}`", args.join(" ")),
        || async move { gateway_generation(s).await > before },
    )
    .await;
    out
}

/// Run a CLI command that must fail; its standard error.
fn refused(s: &Serve, args: &[&str], stdin: Option<&str>) -> String {
    let (code, out, err) = s.cli(args, stdin);
    assert_ne!(code, 0, "{args:?} was accepted: {out}");
    err
}

fn user_json(s: &Serve, name: &str) -> Option<serde_json::Value> {
    let (code, json, err) = s.cli(&["user", "list", "--format", "json"], None);
    assert_eq!(code, 0, "{err}");
    json.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|u| u["name"] == name)
}

async fn started(origin: &Origin) -> Serve {
    let s = start_serve(&base_config(origin));
    eventually("the first start created `admin`", || {
        let out = s.stdout.lock().unwrap().clone();
        async move { out.contains("shown only this once: ") }
    })
    .await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_is_refused_at_once_and_keeps_their_audit_trail() {
    let origin = Origin::start("127.0.0.2").await;
    let mut s = started(&origin).await;
    let (code, _, err) = s.cli(
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.cli(&["group", "add", "staff"], None).0, 0);
    assert_eq!(s.cli(&["group", "add-member", "staff", "ada"], None).0, 0);
    let proxy = s.proxy_url();
    let url = format!("http://origin.test:{}/before-delete", origin.port());
    eventually("ada can browse", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", "ada:ada-password", &u]).await.status == 200 }
    })
    .await;

    let out = change_and_wait(&s, &["user", "delete", "ada"]).await;
    assert!(out.contains("deleted the principal `ada`"), "{out}");
    let after = curl(&["-x", &proxy, "-U", "ada:ada-password", &url]).await;
    assert_eq!(after.status, 407);
    assert!(user_json(&s, "ada").is_none());
    let (_, groups, _) = s.cli(&["group", "list", "--format", "json"], None);
    let staff: serde_json::Value = serde_json::from_str(groups.trim()).unwrap();
    assert_eq!(staff, serde_json::json!({ "name": "staff", "members": [] }));
    let err = refused(&s, &["user", "delete", "ada"], None);
    assert!(err.contains("no principal named `ada`"), "{err}");

    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(30)), 0);
    let (code, json, err) = s.cli(&["audit", "--principal", "ada", "--format", "json"], None);
    assert_eq!(code, 0, "{err}");
    let kept: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        kept.iter()
            .any(|e| e["status"] == 200 && e["url"].as_str().unwrap().ends_with("/before-delete")),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_change_and_the_last_enabled_admin_stays() {
    let origin = Origin::start("127.0.0.3").await;
    let s = started(&origin).await;
    assert_eq!(user_json(&s, "admin").unwrap()["role"], "admin");
    let last = "`admin` is the last enabled admin";
    for args in [
        &["user", "delete", "admin"][..],
        &["user", "set-role", "admin", "user"],
        &["user", "disable", "admin"],
    ] {
        let err = refused(&s, args, None);
        assert!(err.contains(last), "{args:?}: {err}");
    }
    let admin = user_json(&s, "admin").unwrap();
    assert_eq!(
        (&admin["role"], &admin["disabled"]),
        (&"admin".into(), &false.into())
    );

    let (code, _, err) = s.cli(&["user", "add", "bob", "--tier", "none"], None);
    assert_eq!(code, 0, "{err}");
    let out = change_and_wait(&s, &["user", "set-role", "bob", "admin"]).await;
    assert!(
        out.contains("the principal `bob` now has the role admin"),
        "{out}"
    );
    // Two admins: either may step down, not both.
    change_and_wait(&s, &["user", "set-role", "admin", "user"]).await;
    assert_eq!(user_json(&s, "admin").unwrap()["role"], "user");
    let err = refused(&s, &["user", "delete", "bob"], None);
    assert!(err.contains("`bob` is the last enabled admin"), "{err}");
    change_and_wait(&s, &["user", "delete", "admin"]).await;
    assert!(user_json(&s, "admin").is_none());
    let err = refused(&s, &["user", "set-role", "bob", "owner"], None);
    assert!(err.contains("invalid value 'owner'"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_group_takes_its_memberships_and_the_gateway_notices() {
    let origin = Origin::start("127.0.0.4").await;
    let s = started(&origin).await;
    for name in ["ada", "bob"] {
        assert_eq!(s.cli(&["user", "add", name, "--tier", "open"], None).0, 0);
    }
    for group in ["staff", "ops"] {
        assert_eq!(s.cli(&["group", "add", group], None).0, 0);
    }
    for (group, member) in [("staff", "ada"), ("staff", "bob"), ("ops", "ada")] {
        assert_eq!(s.cli(&["group", "add-member", group, member], None).0, 0);
    }
    assert_eq!(
        user_json(&s, "ada").unwrap()["groups"],
        serde_json::json!(["ops", "staff"])
    );
    let out = change_and_wait(&s, &["group", "delete", "staff"]).await;
    assert!(out.contains("deleted the group `staff`"), "{out}");
    assert_eq!(
        user_json(&s, "ada").unwrap()["groups"],
        serde_json::json!(["ops"])
    );
    assert_eq!(
        user_json(&s, "bob").unwrap()["groups"],
        serde_json::json!([])
    );
    let (_, list, _) = s.cli(&["group", "list"], None);
    assert!(!list.contains("staff") && list.contains("ops"), "{list}");
    // An empty group's deletion is a change too.
    assert_eq!(s.cli(&["group", "add", "empty"], None).0, 0);
    change_and_wait(&s, &["group", "delete", "empty"]).await;
    let err = refused(&s, &["group", "delete", "staff"], None);
    assert!(err.contains("no group named `staff`"), "{err}");
    let err = refused(&s, &["group", "add-member", "staff", "ada"], None);
    assert!(err.contains("no group named `staff`"), "{err}");
    // Every change was recorded as the command line's, as the portal's are.
    let (_, trail, _) = s.cli(&["audit", "--format", "json"], None);
    let actions: Vec<(String, String, String)> = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["decision"] == "action" && e["principal"] == "cli")
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (field("rule"), field("destination"), field("url"))
        })
        .collect();
    let has = |action: &str, subject: &str, detail: &str| {
        actions
            .iter()
            .any(|(a, s, d)| a == action && s == subject && d.contains(detail))
    };
    assert!(has("group.create", "group:staff", ""), "{actions:#?}");
    assert!(
        has("principal.update", "principal:ada", "groups=ops,staff"),
        "{actions:#?}"
    );
    assert!(
        has("group.delete", "group:staff", "ada,bob"),
        "{actions:#?}"
    );
    assert!(has("group.delete", "group:empty", ""), "{actions:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_shorter_than_ten_characters_are_refused() {
    let origin = Origin::start("127.0.0.2").await;
    let s = started(&origin).await;
    let add = ["user", "add", "carol", "--tier", "open", "--password-stdin"];
    for (short, chars) in [("nine-char", 9), ("ééééééééé", 9), ("x", 1)] {
        let err = refused(&s, &add, Some(&format!("{short}\n")));
        assert!(
            err.contains(&format!(
                "the password is too short: it has {chars} characters, the minimum is 10"
            )),
            "{err}"
        );
        assert!(!err.contains(short), "the password was echoed: {err}");
    }
    assert!(user_json(&s, "carol").is_none());
    // Ten characters are enough, however many bytes they take.
    let (code, _, err) = s.cli(&add, Some("éééééééééé\n"));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = s.cli(
        &["user", "passwd", "carol", "--password-stdin"],
        Some("carol-pass\n"),
    );
    assert_eq!(code, 0, "{err}");
    let proxy = s.proxy_url();
    let url = format!("http://origin.test:{}/", origin.port());
    eventually("carol can browse with her new password", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", "carol:carol-pass", &u]).await.status == 200 }
    })
    .await;
    let updated = user_json(&s, "carol").unwrap()["updated_at"].clone();
    let err = refused(
        &s,
        &["user", "passwd", "carol", "--password-stdin"],
        Some("too-short\n"),
    );
    assert!(
        err.contains("it has 9 characters, the minimum is 10"),
        "{err}"
    );
    // The refused change changed nothing.
    assert_eq!(user_json(&s, "carol").unwrap()["updated_at"], updated);
    assert_eq!(
        curl(&["-x", &proxy, "-U", "carol:carol-pass", &url])
            .await
            .status,
        200
    );
    assert_eq!(
        curl(&["-x", &proxy, "-U", "carol:too-short", &url])
            .await
            .status,
        407
    );
    // Generated passwords need no check and are shown once.
    let (code, out, err) = s.cli(&["user", "passwd", "carol"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("shown only this once"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_minimum_is_the_configured_one() {
    let origin = Origin::start("127.0.0.2").await;
    let s = started(&origin).await;
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(
        &strict,
        format!(
            "{}\n[accounts]\nmin_password_length = 16\n",
            base_config(&origin)
        ),
    )
    .unwrap();
    let add = ["user", "add", "dora", "--tier", "open", "--password-stdin"];
    let (code, _, err) = super::cli::cli_in(&s.data_dir, &strict, &add, Some("fifteen-chars!!\n"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the password is too short: it has 15 characters, the minimum is 16"),
        "{err}"
    );
    assert!(user_json(&s, "dora").is_none());
    let (code, _, err) = super::cli::cli_in(&s.data_dir, &strict, &add, Some("sixteen-chars!!!\n"));
    assert_eq!(code, 0, "{err}");
    assert!(user_json(&s, "dora").is_some());
    // A generated password is never shorter than the minimum a chosen one must reach.
    let strictest = dir.path().join("strictest.toml");
    std::fs::write(
        &strictest,
        format!(
            "{}\n[accounts]\nmin_password_length = 32\n",
            base_config(&origin)
        ),
    )
    .unwrap();
    let (code, out, err) = super::cli::cli_in(
        &s.data_dir,
        &strictest,
        &["user", "add", "erin", "--tier", "open"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("its password, shown only this once: "))
        .unwrap_or_else(|| panic!("no password in {out}"));
    assert_eq!(generated.chars().count(), 32, "{out}");
}
