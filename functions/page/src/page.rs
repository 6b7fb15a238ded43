//! The web page, served by a function of its own only for local runs (`cargo lambda watch`), so that the
//! page and the API share one origin as they do behind CloudFront. In AWS, S3 serves `ui/`.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use std::path::PathBuf;

const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// The page's Content-Security-Policy, from the one file CloudFront's is made of (the CDK app reads it, the
/// drift check holds the SAM template to it). `${ApiOrigin}` is empty here: the local page's `config.json`
/// names no other API origin, so the page calls its own, as it does behind CloudFront by default.
const CSP_TEMPLATE: &str = include_str!("../../../infra/content-security-policy.txt");

fn page_csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| CSP_TEMPLATE.trim().replace("${ApiOrigin}", ""))
}

#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The folder holding `index.html` (`UI_DIR`, default: the repository's `ui/`).
    pub dir: PathBuf,
    /// `config.json` as the page reads it: default project, API base, demo keys.
    pub config: Value,
}

impl PageSettings {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let dir = var("UI_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui")));
        let mut config = serde_json::json!({
            "projectId": var("DESCOPE_PROJECT_ID").unwrap_or_default(),
            "apiBaseUrl": "",
        });
        if let Some(hint) = var("UI_DEMO_ACCESS_KEY_HINT") {
            config["demoAccessKeyHint"] = Value::String(hint);
        }
        if let Some(keys) =
            var("UI_DEMO_ACCESS_KEYS").and_then(|text| serde_json::from_str::<Value>(&text).ok())
        {
            config["demoAccessKeys"] = keys;
        }
        PageSettings { dir, config }
    }
}

pub struct PageApi {
    settings: PageSettings,
}

impl PageApi {
    pub fn new(settings: PageSettings) -> Self {
        PageApi { settings }
    }

    async fn file(&self, path: &str) -> Option<(Vec<u8>, &'static str)> {
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() {
            "index.html"
        } else {
            relative
        };
        if relative == "config.json" {
            return Some((
                self.settings.config.to_string().into_bytes(),
                "application/json",
            ));
        }
        // Only plain names below the folder: no `..`, no hidden files, no odd characters.
        let safe = relative.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
        if !safe || relative.len() > 200 {
            return None;
        }
        let full = self.settings.dir.join(relative);
        let metadata = tokio::fs::metadata(&full).await.ok()?;
        if !metadata.is_file() || metadata.len() > MAX_FILE_BYTES {
            return None;
        }
        let bytes = tokio::fs::read(&full).await.ok()?;
        Some((bytes, content_type(relative)))
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

impl PageApi {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let line = m2m_telemetry::RequestLine::of(&request);
        let found = if matches!(*request.method(), Method::GET | Method::HEAD) {
            self.file(request.uri().path()).await
        } else {
            None
        };
        let (status, body, kind) = match found {
            Some((bytes, kind)) => (StatusCode::OK, bytes, kind),
            None => (
                StatusCode::NOT_FOUND,
                b"Not found\n".to_vec(),
                "text/plain; charset=utf-8",
            ),
        };
        let mut response = Response::new(Body::Binary(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        m2m_api::security_headers(headers, page_csp());
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        let (outcome, error) = match status {
            StatusCode::OK => (m2m_telemetry::Outcome::Served, None),
            _ => (
                m2m_telemetry::Outcome::NotFound,
                Some(m2m_api::ApiError::NotFound.refusal().kind),
            ),
        };
        line.finish(status.as_u16(), outcome, error);
        response
    }
}
