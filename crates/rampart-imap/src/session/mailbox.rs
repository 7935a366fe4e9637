//! Mailbox commands: LIST / LSUB (with LIST-EXTENDED, SPECIAL-USE, CHILDREN and LIST-STATUS),
//! STATUS, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, SELECT / EXAMINE, CLOSE and
//! UNSELECT.
//!
//! Names: the store keeps canonical UTF-8 names with `/` between levels
//! ([`rampart_model::normalize_mailbox_name`]); on the wire they are modified UTF-7
//! ([`crate::render::encode_mailbox_name`]). `INBOX` is case-insensitive.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use imap_codec::imap_types::core::QuotedChar;
use imap_codec::imap_types::core::{Atom, Tag};
use imap_codec::imap_types::flag::{Flag as ImapFlag, FlagNameAttribute, FlagPerm};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::response::{Code, Data};
use imap_codec::imap_types::status::{StatusDataItem, StatusDataItemName};
use rampart_model::{canonical_mailbox_name, normalize_mailbox_name, Flag, Folder, MailboxInfo};
use rampart_store::StoreError;

use super::extension::Modifiers;
use super::view::{Selected, View};
use super::{respond, Flow, Session};
use crate::render::{decode_mailbox_name, encode_mailbox_name};
use respond::RespCode;

/// Longest LIST pattern we match (names are at most 255 bytes).
const MAX_PATTERN: usize = 1024;

/// A mailbox name from the wire as the store spells it, or why not.
pub(crate) fn store_name(mailbox: &Mailbox<'_>) -> Result<String, &'static str> {
    let raw = match mailbox {
        Mailbox::Inbox => return Ok("INBOX".to_string()),
        Mailbox::Other(other) => other.as_ref(),
    };
    let wire = std::str::from_utf8(raw).map_err(|_| "Mailbox name is not valid")?;
    let name = decode_mailbox_name(wire).map_err(|_| "Mailbox name is not valid modified UTF-7")?;
    normalize_mailbox_name(&name).map_err(|_| "Mailbox name is not valid")
}

/// A store name as a wire mailbox.
pub(crate) fn wire_mailbox(name: &str) -> Option<Mailbox<'static>> {
    Mailbox::try_from(encode_mailbox_name(name)).ok()
}

/// The RFC 6154 attribute of a standard folder.
fn special_use_attribute(folder: Folder) -> Option<&'static str> {
    match folder {
        Folder::Inbox => None,
        Folder::Sent => Some("Sent"),
        Folder::Drafts => Some("Drafts"),
        Folder::Junk => Some("Junk"),
        Folder::Trash => Some("Trash"),
        Folder::Archive => Some("Archive"),
    }
}

fn attribute(name: &'static str) -> Option<FlagNameAttribute<'static>> {
    Atom::try_from(name).ok().map(FlagNameAttribute::from)
}

/// `*` matches anything, `%` anything but the hierarchy separator (RFC 3501 §6.3.8).
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    // Iterative matching with backtracking to the last wildcard; `%` cannot cross `/`.
    fn go(p: &[u8], n: &[u8]) -> bool {
        let (mut pi, mut ni) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        let mut percent: Option<(usize, usize)> = None;
        while ni < n.len() {
            if pi < p.len() && p[pi] == b'*' {
                star = Some((pi, ni));
                percent = None;
                pi += 1;
            } else if pi < p.len() && p[pi] == b'%' {
                percent = Some((pi, ni));
                pi += 1;
            } else if pi < p.len() && p[pi] == n[ni] {
                pi += 1;
                ni += 1;
            } else if let Some((ppi, pni)) = percent.filter(|&(_, pni)| n[pni] != b'/') {
                pi = ppi + 1;
                ni = pni + 1;
                percent = Some((ppi, pni + 1));
            } else if let Some((spi, sni)) = star {
                pi = spi + 1;
                ni = sni + 1;
                star = Some((spi, sni + 1));
                percent = None;
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == b'*' || c == b'%')
    }
    go(pattern, name)
}

/// One LIST entry: a mailbox, or a level that only exists because something is below it.
struct Entry<'a> {
    info: Option<&'a MailboxInfo>,
    children: bool,
    subscribed_child: bool,
}

impl Session {
    fn account(&self) -> Option<rampart_model::EmailAddress> {
        self.user.as_ref().map(|u| u.account.clone())
    }

    pub(super) async fn list(
        &mut self,
        tag: &Tag<'_>,
        reference: Mailbox<'_>,
        pattern: ListMailbox<'_>,
        lsub: bool,
        m: Modifiers,
    ) -> std::io::Result<Flow> {
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let options = m.list.unwrap_or_default();
        let reference = match &reference {
            Mailbox::Inbox => b"INBOX".to_vec(),
            Mailbox::Other(o) => o.as_ref().to_vec(),
        };
        let pattern = match &pattern {
            ListMailbox::Token(t) => t.as_ref().to_vec(),
            ListMailbox::String(s) => s.as_ref().to_vec(),
        };
        let command = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() {
            // The hierarchy delimiter and root (RFC 3501 §6.3.8).
            if let (Ok(delimiter), Ok(mailbox)) = (QuotedChar::try_from('/'), Mailbox::try_from(""))
            {
                let items: Vec<FlagNameAttribute<'static>> = vec![FlagNameAttribute::Noselect];
                respond::data(
                    &mut self.out,
                    if lsub {
                        Data::Lsub {
                            items,
                            delimiter: Some(delimiter),
                            mailbox,
                        }
                    } else {
                        Data::List {
                            items,
                            delimiter: Some(delimiter),
                            mailbox,
                        }
                    },
                );
            }
            return Ok(self.ok(tag, None, &format!("{command} completed")));
        }
        let full = [reference, pattern].concat();
        if full.len() > MAX_PATTERN {
            return Ok(self.bad(tag, "Pattern too long"));
        }
        let Ok(full) = std::str::from_utf8(&full) else {
            return Ok(self.bad(tag, "Pattern is not valid"));
        };
        let Ok(full) = decode_mailbox_name(full) else {
            return Ok(self.bad(tag, "Pattern is not valid modified UTF-7"));
        };
        let full = canonical_mailbox_name(&full);
        let mailboxes = match self.ctx.store.meta().list_mailboxes(&account).await {
            Ok(m) => m,
            Err(e) => return Ok(self.store_failed(tag, "list mailboxes", &e)),
        };
        // Every mailbox and every level above one.
        let mut entries: BTreeMap<String, Entry<'_>> = BTreeMap::new();
        for info in &mailboxes {
            entries
                .entry(info.name.clone())
                .or_insert(Entry {
                    info: None,
                    children: false,
                    subscribed_child: false,
                })
                .info = Some(info);
            let mut name = info.name.as_str();
            while let Some(i) = name.rfind('/') {
                name = &name[..i];
                let parent = entries.entry(name.to_string()).or_insert(Entry {
                    info: None,
                    children: false,
                    subscribed_child: false,
                });
                parent.children = true;
                parent.subscribed_child |= info.subscribed;
            }
        }
        let subscribed_only = lsub || options.select_subscribed;
        let mut listed: Vec<(String, Option<&MailboxInfo>)> = Vec::new();
        for (name, entry) in &entries {
            if !matches(full.as_bytes(), name.as_bytes()) {
                continue;
            }
            let subscribed = entry.info.is_some_and(|i| i.subscribed);
            if subscribed_only && !subscribed && !(lsub && entry.subscribed_child) {
                continue;
            }
            if options.select_special_use
                && entry
                    .info
                    .and_then(|i| i.special_use)
                    .and_then(special_use_attribute)
                    .is_none()
            {
                continue;
            }
            let mut items: Vec<FlagNameAttribute<'static>> = Vec::new();
            match entry.info {
                None => {
                    items.push(FlagNameAttribute::Noselect);
                    if options.select_subscribed {
                        items.extend(attribute("NonExistent"));
                    }
                }
                Some(info) => {
                    if let Some(a) = info.special_use.and_then(special_use_attribute) {
                        items.extend(attribute(a));
                    }
                    if subscribed && (options.return_subscribed || options.select_subscribed) {
                        items.extend(attribute("Subscribed"));
                    }
                }
            }
            if !lsub {
                items.extend(attribute(if entry.children {
                    "HasChildren"
                } else {
                    "HasNoChildren"
                }));
            }
            let Some(mailbox) = wire_mailbox(name) else {
                continue;
            };
            let delimiter = QuotedChar::try_from('/').ok();
            respond::data(
                &mut self.out,
                if lsub {
                    Data::Lsub {
                        items,
                        delimiter,
                        mailbox,
                    }
                } else {
                    Data::List {
                        items,
                        delimiter,
                        mailbox,
                    }
                },
            );
            listed.push((name.clone(), entry.info));
            self.flush_if_full().await?;
        }
        if let Some(items) = options.return_status.as_deref() {
            let Some(items) = status_items(items) else {
                return Ok(self.bad(tag, "Invalid STATUS items"));
            };
            for (_, info) in &listed {
                if let Some(info) = info {
                    self.status_response(info, &items.0, &items.1).await?;
                }
            }
        }
        drop(entries);
        Ok(self.ok(tag, None, &format!("{command} completed")))
    }

    pub(super) async fn status(
        &mut self,
        tag: &Tag<'_>,
        mailbox: Mailbox<'_>,
        items: &[StatusDataItemName],
        m: Modifiers,
    ) -> std::io::Result<Flow> {
        let name = match store_name(&mailbox) {
            Ok(n) => n,
            Err(why) => return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), why)),
        };
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let info = match self.ctx.store.meta().mailbox(&account, &name).await {
            Ok(Some(info)) => info,
            Ok(None) => {
                return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), "No such mailbox"))
            }
            Err(e) => return Ok(self.store_failed(tag, "status", &e)),
        };
        let mut items = items.to_vec();
        if m.status_placeholder {
            items.retain(|i| *i != StatusDataItemName::Messages);
        }
        let ext = StatusExt {
            size: m.status_size,
        };
        if items.contains(&StatusDataItemName::HighestModSeq) {
            self.condstore = true;
        }
        self.status_response(&info, &items, &ext).await?;
        Ok(self.ok(tag, None, "STATUS completed"))
    }

    /// `* STATUS name (...)` for one mailbox.
    async fn status_response(
        &mut self,
        info: &MailboxInfo,
        items: &[StatusDataItemName],
        ext: &StatusExt,
    ) -> std::io::Result<()> {
        let needs_messages = ext.size
            || items.iter().any(|i| {
                matches!(
                    i,
                    StatusDataItemName::Deleted | StatusDataItemName::DeletedStorage
                )
            });
        let messages = if needs_messages {
            match self.ctx.store.meta().imap_messages(info.id).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "STATUS cannot list messages");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let deleted = || messages.iter().filter(|m| m.flags.contains(&Flag::Deleted));
        let mut values = Vec::new();
        let mut extra = Vec::new();
        for item in items {
            match item {
                StatusDataItemName::Messages => values.push(StatusDataItem::Messages(info.exists)),
                StatusDataItemName::Recent => values.push(StatusDataItem::Recent(0)),
                StatusDataItemName::UidNext => {
                    if let Some(n) = NonZeroU32::new(info.uidnext.max(1)) {
                        values.push(StatusDataItem::UidNext(n));
                    }
                }
                StatusDataItemName::UidValidity => {
                    if let Some(n) = NonZeroU32::new(info.uidvalidity.max(1)) {
                        values.push(StatusDataItem::UidValidity(n));
                    }
                }
                StatusDataItemName::Unseen => values.push(StatusDataItem::Unseen(info.unseen)),
                StatusDataItemName::Deleted => {
                    values.push(StatusDataItem::Deleted(deleted().count() as u32))
                }
                StatusDataItemName::DeletedStorage => values.push(StatusDataItem::DeletedStorage(
                    deleted().map(|m| m.size).sum(),
                )),
                StatusDataItemName::HighestModSeq => {
                    extra.push(format!("HIGHESTMODSEQ {}", info.highest_modseq))
                }
            }
        }
        if ext.size {
            extra.push(format!(
                "SIZE {}",
                messages.iter().map(|m| m.size).sum::<u64>()
            ));
        }
        let Some(mailbox) = wire_mailbox(&info.name) else {
            return Ok(());
        };
        let mut line = Vec::new();
        respond::data(
            &mut line,
            Data::Status {
                mailbox,
                items: values.into(),
            },
        );
        respond::splice_list_tail(&mut line, &extra.join(" "));
        self.out.extend_from_slice(&line);
        Ok(())
    }

    pub(super) async fn create(
        &mut self,
        tag: &Tag<'_>,
        mailbox: Mailbox<'_>,
    ) -> std::io::Result<Flow> {
        // RFC 3501 §6.3.3: a trailing separator only says more levels will follow.
        let mailbox = match mailbox {
            Mailbox::Other(o) if o.as_ref().ends_with(b"/") && o.as_ref().len() > 1 => {
                let trimmed = &o.as_ref()[..o.as_ref().len() - 1];
                Mailbox::try_from(trimmed.to_vec()).unwrap_or(Mailbox::Other(o))
            }
            m => m,
        };
        let name = match store_name(&mailbox) {
            Ok(n) => n,
            Err(why) => return Ok(self.no(tag, Some(RespCode::ext("CANNOT")), why)),
        };
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let now = self.ctx.store.now();
        match self
            .ctx
            .store
            .meta()
            .create_mailbox(&account, &name, now)
            .await
        {
            Ok(_) => Ok(self.ok(tag, None, "CREATE completed")),
            Err(StoreError::Conflict(_)) => Ok(self.no(
                tag,
                Some(RespCode::ext("ALREADYEXISTS")),
                "Mailbox already exists",
            )),
            Err(StoreError::Invalid(why)) => Ok(self.no(tag, Some(RespCode::ext("CANNOT")), &why)),
            Err(e) => Ok(self.store_failed(tag, "create mailbox", &e)),
        }
    }

    pub(super) async fn delete(
        &mut self,
        tag: &Tag<'_>,
        mailbox: Mailbox<'_>,
    ) -> std::io::Result<Flow> {
        let name = match store_name(&mailbox) {
            Ok(n) => n,
            Err(why) => return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), why)),
        };
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let now = self.ctx.store.now();
        let actor = format!("imap:{account}");
        match self
            .ctx
            .store
            .meta()
            .delete_mailbox(&account, &name, now, &actor)
            .await
        {
            Ok(n) => {
                if self.selected.as_ref().is_some_and(|s| s.info.name == name) {
                    self.refresh(true).await?;
                }
                let text = if n > 0 {
                    format!("DELETE completed; {n} messages can be recovered for a while")
                } else {
                    "DELETE completed".to_string()
                };
                Ok(self.ok(tag, None, &text))
            }
            Err(StoreError::NotFound(_)) => {
                Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), "No such mailbox"))
            }
            Err(StoreError::Invalid(why)) => Ok(self.no(tag, Some(RespCode::ext("CANNOT")), &why)),
            Err(StoreError::Conflict(why)) => Ok(self.no(tag, Some(RespCode::ext("INUSE")), &why)),
            Err(e) => Ok(self.store_failed(tag, "delete mailbox", &e)),
        }
    }

    pub(super) async fn rename(
        &mut self,
        tag: &Tag<'_>,
        from: Mailbox<'_>,
        to: Mailbox<'_>,
    ) -> std::io::Result<Flow> {
        let (from, to) = match (store_name(&from), store_name(&to)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(why), _) => return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), why)),
            (_, Err(why)) => return Ok(self.no(tag, Some(RespCode::ext("CANNOT")), why)),
        };
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let now = self.ctx.store.now();
        match self
            .ctx
            .store
            .meta()
            .rename_mailbox(&account, &from, &to, now)
            .await
        {
            Ok(()) => Ok(self.ok(tag, None, "RENAME completed")),
            Err(StoreError::NotFound(_)) => {
                Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), "No such mailbox"))
            }
            Err(StoreError::Conflict(_)) => Ok(self.no(
                tag,
                Some(RespCode::ext("ALREADYEXISTS")),
                "Target mailbox already exists",
            )),
            Err(StoreError::Invalid(why)) => Ok(self.no(tag, Some(RespCode::ext("CANNOT")), &why)),
            Err(e) => Ok(self.store_failed(tag, "rename mailbox", &e)),
        }
    }

    pub(super) async fn subscribe(
        &mut self,
        tag: &Tag<'_>,
        mailbox: Mailbox<'_>,
        subscribed: bool,
    ) -> std::io::Result<Flow> {
        let command = if subscribed {
            "SUBSCRIBE"
        } else {
            "UNSUBSCRIBE"
        };
        let name = match store_name(&mailbox) {
            Ok(n) => n,
            Err(why) => return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), why)),
        };
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        match self
            .ctx
            .store
            .meta()
            .subscribe_mailbox(&account, &name, subscribed)
            .await
        {
            Ok(()) => Ok(self.ok(tag, None, &format!("{command} completed"))),
            Err(StoreError::NotFound(_)) => {
                Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), "No such mailbox"))
            }
            Err(e) => Ok(self.store_failed(tag, "subscribe", &e)),
        }
    }

    pub(super) async fn select(
        &mut self,
        tag: &Tag<'_>,
        mailbox: Mailbox<'_>,
        read_only: bool,
        m: Modifiers,
    ) -> std::io::Result<Flow> {
        let command = if read_only { "EXAMINE" } else { "SELECT" };
        // RFC 9051 §6.3.2: selecting (even failing to) closes the current mailbox, without an
        // expunge; `[CLOSED]` marks where its responses end.
        if self.selected.take().is_some() {
            respond::status(
                &mut self.out,
                None,
                respond::Kind::Ok,
                Some(RespCode::ext("CLOSED")),
                "Previous mailbox closed",
            );
        }
        if m.condstore {
            self.condstore = true;
        }
        let name = match store_name(&mailbox) {
            Ok(n) => n,
            Err(why) => return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), why)),
        };
        let Some(account) = self.account() else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let meta = self.ctx.store.meta();
        let info = match meta.mailbox(&account, &name).await {
            Ok(Some(info)) => info,
            Ok(None) => {
                return Ok(self.no(tag, Some(RespCode::ext("NONEXISTENT")), "No such mailbox"))
            }
            Err(e) => return Ok(self.store_failed(tag, "select", &e)),
        };
        let messages = match meta.imap_messages(info.id).await {
            Ok(m) => m,
            Err(e) => return Ok(self.store_failed(tag, "select", &e)),
        };
        let view = View::new(&messages, info.highest_modseq, info.uidnext);
        drop(messages);
        let mut flags: Vec<ImapFlag<'static>> = vec![
            ImapFlag::Answered,
            ImapFlag::Flagged,
            ImapFlag::Deleted,
            ImapFlag::Seen,
            ImapFlag::Draft,
        ];
        for k in view.keywords_in_use() {
            if let Ok(atom) = Atom::try_from(k.to_string()) {
                flags.push(ImapFlag::Keyword(atom));
            }
        }
        respond::data(&mut self.out, Data::Flags(flags.clone()));
        let permanent: Vec<FlagPerm<'static>> = if read_only {
            Vec::new()
        } else {
            flags
                .into_iter()
                .map(FlagPerm::Flag)
                .chain([FlagPerm::Asterisk])
                .collect()
        };
        respond::status(
            &mut self.out,
            None,
            respond::Kind::Ok,
            Some(RespCode::Std(Code::PermanentFlags(permanent))),
            "Flags permitted",
        );
        respond::data(&mut self.out, Data::Exists(view.len() as u32));
        if !self.rev2 {
            respond::data(&mut self.out, Data::Recent(0));
            if let Some(first) = (0..view.len()).find(|&i| !view.has(i, Flag::Seen)) {
                if let Ok(code) = Code::unseen(first as u32 + 1) {
                    respond::status(
                        &mut self.out,
                        None,
                        respond::Kind::Ok,
                        Some(RespCode::Std(code)),
                        "First unseen",
                    );
                }
            }
        }
        if let Ok(code) = Code::uidvalidity(info.uidvalidity.max(1)) {
            respond::status(
                &mut self.out,
                None,
                respond::Kind::Ok,
                Some(RespCode::Std(code)),
                "UIDs valid",
            );
        }
        if let Ok(code) = Code::uidnext(info.uidnext.max(1)) {
            respond::status(
                &mut self.out,
                None,
                respond::Kind::Ok,
                Some(RespCode::Std(code)),
                "Predicted next UID",
            );
        }
        if self.condstore {
            respond::status(
                &mut self.out,
                None,
                respond::Kind::Ok,
                Some(RespCode::ext(format!(
                    "HIGHESTMODSEQ {}",
                    info.highest_modseq
                ))),
                "Highest",
            );
        }
        if self.rev2 {
            if let (Some(mailbox), Ok(delimiter)) =
                (wire_mailbox(&info.name), QuotedChar::try_from('/'))
            {
                respond::data(
                    &mut self.out,
                    Data::List {
                        items: Vec::new(),
                        delimiter: Some(delimiter),
                        mailbox,
                    },
                );
            }
        }
        self.selected = Some(Selected {
            info,
            read_only,
            view,
            vanished: false,
            rows: None,
            saved: Vec::new(),
        });
        let code = if read_only {
            Code::ReadOnly
        } else {
            Code::ReadWrite
        };
        Ok(self.ok(
            tag,
            Some(RespCode::Std(code)),
            &format!("{command} completed"),
        ))
    }

    /// CLOSE (`expunge`: removes `\Deleted` messages silently first, unless read-only) and
    /// UNSELECT.
    pub(super) async fn close(&mut self, tag: &Tag<'_>, expunge: bool) -> std::io::Result<Flow> {
        let Some(sel) = self.selected.take() else {
            return Ok(self.bad(tag, "No mailbox selected"));
        };
        if expunge && !sel.read_only && !sel.vanished {
            let now = self.ctx.store.now();
            let actor = self.actor();
            if let Err(e) = self
                .ctx
                .store
                .meta()
                .expunge(sel.info.id, None, now, &actor)
                .await
            {
                return Ok(self.store_failed(tag, "close", &e));
            }
        }
        let command = if expunge { "CLOSE" } else { "UNSELECT" };
        Ok(self.ok(tag, None, &format!("{command} completed")))
    }

    /// Who events name for what this session does.
    pub(super) fn actor(&self) -> String {
        match &self.user {
            Some(u) => format!("imap:{}", u.account),
            None => "imap".to_string(),
        }
    }
}

/// STATUS items outside imap-codec 1.0's list.
#[derive(Debug, Default)]
pub(crate) struct StatusExt {
    pub size: bool,
}

/// LIST-STATUS: the `(items)` of `RETURN (STATUS (items))`, decoded by the codec through a
/// synthetic STATUS command.
fn status_items(list: &[u8]) -> Option<(Vec<StatusDataItemName>, StatusExt)> {
    use imap_codec::decode::Decoder;
    use imap_codec::imap_types::command::CommandBody;
    let synthetic = [&b"x STATUS INBOX "[..], list, b"\r\n"].concat();
    let (bytes, m) = match imap_codec::CommandCodec::default().decode(&synthetic) {
        Ok(_) => (synthetic.clone(), Modifiers::default()),
        Err(_) => match super::extension::parse(&synthetic) {
            Some(super::extension::Extended::Rewritten(b, m)) => (b, m),
            _ => return None,
        },
    };
    let (_, cmd) = imap_codec::CommandCodec::default().decode(&bytes).ok()?;
    let CommandBody::Status { item_names, .. } = cmd.body else {
        return None;
    };
    let mut items = item_names.into_owned();
    if m.status_placeholder {
        items.retain(|i| *i != StatusDataItemName::Messages);
    }
    Some((
        items,
        StatusExt {
            size: m.status_size,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        assert!(matches(b"*", b"INBOX"));
        assert!(matches(b"*", b"A/B/C"));
        assert!(matches(b"%", b"Sent"));
        assert!(!matches(b"%", b"A/B"));
        assert!(matches(b"A/%", b"A/B"));
        assert!(!matches(b"A/%", b"A/B/C"));
        assert!(matches(b"A/*", b"A/B/C"));
        assert!(matches(b"INBOX", b"INBOX"));
        assert!(!matches(b"INBOX", b"INBOX/x"));
        assert!(matches(b"%/%", b"A/B"));
        assert!(matches(b"*B", b"A/B"));
        assert!(matches(b"%B", b"AB"));
        assert!(!matches(b"%B", b"A/B"));
        assert!(matches(b"S%t", b"Sent"));
    }

    #[test]
    fn status_items_through_the_codec() {
        let (items, ext) = status_items(b"(MESSAGES UNSEEN SIZE)").unwrap();
        assert_eq!(
            items,
            vec![StatusDataItemName::Messages, StatusDataItemName::Unseen]
        );
        assert!(ext.size);
        let (items, ext) = status_items(b"(SIZE)").unwrap();
        assert!(items.is_empty() && ext.size);
        assert!(status_items(b"(BOGUS)").is_none());
    }
}
