//! The grants store against a real SQLite file, with explicit times: the state machine as stored,
//! separation of duties, two approvals, expiry, reuse, claims and guests, each with its record.

use std::time::Duration;

use access::{GrantState, RequestState, Scope};

use super::*;
use crate::store::{AuditQuery, AuditStore, PrincipalStore};

const T0: i64 = 1_800_000_000_000_000;
const SEC: i64 = 1_000_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    for (name, role) in [
        ("root", Role::Admin),
        ("ada", Role::User),
        ("cy", Role::User),
        ("lib1", Role::Approver),
        ("lib2", Role::Approver),
        ("far", Role::Approver),
    ] {
        s.add_principal(name, role, policy::Tier::Filtered, "h")
            .unwrap();
    }
    let cli = Actor {
        name: "cli",
        via: "cli",
    };
    let journals = Scope::parse("domain:journals.example").unwrap();
    s.add_approver_scope("lib1", &journals, cli, T0).unwrap();
    s.add_group("library").unwrap();
    s.add_member("library", "lib2").unwrap();
    s.add_approver_scope("group:library", &journals, cli, T0)
        .unwrap();
    s.add_approver_scope("far", &Scope::parse("tier:open").unwrap(), cli, T0)
        .unwrap();
    (dir, s)
}

fn research_for_ada(purpose: &str) -> NewGrant {
    NewGrant {
        principal: "ada".into(),
        scope: Scope::parse("category:research").unwrap(),
        duration: Duration::from_secs(60),
        claim_by: None,
        purpose: purpose.into(),
    }
}

/// Approve `id` as `lib1`: the grant.
fn approve(s: &Store, id: i64) -> GrantRow {
    match s.review(id, Verdict::Approve, "", as_("lib1"), T0).unwrap() {
        Reviewed::Approved(g) => *g,
        other => panic!("{other:?}"),
    }
}

fn as_(name: &str) -> Actor<'_> {
    Actor { name, via: "cli" }
}

fn ask(s: &Store, approvals: u32, claim_by: Option<u64>) -> RequestRow {
    let new = NewRequest {
        principal: "ada".into(),
        scope: Scope::parse("domain:www.journals.example").unwrap(),
        duration: Duration::from_secs(3600),
        claim_by: claim_by.map(Duration::from_secs),
        purpose: "reading for the thesis chapter on tides".into(),
        destination: Some("www.journals.example:443".into()),
        approvals_needed: approvals,
        pending_for: Duration::from_secs(600),
    };
    match s.submit_request(&new, as_("ada"), T0).unwrap() {
        Submitted::Request(r) => r,
        other => panic!("{other:?}"),
    }
}

fn actions(s: &Store) -> Vec<String> {
    s.audit(&AuditQuery::default())
        .unwrap()
        .into_iter()
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

#[test]
fn an_approval_creates_a_grant_recorded_with_every_step() {
    let (_d, s) = store();
    let r = ask(&s, 1, None);
    let g0 = s.grant_generation().unwrap();
    let Reviewed::Approved(g) = s
        .review(r.id, Verdict::Approve, "fine", as_("lib1"), T0 + SEC)
        .unwrap()
    else {
        panic!("not approved")
    };
    assert!(s.grant_generation().unwrap() > g0);
    assert_eq!(
        (g.state, g.starts_us, g.expires_us),
        (
            GrantState::Active,
            Some(T0 + SEC),
            Some(T0 + SEC + 3600 * SEC)
        )
    );
    assert_eq!((g.approvers.as_str(), g.request_id), ("lib1", Some(r.id)));
    assert_eq!(s.request(r.id).unwrap().state, RequestState::Approved);
    let a = actions(&s);
    let tail = &a[a.len() - 3..];
    assert_eq!(
        tail,
        [
            format!("ada request.submit request:{}", r.id),
            format!("lib1 request.approve request:{}", r.id),
            format!("lib1 grant.create grant:{}", g.id),
        ]
    );
    let rows = s.audit(&AuditQuery::default()).unwrap();
    assert_eq!(rows.last().unwrap().grant_id, Some(g.id));
    assert_eq!(s.active_grants().unwrap().len(), 1);
}

#[test]
fn nobody_approves_their_own_or_outside_their_scope_or_without_the_role() {
    let (_d, s) = store();
    s.add_approver_scope(
        "lib1",
        &Scope::parse("domain:example.org").unwrap(),
        as_("root"),
        T0,
    )
    .unwrap();
    let new = NewRequest {
        principal: "lib1".into(),
        scope: Scope::parse("domain:example.org").unwrap(),
        duration: Duration::from_secs(60),
        claim_by: None,
        purpose: "checking the catalogue".into(),
        destination: None,
        approvals_needed: 1,
        pending_for: Duration::from_secs(600),
    };
    let Submitted::Request(own) = s.submit_request(&new, as_("lib1"), T0).unwrap() else {
        panic!()
    };
    let e = s
        .review(own.id, Verdict::Approve, "", as_("lib1"), T0)
        .unwrap_err();
    assert!(matches!(e, GrantError::OwnRequest(..)), "{e}");
    let r = ask(&s, 1, None);
    let e = s
        .review(r.id, Verdict::Approve, "", as_("far"), T0)
        .unwrap_err();
    assert!(matches!(e, GrantError::OutOfScope { .. }), "{e}");
    let e = s
        .review(r.id, Verdict::Approve, "", as_("cy"), T0)
        .unwrap_err();
    assert!(matches!(e, GrantError::Role { .. }), "{e}");
    assert_eq!(s.request(r.id).unwrap().state, RequestState::Submitted);
    // A group's scope counts for its members; an admin reviews anything.
    assert_eq!(s.review_queue("lib2", T0).unwrap().len(), 1);
    assert!(s.review_queue("far", T0).unwrap().is_empty());
    assert_eq!(s.review_queue("root", T0).unwrap().len(), 2);
}

#[test]
fn two_approvals_need_two_different_approvers() {
    let (_d, s) = store();
    let r = ask(&s, 2, None);
    let first = s
        .review(r.id, Verdict::Approve, "ok", as_("lib1"), T0)
        .unwrap();
    assert_eq!(
        first,
        Reviewed::Pending {
            approvals: 1,
            needed: 2
        }
    );
    let e = s
        .review(r.id, Verdict::Approve, "ok", as_("lib1"), T0)
        .unwrap_err();
    assert!(matches!(e, GrantError::AlreadyReviewed { .. }), "{e}");
    let Reviewed::Approved(g) = s
        .review(r.id, Verdict::Approve, "ok", as_("lib2"), T0)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(g.approvers, "lib1,lib2");
}

#[test]
fn a_final_request_cannot_move_again() {
    let (_d, s) = store();
    let r = ask(&s, 1, None);
    assert_eq!(
        s.review(r.id, Verdict::Deny, "use the library copy", as_("lib1"), T0)
            .unwrap(),
        Reviewed::Denied
    );
    let stored = s.request(r.id).unwrap();
    assert_eq!(stored.state, RequestState::Denied);
    assert_eq!(stored.reviews[0].comment, "use the library copy");
    let e = s
        .review(r.id, Verdict::Approve, "", as_("lib2"), T0)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "a request cannot go from `denied` to `approved`"
    );
    let e = s.withdraw_request(r.id, as_("ada"), T0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a request cannot go from `denied` to `withdrawn`"
    );
    assert!(s.active_grants().unwrap().is_empty());
}

#[test]
fn only_the_requester_or_an_admin_withdraws() {
    let (_d, s) = store();
    let r = ask(&s, 1, None);
    let e = s.withdraw_request(r.id, as_("lib1"), T0).unwrap_err();
    assert!(matches!(e, GrantError::NotRequester { .. }), "{e}");
    assert_eq!(
        s.withdraw_request(r.id, as_("ada"), T0).unwrap().state,
        RequestState::Withdrawn
    );
    let r = ask(&s, 1, None);
    assert_eq!(
        s.withdraw_request(r.id, as_("root"), T0).unwrap().state,
        RequestState::Withdrawn
    );
}

#[test]
fn a_pending_request_expires_and_can_no_longer_be_reviewed() {
    let (_d, s) = store();
    let r = ask(&s, 1, None);
    let later = r.expires_us;
    let e = s
        .review(r.id, Verdict::Approve, "", as_("lib1"), later)
        .unwrap_err();
    assert!(matches!(e, GrantError::RequestExpired { .. }), "{e}");
    assert_eq!(s.request(r.id).unwrap().state, RequestState::Expired);
    let other = ask(&s, 1, None);
    let swept = s.sweep_grants(later).unwrap();
    assert_eq!(swept.requests, [other.id]);
    assert!(actions(&s).last().unwrap().contains("request.expire"));
}

#[test]
fn an_identical_live_grant_is_reused_instead_of_asking_again() {
    let (_d, s) = store();
    let r = ask(&s, 1, None);
    let g = approve(&s, r.id);
    let new = NewRequest {
        principal: "ada".into(),
        scope: Scope::parse("domain:WWW.journals.example.").unwrap(),
        duration: Duration::from_secs(60),
        claim_by: None,
        purpose: "again".into(),
        destination: None,
        approvals_needed: 1,
        pending_for: Duration::from_secs(60),
    };
    assert_eq!(
        s.submit_request(&new, as_("ada"), T0 + SEC).unwrap(),
        Submitted::Reused(g.clone())
    );
    // Once it has expired, asking is asking again.
    let after = g.expires_us.unwrap();
    assert!(matches!(
        s.submit_request(&new, as_("ada"), after).unwrap(),
        Submitted::Request(_)
    ));
}

#[test]
fn revoking_and_expiring_end_a_grant_once() {
    let (_d, s) = store();
    let g = s
        .add_grant(&research_for_ada("a seminar"), as_("root"), T0)
        .unwrap();
    let e = s.add_grant(
        &NewGrant {
            principal: "ada".into(),
            scope: Scope::parse("tier:open").unwrap(),
            duration: Duration::from_secs(60),
            claim_by: None,
            purpose: "x".into(),
        },
        as_("lib1"),
        T0,
    );
    assert!(matches!(e, Err(GrantError::Role { .. })));
    let gen = s.grant_generation().unwrap();
    let revoked = s
        .revoke_grant(g.id, "misuse", as_("root"), T0 + SEC)
        .unwrap();
    assert_eq!(
        (revoked.state, revoked.end_reason.as_deref()),
        (GrantState::Revoked, Some("misuse"))
    );
    assert!(s.grant_generation().unwrap() > gen);
    let e = s.revoke_grant(g.id, "again", as_("root"), T0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a grant cannot go from `revoked` to `revoked`"
    );
    let g2 = s
        .add_grant(&research_for_ada("a seminar"), as_("cli"), T0)
        .unwrap();
    assert!(s.sweep_grants(T0 + 59 * SEC).unwrap().is_empty());
    assert_eq!(s.sweep_grants(T0 + 60 * SEC).unwrap().grants, [g2.id]);
    assert_eq!(s.grant(g2.id).unwrap().state, GrantState::Expired);
    let e = s.revoke_grant(g2.id, "late", as_("root"), T0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a grant cannot go from `expired` to `revoked`"
    );
}

#[test]
fn a_claim_by_grant_starts_at_its_first_use_once() {
    let (_d, s) = store();
    let r = ask(&s, 1, Some(300));
    let g = approve(&s, r.id);
    assert_eq!((g.starts_us, g.claim_by_us), (None, Some(T0 + 300 * SEC)));
    let claimed = s.claim_grant(g.id, T0 + 10 * SEC).unwrap().unwrap();
    assert_eq!(claimed.expires_us, Some(T0 + 10 * SEC + 3600 * SEC));
    assert_eq!(
        s.claim_grant(g.id, T0 + 20 * SEC).unwrap(),
        None,
        "first writer wins"
    );
    assert!(actions(&s).last().unwrap().starts_with("ada grant.claim"));
    // Never claimed: expires at the end of its window.
    let r = ask(&s, 1, Some(300));
    s.review(r.id, Verdict::Approve, "", as_("lib1"), T0)
        .unwrap();
    let unclaimed = s.grants(Some("ada"), false).unwrap().pop().unwrap();
    assert_eq!(s.claim_grant(unclaimed.id, T0 + 300 * SEC).unwrap(), None);
    assert_eq!(
        s.sweep_grants(T0 + 300 * SEC).unwrap().grants,
        [unclaimed.id]
    );
}

#[test]
fn a_guest_is_disabled_at_its_expiry() {
    let (_d, s) = store();
    let new = NewGuest {
        name: "visitor".into(),
        sponsor: "lib1".into(),
        tier: policy::Tier::None,
        password_hash: "h".into(),
        lasts: Duration::from_secs(3 * 24 * 3600),
        scope: Some(Scope::parse("domain:journals.example").unwrap()),
        purpose: "visiting researcher".into(),
    };
    let e = s
        .add_guest(
            &NewGuest {
                sponsor: "ada".into(),
                ..new.clone()
            },
            as_("ada"),
            T0,
        )
        .unwrap_err();
    assert!(matches!(e, GrantError::Role { .. }), "{e}");
    let guest = s.add_guest(&new, as_("lib1"), T0).unwrap();
    assert_eq!(s.grants(Some("visitor"), false).unwrap().len(), 1);
    assert_eq!(s.guests().unwrap(), std::slice::from_ref(&guest));
    let swept = s.sweep_grants(guest.expires_us).unwrap();
    assert_eq!(swept.guests, ["visitor"]);
    assert!(s.principal("visitor").unwrap().disabled);
    assert!(actions(&s)
        .iter()
        .any(|a| a.starts_with("gatehouse guest.expire principal:visitor")));
}

#[test]
fn an_approver_sponsors_only_their_own_guests_within_their_scopes() {
    let (_d, s) = store();
    let portal = |name| Actor {
        name,
        via: "portal 127.0.0.1:1",
    };
    let new = NewGuest {
        name: "visitor".into(),
        sponsor: "lib1".into(),
        tier: policy::Tier::None,
        password_hash: "h".into(),
        lasts: Duration::from_secs(3600),
        scope: Some(Scope::parse("domain:journals.example").unwrap()),
        purpose: "visiting researcher".into(),
    };
    let refused = |g: &NewGuest, by| s.add_guest(g, by, T0).unwrap_err();
    let e = refused(
        &NewGuest {
            tier: policy::Tier::Open,
            ..new.clone()
        },
        portal("lib1"),
    );
    assert!(matches!(e, GrantError::GuestOutOfScope { .. }), "{e}");
    let e = refused(
        &NewGuest {
            scope: Some(Scope::parse("domain:elsewhere.example").unwrap()),
            ..new.clone()
        },
        portal("lib1"),
    );
    assert!(matches!(e, GrantError::GuestOutOfScope { .. }), "{e}");
    let e = refused(
        &NewGuest {
            sponsor: "root".into(),
            ..new.clone()
        },
        portal("lib1"),
    );
    assert!(matches!(e, GrantError::OtherSponsor { .. }), "{e}");
    let e = refused(&new, portal("ada"));
    assert!(matches!(e, GrantError::Role { .. }), "{e}");
    assert!(s.guests().unwrap().is_empty());
    s.add_guest(&new, portal("lib1"), T0).unwrap();
    assert_eq!(s.guests().unwrap()[0].sponsor, "lib1");
    // A scope through a group's approver scope, a tier through `tier:NAME`.
    let by_group = NewGuest {
        name: "v2".into(),
        sponsor: "lib2".into(),
        ..new.clone()
    };
    s.add_guest(&by_group, portal("lib2"), T0).unwrap();
    let open = NewGuest {
        name: "v3".into(),
        sponsor: "far".into(),
        tier: policy::Tier::Open,
        scope: None,
        ..new.clone()
    };
    s.add_guest(&open, portal("far"), T0).unwrap();
    // An admin names any sponsor and gives any tier.
    let any = NewGuest {
        name: "v4".into(),
        tier: policy::Tier::Open,
        ..new
    };
    s.add_guest(&any, portal("root"), T0).unwrap();
    assert_eq!(s.guests().unwrap().len(), 4);
}
