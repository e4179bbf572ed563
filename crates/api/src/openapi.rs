//! The OpenAPI document, generated from the handlers' annotations, served at
//! `/api/v1/openapi.json` with Swagger UI (vendored into the binary, so it works
//! offline) at `/api/docs`. Routes are registered with `routes!`, which takes each
//! path from the handler's `#[utoipa::path]`, so no route exists undocumented. A
//! snapshot test keeps `docs/openapi.json` in step.
//!
//! The answers every operation shares — a body that is not JSON, too large or of the
//! wrong type, a bad query parameter, no sign-in, the rate limit, the database away —
//! are not written on each handler: [`add_common_responses`] adds them to every
//! operation from what the operation is (signed in or public, with a body, query or
//! path parameters, a POST), and declares every error `application/problem+json`. A
//! schema-driven fuzzer (`scripts/fuzz-api`, run by `scripts/test`) holds the
//! document to what the server answers.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::error::{FieldError, Problem};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "EverReach API", version = "1", description = "Relationship OS and content engine. Conventions: docs/API.md."),
    components(schemas(Problem, FieldError)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags((name = "auth", description = "Sign-up, sign-in, sessions"), (name = "me", description = "The signed-in user"),
         (name = "company", description = "The company, its members and audit log"),
         (name = "jobs", description = "Background jobs acting for the company"),
         (name = "events", description = "Domain events: the event store, listed and streamed"),
         (name = "ops", description = "Health, readiness, metrics"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("er_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The whole document: the base above, every route's own annotation, and the
/// resources of `catalog`.
pub fn document(catalog: &everreach_core::resources::Catalog) -> utoipa::openapi::OpenApi {
    let mut doc = crate::routes(|r| r, |r| r, |r| r).split_for_parts().1;
    add_domains(&mut doc, &catalog.resources, &crate::domain::generic_ops());
    doc
}

/// The document as served and committed: [`document`]'s, with the schemas utoipa's
/// types cannot hold added as JSON — the segment language's JSON Schema (2020-12,
/// recursive, `prefixItems`, `const`), which the segment operations' `definition`
/// refers to.
pub fn to_json(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    if let Some(schemas) = value
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    {
        schemas.extend(everreach_core::segments::schema::openapi_components());
    }
    value
}

/// Adds what the registered domains bring beside their routes' own annotations: their
/// tags (with descriptions), and the generic resources less the operations the
/// domains take over or refuse; then the responses every operation shares
/// ([`add_common_responses`]).
pub fn add_domains(
    doc: &mut utoipa::openapi::OpenApi,
    resources: &[everreach_core::resources::Resource],
    generic: &[crate::domain::GenericOp],
) {
    let tags = doc.tags.get_or_insert_with(Vec::new);
    for (name, description) in crate::domain::DOMAINS.iter().flat_map(|d| d.tags) {
        tags.retain(|t| t.name != *name);
        tags.push(
            utoipa::openapi::tag::TagBuilder::new()
                .name(*name)
                .description(Some(*description))
                .build(),
        );
    }
    crate::resources::add_to_document(doc, resources, generic);
    add_common_responses(doc);
}

/// Marks every operation of `routes` as open to anyone (`security: []`): routes
/// without sign-in (sign-up and sign-in, links sent by mail, tracking).
pub fn public<S>(mut routes: OpenApiRouter<S>) -> OpenApiRouter<S>
where
    S: Send + Sync + Clone + 'static,
{
    for item in routes.get_openapi_mut().paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            op.security = Some(Vec::new());
        }
    }
    routes
}

/// Every operation of a path, with its method in lower case.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}

/// An error answer: `application/problem+json` with the [`Problem`] schema.
pub(crate) fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

const PROBLEM_JSON: &str = "application/problem+json";

/// The header a signed-in POST may carry to be retried safely (docs/API.md).
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The answers many operations share, declared once under `components/responses`:
/// `(status, component name, description)`.
const SHARED: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "The body is not JSON (`detail` gives line and column)",
    ),
    (
        "401",
        "Unauthorized",
        "Not signed in: no, unknown, revoked or expired credentials",
    ),
    (
        "403",
        "Forbidden",
        "The role may not do this (viewers change nothing), or a cross-site request came with the session cookie",
    ),
    ("404", "NotFound", "No such row for you"),
    (
        "409",
        "IdempotencyConflict",
        "A request with this Idempotency-Key is still running, or made a credential (which is never replayed)",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than this route takes (1 MiB; 32 MiB for an event batch)",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not sent as `Content-Type: application/json`",
    ),
    (
        "422",
        "InvalidInput",
        "Invalid input: `errors` names each wrong field, query parameter or header (`/email`, `/limit`, `/Idempotency-Key`)",
    ),
    (
        "429",
        "TooManyRequests",
        "Over the rate limit: `Retry-After` says when to retry",
    ),
    (
        "500",
        "Internal",
        "Our fault: logged with the request id (`x-request-id`), nothing else revealed",
    ),
    (
        "503",
        "Unavailable",
        "The database is unreachable or busy; retry shortly",
    ),
];

/// The `Retry-After` header of a 429.
fn retry_after() -> RefOr<utoipa::openapi::header::Header> {
    RefOr::T(
        HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            ))
            .description(Some("seconds until the limit lets this request through"))
            .build(),
    )
}

/// Adds to every operation under `/api/v1` the answers it shares with others
/// (docs/API.md "Errors"), where its own annotation does not already give that status:
///
/// - with a request body: 400 (not JSON), 413 (too large), 415 (not
///   `application/json`), 422 (invalid fields);
/// - with query parameters: 422 (a parameter of the wrong type, or missing);
/// - with path parameters: 404 (no such row for you);
/// - signed in: 401, and for writes 403 (viewers, cross-site cookies); a signed-in
///   POST takes an `Idempotency-Key` (409 while its first request runs, 422 when
///   reused for another request, 413 for a body over the limit);
/// - every one: 429 (rate limits, with `Retry-After`), 500 and 503.
///
/// Then every error answer of every operation (4xx, 5xx) is declared
/// `application/problem+json`, which is what [`crate::error::ApiError`] sends.
pub fn add_common_responses(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (status, name, description) in SHARED {
        let mut response = problem_response(description);
        if *status == "429" {
            response.headers.insert("Retry-After".into(), retry_after());
        }
        components
            .responses
            .insert((*name).to_string(), RefOr::T(response));
    }
    components.parameters.insert(
        IDEMPOTENCY_KEY.into(),
        RefOr::T(
            ParameterBuilder::new()
                .name(IDEMPOTENCY_KEY)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Makes a retry safe: a repeat with the same key, path and body within 24 hours gets the first answer back (`idempotent-replayed: true`) instead of acting twice",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(255))
                        .pattern(Some("^[!-~]+$")),
                ))
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let api = path.starts_with("/api/v1/");
        for (method, op) in operations_mut(item) {
            if api {
                add_shared_answers(method, op);
            }
            declare_problems(op);
        }
    }
}

fn add_shared_answers(method: &str, op: &mut Operation) {
    let signed_in = op.security.is_none();
    let has = |place: ParameterIn| {
        op.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let (in_path, in_query) = (has(ParameterIn::Path), has(ParameterIn::Query));
    let body = op.request_body.is_some();
    if signed_in && method == "post" {
        op.parameters
            .get_or_insert_with(Vec::new)
            .push(RefOr::Ref(Ref::new(format!(
                "#/components/parameters/{IDEMPOTENCY_KEY}"
            ))));
    }
    let mut statuses = Vec::new();
    if body {
        statuses.extend(["400", "413", "415", "422"]);
    }
    if in_query {
        statuses.push("422");
    }
    if in_path {
        statuses.push("404");
    }
    if signed_in {
        statuses.push("401");
        if method != "get" {
            statuses.push("403");
        }
        if method == "post" {
            statuses.extend(["409", "413", "422"]);
        }
    }
    statuses.extend(["429", "500", "503"]);
    let responses = &mut op.responses.responses;
    for status in statuses {
        let Some((_, name, _)) = SHARED.iter().find(|(s, _, _)| *s == status) else {
            continue;
        };
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
    }
    // an operation's own 429 (too many streams) sends Retry-After too
    if let Some(RefOr::T(limited)) = responses.get_mut("429") {
        limited
            .headers
            .entry("Retry-After".into())
            .or_insert_with(retry_after);
    }
}

/// Every 4xx and 5xx answer is problem+json: an annotation's `body = Problem` comes
/// out as `application/json`, which is not what is sent.
fn declare_problems(op: &mut Operation) {
    for (status, response) in &mut op.responses.responses {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        if let Some(content) = response.content.shift_remove("application/json") {
            response.content.insert(PROBLEM_JSON.to_string(), content);
        }
    }
}
