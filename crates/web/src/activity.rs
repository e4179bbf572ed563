//! The Activity page (`/activity`): the signed-in user's domain events, newest first,
//! live over Server-Sent Events (`/activity/stream`, each event an HTML row the
//! script puts on top; without JavaScript, reloading shows the same).

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use everreach_api::AppState;
use everreach_api::auth::{CurrentUser, Via};
use everreach_core::db::tenant;
use everreach_core::platform::events::{self, Event, EventFilter};

use crate::accounts::query;
use crate::error::PageResult;
use crate::fmt::{self, When};
use crate::session::Signed;
use crate::shell::{self, Nav, Shell};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/activity", get(page))
        .route("/activity/stream", get(stream))
}

#[derive(Debug, Clone)]
pub struct Item {
    pub what: String,
    pub link: Option<String>,
    pub detail: String,
    pub when: When,
}

#[derive(Template)]
#[template(path = "activity_item.html")]
struct ItemPart {
    item: Item,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    shell: Shell,
    items: Vec<Item>,
    more: Option<String>,
}

fn words(event_type: &str) -> String {
    let mut text = event_type.replace(['_', '.'], " ");
    if let Some(first) = text.get(0..1) {
        text = first.to_uppercase() + &text[1..];
    }
    text
}

fn item(e: &Event, tz: chrono_tz::Tz) -> Item {
    let link = match e.entity_type.as_str() {
        "person" | "people" => Some(format!("/people/{}", e.entity_id)),
        _ => None,
    };
    let detail = e
        .payload
        .get("channel")
        .and_then(|v| v.as_str())
        .map(|c| format!("on {c}"))
        .unwrap_or_default();
    Item {
        what: words(&e.event_type),
        link,
        detail,
        when: fmt::when(e.created_at, tz),
    }
}

async fn page(
    State(state): State<AppState>,
    me: Signed,
    RawQuery(q): RawQuery,
) -> PageResult<Response> {
    let q = query(q);
    let before = everreach_api::cursor::decode(q.get("cursor")).ok();
    let tz = fmt::zone(me.user.timezone.as_deref());
    let filter = EventFilter {
        before,
        ..EventFilter::default()
    };
    let mut tx = tenant::begin(&state.db.app, me.user_id()).await?;
    let found = events::list(&mut tx, me.user_id(), &filter, 50).await?;
    tx.commit().await?;
    let more = everreach_api::cursor::next(&found, 50, |e| Some((e.created_at, e.id)));
    Ok(shell::render(&ActivityPage {
        shell: me.shell("Activity", Nav::Activity),
        items: found.iter().map(|e| item(e, tz)).collect(),
        more,
    }))
}

fn html_row(e: &Event) -> SseEvent {
    // the stream has no user time zone at hand: times are relative ("just now")
    let part = ItemPart {
        item: item(e, chrono_tz::Tz::UTC),
    };
    SseEvent::default().id(e.id.to_string()).data(
        askama::Template::render(&part)
            .unwrap_or_default()
            .replace('\n', " "),
    )
}

async fn stream(
    State(state): State<AppState>,
    me: Signed,
    headers: HeaderMap,
) -> PageResult<Response> {
    let user = CurrentUser {
        id: me.user_id(),
        role: me.principal.role,
        company_id: me.principal.company_id,
        via: Via::Session,
    };
    Ok(everreach_api::events::stream(&state, user, &headers, html_row)?.into_response())
}
