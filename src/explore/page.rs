//! The explorer's page, compiled into the binary: `web/index.html` with `web/explore.css` and
//! `web/explore.js` inlined, so one document carries everything (no CDN, nothing vendored).
//! The live page asks the server; an exported page carries its data in a script tag.

use std::sync::OnceLock;

const HTML: &str = include_str!("web/index.html");
const CSS: &str = include_str!("web/explore.css");
const JS: &str = include_str!("web/explore.js");

/// The page with `data` as the value of `window.EXPLORE_DATA` (`null` for the live page).
fn assemble(data: &str) -> String {
    // `</` inside the embedded JSON would end the script element early.
    let data = data.replace("</", "<\\/");
    HTML.replace("/*EXPLORE_CSS*/", CSS)
        .replace("/*EXPLORE_DATA*/", &format!("window.EXPLORE_DATA = {data};"))
        .replace("/*EXPLORE_JS*/", JS)
}

/// The page the server sends: it fetches everything from `/api/`.
pub fn live() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| assemble("null"))
}

/// A self-contained page carrying `data` (the JSON of an export).
pub fn with_data(data: &str) -> String {
    assemble(data)
}
