//! The authorisation matrix of the portal's API, generated from its OpenAPI document: the test
//! fetches `/api/v1/openapi.json` from the real gateway's portal and, for every operation in it ×
//! {anonymous, the user, another user, an approver in scope, an approver out of scope, an admin},
//! sends the request and checks the status its `x-gatehouse-access` class promises (`public`,
//! `self`, `reviewer`, `admin`; `docs/portal.md`), what a successful answer holds (only one's own
//! records in a `self` list; in-scope requests only in a reviewer's list; the look recorded), and
//! that every refused call changed nothing in the store and recorded nothing. Every state-changing
//! operation is also sent without `X-CSRF-Token`, with another session's token, from a foreign
//! `Origin` and with `Sec-Fetch-Site: cross-site`: each refused, with nothing changed.
//!
//! Path parameters and bodies come from [`CASES`], keyed by `operationId`. An operation without an
//! `x-gatehouse-access` extension, or without an entry here (except a parameterless `GET` of class
//! `admin` or `public`, which is checked generically), fails the test with a message saying what to
//! add, so an operation added later is covered once it is listed. State-changing operations get a
//! fresh object per actor. The whole matrix (operation × actor → status) is printed on failure.

use std::cell::Cell;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse::clock::ManualClock;
use gatehouse::identity::hash_password;
use gatehouse::store::{
    AccountStore, Actor, AuditQuery, AuditStore, GrantStore, NewGrant, NewRequest, PrincipalStore,
    Role, Submitted,
};
use policy::Tier;
use serde_json::Value;
use testkit::{exchange, Gateway, Origin, Reply};

use crate::grants::{get, now, other, scope, start, CLI, PW};
use crate::portal::{actions, json_body, Visitor};

/// The six callers of the matrix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Anonymous,
    User,
    Other,
    ApproverIn,
    ApproverOut,
    Admin,
}

const WHO: [Who; 6] = [
    Who::Anonymous,
    Who::User,
    Who::Other,
    Who::ApproverIn,
    Who::ApproverOut,
    Who::Admin,
];

impl Who {
    /// The principal's name (the user's for anonymous, whose objects anonymous calls aim at).
    fn name(self) -> &'static str {
        match self {
            Who::Anonymous | Who::User => "ada",
            Who::Other => "bob",
            Who::ApproverIn => "lib2",
            Who::ApproverOut => "lib3",
            Who::Admin => "boss",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Who::Anonymous => "anonymous",
            Who::User => "user",
            Who::Other => "other user",
            Who::ApproverIn => "approver in scope",
            Who::ApproverOut => "approver out of scope",
            Who::Admin => "admin",
        }
    }
}

/// What a caller must get.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// A `2xx`.
    Success,
    Status(u16),
    /// Another person's object: `404`, or `403`, never its content.
    Hidden,
}

impl Expect {
    fn holds(self, status: u16) -> bool {
        match self {
            Expect::Success => (200..300).contains(&status),
            Expect::Status(s) => s == status,
            Expect::Hidden => status == 403 || status == 404,
        }
    }

    fn show(self) -> String {
        match self {
            Expect::Success => "2xx".into(),
            Expect::Status(s) => s.to_string(),
            Expect::Hidden => "403/404".into(),
        }
    }
}

/// The object an operation's path names, made fresh for each call that may change it. A new kind
/// of object (a principal, a token …) is a new variant here and its arm in [`World::make`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Object {
    /// No path parameter.
    Nothing,
    /// `{id}`: a fresh request of the user's, waiting, in the in-scope approver's scopes.
    UsersRequest,
    /// `{id}`: a fresh waiting request of the caller's own.
    OwnRequest,
    /// `{id}`: a fresh live grant of the user's.
    UsersGrant,
    /// `{name}`: the user, with a fresh request of hers waiting in the in-scope approver's queue.
    UsersName,
    /// No path parameter; `{fresh}` in the body: a name nothing in the store has yet.
    Fresh,
    /// `{name}`: a fresh user principal.
    FreshPrincipal,
    /// `{fresh}` in the body: `domain:{fresh}.test` is a fresh approver scope of lib3's.
    FreshScope,
    /// `{id}`: a fresh live service-account token of the user's.
    FreshToken,
    /// `{name}`: a fresh group with the user as its member.
    FreshGroup,
}

impl Object {
    /// Whether the object is the user's (so everybody else is "another person" for `self`).
    fn is_users(self) -> bool {
        matches!(
            self,
            Object::UsersRequest | Object::UsersGrant | Object::UsersName
        )
    }
}

/// A check of a successful answer to `who`.
type Check = fn(&World, Who, &Value) -> Result<(), String>;

/// One row of the matrix: an operation, the object it acts on, its body.
struct Case {
    /// The operation's `operationId` in the document.
    op: &'static str,
    /// Told apart from the operation's other rows.
    row: &'static str,
    object: Object,
    /// The JSON body of a state-changing operation.
    body: &'static str,
    /// Who gets what where the class's rule does not say.
    except: &'static [(Who, Expect)],
    check: Option<Check>,
}

const PURPOSE: &str = "checking the matrix of who may do what";

/// The operations and what they need. Add a row here for every new operation (see the module
/// documentation); a parameterless `GET` of class `admin` or `public` needs none.
const CASES: &[Case] = &[
    Case {
        op: "me",
        row: "",
        object: Object::Nothing,
        body: "",
        except: &[],
        check: Some(check_me),
    },
    Case {
        op: "my_audit",
        row: "",
        object: Object::Nothing,
        body: "",
        except: &[],
        check: Some(check_my_audit),
    },
    Case {
        op: "my_refusals",
        row: "",
        object: Object::Nothing,
        body: "",
        except: &[],
        check: Some(check_refusals),
    },
    Case {
        op: "my_requests",
        row: "",
        object: Object::Nothing,
        body: "",
        except: &[],
        check: Some(check_requests),
    },
    Case {
        op: "submit",
        row: "",
        object: Object::Nothing,
        body: r#"{"scope":"domain:other.test","duration":"30m","purpose":"checking the matrix of who may do what"}"#,
        except: &[],
        check: Some(check_submitted),
    },
    Case {
        op: "withdraw",
        row: "own request",
        object: Object::OwnRequest,
        body: "",
        except: &[],
        check: Some(check_withdrawn),
    },
    Case {
        op: "withdraw",
        row: "the user's request",
        object: Object::UsersRequest,
        body: "",
        // The store lets an admin withdraw anybody's request (recorded as theirs).
        except: &[(Who::Admin, Expect::Success)],
        check: Some(check_withdrawn),
    },
    Case {
        op: "grants",
        row: "",
        object: Object::Nothing,
        body: "",
        except: &[],
        check: Some(check_grants),
    },
    Case {
        op: "queue",
        row: "",
        object: Object::Nothing,
        body: "",
        except: &[],
        check: Some(check_queue),
    },
    Case {
        op: "decide",
        row: "the user's request",
        object: Object::UsersRequest,
        body: r#"{"verdict":"approve","comment":"fine by the matrix"}"#,
        // Nobody approves their own request.
        except: &[(Who::User, Expect::Status(403))],
        check: Some(check_approved),
    },
    Case {
        op: "revoke_grant",
        row: "the user's grant",
        object: Object::UsersGrant,
        body: r#"{"reason":"the matrix is done with it"}"#,
        except: &[],
        check: Some(check_revoked),
    },
    Case {
        op: "their_audit",
        row: "the user's trail",
        object: Object::UsersName,
        body: "",
        // Her own trail is hers to read.
        except: &[(Who::User, Expect::Success)],
        check: Some(check_their_audit),
    },
    // The admin API: only an admin's call succeeds; each acts on something made for it.
    Case {
        op: "create",
        row: "",
        object: Object::Fresh,
        body: r#"{"name":"{fresh}","password":"a password long enough","tier":"filtered"}"#,
        except: &[],
        check: Some(check_created),
    },
    Case {
        op: "change",
        row: "a fresh principal",
        object: Object::FreshPrincipal,
        body: r#"{"tier":"open"}"#,
        except: &[],
        check: Some(check_changed),
    },
    Case {
        op: "add_approver",
        row: "",
        object: Object::Fresh,
        body: r#"{"approver":"lib3","scope":"domain:{fresh}.test"}"#,
        except: &[],
        check: None,
    },
    Case {
        op: "remove_approver",
        row: "a fresh scope of lib3's",
        object: Object::FreshScope,
        body: r#"{"approver":"lib3","scope":"domain:{fresh}.test"}"#,
        except: &[],
        check: None,
    },
    Case {
        op: "create_guest",
        row: "",
        object: Object::Fresh,
        body: r#"{"name":"{fresh}","tier":"filtered","expires":"3d"}"#,
        except: &[],
        check: None,
    },
    Case {
        op: "create_token",
        row: "for the user",
        object: Object::Fresh,
        body: r#"{"principal":"ada","label":"{fresh}"}"#,
        except: &[],
        check: Some(check_token_created),
    },
    Case {
        op: "revoke_token",
        row: "a token of the user's",
        object: Object::FreshToken,
        body: "",
        except: &[],
        check: None,
    },
    Case {
        op: "create_group",
        row: "",
        object: Object::Fresh,
        body: r#"{"name":"{fresh}"}"#,
        except: &[],
        check: None,
    },
    Case {
        op: "delete_group",
        row: "a fresh group with the user in it",
        object: Object::FreshGroup,
        body: "",
        except: &[],
        check: None,
    },
    // An approver's guest: within the approver's scopes (lib2 approves `domain:other.test`);
    // lib3's scopes do not cover it, which is refused (`403`), not hidden: the scopes are hers.
    Case {
        op: "sponsor_guest",
        row: "",
        object: Object::Fresh,
        body: r#"{"name":"{fresh}","scope":"domain:other.test","expires":"3d"}"#,
        except: &[(Who::ApproverOut, Expect::Status(403))],
        check: None,
    },
];

/// The case of an operation without a row in [`CASES`]: a parameterless `GET` of class `admin`
/// or `public` is checked by its status alone.
const GENERIC: Case = Case {
    op: "",
    row: "",
    object: Object::Nothing,
    body: "",
    except: &[],
    check: None,
};

/// The gateway, the callers logged in, and the records made before the matrix runs.
struct World {
    gw: Gateway,
    clock: Arc<ManualClock>,
    /// `(who, visitor, CSRF token)` of each logged-in caller.
    visitors: Vec<(Who, Visitor, String)>,
    anonymous: Visitor,
    /// A waiting request of the user's and of the other user's, in the in-scope approver's scopes.
    ada_request: i64,
    bob_request: i64,
    /// A live grant of the user's and of the other user's.
    ada_grant: i64,
    bob_grant: i64,
    fresh: Cell<u32>,
}

impl World {
    fn visitor(&self, who: Who) -> (&Visitor, Option<&str>) {
        match self.visitors.iter().find(|(w, _, _)| *w == who) {
            Some((_, v, csrf)) => (v, Some(csrf)),
            None => (&self.anonymous, None),
        }
    }

    fn next(&self) -> u32 {
        self.fresh.set(self.fresh.get() + 1);
        self.fresh.get()
    }

    /// A fresh waiting request of `principal`'s, for a scope nobody holds a grant for.
    fn request_of(&self, principal: &str) -> i64 {
        let n = self.next();
        let new = NewRequest {
            principal: principal.into(),
            scope: scope(&format!("domain:m{n}.other.test")),
            duration: Duration::from_secs(3600),
            claim_by: None,
            purpose: format!("{PURPOSE}, case {n}"),
            destination: None,
            approvals_needed: 1,
            pending_for: Duration::from_secs(86_400),
        };
        let by = Actor {
            name: principal,
            via: "test",
        };
        match self
            .gw
            .store()
            .submit_request(&new, by, now(&self.clock))
            .unwrap()
        {
            Submitted::Request(r) => r.id,
            Submitted::Reused(g) => panic!("a fresh scope reused grant {}", g.id),
        }
    }

    /// A fresh live grant of `principal`'s, added by the command line.
    fn grant_of(&self, principal: &str) -> i64 {
        let n = self.next();
        let new = NewGrant {
            principal: principal.into(),
            scope: scope(&format!("domain:g{n}.other.test")),
            duration: Duration::from_secs(3600),
            claim_by: None,
            purpose: format!("{PURPOSE}, grant {n}"),
        };
        let store = self.gw.store();
        store.add_grant(&new, CLI, now(&self.clock)).unwrap().id
    }

    /// The path parameters of a call by `who` on `object`, made fresh.
    fn make(&self, object: Object, who: Who) -> Vec<(&'static str, String)> {
        match object {
            Object::Nothing => vec![],
            Object::UsersRequest => vec![("id", self.request_of("ada").to_string())],
            Object::OwnRequest => vec![("id", self.request_of(who.name()).to_string())],
            Object::UsersGrant => vec![("id", self.grant_of("ada").to_string())],
            Object::UsersName => {
                self.request_of("ada");
                vec![("name", "ada".to_string())]
            }
            Object::Fresh => vec![("fresh", format!("m{}", self.next()))],
            Object::FreshPrincipal => {
                let name = format!("p{}", self.next());
                let store = self.gw.store();
                let hash = hash_password(PW).unwrap();
                store
                    .add_principal(&name, Role::User, Tier::Filtered, &hash)
                    .unwrap();
                vec![("name", name)]
            }
            Object::FreshScope => {
                let fresh = format!("s{}", self.next());
                let scope = scope(&format!("domain:{fresh}.test"));
                let store = self.gw.store();
                store
                    .add_approver_scope("lib3", &scope, CLI, now(&self.clock))
                    .unwrap();
                vec![("fresh", fresh)]
            }
            Object::FreshToken => {
                let n = self.next();
                let (label, hash) = (format!("t{n}"), format!("matrix-token-{n}"));
                let store = self.gw.store();
                let token = store
                    .create_token("ada", (&label, &hash), None, CLI, now(&self.clock))
                    .unwrap();
                vec![("id", token.id.to_string())]
            }
            Object::FreshGroup => {
                let name = format!("g{}", self.next());
                let store = self.gw.store();
                store.add_group(&name).unwrap();
                store.add_member(&name, "ada").unwrap();
                vec![("name", name)]
            }
        }
    }

    /// Everything a call could change: requests, grants, principals, approver scopes, and the
    /// number of recorded actions (every change and every look is one).
    fn snapshot(&self) -> String {
        let s = self.gw.store();
        let recorded = s
            .audit(&AuditQuery {
                decision: Some("action".into()),
                ..Default::default()
            })
            .unwrap()
            .len();
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\nactions: {recorded}",
            s.requests(None, None, u64::MAX).unwrap(),
            s.grants(None, true).unwrap(),
            s.principals().unwrap(),
            s.groups().unwrap(),
            s.approver_scopes().unwrap(),
            s.tokens(None).unwrap(),
        )
    }
}

/// A principal with a password, and its approver scope.
async fn add(gw: &Gateway, name: &str, role: Role, approves: Option<&str>, at: i64) {
    let store = gw.store();
    store
        .add_principal(name, role, Tier::Filtered, &hash_password(PW).unwrap())
        .unwrap();
    if let Some(s) = approves {
        store.add_approver_scope(name, &scope(s), CLI, at).unwrap();
    }
    gw.wait_for_principals().await;
}

/// The gateway on the `ManualClock` with the six callers (ada the user, bob the other user, lib2
/// approving `domain:other.test`, lib3 approving `domain:elsewhere.test`, boss the admin), each
/// user refused once through the proxy, with a waiting request and a live grant.
async fn world(origin: &Origin) -> World {
    let (gw, clock) = start(origin).await;
    let at = now(&clock);
    gw.add_user("bob", Tier::Filtered, PW).await;
    add(&gw, "lib2", Role::Approver, Some("domain:other.test"), at).await;
    add(
        &gw,
        "lib3",
        Role::Approver,
        Some("domain:elsewhere.test"),
        at,
    )
    .await;
    add(&gw, "boss", Role::Admin, None, at).await;
    for user in ["ada", "bob"] {
        assert_eq!(get(&gw, user, &other(origin)).await.status(), 403);
    }
    gw.flush_audit().await;
    let mut visitors = Vec::new();
    for who in &WHO[1..] {
        let mut v = Visitor::new(&gw);
        let r = v.login(who.name(), PW).await;
        assert_eq!(r.status(), 303, "{} logs in: {}", who.name(), r.text);
        let csrf = v.csrf().await;
        visitors.push((*who, v, csrf));
    }
    let mut w = World {
        anonymous: Visitor::new(&gw),
        gw,
        clock,
        visitors,
        ada_request: 0,
        bob_request: 0,
        ada_grant: 0,
        bob_grant: 0,
        fresh: Cell::new(0),
    };
    w.ada_request = w.request_of("ada");
    w.bob_request = w.request_of("bob");
    w.ada_grant = w.grant_of("ada");
    w.bob_grant = w.grant_of("bob");
    w
}

/// One call to the portal: JSON body for a state-changing method.
async fn send(
    portal: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Reply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {portal}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "GET" {
        req.push_str("\r\n");
    } else {
        let len = body.len();
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n{body}"
        ));
    }
    exchange(portal, req.as_bytes()).await
}

/// An operation of the document.
struct Operation {
    method: String,
    path: String,
    id: String,
    class: String,
}

impl Operation {
    fn title(&self, case: &Case) -> String {
        let row = match case.row {
            "" => String::new(),
            r => format!(" [{r}]"),
        };
        format!(
            "{} {}{row} ({}, {})",
            self.method.to_uppercase(),
            self.path,
            self.id,
            self.class
        )
    }

    fn changes(&self) -> bool {
        self.method != "get"
    }

    /// `body` with `params` filled in (`{fresh}` and the like).
    fn body(body: &str, params: &[(&str, String)]) -> String {
        params.iter().fold(body.to_string(), |b, (k, v)| {
            b.replace(&format!("{{{k}}}"), v)
        })
    }

    /// The path with `params` filled in.
    fn concrete(&self, params: &[(&str, String)]) -> Result<String, String> {
        let mut path = self.path.clone();
        for (k, v) in params {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        match path.contains('{') {
            true => Err(format!(
                "{} {}: a path parameter is left unfilled: give its row in `CASES` an `object` that fills it",
                self.method, self.path
            )),
            false => Ok(path),
        }
    }
}

/// The status the class of `op` promises `who` on `case`.
fn expected(op: &Operation, case: &Case, who: Who) -> Result<Expect, String> {
    if let Some((_, e)) = case.except.iter().find(|(w, _)| *w == who) {
        return Ok(*e);
    }
    Ok(match (op.class.as_str(), who) {
        ("public", _) => Expect::Success,
        ("self" | "reviewer" | "admin", Who::Anonymous) => Expect::Status(401),
        ("admin", Who::Admin) => Expect::Success,
        ("admin", _) => Expect::Status(403),
        ("self", Who::User) => Expect::Success,
        ("self", _) if case.object.is_users() => Expect::Hidden,
        ("self", _) => Expect::Success,
        ("reviewer", Who::User | Who::Other) => Expect::Status(403),
        ("reviewer", Who::ApproverOut) if case.object != Object::Nothing => Expect::Status(404),
        ("reviewer", _) => Expect::Success,
        (other, _) => {
            return Err(format!(
                "{} {} ({}): `x-gatehouse-access` is `{other}`, which is no class: use `public`, `self`, `reviewer` or `admin`",
                op.method, op.path, op.id
            ))
        }
    })
}

/// Every operation of the document, or what is wrong with it.
fn operations(doc: &Value, failures: &mut Vec<String>) -> Vec<Operation> {
    let mut out: Vec<Operation> = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "patch"] {
            let Some(op) = item.get(method) else { continue };
            let Some(id) = op["operationId"].as_str() else {
                failures.push(format!("{method} {path} has no operationId"));
                continue;
            };
            ids.push(id);
            let Some(class) = op["x-gatehouse-access"].as_str() else {
                failures.push(format!(
                    "{method} {path} (`{id}`) has no access class: add `extensions((\"x-gatehouse-access\" = json!(\"CLASS\")))` to its `#[utoipa::path]`, CLASS one of `public`, `self`, `reviewer`, `admin`"
                ));
                continue;
            };
            if out.iter().any(|o| o.id == id) {
                failures.push(format!(
                    "operationId `{id}` is used twice ({method} {path}): give one of them `operation_id = \"…\"`"
                ));
                continue;
            }
            out.push(Operation {
                method: method.into(),
                path: path.clone(),
                id: id.into(),
                class: class.into(),
            });
        }
    }
    for case in CASES {
        if !ids.contains(&case.op) {
            failures.push(format!(
                "`CASES` has a row for `{}`, which the document does not have: remove or rename it",
                case.op
            ));
        }
    }
    out
}

/// The rows of `op`: its entries in [`CASES`], or the generic case, or what to add.
fn cases_of(op: &Operation) -> Result<Vec<&'static Case>, String> {
    let rows: Vec<&Case> = CASES.iter().filter(|c| c.op == op.id).collect();
    if !rows.is_empty() {
        return Ok(rows);
    }
    let generic = op.method == "get"
        && !op.path.contains('{')
        && matches!(op.class.as_str(), "admin" | "public");
    match generic {
        true => Ok(vec![&GENERIC]),
        false => Err(format!(
            "{} {} (`{}`, class `{}`) has no row in `CASES` of tests/integration/portal_matrix.rs: add `Case {{ op: \"{}\", row: \"\", object: …, body: …, except: &[], check: … }}` with the object its path names and the JSON body it takes",
            op.method.to_uppercase(),
            op.path,
            op.id,
            op.class,
            op.id
        )),
    }
}

/// One line of the printed matrix.
struct Line {
    title: String,
    cells: Vec<String>,
}

/// The call of `op` by `who` on a fresh object of `case`: its status, checked against the class,
/// the answer checked, and nothing changed when refused.
async fn cell(
    w: &World,
    op: &Operation,
    case: &Case,
    who: Who,
    failures: &mut Vec<String>,
) -> String {
    let title = op.title(case);
    let want = match expected(op, case, who) {
        Ok(e) => e,
        Err(e) => {
            failures.push(e);
            return "?".into();
        }
    };
    let params = w.make(case.object, who);
    let body = Operation::body(case.body, &params);
    let path = match op.concrete(&params) {
        Ok(p) => p,
        Err(e) => {
            failures.push(e);
            return "?".into();
        }
    };
    let (v, csrf) = w.visitor(who);
    let mut headers = v.cookies();
    if op.changes() {
        headers.push(("Origin", v.origin()));
        if let Some(t) = csrf {
            headers.push(("X-CSRF-Token", t.to_string()));
        }
    }
    let before = w.snapshot();
    let r = send(v.portal, &op.method.to_uppercase(), &path, &headers, &body).await;
    let status = r.status();
    let ok = want.holds(status);
    if !ok {
        failures.push(format!(
            "{title}, {}: got {status}, the class says {}: {}",
            who.label(),
            want.show(),
            body_of(&r)
        ));
    }
    if status >= 400 {
        refused_cleanly(w, &title, who, &r, &before, failures);
    } else if ok {
        if let Some(check) = case.check {
            if let Err(e) = check(w, who, &json_body(&r)) {
                failures.push(format!("{title}, {}: {e}", who.label()));
            }
        }
    }
    match ok {
        true => status.to_string(),
        false => format!("{status}≠{}", want.show()),
    }
}

/// The body of an answer.
fn body_of(r: &Reply) -> &str {
    r.text.split_once("\r\n\r\n").map_or("", |b| b.1).trim_end()
}

/// A refusal is an `ApiError` JSON (never a redirect or a page) and changed nothing.
fn refused_cleanly(
    w: &World,
    title: &str,
    who: Who,
    r: &Reply,
    before: &str,
    failures: &mut Vec<String>,
) {
    let json = r.header("content-type").as_deref() == Some("application/json");
    let error = serde_json::from_str::<Value>(body_of(r))
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    if !json || error.is_none() {
        failures.push(format!(
            "{title}, {}: a refusal must be `{{\"error\": …}}` JSON: {}",
            who.label(),
            r.text
        ));
    }
    if w.snapshot() != before {
        failures.push(format!(
            "{title}, {}: refused ({}) but the store or the trail changed",
            who.label(),
            r.status()
        ));
    }
}

/// The cross-site cases of a state-changing `op`: each refused (`403`), nothing changed; then the
/// same call from the portal with the token succeeds, so the refusals were the checks'.
async fn cross_site(
    w: &World,
    op: &Operation,
    case: &Case,
    failures: &mut Vec<String>,
) -> Vec<Line> {
    let order = [
        Who::User,
        Who::ApproverIn,
        Who::Admin,
        Who::Other,
        Who::ApproverOut,
    ];
    let Some(who) = order
        .into_iter()
        .find(|who| expected(op, case, *who) == Ok(Expect::Success))
    else {
        return vec![];
    };
    let (v, csrf) = w.visitor(who);
    let token = csrf.unwrap_or_default().to_string();
    let (_, bobs) = w.visitor(if who == Who::Other {
        Who::User
    } else {
        Who::Other
    });
    let portal = v.origin();
    let variants: [(&str, Vec<(&str, String)>); 5] = [
        ("no X-CSRF-Token", vec![("Origin", portal.clone())]),
        (
            "another session's X-CSRF-Token",
            vec![
                ("Origin", portal.clone()),
                ("X-CSRF-Token", bobs.unwrap_or_default().to_string()),
            ],
        ),
        (
            "Origin: http://evil.test",
            vec![
                ("Origin", "http://evil.test".into()),
                ("X-CSRF-Token", token.clone()),
            ],
        ),
        (
            "Sec-Fetch-Site: cross-site",
            vec![
                ("Sec-Fetch-Site", "cross-site".into()),
                ("X-CSRF-Token", token.clone()),
            ],
        ),
        (
            "Sec-Fetch-Site: cross-site, the portal's Origin",
            vec![
                ("Origin", portal.clone()),
                ("Sec-Fetch-Site", "cross-site".into()),
                ("X-CSRF-Token", token.clone()),
            ],
        ),
    ];
    let params = w.make(case.object, who);
    let body = Operation::body(case.body, &params);
    let path = match op.concrete(&params) {
        Ok(p) => p,
        Err(e) => {
            failures.push(e);
            return vec![];
        }
    };
    let title = op.title(case);
    let mut cells = Vec::new();
    for (name, extra) in variants {
        let mut headers = v.cookies();
        headers.extend(extra);
        let before = w.snapshot();
        let r = send(v.portal, &op.method.to_uppercase(), &path, &headers, &body).await;
        let label = format!("{title}, {} with {name}", who.label());
        if r.status() != 403 {
            failures.push(format!(
                "{label}: got {}, not 403: {}",
                r.status(),
                body_of(&r)
            ));
        }
        refused_cleanly(w, &label, who, &r, &before, failures);
        cells.push((name, r.status()));
    }
    let headers = {
        let mut h = v.cookies();
        h.extend([("Origin", portal), ("X-CSRF-Token", token)]);
        h
    };
    let r = send(v.portal, &op.method.to_uppercase(), &path, &headers, &body).await;
    if !(200..300).contains(&r.status()) {
        failures.push(format!(
            "{title}, {}: the same call from the portal with the token got {}: {}",
            who.label(),
            r.status(),
            body_of(&r)
        ));
    }
    let cells = cells
        .into_iter()
        .map(|(name, status)| format!("{status} ({name})"))
        .collect();
    vec![Line {
        title: format!("{title} by {}", who.label()),
        cells,
    }]
}

/// The matrix as a table.
fn table(lines: &[Line], cross: &[Line]) -> String {
    let width = lines
        .iter()
        .map(|l| l.title.chars().count())
        .max()
        .unwrap_or(10);
    let mut out = format!("{:width$}", "operation × caller");
    for who in WHO {
        let _ = write!(out, " | {:>9}", who.label());
    }
    out.push('\n');
    for l in lines {
        let _ = write!(out, "{:width$}", l.title);
        for (c, who) in l.cells.iter().zip(WHO) {
            let _ = write!(out, " | {c:>w$}", w = who.label().len().max(9));
        }
        out.push('\n');
    }
    out.push_str("\ncross-site and token checks (each must be 403, with nothing changed):\n");
    for l in cross {
        let _ = writeln!(out, "{}\n    {}", l.title, l.cells.join(", "));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_operation_answers_each_caller_as_its_access_class_says() {
    let origin = Origin::start("127.0.0.2").await;
    let w = world(&origin).await;
    let r = w.anonymous.get("/api/v1/openapi.json").await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let doc = json_body(&r);
    let mut failures = Vec::new();
    let ops = operations(&doc, &mut failures);
    let (mut lines, mut cross) = (Vec::new(), Vec::new());
    for op in &ops {
        let cases = match cases_of(op) {
            Ok(c) => c,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for case in cases {
            let mut cells = Vec::new();
            for who in WHO {
                cells.push(cell(&w, op, case, who, &mut failures).await);
            }
            lines.push(Line {
                title: op.title(case),
                cells,
            });
            if op.changes() {
                cross.extend(cross_site(&w, op, case, &mut failures).await);
            }
        }
    }
    let table = table(&lines, &cross);
    println!("{table}");
    assert!(
        failures.is_empty(),
        "the authorisation matrix:\n{table}\n{} failure(s):\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
    // The document is not empty by accident: every listed operation was in it and was called.
    assert!(lines.len() > CASES.len(), "{table}");
    w.gw.shutdown().await;
}

fn all_of(list: &Value, field: &str, name: &str) -> Result<(), String> {
    let items = list.as_array().ok_or(format!("not a list: {list}"))?;
    match items
        .iter()
        .find(|i| i.pointer(field).and_then(Value::as_str) != Some(name))
    {
        Some(i) => Err(format!("another person's record in the list: {i}")),
        None => Ok(()),
    }
}

fn has_id(list: &Value, field: &str, id: i64) -> bool {
    list.as_array().is_some_and(|items| {
        items
            .iter()
            .any(|i| i.pointer(field).and_then(Value::as_i64) == Some(id))
    })
}

fn check_me(_: &World, who: Who, v: &Value) -> Result<(), String> {
    match v["name"].as_str() == Some(who.name()) {
        true => Ok(()),
        false => Err(format!("not the caller: {v}")),
    }
}

fn check_my_audit(_: &World, who: Who, v: &Value) -> Result<(), String> {
    all_of(&v["events"], "/principal", who.name())?;
    match v["events"].as_array().is_some_and(|e| !e.is_empty()) {
        true => Ok(()),
        false => Err(format!(
            "the caller's own trail is empty (their login is in it): {v}"
        )),
    }
}

fn check_refusals(_: &World, who: Who, v: &Value) -> Result<(), String> {
    all_of(&v["refusals"], "/event/principal", who.name())?;
    if matches!(who, Who::User | Who::Other) {
        let first = &v["refusals"][0];
        let ask = &first["ask"];
        if ask["scope"] != "domain:other.test"
            || ask["form"] != "/requests/new?destination=other.test"
        {
            return Err(format!(
                "the refusal at other.test with what to ask for: {v}"
            ));
        }
    }
    Ok(())
}

fn check_requests(w: &World, who: Who, v: &Value) -> Result<(), String> {
    all_of(&v["requests"], "/principal", who.name())?;
    let own = match who {
        Who::User => Some(w.ada_request),
        Who::Other => Some(w.bob_request),
        _ => None,
    };
    match own.is_none_or(|id| has_id(&v["requests"], "/id", id)) {
        true => Ok(()),
        false => Err(format!("the caller's own request is missing: {v}")),
    }
}

fn check_submitted(_: &World, who: Who, v: &Value) -> Result<(), String> {
    let whose = v
        .pointer("/request/principal")
        .or_else(|| v.pointer("/reused_grant/principal"));
    match whose.and_then(Value::as_str) == Some(who.name()) {
        true => Ok(()),
        false => Err(format!("not the caller's request: {v}")),
    }
}

fn check_withdrawn(_: &World, _: Who, v: &Value) -> Result<(), String> {
    match v["request"]["state"] == "withdrawn" {
        true => Ok(()),
        false => Err(format!("not withdrawn: {v}")),
    }
}

fn check_approved(_: &World, _: Who, v: &Value) -> Result<(), String> {
    match v["outcome"] == "approved" && v["grant"]["principal"] == "ada" {
        true => Ok(()),
        false => Err(format!("not approved: {v}")),
    }
}

fn check_created(_: &World, _: Who, v: &Value) -> Result<(), String> {
    match v["principal"]["tier"] == "filtered" {
        true => Ok(()),
        false => Err(format!("no principal in the answer: {v}")),
    }
}

fn check_changed(_: &World, _: Who, v: &Value) -> Result<(), String> {
    match v["principal"]["tier"] == "open" {
        true => Ok(()),
        false => Err(format!("the tier did not change: {v}")),
    }
}

fn check_token_created(_: &World, _: Who, v: &Value) -> Result<(), String> {
    match v["secret"].as_str().is_some_and(|s| s.starts_with("gh_")) {
        true => Ok(()),
        false => Err(format!("no token in the answer: {v}")),
    }
}

fn check_revoked(_: &World, _: Who, v: &Value) -> Result<(), String> {
    match v["grant"]["state"] == "revoked" {
        true => Ok(()),
        false => Err(format!("not revoked: {v}")),
    }
}

/// Whether `who` has a recorded look at `whose`'s records whose detail starts with `detail`.
fn looked(w: &World, who: Who, whose: &str, detail: &str) -> bool {
    actions(&w.gw, "audit.read").iter().any(|r| {
        r.principal.as_deref() == Some(who.name())
            && r.destination == format!("principal:{whose}")
            && r.url.as_deref().unwrap_or("").starts_with(detail)
    })
}

fn check_grants(w: &World, who: Who, v: &Value) -> Result<(), String> {
    let grants = &v["grants"];
    if who == Who::Admin {
        // An admin sees everybody's, and the look is recorded.
        if !has_id(grants, "/id", w.ada_grant) || !has_id(grants, "/id", w.bob_grant) {
            return Err(format!("an admin sees everybody's grants: {v}"));
        }
        if !looked(w, who, "ada", "grants: ") || !looked(w, who, "bob", "grants: ") {
            return Err("the admin's look at ada's and bob's grants is not recorded".into());
        }
        return Ok(());
    }
    all_of(grants, "/principal", who.name())?;
    let own = match who {
        Who::User => Some(w.ada_grant),
        Who::Other => Some(w.bob_grant),
        _ => None,
    };
    match own.is_none_or(|id| has_id(grants, "/id", id)) {
        true => Ok(()),
        false => Err(format!("the caller's own grant is missing: {v}")),
    }
}

fn check_queue(w: &World, who: Who, v: &Value) -> Result<(), String> {
    let queue = &v["queue"];
    let items = queue.as_array().ok_or(format!("no queue: {v}"))?;
    let in_scope =
        has_id(queue, "/request/id", w.ada_request) && has_id(queue, "/request/id", w.bob_request);
    match who {
        Who::ApproverIn | Who::Admin if !in_scope => {
            Err(format!("the requests in scope are missing: {v}"))
        }
        Who::ApproverIn | Who::Admin if !looked(w, who, "ada", "review queue: ") => {
            Err("the look at ada's requests is not recorded".into())
        }
        Who::ApproverOut if !items.is_empty() => {
            Err(format!("requests outside the approver's scopes: {v}"))
        }
        _ => Ok(()),
    }
}

fn check_their_audit(w: &World, who: Who, v: &Value) -> Result<(), String> {
    all_of(&v["events"], "/principal", "ada")?;
    if who != Who::User && !looked(w, who, "ada", "api") {
        return Err("the look at ada's trail is not recorded".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_answer_as_their_api_twins_and_record_the_same_looks() {
    use crate::portal::csrf_field;
    let origin = Origin::start("127.0.0.2").await;
    let w = world(&origin).await;
    let (ada, _) = w.visitor(Who::User);
    let (bob, bob_csrf) = w.visitor(Who::Other);
    let (lib2, _) = w.visitor(Who::ApproverIn);
    let (lib3, lib3_csrf) = w.visitor(Who::ApproverOut);
    let (boss, _) = w.visitor(Who::Admin);

    // Someone's trail: an approver reviewing her request reads it, and the look is recorded; an
    // approver without such a request, or another user, gets nothing of hers.
    let page = lib2.get("/people/ada/audit").await;
    assert_eq!(page.status(), 200, "{}", page.text);
    assert!(page.text.contains("other.test"), "{}", page.text);
    assert!(
        looked(&w, Who::ApproverIn, "ada", ""),
        "the look is recorded"
    );
    for v in [lib3, bob] {
        let before = w.snapshot();
        let r = v.get("/people/ada/audit").await;
        assert_eq!(r.status(), 403, "{}", r.text);
        assert!(!r.text.contains("other.test"), "{}", r.text);
        assert_eq!(w.snapshot(), before, "a refused look is not recorded");
    }
    // Her own, by its people path, is hers.
    assert_eq!(ada.get("/people/ada/audit").await.status(), 200);

    // Another person's request, withdrawn or reviewed out of scope: as if it did not exist.
    let id = w.ada_request;
    let before = w.snapshot();
    let origin_of = |v: &Visitor| [("Origin", v.origin())];
    let r = bob
        .post(
            &format!("/requests/{id}/withdraw"),
            &origin_of(bob),
            &format!("csrf={}", bob_csrf.unwrap()),
        )
        .await;
    assert_eq!(r.status(), 404, "{}", r.text);
    let unseen = format!("no access request with id {id}");
    assert!(r.text.contains(&unseen), "{}", r.text);
    assert!(
        !r.text.contains("belongs to"),
        "the owner is not named: {}",
        r.text
    );
    let r = lib3
        .post(
            &format!("/review/{id}"),
            &origin_of(lib3),
            &format!("verdict=approve&comment=ok&csrf={}", lib3_csrf.unwrap()),
        )
        .await;
    assert_eq!(r.status(), 404, "{}", r.text);
    assert!(r.text.contains(&unseen), "{}", r.text);
    assert!(
        !r.text.contains("other.test"),
        "the scope is not named: {}",
        r.text
    );
    assert_eq!(w.snapshot(), before, "nothing changed");

    // Not even an expired request says it exists to an approver outside its scope.
    let new = NewRequest {
        principal: "ada".into(),
        scope: scope("domain:expired.other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: format!("{PURPOSE}, expired"),
        destination: None,
        approvals_needed: 1,
        pending_for: Duration::ZERO,
    };
    let by = Actor {
        name: "ada",
        via: "test",
    };
    let expired = match w
        .gw
        .store()
        .submit_request(&new, by, now(&w.clock))
        .unwrap()
    {
        Submitted::Request(r) => r.id,
        Submitted::Reused(g) => panic!("reused grant {}", g.id),
    };
    let token = lib3_csrf.unwrap().to_string();
    let with_token = [("Origin", lib3.origin()), ("X-CSRF-Token", token)];
    let body = r#"{"verdict":"approve","comment":"ok"}"#;
    let r = send(
        lib3.portal,
        "POST",
        &format!("/api/v1/review/{expired}"),
        &[lib3.cookies(), with_token.to_vec()].concat(),
        body,
    )
    .await;
    assert_eq!(r.status(), 404, "{}", r.text);
    assert!(!r.text.contains("expired"), "{}", r.text);

    // An admin's grants page shows everybody's, and the look at each person's is recorded.
    let grants = boss.get("/grants").await;
    assert_eq!(grants.status(), 200, "{}", grants.text);
    assert!(!csrf_field(&grants).is_empty());
    assert!(looked(&w, Who::Admin, "ada", "grants: "));
    assert!(looked(&w, Who::Admin, "bob", "grants: "));
    // A person's own grants are no look at anyone's.
    let reads = actions(&w.gw, "audit.read").len();
    assert_eq!(ada.get("/grants").await.status(), 200);
    assert_eq!(actions(&w.gw, "audit.read").len(), reads);
    w.gw.shutdown().await;
}
