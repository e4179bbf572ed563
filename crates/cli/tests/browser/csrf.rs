//! Forms refuse a post without their `_csrf` field, with another session's token, or
//! from another origin (403), over plain HTTP with curl — and accept the same post
//! with the right token, so the 403s are the token's doing.

use crate::{Reply, Server, curl, needs};

/// A form post to `path` with curl's cookie `jar`, `extra` options and `body`.
fn post(server: &Server, jar: &str, path: &str, extra: &[&str], body: &str) -> Reply {
    let url = server.url(path);
    let mut args = vec!["-c", jar, "-b", jar];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--data", body, &url]);
    curl(&args)
}

fn get(server: &Server, jar: &str, path: &str) -> Reply {
    curl(&["-c", jar, "-b", jar, &server.url(path)])
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_field_is_a_403() {
    if needs("csrf", false).is_none() {
        return;
    }
    let server = Server::start().await;
    let jar = server.data.join("cookies.txt");
    let jar = jar.to_str().unwrap();

    // A visitor's form: the first-run page gives the CSRF cookie and field.
    let page = get(&server, jar, "/first-run");
    assert_eq!(page.status, 200, "{}", page.body);
    let visitor_token = page.input("_csrf");
    let form = "name=Eve&email=eve%40example.com&password=long+enough+secret";
    let refused = post(&server, jar, "/first-run", &[], form);
    assert_eq!(refused.status, 403, "no _csrf: {}", refused.body);
    let wrong = format!("{form}&_csrf=not-the-token");
    assert_eq!(post(&server, jar, "/first-run", &[], &wrong).status, 403);
    let right = format!("{form}&_csrf={visitor_token}");
    let elsewhere = ["-H", "Origin: http://attacker.example"];
    assert_eq!(
        post(&server, jar, "/first-run", &elsewhere, &right).status,
        403,
        "the right token from another origin"
    );
    assert_eq!(
        get(&server, jar, "/").header("location"),
        Some("/first-run"),
        "none of those made an account"
    );
    let accepted = post(&server, jar, "/first-run", &[], &right);
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert!(
        accepted
            .header("location")
            .is_some_and(|l| l.starts_with("/people")),
        "{accepted:?}"
    );

    // A signed-in user's form: the token is the session's, not the visitor's.
    let page = get(&server, jar, "/settings/tokens");
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.input("_csrf");
    assert_ne!(token, visitor_token);
    for body in [
        "name=script".to_string(),
        format!("name=script&_csrf={visitor_token}"),
    ] {
        let refused = post(&server, jar, "/settings/tokens", &[], &body);
        assert_eq!(refused.status, 403, "{body}: {}", refused.body);
    }
    let refused = post(&server, jar, "/sign-out", &[], "");
    assert_eq!(refused.status, 403, "sign-out without _csrf");
    let created = post(
        &server,
        jar,
        "/settings/tokens",
        &[],
        &format!("name=script&_csrf={token}"),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(
        created.body.contains("id=\"new-token\""),
        "{}",
        created.body
    );
}
