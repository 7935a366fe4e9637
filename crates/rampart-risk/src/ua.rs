//! A small user-agent family parser: browser name and version, OS name and version, device type.
//!
//! Deliberately tiny (a few ordered substring rules, no regex database): the risk model only needs
//! stable families to back off to when a full UA string is new. Mail clients that send an IMAP ID
//! or a product token (`Thunderbird/115.3`) fall back to their first product token.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Unknown,
}

impl DeviceType {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceType::Desktop => "desktop",
            DeviceType::Mobile => "mobile",
            DeviceType::Tablet => "tablet",
            DeviceType::Bot => "bot",
            DeviceType::Unknown => "unknown",
        }
    }
}

/// The families a user agent belongs to, from coarse to fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UaFamily {
    /// Browser or client name without version: `Chrome`, `Chrome Mobile`, `Mobile Safari`,
    /// `Firefox`, `Edge`, `Thunderbird`, `Other`.
    pub browser: String,
    /// Major version, when present.
    pub browser_major: Option<u32>,
    /// OS family: `Windows`, `Mac OS X`, `iOS`, `Android`, `Chrome OS`, `Linux`, `Other`.
    pub os: &'static str,
    /// OS version as written in the UA (`10`, `13.4`, `10.14.6`), when present.
    pub os_version: Option<String>,
    pub device: DeviceType,
}

fn version_after<'a>(ua: &'a str, marker: &str) -> Option<&'a str> {
    let i = ua.find(marker)? + marker.len();
    let rest = &ua[i..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(rest.len());
    let v = &rest[..end];
    (!v.is_empty() && v.as_bytes()[0].is_ascii_digit()).then_some(v)
}

fn major(v: &str) -> Option<u32> {
    v.split(['.', '_']).next()?.parse().ok()
}

/// Parses a user-agent string into its families. Total: any input gives an answer.
pub fn parse_user_agent(ua: &str) -> UaFamily {
    let ua = ua.trim();
    let lower_has = |s: &str| ua.to_ascii_lowercase().contains(s);

    // Operating system.
    let (os, os_version): (&'static str, Option<String>) =
        if let Some(v) = version_after(ua, "Windows NT ") {
            let name = match v {
                "10.0" => "10",
                "6.3" => "8.1",
                "6.2" => "8",
                "6.1" => "7",
                "6.0" => "Vista",
                "5.1" | "5.2" => "XP",
                other => other,
            };
            ("Windows", Some(name.to_string()))
        } else if ua.contains("Windows") {
            ("Windows", None)
        } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
            let v = version_after(ua, "iPhone OS ").or_else(|| version_after(ua, "CPU OS "));
            ("iOS", v.map(|v| v.replace('_', ".")))
        } else if ua.contains("Android") {
            ("Android", version_after(ua, "Android ").map(str::to_string))
        } else if ua.contains("CrOS") {
            ("Chrome OS", None)
        } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
            (
                "Mac OS X",
                version_after(ua, "Mac OS X ").map(|v| v.replace('_', ".")),
            )
        } else if ua.contains("Linux") || ua.contains("X11") {
            ("Linux", None)
        } else {
            ("Other", None)
        };

    // Device type.
    let device = if ua.is_empty() {
        DeviceType::Unknown
    } else if lower_has("bot") || lower_has("crawler") || lower_has("spider") || lower_has("curl/")
    {
        DeviceType::Bot
    } else if ua.contains("iPad")
        || ua.contains("Tablet")
        || (os == "Android" && !ua.contains("Mobile"))
    {
        DeviceType::Tablet
    } else if ua.contains("Mobile") || ua.contains("iPhone") || os == "Android" {
        DeviceType::Mobile
    } else {
        DeviceType::Desktop
    };

    // Browser (order matters: Edge and Opera also say Chrome; Chrome also says Safari).
    let mobile = matches!(device, DeviceType::Mobile | DeviceType::Tablet);
    let rules: [(&str, &str, &str); 10] = [
        ("Edg/", "Edge", "Edge Mobile"),
        ("EdgA/", "Edge Mobile", "Edge Mobile"),
        ("OPR/", "Opera", "Opera Mobile"),
        ("SamsungBrowser/", "Samsung Internet", "Samsung Internet"),
        ("MiuiBrowser/", "MiuiBrowser", "MiuiBrowser"),
        ("YaBrowser/", "Yandex Browser", "Yandex Browser"),
        ("FxiOS/", "Firefox iOS", "Firefox iOS"),
        ("CriOS/", "Chrome Mobile iOS", "Chrome Mobile iOS"),
        ("Firefox/", "Firefox", "Firefox Mobile"),
        ("Thunderbird/", "Thunderbird", "Thunderbird"),
    ];
    let mut browser = None;
    for (marker, desktop_name, mobile_name) in rules {
        if let Some(v) = version_after(ua, marker) {
            browser = Some((if mobile { mobile_name } else { desktop_name }, major(v)));
            break;
        }
    }
    let browser = browser.unwrap_or_else(|| {
        if let Some(v) = version_after(ua, "Chrome/") {
            let name = if ua.contains("; wv") {
                "Chrome Mobile WebView"
            } else if mobile {
                "Chrome Mobile"
            } else {
                "Chrome"
            };
            (name, major(v))
        } else if ua.contains("Safari/") {
            let name = if mobile { "Mobile Safari" } else { "Safari" };
            (name, version_after(ua, "Version/").and_then(major))
        } else {
            ("", None)
        }
    });
    let (browser, browser_major) = if browser.0.is_empty() {
        // A product token such as `Outlook-iOS/2.0` or `K-9 Mail/6.7`.
        let token = ua.split_whitespace().next().unwrap_or("");
        let (name, ver) = token.split_once('/').unwrap_or((token, ""));
        let name = if name.is_empty() || name == "Mozilla" {
            "Other"
        } else {
            name
        };
        (name.to_string(), major(ver))
    } else {
        (browser.0.to_string(), browser.1)
    };

    UaFamily {
        browser,
        browser_major,
        os,
        os_version,
        device,
    }
}

/// Splits a `Name Version` column value (`Chrome Mobile 81.0.4044`, `iOS 13.4`) into the name and
/// the version: the name is every word before the first word that starts with a digit.
pub(crate) fn split_name_version(s: &str) -> (&str, Option<&str>) {
    let s = s.trim();
    let mut end = s.len();
    let mut version = None;
    let mut pos = 0;
    for word in s.split(' ') {
        if word.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            end = pos;
            version = Some(&s[pos..]);
            break;
        }
        pos += word.len() + 1;
    }
    (s[..end].trim_end(), version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_desktop_and_mobile_agents() {
        let w = parse_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.110 Safari/537.36");
        assert_eq!(
            (w.browser.as_str(), w.browser_major, w.os, w.device),
            ("Chrome", Some(120), "Windows", DeviceType::Desktop)
        );
        assert_eq!(w.os_version.as_deref(), Some("10"));
        let i = parse_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1");
        assert_eq!(
            (i.browser.as_str(), i.browser_major, i.os, i.device),
            ("Mobile Safari", Some(17), "iOS", DeviceType::Mobile)
        );
        assert_eq!(i.os_version.as_deref(), Some("17.1.2"));
        let e = parse_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91");
        assert_eq!((e.browser.as_str(), e.os), ("Edge", "Mac OS X"));
        let a = parse_user_agent("Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36");
        assert_eq!(
            (a.browser.as_str(), a.os, a.device),
            ("Chrome Mobile", "Android", DeviceType::Mobile)
        );
        let t = parse_user_agent("Thunderbird/115.3.1");
        assert_eq!(
            (t.browser.as_str(), t.browser_major),
            ("Thunderbird", Some(115))
        );
        let g = parse_user_agent("");
        assert_eq!(
            (g.browser.as_str(), g.os, g.device),
            ("Other", "Other", DeviceType::Unknown)
        );
        assert_eq!(parse_user_agent("Googlebot/2.1").device, DeviceType::Bot);
    }

    #[test]
    fn splits_dataset_name_version_columns() {
        assert_eq!(
            split_name_version("Chrome Mobile WebView 85.0.4183"),
            ("Chrome Mobile WebView", Some("85.0.4183"))
        );
        assert_eq!(split_name_version("iOS 13.4"), ("iOS", Some("13.4")));
        assert_eq!(split_name_version("Chromecast"), ("Chromecast", None));
    }
}
