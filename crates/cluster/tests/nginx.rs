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
use chatroom::Config;
use common::{Instance, Nginx, Redis};

#[tokio::test]
async fn pages_over_wss_through_nginx_land_on_two_servers_and_talk() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    let Some(redis) = Redis::start().await else {
        return Ok(());
    };
    // The servers believe nginx (and only nginx) about who the client is.
    let behind_nginx = || Config {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Config::default()
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
    // least_conn: the second WebSocket goes to the server without one.
    assert_eq!((a.room.local_members(), b.room.local_members()), (1, 1));
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
