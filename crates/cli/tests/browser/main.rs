//! The web UI in a real browser: `everreach serve` on a fresh test database, driven
//! over WebDriver (Debian's `chromium-driver` + the `fantoccini` client) in headless
//! Chromium. Every page a test visits is screenshotted whole at 1280 and 320 px into
//! `<target>/ui-screenshots/<nn>-<page>-<width>.png` and checked at both widths: axe-core
//! (vendored in `tests/fixtures/`) finds no serious or critical violation, and nothing
//! scrolls sideways at 320 px (WCAG 1.4.10, reflow).
//!
//! - `journey`: first run → people → import with the CLI → search → person → merge →
//!   undo → API token used with curl → sign out → sign in, and a tour of the other pages;
//! - `isolation`: two users in two browsers never see each other's people;
//! - `csrf`: a form without its `_csrf` field (or from another origin) is a 403.
//!
//! Needs `chromium`, `chromedriver` and `curl` (`EVERREACH_CHROMIUM` and
//! `EVERREACH_CHROMEDRIVER` name other binaries); `scripts/test` installs them as root.
//! Without them the browser tests fail, naming the install command — unless
//! `EVERREACH_BROWSER_TESTS=skip` (which `scripts/test` sets, loudly, where it cannot
//! install them): then each says on the terminal that it is skipped.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failed assertion with its line"
)]

mod crm;
mod csrf;
mod imports;
mod isolation;
mod journey;
mod segments;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use everreach_testkit::TestDb;
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long one condition (an element, a URL, a job's result) is waited for.
const WAIT: Duration = Duration::from_secs(30);
/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(100);
/// The vendored axe-core (tests/fixtures/README.md).
const AXE: &str = include_str!("../fixtures/axe-4.14.1.min.js");
/// What installs the tools on Debian.
const INSTALL: &str = "apt-get install -y chromium chromium-driver curl";
/// The outermost elements reaching past the window's right edge that no ancestor
/// clips or scrolls, as CSS-like names (why a page scrolls sideways).
const WIDER_THAN_THE_WINDOW: &str = "
    const w = document.documentElement.clientWidth;
    const clips = e => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(e).overflowX);
    const past = e => e.getBoundingClientRect().right > w + 1;
    const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + (typeof e.className === 'string' && e.className.trim()
           ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
    // an ancestor clips e when it holds e's box: an absolutely positioned box escapes
    // the static ancestors between it and its containing block; a fixed one all
    const clipped = e => {
        let pos = getComputedStyle(e).position;
        for (let up = e.parentElement; up && up !== document.body; up = up.parentElement) {
            if (pos === 'fixed') return true;
            const p = getComputedStyle(up).position;
            if (pos === 'absolute' && p === 'static') continue;
            if (clips(up)) return true;
            pos = p;
        }
        return false;
    };
    const found = [];
    for (const e of document.querySelectorAll('body *')) {
        if (past(e) && !clipped(e) && !found.some(f => f.contains(e))) found.push(e);
    }
    return found.slice(0, 5).map(e => name(e) + ' (' + Math.round(e.getBoundingClientRect().right) + ' px)');";
/// The widths every page is screenshotted and checked at, with the window's height.
const WIDTHS: [(u32, u32); 2] = [(1280, 900), (320, 800)];

// ---------------------------------------------------------------------------------
// The tools, or a loud skip

/// `name` if it is a path to a file, else the first file of that name on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn tool(var: &str, default: &str) -> Option<PathBuf> {
    which(&std::env::var(var).unwrap_or_else(|_| default.to_string()))
}

/// Said on the terminal even when the test passes: libtest captures only the
/// `print!` family, not writes to the stderr handle itself.
fn loud(text: &str) {
    let bar = "#".repeat(80);
    let _ = writeln!(std::io::stderr(), "\n{bar}\n{text}\n{bar}");
}

/// Chromium and chromedriver.
#[derive(Debug, Clone)]
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// Whether `test` runs: `Some` with what it needs (`browser`: Chromium and its
/// driver; every test: curl). `EVERREACH_BROWSER_TESTS=skip` skips a test that needs
/// the browser, or lacks curl — said loudly, `None`. Anything missing without that
/// variable fails the test, naming the fix.
fn needs(test: &str, browser: bool) -> Option<Option<Tools>> {
    let chromium = tool("EVERREACH_CHROMIUM", "chromium");
    let chromedriver = tool("EVERREACH_CHROMEDRIVER", "chromedriver");
    let mut missing = Vec::new();
    if browser && chromium.is_none() {
        missing.push("chromium");
    }
    if browser && chromedriver.is_none() {
        missing.push("chromedriver");
    }
    if which("curl").is_none() {
        missing.push("curl");
    }
    let skip = std::env::var("EVERREACH_BROWSER_TESTS").as_deref() == Ok("skip");
    if skip && (browser || !missing.is_empty()) {
        let why = if missing.is_empty() {
            String::new()
        } else {
            format!(
                "\n{} missing: install with `{INSTALL}` (as root) and run again",
                missing.join(", ")
            )
        };
        loud(&format!(
            "SKIPPED browser test {test}: EVERREACH_BROWSER_TESTS=skip{why}"
        ));
        return None;
    }
    assert!(
        missing.is_empty(),
        "the browser tests need {}: install with `{INSTALL}` as root (scripts/test does), \
         or set EVERREACH_BROWSER_TESTS=skip to skip them",
        missing.join(", ")
    );
    Some(
        chromium
            .zip(chromedriver)
            .map(|(chromium, chromedriver)| Tools {
                chromium,
                chromedriver,
            }),
    )
}

// ---------------------------------------------------------------------------------
// Processes and the server

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "everreach-browser-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Status code of GET `path`, or None while nothing answers.
fn get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// Kills a child's whole process group (chromedriver and the Chromium it starts;
/// the server) when dropped, however the test ends.
#[derive(Debug)]
struct Group {
    leader: Child,
    /// The leader was waited for: its id may name another process now.
    reaped: bool,
}

impl Group {
    /// `cmd` started as the leader of a new process group.
    fn spawn(cmd: &mut Command) -> Group {
        Group {
            leader: cmd.process_group(0).spawn().unwrap(),
            reaped: false,
        }
    }

    /// How the leader exited, if it has.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.leader.try_wait().unwrap();
        self.reaped |= status.is_some();
        status
    }

    /// Kills the group by its id (the leader's, held until the leader is reaped) and
    /// reaps the leader.
    fn stop(&mut self) {
        if !self.reaped {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.leader.id())])
                .stderr(Stdio::null())
                .status();
            let _ = self.leader.wait();
            self.reaped = true;
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `everreach serve` on a fresh test database; stopped (and its files removed) when
/// dropped.
struct Server {
    process: Group,
    db: TestDb,
    base: String,
    data: PathBuf,
}

impl Server {
    async fn start() -> Server {
        let db = TestDb::new().await;
        let data = scratch_dir("serve");
        let addr = free_addr();
        let log = std::fs::File::create(data.join("serve.log")).unwrap();
        let mut process = Group::spawn(
            everreach(&db, &data)
                .args(["serve", "--addr", &addr.to_string()])
                .stdout(Stdio::null())
                .stderr(log),
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while get_status(addr, "/readyz") != Some(200) {
            if let Some(status) = process.exited() {
                panic!(
                    "everreach serve exited early ({status}): {}",
                    std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "everreach serve was not ready on {addr} within 120 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            process,
            db,
            base: format!("http://{addr}"),
            data,
        }
    }

    /// The `everreach` binary on this server's database.
    fn everreach(&self) -> Command {
        everreach(&self.db, &self.data)
    }

    /// `everreach import events FILE --email EMAIL`, which must succeed.
    fn import(&self, file: &Path, email: &str) {
        let out = self
            .everreach()
            .args(["import", "events"])
            .arg(file)
            .args(["--email", email])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.process.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data);
        } else {
            eprintln!(
                "the server's log: {}",
                self.data.join("serve.log").display()
            );
        }
    }
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
        .env("EVERREACH_DATA_DIR", data.join("data"))
        .env("RUST_LOG", "warn");
    cmd
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

// ---------------------------------------------------------------------------------
// curl

/// curl's answer: status, headers (lower-cased names) and body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first `<input name="NAME" … value="…">` of the page.
    fn input(&self, name: &str) -> String {
        let at = self
            .body
            .find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("no input {name} in: {}", self.body));
        let rest = &self.body[at..];
        let value = &rest[rest.find("value=\"").unwrap() + 7..];
        value[..value.find('"').unwrap()].to_string()
    }
}

/// curl with `args`, answering with the last response's status, headers and body
/// (no redirects followed).
fn curl(args: &[&str]) -> Reply {
    let out: Output = Command::new("curl")
        .args(["-sS", "-D", "-", "--max-time", "30"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

// ---------------------------------------------------------------------------------
// The browser

/// A Chrome DevTools Protocol command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.0, "params": self.1 });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Where screenshots go: `ui-screenshots/` under `CARGO_TARGET_DIR` when set (a
/// relative one is the workspace's, as cargo reads it there), else the workspace's
/// `target/`.
fn screenshots_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |t| workspace.join(t));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium under its own chromedriver, with a fresh profile; both end
/// when dropped.
struct Browser {
    client: Client,
    base: String,
    /// The next screenshot's number, and the end of this browser's numbers.
    shot: usize,
    driver: Group,
    profile: PathBuf,
}

impl Browser {
    /// A browser on `server`, numbering its screenshots from `first` up to (not
    /// including) `end`; old screenshots of those numbers are removed.
    async fn open(tools: &Tools, server: &Server, first: usize, end: usize) -> Browser {
        let dir = screenshots_dir();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let number = name.split('-').next().and_then(|n| n.parse::<usize>().ok());
            if number.is_some_and(|n| (first..end).contains(&n)) && name.ends_with(".png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let port = free_addr().port();
        let mut driver = Group::spawn(
            Command::new(&tools.chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = driver.exited() {
                panic!("chromedriver exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let profile = scratch_dir("profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": tools.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://{addr}"))
            .await
            .unwrap_or_else(|e| panic!("no WebDriver session from {}: {e}", addr));
        client
            .set_window_size(WIDTHS[0].0, WIDTHS[0].1)
            .await
            .unwrap();
        Browser {
            client,
            base: server.base.clone(),
            shot: first,
            driver,
            profile,
        }
    }

    /// Ends the session (Chromium exits), then chromedriver.
    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }

    async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The current page's path and query.
    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until `probe` answers `Some`, polling; panics after [`WAIT`] naming
    /// `what` and where the browser is.
    async fn until<T>(&self, what: &str, probe: impl AsyncFn() -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "waited {} s for {what}; the browser is at {}",
                WAIT.as_secs(),
                self.path().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the current path (with its query) satisfies `ok`.
    async fn until_path(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.until(what, async || {
            let path = self.path().await;
            ok(&path).then_some(path)
        })
        .await
    }

    /// The element `css` selects, waiting for it to appear.
    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {} ({e})", self.path().await),
        }
    }

    /// Whether `css` selects nothing now.
    async fn absent(&self, css: &str) -> bool {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// The text of `css`; found again when the page changed between finding the
    /// element and reading it (a click that navigates while the old page still
    /// matches).
    async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => panic!("reading {css} on {}: {e}", self.path().await),
            }
        }
    }

    /// Types `text` into the field `css`, emptied first.
    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp(cmd, params))
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// The whole page (not only the viewport) as PNG, up to 16,000 px tall.
    async fn screenshot(&self) -> Vec<u8> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let width = size["width"].as_f64().unwrap_or(1.0).ceil();
        let height = size["height"].as_f64().unwrap_or(1.0).ceil().min(16_000.0);
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }

    /// The page as it is now, at every width of [`WIDTHS`]: a whole-page screenshot
    /// into `ui-screenshots/<nn>-<page>-<width>.png`, no sideways scrolling, and no
    /// serious or critical axe-core violation. Leaves the window at 1280 px.
    async fn check(&mut self, page: &str) {
        let dir = screenshots_dir();
        let mut problems = Vec::new();
        for (width, height) in WIDTHS {
            self.client.set_window_size(width, height).await.unwrap();
            let inner = self.js("return window.innerWidth;").await;
            assert_eq!(
                inner,
                json!(width),
                "the viewport of a {width} px window is {inner} px"
            );
            let file = dir.join(format!("{:02}-{page}-{width}.png", self.shot));
            std::fs::write(&file, self.screenshot().await).unwrap();
            let overflow = self
                .js("const d = document.documentElement; return d.scrollWidth - d.clientWidth;")
                .await;
            if overflow.as_i64().unwrap_or(0) > 0 {
                let wide = self.js(WIDER_THAN_THE_WINDOW).await;
                problems.push(format!(
                    "at {width} px the page scrolls sideways by {overflow} px (WCAG 1.4.10 reflow); \
                     wider than the window: {wide}; see {}",
                    file.display()
                ));
            }
            for v in self.axe().await {
                problems.push(format!("at {width} px: {v}"));
            }
        }
        self.client
            .set_window_size(WIDTHS[0].0, WIDTHS[0].1)
            .await
            .unwrap();
        self.shot += 1;
        assert!(
            problems.is_empty(),
            "the page {page} ({}):\n{}",
            self.path().await,
            problems.join("\n")
        );
    }

    /// axe-core's serious and critical violations on the page, one line per rule
    /// with the failing nodes' targets.
    async fn axe(&self) -> Vec<String> {
        if self.js("return typeof window.axe;").await != json!("object") {
            self.js(AXE).await;
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => ({ id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                                  nodes: v.nodes.map(n => n.target.join(' ')) }))))
                   .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e),
                                       url: '', nodes: [] }]));",
                Vec::new(),
            )
            .await
            .unwrap();
        found
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| {
                let nodes: Vec<String> = v["nodes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| format!("\n      {}", n.as_str().unwrap_or_default()))
                    .collect();
                format!(
                    "axe {} ({}): {} <{}>; on:{}",
                    v["id"].as_str().unwrap_or_default(),
                    v["impact"].as_str().unwrap_or_default(),
                    v["help"].as_str().unwrap_or_default(),
                    v["url"].as_str().unwrap_or_default(),
                    nodes.concat()
                )
            })
            .collect()
    }

    /// The value of this browser's cookie `name`.
    async fn cookie(&self, name: &str) -> String {
        self.client
            .get_named_cookie(name)
            .await
            .unwrap_or_else(|e| panic!("no cookie {name}: {e}"))
            .value()
            .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.driver.stop(); // Chromium is in chromedriver's process group
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
