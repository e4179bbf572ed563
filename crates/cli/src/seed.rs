//! `everreach seed-patterns --email USER`: gives the user what sign-up gives every new
//! user (DESIGN §9) — 001's automation patterns, next-best-action templates and fit
//! signals — through the same code (`everreach_core::crm::seed`). Only rows the user
//! lacks are added (a deleted one comes back; an edited one stays as edited), so it
//! may be run any number of times; each addition is audited.

use anyhow::bail;
use everreach_core::accounts::store;
use everreach_core::crm::seed::{self, Seeded};
use everreach_core::db::{Database, DbTarget, tenant};

pub async fn patterns(target: DbTarget, email: String) -> anyhow::Result<()> {
    let db = Database::open(target).await?;
    let Some(user_id) = store::lookup_user_id(&db.app, &email).await? else {
        bail!("no user has the e-mail {email:?}; create one with `everreach user create`");
    };
    let mut tx = tenant::begin(&db.app, user_id).await?;
    let added = seed::seed(&mut tx).await?;
    tx.commit().await?;
    if added.total() == 0 {
        eprintln!(
            "everreach: nothing to add for {email}: all {} of 001's rows ({}) are already there",
            Seeded::ALL.total(),
            describe(&Seeded::ALL)
        );
    } else {
        eprintln!("everreach: added {} for {email}", describe(&added));
    }
    Ok(())
}

/// "35 known handles, 7 selectors, …": every kind, zeros included.
fn describe(s: &Seeded) -> String {
    [
        (s.known_handle, "known handle"),
        (s.selector, "selector"),
        (s.skip_pattern, "skip pattern"),
        (s.spam_pattern, "spam pattern"),
        (s.next_best_actions, "next-best-action template"),
        (s.fit_signals, "fit signal"),
    ]
    .iter()
    .map(|(n, what)| format!("{n} {what}{}", if *n == 1 { "" } else { "s" }))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_every_kind_with_its_plural() {
        assert_eq!(
            describe(&Seeded::ALL),
            "35 known handles, 7 selectors, 5 skip patterns, 3 spam patterns, \
             20 next-best-action templates, 13 fit signals"
        );
        let one = Seeded {
            known_handle: 1,
            ..Seeded::default()
        };
        assert!(describe(&one).starts_with("1 known handle, 0 selectors"));
    }
}
