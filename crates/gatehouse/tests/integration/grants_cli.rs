//! Access requests, reviews, grants, guests and approver scopes through the real binary on a real
//! store: the state machine, separation of duties, two-approval scopes, pending expiry, reuse of
//! an identical grant, bad input, and the audit record of every change.

use std::path::PathBuf;

use gatehouse::store::{AuditQuery, AuditStore, PrincipalStore, Store};

use crate::cli::cli_in;

const CONFIG: &str = r#"
[lists.research]
domains = ["arxiv.org"]

[grants]
pending_expiry = "24h"
max_duration = "8h"

[[grants.scopes]]
scope = "domain:journals.example"
max_duration = "2h"
approvals = 2
"#;

struct Env {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
}

impl Env {
    /// A store with `root` (admin), `ada` and `cy` (users), `lib1` and `lib2` (approvers; `lib2`
    /// through the group `library`), both reviewing `domain:example.org` and
    /// `domain:journals.example`.
    fn new(config: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(&path, config).unwrap();
        let env = Env {
            _dir: dir,
            data,
            config: path,
        };
        for (name, role) in [
            ("root", "admin"),
            ("ada", "user"),
            ("cy", "user"),
            ("lib1", "approver"),
            ("lib2", "approver"),
        ] {
            env.ok(&["user", "add", name, "--tier", "filtered", "--role", role]);
        }
        env.ok(&["group", "add", "library"]);
        env.ok(&["group", "add-member", "library", "lib2"]);
        let scope = ["--scope", "domain:example.org,domain:journals.example"];
        env.ok(&[&["approver", "add", "lib1"][..], &scope].concat());
        env.ok(&[&["approver", "add", "group:library"][..], &scope].concat());
        env
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        cli_in(&self.data, &self.config, args, None)
    }

    /// Run; it must succeed. Its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    }

    /// Run; it must fail. Its error.
    fn fails(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_ne!(code, 0, "{args:?} succeeded: {out}");
        err
    }

    fn ask(&self, who: &str, scope: &str, duration: &str) -> String {
        self.ok(&[
            "request",
            "create",
            "--as",
            who,
            "--scope",
            scope,
            "--duration",
            duration,
            "--purpose",
            "reading for the seminar on tides",
        ])
    }

    fn store(&self) -> Store {
        Store::open_existing(&self.data).unwrap()
    }

    /// `actor action subject` of every recorded action, oldest first.
    fn actions(&self) -> Vec<String> {
        self.store()
            .audit(&AuditQuery::default())
            .unwrap()
            .into_iter()
            .filter(|r| r.method == "ACTION")
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.principal.unwrap_or_default(),
                    r.rule,
                    r.destination
                )
            })
            .collect()
    }
}

/// The id in `… request N …` / `… grant N …` of a command's output.
fn id_after(out: &str, word: &str) -> String {
    out.split_whitespace()
        .skip_while(|w| *w != word)
        .nth(1)
        .unwrap_or_else(|| panic!("no `{word} ID` in {out}"))
        .trim_end_matches(':')
        .to_string()
}

#[test]
fn a_request_is_approved_once_and_becomes_a_grant_that_is_reused() {
    let env = Env::new(CONFIG);
    let out = env.ask("ada", "domain:www.example.org", "1h");
    assert!(out.contains("it needs 1 approval;"), "{out}");
    let id = id_after(&out, "request");
    // Nobody approves their own, a user approves nothing, an approver only in scope.
    let e = env.fails(&["review", "approve", &id, "--as", "ada"]);
    assert!(e.contains("nobody approves their own request"), "{e}");
    let e = env.fails(&["review", "approve", &id, "--as", "cy"]);
    assert!(
        e.contains("`cy` cannot review requests: that needs the role `approver` or `admin`"),
        "{e}"
    );
    let queue = env.ok(&["review", "list", "--as", "lib2"]);
    assert!(
        queue.contains(&format!("request {id}: submitted")),
        "{queue}"
    );
    assert!(
        queue.contains("purpose: reading for the seminar on tides"),
        "{queue}"
    );
    let out = env.ok(&["review", "approve", &id, "--as", "lib1", "--comment", "ok"]);
    assert!(
        out.contains("gives `ada` `domain:www.example.org` until"),
        "{out}"
    );
    let grant = id_after(&out, "grant");
    // Once approved, it cannot be approved (or denied) again.
    let e = env.fails(&["review", "deny", &id, "--as", "lib2", "--comment", "no"]);
    assert!(
        e.contains("a request cannot go from `approved` to `denied`"),
        "{e}"
    );
    // Asking again for the same scope reuses the grant.
    let out = env.ask("ada", "domain:WWW.example.org.", "30m");
    assert!(out.contains(&format!("reused grant {grant}")), "{out}");
    let shown = env.ok(&["grant", "show", &grant]);
    assert!(shown.contains("approved by: lib1"), "{shown}");
    assert!(
        shown.contains("purpose: reading for the seminar on tides"),
        "{shown}"
    );
    let actions = env.actions();
    let tail: Vec<&str> = actions
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            format!("ada request.submit request:{id}"),
            format!("lib1 request.approve request:{id}"),
            format!("lib1 grant.create grant:{grant}"),
        ]
    );
    // Each record is a leaf of the verifiable log, written with it: the tree covers them all, in
    // order, with the hash of what the event says.
    use gatehouse::store::{event_leaf, AuditStore, LogStore};
    let store = env.store();
    let events = store.audit(&Default::default()).unwrap();
    let leaves = store.leaves(0, u64::MAX >> 1).unwrap();
    let recorded: Vec<(i64, auditlog::Hash)> =
        leaves.iter().map(|l| (l.event_id, l.hash)).collect();
    let expected: Vec<(i64, auditlog::Hash)> =
        events.iter().map(|e| (e.id, event_leaf(e))).collect();
    assert_eq!(recorded, expected);
}

#[test]
fn a_two_approval_scope_needs_two_different_approvers() {
    let env = Env::new(CONFIG);
    let out = env.ask("ada", "domain:journals.example", "1h");
    assert!(out.contains("it needs 2 approvals"), "{out}");
    let id = id_after(&out, "request");
    let out = env.ok(&["review", "approve", &id, "--as", "lib1"]);
    assert!(out.contains("1 of 2 approvals"), "{out}");
    let e = env.fails(&["review", "approve", &id, "--as", "lib1"]);
    assert!(e.contains("`lib1` has already reviewed request"), "{e}");
    assert!(
        env.ok(&["grant", "list"]).lines().count() <= 1,
        "no grant yet"
    );
    let out = env.ok(&["review", "approve", &id, "--as", "lib2"]);
    let grant = id_after(&out, "grant");
    let json = env.ok(&["grant", "list", "--format", "json"]);
    let g: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(g["id"].to_string(), grant);
    assert_eq!(g["approvers"], "lib1,lib2");
    assert_eq!(g["state"], "active");
}

#[test]
fn deny_withdraw_and_revoke_end_things_once_and_illegal_moves_are_errors() {
    let env = Env::new(CONFIG);
    let id = id_after(&env.ask("ada", "domain:example.org", "1h"), "request");
    let e = env.fails(&["review", "deny", &id, "--as", "lib1", "--comment", " "]);
    assert!(e.contains("say why the request is denied"), "{e}");
    env.ok(&[
        "review",
        "deny",
        &id,
        "--as",
        "lib1",
        "--comment",
        "use the library copy",
    ]);
    let shown = env.ok(&["request", "show", &id]);
    assert!(shown.contains(&format!("request {id}: denied")), "{shown}");
    assert!(shown.contains("deny by lib1 at"), "{shown}");
    assert!(shown.contains("use the library copy"), "{shown}");
    let e = env.fails(&["review", "approve", &id, "--as", "lib2"]);
    assert!(
        e.contains("a request cannot go from `denied` to `approved`"),
        "{e}"
    );

    let id = id_after(&env.ask("ada", "domain:example.org", "1h"), "request");
    let e = env.fails(&["request", "withdraw", &id, "--as", "cy"]);
    assert!(e.contains("only they (or an admin) can withdraw it"), "{e}");
    env.ok(&["request", "withdraw", &id, "--as", "ada"]);
    let e = env.fails(&["request", "withdraw", &id, "--as", "ada"]);
    assert!(
        e.contains("a request cannot go from `withdrawn` to `withdrawn`"),
        "{e}"
    );
    let e = env.fails(&["review", "approve", &id, "--as", "lib1"]);
    assert!(
        e.contains("a request cannot go from `withdrawn` to `approved`"),
        "{e}"
    );

    let out = env.ok(&[
        "grant",
        "add",
        "--principal",
        "cy",
        "--scope",
        "category:research",
        "--duration",
        "2h",
        "--purpose",
        "the reading group on Fridays",
        "--as",
        "root",
    ]);
    let grant = id_after(&out, "grant");
    let e = env.fails(&["revoke", &grant, "--reason", "done", "--as", "ada"]);
    assert!(e.contains("`ada` cannot revoke grants"), "{e}");
    env.ok(&[
        "revoke",
        &grant,
        "--reason",
        "the group ended",
        "--as",
        "root",
    ]);
    let e = env.fails(&["revoke", &grant, "--reason", "again"]);
    assert!(
        e.contains("a grant cannot go from `revoked` to `revoked`"),
        "{e}"
    );
    let all = env.ok(&["grant", "list", "--all"]);
    assert!(all.contains("revoked"), "{all}");
    let actions = env.actions();
    for expected in [
        "lib1 request.deny",
        "ada request.withdraw",
        "root grant.create",
        "root grant.revoke",
    ] {
        assert!(
            actions.iter().any(|a| a.starts_with(expected)),
            "{expected}: {actions:?}"
        );
    }
}

#[test]
fn bad_requests_are_refused_with_a_clear_message_and_change_nothing() {
    let env = Env::new(CONFIG);
    let before = env.actions().len();
    let create = |scope: &str, duration: &str, purpose: &str| {
        env.fails(&[
            "request",
            "create",
            "--as",
            "ada",
            "--scope",
            scope,
            "--duration",
            duration,
            "--purpose",
            purpose,
        ])
    };
    let e = create("domain:example.org", "1h", "");
    assert!(e.contains("the purpose `` is too short"), "{e}");
    let e = create("domain:example.org", "1h", "research");
    assert!(e.contains("the purpose `research` is too short"), "{e}");
    let e = create("domain:example.org", "9h", "reading for the seminar");
    assert!(
        e.contains("`9h` is longer than the 8h a grant of `domain:example.org` may last"),
        "{e}"
    );
    let e = create("domain:journals.example", "3h", "reading for the seminar");
    assert!(e.contains("is longer than the 2h"), "{e}");
    let e = create("category:nope", "1h", "reading for the seminar");
    assert!(e.contains("`category:nope` names no category"), "{e}");
    let e = create("tier:gold", "1h", "reading for the seminar");
    assert!(e.contains("`tier:gold` names no tier"), "{e}");
    let e = create("example.org", "1h", "reading for the seminar");
    assert!(e.contains("`example.org` is not `domain:NAME`"), "{e}");
    let e = create("domain:example.org", "soon", "reading for the seminar");
    assert!(e.contains("`soon` is not a duration"), "{e}");
    let e = env.fails(&[
        "request",
        "create",
        "--as",
        "nobody",
        "--scope",
        "domain:example.org",
        "--duration",
        "1h",
        "--purpose",
        "reading for the seminar",
    ]);
    assert!(e.contains("no principal named `nobody`"), "{e}");
    assert_eq!(env.actions().len(), before, "nothing was recorded");
    assert!(env.ok(&["request", "list"]).lines().count() <= 1);
}

#[test]
fn a_pending_request_expires_unreviewed() {
    let env = Env::new(&CONFIG.replace("pending_expiry = \"24h\"", "pending_expiry = \"1s\""));
    let id = id_after(&env.ask("ada", "domain:example.org", "1h"), "request");
    // The CLI reads the system clock: wait out the second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let e = env.fails(&["review", "approve", &id, "--as", "lib1"]);
    assert!(
        e.contains(&format!("request {id} expired unreviewed at")),
        "{e}"
    );
    assert!(env
        .ok(&["request", "show", &id])
        .contains(&format!("request {id}: expired")));
    assert!(env
        .ok(&["review", "list", "--as", "lib1"])
        .contains("no requests wait for you"));
    assert!(env
        .actions()
        .iter()
        .any(|a| a == &format!("gatehouse request.expire request:{id}")));
}

#[test]
fn a_guest_has_a_sponsor_an_expiry_and_a_grant_for_the_stay() {
    let env = Env::new(CONFIG);
    let e = env.fails(&[
        "guest",
        "add",
        "visitor",
        "--sponsor",
        "ada",
        "--scope",
        "domain:example.org",
        "--expires",
        "3d",
    ]);
    assert!(e.contains("`ada` cannot sponsor guests"), "{e}");
    let out = env.ok(&[
        "guest",
        "add",
        "visitor",
        "--sponsor",
        "lib1",
        "--scope",
        "domain:example.org",
        "--expires",
        "3d",
        "--purpose",
        "visiting researcher from Leiden",
    ]);
    assert!(
        out.contains("added the guest `visitor` (tier none), sponsored by `lib1`"),
        "{out}"
    );
    assert!(
        out.contains("password for `visitor` (shown once): "),
        "{out}"
    );
    let list = env.ok(&["guest", "list"]);
    assert!(
        list.contains("visitor") && list.contains("lib1") && list.contains("enabled"),
        "{list}"
    );
    let grants = env.ok(&["grant", "list", "--principal", "visitor"]);
    assert!(grants.contains("domain:example.org"), "{grants}");
    assert!(!env.store().principal("visitor").unwrap().disabled);
    let approvers = env.ok(&["approver", "list"]);
    assert!(approvers.contains("group:library"), "{approvers}");
    env.ok(&[
        "approver",
        "remove",
        "lib1",
        "--scope",
        "domain:journals.example,domain:example.org",
    ]);
    assert!(!env.ok(&["approver", "list"]).contains("lib1"));
}
