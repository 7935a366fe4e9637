//! Learning from users: "this is spam" / "this is not spam" trains the reporter's personal layer
//! over the global model, stored with their account and applied to mail addressed to them.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use rampart_classify::{LayeredModel, Model};
use rampart_model::{Config, EmailAddress, MessageId};
use rampart_scan::checks::spam::UserModels;
use rampart_scan::spam::mail_features;
use rampart_scan::Mail;
use rampart_store::Mailstore;

/// Personal layers read from the store.
pub struct StoreUserModels {
    pub store: Mailstore,
}

#[async_trait]
impl UserModels for StoreUserModels {
    async fn layer(&self, recipient: &str) -> Option<Arc<Model>> {
        let address: EmailAddress = recipient.parse().ok()?;
        let bytes = self.store.meta().user_model(&address).await.ok()??;
        match Model::load(&mut bytes.as_slice()) {
            Ok(model) => Some(Arc::new(model)),
            Err(e) => {
                tracing::warn!(%address, error = %e, "personal spam layer does not load; using the global model");
                None
            }
        }
    }
}

/// The global model the server uses: the configured file, or the built-in one.
pub fn global_model(config: &Config) -> anyhow::Result<Arc<Model>> {
    match &config.scan.spam_model {
        Some(path) => Ok(Arc::new(
            Model::load_from_path(path)
                .with_context(|| format!("cannot load {}", path.display()))?,
        )),
        None => {
            rampart_scan::checks::default_spam_model().context("this build ships no spam model")
        }
    }
}

/// What a report changed, for the CLI.
pub struct Reported {
    pub before: f32,
    pub after: f32,
}

/// Trains `account`'s layer on message `id` as spam (or ham) and stores it.
pub async fn report(
    store: &Mailstore,
    config: &Config,
    account: &EmailAddress,
    id: MessageId,
    spam: bool,
    actor: &str,
) -> anyhow::Result<Reported> {
    let global = global_model(config)?;
    let raw = store.raw(account, id).await?;
    train(store, &global, account, id, &raw, spam, actor).await
}

/// Trains `account`'s layer on the bytes of message `id` and stores it.
async fn train(
    store: &Mailstore,
    global: &Model,
    account: &EmailAddress,
    id: MessageId,
    raw: &[u8],
    spam: bool,
    actor: &str,
) -> anyhow::Result<Reported> {
    let features = mail_features(&Mail::parse(raw), global.feature_config());
    let mut user = match store.meta().user_model(account).await? {
        Some(bytes) => {
            Model::load(&mut bytes.as_slice()).context("the stored personal layer is damaged")?
        }
        None => Model::user_layer_for(global),
    };
    let before = LayeredModel {
        global,
        user: &user,
    }
    .predict(&features);
    // A few passes: one report should move this message (and its look-alikes) decisively.
    for _ in 0..3 {
        user.train_over(global, &features, spam);
    }
    let after = LayeredModel {
        global,
        user: &user,
    }
    .predict(&features);
    let mut bytes = Vec::new();
    user.save(&mut bytes)?;
    let feedback = if spam { "spam" } else { "ham" };
    store
        .meta()
        .save_user_model(account, bytes, feedback, id, store.now(), actor)
        .await?;
    Ok(Reported { before, after })
}

/// Moving mail into or out of Junk over IMAP trains the mover's personal layer, like
/// `rampart mail report`.
pub struct ImapJunkFeedback {
    pub store: Mailstore,
    pub global: Arc<Model>,
}

impl rampart_imap::JunkFeedback for ImapJunkFeedback {
    fn report(
        &self,
        account: &EmailAddress,
        message: MessageId,
        raw: bytes::Bytes,
        spam: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let account = account.clone();
        Box::pin(async move {
            let actor = format!("imap:{account}");
            match train(
                &self.store,
                &self.global,
                &account,
                message,
                &raw,
                spam,
                &actor,
            )
            .await
            {
                Ok(r) => {
                    tracing::info!(%account, spam, before = r.before, after = r.after, "personal spam layer trained from a Junk move")
                }
                Err(e) => tracing::warn!(%account, error = %e, "cannot train from a Junk move"),
            }
        })
    }
}
