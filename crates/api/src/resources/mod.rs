//! `/api/v1/<resource>` for every seed table a user owns (the list is
//! `everreach_core::resources::catalog::RESOURCES`): list with filters and cursor
//! pagination, create, get, patch, delete. The routes and their OpenAPI description
//! are both built from the catalog the database reports at start.

mod schema;

pub use schema::add_to_document;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use everreach_core::resources::service::DEFAULT_LIMIT;
use everreach_core::resources::{Catalog, Resources};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::domain::{GenericOp, Handling, Op};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;

/// Whether a domain takes over or refuses `op` on resource `path` (either way the
/// generic operation and its documentation step aside).
fn is_replaced(generic: &[GenericOp], path: &str, op: Op) -> bool {
    generic.iter().any(|g| g.resource == path && g.op == op)
}

/// The reason a domain refuses `op` on `path`, if it does.
fn refusal(generic: &[GenericOp], path: &str, op: Op) -> Option<&'static str> {
    generic.iter().find_map(|g| match g.handling {
        Handling::Refused(why) if g.resource == path && g.op == op => Some(why),
        _ => None,
    })
}

/// The routes of every resource in `catalog`: the generic operations, less those a
/// domain takes over (its own route serves them), with those a domain refuses
/// answering 405 and the reason.
pub fn routes(catalog: &Catalog, generic: &[GenericOp]) -> Router<AppState> {
    let mut router = Router::new();
    for resource in &catalog.resources {
        let name = resource.path;
        let refused = |ops: &[(Op, Method)]| -> Vec<(Method, &'static str)> {
            ops.iter()
                .filter_map(|(op, method)| {
                    refusal(generic, name, *op).map(|why| (method.clone(), why))
                })
                .collect()
        };
        let mut collection =
            get(move |s: State<AppState>, u: CurrentUser, uri: Uri| list(s, u, name, uri));
        if !is_replaced(generic, name, Op::Create) {
            collection = collection.post(
                move |s: State<AppState>, u: CurrentUser, b: ApiJson<Value>| create(s, u, name, b),
            );
        }
        let mut item =
            get(move |s: State<AppState>, u: CurrentUser, id: Path<String>| read(s, u, name, id));
        if !is_replaced(generic, name, Op::Update) {
            item = item.patch(
                move |s: State<AppState>, u: CurrentUser, id: Path<String>, b: ApiJson<Value>| {
                    patch(s, u, name, id, b)
                },
            );
        }
        if !is_replaced(generic, name, Op::Delete) {
            item = item.delete(
                move |s: State<AppState>, u: CurrentUser, id: Path<String>| remove(s, u, name, id),
            );
        }
        let collection = refusing(collection, refused(&[(Op::Create, Method::POST)]));
        let item = refusing(
            item,
            refused(&[(Op::Update, Method::PATCH), (Op::Delete, Method::DELETE)]),
        );
        router = router
            .route(&format!("/api/v1/{name}"), collection)
            .route(&format!("/api/v1/{name}/{{id}}"), item);
    }
    router
}

/// A path's methods that a domain refuses are not routes of it (so neither `Allow`
/// nor the document lists them): they answer 405 from the path's method fallback,
/// with what to do instead, and axum adds `Allow` naming the methods the path serves.
fn refusing(
    router: MethodRouter<AppState>,
    refused: Vec<(Method, &'static str)>,
) -> MethodRouter<AppState> {
    if refused.is_empty() {
        return router;
    }
    router.fallback(move |method: Method| async move {
        match refused.iter().find(|(m, _)| *m == method) {
            Some((_, why)) => ApiError::Refused((*why).into()),
            None => ApiError::MethodNotAllowed,
        }
    })
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
    let pairs: Vec<(String, String)> =
        crate::extract::parse_query(uri.query().unwrap_or_default())?;
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
