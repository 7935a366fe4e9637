//! Admin rules for logins, layered by scope: organisation, department, level (role or seniority),
//! user. Each field is optional so a layer only says what it changes; the most specific layer
//! that sets a field wins, and [`EffectivePolicy::explain`] says where each setting came from.

use std::net::IpAddr;

use ipnet::IpNet;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::decision::Reason;
use crate::profile::Profile;
use crate::RiskError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    #[serde(alias = "monday")]
    Mon,
    #[serde(alias = "tuesday")]
    Tue,
    #[serde(alias = "wednesday")]
    Wed,
    #[serde(alias = "thursday")]
    Thu,
    #[serde(alias = "friday")]
    Fri,
    #[serde(alias = "saturday")]
    Sat,
    #[serde(alias = "sunday")]
    Sun,
}

impl Weekday {
    fn index(self) -> u8 {
        self as u8
    }
}

/// Local times when logins are allowed: `days` (empty = every day), `start` and `end` as
/// `HH:MM` in the policy's time zone. `end` before `start` spans midnight (the night belongs to
/// the day it starts on); `end` may be `24:00`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginWindow {
    #[serde(default)]
    pub days: Vec<Weekday>,
    pub start: String,
    pub end: String,
}

/// One layer of login rules. Unset (`None`) fields are inherited from less specific layers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminPolicy {
    /// ISO country codes logins may come from; an unknown country is refused when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_countries: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_countries: Option<Vec<String>>,
    /// Only devices already seen in trusted logins or explicitly enrolled may log in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_binding: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_windows: Option<Vec<LoginWindow>>,
    /// IANA time zone for `login_windows` (default UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// When set, only these networks may log in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_allow: Option<Vec<IpNet>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_deny: Option<Vec<IpNet>>,
    /// Every login must pass a second factor (a device the user approved recently counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_required: Option<bool>,
}

/// Where a policy layer applies. Specificity: org < department < level < user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyScope {
    Org,
    Department(String),
    Level(String),
    User(String),
}

impl PolicyScope {
    fn rank(&self) -> u8 {
        match self {
            PolicyScope::Org => 0,
            PolicyScope::Department(_) => 1,
            PolicyScope::Level(_) => 2,
            PolicyScope::User(_) => 3,
        }
    }
}

impl std::fmt::Display for PolicyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyScope::Org => f.write_str("org"),
            PolicyScope::Department(d) => write!(f, "department:{d}"),
            PolicyScope::Level(l) => write!(f, "level:{l}"),
            PolicyScope::User(u) => write!(f, "user:{u}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ParsedWindow {
    /// Bit i = Weekday index i (Mon = 0).
    days: u8,
    start: u16,
    end: u16,
}

/// The policy in force for one account: layers merged field by field.
#[derive(Debug, Clone, Default)]
pub struct EffectivePolicy {
    policy: AdminPolicy,
    sources: Vec<(&'static str, PolicyScope)>,
    tz: Option<TimeZone>,
    windows: Vec<ParsedWindow>,
    problems: Vec<String>,
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

macro_rules! merge_fields {
    ($out:ident, $sources:ident, $scope:ident, $layer:ident, $($field:ident),*) => {
        $(
            if let Some(v) = &$layer.$field {
                $out.$field = Some(v.clone());
                $sources.retain(|(f, _)| *f != stringify!($field));
                $sources.push((stringify!($field), $scope.clone()));
            }
        )*
    };
}

impl EffectivePolicy {
    /// Merges layers: sorted by specificity (org, department, level, user; the given order is
    /// kept within one kind), each later layer overrides the fields it sets.
    pub fn merge(layers: &[(PolicyScope, AdminPolicy)]) -> EffectivePolicy {
        let mut ordered: Vec<&(PolicyScope, AdminPolicy)> = layers.iter().collect();
        ordered.sort_by_key(|(s, _)| s.rank());
        let mut policy = AdminPolicy::default();
        let mut sources: Vec<(&'static str, PolicyScope)> = Vec::new();
        for (scope, layer) in ordered {
            merge_fields!(
                policy,
                sources,
                scope,
                layer,
                allowed_countries,
                denied_countries,
                device_binding,
                login_windows,
                timezone,
                ip_allow,
                ip_deny,
                mfa_required
            );
        }
        let order = [
            "allowed_countries",
            "denied_countries",
            "device_binding",
            "login_windows",
            "timezone",
            "ip_allow",
            "ip_deny",
            "mfa_required",
        ];
        sources.sort_by_key(|(f, _)| order.iter().position(|o| o == f));

        let mut problems = Vec::new();
        let tz = match &policy.timezone {
            Some(name) => match TimeZone::get(name) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    problems.push(format!(
                        "unknown time zone {name:?}; use an IANA name such as Europe/Oslo or \
                         Asia/Shanghai"
                    ));
                    None
                }
            },
            None => None,
        };
        let mut windows = Vec::new();
        for w in policy.login_windows.iter().flatten() {
            match (parse_hhmm(&w.start), parse_hhmm(&w.end)) {
                (Some(start), Some(end)) if start != end => {
                    let days = if w.days.is_empty() {
                        0x7f
                    } else {
                        w.days.iter().fold(0u8, |acc, d| acc | 1 << d.index())
                    };
                    windows.push(ParsedWindow { days, start, end });
                }
                _ => problems.push(format!(
                    "login window {}-{} is not two different HH:MM times (like 08:00-19:00)",
                    w.start, w.end
                )),
            }
        }
        EffectivePolicy {
            policy,
            sources,
            tz,
            windows,
            problems,
        }
    }

    /// A single-layer policy (org scope).
    pub fn from_policy(policy: AdminPolicy) -> EffectivePolicy {
        EffectivePolicy::merge(&[(PolicyScope::Org, policy)])
    }

    /// The merged settings.
    pub fn policy(&self) -> &AdminPolicy {
        &self.policy
    }

    /// Each set field, its value (JSON) and the scope it came from, in declaration order.
    pub fn explain(&self) -> Vec<(&'static str, String, PolicyScope)> {
        self.sources
            .iter()
            .map(|(field, scope)| (*field, self.field_value(field), scope.clone()))
            .collect()
    }

    fn field_value(&self, field: &str) -> String {
        let p = &self.policy;
        let v = match field {
            "allowed_countries" => serde_json::to_string(&p.allowed_countries),
            "denied_countries" => serde_json::to_string(&p.denied_countries),
            "device_binding" => serde_json::to_string(&p.device_binding),
            "login_windows" => serde_json::to_string(&p.login_windows),
            "timezone" => serde_json::to_string(&p.timezone),
            "ip_allow" => serde_json::to_string(&p.ip_allow),
            "ip_deny" => serde_json::to_string(&p.ip_deny),
            "mfa_required" => serde_json::to_string(&p.mfa_required),
            _ => Ok(String::new()),
        };
        v.unwrap_or_default()
    }

    /// Errors an admin must fix (unknown time zone, malformed window). A policy with problems
    /// still applies: windows it cannot read deny (fail closed).
    pub fn validate(&self) -> Result<(), RiskError> {
        match self.problems.first() {
            Some(p) => Err(RiskError::Policy(p.clone())),
            None => Ok(()),
        }
    }

    /// Whether `at_ms` falls in a login window (true when no windows are set).
    pub fn in_login_window(&self, at_ms: i64) -> bool {
        if self.policy.login_windows.is_none() {
            return true;
        }
        let Ok(ts) = jiff::Timestamp::from_millisecond(at_ms) else {
            return false;
        };
        let tz = self.tz.clone().unwrap_or(TimeZone::UTC);
        let local = tz.to_datetime(ts);
        let day = local.weekday().to_monday_zero_offset() as u8;
        let prev = (day + 6) % 7;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.windows.iter().any(|w| {
            if w.start < w.end {
                w.days & (1 << day) != 0 && minute >= w.start && minute < w.end
            } else {
                (w.days & (1 << day) != 0 && minute >= w.start)
                    || (w.days & (1 << prev) != 0 && minute < w.end)
            }
        })
    }

    /// Hard rules: reasons to refuse whatever the score.
    pub(crate) fn denials(
        &self,
        ip: IpAddr,
        country: Option<&str>,
        at_ms: i64,
        device_id: Option<&str>,
        profile: &Profile,
    ) -> (Vec<Reason>, Vec<Reason>) {
        let p = &self.policy;
        let mut deny = Vec::new();
        let mut challenge = Vec::new();
        if let Some(net) = p.ip_deny.iter().flatten().find(|n| n.contains(&ip)) {
            deny.push(Reason::new(
                "ip_denied",
                format!("{ip} is in the denied network {net}"),
                0.0,
            ));
        }
        if let Some(allow) = &p.ip_allow {
            if !allow.iter().any(|n| n.contains(&ip)) {
                deny.push(Reason::new(
                    "ip_denied",
                    format!("{ip} is outside the networks logins are allowed from"),
                    0.0,
                ));
            }
        }
        let country_upper = country.map(str::to_ascii_uppercase);
        if let Some(denied) = &p.denied_countries {
            if let Some(c) = &country_upper {
                if denied.iter().any(|d| d.eq_ignore_ascii_case(c)) {
                    deny.push(Reason::new(
                        "geofence",
                        format!("logins from {c} are denied"),
                        0.0,
                    ));
                }
            }
        }
        if let Some(allowed) = &p.allowed_countries {
            match &country_upper {
                Some(c) if allowed.iter().any(|a| a.eq_ignore_ascii_case(c)) => {}
                Some(c) => deny.push(Reason::new(
                    "geofence",
                    format!(
                        "{c} is not among the allowed countries {}",
                        allowed.join(", ")
                    ),
                    0.0,
                )),
                None => deny.push(Reason::new(
                    "geofence",
                    "the login's country is unknown and only some countries are allowed",
                    0.0,
                )),
            }
        }
        if !self.in_login_window(at_ms) {
            let tz = p.timezone.as_deref().unwrap_or("UTC");
            deny.push(Reason::new(
                "outside_login_window",
                format!("outside the allowed login hours ({tz})"),
                0.0,
            ));
        }
        if p.device_binding == Some(true) {
            match device_id {
                Some(d) if profile.knows_device(d) => {}
                // The very first device of an account is enrolled by passing a challenge.
                Some(_) if !profile.has_devices() => challenge.push(Reason::new(
                    "device_not_enrolled",
                    "first device of this account: verify to enrol it",
                    0.0,
                )),
                Some(d) => deny.push(Reason::new(
                    "device_not_enrolled",
                    format!("device {d} is not enrolled for this account; an admin can enrol it"),
                    0.0,
                )),
                None => deny.push(Reason::new(
                    "device_not_enrolled",
                    "the client sent no device id and device binding is on",
                    0.0,
                )),
            }
        }
        if p.mfa_required == Some(true) {
            challenge.push(Reason::new(
                "mfa_required",
                "policy requires a second factor",
                0.0,
            ));
        }
        (deny, challenge)
    }
}
