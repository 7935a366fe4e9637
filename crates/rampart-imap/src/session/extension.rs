//! The few commands and modifiers imap-codec 1.0 cannot decode yet, handled without a grammar of
//! our own: a command the codec refused is split into tokens (atoms, quoted strings, literals,
//! parentheses) and, when it is one of the forms below, either answered directly (`NAMESPACE`,
//! `ID`, `UID EXPUNGE`) or rewritten into the standard command the codec does decode, with the
//! extension's meaning carried beside it in [`Modifiers`]:
//!
//! | client sends                              | codec decodes                  | carried        |
//! |-------------------------------------------|--------------------------------|----------------|
//! | `SELECT m (CONDSTORE)`                    | `SELECT m`                     | `condstore`    |
//! | `FETCH s (FLAGS MODSEQ) (CHANGEDSINCE n)` | `FETCH s (FLAGS)`              | `fetch_modseq`, `changed_since` |
//! | `STORE s (UNCHANGEDSINCE n) +FLAGS ...`   | `STORE s +FLAGS ...`           | `unchanged_since` |
//! | `STATUS m (SIZE MESSAGES)`                | `STATUS m (MESSAGES)`          | `status_size`  |
//! | `SEARCH RETURN (MIN COUNT) keys`          | `SEARCH keys`                  | `search_return` |
//! | `LIST (SPECIAL-USE) r p RETURN (...)`     | `LIST r p`                     | `list`         |
//! | `FETCH s (FLAGS BINARY.PEEK[1]<0.9>)`     | `FETCH s (FLAGS)`              | `binary`       |
//! | `SEARCH RETURN (SAVE) keys`               | `SEARCH keys`                  | `search_return.save` |
//! | `FETCH $ ...`, `UID STORE $ ...`          | `FETCH 1:3 ...` (saved result) | `saved_empty`  |
//!
//! `$` (SEARCHRES, RFC 5182) is replaced by the session's saved search result as a concrete
//! set ([`parse_with`] is given it as [`Saved`]): in a sequence-set argument by the saved
//! sequence numbers (or UIDs, in a UID command), in SEARCH keys by `UID <uids>`. An empty saved
//! result has no set syntax: a UID command gets UID 4294967295 (which names nothing), any other
//! the placeholder `1` with `saved_empty` set, and the command then acts on no message.
//!
//! The codec is always tried first on the original bytes, so a rewrite only ever turns a `BAD`
//! into a command; everything but the modifier itself is still decoded by imap-codec. With
//! imap-codec 2 (which knows all of these) this module goes away.

use std::num::NonZeroU32;
use std::str::FromStr;

use imap_codec::imap_types::sequence::SequenceSet;

/// Extension parts of a command, decoded beside the standard part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Modifiers {
    /// `SELECT`/`EXAMINE ... (CONDSTORE)`.
    pub condstore: bool,
    /// `MODSEQ` among the FETCH items.
    pub fetch_modseq: bool,
    /// `FETCH ... (CHANGEDSINCE n)`.
    pub changed_since: Option<u64>,
    /// `STORE ... (UNCHANGEDSINCE n)`.
    pub unchanged_since: Option<u64>,
    /// `SIZE` among the STATUS items (RFC 8438, part of IMAP4rev2).
    pub status_size: bool,
    /// The STATUS items were only extension ones: the placeholder the codec needed is not
    /// reported.
    pub status_placeholder: bool,
    /// `SEARCH RETURN (...)` (ESEARCH, RFC 4731).
    pub search_return: Option<SearchReturn>,
    /// LIST-EXTENDED options (RFC 5258, 6154, 5819).
    pub list: Option<ListOptions>,
    /// `BINARY[...]`, `BINARY.PEEK[...]`, `BINARY.SIZE[...]` among the FETCH items (RFC 3516).
    pub binary: Vec<BinaryItem>,
    /// The FETCH items were only extension ones: the `UID` the codec needed stands in for
    /// them and is not reported (unless the command is a UID FETCH).
    pub fetch_placeholder: bool,
    /// `$` stood for an empty saved search result (RFC 5182): the command names no message.
    pub saved_empty: bool,
}

/// One `BINARY` FETCH item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BinaryItem {
    /// `BINARY.SIZE[...]`.
    pub size: bool,
    /// `BINARY.PEEK[...]` (does not set `\Seen`).
    pub peek: bool,
    /// The part numbers (empty: the whole message).
    pub part: Vec<NonZeroU32>,
    /// `<start.length>`.
    pub partial: Option<(u32, NonZeroU32)>,
}

impl BinaryItem {
    /// The section as the response names it: `BINARY[1.2]` / `BINARY.SIZE[1.2]`.
    pub fn response_name(&self) -> String {
        let part: Vec<String> = self.part.iter().map(|n| n.to_string()).collect();
        let name = if self.size { "BINARY.SIZE" } else { "BINARY" };
        format!("{name}[{}]", part.join("."))
    }
}

/// The saved search result (RFC 5182) as concrete sets, for `$`; empty strings when it is
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Saved {
    /// Sequence numbers, for commands that are not UID commands.
    pub seqs: String,
    pub uids: String,
}
/// What ESEARCH should report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    /// `SAVE` (SEARCHRES, RFC 5182).
    pub save: bool,
}

/// LIST-EXTENDED selection and return options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListOptions {
    pub select_subscribed: bool,
    pub select_special_use: bool,
    pub return_subscribed: bool,
    pub return_special_use: bool,
    /// `RETURN (STATUS (...))`: the STATUS items, re-encoded as a synthetic `STATUS` command's
    /// item list for the codec to decode (LIST-STATUS, RFC 5819).
    pub return_status: Option<Vec<u8>>,
}

/// A refused command this module understands.
#[derive(Debug)]
pub(crate) enum Extended {
    Namespace,
    /// `ID`, with the client's name and version when it gave them.
    Id(Option<String>),
    UidExpunge(SequenceSet),
    /// A standard command with extension parts taken out: decode `bytes` with the codec.
    Rewritten(Vec<u8>, Modifiers),
    /// `APPEND ... ~{n}` (literal8, RFC 3516): `bytes` is the command with a one-byte stand-in
    /// literal for the codec to decode; the message itself is `data` of the original command.
    Append8 {
        bytes: Vec<u8>,
        data: std::ops::Range<usize>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Atom,
    Quoted,
    /// `{n}\r\n` + data; `data` is where the data starts.
    Literal {
        data: usize,
    },
    Open,
    Close,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Most tokens looked at; longer commands are not extension forms worth rescuing.
const MAX_TOKENS: usize = 4096;

/// Splits a complete command (ending in CRLF) into tokens; `None` when it is not even
/// well-formed at that level.
fn tokenize(msg: &[u8]) -> Option<Vec<Token>> {
    let body = msg.strip_suffix(b"\r\n")?;
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if tokens.len() >= MAX_TOKENS {
            return None;
        }
        match body[i] {
            b' ' => i += 1,
            b'(' => {
                tokens.push(Token {
                    kind: Kind::Open,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b')' => {
                tokens.push(Token {
                    kind: Kind::Close,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            b'"' => {
                let end = quoted_end(body, i)?;
                tokens.push(Token {
                    kind: Kind::Quoted,
                    start: i,
                    end,
                });
                i = end;
            }
            b'{' | b'~' => {
                let (data, end) = literal_end(body, i)?;
                tokens.push(Token {
                    kind: Kind::Literal { data },
                    start: i,
                    end,
                });
                i = end;
            }
            b'\r' | b'\n' => return None,
            _ => {
                let end = atom_end(body, i)?;
                tokens.push(Token {
                    kind: Kind::Atom,
                    start: i,
                    end,
                });
                i = end;
            }
        }
    }
    Some(tokens)
}

/// The end (exclusive) of the quoted string starting at `start`.
fn quoted_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < body.len() {
        match body[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            b'\r' | b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Where the literal starting at `start` has its data, and where it ends.
fn literal_end(body: &[u8], start: usize) -> Option<(usize, usize)> {
    let open = if body[start] == b'~' {
        start + 1
    } else {
        start
    };
    if body.get(open) != Some(&b'{') {
        return None;
    }
    let close = open + body[open..].iter().position(|&b| b == b'}')?;
    let digits = body[open + 1..close]
        .strip_suffix(b"+")
        .unwrap_or(&body[open + 1..close]);
    let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    if body.get(close + 1..close + 3) != Some(b"\r\n") {
        return None;
    }
    let data = close + 3;
    let end = data.checked_add(n)?;
    (end <= body.len()).then_some((data, end))
}

/// The end of an atom-like token, with any `[...]` section (which may hold spaces, parentheses,
/// strings and literals) inside it.
fn atom_end(body: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut depth = 0usize;
    while i < body.len() {
        match body[i] {
            b'[' => {
                depth += 1;
                i += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' if depth > 0 => i = quoted_end(body, i)?,
            b'{' if depth > 0 => i = literal_end(body, i)?.1,
            b' ' | b'(' | b')' if depth == 0 => break,
            b'\r' | b'\n' => return None,
            _ => i += 1,
        }
    }
    Some(i)
}

struct Cmd<'m> {
    msg: &'m [u8],
    tokens: Vec<Token>,
}

impl<'m> Cmd<'m> {
    fn upper(&self, i: usize) -> Option<String> {
        let t = self.tokens.get(i)?;
        (t.kind == Kind::Atom)
            .then(|| String::from_utf8_lossy(&self.msg[t.start..t.end]).to_ascii_uppercase())
    }

    fn is(&self, i: usize, kind: Kind) -> bool {
        self.tokens.get(i).is_some_and(|t| t.kind == kind)
    }

    /// The index of the `)` closing the group opened at `open`.
    fn group_end(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.tokens.iter().enumerate().skip(open) {
            match t.kind {
                Kind::Open => depth += 1,
                Kind::Close => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// A string argument: atom, quoted (unescaped) or literal.
    fn string(&self, i: usize) -> Option<Vec<u8>> {
        let t = self.tokens.get(i)?;
        let raw = &self.msg[t.start..t.end];
        match t.kind {
            Kind::Atom => Some(raw.to_vec()),
            Kind::Quoted => {
                let inner = &raw[1..raw.len() - 1];
                let mut s = Vec::with_capacity(inner.len());
                let mut escaped = false;
                for &b in inner {
                    if escaped || b != b'\\' {
                        s.push(b);
                        escaped = false;
                    } else {
                        escaped = true;
                    }
                }
                Some(s)
            }
            Kind::Literal { data } => Some(self.msg[data..t.end].to_vec()),
            Kind::Open | Kind::Close => None,
        }
    }

    /// The command with the tokens `from..=to` removed (and, if given, `replacement` in their
    /// place).
    fn without(&self, from: usize, to: usize, replacement: Option<&[u8]>) -> Vec<u8> {
        let start = self.tokens[from].start;
        let end = self.tokens[to].end;
        let mut out = Vec::with_capacity(self.msg.len());
        match replacement {
            Some(r) => {
                out.extend_from_slice(&self.msg[..start]);
                out.extend_from_slice(r);
                out.extend_from_slice(&self.msg[end..]);
            }
            None => {
                let span = span_with_space(self.msg, start, end);
                out.extend_from_slice(&self.msg[..span.start]);
                out.extend_from_slice(&self.msg[span.end..]);
            }
        }
        out
    }
}

/// [`parse_with`] without a saved search result (`$` is the empty set).
pub(crate) fn parse(msg: &[u8]) -> Option<Extended> {
    parse_with(msg, &Saved::default())
}

/// Recognises a command the codec refused; `None` leaves it a `BAD`. `$` is replaced by
/// `saved` first (see the module documentation).
pub(crate) fn parse_with(msg: &[u8], saved: &Saved) -> Option<Extended> {
    let Some((bytes, empty)) = substitute_saved(msg, saved) else {
        return parse_plain(msg);
    };
    match parse_plain(&bytes) {
        Some(Extended::Rewritten(b, mut m)) => {
            m.saved_empty = empty;
            Some(Extended::Rewritten(b, m))
        }
        Some(other) => Some(other),
        None => Some(Extended::Rewritten(
            bytes,
            Modifiers {
                saved_empty: empty,
                ..Default::default()
            },
        )),
    }
}

/// The command with every `$` replaced by the saved result, and whether that result was empty
/// where an empty set cannot be written; `None` when there is no `$` to replace.
fn substitute_saved(msg: &[u8], saved: &Saved) -> Option<(Vec<u8>, bool)> {
    /// A UID no message has: an empty set of UIDs.
    const NO_UID: &str = "4294967295";
    let tokens = tokenize(msg)?;
    let cmd = Cmd { msg, tokens };
    let mut name = cmd.upper(1)?;
    let uid = name == "UID";
    let at = if uid { 2 } else { 1 };
    if uid {
        name = cmd.upper(2)?;
    }
    let dollar = |i: usize| {
        cmd.tokens
            .get(i)
            .is_some_and(|t| t.kind == Kind::Atom && &msg[t.start..t.end] == b"$")
    };
    let uids = if saved.uids.is_empty() {
        NO_UID
    } else {
        saved.uids.as_str()
    };
    let mut replace: Vec<(usize, String)> = Vec::new();
    let mut empty = false;
    match (uid, name.as_str()) {
        (_, "FETCH" | "STORE" | "COPY" | "MOVE") | (true, "EXPUNGE") if dollar(at + 1) => {
            let set = if uid {
                uids.to_string()
            } else if saved.seqs.is_empty() {
                empty = true;
                "1".to_string()
            } else {
                saved.seqs.clone()
            };
            replace.push((at + 1, set));
        }
        (_, "SEARCH") => {
            for i in at + 1..cmd.tokens.len() {
                if dollar(i) {
                    let set = if cmd.upper(i - 1).as_deref() == Some("UID") {
                        uids.to_string()
                    } else {
                        format!("UID {uids}")
                    };
                    replace.push((i, set));
                }
            }
        }
        _ => {}
    }
    if replace.is_empty() {
        return None;
    }
    let mut out = msg.to_vec();
    for (i, set) in replace.iter().rev() {
        let t = cmd.tokens[*i];
        out.splice(t.start..t.end, set.bytes());
    }
    Some((out, empty))
}

fn parse_plain(msg: &[u8]) -> Option<Extended> {
    let tokens = tokenize(msg)?;
    let cmd = Cmd { msg, tokens };
    let mut name = cmd.upper(1)?;
    let uid = name == "UID";
    let at = if uid { 2 } else { 1 };
    if uid {
        name = cmd.upper(2)?;
    }
    match (uid, name.as_str()) {
        (false, "NAMESPACE") if cmd.tokens.len() == 2 => Some(Extended::Namespace),
        (false, "APPEND") => append8(&cmd),
        (false, "ID") => id(&cmd),
        (true, "EXPUNGE") if cmd.tokens.len() == 4 => {
            let set = std::str::from_utf8(&msg[cmd.tokens[3].start..cmd.tokens[3].end]).ok()?;
            SequenceSet::from_str(set).ok().map(Extended::UidExpunge)
        }
        (false, "SELECT" | "EXAMINE") => select(&cmd),
        (_, "FETCH") => fetch(&cmd, at),
        (_, "STORE") => store(&cmd, at),
        (false, "STATUS") => status(&cmd),
        (_, "SEARCH") => search(&cmd, at),
        (false, "LIST") => list(&cmd),
        _ => None,
    }
}

fn id(cmd: &Cmd<'_>) -> Option<Extended> {
    if cmd.upper(2).as_deref() == Some("NIL") && cmd.tokens.len() == 3 {
        return Some(Extended::Id(None));
    }
    if !cmd.is(2, Kind::Open) || cmd.group_end(2)? != cmd.tokens.len() - 1 {
        return None;
    }
    let mut name = None;
    let mut version = None;
    let mut i = 3;
    let last = cmd.tokens.len() - 1;
    // RFC 2971: at most 30 pairs, fields up to 30 octets, values up to 1024.
    let mut pairs = 0;
    while i < last {
        let key = cmd.string(i)?;
        let value = cmd.string(i + 1)?;
        let is_nil = cmd.upper(i + 1).as_deref() == Some("NIL");
        pairs += 1;
        if pairs > 30 || key.len() > 30 || value.len() > 1024 {
            return None;
        }
        let value = (!is_nil).then(|| printable(&value));
        match key.to_ascii_lowercase().as_slice() {
            b"name" => name = value,
            b"version" => version = value,
            _ => {}
        }
        i += 2;
    }
    if i != last {
        return None;
    }
    let agent = match (name, version) {
        (Some(n), Some(v)) => Some(format!("{n}/{v}")),
        (Some(n), None) => Some(n),
        _ => None,
    };
    Some(Extended::Id(agent))
}

/// A client-supplied value made safe for logs and events: printable, one line, bounded.
fn printable(v: &[u8]) -> String {
    String::from_utf8_lossy(v)
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect()
}

fn select(cmd: &Cmd<'_>) -> Option<Extended> {
    // tag SELECT mailbox (params)
    let last = cmd.tokens.len().checked_sub(1)?;
    if !cmd.is(3, Kind::Open) || cmd.group_end(3)? != last {
        return None;
    }
    let mut m = Modifiers::default();
    for i in 4..last {
        match cmd.upper(i)?.as_str() {
            "CONDSTORE" => m.condstore = true,
            _ => return None,
        }
    }
    Some(Extended::Rewritten(cmd.without(3, last, None), m))
}

fn fetch(cmd: &Cmd<'_>, at: usize) -> Option<Extended> {
    // tag [UID] FETCH set items [modifiers]
    let items = at + 2;
    let mut m = Modifiers::default();
    let items_end = if cmd.is(items, Kind::Open) {
        cmd.group_end(items)?
    } else {
        items
    };
    let last = cmd.tokens.len().checked_sub(1)?;
    let mut rewritten: Vec<u8>;
    if items_end < last {
        // A modifier list: (CHANGEDSINCE n)
        let open = items_end + 1;
        if !cmd.is(open, Kind::Open) || cmd.group_end(open)? != last {
            return None;
        }
        let mut i = open + 1;
        while i < last {
            match cmd.upper(i)?.as_str() {
                "CHANGEDSINCE" => {
                    m.changed_since = Some(cmd.upper(i + 1)?.parse().ok()?);
                    m.fetch_modseq = true;
                    i += 2;
                }
                _ => return None,
            }
        }
        m.changed_since?;
        rewritten = cmd.without(open, last, None);
    } else {
        rewritten = cmd.msg.to_vec();
    }
    // MODSEQ and BINARY items: taken out (a list left empty, or a lone item, becomes UID).
    let mut remove: Vec<usize> = Vec::new();
    for i in items..=items_end {
        let Some(name) = cmd.upper(i) else {
            continue;
        };
        if name == "MODSEQ" {
            m.fetch_modseq = true;
            remove.push(i);
        } else if name.starts_with("BINARY") {
            m.binary.push(binary_item(&name)?);
            remove.push(i);
        }
    }
    if !remove.is_empty() {
        let inner = if items_end > items {
            items_end - items - 1
        } else {
            1
        };
        let sub = Cmd {
            msg: &rewritten,
            tokens: tokenize(&rewritten)?,
        };
        rewritten = if inner == remove.len() {
            m.fetch_placeholder = true;
            sub.without(items, items_end, Some(b"UID"))
        } else {
            // Remove from the back so earlier spans stay valid.
            let mut out = rewritten.clone();
            for &i in remove.iter().rev() {
                let t = sub.tokens[i];
                out.drain(span_with_space(&out, t.start, t.end));
            }
            out
        };
    }
    if m == Modifiers::default() {
        return None;
    }
    Some(Extended::Rewritten(rewritten, m))
}

fn append8(cmd: &Cmd<'_>) -> Option<Extended> {
    // tag APPEND mailbox [flags] [date] ~{n}\r\ndata: the message is the last token.
    let last = cmd.tokens.len().checked_sub(1)?;
    let t = cmd.tokens[last];
    let Kind::Literal { data } = t.kind else {
        return None;
    };
    if cmd.msg[t.start] != b'~' || last < 3 {
        return None;
    }
    Some(Extended::Append8 {
        bytes: cmd.without(last, last, Some(b"{1}\r\nX")),
        data: data..t.end,
    })
}

/// `BINARY[1.2]<0.100>`, `BINARY.PEEK[...]`, `BINARY.SIZE[...]` (upper case).
fn binary_item(name: &str) -> Option<BinaryItem> {
    let (size, peek, rest) = if let Some(r) = name.strip_prefix("BINARY.PEEK[") {
        (false, true, r)
    } else if let Some(r) = name.strip_prefix("BINARY.SIZE[") {
        (true, false, r)
    } else {
        (false, false, name.strip_prefix("BINARY[")?)
    };
    let (section, tail) = rest.split_once(']')?;
    let mut part = Vec::new();
    if !section.is_empty() {
        for n in section.split('.') {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || part.len() >= 64 {
                return None;
            }
            part.push(n.parse::<NonZeroU32>().ok()?);
        }
    }
    let partial = if tail.is_empty() {
        None
    } else {
        let (start, len) = tail.strip_prefix('<')?.strip_suffix('>')?.split_once('.')?;
        if size
            || ![start, len]
                .iter()
                .all(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        Some((start.parse().ok()?, len.parse().ok()?))
    };
    Some(BinaryItem {
        size,
        peek,
        part,
        partial,
    })
}

/// The span of a token with one adjacent space (the one before it, else the one after it), so
/// removing it leaves single spaces between what remains.
fn span_with_space(msg: &[u8], start: usize, end: usize) -> std::ops::Range<usize> {
    if start > 0 && msg[start - 1] == b' ' {
        start - 1..end
    } else if msg.get(end) == Some(&b' ') {
        start..end + 1
    } else {
        start..end
    }
}

fn store(cmd: &Cmd<'_>, at: usize) -> Option<Extended> {
    // tag [UID] STORE set (UNCHANGEDSINCE n) op flags
    let open = at + 2;
    if !cmd.is(open, Kind::Open) {
        return None;
    }
    let close = cmd.group_end(open)?;
    if close != open + 3 || cmd.upper(open + 1)?.as_str() != "UNCHANGEDSINCE" {
        return None;
    }
    let m = Modifiers {
        unchanged_since: Some(cmd.upper(open + 2)?.parse().ok()?),
        ..Default::default()
    };
    Some(Extended::Rewritten(cmd.without(open, close, None), m))
}

fn status(cmd: &Cmd<'_>) -> Option<Extended> {
    // tag STATUS mailbox (items)
    let last = cmd.tokens.len().checked_sub(1)?;
    if !cmd.is(3, Kind::Open) || cmd.group_end(3)? != last {
        return None;
    }
    let mut m = Modifiers::default();
    let mut keep = Vec::new();
    for i in 4..last {
        let item = cmd.upper(i)?;
        if item == "SIZE" {
            m.status_size = true;
        } else {
            keep.push(item);
        }
    }
    if !m.status_size {
        return None;
    }
    if keep.is_empty() {
        m.status_placeholder = true;
        keep.push("MESSAGES".into());
    }
    let list = format!("({})", keep.join(" "));
    Some(Extended::Rewritten(
        cmd.without(3, last, Some(list.as_bytes())),
        m,
    ))
}

fn search(cmd: &Cmd<'_>, at: usize) -> Option<Extended> {
    // tag [UID] SEARCH RETURN (opts) keys
    if cmd.upper(at + 1).as_deref() != Some("RETURN") || !cmd.is(at + 2, Kind::Open) {
        return None;
    }
    let close = cmd.group_end(at + 2)?;
    let mut r = SearchReturn::default();
    for i in at + 3..close {
        match cmd.upper(i)?.as_str() {
            "MIN" => r.min = true,
            "MAX" => r.max = true,
            "ALL" => r.all = true,
            "COUNT" => r.count = true,
            "SAVE" => r.save = true,
            _ => return None,
        }
    }
    if r == SearchReturn::default() {
        // RFC 4731: `RETURN ()` means `RETURN (ALL)`.
        r.all = true;
    }
    let m = Modifiers {
        search_return: Some(r),
        ..Default::default()
    };
    Some(Extended::Rewritten(cmd.without(at + 1, close, None), m))
}

fn list(cmd: &Cmd<'_>) -> Option<Extended> {
    // tag LIST [(select-opts)] reference pattern [RETURN (return-opts)]
    let mut o = ListOptions::default();
    let mut msg = cmd.msg.to_vec();
    let mut changed = false;
    let last = cmd.tokens.len().checked_sub(1)?;
    // The RETURN options first: removing them leaves earlier spans valid.
    let mut end = last;
    if cmd.is(last, Kind::Close) {
        let open = (0..last)
            .rev()
            .find(|&i| cmd.is(i, Kind::Open) && cmd.group_end(i) == Some(last))?;
        if open >= 1 && cmd.upper(open - 1).as_deref() == Some("RETURN") {
            let mut i = open + 1;
            while i < last {
                match cmd.upper(i)?.as_str() {
                    "SUBSCRIBED" => o.return_subscribed = true,
                    "SPECIAL-USE" => o.return_special_use = true,
                    "CHILDREN" => {}
                    "STATUS" if cmd.is(i + 1, Kind::Open) => {
                        let close = cmd.group_end(i + 1)?;
                        o.return_status =
                            Some(cmd.msg[cmd.tokens[i + 1].start..cmd.tokens[close].end].to_vec());
                        i = close;
                    }
                    _ => return None,
                }
                i += 1;
            }
            msg = cmd.without(open - 1, last, None);
            changed = true;
            end = open - 2;
        }
    }
    if cmd.is(2, Kind::Open) {
        let close = cmd.group_end(2)?;
        if close >= end {
            return None;
        }
        for i in 3..close {
            match cmd.upper(i)?.as_str() {
                "SUBSCRIBED" => o.select_subscribed = true,
                "SPECIAL-USE" => o.select_special_use = true,
                "RECURSIVEMATCH" | "REMOTE" => {}
                _ => return None,
            }
        }
        let sub = Cmd {
            msg: &msg,
            tokens: tokenize(&msg)?,
        };
        msg = sub.without(2, close, None);
        changed = true;
    }
    if !changed {
        return None;
    }
    let m = Modifiers {
        list: Some(o),
        ..Default::default()
    };
    Some(Extended::Rewritten(msg, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(input: &str) -> (String, Modifiers) {
        match parse(input.as_bytes()) {
            Some(Extended::Rewritten(b, m)) => (String::from_utf8(b).unwrap(), m),
            other => panic!("{input:?}: {other:?}"),
        }
    }

    #[test]
    fn takes_condstore_modifiers_out() {
        let (b, m) = rewritten("a SELECT INBOX (CONDSTORE)\r\n");
        assert_eq!(b, "a SELECT INBOX\r\n");
        assert!(m.condstore);
        let (b, m) = rewritten("a UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12)\r\n");
        assert_eq!(b, "a UID FETCH 1:* (FLAGS)\r\n");
        assert_eq!(m.changed_since, Some(12));
        assert!(m.fetch_modseq);
        let (b, _) = rewritten("a FETCH 1 (MODSEQ FLAGS)\r\n");
        assert_eq!(b, "a FETCH 1 (FLAGS)\r\n");
        let (b, _) = rewritten("a FETCH 1 MODSEQ\r\n");
        assert_eq!(b, "a FETCH 1 UID\r\n");
        let (b, _) = rewritten("a FETCH 1 (MODSEQ)\r\n");
        assert_eq!(b, "a FETCH 1 UID\r\n");
        let (b, m) = rewritten("a STORE 1:3 (UNCHANGEDSINCE 7) +FLAGS (\\Seen)\r\n");
        assert_eq!(b, "a STORE 1:3 +FLAGS (\\Seen)\r\n");
        assert_eq!(m.unchanged_since, Some(7));
    }

    #[test]
    fn sections_with_spaces_and_literals_stay_whole() {
        let (b, _) =
            rewritten("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE {4}\r\nFROM)] MODSEQ)\r\n");
        assert_eq!(
            b,
            "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (DATE {4}\r\nFROM)])\r\n"
        );
    }

    #[test]
    fn status_search_and_list_extensions() {
        let (b, m) = rewritten("a STATUS INBOX (SIZE)\r\n");
        assert_eq!(b, "a STATUS INBOX (MESSAGES)\r\n");
        assert!(m.status_size && m.status_placeholder);
        let (b, m) = rewritten("a UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n");
        assert_eq!(b, "a UID SEARCH UNSEEN\r\n");
        assert_eq!(
            m.search_return,
            Some(SearchReturn {
                min: true,
                count: true,
                ..Default::default()
            })
        );
        let (b, m) = rewritten("a LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES))\r\n");
        assert_eq!(b, "a LIST \"\" *\r\n");
        let o = m.list.unwrap();
        assert!(o.select_special_use);
        assert_eq!(o.return_status.as_deref(), Some(&b"(MESSAGES)"[..]));
    }

    #[test]
    fn binary_items_are_taken_out() {
        let (b, m) = rewritten("a FETCH 1:2 (FLAGS BINARY.PEEK[1.2]<0.10> BINARY.SIZE[])\r\n");
        assert_eq!(b, "a FETCH 1:2 (FLAGS)\r\n");
        assert!(!m.fetch_placeholder);
        let one = NonZeroU32::new(1).unwrap();
        let two = NonZeroU32::new(2).unwrap();
        let ten = NonZeroU32::new(10).unwrap();
        assert_eq!(
            m.binary,
            vec![
                BinaryItem {
                    size: false,
                    peek: true,
                    part: vec![one, two],
                    partial: Some((0, ten)),
                },
                BinaryItem {
                    size: true,
                    peek: false,
                    part: vec![],
                    partial: None,
                },
            ]
        );
        assert_eq!(m.binary[0].response_name(), "BINARY[1.2]");
        let (b, m) = rewritten("a UID FETCH 5 binary[2]\r\n");
        assert_eq!(b, "a UID FETCH 5 UID\r\n");
        assert!(m.fetch_placeholder && !m.binary[0].peek);
        for bad in [
            "a FETCH 1 BINARY[0]\r\n",
            "a FETCH 1 BINARY[1.]\r\n",
            "a FETCH 1 BINARY.SIZE[1]<0.5>\r\n",
            "a FETCH 1 BINARY[1]<0.0>\r\n",
            "a FETCH 1 BINARY[TEXT]\r\n",
            "a FETCH 1 BINARYX\r\n",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn saved_result_replaces_dollar() {
        let saved = Saved {
            seqs: "2:3".into(),
            uids: "7,9".into(),
        };
        let with = |input: &str, saved: &Saved| match parse_with(input.as_bytes(), saved) {
            Some(Extended::Rewritten(b, m)) => (String::from_utf8(b).unwrap(), m),
            other => panic!("{input:?}: {other:?}"),
        };
        assert_eq!(
            with("a FETCH $ FLAGS\r\n", &saved).0,
            "a FETCH 2:3 FLAGS\r\n"
        );
        assert_eq!(
            with("a UID STORE $ +FLAGS (\\Seen)\r\n", &saved).0,
            "a UID STORE 7,9 +FLAGS (\\Seen)\r\n"
        );
        assert_eq!(with("a MOVE $ Trash\r\n", &saved).0, "a MOVE 2:3 Trash\r\n");
        assert_eq!(
            with("a UID SEARCH UID $ NOT $\r\n", &saved).0,
            "a UID SEARCH UID 7,9 NOT UID 7,9\r\n"
        );
        let (b, m) = with("a FETCH $ (FLAGS MODSEQ)\r\n", &saved);
        assert_eq!(b, "a FETCH 2:3 (FLAGS)\r\n");
        assert!(m.fetch_modseq && !m.saved_empty);
        let (b, m) = with("a COPY $ Trash\r\n", &Saved::default());
        assert_eq!(b, "a COPY 1 Trash\r\n");
        assert!(m.saved_empty);
        let (b, m) = with("a UID FETCH $ FLAGS\r\n", &Saved::default());
        assert_eq!(b, "a UID FETCH 4294967295 FLAGS\r\n");
        assert!(!m.saved_empty);
        assert!(matches!(
            parse_with(b"a UID EXPUNGE $\r\n", &saved),
            Some(Extended::UidExpunge(_))
        ));
        // A `$` that is a mailbox name or a string stays.
        assert!(parse_with(b"a COPY 1 $\r\n", &saved).is_none());
        assert!(parse_with(b"a SEARCH SUBJECT \"$\"\r\n", &saved).is_none());
        let (b, m) = rewritten("a SEARCH RETURN (SAVE) UNSEEN\r\n");
        assert_eq!(b, "a SEARCH UNSEEN\r\n");
        let r = m.search_return.unwrap();
        assert!(r.save && !r.all);
    }

    #[test]
    fn append_with_a_literal8() {
        let msg = b"a APPEND INBOX (\\Seen) ~{5}\r\nx\0y\r\n\r\n";
        match parse(msg) {
            Some(Extended::Append8 { bytes, data }) => {
                assert_eq!(bytes, b"a APPEND INBOX (\\Seen) {1}\r\nX\r\n");
                assert_eq!(&msg[data], b"x\0y\r\n");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(b"a APPEND INBOX {3}\r\nabc\r\n").is_none());
        assert!(parse(b"a APPEND ~{3}\r\nabc\r\n").is_none());
    }

    #[test]
    fn namespace_id_and_uid_expunge() {
        assert!(matches!(
            parse(b"a NAMESPACE\r\n"),
            Some(Extended::Namespace)
        ));
        match parse(b"a ID (\"name\" \"Thunderbird\" \"version\" {5}\r\n128.0)\r\n") {
            Some(Extended::Id(Some(agent))) => assert_eq!(agent, "Thunderbird/128.0"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(b"a ID NIL\r\n"), Some(Extended::Id(None))));
        assert!(matches!(
            parse(b"a UID EXPUNGE 1:5,7\r\n"),
            Some(Extended::UidExpunge(_))
        ));
        assert!(parse(b"a UID EXPUNGE x\r\n").is_none());
    }

    #[test]
    fn garbage_is_left_alone() {
        for input in [
            &b"\r\n"[..],
            b"a\r\n",
            b"a FETCH\r\n",
            b"a FETCH 1 (((\r\n",
            b"a SELECT x (\r\n",
            b"a ID (\"x\"\r\n",
            b"a LIST ) RETURN (\r\n",
            b"a STORE 1 (UNCHANGEDSINCE) +FLAGS x\r\n",
            b"a FETCH 1 {99}\r\nx\r\n",
            b"\"unterminated\r\n",
        ] {
            assert!(
                !matches!(parse(input), Some(Extended::Rewritten(..))) || input.len() > 10,
                "{input:?}"
            );
        }
    }
}
