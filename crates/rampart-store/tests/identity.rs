//! Identities and login-risk state as `rampart-auth` sees them: passwords, app passwords, API
//! sessions, TOTP replay protection, source blocks, challenges, trust, policies, and the events
//! they leave behind.

use std::sync::Arc;

use rampart_model::{
    Challenge, ChallengeKind, ChallengeStatus, EmailAddress, Event, EventKind, ManualClock,
    NewAccount, Protocol, Timestamp, Trust, TrustKind,
};
use rampart_store::{EventFilter, Mailstore, MetaStore, StoreError};

const T0: Timestamp = Timestamp(1_795_000_000);
const HOUR: i64 = 3_600;

fn addr(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    Timestamp(T0.0 + secs)
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Mailstore,
}

impl Fixture {
    fn meta(&self) -> &dyn MetaStore {
        self.store.meta()
    }

    async fn events(&self, subject: Option<&str>, kinds: &[EventKind]) -> Vec<Event> {
        self.meta()
            .list_events(&EventFilter {
                subject: subject.map(str::to_string),
                kinds: kinds.to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
    }
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Mailstore::open_embedded(dir.path(), Arc::new(ManualClock::at(T0)), 7).unwrap();
    let meta = store.meta();
    meta.add_domain("example.com", T0, "test").await.unwrap();
    for user in ["alice@example.com", "bob@example.com"] {
        meta.create_account(
            NewAccount {
                address: Some(addr(user)),
                ..Default::default()
            },
            T0,
            "test",
        )
        .await
        .unwrap();
    }
    Fixture { _dir: dir, store }
}

fn challenge(id: &str, kind: ChallengeKind, expires_in: i64) -> Challenge {
    Challenge {
        id: id.into(),
        account: addr("alice@example.com"),
        kind,
        protocol: Protocol::Http,
        ip: "203.0.113.9".into(),
        user_agent: Some("Firefox".into()),
        device_id: Some("dev-hash".into()),
        reasons: vec!["new_country".into(), "new_device".into()],
        status: ChallengeStatus::Pending,
        created_at: T0,
        expires_at: at(expires_in),
        decided_at: None,
        decided_by: None,
    }
}

#[tokio::test]
async fn sets_and_reads_password_hashes() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    assert_eq!(f.meta().password_hash(&alice).await.unwrap(), None);
    assert!(
        !f.meta()
            .account(&alice)
            .await
            .unwrap()
            .unwrap()
            .has_password
    );

    let phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    f.meta()
        .set_password(&alice, phc, at(1), "alice@example.com")
        .await
        .unwrap();
    assert_eq!(
        f.meta().password_hash(&alice).await.unwrap().as_deref(),
        Some(phc)
    );
    assert!(
        f.meta()
            .account(&alice)
            .await
            .unwrap()
            .unwrap()
            .has_password
    );
    assert_eq!(
        f.meta()
            .password_hash(&addr("ghost@example.com"))
            .await
            .unwrap(),
        None
    );

    let ghost = f
        .meta()
        .set_password(&addr("ghost@example.com"), phc, at(1), "cli")
        .await;
    assert!(matches!(ghost, Err(StoreError::NotFound(_))), "{ghost:?}");
    assert!(matches!(
        f.meta().set_password(&alice, " ", at(1), "cli").await,
        Err(StoreError::Invalid(_))
    ));

    let events = f
        .events(Some("alice@example.com"), &[EventKind::PasswordChanged])
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "alice@example.com");
    assert!(
        !events[0].detail.values().any(|v| v.contains("argon2")),
        "no hash in the audit trail"
    );
}

#[tokio::test]
async fn app_passwords_are_created_listed_used_and_revoked() {
    let f = fixture().await;
    let (alice, bob) = (addr("alice@example.com"), addr("bob@example.com"));
    let phone = f
        .meta()
        .create_app_password(
            &alice,
            "phone",
            &[Protocol::Smtp, Protocol::Imap, Protocol::Smtp],
            "hash-phone",
            at(10),
            "alice@example.com",
        )
        .await
        .unwrap();
    assert_eq!(phone.account, alice);
    assert_eq!(phone.protocols, vec![Protocol::Smtp, Protocol::Imap]);
    assert_eq!(phone.created_at, at(10));
    assert_eq!((phone.last_used_at, phone.revoked_at), (None, None));
    let laptop = f
        .meta()
        .create_app_password(
            &alice,
            "laptop",
            &[Protocol::Imap],
            "hash-laptop",
            at(20),
            "cli",
        )
        .await
        .unwrap();

    assert!(matches!(
        f.meta()
            .create_app_password(&alice, "none", &[], "h", at(20), "cli")
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        f.meta()
            .create_app_password(&alice, "x", &[Protocol::Smtp], "", at(20), "cli")
            .await,
        Err(StoreError::Invalid(_))
    ));

    let active = f.meta().active_app_password_hashes(&alice).await.unwrap();
    let hashes: Vec<(i64, &str)> = active.iter().map(|(p, h)| (p.id, h.as_str())).collect();
    assert_eq!(
        hashes,
        vec![(laptop.id, "hash-laptop"), (phone.id, "hash-phone")],
        "newest first"
    );

    f.meta()
        .touch_app_password(phone.id, at(100))
        .await
        .unwrap();
    f.meta().touch_app_password(phone.id, at(50)).await.unwrap();
    assert!(matches!(
        f.meta().touch_app_password(9999, at(100)).await,
        Err(StoreError::NotFound(_))
    ));

    // Another account's id is not found; the right account revokes once.
    assert!(matches!(
        f.meta()
            .revoke_app_password(&bob, phone.id, at(200), "bob@example.com")
            .await,
        Err(StoreError::NotFound(_))
    ));
    let revoked = f
        .meta()
        .revoke_app_password(&alice, phone.id, at(200), "alice@example.com")
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(200)));
    assert_eq!(revoked.last_used_at, Some(at(100)), "never moves backwards");
    assert!(matches!(
        f.meta()
            .revoke_app_password(&alice, phone.id, at(201), "cli")
            .await,
        Err(StoreError::Conflict(_))
    ));

    let all = f.meta().list_app_passwords(&alice).await.unwrap();
    assert_eq!(all.len(), 2, "revoked ones are listed too");
    assert_eq!(all[0].id, laptop.id);
    assert_eq!(all[1], revoked);
    let active = f.meta().active_app_password_hashes(&alice).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].0.id, laptop.id);
    assert!(f.meta().list_app_passwords(&bob).await.unwrap().is_empty());

    let kinds: Vec<EventKind> = f
        .events(
            Some("alice@example.com"),
            &[EventKind::AppPasswordCreated, EventKind::AppPasswordRevoked],
        )
        .await
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::AppPasswordRevoked,
            EventKind::AppPasswordCreated,
            EventKind::AppPasswordCreated
        ]
    );
    let events = f
        .events(Some("alice@example.com"), &[EventKind::AppPasswordCreated])
        .await;
    assert!(events
        .iter()
        .all(|e| !e.detail.values().any(|v| v.contains("hash-"))));
}

#[tokio::test]
async fn sessions_resolve_only_while_live() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let s = f
        .meta()
        .create_session(
            &alice,
            "tok-1",
            at(HOUR),
            Some("198.51.100.4"),
            Some("curl/8"),
            true,
            T0,
        )
        .await
        .unwrap();
    assert!(s.mfa);
    assert_eq!(s.ip.as_deref(), Some("198.51.100.4"));
    let found = f
        .meta()
        .session_by_token_hash("tok-1", at(HOUR - 1))
        .await
        .unwrap();
    assert_eq!(found, Some(s.clone()));
    assert_eq!(
        f.meta()
            .session_by_token_hash("tok-1", at(HOUR))
            .await
            .unwrap(),
        None,
        "expired at expires_at"
    );
    assert_eq!(
        f.meta().session_by_token_hash("nope", T0).await.unwrap(),
        None
    );
    assert!(matches!(
        f.meta()
            .create_session(&alice, "tok-1", at(HOUR), None, None, false, T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        f.meta()
            .create_session(&alice, "tok-x", T0, None, None, false, T0)
            .await,
        Err(StoreError::Invalid(_))
    ));

    let s2 = f
        .meta()
        .create_session(&alice, "tok-2", at(2 * HOUR), None, None, false, at(1))
        .await
        .unwrap();
    let listed: Vec<i64> = f
        .meta()
        .list_sessions(&alice, at(10))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![s2.id, s.id]);
    let listed: Vec<i64> = f
        .meta()
        .list_sessions(&alice, at(HOUR))
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![s2.id], "the expired one is gone");

    let revoked = f
        .meta()
        .revoke_session(s2.id, at(20), "alice@example.com")
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(20)));
    assert_eq!(
        f.meta()
            .session_by_token_hash("tok-2", at(21))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        f.meta().revoke_session(s2.id, at(21), "cli").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        f.meta().revoke_session(12345, at(21), "cli").await,
        Err(StoreError::NotFound(_))
    ));
    let events = f
        .events(Some("alice@example.com"), &[EventKind::SessionRevoked])
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["session"], s2.id.to_string());
}

#[tokio::test]
async fn revoke_all_logs_out_everywhere_in_one_event() {
    let f = fixture().await;
    let (alice, bob) = (addr("alice@example.com"), addr("bob@example.com"));
    for (i, tok) in ["a", "b", "c"].iter().enumerate() {
        f.meta()
            .create_session(
                &alice,
                tok,
                at(HOUR * (i as i64 + 1)),
                None,
                None,
                false,
                T0,
            )
            .await
            .unwrap();
    }
    f.meta()
        .create_session(&bob, "bob-tok", at(HOUR), None, None, false, T0)
        .await
        .unwrap();
    f.meta()
        .create_app_password(&alice, "p", &[Protocol::Smtp], "h", T0, "cli")
        .await
        .unwrap();

    // At HOUR the first session has expired by itself: not counted.
    let (sessions, app_passwords) = f.meta().revoke_all(&alice, at(HOUR), "cli").await.unwrap();
    assert_eq!((sessions, app_passwords), (2, 1));
    assert!(f
        .meta()
        .list_sessions(&alice, at(HOUR))
        .await
        .unwrap()
        .is_empty());
    assert!(f
        .meta()
        .active_app_password_hashes(&alice)
        .await
        .unwrap()
        .is_empty());
    assert!(f
        .meta()
        .session_by_token_hash("bob-tok", at(HOUR - 1))
        .await
        .unwrap()
        .is_some());
    let events = f
        .events(Some("alice@example.com"), &[EventKind::SessionRevoked])
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["sessions"], "2");
    assert_eq!(events[0].detail["app_passwords"], "1");
    assert!(matches!(
        f.meta()
            .revoke_all(&addr("ghost@example.com"), T0, "cli")
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn disabling_an_account_revokes_every_session_and_app_password() {
    let f = fixture().await;
    let (alice, bob) = (addr("alice@example.com"), addr("bob@example.com"));
    for tok in ["s1", "s2"] {
        f.meta()
            .create_session(&alice, tok, at(HOUR), None, None, true, T0)
            .await
            .unwrap();
    }
    f.meta()
        .create_session(&bob, "bob", at(HOUR), None, None, true, T0)
        .await
        .unwrap();
    let old = f
        .meta()
        .create_app_password(&alice, "old", &[Protocol::Imap], "h1", T0, "cli")
        .await
        .unwrap();
    f.meta()
        .revoke_app_password(&alice, old.id, at(1), "cli")
        .await
        .unwrap();
    f.meta()
        .create_app_password(&alice, "new", &[Protocol::Smtp], "h2", T0, "cli")
        .await
        .unwrap();

    let account = f
        .meta()
        .set_disabled(&alice, true, at(60), "cli:admin")
        .await
        .unwrap();
    assert!(account.disabled);
    for tok in ["s1", "s2"] {
        assert_eq!(
            f.meta().session_by_token_hash(tok, at(61)).await.unwrap(),
            None
        );
    }
    assert!(f
        .meta()
        .list_sessions(&alice, at(61))
        .await
        .unwrap()
        .is_empty());
    assert!(f
        .meta()
        .active_app_password_hashes(&alice)
        .await
        .unwrap()
        .is_empty());
    assert!(f
        .meta()
        .list_app_passwords(&alice)
        .await
        .unwrap()
        .iter()
        .all(|p| p.revoked_at.is_some()));
    assert!(
        f.meta()
            .session_by_token_hash("bob", at(61))
            .await
            .unwrap()
            .is_some(),
        "other accounts untouched"
    );
    let events = f
        .events(Some("alice@example.com"), &[EventKind::AccountDisabled])
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["sessions_revoked"], "2");
    assert_eq!(events[0].detail["app_passwords_revoked"], "1");

    // No new credentials while disabled, and enabling brings none back.
    assert!(matches!(
        f.meta()
            .create_session(&alice, "s3", at(HOUR), None, None, true, at(61))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        f.meta()
            .create_app_password(&alice, "x", &[Protocol::Smtp], "h3", at(61), "cli")
            .await,
        Err(StoreError::Conflict(_))
    ));
    f.meta()
        .set_disabled(&alice, false, at(62), "cli:admin")
        .await
        .unwrap();
    assert_eq!(
        f.meta().session_by_token_hash("s1", at(63)).await.unwrap(),
        None
    );
    assert!(f
        .meta()
        .active_app_password_hashes(&alice)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn totp_steps_are_accepted_once_and_only_moving_forward() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let secret = [7u8; 20];
    assert_eq!(f.meta().totp(&alice).await.unwrap(), None);
    assert!(matches!(
        f.meta()
            .confirm_totp(&alice, 1, T0, "alice@example.com")
            .await,
        Err(StoreError::NotFound(_))
    ));

    f.meta()
        .set_totp(&alice, &secret, false, T0, "alice@example.com")
        .await
        .unwrap();
    let state = f.meta().totp(&alice).await.unwrap().unwrap();
    assert_eq!(state.secret, secret.to_vec());
    assert!(!state.confirmed);
    assert!(
        !f.meta().use_totp_step(&alice, 100).await.unwrap(),
        "an unconfirmed enrolment is not a factor"
    );
    assert!(f
        .events(Some("alice@example.com"), &[EventKind::TotpEnrolled])
        .await
        .is_empty());

    assert!(f
        .meta()
        .confirm_totp(&alice, 100, at(30), "alice@example.com")
        .await
        .unwrap());
    assert!(!f
        .meta()
        .confirm_totp(&alice, 101, at(30), "alice@example.com")
        .await
        .unwrap());
    assert_eq!(
        f.events(Some("alice@example.com"), &[EventKind::TotpEnrolled])
            .await
            .len(),
        1
    );

    assert!(
        !f.meta().use_totp_step(&alice, 100).await.unwrap(),
        "confirmation used it"
    );
    assert!(f.meta().use_totp_step(&alice, 101).await.unwrap());
    assert!(
        !f.meta().use_totp_step(&alice, 101).await.unwrap(),
        "replay"
    );
    assert!(
        !f.meta().use_totp_step(&alice, 99).await.unwrap(),
        "older code"
    );
    assert!(f.meta().use_totp_step(&alice, 103).await.unwrap());
    assert!(!f.meta().use_totp_step(&alice, 102).await.unwrap());
    assert_eq!(
        f.meta().totp(&alice).await.unwrap().unwrap().last_step,
        Some(103)
    );
    assert!(!f
        .meta()
        .use_totp_step(&addr("bob@example.com"), 200)
        .await
        .unwrap());

    // Re-enrolling replaces the secret and forgets the steps.
    f.meta()
        .set_totp(&alice, &[9u8; 20], true, at(60), "cli:admin")
        .await
        .unwrap();
    let state = f.meta().totp(&alice).await.unwrap().unwrap();
    assert_eq!((state.confirmed, state.last_step), (true, None));
    assert_eq!(state.created_at, at(60));
    assert!(f.meta().use_totp_step(&alice, 50).await.unwrap());
    assert_eq!(
        f.events(Some("alice@example.com"), &[EventKind::TotpEnrolled])
            .await
            .len(),
        2
    );

    assert!(f
        .meta()
        .remove_totp(&alice, at(90), "cli:admin")
        .await
        .unwrap());
    assert!(!f
        .meta()
        .remove_totp(&alice, at(91), "cli:admin")
        .await
        .unwrap());
    assert_eq!(f.meta().totp(&alice).await.unwrap(), None);
    assert!(!f.meta().use_totp_step(&alice, 51).await.unwrap());
    assert_eq!(
        f.events(Some("alice@example.com"), &[EventKind::TotpRemoved])
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn concurrent_uses_of_one_totp_code_let_exactly_one_through() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    f.meta()
        .set_totp(&alice, b"0123456789abcdefghij", true, T0, "cli")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (store, alice) = (f.store.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            store.meta().use_totp_step(&alice, 5_000).await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn risk_profiles_are_upserted() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    assert_eq!(f.meta().risk_profile(&alice).await.unwrap(), None);
    f.meta()
        .save_risk_profile(&alice, vec![1, 2, 3], T0)
        .await
        .unwrap();
    f.meta()
        .save_risk_profile(&alice, vec![4, 5], at(1))
        .await
        .unwrap();
    assert_eq!(
        f.meta().risk_profile(&alice).await.unwrap(),
        Some(vec![4, 5])
    );
    assert_eq!(
        f.meta()
            .risk_profile(&addr("bob@example.com"))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        f.meta()
            .save_risk_profile(&addr("ghost@example.com"), vec![1], T0)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn source_blocks_expire_and_are_updated_in_place() {
    let f = fixture().await;
    let b = f
        .meta()
        .add_block(
            "203.0.113.77/24",
            "credential stuffing",
            Some(at(HOUR)),
            T0,
            "cli:admin",
        )
        .await
        .unwrap();
    assert_eq!(b.cidr, "203.0.113.0/24");
    assert_eq!(b.expires_at, Some(at(HOUR)));
    f.meta()
        .add_block("2001:DB8::1", "abuse", None, T0, "risk-engine")
        .await
        .unwrap();
    assert!(matches!(
        f.meta().add_block("not-an-ip", "x", None, T0, "cli").await,
        Err(StoreError::Invalid(_))
    ));

    let cidrs = |list: Vec<rampart_model::SourceBlock>| {
        list.into_iter().map(|b| b.cidr).collect::<Vec<_>>()
    };
    assert_eq!(
        cidrs(f.meta().list_blocks(at(HOUR - 1)).await.unwrap()),
        vec!["203.0.113.0/24", "2001:db8::1/128"]
    );
    assert_eq!(
        cidrs(f.meta().list_blocks(at(HOUR)).await.unwrap()),
        vec!["2001:db8::1/128"],
        "expired at expires_at"
    );

    // Re-adding the same network (any spelling) updates it; an expired one starts afresh.
    let again = f
        .meta()
        .add_block(
            "203.0.113.0/24",
            "still at it",
            Some(at(3 * HOUR)),
            at(2 * HOUR),
            "cli:bob",
        )
        .await
        .unwrap();
    assert_eq!(again.id, b.id);
    assert_eq!(again.reason, "still at it");
    assert_eq!(again.created_at, at(2 * HOUR));
    assert_eq!(again.actor, "cli:bob");
    let extended = f
        .meta()
        .add_block(
            "203.0.113.5/24",
            "longer",
            None,
            at(2 * HOUR + 1),
            "cli:bob",
        )
        .await
        .unwrap();
    assert_eq!(
        extended.created_at,
        at(2 * HOUR),
        "a live block keeps its start"
    );
    assert_eq!(extended.expires_at, None);
    assert_eq!(f.meta().list_blocks(at(100 * HOUR)).await.unwrap().len(), 2);

    assert!(f
        .meta()
        .remove_block("2001:db8:0::1/128", at(5), "cli")
        .await
        .unwrap());
    assert!(!f
        .meta()
        .remove_block("2001:db8::1", at(6), "cli")
        .await
        .unwrap());
    let events = f
        .events(
            None,
            &[EventKind::SourceBlocked, EventKind::SourceUnblocked],
        )
        .await;
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::SourceUnblocked,
            EventKind::SourceBlocked,
            EventKind::SourceBlocked,
            EventKind::SourceBlocked,
            EventKind::SourceBlocked
        ]
    );
    assert_eq!(events[0].detail["cidr"], "2001:db8::1/128");
}

#[tokio::test]
async fn challenges_follow_their_state_machine() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    let c = challenge("ch-approval", ChallengeKind::Approval, 300);
    f.meta().create_challenge(&c).await.unwrap();
    assert!(matches!(
        f.meta().create_challenge(&c).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        f.meta().challenge("ch-approval").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(f.meta().challenge("nope").await.unwrap(), None);
    let challenged = f
        .events(Some("alice@example.com"), &[EventKind::LoginChallenged])
        .await;
    assert_eq!(challenged.len(), 1);
    assert_eq!(challenged[0].detail["reasons"], "new_country, new_device");
    assert_eq!(challenged[0].detail["challenge"], "ch-approval");
    assert!(!challenged[0].detail.contains_key("device_id"));

    let t = challenge("ch-totp", ChallengeKind::Totp, 300);
    f.meta()
        .create_challenge(&Challenge {
            created_at: at(1),
            ..t.clone()
        })
        .await
        .unwrap();
    let pending: Vec<String> = f
        .meta()
        .pending_challenges(&alice, at(10))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(pending, vec!["ch-totp", "ch-approval"]);

    // An approval challenge cannot be completed without its approval.
    let err = f
        .meta()
        .decide_challenge("ch-approval", ChallengeStatus::Completed, at(20), "smtp")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::ChallengeNotPending {
                status: ChallengeStatus::Pending,
                ..
            }
        ),
        "{err}"
    );
    let approved = f
        .meta()
        .decide_challenge(
            "ch-approval",
            ChallengeStatus::Approved,
            at(30),
            "alice@example.com",
        )
        .await
        .unwrap();
    assert_eq!(approved.status, ChallengeStatus::Approved);
    assert_eq!(approved.decided_at, Some(at(30)));
    assert_eq!(approved.decided_by.as_deref(), Some("alice@example.com"));
    let err = f
        .meta()
        .decide_challenge("ch-approval", ChallengeStatus::Denied, at(31), "cli:admin")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::ChallengeNotPending {
                status: ChallengeStatus::Approved,
                ..
            }
        ),
        "{err}"
    );
    let completed = f
        .meta()
        .decide_challenge("ch-approval", ChallengeStatus::Completed, at(40), "http")
        .await
        .unwrap();
    assert_eq!(completed.status, ChallengeStatus::Completed);
    assert_eq!(
        completed.decided_by.as_deref(),
        Some("alice@example.com"),
        "who approved stays on record"
    );
    assert!(matches!(
        f.meta()
            .decide_challenge("ch-approval", ChallengeStatus::Completed, at(41), "http")
            .await,
        Err(StoreError::ChallengeNotPending {
            status: ChallengeStatus::Completed,
            ..
        })
    ));

    // A TOTP challenge is completed by the client alone.
    let done = f
        .meta()
        .decide_challenge("ch-totp", ChallengeStatus::Completed, at(50), "http")
        .await
        .unwrap();
    assert_eq!(done.status, ChallengeStatus::Completed);
    assert!(f
        .meta()
        .pending_challenges(&alice, at(51))
        .await
        .unwrap()
        .is_empty());

    let d = challenge("ch-deny", ChallengeKind::Approval, 300);
    f.meta().create_challenge(&d).await.unwrap();
    f.meta()
        .decide_challenge(
            "ch-deny",
            ChallengeStatus::Denied,
            at(60),
            "alice@example.com",
        )
        .await
        .unwrap();
    assert!(matches!(
        f.meta()
            .decide_challenge(
                "ch-deny",
                ChallengeStatus::Approved,
                at(61),
                "alice@example.com"
            )
            .await,
        Err(StoreError::ChallengeNotPending {
            status: ChallengeStatus::Denied,
            ..
        })
    ));
    assert!(matches!(
        f.meta()
            .decide_challenge(
                "ch-x",
                ChallengeStatus::Approved,
                at(61),
                "alice@example.com"
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        f.meta()
            .decide_challenge(
                "ch-deny",
                ChallengeStatus::Pending,
                at(61),
                "alice@example.com"
            )
            .await,
        Err(StoreError::Invalid(_))
    ));

    let kinds: Vec<EventKind> = f
        .events(
            Some("alice@example.com"),
            &[EventKind::ChallengeApproved, EventKind::ChallengeDenied],
        )
        .await
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![EventKind::ChallengeDenied, EventKind::ChallengeApproved]
    );
}

#[tokio::test]
async fn expired_challenges_become_expired_instead_of_being_decided() {
    let f = fixture().await;
    let alice = addr("alice@example.com");
    f.meta()
        .create_challenge(&challenge("late", ChallengeKind::Approval, 300))
        .await
        .unwrap();
    assert_eq!(
        f.meta()
            .pending_challenges(&alice, at(299))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(f
        .meta()
        .pending_challenges(&alice, at(300))
        .await
        .unwrap()
        .is_empty());

    let err = f
        .meta()
        .decide_challenge(
            "late",
            ChallengeStatus::Approved,
            at(300),
            "alice@example.com",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::ChallengeNotPending {
                status: ChallengeStatus::Expired,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expired"), "{err}");
    let stored = f.meta().challenge("late").await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        ChallengeStatus::Expired,
        "the expiry is durable"
    );
    assert_eq!(stored.decided_at, Some(at(300)));
    assert!(f
        .events(Some("alice@example.com"), &[EventKind::ChallengeApproved])
        .await
        .is_empty());

    // An approval not used in time expires too.
    f.meta()
        .create_challenge(&challenge("slow", ChallengeKind::Approval, 300))
        .await
        .unwrap();
    f.meta()
        .decide_challenge(
            "slow",
            ChallengeStatus::Approved,
            at(10),
            "alice@example.com",
        )
        .await
        .unwrap();
    assert!(matches!(
        f.meta()
            .decide_challenge("slow", ChallengeStatus::Completed, at(400), "http")
            .await,
        Err(StoreError::ChallengeNotPending {
            status: ChallengeStatus::Expired,
            ..
        })
    ));

    // Expiring explicitly is a valid move.
    f.meta()
        .create_challenge(&challenge("cancel", ChallengeKind::Totp, 300))
        .await
        .unwrap();
    let c = f
        .meta()
        .decide_challenge("cancel", ChallengeStatus::Expired, at(5), "http")
        .await
        .unwrap();
    assert_eq!(c.status, ChallengeStatus::Expired);

    let bad = Challenge {
        status: ChallengeStatus::Approved,
        ..challenge("bad", ChallengeKind::Totp, 300)
    };
    assert!(matches!(
        f.meta().create_challenge(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    let ghost = Challenge {
        account: addr("ghost@example.com"),
        ..challenge("ghost", ChallengeKind::Totp, 300)
    };
    assert!(matches!(
        f.meta().create_challenge(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn trust_is_extended_never_shortened_and_expires() {
    let f = fixture().await;
    let (alice, bob) = (addr("alice@example.com"), addr("bob@example.com"));
    let ip = Trust {
        account: alice.clone(),
        kind: TrustKind::Ip,
        value: "2001:db8:0:0::7".into(),
        until: at(HOUR),
    };
    f.meta().add_trust(&ip).await.unwrap();
    assert!(f
        .meta()
        .is_trusted(&alice, "2001:db8::7", None, T0)
        .await
        .unwrap());
    assert!(!f
        .meta()
        .is_trusted(&alice, "2001:db8::8", None, T0)
        .await
        .unwrap());
    assert!(!f
        .meta()
        .is_trusted(&bob, "2001:db8::7", None, T0)
        .await
        .unwrap());
    assert!(!f
        .meta()
        .is_trusted(&alice, "2001:db8::7", None, at(HOUR))
        .await
        .unwrap());

    f.meta()
        .add_trust(&Trust {
            until: at(3 * HOUR),
            ..ip.clone()
        })
        .await
        .unwrap();
    f.meta()
        .add_trust(&Trust {
            until: at(10),
            ..ip.clone()
        })
        .await
        .unwrap();
    assert!(f
        .meta()
        .is_trusted(&alice, "2001:db8::7", None, at(2 * HOUR))
        .await
        .unwrap());

    f.meta()
        .add_trust(&Trust {
            account: alice.clone(),
            kind: TrustKind::Device,
            value: "device-hash".into(),
            until: at(HOUR),
        })
        .await
        .unwrap();
    assert!(f
        .meta()
        .is_trusted(&alice, "192.0.2.1", Some("device-hash"), T0)
        .await
        .unwrap());
    assert!(!f
        .meta()
        .is_trusted(&alice, "192.0.2.1", Some("other"), T0)
        .await
        .unwrap());
    assert!(
        !f.meta()
            .is_trusted(&alice, "device-hash", None, T0)
            .await
            .unwrap(),
        "an IP never matches a device entry"
    );
    assert!(matches!(
        f.meta()
            .add_trust(&Trust {
                value: "not an ip".into(),
                ..ip.clone()
            })
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        f.meta()
            .add_trust(&Trust {
                account: addr("ghost@example.com"),
                ..ip
            })
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn policies_are_upserted_listed_and_removed_with_events() {
    let f = fixture().await;
    let meta = f.meta();
    meta.set_policy(
        "user",
        "Alice@Example.com",
        r#"{"mfa":"always"}"#,
        T0,
        "cli",
    )
    .await
    .unwrap();
    meta.set_policy("org", "", r#"{"mfa":"risky"}"#, T0, "cli")
        .await
        .unwrap();
    meta.set_policy("department", "Finance", r#"{"mfa":"always"}"#, T0, "cli")
        .await
        .unwrap();
    let updated = meta
        .set_policy("org", "", r#"{"mfa":"never"}"#, at(5), "cli:bob")
        .await
        .unwrap();
    assert_eq!(updated.updated_by, "cli:bob");

    let list = meta.list_policies().await.unwrap();
    let scopes: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|p| {
            (
                p.scope_kind.as_str(),
                p.scope_value.as_str(),
                p.policy_json.as_str(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        vec![
            ("org", "", r#"{"mfa":"never"}"#),
            ("department", "Finance", r#"{"mfa":"always"}"#),
            ("user", "alice@example.com", r#"{"mfa":"always"}"#),
        ]
    );
    assert_eq!(list[0].updated_at, at(5));

    for (kind, value, json) in [
        ("org", "x", "{}"),
        ("team", "a", "{}"),
        ("level", "", "{}"),
        ("user", "not an address", "{}"),
        ("level", "executive", "{not json"),
    ] {
        assert!(
            matches!(
                meta.set_policy(kind, value, json, T0, "cli").await,
                Err(StoreError::Invalid(_))
            ),
            "{kind} {value} {json}"
        );
    }

    assert!(meta
        .remove_policy("user", "alice@example.com", at(9), "cli")
        .await
        .unwrap());
    assert!(!meta
        .remove_policy("user", "alice@example.com", at(9), "cli")
        .await
        .unwrap());
    assert_eq!(meta.list_policies().await.unwrap().len(), 2);

    let events = f.events(None, &[EventKind::PolicyChanged]).await;
    assert_eq!(events.len(), 5, "four sets and one removal");
    assert_eq!(events[0].detail["action"], "removed");
    assert_eq!(events[0].subject.as_deref(), Some("alice@example.com"));
    assert_eq!(events[1].detail["policy"], r#"{"mfa":"never"}"#);
    assert_eq!(events[1].subject, None);
}

#[tokio::test]
async fn login_history_lists_one_subjects_login_events_since_a_moment() {
    let f = fixture().await;
    let meta = f.meta();
    let record = |kind, secs, subject: &'static str| async move {
        meta.record_event(kind, at(secs), "smtp", Some(subject), Default::default())
            .await
            .unwrap()
    };
    record(EventKind::LoginAllowed, 10, "alice@example.com").await;
    record(EventKind::LoginDenied, 20, "alice@example.com").await;
    record(EventKind::LoginAllowed, 30, "bob@example.com").await;
    record(EventKind::LoginBlocked, 40, "alice@example.com").await;
    record(EventKind::MessageSubmitted, 50, "alice@example.com").await;

    let login_kinds = [
        EventKind::LoginAllowed,
        EventKind::LoginChallenged,
        EventKind::LoginDenied,
        EventKind::LoginBlocked,
    ];
    let list = |since, kind, limit| async move {
        let filter = EventFilter {
            kind,
            kinds: login_kinds.to_vec(),
            subject: Some("alice@example.com".into()),
            since,
            limit,
            ..Default::default()
        };
        meta.list_events(&filter).await
    };
    let kinds = |events: Vec<Event>| {
        events
            .into_iter()
            .map(|e| (e.kind, e.at))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(list(None, None, None).await.unwrap()),
        vec![
            (EventKind::LoginBlocked, at(40)),
            (EventKind::LoginDenied, at(20)),
            (EventKind::LoginAllowed, at(10)),
        ]
    );
    assert_eq!(
        kinds(list(Some(at(20)), None, None).await.unwrap()),
        vec![
            (EventKind::LoginBlocked, at(40)),
            (EventKind::LoginDenied, at(20))
        ]
    );
    assert_eq!(
        kinds(list(None, None, Some(1)).await.unwrap()),
        vec![(EventKind::LoginBlocked, at(40))]
    );
    // `kind` still works, alone or together with `kinds` (both must match).
    assert_eq!(
        kinds(
            list(None, Some(EventKind::LoginAllowed), None)
                .await
                .unwrap()
        ),
        vec![(EventKind::LoginAllowed, at(10))]
    );
    assert!(list(None, Some(EventKind::MessageSubmitted), None)
        .await
        .unwrap()
        .is_empty());
    let only_kind = meta
        .list_events(&EventFilter {
            kind: Some(EventKind::LoginAllowed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only_kind.len(), 2);
}
