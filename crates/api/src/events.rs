//! `/api/v1/events` (the signed-in user's domain events, newest first, filtered by
//! entity, type and time) and `/api/v1/events/stream` (the same, live, as
//! Server-Sent Events; resumable with `Last-Event-ID`).
//!
//! One LISTEN connection per process feeds a broadcast channel ([`EventHub`]); each
//! stream takes the announcements of its own user and reads the event through that
//! user's tenant transaction, so a stream never shows another tenant's event. A
//! stream re-checks its credential every `recheck_every` and ends once it is revoked
//! (or the user deactivated); each user holds at most `max_streams_per_user`.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use everreach_core::accounts::Accounts;
use everreach_core::db::tenant;
use everreach_core::platform::events::{self, Announced, Event, EventFilter};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{CurrentUser, Via};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;

/// The process's one subscription to channel `events`, and the live streams per user.
#[derive(Debug, Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Announced>,
    streams: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// How often a stream checks that its credential still stands.
    pub recheck_every: Duration,
    /// The most streams one user may hold open.
    pub max_streams_per_user: usize,
}

/// A stream's place in its user's count, given back when the stream ends.
struct StreamSlot {
    streams: Arc<Mutex<HashMap<Uuid, usize>>>,
    user_id: Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = streams.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                streams.remove(&self.user_id);
            }
        }
    }
}

impl EventHub {
    /// Starts listening (a task that lives as long as the process).
    pub fn start(pool: PgPool) -> EventHub {
        let (sender, _) = broadcast::channel(4096);
        let tx = sender.clone();
        tokio::spawn(async move {
            events::listen(&pool, move |a| {
                let _ = tx.send(a); // nobody listening is fine
                true
            })
            .await;
        });
        EventHub {
            sender,
            streams: Arc::default(),
            recheck_every: Duration::from_secs(30),
            max_streams_per_user: 5,
        }
    }

    /// A slot for one more stream of `user_id`, or 429 past the cap.
    fn take_slot(&self, user_id: Uuid) -> Result<StreamSlot, ApiError> {
        let mut streams = self
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = streams.entry(user_id).or_insert(0);
        if *n >= self.max_streams_per_user {
            return Err(ApiError::TooManyRequests {
                retry_after_secs: 30,
            });
        }
        *n += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            user_id,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Announced> {
        self.sender.subscribe()
    }
}

pub fn signed_in_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    entity_type: Option<String>,
    entity_id: Option<Uuid>,
    event_type: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Event>,
    next_cursor: Option<String>,
}

/// The signed-in user's events, newest first.
#[utoipa::path(get, path = "/events", tag = "events", params(EventsQuery),
    responses((status = 200, body = EventsPage, description = "A page"), (status = 422, body = Problem, description = "An invalid filter")))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    let limit = crate::cursor::page_limit(q.limit)?;
    let before = q.cursor.as_deref().map(crate::cursor::decode).transpose()?;
    let filter = EventFilter {
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        event_type: q.event_type,
        since: q.since,
        until: q.until,
        before,
    };
    let mut tx = tenant::begin(&state.db.app, user.id).await?;
    let items = events::list(&mut tx, user.id, &filter, limit).await?;
    tx.commit().await?;
    let next_cursor = crate::cursor::next(&items, limit, |e| Some((e.created_at, e.id)));
    Ok(Json(EventsPage { items, next_cursor }))
}

/// The signed-in user's events as they happen (Server-Sent Events: `id` is the event
/// id, `event` its type, `data` the event as JSON). Reconnect with `Last-Event-ID`
/// to receive what was missed first. A stream ends when its token or session is
/// revoked or the user is deactivated (checked every 30 seconds); a user holds at
/// most 5 streams at once.
#[utoipa::path(get, path = "/events/stream", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this event")),
    responses((status = 200, content_type = "text/event-stream", description = "The stream"),
              (status = 429, body = Problem, description = "Too many open streams")))]
pub(crate) async fn stream_events(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>>> {
    stream(&state, user, &headers, sse)
}

/// A live stream of `user`'s events, each written by `render` — the API's JSON
/// ([`stream_events`]) or the Activity page's HTML rows (`crates/web`): the backlog
/// after `Last-Event-ID`, then each event as it is announced, ending when the
/// credential is revoked.
pub fn stream(
    state: &AppState,
    user: CurrentUser,
    headers: &HeaderMap,
    render: fn(&Event) -> SseEvent,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>> + use<>>> {
    let slot = state.events.take_slot(user.id)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v.trim()).ok());
    let credential = Credential::of(user.via, headers);
    // Subscribe before reading the backlog, so nothing falls between the two.
    let live = state.events.subscribe();
    let (tx, mut rx) = mpsc::channel::<SseEvent>(64);
    let still_valid = Recheck {
        accounts: state.accounts.clone(),
        credential,
        user_id: user.id,
        every: state.events.recheck_every,
    };
    let pool = state.db.app.clone();
    tokio::spawn(async move {
        feed(pool, user.id, last, live, tx, still_valid, render).await;
        drop(slot);
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What signed a stream in, to check again while it lives.
enum Credential {
    Token(String),
    Session(String),
}

impl Credential {
    fn of(via: Via, headers: &HeaderMap) -> Option<Credential> {
        match via {
            Via::ApiToken => headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_string()))
                .map(Credential::Token),
            Via::Session => crate::auth::session_cookie(headers).map(Credential::Session),
        }
    }
}

struct Recheck {
    accounts: Accounts,
    credential: Option<Credential>,
    user_id: Uuid,
    every: Duration,
}

impl Recheck {
    /// Whether the credential still signs in the same, active user.
    async fn holds(&self) -> bool {
        let found = match &self.credential {
            Some(Credential::Token(t)) => self.accounts.authenticate_token(t).await,
            Some(Credential::Session(c)) => self.accounts.authenticate_session(c).await,
            None => return false,
        };
        match found {
            Ok(p) => p.is_some_and(|p| p.user_id == self.user_id),
            // the database is away: keep the stream, check again next time
            Err(_) => true,
        }
    }
}

fn sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.event_type.clone())
        .data(serde_json::to_string(event).unwrap_or_default())
}

/// Sends the backlog after `last`, then each live event of `user_id`, until the client
/// goes away.
async fn feed(
    pool: PgPool,
    user_id: Uuid,
    last: Option<Uuid>,
    mut live: broadcast::Receiver<Announced>,
    out: mpsc::Sender<SseEvent>,
    still_valid: Recheck,
    render: fn(&Event) -> SseEvent,
) {
    let mut recheck = tokio::time::interval(still_valid.every);
    recheck.tick().await; // the first tick is now: the caller was just checked
    let mut sent: HashSet<Uuid> = HashSet::new();
    let mut last_sent = last;
    if let Some(after) = last
        && let Ok(backlog) = read_after(&pool, user_id, after).await
    {
        for event in backlog {
            last_sent = Some(event.id);
            sent.insert(event.id);
            if out.send(render(&event)).await.is_err() {
                return;
            }
        }
    }
    loop {
        let announced = tokio::select! {
            a = live.recv() => a,
            _ = out.closed() => return,
            _ = recheck.tick() => {
                if still_valid.holds().await {
                    continue;
                }
                return;
            }
        };
        let events = match announced {
            Ok(a) if a.user_id == user_id && !sent.contains(&a.id) => {
                match read_one(&pool, user_id, a.id).await {
                    Ok(Some(e)) => vec![e],
                    _ => continue,
                }
            }
            Ok(_) => continue,
            // Fell behind the broadcast: read what was missed from the table.
            Err(broadcast::error::RecvError::Lagged(_)) => match last_sent {
                Some(after) => read_after(&pool, user_id, after).await.unwrap_or_default(),
                None => continue,
            },
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for event in events {
            last_sent = Some(event.id);
            sent.insert(event.id);
            if out.send(render(&event)).await.is_err() {
                return;
            }
        }
        if sent.len() > 10_000 {
            sent.clear();
        }
    }
}

async fn read_one(pool: &PgPool, user_id: Uuid, id: Uuid) -> Result<Option<Event>, sqlx::Error> {
    let mut tx = tenant::begin(pool, user_id).await?;
    let event = events::get(&mut tx, user_id, id).await?;
    tx.commit().await?;
    Ok(event)
}

async fn read_after(pool: &PgPool, user_id: Uuid, after: Uuid) -> Result<Vec<Event>, sqlx::Error> {
    let mut tx = tenant::begin(pool, user_id).await?;
    let events = events::after(&mut tx, user_id, after, 1000).await?;
    tx.commit().await?;
    Ok(events)
}
