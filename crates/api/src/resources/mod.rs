//! `/api/v1/<resource>` for every seed table a user owns (the list is
//! `everreach_core::resources::catalog::RESOURCES`): list with filters and cursor
//! pagination, create, get, patch, delete. The routes and their OpenAPI description
//! are both built from the catalog the database reports at start.

mod schema;

pub use schema::add_to_document;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use everreach_core::resources::service::DEFAULT_LIMIT;
use everreach_core::resources::{Catalog, ResourceError, Resources};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::ApiJson;

/// Generic operations a domain serves itself, as `(resource path, operation)` with
/// operation one of `create`, `update`, `delete`: the domain's route (and its
/// documentation) takes the place of the generic one.
pub type Replaced<'a> = &'a [(&'a str, &'a str)];

fn is_replaced(replaced: Replaced<'_>, path: &str, op: &str) -> bool {
    replaced.iter().any(|(p, o)| *p == path && *o == op)
}

/// The routes of every resource in `catalog`, less the `replaced` ones.
pub fn routes(catalog: &Catalog, replaced: Replaced<'_>) -> Router<AppState> {
    let mut router = Router::new();
    for resource in &catalog.resources {
        let name = resource.path;
        let mut collection =
            get(move |s: State<AppState>, u: CurrentUser, uri: Uri| list(s, u, name, uri));
        if !is_replaced(replaced, name, "create") {
            collection = collection.post(
                move |s: State<AppState>, u: CurrentUser, b: ApiJson<Value>| create(s, u, name, b),
            );
        }
        let mut item =
            get(move |s: State<AppState>, u: CurrentUser, id: Path<String>| read(s, u, name, id));
        if !is_replaced(replaced, name, "update") {
            item = item.patch(
                move |s: State<AppState>, u: CurrentUser, id: Path<String>, b: ApiJson<Value>| {
                    patch(s, u, name, id, b)
                },
            );
        }
        if !is_replaced(replaced, name, "delete") {
            item = item.delete(
                move |s: State<AppState>, u: CurrentUser, id: Path<String>| remove(s, u, name, id),
            );
        }
        router = router
            .route(&format!("/api/v1/{name}"), collection)
            .route(&format!("/api/v1/{name}/{{id}}"), item);
    }
    router
}

impl From<ResourceError> for ApiError {
    fn from(e: ResourceError) -> ApiError {
        match e {
            ResourceError::Invalid(problems) => ApiError::Invalid(
                problems
                    .into_iter()
                    .map(|(f, m)| FieldError::new(f, m))
                    .collect(),
            ),
            ResourceError::NotFound => ApiError::NotFound,
            ResourceError::Conflict { field, detail } => ApiError::Conflict { field, detail },
            ResourceError::Refused(detail) => ApiError::Conflict {
                field: None,
                detail,
            },
            ResourceError::Db(e) => crate::error::db_error(e),
        }
    }
}

fn resource<'a>(
    resources: &'a Resources,
    name: &str,
) -> ApiResult<&'a everreach_core::resources::Resource> {
    resources.catalog().get(name).ok_or(ApiError::NotFound)
}

fn object(body: Value) -> ApiResult<serde_json::Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid("/", "must be a JSON object")),
    }
}

async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    name: &'static str,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let r = resource(&state.resources, name)?;
    let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(&uri)
        .map(|q: axum::extract::Query<Vec<(String, String)>>| q.0)
        .map_err(|_| ApiError::BadRequest("the query string is not valid URL encoding".into()))?;
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = None;
    let mut filters = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=everreach_core::resources::service::MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid("/limit", "must be a whole number from 1 to 500")
                    })?;
            }
            "cursor" => cursor = Some(v),
            _ => filters.push((k, v)),
        }
    }
    let page = state
        .resources
        .list(user.id, r, &filters, cursor.as_deref(), limit)
        .await?;
    Ok(Json(
        json!({ "items": page.items, "next_cursor": page.next_cursor }),
    ))
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    name: &'static str,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let r = resource(&state.resources, name)?;
    let row = state.resources.create(user.id, r, object(body)?).await?;
    let location = format!("/api/v1/{name}/{}", Resources::id_of(r, &row));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(row),
    )
        .into_response())
}

async fn read(
    State(state): State<AppState>,
    user: CurrentUser,
    name: &'static str,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = resource(&state.resources, name)?;
    Ok(Json(state.resources.get(user.id, r, &id).await?))
}

async fn patch(
    State(state): State<AppState>,
    user: CurrentUser,
    name: &'static str,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let r = resource(&state.resources, name)?;
    Ok(Json(
        state
            .resources
            .patch(user.id, r, &id, object(body)?)
            .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    name: &'static str,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let r = resource(&state.resources, name)?;
    state.resources.delete(user.id, r, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
