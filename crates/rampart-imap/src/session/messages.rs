//! Message commands besides FETCH: STORE, SEARCH (with ESEARCH), COPY / MOVE (with COPYUID),
//! EXPUNGE / UID EXPUNGE, and APPEND (with APPENDUID), plus junk feedback for messages filed
//! into or out of `Junk`.
//!
//! Expunging is the store's soft delete: an expunged message leaves the mailbox but stays
//! recoverable for the retention window (`rampart mail restore`).

use std::num::NonZeroU32;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::{Charset, Tag};
use imap_codec::imap_types::flag::{Flag as ImapFlag, StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Code, Data};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;
use rampart_model::{FlagChange, Folder, ImapMessage, MAX_KEYWORDS};
use rampart_store::{MessageSummary, NewMessage, StoreError};

use super::extension::{Modifiers, SearchReturn};
use super::mailbox::store_name;
use super::{respond, Flow, Session};
use crate::render;
use respond::RespCode;

/// Messages one COPY or MOVE reports to the junk-feedback hook; a mass move trains nothing
/// beyond this (and cannot flood the model or the blob store with reads).
const MAX_JUNK_REPORTS: usize = 200;

/// An APPEND, taken out of the decoded command so the message bytes can leave the command
/// buffer without a copy.
pub(crate) struct AppendRequest {
    tag: String,
    mailbox: Result<String, &'static str>,
    flags: Vec<rampart_model::Flag>,
    keywords: Vec<String>,
    date: Option<i64>,
    message: AppendData,
}

enum AppendData {
    /// Where the message lies in the command buffer.
    Range(Range<usize>),
    Owned(Vec<u8>),
}

impl AppendRequest {
    /// An APPEND whose message is `data` of the command buffer (a literal8 the codec did not
    /// decode itself; see [`Extended::Append8`](super::extension::Extended::Append8)).
    pub(crate) fn with_data(mut self, data: Range<usize>) -> Self {
        self.message = AppendData::Range(data);
        self
    }

    pub(crate) fn take(cmd: Command<'_>, msg: &[u8]) -> Self {
        let tag = cmd.tag.inner().to_string();
        let CommandBody::Append {
            mailbox,
            flags,
            date,
            message,
        } = cmd.body
        else {
            return AppendRequest {
                tag,
                mailbox: Err("not an APPEND"),
                flags: Vec::new(),
                keywords: Vec::new(),
                date: None,
                message: AppendData::Owned(Vec::new()),
            };
        };
        let data = message.data();
        let base = msg.as_ptr() as usize;
        let start = (data.as_ptr() as usize).wrapping_sub(base);
        let message = if data.is_empty() {
            AppendData::Owned(Vec::new())
        } else if start < msg.len() && start + data.len() <= msg.len() {
            AppendData::Range(start..start + data.len())
        } else {
            AppendData::Owned(data.to_vec())
        };
        let (flags, keywords) = render::flags_from_imap(&flags);
        AppendRequest {
            tag,
            mailbox: store_name(&mailbox),
            flags,
            keywords,
            date: date.map(|d| d.as_ref().timestamp()),
            message,
        }
    }
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn store(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[ImapFlag<'_>],
        uid: bool,
        m: Modifiers,
    ) -> std::io::Result<Flow> {
        if m.unchanged_since.is_some() {
            self.condstore = true;
        }
        let Some(sel) = self.selected.as_ref() else {
            return Ok(self.bad(tag, "Select a mailbox first"));
        };
        if sel.read_only {
            return Ok(self.no(tag, None, "Mailbox is read-only"));
        }
        let positions = match sel.view.resolve(set, uid) {
            _ if m.saved_empty => Vec::new(),
            Ok(p) => p,
            Err(_) => return Ok(self.bad(tag, "Invalid message sequence number")),
        };
        let (system, keywords) = render::flags_from_imap(flags);
        if keywords.len() > MAX_KEYWORDS {
            return Ok(self.no(
                tag,
                Some(RespCode::ext("LIMIT")),
                "Too many keywords on one message",
            ));
        }
        let change = match kind {
            StoreType::Add => FlagChange::Add,
            StoreType::Remove => FlagChange::Remove,
            StoreType::Replace => FlagChange::Replace,
        };
        let uids: Vec<u32> = positions
            .iter()
            .filter(|&&p| !sel.view.is_gone(p))
            .map(|&p| sel.view.uid(p))
            .collect();
        let id = sel.info.id;
        let (updated, failed) = if uids.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let now = self.ctx.store.now();
            match self
                .ctx
                .store
                .meta()
                .store_flags(
                    id,
                    &uids,
                    change,
                    &system,
                    &keywords,
                    m.unchanged_since,
                    now,
                )
                .await
            {
                Ok(r) => r,
                Err(StoreError::Invalid(why)) => {
                    return Ok(self.no(tag, Some(RespCode::ext("LIMIT")), &why))
                }
                Err(e) => return Ok(self.store_failed(tag, "store", &e)),
            }
        };
        let condstore = self.condstore;
        let Some(sel) = self.selected.as_mut() else {
            return Ok(self.bad(tag, "Select a mailbox first"));
        };
        let mut modseqs = std::collections::HashMap::new();
        for u in &updated {
            if let Some(p) = sel.view.find(u.uid) {
                sel.view.set(p, &u.flags, &u.keywords);
            }
            modseqs.insert(u.uid, u.modseq);
        }
        let silent = response == StoreResponse::Silent;
        let mut lines = Vec::new();
        for &p in &positions {
            if sel.view.is_gone(p) {
                continue;
            }
            let u = sel.view.uid(p);
            if failed.contains(&u) {
                continue;
            }
            let modseq = modseqs.get(&u).copied();
            // RFC 7162 §3.2: with CONDSTORE, changed messages are reported even when silent.
            if silent && !(condstore && modseq.is_some()) {
                continue;
            }
            let mut items = Vec::new();
            if uid || condstore {
                if let Some(n) = NonZeroU32::new(u) {
                    items.push(imap_codec::imap_types::fetch::MessageDataItem::Uid(n));
                }
            }
            if !silent {
                items.push(imap_codec::imap_types::fetch::MessageDataItem::Flags(
                    sel.view.imap_flags(p),
                ));
            }
            let (Ok(items), Some(seq)) = (
                imap_codec::imap_types::core::NonEmptyVec::try_from(items),
                NonZeroU32::new(p as u32 + 1),
            ) else {
                continue;
            };
            let mut line = Vec::new();
            respond::data(&mut line, Data::Fetch { seq, items });
            if condstore {
                if let Some(ms) = modseq {
                    respond::splice_list_tail(&mut line, &format!("MODSEQ ({ms})"));
                }
            }
            lines.push(line);
        }
        let failed_set = if failed.is_empty() {
            None
        } else if uid {
            Some(compress(&failed))
        } else {
            let seqs: Vec<u32> = failed
                .iter()
                .filter_map(|u| sel.view.find(*u).map(|p| p as u32 + 1))
                .collect();
            Some(compress(&seqs))
        };
        for line in lines {
            self.emit(line).await?;
        }
        self.refresh(uid).await?;
        let command = if uid { "UID STORE" } else { "STORE" };
        Ok(match failed_set {
            Some(set) => self.ok(
                tag,
                Some(RespCode::ext(format!("MODIFIED {set}"))),
                &format!("{command} completed; some messages were changed meanwhile"),
            ),
            None => self.ok(tag, None, &format!("{command} completed")),
        })
    }

    pub(super) async fn search(
        &mut self,
        tag: &Tag<'_>,
        charset: Option<Charset<'_>>,
        criteria: SearchKey<'_>,
        uid: bool,
        m: Modifiers,
    ) -> std::io::Result<Flow> {
        if let Some(cs) = &charset {
            let cs = cs.as_ref();
            if !cs.eq_ignore_ascii_case("UTF-8") && !cs.eq_ignore_ascii_case("US-ASCII") {
                if m.search_return.is_some_and(|r| r.save) {
                    // RFC 5182 §2.1: a SEARCH with SAVE that fails empties the saved result.
                    if let Some(sel) = self.selected.as_mut() {
                        sel.saved.clear();
                    }
                }
                let allowed = ["UTF-8", "US-ASCII"]
                    .into_iter()
                    .filter_map(|c| Charset::try_from(c).ok())
                    .collect();
                return Ok(self.no(
                    tag,
                    Some(RespCode::Std(Code::BadCharset { allowed })),
                    "Only UTF-8 and US-ASCII searches are supported",
                ));
            }
        }
        if self.selected.is_none() {
            return Ok(self.bad(tag, "Select a mailbox first"));
        }
        let store = self.ctx.store.clone();
        let rows = match self.rows().await {
            Ok(r) => r,
            Err(e) => return Ok(self.store_failed(tag, "search", &e)),
        };
        let content = render::needs_content(&criteria);
        let mut hits: Vec<u32> = Vec::new();
        let mut hit_uids: Vec<u32> = Vec::new();
        let n = {
            let Some(sel) = self.selected.as_ref() else {
                return Ok(self.bad(tag, "Select a mailbox first"));
            };
            sel.view.len()
        };
        for p in 0..n {
            let (msg_uid, max_seq, max_uid) = {
                let Some(sel) = self.selected.as_ref() else {
                    break;
                };
                if sel.view.is_gone(p) {
                    continue;
                }
                (
                    sel.view.uid(p),
                    sel.view.len() as u32,
                    sel.view.max_uid().unwrap_or(0),
                )
            };
            let Ok(r) = rows.binary_search_by_key(&msg_uid, |r| r.uid) else {
                continue;
            };
            let row = &rows[r];
            let raw = if content {
                match store.imap_raw(row).await {
                    Ok(raw) => Some(raw),
                    Err(e) => {
                        tracing::warn!(error = %e, uid = msg_uid, "SEARCH cannot read a message");
                        None
                    }
                }
            } else {
                None
            };
            let input = render::SearchInput {
                uid: row.uid,
                seq: p as u32 + 1,
                flags: &row.flags,
                keywords: &row.keywords,
                size: row.size,
                internal_date: row.received_at.0,
                modseq: row.modseq,
                raw: raw.as_deref(),
            };
            if render::matches(&criteria, &input, max_seq, max_uid) {
                hits.push(if uid { row.uid } else { p as u32 + 1 });
                hit_uids.push(row.uid);
            }
        }
        drop(rows);
        if let Some(r) = m.search_return.filter(|r| r.save) {
            // RFC 5182 §2.1: with MIN and/or MAX, only those are saved. Sequence numbers and
            // UIDs rise together, so the first and last hits are both.
            let saved = if r.min || r.max {
                let mut s = Vec::new();
                if r.min {
                    s.extend(hit_uids.first());
                }
                if r.max {
                    s.extend(hit_uids.last());
                }
                s.dedup();
                s
            } else {
                std::mem::take(&mut hit_uids)
            };
            if let Some(sel) = self.selected.as_mut() {
                sel.saved = saved;
            }
        }
        match m.search_return.or(self.rev2.then(|| SearchReturn {
            all: true,
            ..Default::default()
        })) {
            // RFC 5182 §2.1: `RETURN (SAVE)` alone answers no ESEARCH.
            Some(r) if r.save && !(r.min || r.max || r.all || r.count) => {}
            Some(r) => {
                let mut line = format!("* ESEARCH (TAG \"{}\")", tag.inner());
                if uid {
                    line.push_str(" UID");
                }
                if r.min {
                    if let Some(v) = hits.iter().min() {
                        line.push_str(&format!(" MIN {v}"));
                    }
                }
                if r.max {
                    if let Some(v) = hits.iter().max() {
                        line.push_str(&format!(" MAX {v}"));
                    }
                }
                if r.count {
                    line.push_str(&format!(" COUNT {}", hits.len()));
                }
                if r.all && !hits.is_empty() {
                    line.push_str(&format!(" ALL {}", compress(&hits)));
                }
                line.push_str("\r\n");
                self.emit(line.into_bytes()).await?;
            }
            None => {
                let hits: Vec<NonZeroU32> = hits.into_iter().filter_map(NonZeroU32::new).collect();
                let mut line = Vec::new();
                respond::data(&mut line, Data::Search(hits));
                self.emit(line).await?;
            }
        }
        self.refresh(uid).await?;
        let command = if uid { "UID SEARCH" } else { "SEARCH" };
        Ok(self.ok(tag, None, &format!("{command} completed")))
    }

    pub(super) async fn copy_or_move(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        mailbox: Mailbox<'_>,
        uid: bool,
        is_move: bool,
        saved_empty: bool,
    ) -> std::io::Result<Flow> {
        let command = match (uid, is_move) {
            (false, false) => "COPY",
            (true, false) => "UID COPY",
            (false, true) => "MOVE",
            (true, true) => "UID MOVE",
        };
        let Some(account) = self.user.as_ref().map(|u| u.account.clone()) else {
            return Ok(self.bad(tag, "Log in first"));
        };
        let Some(sel) = self.selected.as_ref() else {
            return Ok(self.bad(tag, "Select a mailbox first"));
        };
        if is_move && sel.read_only {
            return Ok(self.no(tag, None, "Mailbox is read-only"));
        }
        let positions = match sel.view.resolve(set, uid) {
            _ if saved_empty => Vec::new(),
            Ok(p) => p,
            Err(_) => return Ok(self.bad(tag, "Invalid message sequence number")),
        };
        let uids: Vec<u32> = positions
            .iter()
            .filter(|&&p| !sel.view.is_gone(p))
            .map(|&p| sel.view.uid(p))
            .collect();
        let source_id = sel.info.id;
        let source_use = sel.info.special_use;
        let name = match store_name(&mailbox) {
            Ok(n) => n,
            Err(why) => return Ok(self.no(tag, Some(RespCode::Std(Code::TryCreate)), why)),
        };
        let store = self.ctx.store.clone();
        let target = match store.meta().mailbox(&account, &name).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Ok(self.no(tag, Some(RespCode::Std(Code::TryCreate)), "No such mailbox"))
            }
            Err(e) => return Ok(self.store_failed(tag, command, &e)),
        };
        if uids.is_empty() {
            return Ok(self.ok(tag, None, &format!("{command} completed; nothing to do")));
        }
        // Junk feedback needs the blobs, which a move takes away: read them first.
        let junk = match (
            &self.ctx.junk,
            junk_direction(source_use, target.special_use),
        ) {
            (Some(hook), Some(spam)) => match store.meta().imap_messages(source_id).await {
                Ok(rows) => Some((Arc::clone(hook), spam, rows)),
                Err(_) => None,
            },
            _ => None,
        };
        let now = store.now();
        let actor = self.actor();
        let result = if is_move {
            store
                .meta()
                .move_messages(source_id, &uids, target.id, now, &actor)
                .await
        } else {
            store
                .meta()
                .copy_messages(source_id, &uids, target.id, now, &actor)
                .await
        };
        let pairs = match result {
            Ok(p) => p,
            Err(StoreError::QuotaExceeded(why)) => {
                return Ok(self.no(tag, Some(RespCode::Std(Code::OverQuota)), &why))
            }
            Err(StoreError::NotFound(_)) => {
                return Ok(self.no(tag, Some(RespCode::Std(Code::TryCreate)), "No such mailbox"))
            }
            Err(e) => return Ok(self.store_failed(tag, command, &e)),
        };
        if let Some((hook, spam, rows)) = junk {
            let done: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let rows: Vec<ImapMessage> = rows
                .into_iter()
                .filter(|r| done.binary_search(&r.uid).is_ok())
                .take(MAX_JUNK_REPORTS)
                .collect();
            report_junk(store.clone(), hook, account.clone(), rows, spam);
        }
        let code = (!pairs.is_empty()).then(|| {
            let src: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let dst: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            format!(
                "COPYUID {} {} {}",
                target.uidvalidity,
                compress(&src),
                compress(&dst)
            )
        });
        if is_move {
            if let Some(code) = code {
                respond::status(
                    &mut self.out,
                    None,
                    respond::Kind::Ok,
                    Some(RespCode::ext(code)),
                    "Moved",
                );
            }
            if let Some(sel) = self.selected.as_mut() {
                let mut moved: Vec<usize> =
                    pairs.iter().filter_map(|p| sel.view.find(p.0)).collect();
                moved.sort_unstable();
                for seq in sel.view.remove(&moved) {
                    if let Ok(d) = Data::expunge(seq) {
                        respond::data(&mut self.out, d);
                    }
                }
            }
            self.refresh(true).await?;
            return Ok(self.ok(tag, None, &format!("{command} completed")));
        }
        self.refresh(true).await?;
        Ok(self.ok(
            tag,
            code.map(RespCode::Ext),
            &format!("{command} completed"),
        ))
    }

    /// EXPUNGE, or UID EXPUNGE of `uids`.
    pub(super) async fn expunge(
        &mut self,
        tag: &Tag<'_>,
        uids: Option<&SequenceSet>,
    ) -> std::io::Result<Flow> {
        let command = if uids.is_some() {
            "UID EXPUNGE"
        } else {
            "EXPUNGE"
        };
        let Some(sel) = self.selected.as_ref() else {
            return Ok(self.bad(tag, "Select a mailbox first"));
        };
        if sel.read_only {
            return Ok(self.no(tag, None, "Mailbox is read-only"));
        }
        let only: Option<Vec<u32>> = match uids {
            Some(set) => match sel.view.resolve(set, true) {
                Ok(p) => Some(p.into_iter().map(|p| sel.view.uid(p)).collect()),
                Err(_) => return Ok(self.bad(tag, "Invalid UID set")),
            },
            None => None,
        };
        let id = sel.info.id;
        if !only.as_ref().is_some_and(|o| o.is_empty()) && !sel.vanished {
            let now = self.ctx.store.now();
            let actor = self.actor();
            let expunged = match self
                .ctx
                .store
                .meta()
                .expunge(id, only.as_deref(), now, &actor)
                .await
            {
                Ok(e) => e,
                Err(e) => return Ok(self.store_failed(tag, command, &e)),
            };
            if let Some(sel) = self.selected.as_mut() {
                let mut positions: Vec<usize> =
                    expunged.iter().filter_map(|u| sel.view.find(*u)).collect();
                positions.sort_unstable();
                for seq in sel.view.remove(&positions) {
                    if let Ok(d) = Data::expunge(seq) {
                        respond::data(&mut self.out, d);
                    }
                }
            }
        }
        self.refresh(true).await?;
        Ok(self.ok(tag, None, &format!("{command} completed")))
    }

    pub(super) async fn append(
        &mut self,
        req: AppendRequest,
        buffer: Vec<u8>,
    ) -> std::io::Result<Flow> {
        let Ok(tag) = Tag::try_from(req.tag.as_str()) else {
            respond::status_raw_tag(&mut self.out, None, respond::Kind::Bad, "Missing tag");
            return Ok(self.count_error());
        };
        let Some(account) = self.user.as_ref().map(|u| u.account.clone()) else {
            return Ok(self.bad(&tag, "Log in first"));
        };
        let name = match req.mailbox {
            Ok(n) => n,
            Err(why) => return Ok(self.no(&tag, Some(RespCode::Std(Code::TryCreate)), why)),
        };
        let (flags, keywords) = (req.flags, req.keywords);
        if keywords.len() > MAX_KEYWORDS {
            return Ok(self.no(
                &tag,
                Some(RespCode::ext("LIMIT")),
                "Too many keywords on one message",
            ));
        }
        let raw = match req.message {
            AppendData::Range(r) => Bytes::from(buffer).slice(r),
            AppendData::Owned(v) => {
                drop(buffer);
                Bytes::from(v)
            }
        };
        if raw.is_empty() {
            return Ok(self.no(&tag, None, "Empty message"));
        }
        let message = NewMessage {
            summary: MessageSummary::of(&raw),
            raw,
        };
        let actor = self.actor();
        let date = req.date.map(rampart_model::Timestamp);
        let result = self
            .ctx
            .store
            .append(&account, &name, message, &flags, &keywords, date, &actor)
            .await;
        match result {
            Ok((validity, new_uid)) => {
                let selected_here = self.selected.as_ref().is_some_and(|s| s.info.name == name);
                if selected_here {
                    self.refresh(true).await?;
                }
                Ok(self.ok(
                    &tag,
                    Some(RespCode::ext(format!("APPENDUID {validity} {new_uid}"))),
                    "APPEND completed",
                ))
            }
            Err(StoreError::NotFound(_)) => Ok(self.no(
                &tag,
                Some(RespCode::Std(Code::TryCreate)),
                "No such mailbox",
            )),
            Err(StoreError::QuotaExceeded(why)) => {
                Ok(self.no(&tag, Some(RespCode::Std(Code::OverQuota)), &why))
            }
            Err(StoreError::Invalid(why)) => Ok(self.no(&tag, None, &why)),
            Err(e) => Ok(self.store_failed(&tag, "append", &e)),
        }
    }
}

/// Whether filing from `from` into `to` says "spam" (`Some(true)`), "not spam"
/// (`Some(false)`), or nothing.
fn junk_direction(from: Option<Folder>, to: Option<Folder>) -> Option<bool> {
    match (from, to) {
        (Some(Folder::Junk), Some(Folder::Junk)) => None,
        (_, Some(Folder::Junk)) => Some(true),
        (Some(Folder::Junk), Some(Folder::Trash)) => None,
        (Some(Folder::Junk), _) => Some(false),
        _ => None,
    }
}

/// Hands the messages to the junk-feedback hook on a task of its own.
fn report_junk(
    store: rampart_store::Mailstore,
    hook: Arc<dyn crate::JunkFeedback>,
    account: rampart_model::EmailAddress,
    rows: Vec<ImapMessage>,
    spam: bool,
) {
    tokio::spawn(async move {
        for row in rows {
            match store.imap_raw(&row).await {
                Ok(raw) => hook.report(&account, row.id, raw, spam).await,
                Err(e) => tracing::warn!(error = %e, "junk feedback cannot read a message"),
            }
        }
    });
}

/// A sorted list of numbers as an IMAP sequence set (`1:3,5,9:10`).
pub(crate) fn compress(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets_are_compressed() {
        assert_eq!(compress(&[1, 2, 3, 5, 9, 10]), "1:3,5,9:10");
        assert_eq!(compress(&[7]), "7");
        assert_eq!(compress(&[3, 1, 2, 2]), "1:3");
        assert_eq!(compress(&[]), "");
    }

    #[test]
    fn junk_feedback_directions() {
        assert_eq!(
            junk_direction(Some(Folder::Inbox), Some(Folder::Junk)),
            Some(true)
        );
        assert_eq!(junk_direction(None, Some(Folder::Junk)), Some(true));
        assert_eq!(
            junk_direction(Some(Folder::Junk), Some(Folder::Inbox)),
            Some(false)
        );
        assert_eq!(junk_direction(Some(Folder::Junk), None), Some(false));
        assert_eq!(
            junk_direction(Some(Folder::Junk), Some(Folder::Trash)),
            None
        );
        assert_eq!(
            junk_direction(Some(Folder::Inbox), Some(Folder::Archive)),
            None
        );
    }
}
