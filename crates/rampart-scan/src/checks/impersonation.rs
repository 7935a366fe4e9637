//! Who the message claims to be from: display-name impersonation of the organisation's people
//! (business email compromise), addresses hidden in display names, the organisation's own domain
//! used from outside, and replies steered elsewhere.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use rampart_model::{Direction, Finding};

use crate::checks::CheckOutput;
use crate::domain::registrable;
use crate::{Check, Envelope, Mail, OrgDirectory};

pub struct Impersonation {
    org: Arc<RwLock<OrgDirectory>>,
}

impl Impersonation {
    pub fn new(org: Arc<RwLock<OrgDirectory>>) -> Self {
        Impersonation { org }
    }
}

/// Free mailbox providers: a reply steered to one of these from a company sender is a BEC tell.
const FREEMAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "gmx.com",
    "gmx.net",
    "mail.com",
    "proton.me",
    "protonmail.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "sohu.com",
    "yeah.net",
    "foxmail.com",
    "aliyun.com",
];

/// A name reduced to comparable tokens: lower-case words, sorted (so "Li, Wei" equals "Wei Li");
/// CJK names become one token of their characters.
fn name_key(name: &str) -> Option<Vec<String>> {
    let mut tokens: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase())
        .collect();
    tokens.sort();
    let letters: usize = tokens.iter().map(|t| t.chars().count()).sum();
    let cjk = tokens.iter().all(|t| t.chars().all(|c| !c.is_ascii()));
    // One ordinary word ("Admin", "Support") is too common to be anyone in particular.
    let specific = tokens.len() >= 2 || (cjk && letters >= 2);
    specific.then_some(tokens)
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

fn addresses_in(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| {
        c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '"' | '\'' | ',' | ';')
    })
    .filter(|w| {
        w.find('@')
            .is_some_and(|at| at > 0 && w[at + 1..].contains('.'))
    })
}

#[async_trait]
impl Check for Impersonation {
    fn name(&self) -> &'static str {
        "phish"
    }

    fn applies_to(&self, direction: Direction) -> bool {
        direction == Direction::Inbound
    }

    async fn run(&self, mail: &Mail<'_>, envelope: &Envelope, out: &mut CheckOutput) {
        let Some((display, Some(address))) = mail.from() else {
            return;
        };
        let from_domain = domain_of(address).to_ascii_lowercase();
        let (from_is_local, impersonated) = {
            let Ok(org) = self.org.read() else { return };
            let local = org.is_local(&from_domain);
            let impersonated = display.and_then(name_key).and_then(|key| {
                org.people
                    .iter()
                    .find(|p| name_key(p).as_ref() == Some(&key))
                    .cloned()
            });
            (local, impersonated)
        };
        if !from_is_local {
            if let Some(person) = impersonated {
                out.push(
                    Finding::new("phish.display_name_impersonation", 6.0).with_evidence(format!(
                        "\"{}\" <{address}> uses the name of {person}",
                        display.unwrap_or("")
                    )),
                );
            }
        } else if envelope.authenticated.is_none() && envelope.peer_ip.is_some() {
            out.push(
                Finding::new("phish.local_domain_from_outside", 3.0)
                    .with_evidence(format!("From {address} arrived from outside")),
            );
        }
        if let Some(name) = display {
            if let Some(hidden) = addresses_in(name).find(|a| {
                registrable(&domain_of(a).to_ascii_lowercase()) != registrable(&from_domain)
            }) {
                out.push(
                    Finding::new("phish.display_name_address", 4.0)
                        .with_evidence(format!("display name shows {hidden}, sender is {address}")),
                );
            }
        }
        if let Some((_, Some(reply))) = mail.reply_to() {
            let reply_domain = domain_of(reply).to_ascii_lowercase();
            if registrable(&reply_domain) != registrable(&from_domain) {
                let freemail = FREEMAIL.contains(&reply_domain.as_str())
                    && !FREEMAIL.contains(&from_domain.as_str());
                let score = if freemail { 3.0 } else { 1.0 };
                out.push(
                    Finding::new("phish.reply_to_mismatch", score)
                        .with_evidence(format!("From {address}, replies go to {reply}")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn findings(raw: &str, org: OrgDirectory) -> Vec<String> {
        let check = Impersonation::new(Arc::new(RwLock::new(org)));
        let mut out = CheckOutput::default();
        let mut env = Envelope::new(Direction::Inbound);
        env.peer_ip = Some("192.0.2.1".parse().unwrap());
        check
            .run(&Mail::parse(raw.as_bytes()), &env, &mut out)
            .await;
        out.findings.into_iter().map(|f| f.name).collect()
    }

    fn org() -> OrgDirectory {
        OrgDirectory {
            local_domains: vec!["example.com".into()],
            people: vec!["Wei Li".into(), "Alice Chen".into(), "张伟".into()],
        }
    }

    #[tokio::test]
    async fn flags_an_outsider_using_an_executives_name_in_any_order() {
        let f = findings(
            "From: \"Li, Wei\" <ceo.office@gmail.com>\r\n\r\nurgent wire\r\n",
            org(),
        )
        .await;
        assert!(
            f.contains(&"phish.display_name_impersonation".to_string()),
            "{f:?}"
        );
        let f = findings(
            "From: =?UTF-8?B?5byg5Lyf?= <zw@163.com>\r\n\r\nx\r\n",
            org(),
        )
        .await;
        assert!(
            f.contains(&"phish.display_name_impersonation".to_string()),
            "{f:?}"
        );
    }

    #[tokio::test]
    async fn leaves_colleagues_and_unrelated_names_alone() {
        assert!(
            findings("From: Wei Li <wei.li@example.com>\r\n\r\nx\r\n", org())
                .await
                .iter()
                .all(|f| f != "phish.display_name_impersonation")
        );
        assert!(
            findings("From: Support <help@vendor.test>\r\n\r\nx\r\n", org())
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn flags_an_address_hidden_in_the_display_name() {
        let f = findings(
            "From: \"service@paypal.com\" <x@evil.test>\r\n\r\nx\r\n",
            org(),
        )
        .await;
        assert_eq!(f, vec!["phish.display_name_address"]);
    }

    #[tokio::test]
    async fn flags_replies_steered_to_free_mail() {
        let f = findings(
            "From: a@vendor.test\r\nReply-To: vendor.billing@gmail.com\r\n\r\nx\r\n",
            org(),
        )
        .await;
        assert_eq!(f, vec!["phish.reply_to_mismatch"]);
        assert!(findings(
            "From: a@news.vendor.test\r\nReply-To: b@vendor.test\r\n\r\nx\r\n",
            org()
        )
        .await
        .is_empty());
    }
}
