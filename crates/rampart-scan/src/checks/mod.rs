//! The registered checks. Adding one: a file here implementing [`Check`](crate::Check), and one
//! line in [`builtin`].

use std::sync::{Arc, RwLock};

use rampart_model::config::ScanConfig;

use crate::{Check, OrgDirectory, ScanError};

pub mod antivirus;
pub mod attachments;
pub mod auth;
pub mod dlp;
pub mod gtube;
pub mod impersonation;
pub mod links;
pub mod lure;
pub mod spam;

pub use crate::pipeline::{CheckOutput, ScannedFile};

/// Every built-in check, configured, in the order it runs.
pub fn builtin(
    config: &ScanConfig,
    hostname: &str,
    org: &Arc<RwLock<OrgDirectory>>,
    users: &spam::UserModelSlot,
) -> Result<Vec<Box<dyn Check>>, ScanError> {
    let blocklist = if config.blocklists.is_empty() {
        None
    } else {
        let list = rampart_urls::Blocklist::load(config.blocklists.iter())
            .map_err(|e| ScanError::Config(format!("scan.blocklists: {e}")))?;
        Some(Arc::new(list))
    };
    let mut checks: Vec<Box<dyn Check>> = vec![
        Box::new(gtube::Gtube),
        Box::new(impersonation::Impersonation::new(Arc::clone(org))),
        // Before `links`: it hands over the text found inside attachments.
        Box::new(attachments::Attachments::new(
            rampart_files::Limits::default(),
        )),
        Box::new(links::Links::new(
            Arc::clone(org),
            config.brands.clone(),
            blocklist,
        )),
        // After `links`: it reads the visible text and link counts the link check found.
        Box::new(lure::Lure::new()),
        // After `attachments`: it checks the hashes of every file found there.
        Box::new(antivirus::Antivirus::new(
            hash_signatures(config)?,
            clamd(config),
            rampart_av::AvPolicy {
                fail_closed: config.clamd_fail_closed,
            },
        )),
        // DLP registers with `Scanner::with_dlp` (its detectors come from the `[dlp]` section).
    ];
    if config.spam {
        let model = match &config.spam_model {
            Some(path) => Some(Arc::new(
                rampart_classify::Model::load_from_path(path).map_err(|e| {
                    ScanError::Config(format!("scan.spam_model {}: {e}", path.display()))
                })?,
            )),
            None => default_spam_model(),
        };
        if let Some(model) = model {
            checks.push(Box::new(spam::SpamClassifier::new(
                model,
                Arc::clone(users),
            )));
        }
    }
    if config.dns.enabled {
        checks.push(Box::new(auth::SenderAuthentication::new(
            sender_auth(config)?,
            hostname,
        )));
    }
    Ok(checks)
}

/// The spam model shipped inside the binary, trained on the deduplicated public corpora
/// (`rampart train spam`); loaded once.
pub fn default_spam_model() -> Option<Arc<rampart_classify::Model>> {
    static MODEL: std::sync::OnceLock<Option<Arc<rampart_classify::Model>>> =
        std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            let bytes: &[u8] = include_bytes!("../../models/spam-default.rmc");
            match rampart_classify::Model::load(&mut &bytes[..]) {
                Ok(model) => Some(Arc::new(model)),
                Err(e) => {
                    tracing::error!(error = %e, "the built-in spam model does not load");
                    None
                }
            }
        })
        .clone()
}

fn hash_signatures(config: &ScanConfig) -> Result<rampart_av::HashSignatures, ScanError> {
    match &config.hash_signatures {
        Some(path) => rampart_av::HashSignatures::load(path)
            .map_err(|e| ScanError::Config(format!("scan.hash_signatures: {e}"))),
        None => Ok(rampart_av::HashSignatures::builtin()),
    }
}

/// The configured clamd: a socket path, or `host:port`.
pub fn clamd(config: &ScanConfig) -> Option<rampart_av::ClamdClient> {
    let spec = config.clamd.trim();
    if spec.is_empty() {
        return None;
    }
    let addr = if spec.starts_with('/') || spec.starts_with('.') {
        rampart_av::ClamdAddr::Unix(spec.into())
    } else {
        rampart_av::ClamdAddr::Tcp(spec.to_string())
    };
    Some(rampart_av::ClamdClient::new(
        addr,
        rampart_av::ClamdOptions::default(),
    ))
}

fn sender_auth(config: &ScanConfig) -> Result<rampart_senderauth::SenderAuth, ScanError> {
    let nameservers = config
        .dns
        .nameservers
        .iter()
        .map(|ns| {
            ns.parse()
                .or_else(|_| format!("{ns}:53").parse())
                .map_err(|_| {
                    ScanError::Config(format!("scan.dns.nameservers: {ns:?} is not ip:port"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let auth = rampart_senderauth::AuthConfig {
        dns_timeout: std::time::Duration::from_millis(config.dns.timeout_ms.max(100)),
        nameservers,
        ..Default::default()
    };
    rampart_senderauth::SenderAuth::new(&auth)
        .map_err(|e| ScanError::Config(format!("sender authentication: {e}")))
}
