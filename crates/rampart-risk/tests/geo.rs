//! GeoDb from the CSV and MMDB fixtures in `tests/data` (see its README).

use std::path::PathBuf;

use rampart_risk::{Geo, GeoDb};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn csv_database_answers_the_most_specific_network() {
    let db = GeoDb::open(data("geo-test.csv")).unwrap();
    let oslo = db.lookup("192.0.2.5".parse().unwrap());
    assert_eq!(oslo.country.as_deref(), Some("NO"));
    assert_eq!(oslo.city.as_deref(), Some("Oslo"));
    assert_eq!(oslo.asn, Some(2119));
    assert_eq!(oslo.asn_name.as_deref(), Some("Telenor Norge AS"));
    assert_eq!(oslo.location, Some((59.91, 10.75)));
    let bergen = db.lookup("192.0.2.200".parse().unwrap());
    assert_eq!(
        bergen.city.as_deref(),
        Some("Bergen"),
        "the /25 beats the /24"
    );
    let cn = db.lookup("203.0.113.9".parse().unwrap());
    assert_eq!(
        cn.country.as_deref(),
        Some("CN"),
        "country codes are upper-cased"
    );
    assert_eq!(
        (cn.region, cn.city, cn.location),
        (None, None, None),
        "`-` and empty are unknown"
    );
    let de = db.lookup("2001:db8:1::1".parse().unwrap());
    assert_eq!(de.asn, Some(3320));
    assert_eq!(db.lookup("8.8.8.8".parse().unwrap()), Geo::default());
}

#[test]
fn mmdb_database_built_with_mmdb_writer_is_read() {
    let db = GeoDb::open(data("geo-test.mmdb")).unwrap();
    let g = db.lookup("192.0.2.77".parse().unwrap());
    assert_eq!(g.country.as_deref(), Some("NO"));
    assert_eq!(g.region.as_deref(), Some("Oslo County"));
    assert_eq!(g.city.as_deref(), Some("Oslo"));
    assert_eq!(g.asn, Some(2119));
    assert_eq!(g.asn_name.as_deref(), Some("Telenor Norge AS"));
    let (lat, lon) = g.location.unwrap();
    assert!((lat - 59.91).abs() < 1e-6 && (lon - 10.75).abs() < 1e-6);
    let sg = db.lookup("198.51.100.1".parse().unwrap());
    assert_eq!(sg.country.as_deref(), Some("SG"));
    let v6 = db.lookup("2001:db8::1".parse().unwrap());
    assert_eq!((v6.country.as_deref(), v6.asn), (Some("DE"), Some(3320)));
    assert_eq!(db.lookup("8.8.8.8".parse().unwrap()), Geo::default());
}

#[test]
fn several_databases_fill_each_other_in() {
    let db = GeoDb::open_all(&[data("geo-test.mmdb"), data("geo-test.csv")]).unwrap();
    // The MMDB has no city for the IPv6 network; the CSV does.
    let v6 = db.lookup("2001:db8::1".parse().unwrap());
    assert_eq!(v6.city.as_deref(), Some("Berlin"));
    assert_eq!(v6.asn, Some(3320));
}

#[test]
fn unusable_files_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("rampart-risk-geo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.bin");
    std::fs::write(&junk, b"\x00\x01not a database").unwrap();
    let e = GeoDb::open(&junk).unwrap_err().to_string();
    assert!(e.contains("cidr") && e.contains(".mmdb"), "{e}");

    let bad_csv = dir.join("bad.csv");
    std::fs::write(
        &bad_csv,
        "cidr,asn,asn_name,country,region,city\n192.0.2.0/24,AS1,x,NO,-,-\nnot-a-net,1,x,NO,-,-\n",
    )
    .unwrap();
    let e = GeoDb::open(&bad_csv).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("not-a-net"), "{e}");

    let missing = GeoDb::open(dir.join("missing.mmdb"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("cannot read"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(
        GeoDb::empty().lookup("192.0.2.1".parse().unwrap()),
        Geo::default()
    );
}
