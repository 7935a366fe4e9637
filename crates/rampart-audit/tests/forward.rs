//! The SIEM forwarder over real sockets and files: every event once, in order, resumed from its
//! cursor after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rampart_audit::Forwarder;
use rampart_model::{EventKind, ManualClock, Timestamp};
use rampart_store::Mailstore;

const T0: Timestamp = Timestamp(1_795_000_000);

async fn record(store: &Mailstore, n: usize) {
    for i in 0..n {
        store
            .meta()
            .record_event(
                EventKind::LoginDenied,
                T0,
                "imap",
                Some("alice@example.com"),
                BTreeMap::from([("n".to_string(), i.to_string())]),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn syslog_gets_every_event_once_as_rfc5424_with_the_json_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Mailstore::open_embedded(dir.path(), Arc::new(ManualClock::at(T0)), 7).unwrap();
    record(&store, 3).await;
    let siem = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("udp:{}", siem.local_addr().unwrap());
    let state = dir.path().join("audit");
    let forwarder = Forwarder::new(None, Some(&target), &state, "mx.example.com")
        .unwrap()
        .unwrap();
    let results = forwarder.tick(store.meta()).await;
    assert_eq!(results, [("syslog".to_string(), Ok(3))]);
    let mut buf = vec![0u8; 4096];
    let mut ids = Vec::new();
    for _ in 0..3 {
        let n = tokio::time::timeout(Duration::from_secs(5), siem.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let line = String::from_utf8(buf[..n].to_vec()).unwrap();
        assert!(line.starts_with("<110>1 "), "{line}");
        assert!(line.contains(" mx.example.com rampart "), "{line}");
        let json: serde_json::Value =
            serde_json::from_str(&line[line.find('{').unwrap()..]).unwrap();
        assert_eq!(json["kind"], "login_denied");
        assert_eq!(json["hash"].as_str().unwrap().len(), 64);
        ids.push(json["id"].as_i64().unwrap());
    }
    assert_eq!(ids, [1, 2, 3]);

    // A restarted forwarder resumes after its cursor: only the new event goes out.
    record(&store, 1).await;
    let again = Forwarder::new(None, Some(&target), &state, "mx.example.com")
        .unwrap()
        .unwrap();
    assert_eq!(
        again.tick(store.meta()).await,
        [("syslog".to_string(), Ok(1))]
    );
    let n = siem.recv(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("\"id\":4"));
}

#[tokio::test]
async fn a_failing_sink_keeps_its_place_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Mailstore::open_embedded(dir.path(), Arc::new(ManualClock::at(T0)), 7).unwrap();
    record(&store, 2).await;
    // A directory where the JSON-lines file should be: appending fails.
    let target = dir.path().join("siem.jsonl");
    std::fs::create_dir_all(&target).unwrap();
    let state = dir.path().join("audit");
    let forwarder = Forwarder::new(Some(&target), None, &state, "h")
        .unwrap()
        .unwrap();
    let results = forwarder.tick(store.meta()).await;
    assert!(results[0].1.is_err(), "{results:?}");
    std::fs::remove_dir(&target).unwrap();
    assert_eq!(
        forwarder.tick(store.meta()).await,
        [("jsonl".to_string(), Ok(2))]
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&target)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["detail"]["n"], "1");
    assert!(Forwarder::new(None, None, &state, "h").unwrap().is_none());
    assert!(Forwarder::new(None, Some("udp:nope"), &state, "h").is_err());
}
