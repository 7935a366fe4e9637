//! The registered checks. Adding one: a file here implementing [`Check`](crate::Check), and one
//! line in [`builtin`].

use std::sync::{Arc, RwLock};

use rampart_model::config::ScanConfig;

use crate::{Check, OrgDirectory, ScanError};

pub mod auth;
pub mod gtube;
pub mod impersonation;

pub use crate::pipeline::CheckOutput;

/// Every built-in check, configured, in the order it runs.
pub fn builtin(
    config: &ScanConfig,
    hostname: &str,
    org: &Arc<RwLock<OrgDirectory>>,
) -> Result<Vec<Box<dyn Check>>, ScanError> {
    let mut checks: Vec<Box<dyn Check>> = vec![
        Box::new(gtube::Gtube),
        Box::new(impersonation::Impersonation::new(Arc::clone(org))),
        // The spam classifier (issue 4) and DLP (issue 6) register here as checks like any other.
    ];
    if config.dns.enabled {
        checks.push(Box::new(auth::SenderAuthentication::new(
            sender_auth(config)?,
            hostname,
        )));
    }
    Ok(checks)
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
