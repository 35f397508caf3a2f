//! Structured concurrency against tenax-chaos: shared fate and a shared deadline for HTTP
//! requests and a WebSocket, with every socket closed when the scope ends.

use std::time::{Duration, Instant};

use tenax::scope::{Cancel, Outcome, Scope};
use tenax::{Client, TimeoutPhase};
use tenax_chaos::ChaosServer;

use crate::support::bounded;

/// Waits until the server has no open connection, for at most `limit`.
async fn server_sockets_close(s: &ChaosServer, limit: Duration) -> u64 {
    let start = Instant::now();
    while s.connections_open() > 0 && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.connections_open()
}

#[tokio::test]
async fn one_failure_cancels_a_websocket_and_a_slow_request_and_closes_every_socket() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    let mut scope: Scope = Scope::new().owns(client.clone());

    let c = client.clone();
    let slow = s.url("/delay/20000");
    scope.spawn("slow http", async move {
        c.get(slow).send().await?.bytes().await?;
        Ok::<_, tenax::Error>(())
    });
    let ws = client.websocket(s.ws_url("/ws/echo"));
    scope.spawn("websocket", async move {
        let mut socket = ws.connect().await?;
        while socket.recv().await.is_some() {}
        Ok::<_, tenax::Error>(())
    });
    let c = client.clone();
    let missing = s.url("/status/500");
    scope.spawn("failing", async move {
        // Let the others get going first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.get(missing).send().await?.error_for_status()?;
        Ok::<_, tenax::Error>(())
    });

    let t0 = Instant::now();
    let report = bounded(scope.join()).await;
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let failed = report.task("failing").unwrap().outcome();
    let Outcome::Failed(e) = failed else {
        panic!("failing: {failed}")
    };
    assert!(e.to_string().contains("500"), "{e}");
    for name in ["slow http", "websocket"] {
        match report.task(name).unwrap().outcome() {
            Outcome::Cancelled(Cancel::Failure { task }) => assert_eq!(task, "failing"),
            other => panic!("{name}: {other}"),
        }
    }
    assert!(!report.deadline_passed());
    // The scope closed its client: nothing of it stays open, on either side.
    assert_eq!(client.open_connections(), 0);
    let left = server_sockets_close(&s, Duration::from_secs(2)).await;
    assert_eq!(left, 0, "sockets still open on the server");
}

#[tokio::test]
async fn the_deadline_is_shared_by_the_requests_inside() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    let mut scope = Scope::new()
        .deadline(Duration::from_millis(800))
        .owns(client.clone())
        .collect_all();
    for i in 0..3 {
        let c = client.clone();
        let url = s.url(&format!("/delay/{}", 100 + i * 2000));
        scope.spawn(format!("request {i}"), async move {
            let res = c.get(url).send().await?;
            Ok::<_, tenax::Error>(res.status().as_u16())
        });
    }
    let t0 = Instant::now();
    let report = bounded(scope.join()).await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert!(report.deadline_passed());
    assert!(matches!(
        report.task("request 0").unwrap().outcome(),
        Outcome::Ok(200)
    ));
    for name in ["request 1", "request 2"] {
        match report.task(name).unwrap().outcome() {
            // The request's own deadline (the scope's) fires with the scope's timer: either
            // way the task did not outlive the scope.
            Outcome::Cancelled(Cancel::Deadline) => {}
            Outcome::Failed(e) => {
                let e = e.downcast_ref::<tenax::Error>().expect("a tenax error");
                assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Deadline));
            }
            other => panic!("{name}: {other}"),
        }
    }
    assert_eq!(server_sockets_close(&s, Duration::from_secs(2)).await, 0);
}
