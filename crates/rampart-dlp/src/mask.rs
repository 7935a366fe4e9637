//! Masked forms: enough to recognise a value in a report, never enough to use it.

/// Shows at most the first and last four characters, and never more than half of the value:
/// `320925197308114120` → `3209**********4120`, `13912345678` → `13*******78`, `机密` → `**`.
pub(crate) fn mask(value: &str) -> String {
    let n = value.chars().count();
    let keep = (n / 4).min(4);
    value
        .chars()
        .enumerate()
        .map(|(k, c)| if k < keep || k >= n - keep { c } else { '*' })
        .collect()
}

/// The characters of a number as written, without the separators inside it.
pub(crate) fn compact(span: &str) -> String {
    span.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// E-mail: the first character of the local part, then the domain: `y*******@example.org`.
pub(crate) fn mask_email(address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let mut out = String::with_capacity(address.len());
    for (k, c) in local.chars().enumerate() {
        out.push(if k == 0 { c } else { '*' });
    }
    out.push('@');
    out.push_str(domain);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_more_than_four_each_side() {
        assert_eq!(mask("320925197308114120"), "3209**********4120");
        assert_eq!(mask("4111111111111111"), "4111********1111");
        assert_eq!(mask("6222021234567890123"), "6222***********0123");
        assert_eq!(mask("13912345678"), "13*******78");
        assert_eq!(mask("机密"), "**");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn compacts_separators() {
        assert_eq!(compact("6222 0212-3456.7890"), "6222021234567890");
        assert_eq!(compact("11010519491231002x"), "11010519491231002X");
    }

    #[test]
    fn masks_email_local_part() {
        assert_eq!(mask_email("yanchang@example.org"), "y*******@example.org");
    }
}
