use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rampart_model::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate to offer with STARTTLS: the configured one, or a self-signed one for
/// `hostname` created under `<data>/tls/` on first run and reused afterwards.
pub fn server_config(config: &Config, data: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (cert_path, key_path) = match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => self_signed(&config.hostname, data)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("cannot read certificate {}", cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("certificate file {} is not valid PEM", cert_path.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "certificate file {} holds no certificate",
            cert_path.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("cannot read private key {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and private key do not match")?;
    Ok(Arc::new(server))
}

fn self_signed(hostname: &str, data: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data.join("tls");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(&dir)?;
    let generated = rcgen::generate_simple_self_signed(vec![hostname.to_string()])
        .context("cannot generate a self-signed certificate")?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, generated.cert.pem())?;
    tracing::info!(path = %cert_path.display(), %hostname, "created a self-signed TLS certificate");
    Ok((cert_path, key_path))
}

/// Writes a secret readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
