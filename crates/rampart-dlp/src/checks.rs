//! The standards: check digits, issuer ranges, code tables. Pure functions over ASCII bytes.

/// Luhn (ISO/IEC 7812-1 annex B) over ASCII digits.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &c) in digits.iter().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if k % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// GB 11643-1999 check character: ISO 7064 MOD 11-2 over the first 17 digits.
pub(crate) fn resident_id_check_char(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// Province-level codes of GB/T 2260 (the first two digits of every administrative division
/// code): 11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71 (Taiwan), 81 (Hong Kong), 82 (Macau).
/// `91`, listed by some validators, is not a GB/T 2260 code and no resident ID carries it.
pub(crate) fn is_province(two: &[u8]) -> bool {
    let code = u32::from(two[0] - b'0') * 10 + u32::from(two[1] - b'0');
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82)
}

fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, &c| n * 10 + u32::from(c - b'0'))
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// A real calendar date `yyyymmdd` from 1900-01-01 to `today`.
pub(crate) fn is_birth_date(yyyymmdd: &[u8], today: u32) -> bool {
    let (y, m, d) = (
        number(&yyyymmdd[..4]),
        number(&yyyymmdd[4..6]),
        number(&yyyymmdd[6..8]),
    );
    if !(1900..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let days = match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days && y * 10_000 + m * 100 + d <= today
}

/// Today's date (UTC) as `yyyymmdd`, from the system clock.
pub(crate) fn today_yyyymmdd() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_from_days((secs / 86_400) as i64)
}

/// Days since 1970-01-01 to `yyyymmdd` (proleptic Gregorian; H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> u32 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y * 10_000 + m * 100 + d) as u32
}

/// What an 18-character resident ID candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResidentId {
    /// Region, birth date and check character all valid.
    Valid,
    /// Region and birth date valid, check character wrong: a mistyped ID or a look-alike. Other
    /// readings of such a number need their own context before they are reported.
    BadCheck,
    NotAnId,
}

/// `id`: 17 digits and a digit or `X`/`x`.
pub(crate) fn resident_id(id: &[u8], today: u32) -> ResidentId {
    if !is_province(&id[..2]) || !is_birth_date(&id[6..14], today) {
        return ResidentId::NotAnId;
    }
    if resident_id_check_char(&id[..17]) == id[17].to_ascii_uppercase() {
        ResidentId::Valid
    } else {
        ResidentId::BadCheck
    }
}

/// First-generation 15-digit resident ID: region, then a `yymmdd` birth date in the 1900s.
pub(crate) fn old_resident_id(id: &[u8], today: u32) -> bool {
    let mut date = [b'1', b'9', 0, 0, 0, 0, 0, 0];
    date[2..].copy_from_slice(&id[6..12]);
    is_province(&id[..2]) && is_birth_date(&date, today)
}

/// How a Luhn-valid number reads as a payment card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CardBrand {
    /// UnionPay (62): reported as a Chinese bank card.
    UnionPay,
    /// A brand's main range and length: the issuer range and Luhn agree, worth `Medium`.
    Strong,
    /// A legitimate but loose rule (Maestro's many ranges and 12-19 lengths, 13-digit Visa,
    /// 15-digit JCB 1800/2131): worth `Low` until context supports it.
    Weak,
    /// No listed range, but a financial-industry number (ISO/IEC 7812 major industry identifier
    /// 3-6) of a card length, 13-19 digits: issuer tables go stale (the Mastercard 2-series
    /// arrived in 2016), so with explicit card context and Luhn this is still a card.
    Unlisted,
}

/// The brand of `d` (ASCII digits, Luhn not checked here), by issuer range and length.
pub(crate) fn card_brand(d: &[u8]) -> Option<CardBrand> {
    let len = d.len();
    if !(12..=19).contains(&len) {
        return None;
    }
    let p2 = number(&d[..2]);
    let p3 = number(&d[..3]);
    let p4 = number(&d[..4]);
    let strong = match p2 {
        62 if len >= 16 => return Some(CardBrand::UnionPay),
        40..=49 => len == 16 || len == 19,
        51..=55 => len == 16,
        22..=27 if (2221..=2720).contains(&p4) => len == 16,
        22 if (2200..=2204).contains(&p4) => len >= 16, // Mir
        34 | 37 => len == 15,
        60 if p4 == 6011 => len >= 16,
        64 if (644..=649).contains(&p3) => len >= 16,
        65 => len >= 16,
        35 if (3528..=3589).contains(&p4) => len >= 16,
        30 if (300..=305).contains(&p3) || p4 == 3095 => len == 14,
        36 | 38 | 39 => len == 14,
        _ => false,
    };
    if strong {
        return Some(CardBrand::Strong);
    }
    let weak = match p2 {
        40..=49 => len == 13,
        18 | 21 if p4 == 1800 || p4 == 2131 => len == 15,
        _ => {
            matches!(
                p4,
                5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763 | 604 | 6390
            ) || (56..=58).contains(&p2)
        }
    };
    if weak {
        Some(CardBrand::Weak)
    } else if len >= 13 && matches!(d[0], b'3'..=b'6') {
        Some(CardBrand::Unlisted)
    } else {
        None
    }
}

/// Chinese mobile number (11 ASCII digits) on a prefix the MIIT has allocated to public mobile
/// service: 13x, 145-149, 15x (not 154), 162/165/166/167, 170-178, 18x, 19x (not 194).
pub(crate) fn is_cn_mobile(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] != b'1' {
        return false;
    }
    match d[1] {
        b'3' | b'8' => true,
        b'4' => matches!(d[2], b'5'..=b'9'),
        b'5' => d[2] != b'4',
        b'6' => matches!(d[2], b'2' | b'5' | b'6' | b'7'),
        b'7' => d[2] != b'9',
        b'9' => d[2] != b'4',
        _ => false,
    }
}

/// US SSN rules (SSA): area not 000, 666 or 900-999; group not 00; serial not 0000; and not one
/// of the two numbers famous for being printed on sample cards.
pub(crate) fn is_ssn(d: &[u8]) -> bool {
    let (area, group, serial) = (number(&d[..3]), number(&d[3..5]), number(&d[5..9]));
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999))
}

const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

/// How an 18-character unified social credit code candidate checks out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uscc {
    /// GB 32100 structure and check character, and the embedded GB 11714 organisation code's
    /// own check character.
    Valid,
    /// GB 32100 structure and check character only.
    CheckOnly,
    Invalid,
}

/// GB 32100-2015: registration department and organisation category (table 1), a 6-digit
/// administrative division code, a 9-character organisation code, and a MOD 31 check character
/// (weights 3^i mod 31).
pub(crate) fn uscc(s: &[u8]) -> Uscc {
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    if s.len() != 18 {
        return Uscc::Invalid;
    }
    let categories: &[u8] = match s[0] {
        b'1' | b'5' | b'N' => b"1239",
        b'2' | b'4' | b'8' | b'A' => b"19",
        b'3' => b"123459",
        b'6' | b'7' => b"129",
        b'9' => b"123",
        b'Y' => b"1",
        _ => return Uscc::Invalid,
    };
    if !categories.contains(&s[1]) || !s[2..8].iter().all(u8::is_ascii_digit) {
        return Uscc::Invalid;
    }
    if !(is_province(&s[2..4]) || &s[2..4] == b"10") {
        return Uscc::Invalid;
    }
    let mut sum = 0;
    for (&c, w) in s[..17].iter().zip(WEIGHTS) {
        match uscc_value(c) {
            Some(v) => sum += v * w,
            None => return Uscc::Invalid,
        }
    }
    if USCC_CHARSET[((31 - sum % 31) % 31) as usize] != s[17] {
        return Uscc::Invalid;
    }
    if org_code_ok(&s[8..17]) {
        Uscc::Valid
    } else {
        Uscc::CheckOnly
    }
}

/// GB 11714-1997 organisation code: 8 characters and a MOD 11 check character (`X` for 10).
fn org_code_ok(code: &[u8]) -> bool {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let mut sum = 0;
    for (&c, w) in code[..8].iter().zip(WEIGHTS) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let check = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        n => b'0' + n as u8,
    };
    code[8] == check
}

/// Chinese ordinary passport number: `E`/`G` + 8 digits, or `E` + a letter (not I, O) + 7 digits.
pub(crate) fn is_cn_passport(w: &[u8]) -> bool {
    w.len() == 9
        && match w[0] {
            b'G' => w[1..].iter().all(u8::is_ascii_digit),
            b'E' => {
                (w[1].is_ascii_digit()
                    || (w[1].is_ascii_uppercase() && !matches!(w[1], b'I' | b'O')))
                    && w[2..].iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
}

/// IBAN length per country, from the SWIFT IBAN registry (ISO 13616).
pub(crate) fn iban_length(country: [u8; 2]) -> Option<usize> {
    let len = match &country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BI" => 27,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DJ" => 27,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FK" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HN" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MN" => 20,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NI" => 28,
        b"NL" => 18,
        b"NO" => 15,
        b"OM" => 23,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"RU" => 33,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"SO" => 23,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        b"YE" => 30,
        _ => return None,
    };
    Some(len)
}

/// ISO 13616 / ISO 7064 MOD 97-10 over an upper-case IBAN without spaces; check digits 02-98.
pub(crate) fn iban_checksum_ok(iban: &[u8]) -> bool {
    if iban.len() < 5 || !iban[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let check = number(&iban[2..4]);
    if !(2..=98).contains(&check) {
        return false;
    }
    let mut rem = 0u32;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_known_test_numbers() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"378282246310005"));
        assert!(!luhn(b"4111111111111112"));
    }

    #[test]
    fn resident_id_check_char_follows_gb11643() {
        // The standard's worked example: 11010519491231002X.
        assert_eq!(resident_id_check_char(b"11010519491231002"), b'X');
        assert_eq!(
            resident_id(b"11010519491231002X", 20260101),
            ResidentId::Valid
        );
        assert_eq!(
            resident_id(b"11010519491231002x", 20260101),
            ResidentId::Valid
        );
        assert_eq!(
            resident_id(b"110105194912310021", 20260101),
            ResidentId::BadCheck
        );
    }

    #[test]
    fn birth_dates_are_real_calendar_dates() {
        assert!(is_birth_date(b"20000229", 20260101));
        assert!(!is_birth_date(b"19000229", 20260101));
        assert!(!is_birth_date(b"19990230", 20260101));
        assert!(!is_birth_date(b"18991231", 20260101));
        assert!(!is_birth_date(b"20260102", 20260101));
        assert!(!is_birth_date(b"19991301", 20260101));
    }

    #[test]
    fn civil_dates_from_days() {
        assert_eq!(civil_from_days(0), 19700101);
        assert_eq!(civil_from_days(11_016), 20000229);
        assert_eq!(civil_from_days(20_419), 20251127);
    }

    #[test]
    fn uscc_check_follows_gb32100() {
        assert_eq!(uscc(b"9144030071526726XG"), Uscc::Valid); // Tencent
        assert_eq!(uscc(b"91330100799655058B"), Uscc::Valid); // Alibaba (China)
        assert_eq!(uscc(b"9144030071526726XH"), Uscc::Invalid);
    }

    #[test]
    fn iban_checks_mod_97_and_check_digit_range() {
        assert!(iban_checksum_ok(b"GB29NWBK60161331926819"));
        assert!(iban_checksum_ok(b"DE89370400440532013000"));
        assert!(!iban_checksum_ok(b"GB28NWBK60161331926819"));
    }

    #[test]
    fn card_brands_by_range_and_length() {
        assert_eq!(card_brand(b"4111111111111111"), Some(CardBrand::Strong));
        assert_eq!(card_brand(b"4222222222222"), Some(CardBrand::Weak));
        assert_eq!(card_brand(b"378282246310005"), Some(CardBrand::Strong));
        assert_eq!(card_brand(b"3782822463100051"), Some(CardBrand::Unlisted));
        assert_eq!(card_brand(b"378282246310"), None);
        assert_eq!(
            card_brand(b"6222021234567890123"),
            Some(CardBrand::UnionPay)
        );
        assert_eq!(card_brand(b"2223000048400011"), Some(CardBrand::Strong));
        assert_eq!(card_brand(b"1234567890123456"), None);
    }
}
