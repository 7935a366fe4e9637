//! Sending limits layered by scope: organisation, department, level, user. Each limit is taken
//! from the most specific scope that sets it, and the scope is kept for messages and `explain`.

use std::collections::HashMap;

use rampart_model::config::{SendLimits, SendingConfig};
use serde::Serialize;

use crate::PolicyScope;

/// One limit in force and the scope that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopedLimit {
    pub max: u32,
    pub scope: PolicyScope,
}

/// The limits in force for one account; `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EffectiveLimits {
    pub messages_per_hour: Option<ScopedLimit>,
    pub messages_per_day: Option<ScopedLimit>,
    pub recipients_per_message: Option<ScopedLimit>,
    pub external_recipients_per_day: Option<ScopedLimit>,
}

impl EffectiveLimits {
    /// Each limit that is set, its value and the scope it came from, in declaration order
    /// (`rampart sending explain`).
    pub fn explain(&self) -> Vec<(&'static str, u32, PolicyScope)> {
        [
            ("messages_per_hour", &self.messages_per_hour),
            ("messages_per_day", &self.messages_per_day),
            ("recipients_per_message", &self.recipients_per_message),
            (
                "external_recipients_per_day",
                &self.external_recipients_per_day,
            ),
        ]
        .into_iter()
        .filter_map(|(name, l)| l.as_ref().map(|l| (name, l.max, l.scope.clone())))
        .collect()
    }
}

/// A scope borrowed from the configuration: resolving limits for a message allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeRef<'a> {
    Org,
    Department(&'a str),
    Level(&'a str),
    User(&'a str),
}

impl ScopeRef<'_> {
    pub(crate) fn to_scope(self) -> PolicyScope {
        match self {
            ScopeRef::Org => PolicyScope::Org,
            ScopeRef::Department(d) => PolicyScope::Department(d.to_string()),
            ScopeRef::Level(l) => PolicyScope::Level(l.to_string()),
            ScopeRef::User(u) => PolicyScope::User(u.to_string()),
        }
    }
}

/// A limit as the engine uses it.
pub(crate) type Limit<'a> = Option<(u32, ScopeRef<'a>)>;

/// [`EffectiveLimits`] without allocation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Resolved<'a> {
    pub messages_per_hour: Limit<'a>,
    pub messages_per_day: Limit<'a>,
    pub recipients_per_message: Limit<'a>,
    pub external_recipients_per_day: Limit<'a>,
}

impl Resolved<'_> {
    pub(crate) fn to_effective(self) -> EffectiveLimits {
        let own = |l: Limit<'_>| {
            l.map(|(max, scope)| ScopedLimit {
                max,
                scope: scope.to_scope(),
            })
        };
        EffectiveLimits {
            messages_per_hour: own(self.messages_per_hour),
            messages_per_day: own(self.messages_per_day),
            recipients_per_message: own(self.recipients_per_message),
            external_recipients_per_day: own(self.external_recipients_per_day),
        }
    }
}

/// The configured layers, with user keys lower-cased (addresses are case-insensitive in
/// Rampart).
#[derive(Debug, Clone)]
pub(crate) struct LimitTable {
    org: SendLimits,
    departments: HashMap<String, SendLimits>,
    levels: HashMap<String, SendLimits>,
    users: HashMap<String, (String, SendLimits)>,
}

impl LimitTable {
    pub(crate) fn new(config: &SendingConfig) -> LimitTable {
        LimitTable {
            org: config.org.clone(),
            departments: config
                .departments
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            levels: config
                .levels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            users: config
                .users
                .iter()
                .map(|(k, v)| (k.to_lowercase(), (k.clone(), v.clone())))
                .collect(),
        }
    }

    /// Layers from least to most specific; later layers override the fields they set.
    /// `account` must already be lower-cased.
    pub(crate) fn resolve<'a>(
        &'a self,
        account: &str,
        department: Option<&str>,
        level: Option<&str>,
    ) -> Resolved<'a> {
        let mut out = Resolved::default();
        apply(&mut out, &self.org, ScopeRef::Org);
        if let Some((name, limits)) = department.and_then(|d| self.departments.get_key_value(d)) {
            apply(&mut out, limits, ScopeRef::Department(name));
        }
        if let Some((name, limits)) = level.and_then(|l| self.levels.get_key_value(l)) {
            apply(&mut out, limits, ScopeRef::Level(name));
        }
        if let Some((name, limits)) = self.users.get(account) {
            apply(&mut out, limits, ScopeRef::User(name));
        }
        out
    }
}

fn apply<'a>(out: &mut Resolved<'a>, layer: &SendLimits, scope: ScopeRef<'a>) {
    let set = |slot: &mut Limit<'a>, v: Option<u32>| {
        if let Some(v) = v {
            *slot = Some((v, scope));
        }
    };
    set(&mut out.messages_per_hour, layer.messages_per_hour);
    set(&mut out.messages_per_day, layer.messages_per_day);
    set(
        &mut out.recipients_per_message,
        layer.recipients_per_message,
    );
    set(
        &mut out.external_recipients_per_day,
        layer.external_recipients_per_day,
    );
}
