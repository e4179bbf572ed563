//! `GET /people/search`: people by part of a name, handle or e-mail (case and accents
//! ignored), or — without a query — everyone ordered by warmth, last activity or name.

use axum::Json;
use axum::extract::State;
use everreach_core::db::tenant::TenantTx;
use everreach_core::people::search::{self, Filter, Order, PersonRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Part of a name, handle or e-mail (at least 2 characters). Without it, everyone
    /// is listed in `sort` order.
    q: Option<String>,
    /// Without `q`: warmth (the default), last_active or name.
    sort: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only people with an identity on this channel (email, instagram, linkedin …).
    channel: Option<String>,
    /// Only people in this activity state: active, warming, cool or dormant.
    state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeoplePage {
    items: Vec<PersonRow>,
    /// The next page's cursor; null on the last page.
    next_cursor: Option<String>,
}

/// Finds people: with `q`, those whose name, handle or e-mail starts with it, then
/// contains it, then looks like it (trigram similarity), case and accents ignored
/// (`julia` finds Júlia), best first, each with what matched as stored; without,
/// everyone by warmth, last activity or name.
#[utoipa::path(get, path = "/people/search", tag = "people", params(SearchQuery),
    responses((status = 200, body = PeoplePage, description = "A page of people"),
              (status = 422, body = Problem, description = "A query under 2 characters, an unknown sort, a bad limit or cursor")))]
pub(crate) async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<PeoplePage>> {
    let limit = crate::cursor::page_limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            let parts = crate::cursor::decode_key(c, 2)?;
            let id = parts[1]
                .parse::<Uuid>()
                .map_err(|_| ApiError::invalid("/cursor", "is not a cursor this list gave out"))?;
            Ok::<_, ApiError>((parts[0].clone(), id))
        })
        .transpose()?;
    let query = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let order = match q.sort.as_deref() {
        None => Order::Warmth,
        Some(s) => Order::parse(s)
            .ok_or_else(|| ApiError::invalid("/sort", "must be warmth, last_active or name"))?,
    };
    let channel = q
        .channel
        .as_deref()
        .map(|c| {
            everreach_core::people::Channel::parse(c)
                .map(|c| c.as_str().to_string())
                .map_err(|_| {
                    ApiError::invalid(
                        "/channel",
                        "is not a channel (email, instagram, linkedin, twitter …)",
                    )
                })
        })
        .transpose()?;
    if let Some(s) = &q.state
        && !["active", "warming", "cool", "dormant"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "/state",
            "must be active, warming, cool or dormant",
        ));
    }
    let filter = Filter {
        channel,
        activity_state: q.state.clone(),
    };
    let mut tx = TenantTx::begin_snapshot(&state.db.app, user.id).await?;
    let items = match query {
        Some(text) if text.chars().count() < 2 => {
            return Err(ApiError::invalid(
                "/q",
                "give at least 2 characters of a name, handle or e-mail",
            ));
        }
        Some(text) => search::search(&mut tx, text, &filter, after, limit).await?,
        None => search::directory(&mut tx, order, &filter, after, limit).await?,
    };
    tx.commit().await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last())
        .flatten()
        .map(|p| crate::cursor::encode_key(&[p.sort_key.clone(), p.id.to_string()]));
    Ok(Json(PeoplePage { items, next_cursor }))
}
