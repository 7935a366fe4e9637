use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What happened. Every admin action and every security decision becomes an [`Event`]; the audit
/// chain of a later issue hashes these in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    DomainAdded,
    DomainRemoved,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    AliasAdded,
    AliasRemoved,
    MessageDelivered,
    MessageDeleted,
    MessageRestored,
    MessagePurged,
    MessageQuarantined,
    MessageRejected,
    QuarantineReleased,
    QuarantineDeleted,
    SpamReported,
    PasswordChanged,
    AppPasswordCreated,
    AppPasswordRevoked,
    TotpEnrolled,
    TotpRemoved,
    SessionRevoked,
    LoginAllowed,
    LoginChallenged,
    LoginDenied,
    LoginBlocked,
    ChallengeApproved,
    ChallengeDenied,
    SourceBlocked,
    SourceUnblocked,
    PolicyChanged,
    MessageSubmitted,
    DlpHeld,
    DlpReleased,
    DlpRejected,
    DlpExpired,
    DlpBlocked,
    DlpAlert,
    DlpNotified,
    OutboundDelivered,
    OutboundBounced,
    OutboundDelayed,
    OutboundRetried,
    OutboundDeleted,
    SendingDeferred,
    SendingRejected,
    SendingSpike,
    SendingHeld,
    SendingReleased,
    BurstRecipients,
    AccountContained,
    AccountReleased,
    MailboxCreated,
    MailboxRenamed,
    MailboxDeleted,
    MessageCopied,
    MessageMoved,
    AuditExported,
    ArchiveSearched,
    ArchiveExported,
    ArchiveViewed,
    ArchivePurged,
    LegalHoldPlaced,
    LegalHoldReleased,
    RoleChanged,
}

impl EventKind {
    pub const ALL: [EventKind; 65] = [
        EventKind::DomainAdded,
        EventKind::DomainRemoved,
        EventKind::AccountCreated,
        EventKind::AccountDisabled,
        EventKind::AccountEnabled,
        EventKind::AliasAdded,
        EventKind::AliasRemoved,
        EventKind::MessageDelivered,
        EventKind::MessageDeleted,
        EventKind::MessageRestored,
        EventKind::MessagePurged,
        EventKind::MessageQuarantined,
        EventKind::MessageRejected,
        EventKind::QuarantineReleased,
        EventKind::QuarantineDeleted,
        EventKind::SpamReported,
        EventKind::PasswordChanged,
        EventKind::AppPasswordCreated,
        EventKind::AppPasswordRevoked,
        EventKind::TotpEnrolled,
        EventKind::TotpRemoved,
        EventKind::SessionRevoked,
        EventKind::LoginAllowed,
        EventKind::LoginChallenged,
        EventKind::LoginDenied,
        EventKind::LoginBlocked,
        EventKind::ChallengeApproved,
        EventKind::ChallengeDenied,
        EventKind::SourceBlocked,
        EventKind::SourceUnblocked,
        EventKind::PolicyChanged,
        EventKind::MessageSubmitted,
        EventKind::DlpHeld,
        EventKind::DlpReleased,
        EventKind::DlpRejected,
        EventKind::DlpExpired,
        EventKind::DlpBlocked,
        EventKind::DlpAlert,
        EventKind::DlpNotified,
        EventKind::OutboundDelivered,
        EventKind::OutboundBounced,
        EventKind::OutboundDelayed,
        EventKind::OutboundRetried,
        EventKind::OutboundDeleted,
        EventKind::SendingDeferred,
        EventKind::SendingRejected,
        EventKind::SendingSpike,
        EventKind::SendingHeld,
        EventKind::SendingReleased,
        EventKind::BurstRecipients,
        EventKind::AccountContained,
        EventKind::AccountReleased,
        EventKind::MailboxCreated,
        EventKind::MailboxRenamed,
        EventKind::MailboxDeleted,
        EventKind::MessageCopied,
        EventKind::MessageMoved,
        EventKind::AuditExported,
        EventKind::ArchiveSearched,
        EventKind::ArchiveExported,
        EventKind::ArchiveViewed,
        EventKind::ArchivePurged,
        EventKind::LegalHoldPlaced,
        EventKind::LegalHoldReleased,
        EventKind::RoleChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DomainAdded => "domain_added",
            EventKind::DomainRemoved => "domain_removed",
            EventKind::AccountCreated => "account_created",
            EventKind::AccountDisabled => "account_disabled",
            EventKind::AccountEnabled => "account_enabled",
            EventKind::AliasAdded => "alias_added",
            EventKind::AliasRemoved => "alias_removed",
            EventKind::MessageDelivered => "message_delivered",
            EventKind::MessageDeleted => "message_deleted",
            EventKind::MessageRestored => "message_restored",
            EventKind::MessagePurged => "message_purged",
            EventKind::MessageQuarantined => "message_quarantined",
            EventKind::MessageRejected => "message_rejected",
            EventKind::QuarantineReleased => "quarantine_released",
            EventKind::QuarantineDeleted => "quarantine_deleted",
            EventKind::SpamReported => "spam_reported",
            EventKind::PasswordChanged => "password_changed",
            EventKind::AppPasswordCreated => "app_password_created",
            EventKind::AppPasswordRevoked => "app_password_revoked",
            EventKind::TotpEnrolled => "totp_enrolled",
            EventKind::TotpRemoved => "totp_removed",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::LoginAllowed => "login_allowed",
            EventKind::LoginChallenged => "login_challenged",
            EventKind::LoginDenied => "login_denied",
            EventKind::LoginBlocked => "login_blocked",
            EventKind::ChallengeApproved => "challenge_approved",
            EventKind::ChallengeDenied => "challenge_denied",
            EventKind::SourceBlocked => "source_blocked",
            EventKind::SourceUnblocked => "source_unblocked",
            EventKind::PolicyChanged => "policy_changed",
            EventKind::MessageSubmitted => "message_submitted",
            EventKind::DlpHeld => "dlp_held",
            EventKind::DlpReleased => "dlp_released",
            EventKind::DlpRejected => "dlp_rejected",
            EventKind::DlpExpired => "dlp_expired",
            EventKind::DlpBlocked => "dlp_blocked",
            EventKind::DlpAlert => "dlp_alert",
            EventKind::DlpNotified => "dlp_notified",
            EventKind::OutboundDelivered => "outbound_delivered",
            EventKind::OutboundBounced => "outbound_bounced",
            EventKind::OutboundDelayed => "outbound_delayed",
            EventKind::OutboundRetried => "outbound_retried",
            EventKind::OutboundDeleted => "outbound_deleted",
            EventKind::SendingDeferred => "sending_deferred",
            EventKind::SendingRejected => "sending_rejected",
            EventKind::SendingSpike => "sending_spike",
            EventKind::SendingHeld => "sending_held",
            EventKind::SendingReleased => "sending_released",
            EventKind::BurstRecipients => "burst_recipients",
            EventKind::AccountContained => "account_contained",
            EventKind::AccountReleased => "account_released",
            EventKind::MailboxCreated => "mailbox_created",
            EventKind::MailboxRenamed => "mailbox_renamed",
            EventKind::MailboxDeleted => "mailbox_deleted",
            EventKind::MessageCopied => "message_copied",
            EventKind::MessageMoved => "message_moved",
            EventKind::AuditExported => "audit_exported",
            EventKind::ArchiveSearched => "archive_searched",
            EventKind::ArchiveExported => "archive_exported",
            EventKind::ArchiveViewed => "archive_viewed",
            EventKind::ArchivePurged => "archive_purged",
            EventKind::LegalHoldPlaced => "legal_hold_placed",
            EventKind::LegalHoldReleased => "legal_hold_released",
            EventKind::RoleChanged => "role_changed",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: Timestamp,
    pub kind: EventKind,
    /// Who did it: `cli`, `smtp`, `purge-job`, or an account address.
    pub actor: String,
    /// The account it concerns, if any.
    pub subject: Option<String>,
    pub detail: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("nonsense"), None);
    }
}
