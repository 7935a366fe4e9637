//! Stored flags and keywords to and from IMAP's.

use imap_codec::imap_types::core::Atom;
use imap_codec::imap_types::flag::{Flag as ImapFlag, FlagFetch};
use rampart_model::{is_valid_keyword, Flag};

/// The `FLAGS` of a message: system flags, then keywords. `\Recent` is never sent (we keep
/// none); a stored keyword that is not an IMAP atom (the store validates them, so only an old
/// or hand-edited row) is left out rather than breaking the response.
pub fn flags_to_imap(flags: &[Flag], keywords: &[String]) -> Vec<FlagFetch<'static>> {
    let system = flags.iter().map(|f| match f {
        Flag::Seen => ImapFlag::Seen,
        Flag::Answered => ImapFlag::Answered,
        Flag::Flagged => ImapFlag::Flagged,
        Flag::Draft => ImapFlag::Draft,
        Flag::Deleted => ImapFlag::Deleted,
    });
    let keywords = keywords
        .iter()
        .filter_map(|k| Atom::try_from(k.clone()).ok())
        .map(ImapFlag::Keyword);
    system.chain(keywords).map(FlagFetch::Flag).collect()
}

/// The flags and keywords a `STORE` or `APPEND` asks for, each once (keywords compared without
/// regard to case, the first spelling kept). Dropped: `\`-flags we do not know (RFC 3501
/// lets a server ignore them) and keywords the store would refuse
/// ([`rampart_model::is_valid_keyword`]); the session checks the count against
/// [`rampart_model::MAX_KEYWORDS`].
pub fn flags_from_imap(flags: &[ImapFlag<'_>]) -> (Vec<Flag>, Vec<String>) {
    let mut system = Vec::new();
    let mut keywords: Vec<String> = Vec::new();
    for flag in flags {
        let stored = match flag {
            ImapFlag::Seen => Flag::Seen,
            ImapFlag::Answered => Flag::Answered,
            ImapFlag::Flagged => Flag::Flagged,
            ImapFlag::Draft => Flag::Draft,
            ImapFlag::Deleted => Flag::Deleted,
            ImapFlag::Keyword(atom) => {
                let keyword = atom.as_ref();
                if is_valid_keyword(keyword)
                    && !keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword))
                {
                    keywords.push(keyword.to_string());
                }
                continue;
            }
            ImapFlag::Extension(_) => continue,
        };
        if !system.contains(&stored) {
            system.push(stored);
        }
    }
    (system, keywords)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_system_flags_and_keywords() {
        let flags = [Flag::Seen, Flag::Deleted, Flag::Draft];
        let keywords = ["$Forwarded".to_string(), "Work".to_string()];
        let imap: Vec<ImapFlag<'_>> = flags_to_imap(&flags, &keywords)
            .into_iter()
            .map(|f| match f {
                FlagFetch::Flag(f) => f,
                FlagFetch::Recent => panic!("\\Recent is never sent"),
            })
            .collect();
        assert_eq!(flags_from_imap(&imap), (flags.to_vec(), keywords.to_vec()));
    }

    #[test]
    fn duplicates_and_unknown_system_flags_are_dropped() {
        let imap = [
            ImapFlag::Seen,
            ImapFlag::try_from("\\Seen").unwrap(),
            ImapFlag::try_from("\\Shiny").unwrap(),
            ImapFlag::try_from("$Junk").unwrap(),
            ImapFlag::try_from("$JUNK").unwrap(),
        ];
        assert_eq!(
            flags_from_imap(&imap),
            (vec![Flag::Seen], vec!["$Junk".to_string()])
        );
    }

    #[test]
    fn invalid_stored_keyword_is_left_out() {
        let out = flags_to_imap(&[], &["bad keyword".to_string(), "ok".to_string()]);
        assert_eq!(out.len(), 1);
    }
}
