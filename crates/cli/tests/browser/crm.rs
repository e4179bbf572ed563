//! The relationship-intelligence journey: DMs imported with the CLI → Today shows the
//! contact with what to say → the thread shows the same suggestion in the same lane →
//! the contact page explains the score → "Mark done" records the message → a DM is
//! queued on the Outreach page → a template is edited (a bad placeholder shown beside
//! the field, then fixed).

use chrono::{Duration, Utc};

use crate::{Browser, Server, needs, scratch_dir};

const EMAIL: &str = "cleo@example.com";
const PASSWORD: &str = "relationships matter 42";

#[tokio::test]
async fn dms_reach_today_the_thread_suggests_the_same_lane_and_mark_done_records_it() {
    let Some(Some(tools)) = needs("crm", true) else {
        return;
    };
    let server = Server::start().await;
    let mut b = Browser::open(&tools, &server, 100, 120).await;
    b.go("/first-run").await;
    b.fill("[name=name]", "Cleo Park").await;
    b.fill("[name=email]", EMAIL).await;
    b.fill("[name=password]", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.until_path("the people list after signing up", |p| {
        p.starts_with("/people")
    })
    .await;

    // An empty Today says how to bring DMs in.
    b.go("/today").await;
    assert!(
        b.text("main")
            .await
            .contains("No Instagram conversations yet")
    );
    b.check("today-empty").await;

    // A DM export, written as the extension would, imported with the CLI.
    let at = |minutes: i64| (Utc::now() - Duration::minutes(minutes)).to_rfc3339();
    let lines = [
        (
            "maya.builds",
            "Maya Chen",
            "hey! saw your post on cold outreach — I keep forgetting to follow up with people",
            false,
            90,
        ),
        (
            "maya.builds",
            "Maya Chen",
            "ha, same. what are you building?",
            true,
            80,
        ),
        (
            "maya.builds",
            "Maya Chen",
            "a design studio. honestly what do you think about my pricing page?",
            false,
            70,
        ),
        ("tom.okafor", "Tom Okafor", "🔥🔥", false, 2000),
    ]
    .iter()
    .map(|(u, n, text, out, minutes)| {
        serde_json::json!({"instagram_username": u, "display_name": n, "message_text": text,
                           "is_outbound": out, "sent_at": at(*minutes)})
        .to_string()
    })
    .collect::<Vec<_>>()
    .join("\n");
    let dir = scratch_dir("crm");
    let file = dir.join("dms.jsonl");
    std::fs::write(&file, lines + "\n").unwrap();
    let out = server
        .everreach()
        .args(["import", "dms"])
        .arg(&file)
        .args(["--email", EMAIL])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Today: Maya with a suggestion and its lane.
    b.go("/today").await;
    let today = b.text("main").await;
    assert!(
        today.contains("Maya Chen") && today.contains("Tom Okafor"),
        "{today}"
    );
    assert!(today.contains("Replies this week"), "{today}");
    let lane = b
        .js("return document.querySelector('.task a[href^=\"/contacts/\"]').closest('.task').querySelector('.tag').textContent;")
        .await;
    let task_name = b
        .js("return document.querySelector('.task .task-name').textContent;")
        .await;
    b.check("today").await;

    // The inbox, unread first; the thread shows the same lane's suggestion.
    b.go("/inbox").await;
    assert!(b.text(".conversations").await.contains("unread"));
    b.check("inbox").await;
    let name = task_name.as_str().unwrap().to_string();
    b.js(&format!(
        "Array.from(document.querySelectorAll('.conversation-link')).find(a => a.textContent.includes({name:?})).click();"
    ))
    .await;
    b.until_path("the thread", |p| p.starts_with("/inbox/"))
        .await;
    b.find("[role=log] ol.thread").await;
    let window = b.text(".window").await;
    assert!(
        window.contains("You can reply for") || window.contains("not written"),
        "{window}"
    );
    let suggested = b
        .js("const t = document.querySelector('#suggest-title').closest('section').querySelector('.tag'); return t && t.textContent;")
        .await;
    assert_eq!(
        suggested, lane,
        "the thread suggests a reply in the lane Today shows"
    );
    b.check("thread").await;

    // The contact page explains the score.
    b.click("a[href^=\"/contacts/\"]").await;
    b.until_path("the contact page", |p| p.starts_with("/contacts/"))
        .await;
    let contact = b.text("main").await;
    for part in [
        "Resonance",
        "Need clarity",
        "Value delivered",
        "Reliability",
        "Consent",
    ] {
        assert!(contact.contains(part), "{part}: {contact}");
    }
    b.check("contact").await;

    // Mark it done from Today: recorded as sent, said so.
    b.go("/today").await;
    b.click(".task button[type=submit]").await;
    b.until_path("Today after marking done", |p| p.contains("done=sent"))
        .await;
    assert!(b.text(".notice").await.contains("Marked done"));
    b.check("today-done").await;

    // Outreach: a message queued for tomorrow morning waits for its time.
    b.go("/outreach").await;
    assert!(b.text("main").await.contains("Nothing queued yet"));
    b.fill("#f-username", "maya.builds").await;
    b.fill("#f-message_text", "how did the pricing page test go?")
        .await;
    let tomorrow = (Utc::now() + Duration::days(1))
        .format("%Y-%m-%dT09:00")
        .to_string();
    b.js(&format!(
        "document.querySelector('#f-scheduled_at').value = {tomorrow:?};"
    ))
    .await;
    b.click("#queue-form button[type=submit]").await;
    b.until_path("the queue after queueing", |p| p.contains("done=queued"))
        .await;
    let queue = b.text("main").await;
    assert!(
        queue.contains("how did the pricing page test go?") && queue.contains("Waits for its time"),
        "{queue}"
    );
    b.check("outreach").await;

    // Patterns and templates: a template with an unknown placeholder comes back with
    // the error beside the text, kept; fixed, it is saved.
    b.go("/settings/patterns").await;
    assert!(b.text("main").await.contains("follow_up_messy"));
    b.check("patterns").await;
    b.click("#templates tbody a").await;
    b.until_path("a template", |p| {
        p.starts_with("/settings/patterns/templates/")
    })
    .await;
    b.js("document.querySelector('#f-action_text').value = 'hey {nickname}, how is ___ going?';")
        .await;
    b.click("main form button[type=submit]").await;
    b.find("#action_text-error").await;
    assert!(b.text("#action_text-error").await.contains("{nickname}"));
    b.check("template-error").await;
    b.js("document.querySelector('#f-action_text').value = 'hey {first_name}, how is ___ going?';")
        .await;
    b.click("main form button[type=submit]").await;
    b.until_path("the list after saving", |p| p.contains("done=saved"))
        .await;
    assert!(
        b.text("main")
            .await
            .contains("hey {first_name}, how is ___ going?")
    );
    b.close().await;
}
