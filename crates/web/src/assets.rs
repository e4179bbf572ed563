//! Static files compiled into the binary — our stylesheet and script, and htmx
//! (npm `htmx.org`, vendored in `crates/web/assets/`) — served under content-hashed
//! names (`/assets/app.3f2a9c1e0b.css`) with a year-long immutable cache. A page
//! names them through [`urls`]; a changed file gets a new name, so no browser keeps
//! a stale copy.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct File {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const FILES: [File; 3] = [
    File {
        stem: "app",
        ext: "css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/app.css"),
    },
    File {
        stem: "app",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/app.js"),
    },
    File {
        stem: "htmx-2.0.11",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/htmx-2.0.11.min.js"),
    },
];

/// The hashed file name of each of [`FILES`], in order.
static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|f| {
            let digest = Sha256::digest(f.body);
            let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            format!("{}.{hash}.{}", f.stem, f.ext)
        })
        .collect()
});

/// Where a page finds its assets.
#[derive(Debug, Clone)]
pub struct Urls {
    pub css: String,
    pub js: String,
    pub htmx: String,
}

pub fn urls() -> Urls {
    let url = |i: usize| format!("/assets/{}", NAMES[i]);
    Urls {
        css: url(0),
        js: url(1),
        htmx: url(2),
    }
}

/// `GET /assets/{name}`: a file by its hashed name; any other name is a 404 (an old
/// hash is gone for good, and a page that names it is itself stale).
pub async fn serve(Path(name): Path<String>) -> Response {
    match NAMES.iter().position(|n| *n == name) {
        Some(i) => (
            [
                (header::CONTENT_TYPE, FILES[i].content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            FILES[i].body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_content_hash() {
        let u = urls();
        assert!(u.css.starts_with("/assets/app.") && u.css.ends_with(".css"));
        assert_eq!(u.css.len(), "/assets/app..css".len() + 10);
        assert_ne!(u.js, u.htmx);
    }
}
