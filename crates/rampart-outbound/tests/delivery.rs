//! Delivery end to end on 127.0.0.1: router over a `StaticResolver`, the client, the sink as
//! the remote MX, rcgen certificates, a local HTTPS server for MTA-STS. Never the internet.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rampart_outbound::client::{Envelope, RcptStatus, TlsUsed};
use rampart_outbound::dns::{StaticResolver, TlsaRecord};
use rampart_outbound::route::{TlsMode, TlsRequirement};
use rampart_outbound::sink::{Sink, SinkConfig};
use tokio::net::TcpListener;

fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        mail_from: "alice@example.org".into(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
    }
}

fn mx_dns() -> StaticResolver {
    StaticResolver::new()
        .mx("example.net", 10, "mx.example.net")
        .a("mx.example.net", LOCALHOST)
}

async fn tls_sink(issued: &Issued) -> Sink {
    Sink::start(SinkConfig {
        tls: Some(server_config(issued)),
        ..SinkConfig::default()
    })
    .await
    .expect("sink")
}

#[tokio::test]
async fn delivers_over_starttls_to_the_sink() {
    let ca = TestCa::new();
    let sink = tls_sink(&ca.issue(&["mx.example.net"])).await;
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("Example.NET").await.expect("route");
    assert_eq!(route.targets.len(), 1);
    assert_eq!(route.targets[0].tls, TlsRequirement::Opportunistic);

    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
    assert_eq!(sent.host, "mx.example.net");
    assert!(
        matches!(sent.tls, TlsUsed::Unverified { ref version } if version.starts_with("TLSv1."))
    );

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].data, MESSAGE, "dot-stuffing must round-trip");
    assert_eq!(messages[0].mail_from, "alice@example.org");
    assert_eq!(messages[0].recipients, ["bob@example.net"]);
    assert_eq!(messages[0].helo, "out.rampart.test");
    assert!(messages[0].tls);
}

#[tokio::test]
async fn opportunistic_tls_accepts_a_self_signed_certificate_for_another_name() {
    let sink = tls_sink(&self_signed(&["whatever.invalid"])).await;
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
    assert!(matches!(sent.tls, TlsUsed::Unverified { .. }));
}

#[tokio::test]
async fn opportunistic_tls_falls_back_to_plain_text_after_a_broken_handshake() {
    let sink = Sink::start(SinkConfig {
        tls: Some(server_config(&self_signed(&["mx.example.net"]))),
        broken_starttls: true,
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
    assert_eq!(sent.tls, TlsUsed::None);
    assert_eq!(sent.failed_targets.len(), 1, "{:?}", sent.failed_targets);
    assert_eq!(sink.connections(), 2);
    assert!(!sink.messages()[0].tls);
}

#[tokio::test]
async fn verify_mode_delivers_to_a_valid_certificate_and_refuses_one_for_another_name() {
    let ca = TestCa::new();

    let good = tls_sink(&ca.issue(&["mx.example.net"])).await;
    let router_good = router(
        mx_dns(),
        router_config(good.addr().port(), TlsMode::Verify),
        mta_sts(443, None),
    );
    let route = router_good.route("example.net").await.expect("route");
    assert_eq!(
        route.targets[0].tls,
        TlsRequirement::VerifyWebPki {
            names: vec!["mx.example.net".into()]
        }
    );
    let sent = client(Some(&ca))
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(matches!(sent.tls, TlsUsed::WebPki { .. }));

    let wrong = tls_sink(&ca.issue(&["other.example.org"])).await;
    let router_wrong = router(
        mx_dns(),
        router_config(wrong.addr().port(), TlsMode::Verify),
        mta_sts(443, None),
    );
    let route = router_wrong.route("example.net").await.expect("route");
    let error = client(Some(&ca))
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect_err("wrong name must fail");
    assert!(!error.permanent);
    assert!(error.message.contains("TLS handshake"), "{}", error.message);
    assert_eq!(wrong.received(), 0);
    assert_eq!(
        wrong.connections(),
        1,
        "no plain-text retry when TLS is required"
    );
}

#[tokio::test]
async fn required_tls_without_starttls_never_falls_back_to_plain_text() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Verify),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let error = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect_err("must fail");
    assert!(!error.permanent);
    assert!(error.message.contains("STARTTLS"), "{}", error.message);
    assert_eq!(sink.received(), 0);
}

async fn sts_setup(
    ca: &TestCa,
    mode: &str,
    patterns: &[&str],
    mx_cert_names: &[&str],
) -> (Sink, PolicyServer, StaticResolver) {
    let sink = tls_sink(&ca.issue(mx_cert_names)).await;
    let server = PolicyServer::start(
        server_config(&ca.issue(&["mta-sts.example.net"])),
        "200 OK",
        &policy_text(mode, patterns),
    )
    .await;
    let dns = mx_dns()
        .txt("_mta-sts.example.net", "v=STSv1; id=20240101T000000;")
        .a("mta-sts.example.net", LOCALHOST);
    (sink, server, dns)
}

#[tokio::test]
async fn mta_sts_enforce_delivers_to_a_matching_mx_with_webpki() {
    let ca = TestCa::new();
    let (sink, server, dns) =
        sts_setup(&ca, "enforce", &["*.example.net"], &["mx.example.net"]).await;
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config.mta_sts = true;
    let router = router(dns, config, mta_sts(server.port, Some(&ca)));
    let route = router.route("example.net").await.expect("route");
    assert!(route.note.contains("MTA-STS enforce"), "{}", route.note);
    assert!(matches!(
        route.targets[0].tls,
        TlsRequirement::VerifyWebPki { .. }
    ));
    let sent = client(Some(&ca))
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(matches!(sent.tls, TlsUsed::WebPki { .. }));
    assert!(sent.all_delivered());
}

#[tokio::test]
async fn mta_sts_enforce_refuses_an_mx_outside_the_policy() {
    let ca = TestCa::new();
    let (sink, server, dns) =
        sts_setup(&ca, "enforce", &["mail.example.com"], &["mx.example.net"]).await;
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config.mta_sts = true;
    let router = router(dns, config, mta_sts(server.port, Some(&ca)));
    let error = router.route("example.net").await.expect_err("refused");
    assert!(!error.permanent);
    assert!(
        error.message.contains("MTA-STS policy") && error.message.contains("20240101T000000"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn mta_sts_enforce_with_a_certificate_that_does_not_verify_fails() {
    let ca = TestCa::new();
    let (sink, server, dns) =
        sts_setup(&ca, "enforce", &["mx.example.net"], &["other.example"]).await;
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config.mta_sts = true;
    let router = router(dns, config, mta_sts(server.port, Some(&ca)));
    let route = router.route("example.net").await.expect("route");
    let error = client(Some(&ca))
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect_err("must fail");
    assert!(!error.permanent);
    assert_eq!(sink.received(), 0);
}

#[tokio::test]
async fn mta_sts_testing_mode_only_logs() {
    let ca = TestCa::new();
    let (sink, server, dns) =
        sts_setup(&ca, "testing", &["mail.example.com"], &["mx.example.net"]).await;
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config.mta_sts = true;
    let router = router(dns, config, mta_sts(server.port, Some(&ca)));
    let route = router.route("example.net").await.expect("route");
    assert!(route.note.contains("MTA-STS testing"), "{}", route.note);
    assert_eq!(route.targets[0].tls, TlsRequirement::Opportunistic);
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
}

#[tokio::test]
async fn mta_sts_policy_that_cannot_be_fetched_applies_nothing() {
    let ca = TestCa::new();
    let sink = tls_sink(&ca.issue(&["mx.example.net"])).await;
    // The policy host's certificate is not trusted (no extra root): the fetch fails.
    let server = PolicyServer::start(
        server_config(&ca.issue(&["mta-sts.example.net"])),
        "200 OK",
        &enforce_policy(&["mail.example.com"]),
    )
    .await;
    let dns = mx_dns()
        .txt("_mta-sts.example.net", "v=STSv1; id=1;")
        .a("mta-sts.example.net", LOCALHOST);
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config.mta_sts = true;
    let router = router(dns, config, mta_sts(server.port, None));
    let route = router.route("example.net").await.expect("fails open");
    assert_eq!(route.targets[0].tls, TlsRequirement::Opportunistic);
}

#[tokio::test]
async fn mta_sts_redirect_is_not_followed() {
    let ca = TestCa::new();
    let server = PolicyServer::start(
        server_config(&ca.issue(&["mta-sts.example.net"])),
        "301 Moved Permanently",
        "",
    )
    .await;
    let dns = StaticResolver::new().a("mta-sts.example.net", LOCALHOST);
    let sts = mta_sts(server.port, Some(&ca));
    let error = sts.fetch(&dns, "example.net").await.expect_err("redirect");
    assert!(error.reason.contains("301"), "{}", error.reason);
}

#[tokio::test]
async fn mta_sts_cached_policy_is_used_when_a_refresh_fails() {
    let ca = TestCa::new();
    let (sink, server, dns) =
        sts_setup(&ca, "enforce", &["mail.example.com"], &["mx.example.net"]).await;
    let sts = mta_sts(server.port, Some(&ca));
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config.mta_sts = true;
    let first = router(dns, config.clone(), sts.clone());
    assert!(first.route("example.net").await.is_err());

    // A new id announces a new policy, but the policy server is gone.
    drop(server);
    let dns = mx_dns()
        .txt("_mta-sts.example.net", "v=STSv1; id=2;")
        .a("mta-sts.example.net", LOCALHOST);
    let second = router(dns, config, sts);
    let error = second
        .route("example.net")
        .await
        .expect_err("cached policy");
    assert!(
        error.message.contains("20240101T000000"),
        "{}",
        error.message
    );
}

fn dane_dns(port: u16, record: TlsaRecord, signed: bool) -> StaticResolver {
    let tlsa_name = format!("_{port}._tcp.mx.example.net");
    let dns = mx_dns().tlsa(&tlsa_name, record).signed("example.net");
    if signed {
        dns.signed(&tlsa_name)
    } else {
        dns
    }
}

#[tokio::test]
async fn dane_ee_match_delivers() {
    // DANE-EE ignores names and issuers: a self-signed certificate for another name is fine.
    let issued = self_signed(&["not-the-mx.example"]);
    let sink = tls_sink(&issued).await;
    let port = sink.addr().port();
    let record = TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: sha256(&issued.spki),
    };
    let mut config = router_config(port, TlsMode::Opportunistic);
    config.dane = true;
    let router = router(dane_dns(port, record, true), config, mta_sts(443, None));
    let route = router.route("example.net").await.expect("route");
    assert!(matches!(route.targets[0].tls, TlsRequirement::Dane { .. }));
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(matches!(sent.tls, TlsUsed::Dane { .. }));
}

#[tokio::test]
async fn dane_ee_mismatch_fails_without_plain_text() {
    let sink = tls_sink(&self_signed(&["mx.example.net"])).await;
    let port = sink.addr().port();
    let record = TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0xAB; 32],
    };
    let mut config = router_config(port, TlsMode::Opportunistic);
    config.dane = true;
    let router = router(dane_dns(port, record, true), config, mta_sts(443, None));
    let route = router.route("example.net").await.expect("route");
    let error = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect_err("mismatch");
    assert!(!error.permanent);
    assert_eq!(sink.received(), 0);
    assert_eq!(sink.connections(), 1);
}

#[tokio::test]
async fn dane_ta_match_checks_chain_and_name() {
    let ca = TestCa::new();
    let sink = tls_sink(&ca.issue(&["mx.example.net"])).await;
    let port = sink.addr().port();
    let record = TlsaRecord {
        usage: 2,
        selector: 0,
        matching: 1,
        data: sha256(ca.der().as_ref()),
    };
    let mut config = router_config(port, TlsMode::Opportunistic);
    config.dane = true;
    let router = router(dane_dns(port, record, true), config, mta_sts(443, None));
    let route = router.route("example.net").await.expect("route");
    // The CA is not among the client's roots: only the TLSA record makes it trusted.
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(matches!(sent.tls, TlsUsed::Dane { .. }));
}

#[tokio::test]
async fn insecure_tlsa_records_are_ignored() {
    let sink = tls_sink(&self_signed(&["mx.example.net"])).await;
    let port = sink.addr().port();
    let record = TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0xAB; 32],
    };
    let mut config = router_config(port, TlsMode::Opportunistic);
    config.dane = true;
    let router = router(dane_dns(port, record, false), config, mta_sts(443, None));
    let route = router.route("example.net").await.expect("route");
    assert_eq!(route.targets[0].tls, TlsRequirement::Opportunistic);
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(matches!(sent.tls, TlsUsed::Unverified { .. }));
}

#[tokio::test]
async fn tlsa_behind_an_insecure_mx_is_ignored() {
    let port = 2525;
    let record = TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0xAB; 32],
    };
    let tlsa_name = format!("_{port}._tcp.mx.example.net");
    let dns = mx_dns().tlsa(&tlsa_name, record).signed(&tlsa_name);
    let mut config = router_config(port, TlsMode::Opportunistic);
    config.dane = true;
    let router = router(dns, config, mta_sts(443, None));
    let route = router.route("example.net").await.expect("route");
    assert_eq!(route.targets[0].tls, TlsRequirement::Opportunistic);
}

#[tokio::test]
async fn null_mx_is_a_permanent_error() {
    let dns = StaticResolver::new().mx("example.net", 0, ".");
    let router = router(
        dns,
        router_config(25, TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let error = router.route("example.net").await.expect_err("null MX");
    assert!(error.permanent);
    assert_eq!(
        error.message,
        "example.net does not accept mail (null MX, RFC 7505)"
    );
}

#[tokio::test]
async fn a_domain_that_does_not_exist_is_permanent_and_servfail_is_not() {
    let dns = StaticResolver::new().servfail("broken.example");
    let router = router(
        dns,
        router_config(25, TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    assert!(router.route("nowhere.example").await.unwrap_err().permanent);
    assert!(!router.route("broken.example").await.unwrap_err().permanent);
}

#[tokio::test]
async fn no_mx_falls_back_to_the_domains_own_address() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let dns = StaticResolver::new().a("example.net", LOCALHOST);
    let router = router(
        dns,
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    assert_eq!(route.targets[0].mx, "example.net");
    assert_eq!(route.targets[0].addr, addr(sink.addr().port()));
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
    assert_eq!(sent.tls, TlsUsed::None, "the sink offers no STARTTLS");
}

#[tokio::test]
async fn mx_preference_order_moves_past_a_dead_first_host() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let dns = StaticResolver::new()
        .mx("example.net", 20, "backup.example.net")
        .mx("example.net", 10, "primary.example.net")
        .mx("example.net", 30, "third.example.net")
        .mx("example.net", 40, "127.0.0.1")
        .mx("example.net", 50, "gone.example.net")
        .a("primary.example.net", DEAD)
        .a("backup.example.net", LOCALHOST)
        .a("third.example.net", LOCALHOST);
    let router = router(
        dns,
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let hosts: Vec<&str> = route.targets.iter().map(|t| t.mx.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "primary.example.net",
            "backup.example.net",
            "third.example.net"
        ]
    );
    assert!(
        route.note.contains("127.0.0.1 is an IP address"),
        "{}",
        route.note
    );
    assert!(
        route.note.contains("gone.example.net does not exist"),
        "{}",
        route.note
    );

    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert_eq!(sent.host, "backup.example.net");
    assert_eq!(sent.failed_targets.len(), 1);
    assert!(sent.failed_targets[0].contains("primary.example.net[127.0.0.2]"));
}

#[tokio::test]
async fn at_most_ten_targets() {
    let mut dns = StaticResolver::new();
    for i in 0..8u8 {
        let host = format!("mx{i}.example.net");
        dns = dns
            .mx("example.net", 10 + u16::from(i), &host)
            .a(&host, std::net::IpAddr::from([127, 0, 1, i]))
            .a(&host, std::net::IpAddr::from([127, 0, 2, i]));
    }
    let router = router(
        dns,
        router_config(25, TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    assert_eq!(route.targets.len(), 10);
}

#[tokio::test]
async fn relay_and_mx_override_bypass_the_mx_lookup() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let hop = sink.addr().to_string();

    let mut config = router_config(25, TlsMode::Opportunistic);
    config.relay = Some(hop.clone());
    let relay = router(StaticResolver::new(), config, mta_sts(443, None));
    let route = relay.route("anywhere.example").await.expect("route");
    assert_eq!(route.targets[0].addr, sink.addr());
    assert!(route.note.starts_with("relay"), "{}", route.note);

    let mut config = router_config(25, TlsMode::Opportunistic);
    config.mx_override.insert(
        "Partner.Example".into(),
        "smarthost.internal:".to_string() + &sink.addr().port().to_string(),
    );
    let dns = StaticResolver::new().a("smarthost.internal", LOCALHOST);
    let overridden = router(dns, config, mta_sts(443, None));
    let route = overridden.route("partner.example").await.expect("route");
    assert_eq!(route.targets[0].mx, "smarthost.internal");
    assert_eq!(route.targets[0].addr, sink.addr());
    let sent = client(None)
        .send(&route, &envelope(&["bob@partner.example"]), MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
}

#[tokio::test]
async fn per_recipient_replies_are_exact() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let sent = client(None)
        .send(
            &route,
            &envelope(&[
                "ok@example.net",
                "reject-me@example.net",
                "defer-me@example.net",
                "bad address@example.net",
                "also-ok@example.net",
            ]),
            MESSAGE,
        )
        .await
        .expect("sent");
    let statuses: Vec<&RcptStatus> = sent.recipients.iter().map(|r| &r.status).collect();
    assert!(matches!(statuses[0], RcptStatus::Delivered { .. }));
    match statuses[1] {
        RcptStatus::Permanent { reply } => {
            assert_eq!(reply.code, 550);
            assert_eq!(reply.enhanced, Some((5, 1, 1)));
            assert!(!reply.local);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(statuses[2], RcptStatus::Temporary { reply } if reply.code == 451));
    assert!(matches!(statuses[3], RcptStatus::Permanent { reply } if reply.local));
    assert!(matches!(statuses[4], RcptStatus::Delivered { .. }));
    assert_eq!(
        sink.messages()[0].recipients,
        ["ok@example.net", "also-ok@example.net"]
    );
}

#[tokio::test]
async fn no_accepted_recipient_sends_no_data() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let sent = client(None)
        .send(&route, &envelope(&["reject@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert!(matches!(
        sent.recipients[0].status,
        RcptStatus::Permanent { .. }
    ));
    assert_eq!(sink.received(), 0);
}

#[tokio::test]
async fn a_rejection_after_data_applies_to_every_accepted_recipient() {
    let sink = Sink::start(SinkConfig {
        data_reply: Some("554 5.7.1 message refused as spam".into()),
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let sent = client(None)
        .send(
            &route,
            &envelope(&["a@example.net", "reject@example.net", "b@example.net"]),
            MESSAGE,
        )
        .await
        .expect("sent");
    for index in [0, 2] {
        match &sent.recipients[index].status {
            RcptStatus::Permanent { reply } => {
                assert_eq!(reply.to_string(), "554 5.7.1 message refused as spam")
            }
            other => panic!("{other:?}"),
        }
    }
    match &sent.recipients[1].status {
        RcptStatus::Permanent { reply } => assert_eq!(reply.code, 550),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_permanent_refusal_of_the_sender_stops_at_the_first_server() {
    let sink = Sink::start(SinkConfig {
        mail_reply: Some("550 5.7.1 sender blocked".into()),
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let other = Sink::start(SinkConfig::default()).await.expect("sink");
    let mut config = router_config(sink.addr().port(), TlsMode::Opportunistic);
    config
        .mx_override
        .insert("example.net".into(), sink.addr().to_string());
    let router = router(StaticResolver::new(), config, mta_sts(443, None));
    let mut route = router.route("example.net").await.expect("route");
    let mut second = route.targets[0].clone();
    second.addr = other.addr();
    route.targets.push(second);

    let error = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect_err("refused");
    assert!(error.permanent);
    assert_eq!(
        error.message,
        format!("127.0.0.1[127.0.0.1] said: 550 5.7.1 sender blocked (in reply to MAIL FROM)")
    );
    assert_eq!(error.remote.as_deref(), Some("550 5.7.1 sender blocked"));
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn a_busy_greeting_moves_on_to_the_next_host() {
    let busy = Sink::start(SinkConfig {
        greeting: Some("421 4.3.2 too busy".into()),
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let good = Sink::start(SinkConfig::default()).await.expect("sink");
    let mut config = router_config(25, TlsMode::Opportunistic);
    config.relay = Some(busy.addr().to_string());
    let router = router(StaticResolver::new(), config, mta_sts(443, None));
    let mut route = router.route("example.net").await.expect("route");
    let mut second = route.targets[0].clone();
    second.addr = good.addr();
    route.targets.push(second);
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert_eq!(sent.addr, good.addr());
    assert!(sent.failed_targets[0].contains("421 4.3.2 too busy"));
}

#[tokio::test]
async fn a_message_over_the_announced_size_is_refused_locally() {
    let sink = Sink::start(SinkConfig {
        max_size: Some(64),
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let error = client(None)
        .send(&route, &envelope(&["bob@example.net"]), &[b'x'; 1000])
        .await
        .expect_err("too big");
    assert!(error.permanent);
    assert!(error.message.contains("SIZE"), "{}", error.message);
    assert_eq!(sink.received(), 0);
}

#[tokio::test]
async fn an_internationalised_envelope_uses_smtputf8() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let envelope = Envelope {
        mail_from: "".into(),
        recipients: vec!["用户@example.net".into()],
    };
    let sent = client(None)
        .send(&route, &envelope, MESSAGE)
        .await
        .expect("sent");
    assert!(sent.all_delivered());
    let message = &sink.messages()[0];
    assert_eq!(message.mail_from, "", "null reverse path");
    assert_eq!(message.recipients, ["用户@example.net"]);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream); // accept, never answer
        }
    });
    let router = router(
        mx_dns(),
        router_config(port, TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let client = rampart_outbound::Client::new(rampart_outbound::ClientConfig {
        helo: "out.rampart.test".into(),
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(300),
        extra_roots: Vec::new(),
    });
    let started = Instant::now();
    let error = client
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect_err("timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!error.permanent);
    assert!(error.message.contains("timed out"), "{}", error.message);
    hold.abort();
}

#[tokio::test]
async fn many_concurrent_deliveries_to_one_sink() {
    let sink = Sink::start(SinkConfig {
        keep: 0,
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let router = router(
        mx_dns(),
        router_config(sink.addr().port(), TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = std::sync::Arc::new(router.route("example.net").await.expect("route"));
    let client = std::sync::Arc::new(client(None));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let route = route.clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let envelope = envelope(&[&format!("user{i}@example.net")]);
            client.send(&route, &envelope, MESSAGE).await
        }));
    }
    for task in tasks {
        assert!(task.await.expect("task").expect("sent").all_delivered());
    }
    assert_eq!(sink.received(), 50);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_temporary_refusal_of_the_sender_moves_on_to_the_next_host() {
    let deferring = Sink::start(SinkConfig {
        mail_reply: Some("451 4.7.1 greylisted".into()),
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let good = Sink::start(SinkConfig::default()).await.expect("sink");
    let mut config = router_config(25, TlsMode::Opportunistic);
    config.relay = Some(deferring.addr().to_string());
    let router = router(StaticResolver::new(), config, mta_sts(443, None));
    let mut route = router.route("example.net").await.expect("route");
    let mut second = route.targets[0].clone();
    second.addr = good.addr();
    route.targets.push(second);
    let sent = client(None)
        .send(&route, &envelope(&["bob@example.net"]), MESSAGE)
        .await
        .expect("sent");
    assert_eq!(sent.addr, good.addr());
    assert!(sent.failed_targets[0].contains("451 4.7.1 greylisted (in reply to MAIL FROM)"));
}

#[tokio::test]
async fn an_internationalised_envelope_needs_a_server_that_offers_smtputf8() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // A minimal server with no extensions at all.
    let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        stream
            .get_mut()
            .write_all(b"220 plain ESMTP\r\n")
            .await
            .unwrap();
        let mut line = String::new();
        let mut commands = Vec::new();
        while stream.read_line(&mut line).await.unwrap_or(0) > 0 {
            let reply: &[u8] = if line.starts_with("QUIT") {
                b"221 bye\r\n"
            } else {
                b"250 plain\r\n"
            };
            commands.push(line.trim_end().to_string());
            stream.get_mut().write_all(reply).await.unwrap();
            if line.starts_with("QUIT") {
                break;
            }
            line.clear();
        }
        commands
    });
    let router = router(
        mx_dns(),
        router_config(port, TlsMode::Opportunistic),
        mta_sts(443, None),
    );
    let route = router.route("example.net").await.expect("route");
    let envelope = Envelope {
        mail_from: "alice@example.org".into(),
        recipients: vec!["用户@example.net".into()],
    };
    let error = client(None)
        .send(&route, &envelope, MESSAGE)
        .await
        .expect_err("no SMTPUTF8");
    assert!(error.permanent);
    assert!(error.message.contains("SMTPUTF8"), "{}", error.message);
    let commands = server.await.expect("server");
    assert_eq!(commands, ["EHLO out.rampart.test", "QUIT"]);
}
