//! The Instagram DM CRM's routes (seed 001; core in `everreach_core::crm`) and its
//! registration ([`DOMAIN`]): DM ingestion (`dm.rs`), a contact's score and next best
//! action (`contacts.rs`), 001's documented queries (`queries.rs`), the outreach queue
//! (`outreach.rs`; its sender is the `crm.outreach.send` job of `everreach_jobs::crm`).
//! Contacts, conversations, patterns, templates and fit signals stay generic
//! resources; the generic writes of messages, which would bypass ingestion, and of the
//! outreach queue, which would bypass its state machine, are refused with what to do.

mod contacts;
mod dm;
mod outreach;
mod queries;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use everreach_core::crm::{outreach as outreach_queue, rules};
use everreach_core::people::insights;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::domain::{Deps, Domain, DomainState, GenericOp, Handling, Op};

pub const DOMAIN: Domain = Domain {
    name: "crm",
    tags: &[
        (
            "instagram-messages",
            "Instagram DMs: ingested in batches, deduplicated, linked to contacts and to the people graph",
        ),
        (
            "instagram-contacts",
            "Instagram contacts: the Revio score explained, the stage, and the next best action",
        ),
        (
            "outreach",
            "The outreach queue: DMs to your contacts, sent in priority order within a daily cap and outside quiet hours",
        ),
    ],
    signed_in_routes,
    public_routes: OpenApiRouter::new,
    generic: &[
        GenericOp {
            resource: "instagram-messages",
            op: Op::Create,
            handling: Handling::Refused(
                "DMs are ingested in batches, which find or create the contact and conversation and write the timeline: POST /api/v1/instagram-messages/batch",
            ),
        },
        GenericOp {
            resource: "instagram-messages",
            op: Op::Update,
            handling: Handling::Refused(
                "a DM is a record of what was said and is not edited: ingest messages with POST /api/v1/instagram-messages/batch",
            ),
        },
        GenericOp {
            resource: "instagram-messages",
            op: Op::Delete,
            handling: Handling::Refused(
                "a DM is removed with its contact (DELETE /api/v1/instagram-contacts/{id}), which keeps the contact's totals true",
            ),
        },
        GenericOp {
            resource: "outreach-queue",
            op: Op::Create,
            handling: Handling::Refused(
                "queue a message with POST /api/v1/outreach, which checks the contact, text, priority and time",
            ),
        },
        GenericOp {
            resource: "outreach-queue",
            op: Op::Update,
            handling: Handling::Refused(
                "a queued message moves only through its states: POST /api/v1/outreach/{id}/cancel, or /retry for a failed one; to change the text or time, cancel it and queue it again",
            ),
        },
        GenericOp {
            resource: "outreach-queue",
            op: Op::Delete,
            handling: Handling::Refused(
                "a queued message is cancelled, not deleted (POST /api/v1/outreach/{id}/cancel): sent ones count toward the daily cap; it goes with its contact",
            ),
        },
    ],
    table_rules: rules::TABLE_RULES,
    register_jobs: everreach_jobs::crm::register,
    // DM ingestion (and the outbox sender, through it) stores person events, which
    // queue the people graph's insights; the sender runs on its schedule
    sends_to: &[insights::QUEUE, outreach_queue::QUEUE],
    state,
};

/// The domain keeps no state of its own yet.
#[derive(Debug)]
struct Crm;

fn state(_: &Deps<'_>) -> DomainState {
    Arc::new(Crm)
}

fn signed_in_routes() -> OpenApiRouter<AppState> {
    let batch = OpenApiRouter::new()
        .routes(routes!(dm::ingest_dm_batch))
        .layer(DefaultBodyLimit::max(crate::extract::BATCH_BODY_LIMIT));
    OpenApiRouter::new()
        .merge(batch)
        .routes(routes!(contacts::contact_score))
        .routes(routes!(contacts::contact_next_best_action))
        .routes(routes!(queries::contact_health))
        .routes(routes!(queries::needing_attention))
        .routes(routes!(queries::weekly_tasks))
        .routes(routes!(queries::search_messages))
        .routes(routes!(queries::active_fit_signals))
        .routes(routes!(outreach::enqueue, outreach::list))
        .routes(routes!(outreach::get_settings, outreach::put_settings))
        .routes(routes!(outreach::get_one))
        .routes(routes!(outreach::cancel))
        .routes(routes!(outreach::retry))
}
