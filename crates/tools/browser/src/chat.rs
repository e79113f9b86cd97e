//! The chat page (lessons 5 and 8), as a person uses it: open it, pick a
//! name, say something.

use crate::{Browser, Error, WAIT};

/// Opens the chat page at `url` in a browser of its own (one session per
/// page: a profile's tabs share six connections per host) and joins as
/// `nick`: done when the members list shows the name.
pub async fn join_chat(url: &str, nick: &str) -> Result<Browser, Error> {
    join_in(Browser::start().await?, url, nick).await
}

/// [`join_chat`] in a browser already started (one that accepts a test's
/// certificate, say).
pub async fn join_in(browser: Browser, url: &str, nick: &str) -> Result<Browser, Error> {
    browser.goto(url).await?;
    browser
        .wait_for_text("#state", |t: &str| t == "open", WAIT)
        .await?;
    browser.type_into("#nick", nick).await?;
    browser.press_enter("#nick").await?;
    browser
        .wait_for_text("#members", |t: &str| t.contains(nick), WAIT)
        .await?;
    Ok(browser)
}

/// Types `text` into the chat page's message box and presses Enter.
pub async fn say(browser: &Browser, text: &str) -> Result<(), Error> {
    browser.type_into("#text", text).await?;
    browser.press_enter("#text").await
}
