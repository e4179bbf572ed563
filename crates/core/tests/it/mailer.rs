//! Outgoing mail: SMTP (against a local server speaking the protocol) and the outbox,
//! with bodies sealed at rest; the app role only appends to the outbox.

use std::sync::{Arc, Mutex};

use everreach_core::platform::mailer::{Mail, Mailer, read_outbox};
use everreach_core::secrets::Keyring;
use everreach_testkit::TestDb;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A one-client-at-a-time SMTP server that accepts everything and keeps each message.
async fn fake_smtp() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            let mut data: Option<String> = None;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(body) = data.as_mut() {
                    if line == "." {
                        store.lock().unwrap().push(data.take().unwrap_or_default());
                        write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                    } else {
                        body.push_str(&line);
                        body.push('\n');
                    }
                    continue;
                }
                let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 fake\r\n",
                    "DATA" => {
                        data = Some(String::new());
                        b"354 go ahead\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"250 OK\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
        }
    });
    (format!("smtp://127.0.0.1:{}", addr.port()), received)
}

fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::from_raw(vec![[9u8; 32]], None))
}

fn mail(to: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Your link".into(),
        body: "Open https://everreach.example/reset-password?token=erp_secret123\n".into(),
    }
}

#[tokio::test]
async fn smtp_delivers_and_the_outbox_records_it_sealed() {
    let db = TestDb::new().await;
    let (url, received) = fake_smtp().await;
    let mailer = Mailer::smtp(
        db.app.clone(),
        keyring(),
        &url,
        "EverReach <no-reply@example.com>",
    )
    .unwrap();
    assert!(mailer.delivers());
    mailer.send(mail("ada@example.com")).await.unwrap();
    // Delivery runs in the background; the outbox row is written once it is done.
    let mut recorded = Vec::new();
    for _ in 0..100 {
        recorded = read_outbox(&db.admin, &keyring(), None, 10).await.unwrap();
        if !recorded.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, "sent", "{:?}", recorded[0].error);
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("erp_secret123"), "{}", messages[0]);
    assert!(
        messages[0].contains("Subject: Your link"),
        "{}",
        messages[0]
    );
    let raw: String = sqlx::query_scalar("SELECT body FROM mail_outbox")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert!(raw.starts_with("er2:") && !raw.contains("erp_secret123"));
}

#[tokio::test]
async fn without_smtp_mail_waits_in_the_outbox_which_the_app_cannot_read() {
    let db = TestDb::new().await;
    let mailer = Mailer::outbox(db.app.clone(), keyring());
    assert!(!mailer.delivers());
    mailer.send(mail("ada@example.com")).await.unwrap();
    mailer.send(mail("bob@example.com")).await.unwrap();
    let to_ada = read_outbox(&db.admin, &keyring(), Some("ADA@example.com"), 10)
        .await
        .unwrap();
    assert_eq!(to_ada.len(), 1);
    assert_eq!(to_ada[0].status, "held");
    assert!(to_ada[0].body.contains("erp_secret123"));
    let err = sqlx::query("SELECT body FROM mail_outbox")
        .fetch_all(&db.app)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    // a sealed body copied onto another row does not open
    sqlx::query(
        "UPDATE mail_outbox SET body = (SELECT body FROM mail_outbox WHERE to_address = 'bob@example.com')
          WHERE to_address = 'ada@example.com'",
    )
    .execute(&db.admin)
    .await
    .unwrap();
    let moved = read_outbox(&db.admin, &keyring(), Some("ada@example.com"), 10)
        .await
        .unwrap();
    assert!(
        moved[0].body.starts_with("<cannot open"),
        "{}",
        moved[0].body
    );
}

#[tokio::test]
async fn smtp_without_tls_is_refused_beyond_this_machine_and_the_password_never_shows() {
    let db = TestDb::new().await;
    let plain = Mailer::smtp(
        db.app.clone(),
        keyring(),
        "smtp://user:hunter2@mail.example.com:25",
        "a@example.com",
    )
    .unwrap_err()
    .to_string();
    assert!(
        plain.contains("plain SMTP") && !plain.contains("hunter2"),
        "{plain}"
    );
    let bad = Mailer::smtp(
        db.app.clone(),
        keyring(),
        "smtps://user:hunter2@",
        "a@example.com",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("EVERREACH_SMTP_URL") && !bad.contains("hunter2"),
        "{bad}"
    );
    let from = Mailer::smtp(
        db.app.clone(),
        keyring(),
        "smtps://mail.example.com",
        "not a mailbox",
    )
    .unwrap_err()
    .to_string();
    assert!(from.contains("EVERREACH_MAIL_FROM"), "{from}");
    assert!(
        Mailer::smtp(
            db.app.clone(),
            keyring(),
            "smtp://mail.example.com:587?tls=required",
            "a@example.com"
        )
        .is_ok()
    );
}

#[tokio::test]
async fn keys_rotate_reseals_the_outbox_and_keeps_its_key_until_then() {
    use everreach_core::secrets::columns;
    let db = TestDb::new().await;
    let old = keyring();
    columns::verify_and_register(&db.admin, &old).await.unwrap();
    Mailer::outbox(db.app.clone(), old.clone())
        .send(mail("ada@example.com"))
        .await
        .unwrap();
    let old_id = old.current_id().to_string();
    let uses = everreach_core::secrets::usage::key_usage(&mut db.admin.acquire().await.unwrap())
        .await
        .unwrap();
    assert!(
        uses.iter()
            .any(|u| u.table == "mail_outbox" && u.key_id.as_deref() == Some(old_id.as_str())),
        "start-up sees the key the outbox names: {uses:?}"
    );
    let new = Keyring::from_raw(vec![[10u8; 32], [9u8; 32]], None);
    let report = columns::rotate(&db.admin, &db.app, &new).await.unwrap();
    assert!(report.retired.contains(&old_id), "{report:?}");
    let raw: String = sqlx::query_scalar("SELECT body FROM mail_outbox")
        .fetch_one(&db.admin)
        .await
        .unwrap();
    assert!(raw.contains(new.current_id()), "{raw}");
    let opened = read_outbox(
        &db.admin,
        &Keyring::from_raw(vec![[10u8; 32]], None),
        None,
        10,
    )
    .await
    .unwrap();
    assert!(
        opened[0].body.contains("erp_secret123"),
        "{}",
        opened[0].body
    );
}
