//! The login flow against a real store, with time driven by a manual clock.

use std::net::IpAddr;
use std::sync::Arc;

use rampart_auth::login::{Login, LoginOutcome, LoginRequest, LoginSettings, Via};
use rampart_auth::PasswordHasher;
use rampart_model::{ChallengeKind, EventKind, ManualClock, NewAccount, Protocol, Timestamp};
use rampart_risk::{GeoDb, RiskConfig};
use rampart_store::{EventFilter, Mailstore};

const T0: Timestamp = Timestamp(1_795_000_000);
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Mailstore,
    login: Login,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let store = Mailstore::open_embedded(dir.path(), Arc::new(clock.clone()), 7).unwrap();
    let hasher = PasswordHasher::for_tests();
    store
        .meta()
        .add_domain("example.com", T0, "test")
        .await
        .unwrap();
    for user in ["alice@example.com", "bob@example.com"] {
        store
            .meta()
            .create_account(
                NewAccount {
                    address: Some(user.parse().unwrap()),
                    password_hash: Some(hasher.hash(PASSWORD).await.unwrap()),
                    ..Default::default()
                },
                T0,
                "test",
            )
            .await
            .unwrap();
    }
    let login = Login::new(
        store.clone(),
        hasher,
        RiskConfig {
            base_delay_ms: 0,
            ..Default::default()
        },
        GeoDb::empty(),
        LoginSettings::for_host("mail.example.com"),
    );
    Fixture {
        _dir: dir,
        clock,
        store,
        login,
    }
}

fn req(user: &str, secret: &str, protocol: Protocol, ip: &str) -> LoginRequest {
    LoginRequest {
        user: user.into(),
        secret: secret.into(),
        protocol,
        ip: ip.parse::<IpAddr>().unwrap(),
        user_agent: Some("Thunderbird/128.0".into()),
        device_id: None,
    }
}

fn refusal_code(o: &LoginOutcome) -> &str {
    match o {
        LoginOutcome::Refused(r) => &r.code,
        LoginOutcome::Allowed(_) => "allowed",
        LoginOutcome::Challenged { .. } => "challenged",
    }
}

#[tokio::test]
async fn passwords_app_passwords_and_disabled_accounts() {
    let f = fixture().await;
    let ok = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Smtp,
            "192.0.2.10",
        ))
        .await;
    assert!(matches!(&ok, LoginOutcome::Allowed(g) if g.via == Via::Password));
    let wrong = f
        .login
        .login(&req(
            "alice@example.com",
            "nope",
            Protocol::Smtp,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&wrong), "invalid_credentials");
    let unknown = f
        .login
        .login(&req(
            "nobody@example.com",
            PASSWORD,
            Protocol::Smtp,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&unknown), "invalid_credentials");

    let alice = "alice@example.com".parse().unwrap();
    let (app, secret) = f
        .login
        .create_app_password(&alice, "phone", &[Protocol::Imap], "test")
        .await
        .unwrap();
    let imap = f
        .login
        .login(&req(
            "alice@example.com",
            &secret,
            Protocol::Imap,
            "192.0.2.10",
        ))
        .await;
    assert!(
        matches!(&imap, LoginOutcome::Allowed(g) if g.via == Via::AppPassword { id: app.id, name: "phone".into() })
    );
    let smtp = f
        .login
        .login(&req(
            "alice@example.com",
            &secret,
            Protocol::Smtp,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(
        refusal_code(&smtp),
        "invalid_credentials",
        "outside its scope"
    );

    f.store
        .meta()
        .set_disabled(&alice, true, T0, "test")
        .await
        .unwrap();
    let o = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&o), "account_disabled");
    // Disabling revoked the app password with everything else.
    let o = f
        .login
        .login(&req(
            "alice@example.com",
            &secret,
            Protocol::Imap,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&o), "invalid_credentials");
    let denied = f
        .store
        .meta()
        .list_events(&EventFilter {
            kinds: vec![EventKind::LoginDenied],
            subject: Some("alice@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 4);
    assert!(denied[1].detail["reasons"].contains("account_disabled"));
}

#[tokio::test]
async fn ten_failures_lock_the_pair_not_the_account() {
    let f = fixture().await;
    // Bob's usual address, learned from earlier logins.
    for _ in 0..3 {
        let o = f
            .login
            .login(&req(
                "bob@example.com",
                PASSWORD,
                Protocol::Http,
                "203.0.113.9",
            ))
            .await;
        assert!(matches!(o, LoginOutcome::Allowed(_)), "{o:?}");
        f.clock.advance_secs(3600);
    }
    for _ in 0..10 {
        let o = f
            .login
            .login(&req(
                "bob@example.com",
                "guess",
                Protocol::Http,
                "198.51.100.7",
            ))
            .await;
        assert!(matches!(o, LoginOutcome::Refused(_)));
    }
    let locked = f
        .login
        .login(&req(
            "bob@example.com",
            PASSWORD,
            Protocol::Http,
            "198.51.100.7",
        ))
        .await;
    assert_eq!(refusal_code(&locked), "account_ip_locked");
    let elsewhere = f
        .login
        .login(&req(
            "bob@example.com",
            PASSWORD,
            Protocol::Http,
            "203.0.113.9",
        ))
        .await;
    assert!(
        matches!(elsewhere, LoginOutcome::Allowed(_)),
        "{elsewhere:?}"
    );
    f.clock.advance_secs(16 * 60);
    let later = f
        .login
        .login(&req(
            "bob@example.com",
            PASSWORD,
            Protocol::Http,
            "198.51.100.7",
        ))
        .await;
    assert!(!matches!(refusal_code(&later), "account_ip_locked"));
}

#[tokio::test]
async fn mfa_policy_gives_totp_challenges_once_per_code_and_smtp_waits_for_approval() {
    let f = fixture().await;
    let alice: rampart_model::EmailAddress = "alice@example.com".parse().unwrap();
    let (secret, uri) = f.login.begin_totp(&alice).await.unwrap();
    assert!(uri.contains("secret="));
    let now = T0.0 as u64;
    assert!(f
        .login
        .confirm_totp(&alice, &secret.code_at(now))
        .await
        .unwrap());
    f.store
        .meta()
        .set_policy(
            "user",
            "alice@example.com",
            r#"{"mfa_required": true}"#,
            T0,
            "test",
        )
        .await
        .unwrap();

    let o = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    let LoginOutcome::Challenged { challenge, .. } = o else {
        panic!("expected a challenge, got {o:?}")
    };
    assert_eq!(challenge.kind, ChallengeKind::Totp);
    let replay = f
        .login
        .complete_totp(&challenge.id, &secret.code_at(now))
        .await;
    assert_eq!(replay.unwrap_err().code, "invalid_code");
    let grant = f
        .login
        .complete_totp(&challenge.id, &secret.code_at(now + 30))
        .await
        .unwrap();
    assert!(grant.session.mfa);
    let again = f
        .login
        .complete_totp(&challenge.id, &secret.code_at(now + 60))
        .await;
    assert_eq!(again.unwrap_err().code, "challenge_closed");

    // SMTP from elsewhere cannot be asked: refused with where to approve; approval trusts it.
    let smtp = req(
        "alice@example.com",
        PASSWORD,
        Protocol::Smtp,
        "203.0.113.50",
    );
    let LoginOutcome::Refused(r) = f.login.login(&smtp).await else {
        panic!("expected a refusal")
    };
    assert_eq!(r.code, "approval_required");
    assert!(r.message.contains("https://mail.example.com/approve"));
    let id = r.challenge_id.unwrap();
    // A retry before approval reuses the same pending challenge.
    let LoginOutcome::Refused(r2) = f.login.login(&smtp).await else {
        panic!("expected a refusal")
    };
    assert_eq!(r2.challenge_id.as_deref(), Some(id.as_str()));
    let bob_session = f
        .login
        .new_session(&"bob@example.com".parse().unwrap(), "192.0.2.1", None, true)
        .await
        .unwrap();
    assert_eq!(
        f.login
            .decide(&bob_session.session, &id, true)
            .await
            .unwrap_err()
            .code,
        "unknown_challenge",
        "nobody approves another user's sign-in"
    );
    f.login.decide(&grant.session, &id, true).await.unwrap();
    assert!(matches!(
        f.login.login(&smtp).await,
        LoginOutcome::Allowed(_)
    ));
}

#[tokio::test]
async fn admin_blocks_are_read_from_the_store_and_refuse_before_hashing() {
    let f = fixture().await;
    f.store
        .meta()
        .add_block("198.51.100.0/24", "test", None, T0, "cli")
        .await
        .unwrap();
    let o = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Smtp,
            "198.51.100.77",
        ))
        .await;
    assert_eq!(refusal_code(&o), "source_blocked");
    f.store
        .meta()
        .remove_block("198.51.100.0/24", T0, "cli")
        .await
        .unwrap();
    f.clock.advance_secs(10);
    let o = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Smtp,
            "198.51.100.77",
        ))
        .await;
    assert!(matches!(o, LoginOutcome::Allowed(_)), "{o:?}");
}

#[tokio::test]
async fn containment_refuses_every_login_then_needs_a_new_password_and_step_up() {
    let f = fixture().await;
    let alice: rampart_model::EmailAddress = "alice@example.com".parse().unwrap();
    let (secret, _) = f.login.begin_totp(&alice).await.unwrap();
    let now = T0.0 as u64;
    assert!(f
        .login
        .confirm_totp(&alice, &secret.code_at(now))
        .await
        .unwrap());
    // An ordinary, allowed login first, so the device is familiar.
    let ok = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&ok), "allowed");

    f.store
        .meta()
        .contain_account(&alice, "phished", T0, "admin")
        .await
        .unwrap();
    for protocol in [Protocol::Http, Protocol::Smtp, Protocol::Imap] {
        let o = f
            .login
            .login(&req("alice@example.com", PASSWORD, protocol, "192.0.2.10"))
            .await;
        assert_eq!(refusal_code(&o), "account_contained", "{protocol:?}");
        let LoginOutcome::Refused(r) = o else {
            unreachable!()
        };
        assert!(r.message.contains("locked down"), "{}", r.message);
    }
    // A wrong password still reads as wrong: containment is not an oracle for guessing.
    let wrong = f
        .login
        .login(&req(
            "alice@example.com",
            "guess",
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&wrong), "invalid_credentials");

    f.store
        .meta()
        .release_account(&alice, false, T0, "admin")
        .await
        .unwrap();
    let stale = f
        .login
        .login(&req(
            "alice@example.com",
            PASSWORD,
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&stale), "password_reset_required");

    let fresh = "a brand new passphrase 42";
    let hash = f.login.hasher().hash(fresh).await.unwrap();
    f.store
        .meta()
        .set_password(&alice, &hash, T0, "admin")
        .await
        .unwrap();
    // The new password works, but this first login is challenged whatever its risk.
    let o = f
        .login
        .login(&req(
            "alice@example.com",
            fresh,
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    let LoginOutcome::Challenged {
        challenge,
        decision,
    } = o
    else {
        panic!("expected step-up, got {o:?}")
    };
    assert_eq!(decision.reasons[0].code, "step_up_required");
    f.login
        .complete_totp(&challenge.id, &secret.code_at(now + 30))
        .await
        .unwrap();
    let account = f.store.meta().account(&alice).await.unwrap().unwrap();
    assert!(!account.step_up_required && !account.password_reset_required);
    f.clock.advance_secs(60);
    let o = f
        .login
        .login(&req(
            "alice@example.com",
            fresh,
            Protocol::Http,
            "192.0.2.10",
        ))
        .await;
    assert_eq!(refusal_code(&o), "allowed");
}
