//! Segment definitions compiled and run on real PostgreSQL through the tenant's own
//! RLS-bound transaction: each predicate kind and nested logic returns exactly the
//! planted people, another tenant's rows never appear, and hostile values are only
//! text that matches nobody.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use everreach_core::db::tenant::{self, TenantTx};
use everreach_core::segments::{Definition, Scope, compile, parse};
use everreach_testkit::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

/// Alice's people (by first name) and Bob's one person.
struct World {
    db: TestDb,
    alice: Uuid,
    bob: Uuid,
    now: DateTime<Utc>,
    names: HashMap<Uuid, &'static str>,
}

async fn person(
    tx: &mut TenantTx,
    name: &str,
    email: Option<&str>,
    company: Option<&str>,
    created_days_ago: i64,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO people (user_id, full_name, primary_email, company, created_at)
         VALUES ($1, $2, $3, $4, now() - make_interval(days => $5)) RETURNING id",
    )
    .bind(tx.user_id())
    .bind(name)
    .bind(email)
    .bind(company)
    .bind(created_days_ago as i32)
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

async fn identity(tx: &mut TenantTx, person: Uuid, channel: &str, handle: &str, verified: bool) {
    sqlx::query("INSERT INTO identities (user_id, person_id, channel, handle, is_verified) VALUES ($1, $2, $3, $4, $5)")
        .bind(tx.user_id()).bind(person).bind(channel).bind(handle).bind(verified)
        .execute(&mut **tx).await.unwrap();
}

async fn insights(
    tx: &mut TenantTx,
    person: Uuid,
    state: &str,
    warmth: f64,
    active_days_ago: i64,
    prefs: Value,
    best: &str,
) {
    sqlx::query(
        "INSERT INTO person_insights (user_id, person_id, activity_state, warmth_score, last_active_at, channel_preferences, best_channel)
         VALUES ($1, $2, $3, $4::numeric, now() - make_interval(days => $5), $6, $7)",
    )
    .bind(tx.user_id()).bind(person).bind(state).bind(warmth).bind(active_days_ago as i32).bind(prefs).bind(best)
    .execute(&mut **tx).await.unwrap();
}

async fn contact(
    tx: &mut TenantTx,
    person: Uuid,
    username: &str,
    score: i32,
    stage: &str,
    tags: &[&str],
    signals: &[&str],
) {
    let hits: Vec<Value> = signals
        .iter()
        .map(|k| json!({"product": "crm", "signal_key": k, "signal_description": "d", "offer_template": null, "message_ids": []}))
        .collect();
    sqlx::query(
        "INSERT INTO instagram_contacts (user_id, person_id, instagram_username, relationship_score, relationship_stage, tags, fit_signals)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.user_id()).bind(person).bind(username).bind(score).bind(stage)
    .bind(tags.iter().map(|t| t.to_string()).collect::<Vec<_>>()).bind(Value::Array(hits))
    .execute(&mut **tx).await.unwrap();
}

async fn event(
    tx: &mut TenantTx,
    person: Uuid,
    channel: &str,
    kind: &str,
    traffic: &str,
    days_ago: i64,
) {
    sqlx::query(
        "INSERT INTO person_events (user_id, person_id, channel, event_type, traffic_type, occurred_at)
         VALUES ($1, $2, $3, $4, $5, now() - make_interval(days => $6))",
    )
    .bind(tx.user_id()).bind(person).bind(channel).bind(kind).bind(traffic).bind(days_ago as i32)
    .execute(&mut **tx).await.unwrap();
}

/// A message sent `sent` days ago, with `outcome` (`opened_at` etc.) `at` days ago.
async fn message(
    tx: &mut TenantTx,
    person: Uuid,
    channel: &str,
    variant: &str,
    outcome: Option<(&str, i64)>,
) {
    let (opened, clicked, replied) = match outcome {
        Some(("opened", d)) => (Some(d), None, None),
        Some(("clicked", d)) => (Some(d), Some(d), None),
        Some(("replied", d)) => (Some(d), None, Some(d)),
        _ => (None, None, None),
    };
    let ago = |d: Option<i64>| d.map(|d| Utc::now() - Duration::days(d));
    sqlx::query(
        "INSERT INTO outbound_messages (user_id, person_id, channel, variant, goal_type, sent_at, opened_at, clicked_at, replied_at)
         VALUES ($1, $2, $3, $4, 'rewarm', now() - interval '40 days', $5, $6, $7)",
    )
    .bind(tx.user_id()).bind(person).bind(channel).bind(variant)
    .bind(ago(opened)).bind(ago(clicked)).bind(ago(replied))
    .execute(&mut **tx).await.unwrap();
}

async fn world() -> World {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let mut names = HashMap::new();
    let mut tx = tenant::begin(&db.app, alice).await.unwrap();

    // Ann: warm on Instagram, a VIP fit, replies a lot; known for a long time.
    let ann = person(
        &mut tx,
        "Ann Lee",
        Some("ann@example.com"),
        Some("Lee Studio"),
        400,
    )
    .await;
    identity(&mut tx, ann, "instagram", "ann.lee", true).await;
    identity(&mut tx, ann, "email", "ann@example.com", false).await;
    insights(
        &mut tx,
        ann,
        "active",
        80.0,
        5,
        json!({"instagram": 0.75, "email": 0.25}),
        "instagram",
    )
    .await;
    contact(
        &mut tx,
        ann,
        "ann.lee",
        72,
        "fit_repeats",
        &["vip", "founder"],
        &["follow_up", "pricing"],
    )
    .await;
    for d in [2, 9, 20] {
        event(&mut tx, ann, "instagram", "dm_reply", "organic", d).await;
    }
    event(&mut tx, ann, "instagram", "dm_reply", "organic", 100).await;
    message(&mut tx, ann, "email", "B", Some(("opened", 10))).await;
    message(&mut tx, ann, "email", "B", Some(("replied", 3))).await;

    // Bob: new this week (first event 3 days ago, a paid one), cool, at Acme.
    let bo = person(
        &mut tx,
        "Bo Park",
        Some("bo@acme.test"),
        Some("Acme 50% Off"),
        3,
    )
    .await;
    identity(&mut tx, bo, "email", "bo@acme.test", false).await;
    insights(
        &mut tx,
        bo,
        "cool",
        30.0,
        60,
        json!({"email": 1.0}),
        "email",
    )
    .await;
    contact(&mut tx, bo, "bo.park", 40, "first_touch", &["lead"], &[]).await;
    event(&mut tx, bo, "instagram", "dm_reply", "paid", 3).await;
    message(&mut tx, bo, "email", "A", Some(("clicked", 5))).await;

    // Cat: nothing but a name (an apostrophe in it), no company.
    let cat = person(&mut tx, "Cat O'Brien", None, None, 50).await;

    // Dan: warming on Instagram, lapsed (his only reply was 100 days ago).
    let dan = person(
        &mut tx,
        "Dan Acme",
        Some("dan@example.com"),
        Some("acme"),
        200,
    )
    .await;
    identity(&mut tx, dan, "instagram", "dan", false).await;
    insights(
        &mut tx,
        dan,
        "warming",
        65.0,
        20,
        json!({"instagram": 1.0}),
        "instagram",
    )
    .await;
    event(&mut tx, dan, "instagram", "dm_reply", "organic", 100).await;
    tx.commit().await.unwrap();

    // Bob's tenant: one person who would match almost everything.
    let mut tx = tenant::begin(&db.app, bob).await.unwrap();
    let eve = person(&mut tx, "Eve Acme", Some("eve@acme.test"), Some("Acme"), 1).await;
    identity(&mut tx, eve, "instagram", "eve", true).await;
    insights(
        &mut tx,
        eve,
        "active",
        99.0,
        1,
        json!({"instagram": 1.0}),
        "instagram",
    )
    .await;
    contact(
        &mut tx,
        eve,
        "eve",
        99,
        "fit_repeats",
        &["vip", "founder", "lead"],
        &["follow_up", "pricing"],
    )
    .await;
    for d in [1, 2, 3, 4, 5] {
        event(&mut tx, eve, "instagram", "dm_reply", "organic", d).await;
    }
    message(&mut tx, eve, "email", "B", Some(("replied", 1))).await;
    tx.commit().await.unwrap();

    for (id, name) in [
        (ann, "ann"),
        (bo, "bo"),
        (cat, "cat"),
        (dan, "dan"),
        (eve, "eve"),
    ] {
        names.insert(id, name);
    }
    World {
        db,
        alice,
        bob,
        now: Utc::now(),
        names,
    }
}

impl World {
    /// Who `user` gets for `def`, through their own tenant transaction.
    async fn run(&self, user: Uuid, def: &Definition, scope: Scope) -> BTreeSet<&'static str> {
        let compiled = compile(def, &|_| None, scope, self.now).unwrap();
        let mut tx = tenant::begin(&self.db.app, user).await.unwrap();
        let ids = compiled.fetch_ids(&mut tx, user).await.unwrap();
        let count = compiled.count(&mut tx, user).await.unwrap();
        assert_eq!(count as usize, ids.len(), "count agrees with the ids");
        ids.iter().map(|id| self.names[id]).collect()
    }

    async fn who(&self, def: Value) -> BTreeSet<&'static str> {
        let parsed = parse(&def).unwrap_or_else(|e| panic!("{def}: {e:?}"));
        self.run(self.alice, &parsed, Scope::All).await
    }
}

fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

#[tokio::test]
async fn every_predicate_kind_returns_exactly_the_planted_people() {
    let w = world().await;
    let cases: Vec<(Value, &[&str])> = vec![
        // person fields
        (
            json!({"field": "person.company", "op": "eq", "value": "acme"}),
            &["dan"],
        ),
        (
            json!({"field": "person.company", "op": "ne", "value": "acme"}),
            &["ann", "bo", "cat"],
        ),
        (
            json!({"field": "person.company", "op": "contains", "value": "ACME"}),
            &["bo", "dan"],
        ),
        (
            json!({"field": "person.company", "op": "contains", "value": "50%"}),
            &["bo"],
        ),
        (
            json!({"field": "person.company", "op": "contains", "value": "5_%"}),
            &[],
        ),
        (
            json!({"field": "person.full_name", "op": "starts_with", "value": "cat o'"}),
            &["cat"],
        ),
        (
            json!({"field": "person.company", "op": "in", "value": ["acme", "Lee Studio"]}),
            &["ann", "dan"],
        ),
        (
            json!({"field": "person.company", "op": "missing"}),
            &["cat"],
        ),
        (
            json!({"field": "person.primary_email", "op": "exists"}),
            &["ann", "bo", "dan"],
        ),
        (
            json!({"field": "person.created_at", "op": "within", "value": "last 7 days"}),
            &["bo"],
        ),
        (
            json!({"field": "person.created_at", "op": "before", "value": "1 month ago"}),
            &["ann", "cat", "dan"],
        ),
        // insights
        (
            json!({"field": "insight.warmth", "op": "gte", "value": 60}),
            &["ann", "dan"],
        ),
        (
            json!({"field": "insight.warmth", "op": "between", "value": [25.5, 70]}),
            &["bo", "dan"],
        ),
        (
            json!({"field": "insight.activity_state", "op": "in", "value": ["active", "warming"]}),
            &["ann", "dan"],
        ),
        (
            json!({"field": "insight.activity_state", "op": "ne", "value": "cool"}),
            &["ann", "cat", "dan"],
        ),
        (
            json!({"field": "insight.last_active", "op": "within", "value": "last 30 days"}),
            &["ann", "dan"],
        ),
        (
            json!({"field": "insight.last_active", "op": "not_within", "value": "last 30 days"}),
            &["bo"],
        ),
        (
            json!({"field": "insight.best_channel", "op": "eq", "value": "instagram"}),
            &["ann", "dan"],
        ),
        (
            json!({"field": "insight.channel_preference", "channel": "instagram", "op": "gte", "value": 0.5}),
            &["ann", "dan"],
        ),
        (
            json!({"field": "insight.channel_preference", "channel": "email", "op": "exists"}),
            &["ann", "bo"],
        ),
        (
            json!({"field": "insight.warmth", "op": "missing"}),
            &["cat"],
        ),
        // crm
        (
            json!({"field": "crm.relationship_score", "op": "gt", "value": 50}),
            &["ann"],
        ),
        (
            json!({"field": "crm.stage", "op": "eq", "value": "first_touch"}),
            &["bo"],
        ),
        (
            json!({"field": "crm.tags", "op": "has", "value": "vip"}),
            &["ann"],
        ),
        (
            json!({"field": "crm.tags", "op": "has_any", "value": ["lead", "founder"]}),
            &["ann", "bo"],
        ),
        (
            json!({"field": "crm.tags", "op": "has_all", "value": ["vip", "lead"]}),
            &[],
        ),
        (
            json!({"field": "crm.fit_signals", "op": "has", "value": "pricing"}),
            &["ann"],
        ),
        (
            json!({"field": "crm.fit_signals", "op": "has_any", "value": ["nope", "follow_up"]}),
            &["ann"],
        ),
        (
            json!({"field": "crm.fit_signals", "op": "has_all", "value": ["follow_up", "pricing"]}),
            &["ann"],
        ),
        (
            json!({"field": "crm.fit_signals", "op": "has_all", "value": ["follow_up", "nope"]}),
            &[],
        ),
        // identities
        (
            json!({"identity": {"channel": "instagram"}}),
            &["ann", "dan"],
        ),
        (
            json!({"identity": {"channel": "instagram", "verified": true}}),
            &["ann"],
        ),
        (
            json!({"identity": {"verified": false}}),
            &["ann", "bo", "dan"],
        ),
        (json!({"identity": {}}), &["ann", "bo", "dan"]),
        // events: counts
        (
            json!({"event": {"type": "dm_reply"}}),
            &["ann", "bo", "dan"],
        ),
        (
            json!({"event": {"type": "dm_reply", "within": "last 30 days"}}),
            &["ann", "bo"],
        ),
        (
            json!({"event": {"type": "dm_reply", "traffic_type": "organic", "within": "last 30 days", "count": {"op": "gte", "value": 3}}}),
            &["ann"],
        ),
        (json!({"event": {"traffic_type": "paid"}}), &["bo"]),
        (
            json!({"event": {"type": "dm_reply", "within": "last 30 days", "count": {"op": "eq", "value": 0}}}),
            &["cat", "dan"],
        ),
        (
            json!({"event": {"type": "dm_reply", "within": "last 30 days", "count": {"op": "lt", "value": 2}}}),
            &["bo", "cat", "dan"],
        ),
        (
            json!({"event": {"type": "dm_reply", "count": {"op": "between", "value": [1, 2]}}}),
            &["bo", "dan"],
        ),
        (json!({"event": {"channel": "email"}}), &[]),
        // events: first and last
        (
            json!({"event": {"first": {"op": "within", "value": "last 7 days"}}}),
            &["bo"],
        ),
        (
            json!({"event": {"first": {"op": "before", "value": "30 days ago"}}}),
            &["ann", "dan"],
        ),
        (
            json!({"event": {"type": "dm_reply", "last": {"op": "not_within", "value": "last 90 days"}}}),
            &["dan"],
        ),
        (
            json!({"event": {"last": {"op": "after", "value": "10 days ago"}}}),
            &["ann", "bo"],
        ),
        (
            json!({"event": {"first": {"op": "before", "value": "30 days ago"}, "last": {"op": "within", "value": "last 7 days"}}}),
            &["ann"],
        ),
        // outbound
        (json!({"outbound": {}}), &["ann", "bo"]),
        (
            json!({"outbound": {"outcome": "opened", "variant": "B"}}),
            &["ann"],
        ),
        (
            json!({"outbound": {"outcome": "opened", "within": "last 7 days"}}),
            &["ann", "bo"],
        ),
        (
            json!({"outbound": {"outcome": "clicked", "channel": "email", "goal_type": "rewarm"}}),
            &["bo"],
        ),
        (
            json!({"outbound": {"outcome": "replied", "variant": "A"}}),
            &[],
        ),
        (
            json!({"outbound": {"outcome": "sent", "within": "last 30 days"}}),
            &[],
        ),
    ];
    for (def, expected) in cases {
        assert_eq!(w.who(def.clone()).await, set(expected), "{def}");
    }
}

#[tokio::test]
async fn nested_logic_and_the_warm_instagram_segment() {
    let w = world().await;
    let warm_instagram = json!({"all": [
        {"identity": {"channel": "instagram"}},
        {"field": "insight.warmth", "op": "gte", "value": 60},
        {"field": "insight.last_active", "op": "within", "value": "last 30 days"}
    ]});
    assert_eq!(w.who(warm_instagram.clone()).await, set(&["ann", "dan"]));
    assert_eq!(
        w.who(json!({"not": warm_instagram.clone()})).await,
        set(&["bo", "cat"])
    );
    assert_eq!(
        w.who(json!({"any": [
            {"all": [{"identity": {"channel": "instagram"}}, {"not": {"field": "crm.tags", "op": "has", "value": "vip"}}]},
            {"field": "person.company", "op": "missing"}
        ]}))
        .await,
        set(&["cat", "dan"])
    );
    assert_eq!(
        w.who(json!({"all": [
            {"not": {"not": {"event": {"type": "dm_reply"}}}},
            {"not": {"any": [{"field": "insight.activity_state", "op": "eq", "value": "cool"},
                             {"event": {"type": "dm_reply", "last": {"op": "not_within", "value": "last 90 days"}}}]}}
        ]}))
        .await,
        set(&["ann"])
    );
}

#[tokio::test]
async fn another_tenant_never_appears_and_a_scope_limits_the_refresh() {
    let w = world().await;
    let everyone = parse(&json!({"any": [{"identity": {}}, {"not": {"identity": {}}}]})).unwrap();
    assert_eq!(
        w.run(w.alice, &everyone, Scope::All).await,
        set(&["ann", "bo", "cat", "dan"])
    );
    assert_eq!(w.run(w.bob, &everyone, Scope::All).await, set(&["eve"]));
    // Bob's own id passed as the tenant under Alice's transaction: RLS hides his rows.
    let compiled = compile(&everyone, &|_| None, Scope::All, w.now).unwrap();
    let mut tx = tenant::begin(&w.db.app, w.alice).await.unwrap();
    assert!(compiled.fetch_ids(&mut tx, w.bob).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    // Scoped to two of Alice's people and one of Bob's: only Alice's two, with counts
    let eve = *w.names.iter().find(|(_, n)| **n == "eve").unwrap().0;
    let ann = *w.names.iter().find(|(_, n)| **n == "ann").unwrap().0;
    let cat = *w.names.iter().find(|(_, n)| **n == "cat").unwrap().0;
    let lt3 =
        parse(&json!({"event": {"type": "dm_reply", "count": {"op": "lt", "value": 3}}})).unwrap();
    assert_eq!(
        w.run(w.alice, &lt3, Scope::All).await,
        set(&["bo", "cat", "dan"])
    );
    assert_eq!(
        w.run(w.alice, &lt3, Scope::People(vec![ann, cat, eve]))
            .await,
        set(&["cat"])
    );
    assert_eq!(
        w.run(w.alice, &everyone, Scope::People(vec![ann, eve]))
            .await,
        set(&["ann"])
    );
}

#[tokio::test]
async fn hostile_values_are_text_that_matches_nobody() {
    let w = world().await;
    for value in [
        "x' OR 1=1 --",
        "'; DELETE FROM people; --",
        "acme' /*",
        "Zoë 💥 \u{202E}",
        "%",
        "_",
    ] {
        for def in [
            json!({"field": "person.company", "op": "eq", "value": value}),
            json!({"field": "person.full_name", "op": "contains", "value": value}),
            json!({"field": "crm.tags", "op": "has_any", "value": [value]}),
            json!({"field": "crm.fit_signals", "op": "has", "value": value}),
            json!({"outbound": {"variant": value}}),
        ] {
            let parsed = parse(&def).unwrap();
            assert_eq!(w.run(w.alice, &parsed, Scope::All).await, set(&[]), "{def}");
        }
    }
    let mut tx = tenant::begin(&w.db.app, w.alice).await.unwrap();
    let people: i64 = sqlx::query_scalar("SELECT count(*) FROM people")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(people, 4, "nothing was deleted");
}

#[tokio::test]
async fn a_referenced_segment_is_evaluated_inline() {
    let w = world().await;
    let warm = Uuid::now_v7();
    let stored = move |id: Uuid| {
        (id == warm)
            .then(|| parse(&json!({"field": "insight.warmth", "op": "gte", "value": 60})).unwrap())
    };
    let def = parse(&json!({"all": [{"segment": warm.to_string()}, {"not": {"field": "crm.tags", "op": "has", "value": "vip"}}]})).unwrap();
    let compiled = compile(&def, &stored, Scope::All, w.now).unwrap();
    let mut tx = tenant::begin(&w.db.app, w.alice).await.unwrap();
    let ids = compiled.fetch_ids(&mut tx, w.alice).await.unwrap();
    let names: BTreeSet<&str> = ids.iter().map(|id| w.names[id]).collect();
    assert_eq!(names, set(&["dan"]));
}
