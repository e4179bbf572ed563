//! The web UI in a real browser: headless Chromium driven over WebDriver
//! (chromedriver + the `fantoccini` client) against `everreach serve` on a fresh
//! database. The journey a newcomer takes — first run → sign-up → import a small
//! events file with the CLI → find a person by typing part of a handle → open the
//! person page → accept a merge suggestion → undo it → create an API token and use it
//! with curl — and every page on the way screenshotted at 1280 and 320 px into
//! `target/ui-screenshots/`, with axe-core (vendored in `fixtures/`) run on each:
//! no serious or critical violation.
//!
//! Needs Debian's `chromium` and `chromium-driver`; `scripts/test` installs them as
//! root. Without them the test fails naming the install command, unless
//! `EVERREACH_BROWSER_TESTS=skip` says to skip (scripts/test sets it, loudly, when it
//! cannot install them).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use everreach_testkit::TestDb;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const AXE: &str = include_str!("fixtures/axe-4.14.1.min.js");

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn wait_port(addr: SocketAddr, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited early: {status}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {addr} within 120 s");
}

/// A child process killed when the test ends, however it ends — with its whole
/// process group when it leads one (chromedriver and the Chromium it starts).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn everreach(db: &TestDb, data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_everreach"));
    for var in [
        "EVERREACH_ENCRYPTION_KEY",
        "EVERREACH_ENCRYPTION_KEYS_OLD",
        "EVERREACH_ADDR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("DATABASE_URL", db.target.admin_url())
        .env("EVERREACH_DATA_DIR", data)
        .env("RUST_LOG", "warn");
    cmd
}

/// The browser, the server's base URL, and where screenshots go.
struct Session {
    client: Client,
    base: String,
    shots: PathBuf,
    n: usize,
}

impl Session {
    async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector} on the page: {e}"))
    }

    async fn fill(&self, selector: &str, text: &str) {
        let input = self.css(selector).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Clicks and waits until the browser has left `from` (a form post that redirects).
    async fn click_and_leave(&self, selector: &str) {
        let before = self.path().await;
        self.css(selector).await.click().await.unwrap();
        self.wait_until(|path| path != before, "to leave the page")
            .await;
    }

    async fn wait_until(&self, ok: impl Fn(&str) -> bool, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let path = self.path().await;
            if ok(&path) {
                return path;
            }
            assert!(Instant::now() < deadline, "waited {what}; still at {path}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn body_text(&self) -> String {
        self.css("body").await.text().await.unwrap()
    }

    /// Screenshots the page at 1280 and 320 px (the whole page, up to 6000 px tall)
    /// and runs axe-core on it at both widths; panics on a serious or critical
    /// violation, naming each.
    async fn check(&mut self, name: &str) {
        self.n += 1;
        for width in [1280u32, 320] {
            self.client.set_window_size(width, 900).await.unwrap();
            let height = self
                .client
                .execute("return document.documentElement.scrollHeight;", vec![])
                .await
                .unwrap()
                .as_u64()
                .unwrap_or(900)
                .clamp(600, 6000) as u32;
            self.client.set_window_size(width, height).await.unwrap();
            let overflow = self
                .client
                .execute(
                    "return document.documentElement.scrollWidth > window.innerWidth + 1;",
                    vec![],
                )
                .await
                .unwrap();
            let png = self.client.screenshot().await.unwrap();
            let file = self.shots.join(format!("{:02}-{name}-{width}.png", self.n));
            std::fs::write(&file, png).unwrap();
            assert_eq!(
                overflow,
                json!(false),
                "{name} scrolls sideways at {width} px (WCAG 1.4.10 reflow): {}",
                file.display()
            );
            self.axe(name, width).await;
        }
        self.client.set_window_size(1280, 900).await.unwrap();
    }

    async fn axe(&self, name: &str, width: u32) {
        let loaded = self
            .client
            .execute("return typeof window.axe;", vec![])
            .await
            .unwrap();
        if loaded != json!("object") {
            self.client.execute(AXE, vec![]).await.unwrap();
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))
                 )).catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
                vec![],
            )
            .await
            .unwrap();
        let violations = found.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "axe on {name} at {width} px: {}",
            serde_json::to_string_pretty(&Value::Array(violations)).unwrap()
        );
    }
}

/// Whether the browser tests can run here; `None`: skip (and say why).
fn browser_available() -> Option<()> {
    let have = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if have {
        return Some(());
    }
    if std::env::var("EVERREACH_BROWSER_TESTS").as_deref() == Ok("skip") {
        eprintln!(
            "SKIPPED: the browser tests (no {CHROMIUM} or {CHROMEDRIVER}); install them with \
             `apt-get install -y chromium chromium-driver` as root"
        );
        return None;
    }
    panic!(
        "the browser tests need Debian's chromium and chromium-driver: run \
         `apt-get install -y chromium chromium-driver` as root (scripts/test does), or set \
         EVERREACH_BROWSER_TESTS=skip to skip them"
    );
}

async fn browser(profile: &Path) -> (Killed, Client) {
    let port = free_addr();
    let mut driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={}", port.port()))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, "chromedriver", &mut driver);
    let driver = Killed(driver);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://{port}"))
        .await
        .unwrap();
    (driver, client)
}

#[tokio::test]
async fn a_newcomer_signs_up_imports_finds_merges_undoes_and_uses_a_token() {
    if browser_available().is_none() {
        return;
    }
    let db = TestDb::new().await;
    let scratch = std::env::temp_dir().join(format!(
        "everreach-browser-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let addr = free_addr();
    let mut server = everreach(&db, &scratch)
        .args(["serve", "--addr", &addr.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(addr, "everreach serve", &mut server);
    let _server = Killed(server);
    let (_driver, client) = browser(&scratch.join("profile")).await;
    let mut s = Session {
        client,
        base: format!("http://{addr}"),
        shots: screenshots_dir(),
        n: 0,
    };

    // first run: the only way in is to create the first account
    s.go("/").await;
    assert_eq!(s.path().await, "/first-run");
    s.check("first-run").await;
    s.css("button[type=submit]").await.click().await.unwrap();
    s.css(".error-summary").await;
    assert!(s.body_text().await.contains("E-mail address is required"));
    s.check("first-run-errors").await;
    s.fill("#f-name", "Ada Lovelace").await;
    s.fill("#f-email", "ada@example.com").await;
    s.fill("#f-password", "analytical engine 1843").await;
    s.click_and_leave("button[type=submit]").await;
    assert!(s.path().await.starts_with("/people"));
    assert!(s.body_text().await.contains("No people yet"));
    s.check("people-empty").await;

    // import a small events file with the CLI
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journey.jsonl");
    let import = everreach(&db, &scratch)
        .args(["import", "events"])
        .arg(&fixture)
        .args(["--email", "ada@example.com"])
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    // find someone by typing part of a handle: the list updates as you type
    s.go("/people").await;
    s.css("#people-table").await;
    s.check("people").await;
    let search = s.css("#people-search").await;
    search.send_keys("juliaso").await.unwrap();
    s.wait_until(
        |p| p.contains("q=juliaso"),
        "for the search to reach the URL",
    )
    .await;
    let results = s.css("#people-results").await.text().await.unwrap();
    assert!(
        results.contains("Júlia Souza") && results.contains("Julia Souza"),
        "{results}"
    );
    assert!(!results.contains("Marco Rossi"), "{results}");
    s.check("people-search").await;

    // open the person page; wait for the merge suggestion the background jobs make
    s.css("#people-results a.row-link")
        .await
        .click()
        .await
        .unwrap();
    let person = s
        .wait_until(
            |p| p.starts_with("/people/") && p.len() > 20,
            "for the person page",
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while s
        .client
        .find(Locator::Css("#suggestions button[data-action=merge]"))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "no merge suggestion on {person} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.go(&person).await;
    }
    s.check("person").await;
    let suggestion = s.css("#suggestions").await.text().await.unwrap();
    assert!(
        suggestion.contains("Same handle"),
        "the evidence is shown: {suggestion}"
    );

    // accept it: an undo banner; undo it: both people are back
    s.click_and_leave("#suggestions button[data-action=merge]")
        .await;
    s.css("#undo-banner").await;
    let merged_page = s.path().await;
    assert!(merged_page.contains("merged="), "{merged_page}");
    s.check("person-merged").await;
    s.click_and_leave("#undo-banner button[data-action=undo]")
        .await;
    assert!(s.path().await.ends_with("done=undone"));
    assert!(s.body_text().await.contains("The merge is undone"));
    assert!(s.client.find(Locator::Css("#undo-banner")).await.is_err());
    s.check("person-undone").await;

    // the other pages, each screenshotted and checked
    for (name, path) in [
        ("activity", "/activity"),
        ("jobs", "/jobs"),
        ("settings", "/settings"),
        ("company", "/settings/company"),
        ("not-found", "/no-such-page"),
    ] {
        s.go(path).await;
        s.css("main").await;
        s.check(name).await;
    }
    s.go(&format!("{person}/erase")).await;
    assert!(
        s.body_text().await.contains("Erase "),
        "the confirmation names the person"
    );
    s.check("person-erase").await;

    // an API token, shown once, used with curl
    s.go("/settings/tokens").await;
    s.check("tokens").await;
    s.fill("#f-name", "curl").await;
    s.css("form[action='/settings/tokens'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    let token = s
        .css("#new-token")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("er_"), "{token}");
    s.check("token-created").await;
    let curl = Command::new("curl")
        .args(["-fsS", "-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("http://{addr}/api/v1/me"))
        .output()
        .unwrap();
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    let me: Value = serde_json::from_slice(&curl.stdout).unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");

    // sign out, then the signed-out pages
    s.go("/settings").await;
    s.click_and_leave("form[action='/sign-out'] button").await;
    assert!(s.path().await.starts_with("/sign-in"));
    s.check("sign-in").await;
    for (name, path) in [
        ("sign-up", "/sign-up"),
        ("reset-password", "/reset-password"),
    ] {
        s.go(path).await;
        s.css("main").await;
        s.check(name).await;
    }
    s.go("/people").await;
    assert!(
        s.path().await.starts_with("/sign-in?next="),
        "pages need a session"
    );
    s.fill("#f-email", "ada@example.com").await;
    s.fill("#f-password", "analytical engine 1843").await;
    s.click_and_leave("button[type=submit]").await;
    assert_eq!(
        s.path().await,
        "/people",
        "back where the visitor was going"
    );

    s.client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
}
