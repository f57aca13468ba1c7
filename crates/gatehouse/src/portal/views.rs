//! What several pages share: the navigation of a logged-in person ([`Nav`]) and the refusal
//! page ([`Refused`]) with its two uses, a refused POST ([`refused`]) and another person's records
//! ([`forbidden`]); and [`notice`], the page after an action.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::html;
use super::session::Viewer;

/// The navigation of a logged-in person, shown on every page.
pub(crate) struct Nav {
    pub name: String,
    pub admin: bool,
    /// An approver or admin: the navigation shows the review queue.
    pub reviewer: bool,
    pub csrf: String,
}

impl Nav {
    pub fn of(v: &Viewer) -> Option<Nav> {
        Some(Nav {
            name: v.name().to_string(),
            admin: v.is_admin(),
            reviewer: v.reviews(),
            csrf: v.csrf.clone(),
        })
    }
}

/// A refusal: a state-changing request from another site or without its token, or another
/// person's records.
#[derive(Template)]
#[template(path = "refused.html")]
pub(crate) struct Refused {
    pub nav: Option<Nav>,
    pub title: &'static str,
    pub message: String,
}

/// A page that says what happened (a request submitted, a review recorded) or why an action was
/// refused by the store's rules, with where to go next.
#[derive(Template)]
#[template(path = "notice.html")]
pub(crate) struct Notice {
    pub nav: Option<Nav>,
    pub title: String,
    pub message: String,
    /// `(path, text)` links.
    pub links: Vec<(String, String)>,
}

/// A notice page with `status`.
pub(crate) fn notice(
    viewer: &Viewer,
    status: StatusCode,
    title: &str,
    message: String,
    links: &[(&str, &str)],
) -> Response {
    html(
        status,
        &Notice {
            nav: Nav::of(viewer),
            title: title.to_string(),
            message,
            links: links
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        },
    )
}

/// `403` with a page that says why; nothing was changed.
pub(crate) fn refused(message: &str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        &Refused {
            nav: None,
            title: "Refused",
            message: message.to_string(),
        },
    )
}

/// `403`: another person's records, or an admin page.
pub(crate) fn forbidden(viewer: &Viewer) -> Response {
    html(
        StatusCode::FORBIDDEN,
        &Refused {
            nav: Nav::of(viewer),
            title: "Not yours to see",
            message: "These are another person's records (or an administrator's page). You can \
                      see your own: follow “My activity”."
                .to_string(),
        },
    )
}
