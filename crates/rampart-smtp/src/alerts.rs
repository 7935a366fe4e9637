//! Alerts from `[alerts]`, with mail to the administrator delivered through the store: into the
//! admin's mailbox when the address is local, otherwise through the outbound queue. What an alert
//! reports is always recorded as an event first (`sending_spike`, `account_contained`,
//! `dlp_alert`), so the audit trail has it even with no sink configured.

use std::sync::Arc;

use bytes::Bytes;
use rampart_alert::{AlertError, Alerter, BoxFuture, MailTransport};
use rampart_model::{EmailAddress, Folder, Timestamp};
use rampart_store::{ContainSummary, Mailstore, NewMessage, Recipient};

use crate::message::summarize;

/// Delivers alert mail through the store.
struct StoreMail {
    store: Mailstore,
}

impl MailTransport for StoreMail {
    fn send<'a>(&'a self, to: &'a str, raw: Vec<u8>) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let addr: EmailAddress = to
                .parse()
                .map_err(|e| AlertError::Mail(format!("admin address {to:?}: {e}")))?;
            let fail = |e: rampart_store::StoreError| AlertError::Mail(e.to_string());
            match self.store.meta().resolve(&addr).await.map_err(fail)? {
                Recipient::Accounts(accounts) => {
                    let local: Vec<_> = accounts.into_iter().map(|a| a.address).collect();
                    let summary = summarize(&raw);
                    self.store
                        .deliver(
                            NewMessage {
                                raw: Bytes::from(raw),
                                summary,
                            },
                            &local,
                            Folder::Inbox,
                            "alerts",
                        )
                        .await
                        .map_err(fail)?;
                }
                Recipient::NotLocal => {
                    let id = format!("alert-{}", self.store.now().0);
                    let postmaster = format!("postmaster@{}", addr.domain());
                    self.store
                        .enqueue_outbound(
                            Bytes::from(raw),
                            "",
                            std::slice::from_ref(&addr),
                            &id,
                            &postmaster,
                        )
                        .await
                        .map_err(fail)?;
                }
                _ => {
                    return Err(AlertError::Mail(format!(
                        "admin address {to} is neither a working local mailbox nor remote"
                    )))
                }
            }
            Ok(())
        })
    }
}

/// The alerter `[alerts]` describes.
pub fn alerter(config: &rampart_model::Config, store: &Mailstore) -> Result<Alerter, AlertError> {
    let mail: Option<Arc<dyn MailTransport>> = config.alerts.admin_address.as_ref().map(|_| {
        Arc::new(StoreMail {
            store: store.clone(),
        }) as Arc<dyn MailTransport>
    });
    Alerter::from_config(&config.alerts, &config.hostname, mail)
}

/// Alerts that an account was contained.
pub fn contained(
    alerter: &Alerter,
    address: &EmailAddress,
    reason: &str,
    summary: &ContainSummary,
    actor: &str,
    at: Timestamp,
) {
    alerter.raise(
        rampart_alert::Alert::new(
            "account_contained",
            rampart_alert::Severity::Critical,
            format!("{address} contained by {actor}: {reason}"),
            at.0 * 1000,
        )
        .account(address.as_str())
        .details(serde_json::json!({
            "reason": reason,
            "actor": actor,
            "summary": summary,
        })),
    );
}
