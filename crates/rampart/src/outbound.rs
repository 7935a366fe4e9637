//! Builds the outbound delivery worker from `[outbound]`: DNS (hickory, validating when DANE is
//! on), the router with its MTA-STS cache, the SMTP client, and the DKIM keys.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rampart_model::Config;
use rampart_outbound::client::{Client, ClientConfig};
use rampart_outbound::dkim::DkimKeys;
use rampart_outbound::dns::{HickoryOptions, HickoryResolver, Resolve};
use rampart_outbound::mtasts::{MtaSts, MtaStsConfig};
use rampart_outbound::route::{Router, RouterConfig};
use rampart_smtp::delivery::{Delivery, QueuePolicy};
use rampart_store::Mailstore;

/// The worker, or `None` when `[outbound] enabled = false` (mail then waits in the queue).
pub async fn delivery(
    config: &Config,
    data: &Path,
    store: &Mailstore,
) -> anyhow::Result<Option<Arc<Delivery>>> {
    let out = &config.outbound;
    if !out.enabled {
        tracing::warn!(
            "outbound delivery is disabled ([outbound] enabled = false): remote mail stays queued"
        );
        return Ok(None);
    }
    let dkim_dir = data.join(&out.dkim_dir);
    let dkim = DkimKeys::load(&dkim_dir).with_context(|| {
        format!(
            "cannot load the DKIM keys in {} (fix or remove the file named)",
            dkim_dir.display()
        )
    })?;
    if dkim.is_empty() {
        tracing::warn!("no DKIM keys: outbound mail is unsigned; create one with `rampart dkim generate example.com`");
    } else {
        tracing::info!(domains = ?dkim.domains(), "DKIM signing ready");
    }
    let nameservers = config
        .scan
        .dns
        .nameservers
        .iter()
        .map(|s| {
            s.parse::<std::net::SocketAddr>()
                .map(|a| a.ip())
                .or_else(|_| s.parse::<std::net::IpAddr>())
                .with_context(|| format!("[scan.dns] nameservers: {s:?} is not an address"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let resolver: Arc<dyn Resolve> = Arc::new(
        HickoryResolver::new(&HickoryOptions {
            nameservers,
            dnssec: out.dane,
            ..HickoryOptions::default()
        })
        .map_err(|e| anyhow::anyhow!("cannot set up DNS for outbound delivery: {e}"))?,
    );
    let client_config = ClientConfig::from_outbound(out, &config.hostname)
        .context("[outbound] extra_roots: cannot read a trust anchor file")?;
    let mta_sts = Arc::new(MtaSts::new(MtaStsConfig {
        extra_roots: client_config.extra_roots.clone(),
        ..MtaStsConfig::default()
    }));
    let router_config =
        RouterConfig::from_outbound(out).map_err(|e| anyhow::anyhow!("[outbound] tls: {e}"))?;
    let router = Router::new(resolver, router_config, mta_sts);
    let client = Client::new(client_config);
    let worker = Delivery::new(
        store.clone(),
        router,
        client,
        dkim,
        &config.hostname,
        QueuePolicy::from(out),
    );
    tracing::info!(
        concurrency = out.concurrency,
        per_domain = out.per_domain_concurrency,
        relay = out.relay.as_deref().unwrap_or("-"),
        "outbound delivery ready"
    );
    Ok(Some(Arc::new(worker)))
}
