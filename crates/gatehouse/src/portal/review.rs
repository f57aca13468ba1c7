//! The approvers' queue (`/review`): the submitted requests in the approver's scopes, each with
//! requester, scope, duration, purpose and the requester's recent requests, and the approve or
//! deny form with a comment.
//!
//! Guarantees: only approvers and admins open it (`403` for everybody else); each requester whose
//! requests the queue shows is recorded as looked at (`audit.read`) before the page is sent; a verdict goes
//! through [`crate::store::GrantStore::review`] with the approver as the one acting, so the store's
//! rules hold as for the CLI (nobody approves their own request, a scope of theirs must cover the
//! request, two-approval scopes need two different approvers) and the verdict is recorded; a
//! denial needs a comment; the POST needs the portal's origin and the session's CSRF token.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::login::check_post;
use super::records::{grant_refusal, unseen_request, RequestView};
use super::session::{Person, Viewer};
use super::views::{forbidden, notice, Nav};
use super::{html, via, Portal, PortalError};
use crate::store::{AuditRow, RequestRow, Reviewed, Verdict};

/// A request in the queue, with the requester's other recent requests.
pub(crate) struct QueuedView {
    pub request: RequestView,
    /// `ID state scope` of the requester's recent requests.
    pub recent: Vec<String>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    nav: Option<Nav>,
    csrf: String,
    queue: Vec<QueuedView>,
}

/// How many of a requester's recent requests the queue shows beside each request.
const RECENT: u64 = 6;

/// The queue of `viewer` (an approver or admin), each request with its requester's recent
/// requests. Showing someone's requests to an approver is a look at their records: one
/// `audit.read` per requester (subject `principal:NAME`, detail the request ids shown) is stored
/// with the reading, before anything is sent.
pub(crate) async fn queue_of(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
) -> Result<Result<Vec<(RequestRow, Vec<RequestRow>)>, crate::store::GrantError>, PortalError> {
    let (name, now, from) = (viewer.name().to_string(), portal.now_us(), via(client));
    portal
        .with_grants(move |s| {
            let queue = s.review_queue(&name, now)?;
            let mut out: Vec<(RequestRow, Vec<RequestRow>)> = Vec::with_capacity(queue.len());
            let mut looks: Vec<AuditRow> = Vec::new();
            for r in queue {
                let recent = s.requests(Some(&r.principal), None, RECENT)?;
                let others: Vec<RequestRow> = recent.into_iter().filter(|o| o.id != r.id).collect();
                let ids: Vec<String> = std::iter::once(r.id)
                    .chain(others.iter().map(|o| o.id))
                    .map(|id| id.to_string())
                    .collect();
                let detail = format!("review queue: requests {}", ids.join(","));
                let subject = format!("principal:{}", r.principal);
                looks.push(AuditRow::action(
                    now,
                    &name,
                    &from,
                    "audit.read",
                    &subject,
                    Some(detail),
                ));
                out.push((r, others));
            }
            if !looks.is_empty() {
                s.append_audit(&looks)?;
            }
            Ok(out)
        })
        .await
}

/// `GET /review`.
pub(crate) async fn queue(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
) -> Result<Response, PortalError> {
    if !viewer.reviews() {
        return Ok(forbidden(&viewer));
    }
    let queue = match queue_of(&portal, &viewer, client).await? {
        Ok(q) => q,
        Err(e) => return Ok(refusal_notice(&viewer, &e)),
    };
    let queue = queue
        .iter()
        .map(|(r, recent)| QueuedView {
            request: RequestView::of(r),
            recent: recent
                .iter()
                .rev()
                .map(|o| format!("{} {} {}", o.id, o.state, o.scope))
                .collect(),
        })
        .collect();
    let page = ReviewPage {
        nav: Nav::of(&viewer),
        csrf: viewer.csrf.clone(),
        queue,
    };
    Ok(html(StatusCode::OK, &page))
}

fn refusal_notice(viewer: &Viewer, e: &crate::store::GrantError) -> Response {
    let status = grant_refusal(e).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    notice(
        viewer,
        status,
        "Not done",
        e.to_string(),
        &[("/review", "The review queue")],
    )
}

/// The verdict form.
#[derive(Deserialize)]
pub(crate) struct VerdictForm {
    #[serde(default)]
    pub verdict: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub csrf: String,
}

/// Record `viewer`'s verdict on request `id`: what the store did, or a refusal with its status (a
/// request outside the approver's scopes is answered as no such request, `404`).
pub(crate) async fn decide_for(
    portal: &Portal,
    viewer: &Viewer,
    client: SocketAddr,
    id: i64,
    f: &VerdictForm,
) -> Result<Result<Reviewed, (StatusCode, String)>, PortalError> {
    let verdict = match f.verdict.as_str() {
        "approve" => Verdict::Approve,
        "deny" if f.comment.trim().is_empty() => {
            let why = "say why the request is denied (a comment): the requester reads it";
            return Ok(Err((StatusCode::BAD_REQUEST, why.to_string())));
        }
        "deny" => Verdict::Deny,
        other => {
            let why = format!("`{other}` is no verdict: `approve` or `deny`");
            return Ok(Err((StatusCode::BAD_REQUEST, why)));
        }
    };
    let comment = f.comment.trim().to_string();
    portal
        .act(viewer, client, move |s, by, now| {
            s.review(id, verdict, &comment, by, now)
                .map_err(unseen_request(id))
        })
        .await
}

/// `POST /review/{id}`: approve or deny, with a comment.
pub(crate) async fn decide(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Person(viewer): Person,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<VerdictForm>,
) -> Result<Response, PortalError> {
    if let Some(refusal) = check_post(&portal, &headers, &viewer, &f.csrf) {
        return Ok(refusal);
    }
    if !viewer.reviews() {
        return Ok(forbidden(&viewer));
    }
    let back = [("/review", "The review queue")];
    Ok(match decide_for(&portal, &viewer, client, id, &f).await? {
        Ok(Reviewed::Pending { approvals, needed }) => notice(
            &viewer,
            StatusCode::OK,
            "Approved",
            format!(
                "Request {id} has {approvals} of {needed} approvals: it needs another approver."
            ),
            &back,
        ),
        Ok(Reviewed::Approved(g)) => notice(
            &viewer,
            StatusCode::OK,
            "Approved",
            format!(
                "Request {id} is approved: grant {} gives `{}` `{}`.",
                g.id, g.principal, g.scope
            ),
            &back,
        ),
        Ok(Reviewed::Denied) => notice(
            &viewer,
            StatusCode::OK,
            "Denied",
            format!("Request {id} is denied."),
            &back,
        ),
        Err((status, message)) => notice(&viewer, status, "Not done", message, &back),
    })
}
