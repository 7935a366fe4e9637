//! The registered checks. Adding one: a file here implementing [`Check`](crate::Check), and one
//! line in [`builtin`].

use std::sync::{Arc, RwLock};

use rampart_model::config::ScanConfig;

use crate::{Check, OrgDirectory, ScanError};

mod gtube;
mod impersonation;

pub use crate::pipeline::CheckOutput;

/// Every built-in check, configured, in the order it runs.
pub fn builtin(
    _config: &ScanConfig,
    _hostname: &str,
    org: &Arc<RwLock<OrgDirectory>>,
) -> Result<Vec<Box<dyn Check>>, ScanError> {
    let checks: Vec<Box<dyn Check>> = vec![
        Box::new(gtube::Gtube),
        Box::new(impersonation::Impersonation::new(Arc::clone(org))),
        // The spam classifier (issue 4) and DLP (issue 6) register here as checks like any other.
    ];
    Ok(checks)
}
