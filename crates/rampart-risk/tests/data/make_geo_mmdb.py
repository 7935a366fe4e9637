"""Writes geo-test.mmdb: a tiny MaxMind DB (City and ASN fields in one file) for the GeoDb tests.

    python3 -m venv /tmp/mmdbenv && /tmp/mmdbenv/bin/pip install mmdb-writer==0.2.7
    /tmp/mmdbenv/bin/python make_geo_mmdb.py

Only documentation ranges (RFC 5737 / RFC 3849) are used; the facts are made up.
"""
from netaddr import IPSet
from mmdb_writer import MMDBWriter, MmdbF64, MmdbU32

w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="Rampart-Test-City-ASN",
               languages=["en"], description="Rampart risk test fixture")


def city(iso, country, region, name, lat, lon, asn, org):
    return {
        "country": {"iso_code": iso, "names": {"en": country}},
        "subdivisions": [{"iso_code": "X", "names": {"en": region}}],
        "city": {"names": {"en": name}},
        "location": {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon), "time_zone": "Europe/Oslo"},
        "autonomous_system_number": MmdbU32(asn),
        "autonomous_system_organization": org,
    }


w.insert_network(IPSet(["192.0.2.0/24"]), city("NO", "Norway", "Oslo County", "Oslo", 59.91, 10.75, 2119, "Telenor Norge AS"))
w.insert_network(IPSet(["198.51.100.0/24"]), city("SG", "Singapore", "Central Singapore", "Singapore", 1.29, 103.85, 4773, "Example SG"))
w.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "de"}, "autonomous_system_number": MmdbU32(3320)})
w.to_db_file("geo-test.mmdb")
