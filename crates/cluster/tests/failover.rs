//! Failover under load, with real parts: three servers behind nginx
//! (`deploy/nginx.conf`, TLS), three headless Chromiums through it, one of
//! them talking all along. One server hangs, with a message of its page's
//! read and never passed on, then is killed: its page reconnects through
//! nginx to a survivor, resumes with `since`, and says that message again.
//! Every page shows every message once, in one order; the others see the
//! page leave and come back. Prints the time to recover.
//!
//! Without Chromium, redis-server, nginx or openssl this test skips itself
//! loudly; the REQUIRE_* variables make that a failure.

#![cfg(unix)]

mod common;

use std::time::Duration;

use browser::chat::{join_in, say};
use browser::{Browser, Error, WAIT};
use chatroom::Config;
use common::{Isolated, Nginx, behind_nginx, redis_and_browser};
use tokio::time::{Instant, sleep};

/// The chat messages a page shows, as `(seq, text)`.
async fn shown(page: &Browser) -> Result<Vec<(u64, String)>, Error> {
    let rows = page
        .script(
            "return [...document.querySelectorAll('#log li.message')]\
             .map(li => [li.dataset.seq, li.querySelector('.text').textContent]);",
        )
        .await?;
    Ok(rows
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|row| {
                    Some((row[0].as_str()?.parse().ok()?, row[1].as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test]
async fn a_killed_server_s_page_comes_back_through_nginx_missing_nothing() -> Result<(), Error> {
    let Some(redis) = redis_and_browser().await else {
        return Ok(());
    };
    // Bob may talk faster than a person would, so that much is said while
    // ann's page is away.
    let config = || Config {
        rate: chatroom::RateLimit {
            per_second: 1000.0,
            burst: 1000,
        },
        ..behind_nginx()
    };
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Isolated::start(&redis, config()).await);
    }
    let addrs: Vec<_> = servers.iter().map(|s| s.addr).collect();
    let Some(nginx) = Nginx::start(&addrs).await else {
        return Ok(());
    };
    let mut pages = Vec::new();
    for nick in ["ann", "bob", "cy"] {
        let browser = Browser::start_accepting_any_certificate().await?;
        pages.push((nick, join_in(browser, &nginx.url(), nick).await?));
    }
    // least_conn: one page on each server. (A request of a page's still in
    // flight can make a tie, which nginx breaks by turns: a reload, which
    // opens a new WebSocket, evens it out.)
    let held = || -> Vec<usize> { servers.iter().map(|s| s.room.local_members()).collect() };
    for _ in 0..5 {
        if held() == [1, 1, 1] {
            break;
        }
        for (nick, page) in &pages[1..] {
            if servers.iter().any(|s| {
                s.room.local_members() > 1 && s.room.local_nicks().contains(&nick.to_string())
            }) {
                page.goto(&nginx.url()).await?;
                page.wait_for_text("#members", |t: &str| t.contains(nick), WAIT)
                    .await?;
                sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert_eq!(held(), [1, 1, 1]);
    let (ann, bob, cy) = (&pages[0].1, &pages[1].1, &pages[2].1);
    for page in [ann, bob, cy] {
        page.wait_for_text("#count", "3", WAIT).await?;
    }
    let ann_server = servers
        .iter()
        .position(|s| s.room.local_nicks() == ["ann"])
        .expect("one server holds ann");

    // What ann's page sends from now on, kept where the test can read it:
    // its join after the failover must carry `since`.
    ann.script(
        "window.joins = []; const send = WebSocket.prototype.send; \
         WebSocket.prototype.send = function (data) { \
           if (String(data).includes('\"join\"')) window.joins.push(String(data)); \
           return send.call(this, data); };",
    )
    .await?;
    // Bob talks all along, a message every 30 ms.
    let sent = 60;
    let talking = async {
        for i in 0..sent {
            say(bob, &format!("tick {i:02}")).await?;
            sleep(Duration::from_millis(30)).await;
        }
        Ok::<(), Error>(())
    };
    // Ann's server gets into trouble first: it reads what her page says
    // and never passes it on. Then it dies.
    let last_words = "ann's last words";
    let failing = async {
        sleep(Duration::from_millis(300)).await;
        servers[ann_server].hang_says();
        say(ann, last_words).await?;
        sleep(Duration::from_millis(200)).await;
        servers[ann_server].kill();
        let killed = Instant::now();
        ann.wait_for_text("#state", |t: &str| t != "open", WAIT)
            .await?;
        ann.wait_for_text("#state", |t: &str| t == "open", WAIT)
            .await?;
        ann.wait_for_text(
            "#members",
            |t: &str| t.contains("ann") && t.contains("bob"),
            WAIT,
        )
        .await?;
        Ok::<Duration, Error>(killed.elapsed())
    };
    let (talked, recovered) = tokio::join!(talking, failing);
    talked?;
    let recovered = recovered?;
    eprintln!(
        "failover: ann's page was back in the room {recovered:?} after her server was killed"
    );
    let joins = ann.script("return window.joins;").await?;
    let resumed = joins.as_array().is_some_and(|joins| {
        joins.len() == 1 && joins[0].as_str().is_some_and(|j| j.contains("\"since\""))
    });
    assert!(resumed, "ann's page came back with since: {joins}");
    let last = format!("tick {:02}", sent - 1);
    for page in [ann, bob, cy] {
        page.wait_for_text("#log", last.as_str(), WAIT).await?;
    }
    // Ann's page said it again after its rejoin: everybody has it.
    for page in [ann, bob, cy] {
        page.wait_for_text("#log", last_words, WAIT).await?;
    }
    // Every page: every tick and ann's words, once, in one order. The
    // figures first, in one line that scripts/bench-failover.sh collects,
    // then the verdict.
    let ticks: Vec<String> = (0..sent).map(|i| format!("tick {i:02}")).collect();
    let expected: Vec<String> = ticks
        .iter()
        .cloned()
        .chain([last_words.to_owned()])
        .collect();
    let mut orders = Vec::new();
    let (mut lost, mut duplicated) = (0, 0);
    for (_, page) in &pages {
        let messages = shown(page).await?;
        let texts: Vec<String> = messages.iter().map(|(_, t)| t.clone()).collect();
        lost += expected.iter().filter(|t| !texts.contains(t)).count();
        let unique: std::collections::HashSet<&String> = texts.iter().collect();
        duplicated += texts.len() - unique.len();
        orders.push((texts, messages));
    }
    eprintln!(
        "failover figures: {{\"recovered_ms\":{},\"pages\":{},\"sent\":{},\"lost\":{lost},\"duplicated\":{duplicated}}}",
        recovered.as_millis(),
        pages.len(),
        expected.len()
    );
    let orders: Vec<_> = pages
        .iter()
        .zip(orders)
        .map(|((nick, _), (texts, messages))| {
            let (words, talk): (Vec<String>, Vec<String>) =
                texts.into_iter().partition(|t| t == last_words);
            assert_eq!(talk, ticks, "{nick}'s page: bob's ticks");
            assert_eq!(words, [last_words], "{nick}'s page: ann's words, once");
            messages
        })
        .collect();
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "one order: {orders:?}"
    );
    // The others saw ann leave and come back.
    for page in [bob, cy] {
        page.wait_for_text("#log", "ann left", WAIT).await?;
        let log = page.text("#log").await?;
        let (left, back) = (log.find("ann left"), log.rfind("ann joined"));
        assert!(matches!((left, back), (Some(l), Some(b)) if l < b), "{log}");
    }
    for (_, page) in pages {
        page.close().await?;
    }
    drop(nginx);
    drop(servers);
    Ok(())
}
