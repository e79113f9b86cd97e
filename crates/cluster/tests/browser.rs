//! Two headless Chromiums on two servers of one cluster: they talk, see
//! one order, and when Redis stops and starts again both pages show that
//! they are reconnecting, then come back by themselves. Saves
//! `cluster.png` for the book (copied by `scripts/screenshots.sh`).
//!
//! Without Chromium or redis-server this test skips itself loudly;
//! `REQUIRE_BROWSER=1` and `REQUIRE_REDIS=1` make that a failure.

#![cfg(unix)]

mod common;

use browser::chat::{join_chat, say};
use browser::{Error, WAIT};
use common::{Instance, Redis, redis_and_browser};

#[tokio::test]
async fn two_pages_on_two_servers_share_one_room_and_survive_redis_restarting() -> Result<(), Error>
{
    let Some(redis) = redis_and_browser().await else {
        return Ok(());
    };
    let port = redis.port;
    let (a, b) = (Instance::start(&redis).await, Instance::start(&redis).await);
    let ann = join_chat(&format!("http://{}/", a.addr), "ann").await?;
    let bob = join_chat(&format!("http://{}/", b.addr), "bob").await?;
    ann.wait_for_text("#members", |t: &str| t.contains("bob"), WAIT)
        .await?;
    say(
        &ann,
        &format!("hello from the server on port {}", a.addr.port()),
    )
    .await?;
    bob.wait_for_text("#log", "hello from the server on port", WAIT)
        .await?;
    say(&bob, &format!("and hello from port {}", b.addr.port())).await?;
    for page in [&ann, &bob] {
        page.wait_for_count("#log li.message", 2, WAIT).await?;
    }
    let order = ann.attributes("#log li.message", "data-seq").await?;
    assert_eq!(order, bob.attributes("#log li.message", "data-seq").await?);
    let png = ann.screenshot("cluster").await?;
    eprintln!("screenshot: {}", png.display());

    // Redis goes away: both servers close their pages with 1013, and the
    // pages say they are reconnecting. Redis comes back (empty: it kept
    // nothing): the pages rejoin by themselves, in a new run of the room.
    redis.stop().await;
    for page in [&ann, &bob] {
        page.wait_for_text("#state", |t: &str| t == "reconnecting", WAIT)
            .await?;
    }
    let _redis = Redis::start_on(port)
        .await
        .expect("redis-server starts again");
    for page in [&ann, &bob] {
        page.wait_for_text(
            "#members",
            |t: &str| t.contains("ann") && t.contains("bob"),
            WAIT,
        )
        .await?;
        page.wait_for_text("#state", |t: &str| t == "open", WAIT)
            .await?;
    }
    say(&bob, "back after Redis restarted").await?;
    ann.wait_for_text("#log", "back after Redis restarted", WAIT)
        .await?;
    ann.close().await?;
    bob.close().await?;
    a.stop().await;
    b.stop().await;
    Ok(())
}
