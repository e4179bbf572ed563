//! The people graph's routes (seed 000; core in `everreach_core::people`) and its
//! registration ([`DOMAIN`]): event ingestion, deletion and timelines (`events.rs`),
//! merges and suggestions (`merge.rs`), our messages (`outbound.rs`) and their
//! tracking links (`tracking.rs`), search and the directory (`search.rs`), and one
//! person's export and erasure (`rights.rs`). Plain reads and edits of `people` and `identities` stay generic
//! resources (with the rules of `everreach_core::people::rules`); the generic
//! operations that would bypass the domain's rules are taken over or refused in
//! [`DOMAIN`]'s `generic`.

mod events;
mod merge;
mod outbound;
mod rights;
mod search;
mod tracking;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use everreach_core::people::{insights, match_keys, rules, tracking::Tracker};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::{Deps, Domain, DomainState, GenericOp, Handling, Op};

pub const DOMAIN: Domain = Domain {
    name: "people",
    tags: &[
        (
            "people",
            "People: one record per human, their timeline, merges and data rights",
        ),
        (
            "person-events",
            "What people did, on every channel: ingestion and the event rows",
        ),
        (
            "outbound-messages",
            "What we sent people, and how they answered",
        ),
        (
            "tracking",
            "The open pixel and click links in sent messages (no sign-in: the signed link is the authority)",
        ),
    ],
    signed_in_routes,
    public_routes,
    generic: &[
        GenericOp {
            resource: "person-events",
            op: Op::Create,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "person-events",
            op: Op::Update,
            handling: Handling::Refused(
                "an event is a record of what happened and is not edited: delete it (DELETE /api/v1/person-events/{id}) and ingest the corrected one",
            ),
        },
        GenericOp {
            resource: "person-events",
            op: Op::Delete,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "outbound-messages",
            op: Op::Create,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "outbound-messages",
            op: Op::Update,
            handling: Handling::Refused(
                "a sent message is a record of what was sent: opens and clicks are recorded by its tracking links, replies by ingestion; delete it and log it again to correct it",
            ),
        },
        GenericOp {
            resource: "outbound-messages",
            op: Op::Delete,
            handling: Handling::TakenOver,
        },
        GenericOp {
            resource: "person-insights",
            op: Op::Create,
            handling: Handling::Refused(INSIGHTS_ARE_COMPUTED),
        },
        GenericOp {
            resource: "person-insights",
            op: Op::Update,
            handling: Handling::Refused(INSIGHTS_ARE_COMPUTED),
        },
        GenericOp {
            resource: "person-insights",
            op: Op::Delete,
            handling: Handling::Refused(INSIGHTS_ARE_COMPUTED),
        },
        GenericOp {
            resource: "people",
            op: Op::Delete,
            handling: Handling::TakenOver,
        },
    ],
    table_rules: rules::TABLE_RULES,
    register_jobs: everreach_jobs::people::register,
    sends_to: &[insights::QUEUE, insights::NIGHTLY_QUEUE, match_keys::QUEUE],
    state,
};

const INSIGHTS_ARE_COMPUTED: &str = "insights are computed from the person's events and recomputed after every change and nightly: change the events instead";

/// The tracking links' signer, with this installation's key and public URL.
fn state(deps: &Deps<'_>) -> DomainState {
    Arc::new(Tracker::new(deps.keyring.clone(), deps.public_url))
}

fn signed_in_routes() -> OpenApiRouter<AppState> {
    let batch = OpenApiRouter::new()
        .routes(routes!(events::ingest_batch))
        .layer(DefaultBodyLimit::max(crate::extract::BATCH_BODY_LIMIT));
    OpenApiRouter::new()
        .routes(routes!(events::ingest_one))
        .merge(batch)
        .routes(routes!(events::delete_event))
        .routes(routes!(events::timeline))
        .routes(routes!(merge::merge))
        .routes(routes!(merge::undo))
        .routes(routes!(merge::list_merges))
        .routes(routes!(merge::suggestions))
        .routes(routes!(merge::not_same))
        .routes(routes!(merge::undo_not_same))
        .routes(routes!(outbound::create))
        .routes(routes!(outbound::delete_message))
        .routes(routes!(outbound::stats))
        .routes(routes!(tracking::links))
        .routes(routes!(search::search))
        .routes(routes!(rights::export))
        .routes(routes!(rights::erase))
}

/// The tracking pixel and click redirect: reached by whoever reads the message, so
/// not signed in; the signed token is the authority.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tracking::track_open))
        .routes(routes!(tracking::track_click))
}
