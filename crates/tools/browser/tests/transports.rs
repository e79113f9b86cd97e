//! Lesson 6's page in headless Chromium: the four panes receive the same
//! sequence numbers, each exactly once, also after each is broken on
//! purpose and comes back with its cursor. Saves `transports.png` for the
//! book (copied by `scripts/screenshots.sh`).
//!
//! Without Chromium this test skips itself loudly (see the crate docs);
//! with `REQUIRE_BROWSER=1` it fails instead.

#![cfg(unix)]

use std::time::Duration;

use browser::{Browser, Error, LessonServer, WAIT};

const PANES: [&str; 4] = ["#short", "#long", "#sse", "#ws"];

/// Each pane's counters, in the page's order, read in one script run: the
/// feed keeps going, and counters read one WebDriver command at a time could
/// come from different moments.
#[derive(Debug)]
struct Counters {
    first: Vec<u64>,
    last: Vec<u64>,
    received: Vec<u64>,
    missed: Vec<u64>,
    duplicates: Vec<u64>,
}

async fn counters(browser: &Browser) -> Result<Counters, Error> {
    let value = browser
        .script(
            "return [...document.querySelectorAll('#panes > section')].map((s) =>
               ['first', 'last', 'received', 'missed', 'duplicates']
                 .map((k) => Number(s.dataset[k] || 0)));",
        )
        .await?;
    let rows: Vec<Vec<u64>> =
        serde_json::from_value(value).expect("the script returns rows of numbers");
    let column = |i: usize| rows.iter().map(|row| row[i]).collect::<Vec<_>>();
    Ok(Counters {
        first: column(0),
        last: column(1),
        received: column(2),
        missed: column(3),
        duplicates: column(4),
    })
}

/// Waits until every pane has received an event numbered `seq` or later.
async fn until_all_reach(browser: &Browser, seq: u64) -> Result<(), Error> {
    for pane in PANES {
        let reached = |t: &str| {
            t.strip_prefix('#')
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n >= seq)
        };
        browser
            .wait_for_text(&format!("{pane} .last"), reached, WAIT)
            .await?;
    }
    Ok(())
}

/// Every pane: no hole, no duplicate, and a contiguous run of numbers.
async fn assert_exactly_once(browser: &Browser) -> Result<(), Error> {
    let Counters {
        first,
        last,
        received,
        missed,
        duplicates,
    } = counters(browser).await?;
    assert_eq!(missed, [0; 4], "no pane missed an event");
    assert_eq!(duplicates, [0; 4], "none showed one twice");
    for i in 0..4 {
        assert_eq!(
            received[i],
            last[i] - first[i] + 1,
            "{}: every number once",
            PANES[i]
        );
    }
    // So between the latest start and the earliest end, all four received
    // the very same numbers.
    assert!(
        first.iter().max() <= last.iter().min(),
        "{first:?} {last:?}"
    );
    Ok(())
}

#[tokio::test]
async fn four_panes_receive_the_same_numbers_even_across_a_break() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    let config = transports::Config {
        tick_interval: Some(Duration::from_millis(200)),
        ..transports::Config::default()
    };
    let server = LessonServer::start(move |listener, shutdown| {
        transports::Server::with_config(listener, config).run(shutdown)
    })
    .await?;
    // One browser for the page: its SSE stream and its long poll hold two
    // of the six connections Chromium allows per server.
    let browser = Browser::start().await?;
    browser.goto(&server.url()).await?;
    for pane in PANES {
        browser
            .wait_for_text(&format!("{pane} .state"), "open", WAIT)
            .await?;
    }
    let start = counters(&browser).await?.last;
    let target = start.iter().max().copied().unwrap_or(0) + 10;
    until_all_reach(&browser, target).await?;
    assert_exactly_once(&browser).await?;

    // Break every connection; each pane comes back with its cursor.
    for pane in PANES {
        browser.click(&format!("{pane} .break")).await?;
    }
    until_all_reach(&browser, target + 15).await?;
    assert_exactly_once(&browser).await?;
    let requests = browser.text("#short .requests").await?;
    assert!(
        requests.parse::<u64>().is_ok_and(|n| n >= 3),
        "short polls counted: {requests}"
    );

    let png = browser.screenshot("transports").await?;
    eprintln!("screenshot: {}", png.display());
    browser.close().await?;
    server.stop().await
}
