//! The SMTP command parser (RFC 5321 §4.1, with RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531
//! SMTPUTF8 and RFC 3030 BDAT). It takes one command line without its CRLF and never panics: every
//! byte sequence yields either a [`Command`] or a [`CommandError`] that maps to a reply.

use std::fmt;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Mail {
        /// `None` is the null reverse path `<>` (bounces).
        from: Option<String>,
        params: Vec<Param>,
    },
    Rcpt {
        to: String,
        params: Vec<Param>,
    },
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Help,
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954); the mechanism is upper-cased.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

/// An ESMTP parameter, `KEYWORD[=value]`; the keyword is upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Not a command we know (`500 5.5.1`).
    Unrecognized(String),
    /// A known command with bad arguments (`501 5.5.4`), with what is wrong.
    Syntax(&'static str),
    /// The line is not UTF-8 (`500 5.5.2`).
    NotUtf8,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unrecognized(verb) => write!(f, "command {verb:?} not recognized"),
            CommandError::Syntax(why) => write!(f, "syntax error: {why}"),
            CommandError::NotUtf8 => f.write_str("command line is not valid UTF-8"),
        }
    }
}

impl std::error::Error for CommandError {}

/// Parses one command line (without the trailing CRLF).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    let line = line.trim_end_matches([' ', '\t']);
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    if verb.len() > 8 || !verb.is_ascii() {
        return Err(CommandError::Unrecognized(printable(verb)));
    }
    let no_args = |cmd: Command| {
        if rest.trim().is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::Syntax("this command takes no arguments"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" => Ok(Command::Ehlo(parse_helo_domain(rest)?)),
        "HELO" => Ok(Command::Helo(parse_helo_domain(rest)?)),
        "MAIL" => {
            let rest = strip_prefix_ci(rest, "FROM:")
                .ok_or(CommandError::Syntax("expected MAIL FROM:<address>"))?;
            let (path, params) = parse_path_and_params(rest)?;
            let from = if path.is_empty() { None } else { Some(path) };
            Ok(Command::Mail { from, params })
        }
        "RCPT" => {
            let rest = strip_prefix_ci(rest, "TO:")
                .ok_or(CommandError::Syntax("expected RCPT TO:<address>"))?;
            let (path, params) = parse_path_and_params(rest)?;
            if path.is_empty() {
                return Err(CommandError::Syntax("empty recipient address"));
            }
            Ok(Command::Rcpt { to: path, params })
        }
        "DATA" => no_args(Command::Data),
        "BDAT" => parse_bdat(rest),
        "RSET" => no_args(Command::Rset),
        // NOOP and HELP may carry an argument, which is ignored (RFC 5321 §4.1.1.9, §4.1.1.8).
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy(rest.trim().to_string())),
        "EXPN" => Ok(Command::Expn(rest.trim().to_string())),
        "STARTTLS" => no_args(Command::StartTls),
        "AUTH" => parse_auth(rest),
        _ => Err(CommandError::Unrecognized(printable(verb))),
    }
}

fn parse_auth(rest: &str) -> Result<Command, CommandError> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let mechanism = words
        .next()
        .ok_or(CommandError::Syntax("AUTH needs a mechanism"))?;
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if mechanism.len() > 20 || !mechanism.chars().all(valid) {
        return Err(CommandError::Syntax("bad AUTH mechanism name"));
    }
    let initial = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(CommandError::Syntax(
            "AUTH takes a mechanism and one initial response",
        ));
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial,
    })
}

fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(16)
        .collect()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s[prefix.len()..].trim_start_matches(' '))
}

/// EHLO/HELO argument: a domain or an address literal (`[192.0.2.1]`, `[IPv6:...]`).
fn parse_helo_domain(rest: &str) -> Result<String, CommandError> {
    let arg = rest.trim();
    // Only the first word counts; some clients append junk, which RFC 5321 lets us ignore.
    let arg = arg.split(' ').next().unwrap_or("");
    if arg.is_empty() {
        return Err(CommandError::Syntax(
            "EHLO/HELO needs a domain or address literal",
        ));
    }
    if arg.len() > 255 {
        return Err(CommandError::Syntax("domain too long"));
    }
    let ok = if let Some(literal) = arg.strip_prefix('[') {
        literal.ends_with(']')
            && literal[..literal.len() - 1]
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | 'I' | 'P' | 'v' | 'V'))
    } else {
        arg.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !ok {
        return Err(CommandError::Syntax("invalid domain or address literal"));
    }
    Ok(arg.to_string())
}

/// Parses `<path> [params]`; the path is returned without brackets or source route, and is empty
/// for `<>`.
fn parse_path_and_params(rest: &str) -> Result<(String, Vec<Param>), CommandError> {
    let rest = rest.trim_start();
    let inner_start = rest
        .strip_prefix('<')
        .ok_or(CommandError::Syntax("address must be enclosed in <>"))?;
    let (path, after) = split_path(inner_start)?;
    let params = parse_params(after)?;
    Ok((path, params))
}

/// Finds the closing `>` outside quotes and validates the mailbox between.
fn split_path(s: &str) -> Result<(String, &str), CommandError> {
    let mut in_quotes = false;
    let mut escaped = false;
    let mut end = None;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '>' if !in_quotes => {
                end = Some(i);
                break;
            }
            c if c.is_control() => {
                return Err(CommandError::Syntax("control character in address"))
            }
            _ => {}
        }
    }
    let end = end.ok_or(CommandError::Syntax("missing closing >"))?;
    let mut path = &s[..end];
    // A source route (`@a,@b:user@c`) is obsolete; RFC 5321 says to accept and ignore it.
    if path.starts_with('@') {
        path = path
            .split_once(':')
            .map(|(_, p)| p)
            .ok_or(CommandError::Syntax("bad source route"))?;
    }
    if !path.is_empty() {
        validate_mailbox(path)?;
    }
    Ok((path.to_string(), &s[end + 1..]))
}

fn validate_mailbox(path: &str) -> Result<(), CommandError> {
    if path.len() > 254 + 2 {
        return Err(CommandError::Syntax("address too long"));
    }
    let at = path
        .rfind('@')
        .ok_or(CommandError::Syntax("address needs local-part@domain"))?;
    let (local, domain) = (&path[..at], &path[at + 1..]);
    if local.is_empty() || domain.is_empty() {
        return Err(CommandError::Syntax("address needs local-part@domain"));
    }
    if local.starts_with('"') {
        if !(local.len() >= 2 && local.ends_with('"')) {
            return Err(CommandError::Syntax("unterminated quoted local part"));
        }
    } else {
        let atom_ok = |c: char| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
        };
        if local
            .split('.')
            .any(|atom| atom.is_empty() || !atom.chars().all(atom_ok))
        {
            return Err(CommandError::Syntax("invalid character in local part"));
        }
    }
    let domain_ok = if domain.starts_with('[') {
        domain.ends_with(']')
    } else {
        domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || !c.is_ascii())
        })
    };
    if !domain_ok {
        return Err(CommandError::Syntax("invalid domain in address"));
    }
    Ok(())
}

fn parse_params(s: &str) -> Result<Vec<Param>, CommandError> {
    let mut params = Vec::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (word, None),
        };
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || params.len() >= 16
        {
            return Err(CommandError::Syntax("malformed ESMTP parameter"));
        }
        params.push(Param {
            key: key.to_ascii_uppercase(),
            value,
        });
    }
    Ok(params)
}

fn parse_bdat(rest: &str) -> Result<Command, CommandError> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.len() <= 20 && w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or(CommandError::Syntax("BDAT needs a chunk size"))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(CommandError::Syntax("expected BDAT <size> [LAST]")),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax("expected BDAT <size> [LAST]"));
    }
    Ok(Command::Bdat { size, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, CommandError> {
        parse_command(s.as_bytes())
    }

    #[test]
    fn parses_auth_with_and_without_initial_response() {
        assert_eq!(
            p("auth plain AGFsaWNlAHNlY3JldA=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGFsaWNlAHNlY3JldA==".into())
            })
        );
        assert_eq!(
            p("AUTH LOGIN"),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None
            })
        );
        assert!(p("AUTH").is_err());
        assert!(p("AUTH PL@IN").is_err());
        assert!(p("AUTH PLAIN a b").is_err());
    }

    #[test]
    fn parses_mail_with_params_case_insensitively() {
        assert_eq!(
            p("mail from:<Bob@Example.org> size=1234 BODY=8BITMIME SMTPUTF8"),
            Ok(Command::Mail {
                from: Some("Bob@Example.org".into()),
                params: vec![
                    Param {
                        key: "SIZE".into(),
                        value: Some("1234".into())
                    },
                    Param {
                        key: "BODY".into(),
                        value: Some("8BITMIME".into())
                    },
                    Param {
                        key: "SMTPUTF8".into(),
                        value: None
                    },
                ],
            })
        );
    }

    #[test]
    fn accepts_null_sender_space_after_colon_and_source_route() {
        assert_eq!(
            p("MAIL FROM:<>"),
            Ok(Command::Mail {
                from: None,
                params: vec![]
            })
        );
        assert!(matches!(
            p("MAIL FROM: <a@b.c>"),
            Ok(Command::Mail { from: Some(_), .. })
        ));
        assert_eq!(
            p("RCPT TO:<@relay.example,@b.example:joe@example.com>"),
            Ok(Command::Rcpt {
                to: "joe@example.com".into(),
                params: vec![]
            })
        );
    }

    #[test]
    fn accepts_quoted_local_parts_and_utf8() {
        assert!(matches!(
            p("RCPT TO:<\"john > doe\"@example.com>"),
            Ok(Command::Rcpt { .. })
        ));
        assert!(matches!(
            p("RCPT TO:<张三@例子.中国>"),
            Ok(Command::Rcpt { .. })
        ));
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "MAIL FROM:a@b.c",
            "MAIL FROM:<a@b.c",
            "MAIL FROM <a@b.c>",
            "RCPT TO:<>",
            "RCPT TO:<nodomain>",
            "RCPT TO:<a..b@c.d>",
            "RCPT TO:<a@b..c>",
            "RCPT TO:<a@b.c> =x",
        ] {
            assert!(matches!(p(bad), Err(CommandError::Syntax(_))), "{bad}");
        }
    }

    #[test]
    fn parses_bdat_and_simple_verbs() {
        assert_eq!(
            p("BDAT 1000 LAST"),
            Ok(Command::Bdat {
                size: 1000,
                last: true
            })
        );
        assert_eq!(
            p("bdat 0"),
            Ok(Command::Bdat {
                size: 0,
                last: false
            })
        );
        assert!(p("BDAT 99999999999999999999999").is_err());
        assert!(p("BDAT -1").is_err());
        assert_eq!(p("DATA"), Ok(Command::Data));
        assert!(p("DATA now").is_err());
        assert_eq!(p("NOOP whatever"), Ok(Command::Noop));
        assert_eq!(p("STARTTLS"), Ok(Command::StartTls));
        assert_eq!(
            p("EHLO [192.0.2.1]"),
            Ok(Command::Ehlo("[192.0.2.1]".into()))
        );
        assert!(p("EHLO").is_err());
        assert!(p("EHLO bad<host>").is_err());
    }

    #[test]
    fn unknown_and_binary_lines_are_errors_not_panics() {
        assert_eq!(p("FOO bar"), Err(CommandError::Unrecognized("FOO".into())));
        assert_eq!(parse_command(&[0xff, 0xfe]), Err(CommandError::NotUtf8));
        assert!(p("").is_err());
        assert!(p("é").is_err());
    }
}
