//! The admin pages (admins only; `403` for anybody else): principals (`/admin`, one principal at
//! `/admin/principals/NAME`), groups (`/admin/groups`), approver scopes (`/admin/approvers`), guests (`/admin/guests`),
//! service-account tokens (`/admin/tokens`) and the running configuration's locations, terminals
//! and rules (`/admin/config`, read-only). Server-rendered forms that work without JavaScript.
//!
//! Guarantees: every POST here changes nothing unless it comes from the portal's origin and
//! carries the session's CSRF token (`check_post`, as every portal form), and the person is an
//! admin; the action itself is `admin.rs`'s, shared with the API; after an action the page shows
//! what happened, or why nothing was changed (a check's or the store's message, the CLI's words).
//! Deleting a group needs its name typed again in the form's `confirm` field.
//! A generated password or a new token is shown once, on the answer to the POST that made it.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::admin::{
    self, ApproverScope, Change, CreatedGuest, NewGroup, NewGuestForm, NewToken, NewUser, Refusal,
};
use super::admin_views::{
    self as views, AdminPerson, ConfigView, GroupView, GuestView, PageAct, PrincipalView, TokenView,
};
use super::login::{check_post, CsrfForm};
use super::session::Viewer;
use super::views::{notice, Nav};
use super::{html, Portal, PortalError};

/// A form's fields and its CSRF token.
#[derive(Deserialize)]
pub(crate) struct Posted<T> {
    #[serde(flatten)]
    pub form: T,
    #[serde(default)]
    pub csrf: String,
}

/// The answer to an admin POST: `done`'s page or redirect, or a notice saying why nothing was
/// changed, with a link back to `back`.
pub(crate) fn answer<T>(
    viewer: &Viewer,
    out: Result<T, Refusal>,
    back: &'static str,
    done: impl FnOnce(T) -> Response,
) -> Response {
    match out {
        Ok(v) => done(v),
        Err((status, message)) => notice(
            viewer,
            status,
            "Nothing was changed",
            message,
            &[(back, "Back")],
        ),
    }
}

/// `check_post`'s refusal of a POST from another origin or without the session's token.
fn refused(a: &PageAct, csrf: &str) -> Option<Response> {
    check_post(&a.portal, &a.headers, &a.viewer, csrf)
}

#[derive(Template)]
#[template(path = "admin_principals.html")]
struct PrincipalsPage {
    nav: Option<Nav>,
    csrf: String,
    principals: Vec<PrincipalView>,
}

/// `GET /admin`: every principal, a form to create a user, and each one's enable or disable.
pub(crate) async fn principals(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
) -> Result<Response, PortalError> {
    let page = PrincipalsPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        principals: views::principals(&portal).await?,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "admin_principal.html")]
struct PrincipalPage {
    nav: Option<Nav>,
    csrf: String,
    p: PrincipalView,
}

/// `GET /admin/principals/{name}`: the form that changes tier, role, groups and enabled.
pub(crate) async fn principal(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
    Path(name): Path<String>,
) -> Result<Response, PortalError> {
    let Some(p) = views::principal(&portal, &name).await? else {
        let message = format!("no principal named `{name}`");
        return Ok(notice(
            &viewer,
            StatusCode::NOT_FOUND,
            "Not found",
            message,
            &[("/admin", "Principals")],
        ));
    };
    let page = PrincipalPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        p,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /admin/principals`: create a user with an initial password.
pub(crate) async fn create(
    a: PageAct,
    Form(f): Form<Posted<NewUser>>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let (viewer, out) = (
        &a.viewer,
        admin::create_user(&a.portal, &a.viewer, a.client, &f.form).await?,
    );
    Ok(answer(viewer, out, "/admin", |p| {
        let message = format!(
            "`{}` can log in now (role {}, tier {}).",
            p.name,
            p.role.as_str(),
            p.tier
        );
        notice(
            viewer,
            StatusCode::CREATED,
            "Principal created",
            message,
            &[("/admin", "Principals")],
        )
    }))
}

/// The change form's fields: tier and role (empty: kept), groups (comma-separated; present:
/// exactly these), enabled (`true` or `false`; absent: kept).
#[derive(Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    role: String,
    groups: Option<String>,
    enabled: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/principals/{name}`: change tier, role, groups, or enable or disable.
pub(crate) async fn change(
    a: PageAct,
    Path(name): Path<String>,
    Form(f): Form<ChangeForm>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let viewer = &a.viewer;
    let enabled = match f.enabled.as_deref() {
        None | Some("") => None,
        Some(e) => Some(e == "true"),
    };
    let change = Change {
        tier: Some(f.tier),
        role: Some(f.role),
        groups: f.groups.map(|g| vec![g]),
        enabled,
    };
    let back = format!("/admin/principals/{}", super::pages::path_segment(&name));
    let out = admin::change_user(&a.portal, viewer, a.client, name.clone(), &change).await?;
    Ok(answer(viewer, out, "/admin", |done| {
        match done.is_empty() {
            true => notice(
                viewer,
                StatusCode::OK,
                "Nothing to change",
                format!("`{name}` already is as the form says."),
                &[("/admin", "Principals")],
            ),
            false => Redirect::to(&back).into_response(),
        }
    }))
}

#[derive(Template)]
#[template(path = "admin_approvers.html")]
struct ApproversPage {
    nav: Option<Nav>,
    csrf: String,
    approvers: Vec<(String, String)>,
}

/// `GET /admin/approvers`: who reviews which requests.
pub(crate) async fn approvers(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
) -> Result<Response, PortalError> {
    let page = ApproversPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        approvers: views::approvers(&portal).await?,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /admin/approvers` (give a scope) and `POST /admin/approvers/remove` (take it back).
pub(crate) async fn approver_scope(
    a: PageAct,
    uri: Uri,
    Form(f): Form<Posted<ApproverScope>>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let add = !uri.path().ends_with("/remove");
    let (viewer, out) = (
        &a.viewer,
        admin::approver(&a.portal, &a.viewer, a.client, &f.form, add).await?,
    );
    Ok(answer(viewer, out, "/admin/approvers", |_| {
        Redirect::to("/admin/approvers").into_response()
    }))
}

#[derive(Template)]
#[template(path = "admin_guests.html")]
struct GuestsPage {
    nav: Option<Nav>,
    csrf: String,
    guests: Vec<GuestView>,
}

/// `GET /admin/guests`: guests with their sponsor and expiry, and the form to create one.
pub(crate) async fn guests(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
) -> Result<Response, PortalError> {
    let page = GuestsPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        guests: views::guests(&portal).await?,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /admin/guests`: create a guest; a generated password is shown once.
pub(crate) async fn create_guest(
    a: PageAct,
    Form(f): Form<Posted<NewGuestForm>>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let (viewer, out) = (
        &a.viewer,
        admin::create_guest(&a.portal, &a.viewer, a.client, &f.form).await?,
    );
    Ok(answer(viewer, out, "/admin/guests", |c| {
        guest_created(viewer, c, "/admin/guests")
    }))
}

/// The page after a guest was created (`back`: the guests page), a generated password shown once.
pub(crate) fn guest_created(viewer: &Viewer, c: CreatedGuest, back: &str) -> Response {
    let g = &c.guest;
    let mut message = format!(
        "`{}` (tier {}), sponsored by `{}`, is disabled at {}.",
        g.name,
        g.tier,
        g.sponsor,
        super::trail::format_ts(g.expires_us)
    );
    if let Some(pw) = c.password {
        message.push_str(&format!(" Their password, shown only this once: {pw}"));
    }
    notice(
        viewer,
        StatusCode::CREATED,
        "Guest created",
        message,
        &[(back, "Guests")],
    )
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    nav: Option<Nav>,
    csrf: String,
    tokens: Vec<TokenView>,
}

/// `GET /admin/tokens`: service-account tokens (never the tokens themselves).
pub(crate) async fn tokens(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
) -> Result<Response, PortalError> {
    let page = TokensPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        tokens: views::tokens(&portal).await?,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /admin/tokens`: create a token, shown once.
pub(crate) async fn create_token(
    a: PageAct,
    Form(f): Form<Posted<NewToken>>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let (viewer, out) = (
        &a.viewer,
        admin::create_token(&a.portal, &a.viewer, a.client, &f.form).await?,
    );
    Ok(answer(viewer, out, "/admin/tokens", |(t, token)| {
        let message = format!(
            "Token {} acts as `{}` on /api/v1. Copy it now, it is shown only this once: {token}",
            t.id, t.principal
        );
        notice(
            viewer,
            StatusCode::CREATED,
            "Token created",
            message,
            &[("/admin/tokens", "Tokens")],
        )
    }))
}

/// `POST /admin/tokens/{id}/revoke`.
pub(crate) async fn revoke_token(
    a: PageAct,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let (viewer, out) = (
        &a.viewer,
        admin::revoke_token(&a.portal, &a.viewer, a.client, id).await?,
    );
    Ok(answer(viewer, out, "/admin/tokens", |_| {
        Redirect::to("/admin/tokens").into_response()
    }))
}

#[derive(Template)]
#[template(path = "admin_config.html")]
struct ConfigPage {
    nav: Option<Nav>,
    c: ConfigView,
}

/// `GET /admin/config`: locations, terminals and rules in force (edited in files).
pub(crate) async fn config(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
) -> Result<Response, PortalError> {
    let page = ConfigPage {
        nav: Nav::of(&viewer),
        c: views::config_view(&portal),
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    nav: Option<Nav>,
    csrf: String,
    groups: Vec<GroupView>,
}

/// `GET /admin/groups`: every group with its member count, the forms to create and delete one.
pub(crate) async fn groups(
    State(portal): State<Arc<Portal>>,
    AdminPerson(viewer): AdminPerson,
) -> Result<Response, PortalError> {
    let page = GroupsPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        groups: views::groups(&portal).await?,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /admin/groups`: create an empty group.
pub(crate) async fn create_group(
    a: PageAct,
    Form(f): Form<Posted<NewGroup>>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let (viewer, out) = (
        &a.viewer,
        admin::create_group(&a.portal, &a.viewer, a.client, &f.form).await?,
    );
    Ok(answer(viewer, out, "/admin/groups", |_| {
        Redirect::to("/admin/groups").into_response()
    }))
}

/// The delete form: the group's name typed again.
#[derive(Deserialize, Default)]
pub(crate) struct DeleteGroup {
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/groups/{name}/delete`: delete a group and its memberships, once confirmed.
pub(crate) async fn delete_group(
    a: PageAct,
    Path(name): Path<String>,
    Form(f): Form<Posted<DeleteGroup>>,
) -> Result<Response, PortalError> {
    if let Some(r) = refused(&a, &f.csrf) {
        return Ok(r);
    }
    let viewer = &a.viewer;
    if f.form.confirm.trim() != name {
        let message = format!("type the group's name `{name}` to confirm deleting it");
        let back = [("/admin/groups", "Back")];
        return Ok(notice(
            viewer,
            StatusCode::BAD_REQUEST,
            "Nothing was changed",
            message,
            &back,
        ));
    }
    let out = admin::delete_group(&a.portal, viewer, a.client, name.clone()).await?;
    Ok(answer(viewer, out, "/admin/groups", |members| {
        let message = match members.is_empty() {
            true => format!("`{name}` had no members."),
            false => format!("`{name}` had members {}.", members.join(", ")),
        };
        notice(
            viewer,
            StatusCode::OK,
            "Group deleted",
            message,
            &[("/admin/groups", "Groups")],
        )
    }))
}
