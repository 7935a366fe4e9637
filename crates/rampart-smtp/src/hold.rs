//! Outbound messages held by data-leak prevention: release (deliver locally, queue remote),
//! reject, expiry (returned to the sender unsent), and the notices the sender gets.

use bytes::Bytes;
use mail_builder::MessageBuilder;
use rampart_model::{EmailAddress, Flag, Folder, Hold, HoldStatus};
use rampart_store::{Mailstore, NewMessage, Recipient, StoreError};

use crate::message::summarize;

/// A plain-text notice from the server to one of its users (held, returned, blocked).
pub fn notice(hostname: &str, to: &EmailAddress, subject: &str, body: &str) -> Vec<u8> {
    let from = format!("postmaster@{hostname}");
    MessageBuilder::new()
        .from(("Rampart", from.as_str()))
        .to(to.as_str())
        .subject(subject)
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .text_body(body)
        .write_to_vec()
        .unwrap_or_default()
}

/// Files a notice in the account's INBOX.
pub async fn deliver_notice(
    store: &Mailstore,
    hostname: &str,
    to: &EmailAddress,
    subject: &str,
    body: &str,
) -> Result<(), StoreError> {
    let raw = notice(hostname, to, subject, body);
    let summary = summarize(&raw);
    store
        .deliver(
            NewMessage {
                raw: Bytes::from(raw),
                summary,
            },
            std::slice::from_ref(to),
            Folder::Inbox,
            "dlp",
        )
        .await?;
    Ok(())
}

/// Sends a held message on: local recipients get it in their INBOX, remote ones are queued for
/// outbound delivery, the sender gets the `Sent` copy (when `save_sent`). The hold is claimed
/// first (only a message still `held` can be released, so two deciders cannot both send it);
/// if sending then fails, the claim is undone and the message stays held.
pub async fn release(
    store: &Mailstore,
    id: i64,
    save_sent: bool,
    actor: &str,
) -> Result<Hold, StoreError> {
    let (_, raw) = store.held_raw(id).await?;
    let hold = store
        .meta()
        .decide_hold(id, HoldStatus::Released, store.now(), actor)
        .await?;
    if let Err(e) = send_on(store, &hold, raw, save_sent, actor).await {
        tracing::error!(hold = id, error = %e, "releasing a held message failed; it stays held");
        store
            .meta()
            .reopen_hold(id, store.now(), &e.to_string())
            .await?;
        return Err(e);
    }
    Ok(hold)
}

async fn send_on(
    store: &Mailstore,
    hold: &Hold,
    raw: Bytes,
    save_sent: bool,
    actor: &str,
) -> Result<(), StoreError> {
    let id = hold.id;
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for rcpt in &hold.recipients {
        match store.meta().resolve(rcpt).await? {
            Recipient::NotLocal => remote.push(rcpt.clone()),
            Recipient::Accounts(accounts) => {
                for a in accounts {
                    if !local.contains(&a.address) {
                        local.push(a.address);
                    }
                }
            }
            // The recipient went away while the message waited; nothing to deliver to.
            Recipient::Unknown | Recipient::Disabled(_) => {}
        }
    }
    let summary = summarize(&raw);
    // Journaled once, as the sender's outbound message to every recipient (the local copies,
    // the queue and the Sent copy share the blob).
    let journal =
        rampart_model::Journal::outbound(&hold.mail_from, &hold.recipients, hold.account.as_str());
    if !local.is_empty() {
        store
            .deliver_journaled(
                NewMessage {
                    raw: raw.clone(),
                    summary: summary.clone(),
                },
                &local,
                Folder::Inbox,
                &[],
                journal.clone(),
                actor,
            )
            .await?;
    }
    if !remote.is_empty() {
        store
            .enqueue_outbound(
                raw.clone(),
                &hold.mail_from,
                &remote,
                &format!("hold-{id}"),
                hold.account.as_str(),
            )
            .await?;
    }
    if save_sent {
        store
            .deliver_journaled(
                NewMessage { raw, summary },
                std::slice::from_ref(&hold.account),
                Folder::Sent,
                &[Flag::Seen],
                journal,
                actor,
            )
            .await?;
    }
    Ok(())
}

/// Refuses a held message for good; the sender is told.
pub async fn reject(
    store: &Mailstore,
    hostname: &str,
    id: i64,
    actor: &str,
) -> Result<Hold, StoreError> {
    let hold = store
        .meta()
        .decide_hold(id, HoldStatus::Rejected, store.now(), actor)
        .await?;
    let body = format!(
        "Your message \"{}\" was not sent: it was held by the data-leak policy \"{}\" and {} refused it.\n",
        hold.subject,
        hold.rule,
        if actor == hold.account.as_str() { "you" } else { "an administrator" }
    );
    if let Err(e) = deliver_notice(
        store,
        hostname,
        &hold.account,
        &format!("Not sent: {}", hold.subject),
        &body,
    )
    .await
    {
        tracing::warn!(hold = id, error = %e, "cannot file the rejection notice");
    }
    Ok(hold)
}

/// Returns held messages whose time ran out to their senders (unsent, into the INBOX with an
/// explanation). Returns how many.
pub async fn expire_due(store: &Mailstore, hostname: &str) -> Result<usize, StoreError> {
    let due = store.meta().due_holds(store.now()).await?;
    let mut done = 0;
    for hold in due {
        let raw = match store.held_raw(hold.id).await {
            Ok((_, raw)) => raw,
            Err(e) => {
                tracing::error!(hold = hold.id, error = %e, "cannot read an expired hold");
                continue;
            }
        };
        match store
            .meta()
            .decide_hold(hold.id, HoldStatus::Expired, store.now(), "hold-expiry")
            .await
        {
            Ok(_) => {}
            // Released or rejected a moment ago: nothing to return.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        let mut returned =
            b"X-Rampart-Hold: returned unsent, verification not completed in time\r\n".to_vec();
        returned.extend_from_slice(&raw);
        let summary = summarize(&returned);
        store
            .deliver(
                NewMessage {
                    raw: Bytes::from(returned),
                    summary,
                },
                std::slice::from_ref(&hold.account),
                Folder::Inbox,
                "hold-expiry",
            )
            .await?;
        let body = format!(
            "Your message \"{}\" was held by the data-leak policy \"{}\" and nobody verified it in time, so it was not sent. It is back in your inbox; send it again and verify if you still mean to.\n",
            hold.subject, hold.rule
        );
        if let Err(e) = deliver_notice(
            store,
            hostname,
            &hold.account,
            &format!("Returned unsent: {}", hold.subject),
            &body,
        )
        .await
        {
            tracing::warn!(hold = hold.id, error = %e, "cannot file the expiry notice");
        }
        done += 1;
    }
    Ok(done)
}
