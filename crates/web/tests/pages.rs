//! The pages as a browser without JavaScript uses them, on real PostgreSQL: each test
//! gets its own database and drives the whole app (pages and API) in-process with a
//! cookie jar, reading the CSRF token out of each form like a browser sends it back.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use everreach_api::AppState;
use everreach_api::rate_limit::Limits;
use everreach_core::db::Database;
use everreach_testkit::TestDb;
use http_body_util::BodyExt;
use tower::ServiceExt;

struct App {
    db: TestDb,
    router: Router,
}

async fn app() -> App {
    let db = TestDb::new().await;
    let database = Database {
        admin: db.admin.clone(),
        app: db.app.clone(),
        target: db.target.clone(),
    };
    let keyring = std::sync::Arc::new(everreach_core::secrets::Keyring::from_raw(
        vec![[7u8; 32]],
        None,
    ));
    let limits = Limits {
        auth_per_minute: 10_000,
        account_per_minute: 10_000,
        public_per_minute: 10_000,
        read_per_minute: 100_000,
        write_per_minute: 100_000,
    };
    let state = AppState::new(database, keyring, limits).await.unwrap();
    App {
        router: everreach_web::app(state),
        db,
    }
}

#[derive(Debug)]
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The value of the first hidden `_csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"_csrf\" value=\"")
            .expect("a form with _csrf");
        let rest = &self.body[at + "name=\"_csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// A browser: a cookie jar and the app.
struct Browser<'a> {
    app: &'a App,
    cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a App) -> Browser<'a> {
        Browser {
            app,
            cookies: HashMap::new(),
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            b = b.header(header::COOKIE, jar.join("; "));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match form {
            Some(fields) => {
                let body: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish();
                b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(body))
            }
            None => b.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    /// Opens `page`, fills its form's CSRF token and posts `fields` to `action`.
    async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(page).await.csrf();
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    async fn sign_up(&mut self, email: &str) {
        let done = self
            .submit(
                "/sign-up",
                "/sign-up",
                &[
                    ("name", "Tester"),
                    ("email", email),
                    ("password", "a long enough password"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert!(self.cookies.contains_key("everreach_session"));
    }

    /// Logs an event about `handle` (named `name`) through the API with this
    /// browser's session; returns the person's id.
    async fn person(&mut self, channel: &str, handle: &str, name: &str) -> String {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let body = serde_json::json!({
            "identity": {"channel": channel, "handle": handle, "name": name},
            "event_type": "commented",
            "content_excerpt": "Hello there"
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/person-events")
            .header(header::COOKIE, jar.join("; "))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let v: serde_json::Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        v["person_id"]
            .as_str()
            .or(v["event"]["person_id"].as_str())
            .unwrap()
            .to_string()
    }
}

#[tokio::test]
async fn first_run_creates_the_first_account_and_then_leads_to_sign_in() {
    let app = app().await;
    let mut b = Browser::new(&app);
    let home = b.get("/").await;
    assert_eq!(
        (home.status, home.location()),
        (StatusCode::SEE_OTHER, "/first-run")
    );
    let form = b.get("/first-run").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Welcome to EverReach"));
    assert!(
        b.cookies.contains_key("everreach_csrf"),
        "a visitor's form secret is set"
    );

    // bad input: the form comes back with the summary, each message beside its field,
    // and what was typed kept (never the password)
    let csrf = form.csrf();
    let bad = b
        .post(
            "/first-run",
            &[
                ("_csrf", &csrf),
                ("name", "Ada <Admin>"),
                ("email", "ada-at-example"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("<title>Error: Welcome"),
        "the title says there is an error"
    );
    assert!(bad.body.contains("There is a problem"));
    assert!(
        bad.body.contains("href=\"#f-email\""),
        "the summary links to the field"
    );
    assert!(
        bad.body.contains("id=\"email-error\""),
        "the message sits beside the field"
    );
    assert!(
        bad.body.contains("value=\"ada-at-example\""),
        "the input is kept"
    );
    assert!(
        bad.body.contains("value=\"Ada &#60;Admin&#62;\"")
            || bad.body.contains("value=\"Ada &lt;Admin&gt;\""),
        "kept and escaped: {}",
        bad.body
    );
    assert!(
        !bad.body.contains("value=\"short\""),
        "a password is never sent back"
    );

    let done = b
        .post(
            "/first-run",
            &[
                ("_csrf", &csrf),
                ("name", "Ada"),
                ("email", "ada@example.com"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(
        (done.status, done.location()),
        (StatusCode::SEE_OTHER, "/people?welcome=1")
    );
    let people = b.get("/people?welcome=1").await;
    assert_eq!(people.status, StatusCode::OK);
    assert!(
        people.body.contains("No people yet"),
        "the empty state says what to do"
    );
    assert!(
        people
            .body
            .contains("everreach import events contacts.jsonl --email ada@example.com")
    );

    // once someone exists, first run is over
    let mut other = Browser::new(&app);
    assert_eq!(other.get("/").await.location(), "/sign-in");
    assert_eq!(other.get("/first-run").await.location(), "/sign-in");
    let wrong = other
        .submit(
            "/sign-in",
            "/sign-in",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong
            .body
            .contains("The e-mail address or password is wrong")
    );
    assert!(wrong.body.contains("value=\"ada@example.com\""));
    let right = other
        .submit(
            "/sign-in",
            "/sign-in",
            &[
                ("email", "ada@example.com"),
                ("password", "a long enough password"),
                ("next", "/settings"),
            ],
        )
        .await;
    assert_eq!(
        (right.status, right.location()),
        (StatusCode::SEE_OTHER, "/settings")
    );
    // sign-out ends the session
    let out = other.submit("/settings", "/sign-out", &[]).await;
    assert_eq!(out.location(), "/sign-in?done=signed-out");
    assert!(
        other
            .get("/people")
            .await
            .location()
            .starts_with("/sign-in")
    );
}

#[tokio::test]
async fn a_form_without_its_token_or_from_another_site_is_refused() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ana@example.com").await;
    let csrf = b.get("/settings").await.csrf();
    let fields = [("full_name", "Changed"), ("timezone", "UTC")];
    let without = b.post("/settings/profile", &fields).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(without.body.contains("This form has expired"));
    let wrong = b
        .post(
            "/settings/profile",
            &[
                ("_csrf", "forged"),
                ("full_name", "Changed"),
                ("timezone", "UTC"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let cross = b
        .send(
            Method::POST,
            "/settings/profile",
            Some(&[
                ("_csrf", &csrf),
                ("full_name", "Changed"),
                ("timezone", "UTC"),
            ]),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(
        !b.get("/settings").await.body.contains("value=\"Changed\""),
        "nothing was saved"
    );
    let ok = b
        .post(
            "/settings/profile",
            &[
                ("_csrf", &csrf),
                ("full_name", "Changed"),
                ("timezone", "Europe/Lisbon"),
            ],
        )
        .await;
    assert_eq!(ok.location(), "/settings?done=profile");
    let page = b.get("/settings").await.body;
    assert!(page.contains("value=\"Changed\""));
    assert!(page.contains("<option value=\"Europe/Lisbon\" selected>"));

    // a visitor's form needs the visitor's own token
    let mut visitor = Browser::new(&app);
    let refused = visitor
        .post(
            "/sign-in",
            &[
                ("email", "ana@example.com"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn one_users_pages_never_show_anothers_people() {
    let app = app().await;
    let mut a = Browser::new(&app);
    a.sign_up("a@example.com").await;
    let secret = a
        .person("instagram", "secret.person", "Secret Person")
        .await;
    assert!(a.get("/people").await.body.contains("Secret Person"));
    assert!(
        a.get(&format!("/people/{secret}"))
            .await
            .body
            .contains("Secret Person")
    );

    let mut b = Browser::new(&app);
    b.sign_up("b@example.com").await;
    let mine = b.person("instagram", "my.person", "My Person").await;
    let list = b.get("/people").await.body;
    assert!(list.contains("My Person") && !list.contains("Secret Person"));
    assert!(
        !b.get("/people?q=secret")
            .await
            .body
            .contains("Secret Person")
    );
    for path in [
        format!("/people/{secret}"),
        format!("/people/{secret}/export"),
        format!("/people/{secret}/erase"),
        format!("/people/{secret}/timeline"),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!p.body.contains("Secret Person"), "{path}");
    }
    let merge = b
        .submit(
            &format!("/people/{mine}"),
            &format!("/people/{mine}/merge"),
            &[("other", &secret)],
        )
        .await;
    assert_eq!(merge.status, StatusCode::NOT_FOUND, "{}", merge.body);
    let erase = b
        .submit(
            &format!("/people/{mine}"),
            &format!("/people/{secret}/erase"),
            &[],
        )
        .await;
    assert_eq!(erase.status, StatusCode::NOT_FOUND);
    assert!(
        a.get(&format!("/people/{secret}"))
            .await
            .body
            .contains("Secret Person"),
        "still there"
    );
}

#[tokio::test]
async fn merge_from_the_person_page_and_undo_it_from_the_banner() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("m@example.com").await;
    let julia = b.person("instagram", "julia.souza", "Júlia Souza").await;
    let other = b.person("twitter", "juliasouza", "Julia Souza").await;
    // search ignores accents both ways
    assert!(b.get("/people?q=julia").await.body.contains("Júlia Souza"));
    assert!(
        b.get("/people?q=J%C3%BAlia")
            .await
            .body
            .contains(&format!("/people/{other}"))
    );

    let merged = b
        .submit(
            &format!("/people/{julia}"),
            &format!("/people/{julia}/merge"),
            &[("other", &other)],
        )
        .await;
    assert_eq!(merged.status, StatusCode::SEE_OTHER, "{}", merged.body);
    let page = b.get(merged.location()).await;
    assert!(page.body.contains("id=\"undo-banner\""), "{}", page.body);
    assert!(
        page.body.contains("twitter"),
        "the merged identity is the survivor's now"
    );
    assert_eq!(
        b.get(&format!("/people/{other}")).await.status,
        StatusCode::NOT_FOUND
    );
    let at = page.body.find("action=\"/merges/").unwrap() + "action=\"".len();
    let undo_path = page.body[at..].split('"').next().unwrap().to_string();
    let undone = b.submit(merged.location(), &undo_path, &[]).await;
    assert_eq!(undone.location(), format!("/people/{julia}?done=undone"));
    let back = b.get(undone.location()).await;
    assert!(back.body.contains("The merge is undone") && !back.body.contains("id=\"undo-banner\""));
    assert_eq!(
        b.get(&format!("/people/{other}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_person_edit_with_a_bad_value_comes_back_beside_its_field() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("e@example.com").await;
    let p = b.person("email", "x@example.org", "Xavier").await;
    let path = format!("/people/{p}");
    let bad = b
        .submit(
            &path,
            &format!("{path}/fields"),
            &[
                ("full_name", "Xavier Q"),
                ("primary_email", "x\u{0}y@example.org"),
                ("company", "Acme"),
                ("role", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("There is a problem"));
    assert!(
        bad.body.contains("id=\"primary_email-error\""),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"Xavier Q\"") && bad.body.contains("value=\"Acme\""),
        "input kept"
    );
    let ok = b
        .submit(
            &path,
            &format!("{path}/fields"),
            &[
                ("full_name", "Xavier Quinn"),
                ("primary_email", ""),
                ("company", "Acme"),
                ("role", "CTO"),
            ],
        )
        .await;
    assert_eq!(ok.location(), format!("{path}?done=saved"));
    let page = b.get(&path).await.body;
    assert!(page.contains("Xavier Quinn") && page.contains("CTO at Acme"));
    // an identity with an empty handle: the message beside the field, the form open
    let id = b
        .submit(
            &path,
            &format!("{path}/identities"),
            &[("channel", "linkedin"), ("handle", "")],
        )
        .await;
    assert_eq!(id.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        id.body.contains("id=\"handle-error\"")
            && id.body.contains("<details class=\"disclosure\" open>")
    );
    let added = b
        .submit(
            &path,
            &format!("{path}/identities"),
            &[
                ("channel", "linkedin"),
                ("handle", "https://www.linkedin.com/in/xq"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert!(b.get(&path).await.body.contains("linkedin"));
}

#[tokio::test]
async fn a_token_made_in_settings_is_shown_once_and_works_on_the_api() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("t@example.com").await;
    let empty = b
        .submit("/settings/tokens", "/settings/tokens", &[("name", "")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Enter a name for the token"));
    let made = b
        .submit(
            "/settings/tokens",
            "/settings/tokens",
            &[("name", "laptop")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK);
    let at = made.body.find("id=\"new-token\"").unwrap();
    let v = made.body[at..].find("value=\"").unwrap() + at + "value=\"".len();
    let token = made.body[v..].split('"').next().unwrap().to_string();
    assert!(token.starts_with("er_"), "{token}");
    assert!(
        !b.get("/settings/tokens").await.body.contains(&token),
        "shown only once"
    );
    let req = Request::builder()
        .uri("/api/v1/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(me["user"]["email"], "t@example.com");
}

#[tokio::test]
async fn errors_are_pages_under_slash_and_problems_under_the_api() {
    let app = app().await;
    let mut b = Browser::new(&app);
    let page = b.get("/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("Page not found") && page.body.contains("Request id:"));
    let api = b.get("/api/v1/no-such-thing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    // a page that needs a session sends the visitor to sign in and back
    let people = b.get("/people?q=ana").await;
    assert_eq!(people.location(), "/sign-in?next=%2Fpeople%3Fq%3Dana");
    // pages carry a strict CSP; assets are hashed and cached for a year
    let sign_in = b.get("/sign-in").await;
    assert!(
        sign_in.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let at = sign_in.body.find("href=\"/assets/app.").unwrap() + "href=\"".len();
    let css = sign_in.body[at..].split('"').next().unwrap().to_string();
    let asset = b.get(&css).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_eq!(
        asset.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        b.get("/assets/app.0000000000.css").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The token of the newest mailed link to `page` for `to`.
async fn link_token(app: &App, to: &str, page: &str) -> String {
    let keyring = everreach_core::secrets::Keyring::from_raw(vec![[7u8; 32]], None);
    let mails =
        everreach_core::platform::mailer::read_outbox(&app.db.admin, &keyring, Some(to), 100)
            .await
            .unwrap();
    let needle = format!("/{page}?token=");
    let body = &mails
        .iter()
        .find(|m| m.body.contains(&needle))
        .expect("a mail with the link")
        .body;
    let start = body.find(&needle).unwrap() + needle.len();
    body[start..]
        .split(char::is_whitespace)
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_admin_invites_a_viewer_who_joins_through_the_mailed_link_and_can_only_read() {
    let app = app().await;
    let mut admin = Browser::new(&app);
    admin.sign_up("boss@example.com").await;
    let person = admin.person("email", "client@example.org", "Client").await;
    let bad = admin
        .submit(
            "/settings/company",
            "/settings/company/invitations",
            &[("email", "nope"), ("role", "viewer")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"email-error\"") && bad.body.contains("value=\"nope\""));
    let sent = admin
        .submit(
            "/settings/company",
            "/settings/company/invitations",
            &[("email", "vic@example.com"), ("role", "viewer")],
        )
        .await;
    assert_eq!(sent.location(), "/settings/company?done=invited");
    assert!(
        admin
            .get("/settings/company")
            .await
            .body
            .contains("vic@example.com")
    );

    let token = link_token(&app, "vic@example.com", "accept-invitation").await;
    let mut vic = Browser::new(&app);
    let page = vic.get(&format!("/accept-invitation?token={token}")).await;
    assert!(page.body.contains("Join your team"));
    let csrf = page.csrf();
    let short = vic
        .post(
            "/accept-invitation",
            &[("_csrf", &csrf), ("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let joined = vic
        .post(
            "/accept-invitation",
            &[
                ("_csrf", &csrf),
                ("token", &token),
                ("password", "viewer password 1"),
            ],
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.body);
    // a viewer reads the company's people but changes nothing, and has no admin pages
    let seen = vic.get(&format!("/people/{person}")).await;
    assert_eq!(
        seen.status,
        StatusCode::NOT_FOUND,
        "people are per user: the admin's person is theirs alone"
    );
    let mine = vic.get("/people").await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(!mine.body.contains("Client"));
    assert_eq!(
        vic.get("/settings/company").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(vic.get("/jobs").await.status, StatusCode::FORBIDDEN);
    let used = vic.get(&format!("/accept-invitation?token={token}")).await;
    let again = vic
        .post(
            "/accept-invitation",
            &[
                ("_csrf", &used.csrf()),
                ("token", &token),
                ("password", "viewer password 1"),
            ],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a link works once"
    );
    assert!(again.body.contains("This link does not work"));
}

#[tokio::test]
async fn a_filtered_list_is_kept_in_the_url_and_saved_as_a_view() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("v@example.com").await;
    b.person("instagram", "insta.one", "Insta One").await;
    b.person("email", "mail@example.org", "Mail Two").await;
    let filtered = b.get("/people?channel=instagram&sort=name").await.body;
    assert!(filtered.contains("Insta One") && !filtered.contains("Mail Two"));
    assert!(
        filtered.contains("<option value=\"instagram\" selected>"),
        "the filter shows as chosen"
    );
    let unnamed = b
        .submit(
            "/people?channel=instagram&sort=name",
            "/people/views",
            &[("query", "channel=instagram&sort=name"), ("name", "")],
        )
        .await;
    assert_eq!(unnamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unnamed.body.contains("id=\"name-error\"") && unnamed.body.contains("href=\"#f-name\"")
    );
    assert!(
        unnamed.body.contains("Insta One") && !unnamed.body.contains("Mail Two"),
        "the filtered list stays"
    );
    let saved = b
        .submit(
            "/people",
            "/people/views",
            &[
                ("query", "channel=instagram&sort=name"),
                ("name", "Instagram folks"),
            ],
        )
        .await;
    assert_eq!(saved.location(), "/people?done=view-saved");
    let list = b.get("/people").await.body;
    assert!(
        list.contains("href=\"/people?channel=instagram&amp;sort=name\"")
            || list.contains("href=\"/people?channel=instagram&#38;sort=name\""),
        "{list}"
    );
    let twice = b
        .submit(
            "/people",
            "/people/views",
            &[("query", ""), ("name", "Instagram folks")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("You have a view with this name"));
}

#[tokio::test]
async fn the_activity_page_streams_new_events_as_html_rows() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("live@example.com").await;
    let page = b.get("/activity").await;
    assert!(page.body.contains("data-stream=\"/activity/stream\""));
    let jar: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let req = Request::builder()
        .uri("/activity/stream")
        .header(header::COOKIE, jar.join("; "))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = res.into_body();
    b.person("instagram", "live.one", "Live One").await;
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("data: <li") && std::time::Instant::now() < deadline {
        if let Ok(Some(Ok(frame))) =
            tokio::time::timeout(std::time::Duration::from_secs(10), body.frame()).await
            && let Ok(data) = frame.into_data()
        {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("data: <li class=\"event\">"), "{seen}");
    assert!(!seen.contains("\ndata: \n"), "one row is one data line");
}

impl Browser<'_> {
    /// Ingests DMs through the API with this browser's session; the answer.
    async fn dms(&mut self, messages: serde_json::Value) -> serde_json::Value {
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/instagram-messages/batch")
            .header(header::COOKIE, jar.join("; "))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({ "messages": messages }).to_string(),
            ))
            .unwrap();
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let v: serde_json::Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert!(status.is_success(), "{status}: {v}");
        v
    }
}

/// A DM `minutes_ago` minutes before now.
fn dm(who: &str, text: &str, outbound: bool, minutes_ago: i64) -> serde_json::Value {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    serde_json::json!({"instagram_username": who, "message_text": text, "is_outbound": outbound,
                       "sent_at": at.to_rfc3339(), "display_name": "Grace Hopper"})
}

#[tokio::test]
async fn today_lists_contacts_with_what_to_say_and_mark_done_records_it() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let empty = b.get("/today").await;
    assert!(
        empty.body.contains("No Instagram conversations yet"),
        "{}",
        empty.body
    );
    let r = b
        .dms(serde_json::json!([dm(
            "grace",
            "hey! loved your talk on compilers",
            false,
            60
        )]))
        .await;
    let contact = r["results"][0]["contact_id"].as_str().unwrap().to_string();
    let today = b.get("/today").await;
    assert_eq!(today.status, StatusCode::OK);
    assert!(today.body.contains("Grace Hopper"), "{}", today.body);
    assert!(
        today.body.contains("rewarm lane"),
        "a score under 40 is in the rewarm lane: {}",
        today.body
    );
    assert!(today.body.contains("Replies this week"));
    // The suggestion is a template of the rewarm lane, ready to copy.
    let at = today.body.find("name=\"text\"").unwrap();
    let text_start = today.body[at..].find('>').unwrap() + at + 1;
    let text_end = today.body[text_start..].find("</textarea>").unwrap() + text_start;
    let suggestion = today.body[text_start..text_end].to_string();
    assert!(!suggestion.is_empty());
    // Empty text is refused beside that task's text, on the same page.
    let empty = b
        .submit(
            "/today",
            &format!("/today/{contact}/done"),
            &[("text", "   "), ("band", "rewarm")],
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    assert!(
        empty
            .body
            .contains(&format!("id=\"error-rewarm-{contact}\"")),
        "{}",
        empty.body
    );
    assert!(
        empty
            .body
            .contains(&format!("href=\"#f-say-rewarm-{contact}\""))
    );
    let done = b
        .submit(
            "/today",
            &format!("/today/{contact}/done"),
            &[("text", "no rush — what are you focused on this month?")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/today?done=sent");
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM instagram_messages WHERE is_outbound AND message_text LIKE 'no rush%'")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(sent, 1, "marked done is recorded as sent in the thread");
}

#[tokio::test]
async fn the_inbox_puts_unread_first_and_a_reply_outside_the_window_says_why() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let old = b
        .dms(serde_json::json!([dm(
            "linus",
            "old message from linus",
            false,
            3 * 24 * 60
        )]))
        .await;
    b.dms(serde_json::json!([dm(
        "linus",
        "we replied",
        true,
        3 * 24 * 60 - 5
    )]))
    .await;
    let fresh = b
        .dms(serde_json::json!([dm(
            "grace",
            "are you around?",
            false,
            30
        )]))
        .await;
    let inbox = b.get("/inbox").await;
    let (g, l) = (
        inbox.body.find("are you around?").unwrap(),
        inbox.body.find("we replied").unwrap(),
    );
    assert!(g < l, "unread first");
    let unread = b.get("/inbox?filter=unread").await;
    assert!(unread.body.contains("are you around?") && !unread.body.contains("we replied"));

    // Outside the 24-hour window: the reply comes back beside its field, kept.
    let linus = old["results"][0]["conversation_id"].as_str().unwrap();
    let thread = b.get(&format!("/inbox/{linus}")).await;
    assert!(thread.body.contains("role=\"log\""));
    assert!(
        thread.body.contains("24-hour window closed"),
        "{}",
        thread.body
    );
    let refused = b
        .submit(
            &format!("/inbox/{linus}"),
            &format!("/inbox/{linus}/reply"),
            &[("message_text", "still there?")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("id=\"message_text-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains(">still there?</textarea>"),
        "input kept"
    );

    // Inside it: shown with a countdown; the reply is recorded and the thread is read.
    let grace = fresh["results"][0]["conversation_id"].as_str().unwrap();
    let thread = b.get(&format!("/inbox/{grace}")).await;
    assert!(
        thread.body.contains("You can reply for 23 h"),
        "{}",
        thread.body
    );
    assert!(thread.body.contains("data-countdown="));
    let sent = b
        .submit(
            &format!("/inbox/{grace}"),
            &format!("/inbox/{grace}/reply"),
            &[("message_text", "yes! what's up?")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let after = b.get(&format!("/inbox/{grace}")).await;
    assert!(after.body.contains("yes! what&#39;s up?"), "{}", after.body);
    let unread = b.get("/inbox?filter=unread").await;
    assert!(
        !unread.body.contains("are you around?"),
        "opening the thread read it"
    );
}

#[tokio::test]
async fn the_contact_page_explains_the_score_and_keeps_bad_input_beside_its_field() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let r = b
        .dms(serde_json::json!([dm(
            "grace",
            "hi there, what do you think of my landing page?",
            false,
            10
        )]))
        .await;
    let contact = r["results"][0]["contact_id"].as_str().unwrap().to_string();
    let page = b.get(&format!("/contacts/{contact}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for words in [
        "Resonance",
        "Need clarity",
        "Value delivered",
        "Reliability",
        "Consent",
        "asked opinion",
        "Evidence (",
    ] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    // Value delivered: empty is refused beside its field.
    let empty = b
        .submit(
            &format!("/contacts/{contact}"),
            &format!("/contacts/{contact}/value"),
            &[("what", "  ")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("id=\"what-error\""));
    let logged = b
        .submit(
            &format!("/contacts/{contact}"),
            &format!("/contacts/{contact}/value"),
            &[("what", "sent my landing-page checklist")],
        )
        .await;
    assert_eq!(logged.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/contacts/{contact}")).await;
    assert!(page.body.contains("micro win delivered"), "{}", page.body);
    // A forged stage name is refused beside the select; a real one is pinned.
    let bad = b
        .submit(
            &format!("/contacts/{contact}"),
            &format!("/contacts/{contact}/stage"),
            &[("stage", "besties")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"stage-error\""));
    let pinned = b
        .submit(
            &format!("/contacts/{contact}"),
            &format!("/contacts/{contact}/stage"),
            &[("stage", "trust_signals")],
        )
        .await;
    assert_eq!(pinned.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/contacts/{contact}")).await;
    assert!(page.body.contains("pinned by you"));

    // Another user sees none of it.
    let mut eve = Browser::new(&app);
    eve.sign_up("eve@example.com").await;
    assert_eq!(
        eve.get(&format!("/contacts/{contact}")).await.status,
        StatusCode::NOT_FOUND
    );
    let conv = r["results"][0]["conversation_id"].as_str().unwrap();
    assert_eq!(
        eve.get(&format!("/inbox/{conv}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!eve.get("/inbox").await.body.contains("Grace"));
}

#[tokio::test]
async fn a_keep_in_touch_cadence_comes_due_and_bad_values_stay_beside_the_field() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let person = b.person("email", "grace@example.com", "Grace Hopper").await;
    let bad = b
        .submit(
            &format!("/people/{person}?edit=fields"),
            &format!("/people/{person}/fields"),
            &[("full_name", "Grace Hopper"), ("keep_in_touch_days", "400")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("id=\"keep_in_touch_days-error\""),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("value=\"400\""), "input kept");
    let ok = b
        .submit(
            &format!("/people/{person}?edit=fields"),
            &format!("/people/{person}/fields"),
            &[("full_name", "Grace Hopper"), ("keep_in_touch_days", "7")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    // Last touched just now: not due. Moved 8 days back: due.
    assert!(!b.get("/today").await.body.contains("every 7 days"));
    sqlx::query("UPDATE person_events SET occurred_at = now() - interval '8 days'")
        .execute(&app.db.admin)
        .await
        .unwrap();
    let today = b.get("/today").await;
    assert!(today.body.contains("every 7 days"), "{}", today.body);
}

#[tokio::test]
async fn the_outreach_page_queues_cancels_and_keeps_bad_input_beside_its_field() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let empty = b.get("/outreach").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("Nothing queued yet"), "{}", empty.body);
    b.dms(serde_json::json!([dm(
        "grace",
        "hey, loved the talk",
        false,
        30
    )]))
    .await;

    // An unknown contact and a priority out of range come back beside their fields,
    // the text kept.
    let bad = b
        .submit(
            "/outreach",
            "/outreach",
            &[
                ("username", "nobody_here"),
                ("message_text", "kept text 123"),
                ("priority", "5"),
                ("scheduled_at", "next tuesday"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("id=\"scheduled_at-error\""),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("kept text 123"));
    let bad = b
        .submit(
            "/outreach",
            "/outreach",
            &[
                ("username", "nobody_here"),
                ("message_text", "kept text 123"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"username-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"nobody_here\""));

    // Queued far ahead: pending, waiting for its time, and cancellable.
    let later = (chrono::Utc::now() + chrono::Duration::days(200))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let queued = b
        .submit(
            "/outreach",
            "/outreach",
            &[
                ("username", "@Grace"),
                ("message_text", "how did the launch go?"),
                ("priority", "2"),
                ("scheduled_at", later.as_str()),
            ],
        )
        .await;
    assert_eq!(queued.status, StatusCode::SEE_OTHER, "{}", queued.body);
    assert_eq!(queued.location(), "/outreach?done=queued");
    let page = b.get("/outreach?status=pending").await;
    assert!(
        page.body.contains("how did the launch go?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Waits for its time"));
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM outreach_queue")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();

    // Limits: a bad cap stays beside its field; a good one is saved.
    let bad = b
        .submit(
            "/outreach",
            "/outreach/settings",
            &[
                ("daily_cap", "5000"),
                ("quiet_start", "21:00"),
                ("quiet_end", "8am"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"daily_cap-error\""));
    assert!(bad.body.contains("id=\"quiet_end-error\""));
    assert!(bad.body.contains("value=\"5000\""));
    let saved = b
        .submit(
            "/outreach",
            "/outreach/settings",
            &[
                ("daily_cap", "7"),
                ("quiet_start", "22:00"),
                ("quiet_end", "07:30"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(b.get("/outreach").await.body.contains("0 of 7"));

    // Another user cannot cancel it; its owner can, once.
    let mut eve = Browser::new(&app);
    eve.sign_up("eve@example.com").await;
    let stolen = eve
        .submit("/outreach", &format!("/outreach/{id}/cancel"), &[])
        .await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND);
    assert!(!eve.get("/outreach").await.body.contains("launch"));
    let cancelled = b
        .submit("/outreach", &format!("/outreach/{id}/cancel"), &[])
        .await;
    assert_eq!(cancelled.location(), "/outreach?done=cancelled");
    let again = b
        .submit("/outreach", &format!("/outreach/{id}/cancel"), &[])
        .await;
    assert_eq!(again.location(), "/outreach?done=moved");
    let status: String = sqlx::query_scalar("SELECT status FROM outreach_queue")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
}

#[tokio::test]
async fn templates_signals_and_patterns_are_edited_with_their_checks_beside_the_field() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let page = b.get("/settings/patterns").await;
    assert_eq!(page.status, StatusCode::OK);
    // The seeded rows are listed (sign-up seeds them).
    assert!(page.body.contains("follow_up_messy"), "{}", page.body);
    assert!(page.body.contains("saraheashley"));
    let id: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM next_best_actions WHERE lane = 'rewarm' ORDER BY action_key LIMIT 1",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    let edit = format!("/settings/patterns/templates/{id}");
    assert_eq!(b.get(&edit).await.status, StatusCode::OK);

    // An unknown placeholder is named beside the text, which is kept.
    let bad = b
        .submit(
            &edit,
            &edit,
            &[
                ("lane", "rewarm"),
                ("stage", ""),
                ("action_key", "hello_again"),
                ("action_text", "hey {nickname}, long time!"),
                ("is_active", "on"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("id=\"action_text-error\""),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("{nickname}"));
    assert!(bad.body.contains("hey {nickname}, long time!"));

    // Saved, and switched off.
    let ok = b
        .submit(
            &edit,
            &edit,
            &[
                ("lane", "rewarm"),
                ("stage", ""),
                ("action_key", "hello_again"),
                ("action_text", "hey {first_name}, long time!"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (text, active): (String, Option<bool>) =
        sqlx::query_as("SELECT action_text, is_active FROM next_best_actions WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    assert_eq!(text, "hey {first_name}, long time!");
    assert_eq!(active, Some(false));

    // A new skip pattern that does not compile is refused beside its value; a spam
    // pattern keeps its action in metadata.
    let new = "/settings/patterns/patterns/new";
    let bad = b
        .submit(
            new,
            new,
            &[
                ("pattern_type", "skip_pattern"),
                ("pattern_key", "broken"),
                ("pattern_value", "(oops"),
                ("is_active", "on"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"pattern_value-error\""));
    let added = b
        .submit(
            new,
            new,
            &[
                ("pattern_type", "spam_pattern"),
                ("pattern_key", "lottery"),
                ("pattern_value", "you won,claim your prize"),
                ("action", "skip"),
                ("is_active", "on"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let action: Option<String> = sqlx::query_scalar(
        "SELECT metadata->>'action' FROM automation_patterns WHERE pattern_key = 'lottery'",
    )
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert_eq!(action.as_deref(), Some("skip"));
    // A duplicate key is a conflict named beside its field.
    let dup = b
        .submit(
            new,
            new,
            &[
                ("pattern_type", "spam_pattern"),
                ("pattern_key", "lottery"),
                ("pattern_value", "x"),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", dup.body);

    // Another user's row is a 404.
    let mut eve = Browser::new(&app);
    eve.sign_up("eve@example.com").await;
    assert_eq!(eve.get(&edit).await.status, StatusCode::NOT_FOUND);
}

impl Browser<'_> {
    /// Posts a multipart form: `fields` in order, then `file` when given.
    async fn upload(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Page {
        const B: &str = "pages-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, bytes)) = file {
            body.extend_from_slice(
                format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::COOKIE, jar.join("; "))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={B}"),
            )
            .body(Body::from(body))
            .unwrap();
        let res = self.app.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        Page {
            status,
            headers,
            body,
        }
    }
}

#[tokio::test]
async fn an_upload_on_the_imports_page_runs_and_shows_its_report_and_bad_input_stays_beside_its_field()
 {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    let page = b.get("/imports").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No imports yet"), "{}", page.body);
    let csrf = page.csrf();

    // No file: the problem is beside the file input; what was typed is kept.
    let bad = b
        .upload(
            "/imports",
            &[
                ("_csrf", &csrf),
                ("kind", "instagram"),
                ("owner", "Ada L."),
                ("dry_run", "on"),
            ],
            Some(("", b"")),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"file-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"Ada L.\""));
    assert!(bad.body.contains("name=\"dry_run\" value=\"on\" checked"));
    // Without its token first: refused before the file is read.
    let forged = b
        .upload(
            "/imports",
            &[("kind", "instagram")],
            Some(("x.zip", b"PK\x03\x04")),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // The export's zip: stored, queued, and shown while it waits.
    let dir = std::env::temp_dir().join(format!("everreach-pages-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zip = dir.join("export.zip");
    everreach_testkit::files::zip_dir(&everreach_testkit::files::instagram_export(), &zip).unwrap();
    let bytes = std::fs::read(&zip).unwrap();
    let sent = b
        .upload(
            "/imports",
            &[("_csrf", &csrf), ("kind", "")],
            Some(("export.zip", &bytes)),
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let at = sent.location().to_string();
    assert!(at.starts_with("/imports/"), "{at}");
    let waiting = b.get(&at).await;
    assert!(
        waiting.body.contains("Waiting for a worker"),
        "{}",
        waiting.body
    );
    assert!(waiting.body.contains("hx-trigger=\"every 1s\""));

    // The job runs; the progress fragment now carries the report, and stops polling.
    let id: uuid::Uuid = at.trim_start_matches("/imports/").parse().unwrap();
    let user: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM imports WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    everreach_core::imports::store::run(&app.db.app, user, id)
        .await
        .unwrap();
    let fragment = b.get(&format!("{at}/progress")).await;
    assert!(!fragment.body.contains("hx-trigger"), "{}", fragment.body);
    assert!(
        fragment.body.contains("<dt>Created</dt><dd>9</dd>"),
        "{}",
        fragment.body
    );
    assert!(fragment.body.contains("not an Instagram thread"));
    let list = b.get("/imports").await;
    assert!(list.body.contains("9 created"), "{}", list.body);
    assert!(b.get("/inbox").await.body.contains("Júlia Ribeiro"));

    // Another user: 404.
    let mut eve = Browser::new(&app);
    eve.sign_up("eve@example.com").await;
    assert_eq!(eve.get(&at).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        eve.get(&format!("{at}/progress")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_segment_is_built_previewed_saved_and_shown_with_its_members_and_insights() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_up("ada@example.com").await;
    b.person("instagram", "julia.makes", "Julia Clay").await;
    b.person("instagram", "sam.pots", "Sam Kiln").await;
    b.person("email", "kim@example.com", "Kim Mail").await;
    assert!(b.get("/segments").await.body.contains("No segments yet"));
    let new = b.get("/segments/new").await;
    assert_eq!(new.status, StatusCode::OK);
    assert!(new.body.contains("hx-post=\"/segments/preview\""));

    // Preview without JavaScript: the count and the first members.
    let p = b
        .submit(
            "/segments/new",
            "/segments/new",
            &[("action", "preview"), ("channel", "instagram")],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body.contains("<strong>2</strong> people match"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Julia Clay") && !p.body.contains("Kim Mail"));
    // The live count htmx asks for.
    let live = b
        .submit(
            "/segments/new",
            "/segments/preview",
            &[("channel", "email")],
        )
        .await;
    assert!(
        live.body.contains("<strong>1</strong> person matches"),
        "{}",
        live.body
    );
    assert!(!live.body.contains("<html"), "a fragment");

    // No name: beside the name, the condition kept.
    let bad = b
        .submit(
            "/segments/new",
            "/segments/new",
            &[("action", "save"), ("channel", "instagram")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"name-error\""), "{}", bad.body);
    assert!(
        bad.body.contains("<option value=\"instagram\" selected>"),
        "{}",
        bad.body
    );
    // Not a number: beside the warmth.
    let bad = b
        .submit(
            "/segments/new",
            "/segments/new",
            &[("action", "save"), ("name", "Warm"), ("warmth", "very")],
        )
        .await;
    assert!(bad.body.contains("id=\"warmth-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"very\""));
    // A wrong node of the JSON: its pointer and line beside the box, the JSON kept.
    let json =
        "{\"all\": [\n  {\"field\": \"person.colour\", \"op\": \"eq\", \"value\": \"x\"}\n]}";
    let bad = b
        .submit(
            "/segments/new",
            "/segments/new",
            &[("action", "save"), ("name", "Odd"), ("definition", json)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("At /all/0/field (line 2): unknown field"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("person.colour"));
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM segments")
        .fetch_one(&app.db.admin)
        .await
        .unwrap();
    assert_eq!(none, 0, "nothing saved");

    // Saved: its page lists the members; insights wait to be computed.
    let saved = b
        .submit(
            "/segments/new",
            "/segments/new",
            &[
                ("action", "save"),
                ("name", "Instagram people"),
                ("channel", "instagram"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let at = saved.location().to_string();
    let id = at
        .trim_start_matches("/segments/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let page = b.get(&at).await;
    assert!(page.body.contains("Saved, and its members filled."));
    assert!(page.body.contains("Julia Clay") && page.body.contains("Sam Kiln"));
    assert!(page.body.contains("Not computed yet"));
    let list = b.get("/segments").await.body;
    assert!(
        list.contains("Instagram people") && list.contains(">2</td>"),
        "{list}"
    );
    let done = b
        .submit(&at, &format!("/segments/{id}/insights"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/segments/{id}")).await;
    assert!(
        page.body.contains("id=\"insight-organic\"") && page.body.contains("id=\"insight-paid\"")
    );
    assert!(page.body.contains("No paid engagement"), "{}", page.body);
    assert_eq!(
        b.submit(&at, &format!("/segments/{id}/refresh"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // A segment that uses it: deleting the first is refused, saying which.
    let uses = format!("{{\"segment\": \"{id}\"}}");
    let second = b
        .submit(
            "/segments/new",
            "/segments/new",
            &[
                ("action", "save"),
                ("name", "Same again"),
                ("definition", &uses),
            ],
        )
        .await;
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
    let refused = b.submit(&at, &format!("/segments/{id}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.body.contains("Same again use this segment"),
        "{}",
        refused.body
    );
    // The edit page shows the stored definition in the JSON box.
    let edit = b.get(&format!("/segments/{id}/edit")).await;
    assert!(edit.body.contains("&#34;identity&#34;"), "{}", edit.body);

    // Another user: every page and action is a 404.
    let mut eve = Browser::new(&app);
    eve.sign_up("eve@example.com").await;
    for path in [format!("/segments/{id}"), format!("/segments/{id}/edit")] {
        let p = eve.get(&path).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!p.body.contains("Julia Clay"));
    }
    for action in ["refresh", "insights", "delete", "edit"] {
        let p = eve
            .submit(
                "/segments",
                &format!("/segments/{id}/{action}"),
                &[("name", "x"), ("channel", "email"), ("action", "save")],
            )
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{action}");
    }
    assert!(eve.get("/segments").await.body.contains("No segments yet"));
}
