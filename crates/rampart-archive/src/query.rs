//! What a search asks for: [`ArchiveQuery`], and the Gmail-like string form people type.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::doc::normalize_message_id;
use crate::tokenizer::query_tokens;
use crate::ArchiveError;

/// A structured search. Every part given must match (they are AND-ed).
///
/// The text parts (`text`, `from`, `to`, `subject`, `body`, `attachment`) each hold one or more
/// terms separated by white space: a bare word, or a `"quoted phrase"`; each term must match.
/// A term is cut like the indexed text (see [`crate::tokenizer`]), so a word of several
/// tokens (`e-mail`, `季度报告`) matches as a phrase.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct ArchiveQuery {
    /// Terms searched in the subject, body, attachment text and attachment names.
    pub text: Option<String>,
    /// Header From or envelope sender: an address, a domain (`example.com` matches its
    /// subdomains too), a word of either or of the display name.
    pub from: Option<String>,
    /// Envelope recipients and header To/Cc addresses, as for `from`.
    pub to: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// Attachment text or file name.
    pub attachment: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// Archived at or after, unix seconds.
    pub since: Option<i64>,
    /// Archived before, unix seconds.
    pub until: Option<i64>,
    /// Exact Message-ID, with or without angle brackets.
    pub message_id: Option<String>,
}

/// One term of a text part: a word or a phrase, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub text: String,
    pub quoted: bool,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            write!(f, "\"{}\"", self.text)
        } else {
            f.write_str(&self.text)
        }
    }
}

/// The field prefixes `parse` knows, and which part of the query each fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    From,
    To,
    Subject,
    Body,
    Attachment,
    Direction,
    After,
    Before,
    MessageId,
}

fn prefix(name: &str) -> Option<Prefix> {
    Some(match name.to_ascii_lowercase().as_str() {
        "from" => Prefix::From,
        "to" | "cc" => Prefix::To,
        "subject" => Prefix::Subject,
        "body" => Prefix::Body,
        "attachment" | "filename" => Prefix::Attachment,
        "direction" => Prefix::Direction,
        "after" | "since" => Prefix::After,
        "before" | "until" => Prefix::Before,
        "messageid" | "message-id" | "rfc822msgid" => Prefix::MessageId,
        _ => return None,
    })
}

impl ArchiveQuery {
    /// Parses the string form: free words and `"quoted phrases"` (subject, body, attachments),
    /// `from:` `to:` (`cc:`) `subject:` `body:` `attachment:` (`filename:`) `direction:`
    /// `after:` `before:` (`YYYY-MM-DD`, midnight UTC, or RFC 3339) and `messageid:`. A prefix
    /// takes a word or a quoted phrase; an unknown prefix (`re:`) is an ordinary word.
    /// Punctuation alone is ignored; a query of nothing else is empty (see [`Self::is_empty`]).
    ///
    /// ```
    /// use rampart_archive::ArchiveQuery;
    ///
    /// let q = ArchiveQuery::parse(r#"from:example.com "quarterly report" 合同 after:2024-01-01"#)?;
    /// assert_eq!(q.from.as_deref(), Some("example.com"));
    /// assert_eq!(q.text.as_deref(), Some(r#""quarterly report" 合同"#));
    /// assert_eq!(q.since, Some(1_704_067_200));
    /// assert_eq!(ArchiveQuery::parse(&q.to_string())?, q);
    /// assert!(ArchiveQuery::parse("subject:\"unfinished").is_err());
    /// # Ok::<(), rampart_archive::ArchiveError>(())
    /// ```
    pub fn parse(q: &str) -> Result<Self, ArchiveError> {
        let mut out = ArchiveQuery::default();
        let mut rest = q;
        loop {
            rest = rest.trim_start();
            let Some(first) = rest.chars().next() else {
                break;
            };
            if first == '"' {
                let (phrase, after) = quoted(rest)?;
                rest = after;
                add_term(&mut out.text, phrase, true, false, None)?;
                continue;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            let field = word
                .split_once(':')
                .and_then(|(name, value)| prefix(name).map(|p| (p, name, value)));
            let Some((field, name, value)) = field else {
                // `-word` and `-"phrase"` would mean "without" in Gmail; better refused than
                // quietly searched for.
                let excluded = word
                    .strip_prefix('-')
                    .is_some_and(|w| match w.chars().next() {
                        Some(c) => c.is_alphanumeric(),
                        None => rest.starts_with('"'),
                    });
                if excluded {
                    return Err(ArchiveError::Query(format!(
                        "`{word}`: excluding words is not supported; search without it"
                    )));
                }
                add_term(&mut out.text, word, false, false, None)?;
                continue;
            };
            let (value, is_quoted) = if value.is_empty() && rest.starts_with('"') {
                let (phrase, after) = quoted(rest)?;
                rest = after;
                (phrase, true)
            } else {
                (value, false)
            };
            if value.trim().is_empty() {
                return Err(ArchiveError::Query(format!("`{name}:` needs a value")));
            }
            out.set(field, name, value, is_quoted)?;
        }
        Ok(out)
    }

    fn set(
        &mut self,
        field: Prefix,
        name: &str,
        value: &str,
        quoted: bool,
    ) -> Result<(), ArchiveError> {
        let term = |slot: &mut Option<String>, addresses| {
            add_term(slot, value, quoted, addresses, Some(name))
        };
        match field {
            Prefix::From => term(&mut self.from, true),
            Prefix::To => term(&mut self.to, true),
            Prefix::Subject => term(&mut self.subject, false),
            Prefix::Body => term(&mut self.body, false),
            Prefix::Attachment => term(&mut self.attachment, false),
            Prefix::Direction => {
                let d = value.trim().to_ascii_lowercase();
                if d != "inbound" && d != "outbound" {
                    return Err(ArchiveError::Query(format!(
                        "`{name}:{value}`: direction is `inbound` or `outbound`"
                    )));
                }
                match &self.direction {
                    Some(other) if *other != d => Err(ArchiveError::Query(
                        "two different directions: mail goes one way".into(),
                    )),
                    _ => {
                        self.direction = Some(d);
                        Ok(())
                    }
                }
            }
            Prefix::After => {
                let t = parse_time(name, value)?;
                self.since = Some(self.since.map_or(t, |s| s.max(t)));
                Ok(())
            }
            Prefix::Before => {
                let t = parse_time(name, value)?;
                self.until = Some(self.until.map_or(t, |u| u.min(t)));
                Ok(())
            }
            Prefix::MessageId => {
                let id = normalize_message_id(value);
                if id.is_empty() {
                    return Err(ArchiveError::Query(format!("`{name}:` needs a value")));
                }
                match &self.message_id {
                    Some(other) if *other != id => Err(ArchiveError::Query(
                        "two different message ids: a message has one".into(),
                    )),
                    _ => {
                        self.message_id = Some(id);
                        Ok(())
                    }
                }
            }
        }
    }

    /// Whether nothing is asked: such a query would match the whole archive.
    pub fn is_empty(&self) -> bool {
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        blank(&self.text)
            && blank(&self.from)
            && blank(&self.to)
            && blank(&self.subject)
            && blank(&self.body)
            && blank(&self.attachment)
            && blank(&self.direction)
            && blank(&self.message_id)
            && self.since.is_none()
            && self.until.is_none()
    }
}

/// The phrase at the start of `s` (which starts with `"`) and what follows it.
fn quoted(s: &str) -> Result<(&str, &str), ArchiveError> {
    let inner = &s[1..];
    match inner.find('"') {
        Some(end) => Ok((&inner[..end], &inner[end + 1..])),
        None => Err(ArchiveError::Query(format!(
            "unfinished quote: `{}`",
            s.chars().take(40).collect::<String>()
        ))),
    }
}

/// Adds one term to a text part. A term with nothing searchable in it is an error under a
/// prefix (`from:!!!` must not quietly widen a legal hold) and ignored among free words.
fn add_term(
    slot: &mut Option<String>,
    value: &str,
    quoted: bool,
    addresses: bool,
    prefix: Option<&str>,
) -> Result<(), ArchiveError> {
    let text = if quoted {
        value.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        value.to_string()
    };
    if query_tokens(&text, addresses).is_empty() {
        return match prefix {
            Some(p) => Err(ArchiveError::Query(format!(
                "`{p}:{value}` has nothing to search for"
            ))),
            None => Ok(()),
        };
    }
    let term = Term { text, quoted };
    let s = slot.get_or_insert_with(String::new);
    if !s.is_empty() {
        s.push(' ');
    }
    s.push_str(&term.to_string());
    Ok(())
}

/// The terms of one text part: white-space separated words and quoted phrases.
pub(crate) fn terms(s: &str) -> Result<Vec<Term>, ArchiveError> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        if rest.starts_with('"') {
            let (phrase, after) = quoted(rest)?;
            out.push(Term {
                text: phrase.to_string(),
                quoted: true,
            });
            rest = after;
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            out.push(Term {
                text: rest[..end].to_string(),
                quoted: false,
            });
            rest = &rest[end..];
        }
    }
}

/// `YYYY-MM-DD` (or `YYYY/MM/DD`) as midnight UTC, or an RFC 3339 time.
fn parse_time(name: &str, value: &str) -> Result<i64, ArchiveError> {
    let v = value.trim();
    let bad = || {
        ArchiveError::Query(format!(
            "`{name}:{value}`: give a date as YYYY-MM-DD or a time as RFC 3339 (2024-05-01T09:30:00Z)"
        ))
    };
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let mut parts = v.split(['-', '/']);
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let all_digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !all_digits(y, 4..=4) || !all_digits(m, 1..=2) || !all_digits(d, 1..=2) {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

/// A time as `parse` reads it back: the date alone at midnight UTC, else RFC 3339.
fn format_time(t: i64) -> String {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp(t) else {
        return t.to_string();
    };
    if dt.time() == time::Time::MIDNIGHT {
        let d = dt.date();
        return format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    }
    dt.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The string form, which [`ArchiveQuery::parse`] reads back as the same query (for queries
/// that came from `parse`; hand-built ones are written as well as they can be).
impl fmt::Display for ArchiveQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            if !std::mem::take(&mut first) {
                f.write_str(" ")?;
            }
            Ok::<(), fmt::Error>(())
        };
        if let Some(text) = &self.text {
            for t in terms(text).unwrap_or_default() {
                sep(f)?;
                write!(f, "{t}")?;
            }
        }
        let parts = [
            ("from", &self.from),
            ("to", &self.to),
            ("subject", &self.subject),
            ("body", &self.body),
            ("attachment", &self.attachment),
        ];
        for (name, value) in parts {
            if let Some(value) = value {
                for t in terms(value).unwrap_or_default() {
                    sep(f)?;
                    write!(f, "{name}:{t}")?;
                }
            }
        }
        if let Some(d) = &self.direction {
            sep(f)?;
            write!(f, "direction:{d}")?;
        }
        if let Some(t) = self.since {
            sep(f)?;
            write!(f, "after:{}", format_time(t))?;
        }
        if let Some(t) = self.until {
            sep(f)?;
            write!(f, "before:{}", format_time(t))?;
        }
        if let Some(id) = &self.message_id {
            sep(f)?;
            if id.contains(|c: char| c.is_whitespace() || c == '"') {
                write!(f, "messageid:\"{}\"", id.replace('"', ""))?;
            } else {
                write!(f, "messageid:{id}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ArchiveQuery {
        match ArchiveQuery::parse(s) {
            Ok(q) => q,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn reads_every_prefix() {
        let q = parse(
            r#"invoice "quarterly report" FROM:alice@example.com to:"Bob Lee" cc:carol
               subject:Q3 body:合同 filename:pdf direction:Outbound after:2024-01-01
               before:2024-02-01T12:00:00+01:00 messageid:<abc@host> re:"#,
        );
        assert_eq!(q.text.as_deref(), Some(r#"invoice "quarterly report" re:"#));
        assert_eq!(q.from.as_deref(), Some("alice@example.com"));
        assert_eq!(q.to.as_deref(), Some(r#""Bob Lee" carol"#));
        assert_eq!(q.subject.as_deref(), Some("Q3"));
        assert_eq!(q.body.as_deref(), Some("合同"));
        assert_eq!(q.attachment.as_deref(), Some("pdf"));
        assert_eq!(q.direction.as_deref(), Some("outbound"));
        assert_eq!(q.since, Some(1_704_067_200));
        assert_eq!(q.until, Some(1_706_785_200));
        assert_eq!(q.message_id.as_deref(), Some("abc@host"));
        assert_eq!(parse(&q.to_string()), q);
    }

    #[test]
    fn keeps_the_tightest_dates() {
        let q = parse("after:2024-01-01 after:2024/03/05 before:2025-01-01 before:2024-12-01");
        assert_eq!(q.to_string(), "after:2024-03-05 before:2024-12-01");
    }

    #[test]
    fn refuses_bad_syntax_with_a_reason() {
        for (q, says) in [
            ("from:", "needs a value"),
            ("subject:\"open", "unfinished quote"),
            ("\"open", "unfinished quote"),
            ("direction:sideways", "inbound"),
            ("direction:inbound direction:outbound", "two different"),
            ("after:yesterday", "YYYY-MM-DD"),
            ("before:2024-13-01", "YYYY-MM-DD"),
            ("before:2024-02-30", "YYYY-MM-DD"),
            ("from:!!!", "nothing to search for"),
            ("-spam", "not supported"),
            ("messageid:<>", "needs a value"),
        ] {
            match ArchiveQuery::parse(q) {
                Ok(parsed) => panic!("{q} parsed as {parsed:?}"),
                Err(e) => assert!(e.to_string().contains(says), "{q}: {e}"),
            }
        }
    }

    #[test]
    fn punctuation_alone_is_an_empty_query() {
        assert!(parse("  ").is_empty());
        assert!(parse("- !! \"\"").is_empty());
        assert!(!parse("direction:inbound").is_empty());
    }
}
