//! `deploy/nginx.conf` in front of two servers of the cluster, with TLS:
//! two headless Chromiums load the page over https, and their WebSockets
//! (wss://) land on different servers and talk.
//!
//! Without Chromium, redis-server, nginx or openssl this test skips itself
//! loudly; `REQUIRE_BROWSER=1`, `REQUIRE_REDIS=1` and `REQUIRE_NGINX=1` make
//! that a failure.

#![cfg(unix)]

mod common;

use browser::chat::{join_in, say};
use browser::{Browser, Error, WAIT};
use common::{Instance, Nginx, behind_nginx, redis_and_browser};

#[tokio::test]
async fn pages_over_wss_through_nginx_land_on_two_servers_and_talk() -> Result<(), Error> {
    let Some(redis) = redis_and_browser().await else {
        return Ok(());
    };
    let a = Instance::start_with(&redis, behind_nginx()).await;
    let b = Instance::start_with(&redis, behind_nginx()).await;
    let Some(nginx) = Nginx::start(&[a.addr, b.addr]).await else {
        return Ok(());
    };
    let ann = join_in(
        Browser::start_accepting_any_certificate().await?,
        &nginx.url(),
        "ann",
    )
    .await?;
    let bob = join_in(
        Browser::start_accepting_any_certificate().await?,
        &nginx.url(),
        "bob",
    )
    .await?;
    // least_conn: the second WebSocket goes to the server with fewer
    // connections. A request of the page's still in flight there (its
    // favicon, say) can make a tie, which nginx breaks by turns: then a
    // reload, which opens a new WebSocket, evens it out.
    let held = || (a.room.local_members(), b.room.local_members());
    for _ in 0..5 {
        if held() == (1, 1) {
            break;
        }
        bob.goto(&nginx.url()).await?;
        bob.wait_for_text("#state", |t: &str| t == "open", WAIT)
            .await?;
        bob.wait_for_text("#members", |t: &str| t.contains("bob"), WAIT)
            .await?;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(held(), (1, 1), "one page on each server");
    let url = ann.script("return ws.url;").await?;
    assert!(
        url.as_str()
            .is_some_and(|u| u.starts_with(&format!("wss://127.0.0.1:{}/", nginx.port))),
        "{url}"
    );
    assert_eq!(
        bob.script("return ws.protocol;").await?,
        chatroom::SUBPROTOCOL
    );
    say(&ann, "over wss, through nginx").await?;
    bob.wait_for_text("#log", "over wss, through nginx", WAIT)
        .await?;
    say(&bob, "from the other server").await?;
    ann.wait_for_text("#log", "from the other server", WAIT)
        .await?;
    ann.close().await?;
    bob.close().await?;
    drop(nginx);
    a.stop().await;
    b.stop().await;
    Ok(())
}
