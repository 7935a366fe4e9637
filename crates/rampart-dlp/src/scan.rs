//! The single pass over the (normalised) text.
//!
//! The walk visits every ASCII word once. A word of digits (optionally ending in `X`) starts a
//! *number token*: it and the digit groups that follow it, each after exactly one separator
//! (space, `-`, `.`), up to [`MAX_GROUPS`]. Every contiguous run of groups ("window") of 9 to 19
//! characters is read against each number standard, with the layouts people actually write
//! (`4-4-4-4`, `6-8-4`, `3-4-4`, `3-2-4`, ...). Candidates of one token never overlap: the longest
//! wins. A mixed word (letters and digits) is read as an IBAN (with its following groups), a
//! USCC or a passport number; an `@` is read as the middle of an e-mail address. Context is only
//! looked up for tokens that produced a valid candidate.

use crate::checks::{self, CardBrand, ResidentId, Uscc};
use crate::context::{self as cx};
use crate::mask::{compact, mask, mask_email};
use crate::normalize::Normalized;
use crate::{Confidence, Detectors, Entity, Match};

/// Digit groups per number token; longer runs of groups start a new token.
const MAX_GROUPS: usize = 8;
/// Longest number read (19-digit cards).
const MAX_DIGITS: usize = 19;
/// Shortest number read (US SSN).
const MIN_DIGITS: usize = 9;
/// Marks a number glued into a compound word (`ORD-…`, `….BDW22`): never delimited.
const GLUED: u8 = 0xFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ResidentId,
    BankCard,
    CreditCard,
    Mobile,
    Uscc,
    Passport,
    Ssn,
    Iban,
    Email,
}

impl Kind {
    fn entity(self) -> Entity {
        match self {
            Kind::ResidentId => Entity::CnResidentId,
            Kind::BankCard => Entity::CnBankCard,
            Kind::CreditCard => Entity::CreditCard,
            Kind::Mobile => Entity::CnMobile,
            Kind::Uscc => Entity::CnUscc,
            Kind::Passport => Entity::CnPassport,
            Kind::Ssn => Entity::UsSsn,
            Kind::Iban => Entity::IbanCode,
            Kind::Email => Entity::EmailAddress,
        }
    }
}

/// A candidate in normalised offsets.
#[derive(Debug, Clone, Copy)]
struct Found {
    kind: Kind,
    start: usize,
    end: usize,
    confidence: Confidence,
}

#[derive(Debug, Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
}

impl Group {
    fn len(self) -> usize {
        self.end - self.start
    }
}

pub(crate) fn scan(detectors: &Detectors, text: &str) -> Vec<Match> {
    let norm = Normalized::new(text);
    let s: &str = &norm.text;
    let mut walk = Walk {
        d: detectors,
        s,
        b: s.as_bytes(),
        found: Vec::new(),
    };
    walk.run();

    let mut matches: Vec<Match> = Vec::with_capacity(walk.found.len());
    for f in walk.found {
        let span = &s[f.start..f.end];
        let masked = match f.kind {
            Kind::Email => mask_email(span),
            _ => mask(&compact(span)),
        };
        matches.push(Match {
            entity: f.kind.entity(),
            rule: None,
            start: norm.original(f.start),
            end: norm.original(f.end),
            confidence: f.confidence,
            masked,
        });
    }

    let mut hits = Vec::new();
    detectors.dictionaries.find(s, &mut hits);
    for h in hits.drain(..) {
        let (name, confidence) = &detectors.dictionaries.rules[h.rule];
        matches.push(admin_match(
            &norm,
            Entity::Keyword(name.clone()),
            name,
            *confidence,
            h.start,
            h.end,
        ));
    }
    detectors.patterns.find(s, &mut hits);
    for h in hits {
        let (name, confidence) = &detectors.patterns.rules[h.rule];
        matches.push(admin_match(
            &norm,
            Entity::Pattern(name.clone()),
            name,
            *confidence,
            h.start,
            h.end,
        ));
    }

    matches.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut last_end: Vec<(Entity, usize)> = Vec::new();
    matches.retain(
        |m| match last_end.iter_mut().find(|(e, _)| *e == m.entity) {
            Some((_, end)) if m.start < *end => false,
            Some((_, end)) => {
                *end = m.end;
                true
            }
            None => {
                last_end.push((m.entity.clone(), m.end));
                true
            }
        },
    );
    matches
}

fn admin_match(
    norm: &Normalized<'_>,
    entity: Entity,
    rule: &str,
    confidence: Confidence,
    start: usize,
    end: usize,
) -> Match {
    Match {
        entity,
        rule: Some(rule.to_string()),
        start: norm.original(start),
        end: norm.original(end),
        confidence,
        masked: mask(&norm.text[start..end]),
    }
}

/// End of the ASCII alphanumeric word starting at `i`, and how many of its bytes are digits.
fn word(b: &[u8], i: usize) -> (usize, usize) {
    let mut j = i;
    let mut digits = 0;
    while j < b.len() && b[j].is_ascii_alphanumeric() {
        digits += usize::from(b[j].is_ascii_digit());
        j += 1;
    }
    (j, digits)
}

/// Digits, or digits ending in one `X`/`x` (the resident ID check character).
fn is_number_word(b: &[u8], start: usize, end: usize, digits: usize) -> bool {
    let len = end - start;
    digits == len || (len > 1 && digits + 1 == len && (b[end - 1] | 0x20) == b'x')
}

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn layout_is(groups: &[Group], sizes: &[usize]) -> bool {
    groups.len() == sizes.len() && groups.iter().zip(sizes).all(|(g, &s)| g.len() == s)
}

/// How payment card numbers are printed: one block, blocks of four (the last shorter), or the
/// Amex/Diners 4-6-5 / 4-6-4.
fn card_layout(groups: &[Group]) -> bool {
    let n = groups.len();
    n == 1
        || (n >= 3
            && groups[..n - 1].iter().all(|g| g.len() == 4)
            && (1..=4).contains(&groups[n - 1].len()))
        || layout_is(groups, &[4, 6, 5])
        || layout_is(groups, &[4, 6, 4])
}

/// Whether the number starting at `start` continues a compound word on its left: `ORD-…`,
/// `--…` (MIME boundaries), `x.…`, `a_…`, `path/…`.
fn glued_left(b: &[u8], start: usize) -> bool {
    start >= 2
        && matches!(b[start - 1], b'-' | b'.' | b'_' | b'/')
        && (b[start - 2].is_ascii_alphanumeric() || b[start - 2] == b[start - 1])
}

/// Whether the number ending at `end` continues into a compound word on its right (`….BDW22`,
/// `…-abc`), or is the local part of an address (`…@`; the address is reported instead).
fn glued_right(b: &[u8], end: usize) -> bool {
    end < b.len()
        && (b[end] == b'@'
            || (end + 1 < b.len()
                && matches!(b[end], b'-' | b'.' | b'_' | b'/')
                && (b[end + 1].is_ascii_alphanumeric() || b[end + 1] == b[end])))
}

/// Start of a `+86` / `(+86)` / `0086` country prefix written just before `pos`.
fn cn_country_prefix(b: &[u8], pos: usize) -> Option<usize> {
    let mut p = pos;
    if p > 0 && matches!(b[p - 1], b' ' | b'-') {
        p -= 1;
    }
    let paren = p > 0 && b[p - 1] == b')';
    if paren {
        p -= 1;
    }
    if p >= 3 && &b[p - 3..p] == b"+86" {
        let s = p - 3;
        return Some(if paren && s > 0 && b[s - 1] == b'(' {
            s - 1
        } else {
            s
        });
    }
    if !paren && p >= 4 && &b[p - 4..p] == b"0086" && (p == 4 || !b[p - 5].is_ascii_alphanumeric())
    {
        return Some(p - 4);
    }
    None
}

struct Walk<'a> {
    d: &'a Detectors,
    s: &'a str,
    b: &'a [u8],
    found: Vec<Found>,
}

impl Walk<'_> {
    fn run(&mut self) {
        let b = self.b;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_alphanumeric() {
                let (end, digits) = word(b, i);
                i = if is_number_word(b, i, end, digits) {
                    self.number_token(i, end)
                } else if digits > 0 && end - i >= 4 {
                    self.mixed_word(i, end)
                } else {
                    end
                };
            } else {
                if c == b'@' {
                    self.email(i);
                }
                i += 1;
            }
        }
    }

    fn context(&self, cache: &mut Option<u16>, start: usize, end: usize) -> u16 {
        *cache.get_or_insert_with(|| {
            self.d
                .context
                .around(self.s, start, end, self.d.context_window)
        })
    }

    /// Collects the groups of the number token starting with the word `[start, end)`, reads
    /// every window, keeps the longest non-overlapping candidates. Returns where the walk goes on.
    fn number_token(&mut self, start: usize, end: usize) -> usize {
        let b = self.b;
        let mut groups = [Group::default(); MAX_GROUPS];
        let mut seps = [0u8; MAX_GROUPS];
        groups[0] = Group { start, end };
        let mut n = 1;
        let mut pos = end;
        while n < MAX_GROUPS && (b[pos - 1] | 0x20) != b'x' {
            if pos + 1 < b.len()
                && matches!(b[pos], b' ' | b'-' | b'.')
                && b[pos + 1].is_ascii_digit()
            {
                let (ge, digits) = word(b, pos + 1);
                if !is_number_word(b, pos + 1, ge, digits) {
                    break;
                }
                seps[n - 1] = b[pos];
                groups[n] = Group {
                    start: pos + 1,
                    end: ge,
                };
                n += 1;
                pos = ge;
            } else {
                break;
            }
        }
        // A chain longer than a token ends at its last space, so the next token starts at a clean
        // boundary rather than in the middle of a dashed number.
        let continues = |pos: usize| {
            pos + 1 < b.len() && matches!(b[pos], b' ' | b'-' | b'.') && b[pos + 1].is_ascii_digit()
        };
        if n == MAX_GROUPS && continues(pos) {
            if let Some(k) = (1..n).rev().find(|&k| seps[k - 1] == b' ') {
                n = k;
                pos = groups[k - 1].end;
            }
        }
        let groups = &groups[..n];
        if groups.iter().map(|g| g.len()).sum::<usize>() < MIN_DIGITS {
            return pos;
        }
        // What joins the token to the text around it: a separator before/after a digit group
        // outside the token, or `GLUED` for a compound word.
        let left = if glued_left(b, start) {
            Some(GLUED)
        } else {
            (start >= 2 && b[start - 1] == b' ' && b[start - 2].is_ascii_digit()).then_some(b' ')
        };
        let right = if glued_right(b, pos) {
            Some(GLUED)
        } else {
            continues(pos).then(|| b[pos])
        };
        let mut candidates: Vec<Found> = Vec::new();
        let mut context = None;
        for i in 0..n {
            let mut len = 0;
            for j in i..n {
                len += groups[j].len();
                if len > MAX_DIGITS {
                    break;
                }
                if len >= MIN_DIGITS {
                    self.window(
                        groups,
                        &seps[..n - 1],
                        (i, j),
                        len,
                        (left, right),
                        &mut context,
                        &mut candidates,
                    );
                }
            }
        }
        candidates.sort_by(|a, b| {
            (b.end - b.start)
                .cmp(&(a.end - a.start))
                .then(b.confidence.cmp(&a.confidence))
        });
        let first = self.found.len();
        for c in candidates {
            if self.found[first..]
                .iter()
                .all(|f| c.end <= f.start || f.end <= c.start)
            {
                self.found.push(c);
            }
        }
        pos
    }

    /// Reads groups `i..=j` (`len` characters) against every number standard. `outer`: what joins
    /// the token's first and last group to the text outside it.
    #[allow(clippy::too_many_arguments)]
    fn window(
        &self,
        groups: &[Group],
        seps: &[u8],
        (i, j): (usize, usize),
        len: usize,
        outer: (Option<u8>, Option<u8>),
        context: &mut Option<u16>,
        out: &mut Vec<Found>,
    ) {
        let b = self.b;
        let win = &groups[i..=j];
        let single = i == j;
        let sep = if single { 0 } else { seps[i] };
        if !seps[i..j].iter().all(|&s| s == sep) {
            return;
        }
        // A window must be delimited: no neighbour group hyphen- or dot-joined to it, and no
        // neighbour continuing a spaced layout.
        let joined = |s: u8| s != b' ' || (!single && sep == b' ');
        let left = if i > 0 { Some(seps[i - 1]) } else { outer.0 };
        let right = if j + 1 < groups.len() {
            Some(seps[j])
        } else {
            outer.1
        };
        let left_joined = left.is_some_and(joined);
        let right_joined = right.is_some_and(joined);
        let (start, end) = (win[0].start, win[win.len() - 1].end);
        let token = (groups[0].start, groups[groups.len() - 1].end);

        let mut buf = [0u8; MAX_DIGITS];
        let mut k = 0;
        for g in win {
            for &c in &b[g.start..g.end] {
                buf[k] = c.to_ascii_uppercase();
                k += 1;
            }
        }
        let d = &buf[..len];
        let has_x = d[len - 1] == b'X';
        if has_x && len != 18 {
            return;
        }
        let mut push = |kind, start, end, confidence| {
            out.push(Found {
                kind,
                start,
                end,
                confidence,
            })
        };

        // Mobile numbers, with an optional +86 / 0086 that may be the left neighbour group.
        // Without a checksum, dotted groups (`178.00008157`, message ids) are not read as one.
        let mobile_layout =
            single || (sep != b'.' && (layout_is(win, &[3, 4, 4]) || layout_is(win, &[3, 8])));
        if len == 11 && mobile_layout && checks::is_cn_mobile(d) {
            let prefix = cn_country_prefix(b, start);
            if !right_joined && (!left_joined || prefix.is_some()) {
                let ctx = self.context(context, token.0, token.1);
                let confidence = if prefix.is_some() || ctx & cx::MOBILE != 0 {
                    Confidence::Medium
                } else {
                    Confidence::Low
                };
                push(Kind::Mobile, prefix.unwrap_or(start), end, confidence);
            }
            return;
        }
        if left_joined || right_joined {
            return;
        }
        if single
            && len == 13
            && d.starts_with(b"86")
            && start > 0
            && b[start - 1] == b'+'
            && checks::is_cn_mobile(&d[2..])
        {
            push(Kind::Mobile, start - 1, end, Confidence::Medium);
            return;
        }
        if single && len == 15 && d.starts_with(b"0086") && checks::is_cn_mobile(&d[4..]) {
            push(Kind::Mobile, start, end, Confidence::Medium);
            return;
        }

        if len == 9 {
            if checks::is_ssn(d) {
                // Dashes are the SSN's own layout; spaces or no separator need the word nearby.
                let ctx = self.context(context, token.0, token.1);
                let ssn_ctx = ctx & cx::SSN != 0;
                let layout = layout_is(win, &[3, 2, 4]);
                if layout && sep == b'-' {
                    push(
                        Kind::Ssn,
                        start,
                        end,
                        if ssn_ctx {
                            Confidence::High
                        } else {
                            Confidence::Low
                        },
                    );
                } else if (single || (layout && sep == b' ')) && ssn_ctx {
                    push(Kind::Ssn, start, end, Confidence::Medium);
                }
            }
            return;
        }

        let card = if !has_x && card_layout(win) {
            self.card(d, context, token)
        } else {
            None
        };

        if len == 15 && single && checks::old_resident_id(d, self.d.today) {
            let ctx = self.context(context, token.0, token.1);
            if ctx & cx::ID != 0 && ctx & (cx::CARD | cx::ACCOUNT) == 0 {
                push(Kind::ResidentId, start, end, Confidence::Low);
                return;
            }
        }

        if len == 18 {
            let id = if single || layout_is(win, &[6, 8, 4]) || layout_is(win, &[6, 4, 4, 4]) {
                checks::resident_id(d, self.d.today)
            } else {
                ResidentId::NotAnId
            };
            // An all-digit code reads as a USCC only where the text says so: 18-digit order and
            // tracking numbers are common, and the USCC check is one character in 31.
            let uscc = if single {
                self.uscc(d, context, token)
                    .filter(|_| self.context(context, token.0, token.1) & cx::USCC != 0)
            } else {
                None
            };
            if id == ResidentId::NotAnId && card.is_none() && uscc.is_none() {
                return;
            }
            let ctx = self.context(context, token.0, token.1);
            let (id_ctx, uscc_ctx) = (ctx & cx::ID != 0, ctx & cx::USCC != 0);
            let card_ctx = ctx & (cx::CARD | cx::ACCOUNT) != 0;
            let chosen = match id {
                ResidentId::Valid => {
                    let c = if id_ctx {
                        Confidence::High
                    } else {
                        Confidence::Medium
                    };
                    match (card, uscc) {
                        (Some(card), _) if card_ctx && !id_ctx => card,
                        (_, Some(uscc)) if uscc_ctx && !id_ctx => uscc,
                        _ => (Kind::ResidentId, c),
                    }
                }
                // A resident ID with a wrong check character is a typo or a look-alike (order
                // and reference numbers are often built the same way); reading it as a card or a
                // USCC needs that reading's own context.
                ResidentId::BadCheck => match (card, uscc) {
                    (Some(card), _) if card_ctx => card,
                    (_, Some(uscc)) if uscc_ctx => uscc,
                    _ => return,
                },
                ResidentId::NotAnId => match (card, uscc) {
                    (Some(_), Some(uscc)) if uscc_ctx && !card_ctx => uscc,
                    (Some(card), _) => card,
                    (None, Some(uscc)) => uscc,
                    (None, None) => return,
                },
            };
            push(chosen.0, start, end, chosen.1);
            return;
        }

        if let Some((kind, confidence)) = card {
            push(kind, start, end, confidence);
        }
    }

    /// The card reading of `d`: Luhn, then issuer range and length, then context.
    fn card(
        &self,
        d: &[u8],
        context: &mut Option<u16>,
        token: (usize, usize),
    ) -> Option<(Kind, Confidence)> {
        if !checks::luhn(d) {
            return None;
        }
        let brand = checks::card_brand(d)?;
        let ctx = self.context(context, token.0, token.1);
        let (kind, base) = match brand {
            CardBrand::UnionPay => (Kind::BankCard, Confidence::Medium),
            CardBrand::Strong => (Kind::CreditCard, Confidence::Medium),
            CardBrand::Weak => (Kind::CreditCard, Confidence::Low),
            CardBrand::Unlisted if ctx & cx::CARD != 0 => {
                return Some((Kind::CreditCard, Confidence::Medium))
            }
            CardBrand::Unlisted => return None,
        };
        let confidence = if ctx & (cx::CARD | cx::ACCOUNT) != 0 {
            base.raised()
        } else if ctx & cx::REFERENCE != 0 {
            Confidence::Low
        } else {
            base
        };
        Some((kind, confidence))
    }

    fn uscc(
        &self,
        code: &[u8],
        context: &mut Option<u16>,
        token: (usize, usize),
    ) -> Option<(Kind, Confidence)> {
        let base = match checks::uscc(code) {
            Uscc::Valid => Confidence::Medium,
            Uscc::CheckOnly => Confidence::Low,
            Uscc::Invalid => return None,
        };
        let ctx = self.context(context, token.0, token.1);
        Some((
            Kind::Uscc,
            if ctx & cx::USCC != 0 {
                base.raised()
            } else {
                base
            },
        ))
    }

    /// A word of letters and digits: IBAN (possibly in groups of four), USCC, passport.
    fn mixed_word(&mut self, start: usize, end: usize) -> usize {
        let b = self.b;
        let w = &b[start..end];
        let len = w.len();
        let mut context = None;
        if w[0].is_ascii_alphabetic()
            && w[1].is_ascii_alphabetic()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
        {
            if let Some(iban_len) =
                checks::iban_length([w[0].to_ascii_uppercase(), w[1].to_ascii_uppercase()])
            {
                if let Some(iban_end) = self.iban(start, end, iban_len) {
                    let ctx = self.context(&mut context, start, iban_end);
                    let c = if ctx & (cx::IBAN | cx::ACCOUNT) != 0 {
                        Confidence::High
                    } else {
                        Confidence::Medium
                    };
                    self.found.push(Found {
                        kind: Kind::Iban,
                        start,
                        end: iban_end,
                        confidence: c,
                    });
                    return iban_end;
                }
            }
        }
        if len == 9
            && checks::is_cn_passport(w)
            && self.context(&mut context, start, end) & cx::PASSPORT != 0
        {
            self.found.push(Found {
                kind: Kind::Passport,
                start,
                end,
                confidence: Confidence::Medium,
            });
        } else if len == 18 {
            if let Some((kind, confidence)) = self.uscc(w, &mut context, (start, end)) {
                self.found.push(Found {
                    kind,
                    start,
                    end,
                    confidence,
                });
            }
        }
        end
    }

    /// The end of a valid IBAN starting with the word `[start, end)`: the whole word, or the word
    /// as the first group of four followed by space-separated groups.
    fn iban(&self, start: usize, end: usize, iban_len: usize) -> Option<usize> {
        let b = self.b;
        let mut buf = [0u8; 34];
        let mut total = end - start;
        let mut pos = end;
        if total == iban_len {
            buf[..total].copy_from_slice(&b[start..end]);
        } else if total == 4 {
            buf[..4].copy_from_slice(&b[start..end]);
            while total < iban_len
                && pos + 1 < b.len()
                && b[pos] == b' '
                && b[pos + 1].is_ascii_alphanumeric()
            {
                let (ge, _) = word(b, pos + 1);
                let glen = ge - pos - 1;
                if glen > 4 || total + glen > iban_len {
                    return None;
                }
                buf[total..total + glen].copy_from_slice(&b[pos + 1..ge]);
                total += glen;
                pos = ge;
                if glen < 4 {
                    break;
                }
            }
            if total != iban_len {
                return None;
            }
        } else {
            return None;
        }
        let iban = &mut buf[..iban_len];
        iban.make_ascii_uppercase();
        checks::iban_checksum_ok(iban).then_some(pos)
    }

    /// An address around the `@` at `at`: a local part of `[A-Za-z0-9._%+-]` (no leading,
    /// trailing or double dot, at most 64), a domain of at least two labels whose last is a
    /// letters-only or `xn--` top-level domain.
    fn email(&mut self, at: usize) {
        let b = self.b;
        let mut ls = at;
        while ls > 0 && is_email_local(b[ls - 1]) {
            ls -= 1;
            if at - ls > 64 {
                return;
            }
        }
        while ls < at && b[ls] == b'.' {
            ls += 1;
        }
        if ls == at || b[at - 1] == b'.' || b[ls..at].windows(2).any(|w| w == b"..") {
            return;
        }
        let ds = at + 1;
        let mut p = ds;
        while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'-' || b[p] == b'.') {
            p += 1;
            if p - ds > 253 {
                return;
            }
        }
        let mut de = p;
        while de > ds && b[de - 1] == b'.' {
            de -= 1;
        }
        if valid_domain(&b[ds..de]) {
            self.found.push(Found {
                kind: Kind::Email,
                start: ls,
                end: de,
                confidence: Confidence::High,
            });
        }
    }
}

fn valid_domain(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = b"";
    for label in domain.split(|&c| c == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return false;
        }
        labels += 1;
        last = label;
    }
    let tld_ok = (2..=63).contains(&last.len()) && last.iter().all(u8::is_ascii_alphabetic)
        || (last.len() > 4 && last[..4].eq_ignore_ascii_case(b"xn--"));
    labels >= 2 && tld_ok
}
