//! The segments journey: events imported with the CLI (the worker computes the
//! people's insights) → an empty Segments page → the builder: "warm Instagram
//! people active in the last 30 days" as fields, the live count following each
//! change → a wrong JSON definition shown beside the box at its pointer → saved →
//! the members → insights recomputed, organic and paid side by side.

use chrono::{Duration, Utc};

use crate::{Browser, Server, needs, scratch_dir};

const EMAIL: &str = "cleo@example.com";

#[tokio::test]
async fn warm_instagram_people_are_previewed_saved_listed_and_described() {
    let Some(Some(tools)) = needs("segments", true) else {
        return;
    };
    let server = Server::start().await;
    let mut b = Browser::open(&tools, &server, 130, 150).await;
    b.go("/first-run").await;
    b.fill("[name=name]", "Cleo Park").await;
    b.fill("[name=email]", EMAIL).await;
    b.fill("[name=password]", "segments are live 42").await;
    b.click("button[type=submit]").await;
    b.until_path("the people list after signing up", |p| {
        p.starts_with("/people")
    })
    .await;

    // Julia and Sam reply on Instagram this week; Kim last did in the spring; Lee
    // writes by e-mail only. Two of Julia's are replies to a paid post.
    let at = |days: i64, hours: i64| {
        (Utc::now() - Duration::days(days) - Duration::hours(hours)).to_rfc3339()
    };
    let line = |handle: &str,
                channel: &str,
                name: &str,
                kind: &str,
                text: &str,
                when: String,
                traffic: &str,
                n: i64| {
        serde_json::json!({
            "identity": {"channel": channel, "handle": handle, "name": name},
            "event_type": kind, "content_excerpt": text, "occurred_at": when,
            "platform_id": format!("{handle}-{n}"), "traffic_type": traffic,
        })
        .to_string()
    };
    let mut lines = Vec::new();
    for n in 0..6 {
        lines.push(line(
            "julia.makes",
            "instagram",
            "Julia Clay",
            "dm_reply",
            "love the glaze on that pottery mug",
            at(n, 2),
            "organic",
            n,
        ));
        lines.push(line(
            "sam.kilns",
            "instagram",
            "Sam Kiln",
            "comment",
            "kiln firing tips please",
            at(n, 5),
            "organic",
            n,
        ));
    }
    lines.push(line(
        "julia.makes",
        "instagram",
        "Julia Clay",
        "link_click",
        "Spring sale",
        at(1, 3),
        "paid",
        10,
    ));
    lines.push(line(
        "julia.makes",
        "instagram",
        "Julia Clay",
        "link_click",
        "Spring sale",
        at(2, 3),
        "paid",
        11,
    ));
    lines.push(line(
        "kim.old",
        "instagram",
        "Kim Old",
        "dm_reply",
        "see you",
        at(200, 0),
        "organic",
        0,
    ));
    lines.push(line(
        "lee@example.com",
        "email",
        "Lee Mail",
        "email_received",
        "quarterly numbers",
        at(1, 0),
        "organic",
        0,
    ));
    let file = scratch_dir("segments").join("events.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    server.import(&file, EMAIL);

    // The worker computes their insights; then Julia and Sam are warm.
    let db = server.db.admin.clone();
    b.until("the insights of the four people", async || {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM person_insights")
            .fetch_one(&db)
            .await
            .ok()?;
        (n >= 4).then_some(())
    })
    .await;
    sqlx::query(
        "UPDATE person_insights i SET warmth_score = CASE WHEN p.full_name IN ('Julia Clay', 'Sam Kiln') THEN 82 ELSE 20 END
           FROM people p WHERE p.user_id = i.user_id AND p.id = i.person_id",
    )
    .execute(&db)
    .await
    .unwrap();

    b.go("/segments").await;
    assert!(b.text("main").await.contains("No segments yet"));
    b.check("segments-empty").await;

    // The builder: each condition narrows the live count.
    b.go("/segments/new").await;
    b.fill("[name=name]", "Warm Instagram people").await;
    b.find("#f-channel")
        .await
        .select_by_value("instagram")
        .await
        .unwrap();
    b.until("the live count for Instagram people", async || {
        b.text("#segment-preview")
            .await
            .contains("3 people match")
            .then_some(())
    })
    .await;
    b.fill("[name=warmth]", "60").await;
    b.fill("[name=active_days]", "30").await;
    b.until(
        "the live count for warm, recent Instagram people",
        async || {
            let t = b.text("#segment-preview").await;
            (t.contains("2 people match") && t.contains("Julia Clay") && t.contains("Sam Kiln"))
                .then_some(())
        },
    )
    .await;
    b.check("segment-builder").await;

    // A wrong JSON definition is shown beside the box, at its node.
    b.fill(
        "[name=definition]",
        "{\"all\": [\n  {\"identity\": {\"channel\": \"instagram\"}},\n  {\"field\": \"insight.warmness\", \"op\": \"gte\", \"value\": 60}\n]}",
    )
    .await;
    b.click("button[value=save]").await;
    let error = b.text("#definition-error").await;
    assert!(error.contains("At /all/1/field (line 3)"), "{error}");
    b.check("segment-builder-error").await;
    b.fill("[name=definition]", "").await;
    b.click("button[value=save]").await;
    b.until_path("the saved segment's page", |p| {
        p.starts_with("/segments/") && !p.ends_with("/new")
    })
    .await;
    let members = b.text("main").await;
    assert!(members.contains("2 members"), "{members}");
    assert!(
        members.contains("Julia Clay")
            && members.contains("Sam Kiln")
            && !members.contains("Kim Old")
    );
    assert!(members.contains("Not computed yet"));

    b.click("#insights button[type=submit]").await;
    b.until("the insights", async || {
        b.text("#insights")
            .await
            .contains("Engagement style")
            .then_some(())
    })
    .await;
    let insights = b.text("#insights").await;
    assert!(
        insights.contains("Organic") && insights.contains("Paid"),
        "{insights}"
    );
    let paid = b.text("article:has(#insight-paid)").await;
    assert!(
        paid.contains("link click") && !paid.contains("glaze"),
        "{paid}"
    );
    let organic = b.text("article:has(#insight-organic)").await;
    assert!(
        organic.contains("glaze") && organic.contains("conversational"),
        "{organic}"
    );
    b.check("segment").await;

    b.go("/segments").await;
    assert!(b.text("main").await.contains("Warm Instagram people"));
    b.check("segments").await;
    b.close().await;
}
