//! Phishing lures: the wording credential phishing has always used — a threat to the account, a
//! request for credentials or card data, urgency, and a call to click — in English and Chinese.
//! One category alone is everyday business mail; several together in a message that carries a
//! link or form are the shape of a lure.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use async_trait::async_trait;
use rampart_model::{Direction, Finding};

use crate::checks::CheckOutput;
use crate::{Check, Envelope, Mail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    /// The account is, or will be, suspended, limited, locked, compromised.
    Threat,
    /// Verify, confirm, update, re-enter credentials, card or identity data.
    Request,
    /// A deadline or consequence.
    Urgency,
    /// Click, follow, visit the link.
    Action,
}

const PHRASES: &[(Category, &str)] = &[
    // Threat
    (Category::Threat, "account has been suspended"),
    (Category::Threat, "account will be suspended"),
    (Category::Threat, "account could be suspended"),
    (Category::Threat, "account may be suspended"),
    (Category::Threat, "account has been limited"),
    (Category::Threat, "account has been locked"),
    (Category::Threat, "account will be locked"),
    (Category::Threat, "account will be closed"),
    (Category::Threat, "account will be terminated"),
    (Category::Threat, "account will be deactivated"),
    (Category::Threat, "account has been restricted"),
    (Category::Threat, "access to your account"),
    (Category::Threat, "temporarily suspended"),
    (Category::Threat, "temporarily restricted"),
    (Category::Threat, "temporarily limited"),
    (Category::Threat, "suspension of your account"),
    (Category::Threat, "unusual activity"),
    (Category::Threat, "suspicious activity"),
    (Category::Threat, "unauthorized access"),
    (Category::Threat, "unauthorised access"),
    (Category::Threat, "unauthorized transaction"),
    (Category::Threat, "unauthorized login"),
    (Category::Threat, "fraudulent activity"),
    (Category::Threat, "security measure"),
    (Category::Threat, "security reasons"),
    (Category::Threat, "security alert"),
    (Category::Threat, "billing problem"),
    (Category::Threat, "could not verify your"),
    (Category::Threat, "unable to verify your"),
    (Category::Threat, "mailbox is full"),
    (Category::Threat, "mailbox has exceeded"),
    (Category::Threat, "exceeded the storage limit"),
    (Category::Threat, "exceeded its quota"),
    (Category::Threat, "账户已被冻结"),
    (Category::Threat, "帐户已被冻结"),
    (Category::Threat, "账号异常"),
    (Category::Threat, "帐号异常"),
    (Category::Threat, "账户异常"),
    (Category::Threat, "将被停用"),
    (Category::Threat, "将被冻结"),
    (Category::Threat, "邮箱容量已满"),
    (Category::Threat, "邮箱已满"),
    (Category::Threat, "异地登录"),
    // Request
    (Category::Request, "verify your account"),
    (Category::Request, "verify your identity"),
    (Category::Request, "verify your information"),
    (Category::Request, "verify your details"),
    (Category::Request, "confirm your account"),
    (Category::Request, "confirm your identity"),
    (Category::Request, "confirm your information"),
    (Category::Request, "confirm your details"),
    (Category::Request, "confirm your password"),
    (Category::Request, "update your account"),
    (Category::Request, "update your information"),
    (Category::Request, "update your billing"),
    (Category::Request, "update your payment"),
    (Category::Request, "update your records"),
    (Category::Request, "update your details"),
    (Category::Request, "re-update"),
    (Category::Request, "reactivate your account"),
    (Category::Request, "re-activate your account"),
    (Category::Request, "validate your account"),
    (Category::Request, "validate your mailbox"),
    (Category::Request, "restore your account"),
    (Category::Request, "account information"),
    (Category::Request, "billing information"),
    (Category::Request, "credit card information"),
    (Category::Request, "card verification"),
    (Category::Request, "social security number"),
    (Category::Request, "enter your password"),
    (Category::Request, "your login details"),
    (Category::Request, "your online banking"),
    (Category::Request, "验证您的"),
    (Category::Request, "验证你的"),
    (Category::Request, "核实您的"),
    (Category::Request, "重新验证"),
    (Category::Request, "输入您的密码"),
    (Category::Request, "更新您的账户"),
    (Category::Request, "升级邮箱"),
    // Urgency
    (Category::Urgency, "within 24 hours"),
    (Category::Urgency, "within 48 hours"),
    (Category::Urgency, "within 72 hours"),
    (Category::Urgency, "within 24hrs"),
    (Category::Urgency, "within 3 days"),
    (Category::Urgency, "within three days"),
    (Category::Urgency, "within 5 business days"),
    (Category::Urgency, "failure to update"),
    (Category::Urgency, "failure to verify"),
    (Category::Urgency, "failure to comply"),
    (Category::Urgency, "failure to confirm"),
    (Category::Urgency, "if you do not respond"),
    (Category::Urgency, "if you do not update"),
    (Category::Urgency, "if this is not completed"),
    (Category::Urgency, "will result in"),
    (Category::Urgency, "as soon as possible"),
    (Category::Urgency, "permanently"),
    (Category::Urgency, "immediately"),
    (Category::Urgency, "24小时内"),
    (Category::Urgency, "48小时内"),
    (Category::Urgency, "立即"),
    (Category::Urgency, "尽快"),
    (Category::Urgency, "逾期"),
    // Action
    (Category::Action, "click here"),
    (Category::Action, "click the link"),
    (Category::Action, "click on the link"),
    (Category::Action, "click below"),
    (Category::Action, "click on the button"),
    (Category::Action, "follow the link"),
    (Category::Action, "link below"),
    (Category::Action, "sign in to your account"),
    (Category::Action, "log in to your account"),
    (Category::Action, "login to your account"),
    (Category::Action, "log on to your account"),
    (Category::Action, "点击以下链接"),
    (Category::Action, "点击下面的链接"),
    (Category::Action, "点击此处"),
    (Category::Action, "点击链接"),
    (Category::Action, "请登录"),
    // German
    (Category::Threat, "ihr konto wurde gesperrt"),
    (Category::Threat, "konto gesperrt"),
    (Category::Threat, "aus sicherheitsgründen"),
    (Category::Threat, "sicherheitsgründen"),
    (Category::Threat, "eingeschränkt"),
    (Category::Request, "bestätigen sie ihre"),
    (Category::Request, "verifizieren sie ihre"),
    (Category::Request, "aktualisieren sie ihre"),
    (Category::Request, "ihre daten"),
    (Category::Request, "ihre kontodaten"),
    (Category::Urgency, "innerhalb von 24 stunden"),
    (Category::Urgency, "innerhalb von 48 stunden"),
    (Category::Urgency, "umgehend"),
    (Category::Action, "klicken sie"),
    (Category::Action, "folgenden link"),
    // French
    (Category::Threat, "votre compte a été suspendu"),
    (Category::Threat, "votre compte sera suspendu"),
    (Category::Threat, "raisons de sécurité"),
    (Category::Request, "confirmer votre"),
    (Category::Request, "vérifier votre"),
    (Category::Request, "mettre à jour vos"),
    (Category::Urgency, "dans les 24 heures"),
    (Category::Action, "cliquez ici"),
    (Category::Action, "cliquez sur le lien"),
    // Spanish and Portuguese
    (Category::Threat, "su cuenta ha sido suspendida"),
    (Category::Threat, "su cuenta será suspendida"),
    (Category::Threat, "razones de seguridad"),
    (Category::Request, "verificar su cuenta"),
    (Category::Request, "confirmar su"),
    (Category::Request, "actualizar sus datos"),
    (Category::Action, "haga clic"),
    (Category::Action, "clique aqui"),
    (Category::Request, "atualizar seus dados"),
    // More English forms seen in lures
    (Category::Request, "update your records"),
    (Category::Request, "update your personal"),
    (Category::Request, "verify your records"),
    (Category::Request, "personal information"),
    (Category::Request, "atm card"),
    (Category::Request, "pin number"),
    (Category::Threat, "security standards"),
    (Category::Threat, "account suspension"),
    (Category::Threat, "has been compromised"),
];

pub struct Lure {
    matcher: AhoCorasick,
}

impl Lure {
    pub fn new() -> Self {
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(PHRASES.iter().map(|(_, p)| p))
            .expect("the phrase list is a valid automaton");
        Lure { matcher }
    }
}

impl Default for Lure {
    fn default() -> Self {
        Lure::new()
    }
}

/// Lower-cased? No: matching is ASCII case-insensitive. Whitespace runs become one space, so
/// phrases broken across lines (and HTML source) still match.
fn normalize(text: &str, out: &mut String) {
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out.push(' ');
}

#[async_trait]
impl Check for Lure {
    fn name(&self) -> &'static str {
        "phish"
    }

    fn applies_to(&self, direction: Direction) -> bool {
        direction == Direction::Inbound
    }

    async fn run(&self, mail: &Mail<'_>, _: &Envelope, out: &mut CheckOutput) {
        // A lure needs somewhere to send the victim.
        if out.navigation_links == 0 {
            return;
        }
        let mut text = String::new();
        normalize(mail.subject(), &mut text);
        for body in mail.text_bodies() {
            normalize(body, &mut text);
        }
        for body in &out.visible_texts {
            normalize(body, &mut text);
        }
        let mut seen: Vec<(Category, &str)> = Vec::new();
        for m in self.matcher.find_iter(&text) {
            let (category, phrase) = PHRASES[m.pattern().as_usize()];
            if !seen.iter().any(|(c, _)| *c == category) {
                seen.push((category, phrase));
            }
        }
        // The lure drawn as a picture: HTML that shows a few words and an image, and a link to
        // click (the words are often random "hash-buster" filler for the filters).
        let html_words: usize = out
            .visible_texts
            .iter()
            .map(|t| t.split_whitespace().count())
            .sum();
        let text_words: usize = mail
            .text_bodies()
            .iter()
            .map(|t| t.split_whitespace().count())
            .sum();
        let shows_image = out.resource_links > 0
            || mail.html_bodies().iter().any(|h| {
                let h = h.as_bytes();
                memchr::memmem::find(h, b"<img").is_some()
                    || memchr::memmem::find(h, b"<IMG").is_some()
                    || memchr::memmem::find(h, b"<area").is_some()
                    || memchr::memmem::find(h, b"<AREA").is_some()
            });
        if !out.visible_texts.is_empty() && html_words < 12 && text_words < 12 && shows_image {
            out.push(
                Finding::new("phish.image_lure", 2.5)
                    .with_evidence(format!("{html_words} visible word(s), an image and a link")),
            );
        }
        let has = |c: Category| seen.iter().any(|(s, _)| *s == c);
        // Threat or request is the core of a lure; urgency and the call to click complete it.
        if !(has(Category::Threat) || has(Category::Request)) {
            return;
        }
        let mut score = match seen.len() {
            1 => 1.0,
            2 => 2.0,
            3 => 4.5,
            _ => 6.0,
        };
        let mut phrases: Vec<String> = seen.iter().map(|(_, p)| format!("\"{p}\"")).collect();
        // A sender that asks for account action but sends no link to its own domain.
        if !out.links_to_sender_domain {
            score += 1.5;
            phrases.push("no link to the sender's own domain".into());
        }
        out.push(Finding::new("phish.lure_language", score).with_evidence(phrases.join(", ")));
    }
}
