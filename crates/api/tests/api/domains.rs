//! The domain registrations (`everreach_api::domain::DOMAINS`) hold together: every
//! route a domain adds is documented under one of its tags and reaches the served
//! document, every queue it sends to or schedules has a handler, and every generic
//! operation it takes over or refuses names a real resource.

use everreach_api::domain::{self, DOMAINS};
use everreach_core::resources::catalog::RESOURCES;
use everreach_jobs::Registry;

#[test]
fn every_domain_route_is_documented_and_every_queue_has_a_handler() {
    let mut registry = Registry::new();
    domain::register_jobs(&mut registry).unwrap();
    let handled: Vec<&str> = registry.queues().collect();
    for s in registry.schedules() {
        assert!(
            handled.contains(&s.queue.as_str()),
            "schedule {} has no handler",
            s.queue
        );
    }
    assert!(!DOMAINS.is_empty());
    for d in DOMAINS {
        for queue in d.sends_to {
            assert!(
                handled.contains(queue),
                "{} sends to {queue}, which no registered handler works",
                d.name
            );
        }
        let tags: Vec<&str> = d.tags.iter().map(|t| t.0).collect();
        let mut documented = 0;
        for routes in [(d.signed_in_routes)(), (d.public_routes)()] {
            let (_, doc) = routes.split_for_parts();
            for (path, item) in &doc.paths.paths {
                for (method, op) in [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                    ("PUT", &item.put),
                ] {
                    let Some(op) = op else { continue };
                    documented += 1;
                    let op_tags = op.tags.clone().unwrap_or_default();
                    assert!(
                        !op_tags.is_empty() && op_tags.iter().all(|t| tags.contains(&t.as_str())),
                        "{} {method} {path} is tagged {op_tags:?}, not with the domain's tags {tags:?}",
                        d.name
                    );
                    assert!(
                        !op.responses.responses.is_empty(),
                        "{path} documents no response"
                    );
                }
            }
        }
        assert!(documented > 0, "{} documents no route", d.name);
        for g in d.generic {
            assert!(
                RESOURCES.iter().any(|(path, _, _)| *path == g.resource),
                "{} takes over {:?} of {}, which is no resource",
                d.name,
                g.op,
                g.resource
            );
        }
    }
}
