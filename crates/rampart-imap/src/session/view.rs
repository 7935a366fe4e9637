//! The selected mailbox as this session sees it, and how it catches up with the store.
//!
//! A [`View`] maps sequence numbers to UIDs and keeps each message's flags: 5 bytes a message
//! (a `u32` UID and a `u8` of flag bits), keywords interned and kept only for the messages that
//! have any, no message bytes. A message expunged by someone else stays in the view, marked
//! gone, until the session may announce its `EXPUNGE` (RFC 9051 §7.5.1: not during FETCH,
//! STORE or SEARCH by sequence number); new messages are appended after it, so sequence
//! numbers stay what the client was told.
//!
//! Catching up ([`Session::refresh`]): one read of `(uidnext, highest_modseq, exists)`; if
//! anything moved, the messages changed since the view's mod-sequence give new messages and
//! flag changes, and only when the visible count still disagrees (an expunge, a move away)
//! is the mailbox's UID list read whole to find what left.

use std::collections::BTreeMap;
use std::sync::Arc;

use imap_codec::imap_types::core::NonEmptyVec;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::flag::FlagFetch;
use imap_codec::imap_types::response::Data;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use rampart_model::{Flag, ImapMessage, MailboxInfo};
use rampart_store::StoreError;

use super::{respond, Session};

/// Marks a message expunged by another session whose EXPUNGE is not announced yet.
const GONE: u8 = 0x80;
/// The stored flag bits (`Flag::bit`) fit below this.
const FLAG_MASK: u8 = 0x1f;

/// The selected mailbox.
pub(crate) struct Selected {
    pub info: MailboxInfo,
    /// EXAMINE, or a mailbox the user may not change.
    pub read_only: bool,
    pub view: View,
    /// The mailbox was deleted or renamed away under us: every message is gone.
    pub vanished: bool,
    /// The store's rows, kept between the commands of a burst (a client syncing message by
    /// message) and dropped when the session goes quiet; see [`Session::rows`].
    pub rows: Option<Rows>,
    /// The saved search result (SEARCHRES, RFC 5182) as UIDs, ascending: what `$` names.
    /// Kept as UIDs so an expunge simply removes its messages from it; a new selection starts
    /// with an empty one (the `Selected` is new).
    pub saved: Vec<u32>,
}

/// The selected mailbox's rows as of one `(uidnext, highest_modseq, exists)` state.
pub(crate) struct Rows {
    state: (u32, u64, u32),
    pub list: Arc<Vec<ImapMessage>>,
}

/// Sequence numbers → UIDs and flags. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct View {
    uids: Vec<u32>,
    flags: Vec<u8>,
    /// Keyword indices into `names`, for messages that have keywords.
    keywords: BTreeMap<u32, Box<[u16]>>,
    names: Vec<Box<str>>,
    /// The mailbox's `highest_modseq` the view reflects.
    pub modseq: u64,
    pub uidnext: u32,
    /// Messages not marked gone.
    visible: u32,
}

/// A sequence set that names a message the client was never told of.
#[derive(Debug)]
pub(crate) struct BadSet;

impl View {
    pub(crate) fn new(messages: &[ImapMessage], modseq: u64, uidnext: u32) -> Self {
        let mut view = View {
            uids: Vec::with_capacity(messages.len()),
            flags: Vec::with_capacity(messages.len()),
            modseq,
            uidnext,
            ..Default::default()
        };
        for m in messages {
            view.push(m.uid, &m.flags, &m.keywords);
        }
        view.uids.shrink_to_fit();
        view.flags.shrink_to_fit();
        view
    }

    pub(crate) fn len(&self) -> usize {
        self.uids.len()
    }

    pub(crate) fn visible(&self) -> u32 {
        self.visible
    }

    pub(crate) fn uid(&self, i: usize) -> u32 {
        self.uids[i]
    }

    #[cfg(test)]
    pub(crate) fn uids(&self) -> &[u32] {
        &self.uids
    }

    pub(crate) fn is_gone(&self, i: usize) -> bool {
        self.flags[i] & GONE != 0
    }

    pub(crate) fn flag_bits(&self, i: usize) -> u32 {
        u32::from(self.flags[i] & FLAG_MASK)
    }

    pub(crate) fn has(&self, i: usize, flag: Flag) -> bool {
        self.flag_bits(i) & flag.bit() != 0
    }

    pub(crate) fn keywords(&self, i: usize) -> Vec<&str> {
        match self.keywords.get(&self.uids[i]) {
            Some(ks) => ks
                .iter()
                .filter_map(|&k| self.names.get(usize::from(k)).map(|n| &**n))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Every keyword some message in the view has (for the FLAGS response).
    pub(crate) fn keywords_in_use(&self) -> Vec<&str> {
        let mut used = vec![false; self.names.len()];
        for ks in self.keywords.values() {
            for &k in ks.iter() {
                if let Some(u) = used.get_mut(usize::from(k)) {
                    *u = true;
                }
            }
        }
        self.names
            .iter()
            .zip(used)
            .filter(|(_, u)| *u)
            .map(|(n, _)| &**n)
            .collect()
    }

    pub(crate) fn find(&self, uid: u32) -> Option<usize> {
        self.uids.binary_search(&uid).ok()
    }

    pub(crate) fn max_uid(&self) -> Option<u32> {
        self.uids.last().copied()
    }

    fn intern(&mut self, keywords: &[String]) -> Option<Box<[u16]>> {
        if keywords.is_empty() {
            return None;
        }
        let mut ids = Vec::with_capacity(keywords.len());
        for k in keywords {
            let id = match self.names.iter().position(|n| n.eq_ignore_ascii_case(k)) {
                Some(i) => i,
                None => {
                    self.names.push(k.as_str().into());
                    self.names.len() - 1
                }
            };
            if let Ok(id) = u16::try_from(id) {
                ids.push(id);
            }
        }
        Some(ids.into_boxed_slice())
    }

    /// Adds a message at the end (a UID above every other).
    pub(crate) fn push(&mut self, uid: u32, flags: &[Flag], keywords: &[String]) {
        self.uids.push(uid);
        self.flags.push(Flag::bits_of(flags) as u8 & FLAG_MASK);
        if let Some(ks) = self.intern(keywords) {
            self.keywords.insert(uid, ks);
        }
        self.visible += 1;
        self.uidnext = self.uidnext.max(uid.saturating_add(1));
    }

    /// Sets a message's flags and keywords; `true` if they changed.
    pub(crate) fn set(&mut self, i: usize, flags: &[Flag], keywords: &[String]) -> bool {
        let bits = Flag::bits_of(flags) as u8 & FLAG_MASK;
        let uid = self.uids[i];
        let mut old: Vec<String> = self.keywords(i).into_iter().map(str::to_string).collect();
        let mut new: Vec<String> = keywords.to_vec();
        old.sort_by_key(|k| k.to_ascii_lowercase());
        new.sort_by_key(|k| k.to_ascii_lowercase());
        let keywords_changed = old.len() != new.len()
            || old
                .iter()
                .zip(&new)
                .any(|(a, b)| !a.eq_ignore_ascii_case(b));
        let changed = (self.flags[i] & FLAG_MASK) != bits || keywords_changed;
        self.flags[i] = (self.flags[i] & GONE) | bits;
        if keywords_changed {
            match self.intern(keywords) {
                Some(ks) => {
                    self.keywords.insert(uid, ks);
                }
                None => {
                    self.keywords.remove(&uid);
                }
            }
        }
        changed
    }

    pub(crate) fn mark_gone(&mut self, i: usize) {
        if self.flags[i] & GONE == 0 {
            self.flags[i] |= GONE;
            self.visible = self.visible.saturating_sub(1);
        }
    }

    /// Removes the given positions (ascending) and returns the sequence numbers to announce,
    /// in the order to announce them: descending, so each is valid when it is read.
    pub(crate) fn remove(&mut self, positions: &[usize]) -> Vec<u32> {
        let mut announce = Vec::with_capacity(positions.len());
        let mut drop = vec![false; self.uids.len()];
        for &i in positions {
            if let Some(d) = drop.get_mut(i) {
                if !*d {
                    *d = true;
                    announce.push(i as u32 + 1);
                }
            }
        }
        announce.sort_unstable_by(|a, b| b.cmp(a));
        let mut k = 0;
        let mut keep_uid = Vec::new();
        for (i, gone) in drop.iter().enumerate() {
            if *gone {
                if self.flags[i] & GONE == 0 {
                    self.visible = self.visible.saturating_sub(1);
                }
                self.keywords.remove(&self.uids[i]);
            } else {
                keep_uid.push(i);
            }
        }
        for &i in &keep_uid {
            self.uids[k] = self.uids[i];
            self.flags[k] = self.flags[i];
            k += 1;
        }
        self.uids.truncate(k);
        self.flags.truncate(k);
        announce
    }

    /// Positions of messages marked gone, ascending.
    pub(crate) fn gone(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_gone(i)).collect()
    }

    /// The positions a sequence set names, ascending and distinct. With sequence numbers, a
    /// number past the end is an error; with UIDs, UIDs that do not exist are simply not there
    /// (and `*` is the highest UID, RFC 9051 §6.4.9).
    pub(crate) fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, BadSet> {
        let n = self.len();
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for seq in set.0.as_ref() {
            let (a, b) = match seq {
                Sequence::Single(x) => (*x, *x),
                Sequence::Range(a, b) => (*a, *b),
            };
            if uid {
                let Some(max) = self.max_uid() else {
                    continue;
                };
                let val = |x: SeqOrUid| match x {
                    SeqOrUid::Value(v) => v.get(),
                    SeqOrUid::Asterisk => max,
                };
                let (lo, hi) = (val(a).min(val(b)), val(a).max(val(b)));
                let start = self.uids.partition_point(|&u| u < lo);
                let end = self.uids.partition_point(|&u| u <= hi);
                if start < end {
                    ranges.push((start, end - 1));
                }
            } else {
                if n == 0 && (a == SeqOrUid::Asterisk || b == SeqOrUid::Asterisk) {
                    // `1:*` in an empty mailbox names nothing (clients send it right after
                    // SELECT); an explicit number would still be an error.
                    continue;
                }
                let val = |x: SeqOrUid| match x {
                    SeqOrUid::Value(v) => v.get() as usize,
                    SeqOrUid::Asterisk => n,
                };
                let (lo, hi) = (val(a).min(val(b)), val(a).max(val(b)));
                if lo == 0 || hi > n {
                    return Err(BadSet);
                }
                ranges.push((lo - 1, hi - 1));
            }
        }
        ranges.sort_unstable();
        let mut out = Vec::new();
        let mut next = 0usize;
        for (lo, hi) in ranges {
            let lo = lo.max(next);
            if lo <= hi {
                out.extend(lo..=hi);
                next = hi + 1;
            }
        }
        Ok(out)
    }

    /// The flags of position `i` as IMAP flags.
    pub(crate) fn imap_flags(&self, i: usize) -> Vec<FlagFetch<'static>> {
        flag_fetch(self.flag_bits(i), &self.keywords(i))
    }
}

/// Stored flag bits and keywords as the IMAP flag list of a FETCH response.
pub(crate) fn flag_fetch(bits: u32, keywords: &[&str]) -> Vec<FlagFetch<'static>> {
    let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
    crate::render::flags_to_imap(&Flag::from_bits(bits), &keywords)
}

impl Session {
    /// The selected mailbox's rows (by ascending UID), read again only when the mailbox changed
    /// since the last read. FETCH and SEARCH need a message's size, date and blob, which the
    /// view does not keep; a client fetching 10 000 messages one command at a time would
    /// otherwise read the whole mailbox 10 000 times.
    pub(crate) async fn rows(&mut self) -> Result<Arc<Vec<ImapMessage>>, StoreError> {
        let store = self.ctx.store.clone();
        let Some(sel) = self.selected.as_mut() else {
            return Ok(Arc::new(Vec::new()));
        };
        let state = store.meta().mailbox_state(sel.info.id).await?;
        if let Some(rows) = sel.rows.as_ref().filter(|r| r.state == state) {
            return Ok(Arc::clone(&rows.list));
        }
        sel.rows = None;
        let list = Arc::new(store.meta().imap_messages(sel.info.id).await?);
        sel.rows = Some(Rows {
            state,
            list: Arc::clone(&list),
        });
        Ok(list)
    }

    /// Forgets the cached rows (the session is going quiet).
    pub(crate) fn drop_rows(&mut self) {
        if let Some(sel) = self.selected.as_mut() {
            sel.rows = None;
        }
    }

    /// Brings the selected mailbox's view up to date and announces what changed: `EXPUNGE`
    /// (only when `expunges`), `EXISTS`, and `FETCH (FLAGS ...)` for flags others changed.
    pub(crate) async fn refresh(&mut self, expunges: bool) -> std::io::Result<()> {
        let store = self.ctx.store.clone();
        let Some(sel) = self.selected.as_mut() else {
            return Ok(());
        };
        let id = sel.info.id;
        let mut changed: Vec<(u32, u64)> = Vec::new();
        let before = sel.view.len();
        let account = self.user.as_ref().map(|u| u.account.clone());
        if !sel.vanished {
            match store.meta().mailbox_state(id).await {
                Ok((_, modseq, _))
                    if modseq != sel.view.modseq
                        && replaced(&store, account.as_ref(), &sel.info).await =>
                {
                    // RFC 9051 §2.3.1.1: the UIDs this session knows are no longer valid, and
                    // there is no way to tell a client so while it stays selected; end the
                    // session (as Dovecot does) and let it select the mailbox anew.
                    tracing::info!(mailbox = id, "selected mailbox renamed or replaced");
                    sel.vanished = true;
                    self.bye = Some(
                        "Selected mailbox was renamed (UIDVALIDITY changed); reconnect and select it again",
                    );
                }
                Ok((uidnext, modseq, exists)) => {
                    let view = &mut sel.view;
                    if modseq != view.modseq || exists != view.visible() || uidnext != view.uidnext
                    {
                        match catch_up(&store, id, view, exists, &mut changed).await {
                            Ok(()) => {
                                view.modseq = modseq;
                                view.uidnext = view.uidnext.max(uidnext);
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, mailbox = id, "IMAP view refresh failed");
                            }
                        }
                    }
                }
                Err(StoreError::NotFound(_)) => {
                    tracing::info!(mailbox = id, "selected mailbox vanished");
                    sel.vanished = true;
                    for i in 0..sel.view.len() {
                        sel.view.mark_gone(i);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, mailbox = id, "cannot read the selected mailbox's state");
                }
            }
        }
        let condstore = self.condstore;
        let Some(sel) = self.selected.as_mut() else {
            return Ok(());
        };
        let added = sel.view.len() > before;
        if expunges {
            let gone = sel.view.gone();
            for seq in sel.view.remove(&gone) {
                if let Ok(d) = Data::expunge(seq) {
                    respond::data(&mut self.out, d);
                }
            }
        }
        if added {
            respond::data(&mut self.out, Data::Exists(sel.view.len() as u32));
        }
        for (uid, modseq) in changed {
            let Some(i) = sel.view.find(uid) else {
                continue;
            };
            if sel.view.is_gone(i) {
                continue;
            }
            let items = vec![
                MessageDataItem::Uid(match std::num::NonZeroU32::new(uid) {
                    Some(u) => u,
                    None => continue,
                }),
                MessageDataItem::Flags(sel.view.imap_flags(i)),
            ];
            let Ok(items) = NonEmptyVec::try_from(items) else {
                continue;
            };
            let Some(seq) = std::num::NonZeroU32::new(i as u32 + 1) else {
                continue;
            };
            let mut line = Vec::new();
            respond::data(&mut line, Data::Fetch { seq, items });
            if condstore {
                respond::splice_list_tail(&mut line, &format!("MODSEQ ({modseq})"));
            }
            self.out.extend_from_slice(&line);
        }
        Ok(())
    }
}

/// Whether the selected mailbox `info` is no longer what its name names: renamed away (the
/// name is gone or is another mailbox now) or renamed and back (same id, new UIDVALIDITY).
/// The store keeps a mailbox's id across RENAME and raises its `highest_modseq`, so this is
/// asked only when the mod-sequence moved. A store error is not a rename.
async fn replaced(
    store: &rampart_store::Mailstore,
    account: Option<&rampart_model::EmailAddress>,
    info: &MailboxInfo,
) -> bool {
    let Some(account) = account else {
        return false;
    };
    match store.meta().mailbox(account, &info.name).await {
        Ok(Some(now)) => now.id != info.id || now.uidvalidity != info.uidvalidity,
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(error = %e, mailbox = info.id, "cannot look up the selected mailbox");
            false
        }
    }
}

/// Applies the store's changes to `view`; fills `changed` with (UID, modseq) of messages whose
/// flags changed.
async fn catch_up(
    store: &rampart_store::Mailstore,
    id: i64,
    view: &mut View,
    exists: u32,
    changed: &mut Vec<(u32, u64)>,
) -> Result<(), StoreError> {
    let changes = store.meta().imap_changes_since(id, view.modseq).await?;
    for m in &changes {
        apply(view, m, changed);
    }
    if view.visible() == exists {
        return Ok(());
    }
    // Something left (expunge, move) or the counts raced: read the whole UID list once.
    let all = store.meta().imap_messages(id).await?;
    let mut present = all.iter().map(|m| m.uid).peekable();
    for i in 0..view.len() {
        let uid = view.uid(i);
        while present.next_if(|&u| u < uid).is_some() {}
        if present.peek() != Some(&uid) {
            view.mark_gone(i);
        }
    }
    for m in &all {
        apply(view, m, changed);
    }
    changed.sort_unstable();
    changed.dedup_by_key(|c| c.0);
    Ok(())
}

/// One message as the store has it now: a flag change to remember, or a new message.
fn apply(view: &mut View, m: &ImapMessage, changed: &mut Vec<(u32, u64)>) {
    if let Some(i) = view.find(m.uid) {
        if !view.is_gone(i) && view.set(i, &m.flags, &m.keywords) {
            changed.push((m.uid, m.modseq));
        }
    } else if view.max_uid().is_none_or(|max| m.uid > max) {
        view.push(m.uid, &m.flags, &m.keywords);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(uid: u32, flags: &[Flag]) -> ImapMessage {
        ImapMessage {
            id: rampart_model::MessageId(i64::from(uid)),
            uid,
            flags: flags.to_vec(),
            keywords: Vec::new(),
            size: 10,
            received_at: rampart_model::Timestamp(0),
            modseq: 1,
            blob: rampart_model::BlobId(String::new()),
        }
    }

    fn set(s: &str) -> SequenceSet {
        s.parse().unwrap()
    }

    #[test]
    fn resolves_sequence_numbers_and_uids() {
        let view = View::new(&[msg(3, &[]), msg(5, &[]), msg(9, &[])], 1, 10);
        assert_eq!(view.resolve(&set("1:*"), false).unwrap(), vec![0, 1, 2]);
        assert_eq!(view.resolve(&set("2,1,2"), false).unwrap(), vec![0, 1]);
        assert!(view.resolve(&set("4"), false).is_err());
        assert_eq!(view.resolve(&set("4:9"), true).unwrap(), vec![1, 2]);
        assert_eq!(view.resolve(&set("100:*"), true).unwrap(), vec![2]);
        assert_eq!(
            view.resolve(&set("6:8"), true).unwrap(),
            Vec::<usize>::new()
        );
        assert_eq!(
            View::default().resolve(&set("1:*"), true).unwrap(),
            Vec::<usize>::new()
        );
        assert_eq!(
            View::default().resolve(&set("1:*"), false).unwrap(),
            Vec::<usize>::new()
        );
        assert!(View::default().resolve(&set("1"), false).is_err());
    }

    #[test]
    fn gone_messages_keep_their_numbers_until_announced() {
        let mut view = View::new(&[msg(1, &[]), msg(2, &[]), msg(3, &[])], 1, 4);
        view.mark_gone(0);
        view.mark_gone(2);
        view.push(7, &[Flag::Seen], &[]);
        assert_eq!(view.len(), 4);
        assert_eq!(view.visible(), 2);
        let announce = view.remove(&view.gone());
        assert_eq!(announce, vec![3, 1]);
        assert_eq!(view.uids(), &[2, 7]);
        assert!(view.has(1, Flag::Seen));
    }

    #[test]
    fn keywords_are_interned_and_compared_case_insensitively() {
        let mut view = View::new(&[msg(1, &[])], 1, 2);
        assert!(view.set(0, &[], &["$Forwarded".into()]));
        assert!(!view.set(0, &[], &["$forwarded".into()]));
        assert_eq!(view.keywords_in_use(), vec!["$Forwarded"]);
        assert!(view.set(0, &[], &[]));
        assert!(view.keywords_in_use().is_empty());
    }
}
