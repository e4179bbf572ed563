//! The OpenAPI 3.1 document, generated from the handlers' annotations, served at
//! `/api/v1/openapi.json` with Swagger UI (vendored into the binary, so it works
//! offline) at `/api/docs`. Routes are registered with `routes!`, which takes each
//! path from the handler's `#[utoipa::path]`, so no route exists undocumented. A
//! snapshot test keeps `docs/openapi.json` in step.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

/// Adds what the registered domains bring beside their routes' own annotations: their
/// tags (with descriptions), and the generic resources less the operations the
/// domains take over or refuse.
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
}
