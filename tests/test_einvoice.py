"""Lines, totals, the seller and the e-invoice, read back as a customer's software reads them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from einvoice_read import (
    XRECHNUNG_ID,
    official_failures,
    pdf_parts,
    recomputed,
    xmp_values,
    xsd_errors,
)

from docmail_nb._documents.cii import read_cii
from docmail_nb._documents.einvoice import amount_problem, make_einvoice, parse_columns, parse_kind
from docmail_nb._documents.lines import Line, compute_totals, parse_line
from docmail_nb._documents.seller import Seller, check_vat_id, load_seller

D = Decimal

SELLER_TOML = """
name = "Bergmann Werkstatt GmbH"
street = "Tössfeldstrasse"
house_num = "12"
pcode = "8406"
city = "Winterthur"
country = "CH"
vat_id = "CHE-123.456.788 MWST"
iban = "CH44 3199 9123 0008 8901 2"
contact = "Anna Bergmann"
email = "rechnung@bergmann-werkstatt.example"
phone = "+41 52 555 01 23"
"""


def seller(tmp_path: Path, text: str = SELLER_TOML) -> Seller:
    path = tmp_path / "seller.toml"
    path.write_text(text, encoding="utf-8")
    found, problems = load_seller(path)
    assert not problems, problems
    assert found is not None
    return found


def lines(*cells: dict[str, Any], currency: str = "CHF", country: str = "CH") -> list[Line]:
    made = []
    for number, line_cells in enumerate(cells, 1):
        line, problems = parse_line(
            number,
            number + 1,
            line_cells,
            currency=currency,
            seller_country=country,
            where="Positionen",
        )
        assert not problems, problems
        assert line is not None
        made.append(line)
    return made


def line_problems(country: str = "CH", **cells: Any) -> list[tuple[str, str]]:
    base: dict[str, Any] = {
        "description": "Arbeit",
        "quantity": 1,
        "unit": "h",
        "unit_price": D("100"),
        "vat_rate": D("8.1"),
    }
    base.update(cells)
    line, problems = parse_line(
        1, 7, base, currency="CHF", seller_country=country, where="Positionen"
    )
    assert line is None or not problems
    return [(p.field, p.rule) for p in problems]


ROW = {
    "company": "Bäckerei Müller AG",
    "street": "Marktgasse",
    "house_num": "3a",
    "pcode": 8400,
    "city": "Winterthur",
    "country": "CH",
    "email": "buchhaltung@mueller.example",
    "currency": "CHF",
    "invoice_date": dt.date(2026, 12, 1),
    "due": dt.date(2026, 12, 31),
}
WORK = [
    {
        "description": "Schreinerarbeit",
        "quantity": D("2.5"),
        "unit": "h",
        "unit_price": D("96.50"),
        "vat_rate": D("8.1"),
    },
    {
        "description": "Eichenbrett geölt",
        "quantity": D("3.333"),
        "unit": "m2",
        "unit_price": D("41.15"),
        "vat_rate": "8.1 %",
        "discount": 10,
    },
    {
        "description": "Pflegeanleitung (Buch)",
        "quantity": 2,
        "unit": "Stk",
        "unit_price": D("19.95"),
        "vat_rate": D("2.6"),
    },
    {
        "description": "Übernachtung Monteur",
        "quantity": 1,
        "unit": "Tag",
        "unit_price": D("120"),
        "vat_rate": D("3.8"),
    },
]


def test_totals_round_each_line_then_vat_once_per_rate() -> None:
    # 0.125 rounds to 0.13 on every line: the lines make 0.39 where the exact sum is 0.375
    found = lines(
        *[
            {
                "description": f"Schraube {n}",
                "quantity": 1,
                "unit": "Stk",
                "unit_price": D("0.125"),
                "vat_rate": D("8.1"),
            }
            for n in range(3)
        ]
    )
    totals = compute_totals(found, "CHF")
    assert [line.net for line in found] == [D("0.13")] * 3
    assert totals.net == D("0.39")  # not 0.38, the rounded exact sum
    assert [(v.rate, v.base, v.amount) for v in totals.vat] == [(D("8.1"), D("0.39"), D("0.03"))]
    assert totals.gross == D("0.42")


def test_several_rates_decimal_quantities_and_a_discount() -> None:
    found = lines(*WORK)
    assert [line.unit for line in found] == ["HUR", "MTK", "H87", "DAY"]
    assert found[1].gross == D("137.15")  # 3.333 × 41.15 = 137.15295
    assert found[1].discount_amount == D("13.72")  # 13.715 rounds half up
    assert found[1].net == D("123.43")
    totals = compute_totals(found, "CHF")
    by_rate = {v.rate: (v.base, v.amount) for v in totals.vat}
    assert by_rate == {
        D("8.1"): (D("364.68"), D("29.54")),  # 241.25 + 123.43; 29.539
        D("3.8"): (D("120.00"), D("4.56")),
        D("2.6"): (D("39.90"), D("1.04")),  # 1.0374
    }
    assert totals.net == D("524.58")
    assert totals.vat_total == D("35.14")
    assert totals.gross == totals.payable == D("559.72")


def test_half_up_not_half_even() -> None:
    (line,) = lines(
        {
            "description": "x",
            "quantity": 1,
            "unit": "Stk",
            "unit_price": D("2.345"),
            "vat_rate": D("8.1"),
        }
    )
    assert line.net == D("2.35")  # half-even would give 2.34
    totals = compute_totals(
        lines(
            {
                "description": "x",
                "quantity": 1,
                "unit": "Stk",
                "unit_price": D("50"),
                "vat_rate": D("2.6"),
            },
            {
                "description": "y",
                "quantity": 1,
                "unit": "Stk",
                "unit_price": D("0.25"),
                "vat_rate": D("2.6"),
            },
        ),
        "CHF",
    )
    assert totals.vat[0].amount == D("1.31")  # 50.25 × 2.6 % = 1.3065


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"description": ""}, ("Positionen row 7: description", "BR-25")),
        ({"quantity": "zwei"}, ("Positionen row 7: quantity", "BR-22")),
        ({"quantity": None}, ("Positionen row 7: quantity", "BR-22")),
        ({"unit": "Kiste"}, ("Positionen row 7: unit", "BR-CL-23")),
        ({"unit": ""}, ("Positionen row 7: unit", "BR-23")),
        ({"unit_price": D("-5")}, ("Positionen row 7: unit_price", "BR-27")),
        ({"unit_price": "teuer"}, ("Positionen row 7: unit_price", "BR-26")),
        ({"vat_rate": "viel"}, ("Positionen row 7: vat_rate", "")),
        ({"vat_rate": D("7.7")}, ("Positionen row 7: vat_rate", "VAT-CH")),
        ({"vat_rate": D("0.081")}, ("Positionen row 7: vat_rate", "")),
        ({"vat_rate": 0}, ("Positionen row 7: vat_category", "BR-CO-04")),
        ({"vat_rate": 0, "vat_category": "E"}, ("Positionen row 7: vat_exemption", "BR-E-10")),
        ({"vat_category": "X"}, ("Positionen row 7: vat_category", "BR-CL-18")),
        ({"vat_category": "Z"}, ("Positionen row 7: vat_rate", "BR-Z-05")),
        ({"discount": 150}, ("Positionen row 7: discount", "")),
    ],
)
def test_each_kind_of_bad_line_is_named_by_row_field_and_rule(
    cells: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in line_problems(**cells)


def test_swiss_rates_of_today_and_german_rates() -> None:
    for rate in ("8.1", "2.6", "3.8"):
        assert line_problems(vat_rate=D(rate)) == []
    problems = line_problems(vat_rate=D("7.7"))
    assert problems == [("Positionen row 7: vat_rate", "VAT-CH")]
    assert line_problems(country="DE", vat_rate=D("19")) == []
    assert line_problems(country="DE", vat_rate=D("8.1")) == [
        ("Positionen row 7: vat_rate", "VAT-DE")
    ]


def test_unit_words_and_codes() -> None:
    for word, code in (
        ("Stk", "H87"),
        ("h", "HUR"),
        ("m2", "MTK"),
        ("m²", "MTK"),
        ("pauschal", "LS"),
        ("kg", "KGM"),
        ("HUR", "HUR"),
        ("c62", "C62"),
    ):
        (line,) = lines(
            {"description": "x", "quantity": 1, "unit": word, "unit_price": 1, "vat_rate": D("8.1")}
        )
        assert line.unit == code


def test_swiss_uid_check_digit() -> None:
    assert check_vat_id("CHE-123.456.788 MWST") == ("CHE123456788MWST", "")
    _compact, message = check_vat_id("CHE-123.456.789 MWST")
    assert "check digit" in message
    assert "modulo 11" in message
    assert check_vat_id("DE136695976")[1] == ""
    assert "valid" in check_vat_id("DE136695977")[1]
    assert "country code" in check_vat_id("123456789")[1]


def test_seller_toml_is_checked(tmp_path: Path) -> None:
    good = seller(tmp_path)
    assert good.vat_id_compact == "CHE123456788MWST"
    assert good.address["city"] == "Winterthur"
    path = tmp_path / "bad.toml"
    path.write_text(
        SELLER_TOML.replace("CHE-123.456.788", "CHE-123.456.789")
        .replace("CH44 3199 9123 0008 8901 2", "CH44 3199 9123 0008 8901 3")
        .replace('city = "Winterthur"', 'city = ""')
        + 'colour = "red"\n',
        encoding="utf-8",
    )
    found, problems = load_seller(path)
    assert found is None
    fields = {problem.field for problem in problems}
    assert {"bad.toml: vat_id", "bad.toml: iban", "bad.toml: city", "bad.toml: colour"} <= fields
    missing, problems = load_seller(tmp_path / "nowhere.toml")
    assert missing is None
    assert "does not exist" in problems[0].message


def test_factur_x_xml_is_valid_en16931_and_adds_up(tmp_path: Path) -> None:
    found = lines(*WORK)
    made, problems = make_einvoice(
        "factur-x",
        number="R-2026-1041",
        values=ROW,
        lines=found,
        seller=seller(tmp_path),
        reference="000000004200000000000010413",
    )
    assert not problems, problems
    assert made is not None
    assert made.filename == "factur-x.xml"
    assert xsd_errors(made.xml) == ""
    assert official_failures(made.xml) == []
    assert official_failures(made.xml, flags=("fatal", "warning")) == []
    again = recomputed(made.xml)
    assert again["net"] == again["stated"]["net"] == D("524.58")
    assert again["vat_total"] == again["stated"]["vat_total"] == D("35.14")
    assert again["gross"] == again["stated"]["gross"] == again["stated"]["payable"]
    assert {key: (base, again["vat"][key]) for key, base in again["bases"].items()} == again[
        "stated_vat"
    ]
    read = read_cii(made.xml)
    assert read.seller["vat_id"] == "CHE123456788MWST"
    assert read.buyer["name"] == "Bäckerei Müller AG"
    assert read.payment_reference == "000000004200000000000010413"
    assert read.account == "CH4431999123000889012"
    assert read.due_date == "2026-12-31"
    assert [line.unit for line in read.lines] == ["HUR", "MTK", "H87", "DAY"]


def test_eur_invoice_of_a_german_seller(tmp_path: Path) -> None:
    german = seller(
        tmp_path,
        SELLER_TOML.replace('country = "CH"', 'country = "DE"')
        .replace("CHE-123.456.788 MWST", "DE136695976")
        .replace("CH44 3199 9123 0008 8901 2", "DE89 3704 0044 0532 0130 00"),
    )
    found = lines(
        {
            "description": "Beratung",
            "quantity": D("7.5"),
            "unit": "h",
            "unit_price": D("110"),
            "vat_rate": 19,
        },
        {
            "description": "Fachbuch",
            "quantity": 3,
            "unit": "Stk",
            "unit_price": D("24.99"),
            "vat_rate": 7,
        },
        currency="EUR",
        country="DE",
    )
    row = dict(ROW, currency="EUR", country="DE", pcode="10115", city="Berlin")
    made, problems = make_einvoice("factur-x", number="R-7", values=row, lines=found, seller=german)
    assert not problems, problems
    assert made is not None
    assert official_failures(made.xml) == []
    again = recomputed(made.xml)
    assert again["vat"] == {("S", D(19)): D("156.75"), ("S", D(7)): D("5.25")}
    assert b'currencyID="EUR"' in made.xml
    assert b"<ram:TypeCode>58</ram:TypeCode>" in made.xml


def test_xrechnung_for_a_german_buyer(tmp_path: Path) -> None:
    found = lines(
        {
            "description": "Einbauschrank",
            "quantity": 1,
            "unit": "Stk",
            "unit_price": D("4200"),
            "vat_rate": 0,
            "vat_category": "G",
        },
        {
            "description": "Montage",
            "quantity": D("6.5"),
            "unit": "h",
            "unit_price": D("96.5"),
            "vat_rate": 0,
            "vat_category": "G",
        },
        currency="EUR",
    )
    row = dict(
        ROW,
        company="Stadtwerke Konstanz GmbH",
        street="Max-Stromeyer-Strasse",
        house_num="21",
        pcode="78467",
        city="Konstanz",
        country="DE",
        currency="EUR",
        buyer_vat_id="DE136695976",
        buyer_reference="04011000-12345-34",
        email="rechnungen@stadtwerke-konstanz.example",
    )
    made, problems = make_einvoice(
        "xrechnung", number="R-2026-1050", values=row, lines=found, seller=seller(tmp_path)
    )
    assert not problems, problems
    assert made is not None
    assert made.filename == "xrechnung-R-2026-1050.xml"
    assert XRECHNUNG_ID.encode() in made.xml
    assert b"urn:fdc:peppol.eu:2017:poacc:billing:01:1.0" in made.xml
    assert xsd_errors(made.xml) == ""
    assert official_failures(made.xml) == []
    read = read_cii(made.xml)
    assert read.buyer_reference == "04011000-12345-34"
    assert read.buyer["email"] == "rechnungen@stadtwerke-konstanz.example"
    assert read.vat[0].category == "G"
    assert read.vat[0].exemption_reason


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"buyer_reference": ""}, "buyer_reference", "BR-DE-15"),
        ({"email": ""}, "email", "PEPPOL-EN16931-R010"),
        ({"pcode": ""}, "pcode", "BR-DE-9"),
    ],
)
def test_xrechnung_rules_of_the_row(
    tmp_path: Path, change: dict[str, Any], field: str, rule: str
) -> None:
    row = {**ROW, "buyer_reference": "991-01234-56", **change}
    _, problems = make_einvoice(
        "xrechnung", number="R-1", values=row, lines=lines(*WORK), seller=seller(tmp_path)
    )
    assert (field, rule) in [(p.field, p.rule) for p in problems]


@pytest.mark.parametrize(
    ("old", "new", "field", "rule"),
    [
        ('phone = "+41 52 555 01 23"', 'phone = ""', "seller.toml: phone", "BR-DE-6"),
        ('contact = "Anna Bergmann"', 'contact = ""', "seller.toml: contact", "BR-DE-5"),
        ('phone = "+41 52 555 01 23"', 'phone = "call us"', "seller.toml: phone", "BR-DE-27"),
    ],
)
def test_xrechnung_needs_the_sellers_contact(
    tmp_path: Path, old: str, new: str, field: str, rule: str
) -> None:
    row = dict(ROW, buyer_reference="991-01234-56")
    _, problems = make_einvoice(
        "xrechnung",
        number="R-1",
        values=row,
        lines=lines(*WORK),
        seller=seller(tmp_path, SELLER_TOML.replace(old, new)),
    )
    assert (field, rule) in [(p.field, p.rule) for p in problems]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"invoice_date": None}, "invoice_date", "BR-03"),
        ({"invoice_date": "32.13.2026"}, "invoice_date", "BR-03"),
        ({"currency": "XYZ"}, "currency", "BR-CL-04"),
        ({"currency": ""}, "currency", "BR-05"),
        ({"country": "Schweiz"}, "country", "BR-CL-14"),
        ({"country": ""}, "country", "BR-11"),
        ({"company": ""}, "company", "BR-07"),
        ({"due": None}, "due", "BR-CO-25"),
        ({"buyer_vat_id": "12345"}, "buyer_vat_id", "BR-CO-09"),
        ({"buyer_vat_id": "DE136695977"}, "buyer_vat_id", "BR-CO-09"),
    ],
)
def test_each_kind_of_bad_invoice_data_is_named(
    tmp_path: Path, change: dict[str, Any], field: str, rule: str
) -> None:
    made, problems = make_einvoice(
        "factur-x",
        number="R-1",
        values=dict(ROW, **change),
        lines=lines(*WORK),
        seller=seller(tmp_path),
    )
    assert made is None
    assert (field, rule) in [(p.field, p.rule) for p in problems]


def test_category_rules_need_the_parties_vat_numbers(tmp_path: Path) -> None:
    reverse = lines(
        {
            "description": "Montage",
            "quantity": 1,
            "unit": "h",
            "unit_price": 90,
            "vat_rate": 0,
            "vat_category": "AE",
        }
    )
    _, problems = make_einvoice(
        "factur-x", number="R-1", values=ROW, lines=reverse, seller=seller(tmp_path)
    )
    assert ("buyer_vat_id", "BR-AE-02") in [(p.field, p.rule) for p in problems]
    no_vat = seller(tmp_path, SELLER_TOML.replace('vat_id = "CHE-123.456.788 MWST"', ""))
    _, problems = make_einvoice(
        "factur-x", number="R-1", values=ROW, lines=lines(*WORK), seller=no_vat
    )
    assert ("seller.toml: vat_id", "BR-S-02") in [(p.field, p.rule) for p in problems]
    mixed = lines(
        {
            "description": "a",
            "quantity": 1,
            "unit": "h",
            "unit_price": 9,
            "vat_rate": 0,
            "vat_category": "O",
        },
        WORK[0],
    )
    _, problems = make_einvoice(
        "factur-x", number="R-1", values=ROW, lines=mixed, seller=seller(tmp_path)
    )
    assert "BR-O-11" in [p.rule for p in problems]


def test_not_subject_to_vat_leaves_the_vat_numbers_out(tmp_path: Path) -> None:
    outside = lines(
        {
            "description": "Gutachten",
            "quantity": 1,
            "unit": "pauschal",
            "unit_price": 800,
            "vat_rate": 0,
            "vat_category": "O",
        }
    )
    made, problems = make_einvoice(
        "factur-x", number="R-1", values=ROW, lines=outside, seller=seller(tmp_path)
    )
    assert not problems, problems
    assert made is not None
    assert b'schemeID="VA"' not in made.xml
    assert official_failures(made.xml) == []


def test_the_rows_amount_is_compared_with_the_lines() -> None:
    totals = compute_totals(lines(*WORK), "CHF")
    assert amount_problem(totals, {"amount": D("559.72")}, {"amount": "amount"}) is None
    problem = amount_problem(totals, {"amount": D("560")}, {"amount": "amount"})
    assert problem is not None
    assert "the lines make 0.28 less" in problem.message
    assert "559.72" in problem.message


def test_header_values() -> None:
    assert parse_kind("Factur-X") == ("factur-x", "")
    assert parse_kind("ZUGFeRD") == ("factur-x", "")
    assert parse_kind(" xrechnung ") == ("xrechnung", "")
    assert parse_kind("") == (None, "")
    assert parse_kind("pdf")[1]
    mapping, problems = parse_columns("company=Firma, pcode = PLZ")
    assert mapping["company"] == "Firma"
    assert mapping["pcode"] == "PLZ"
    assert not problems
    assert parse_columns("firma=Firma")[1]


def test_factur_x_pdf_carries_the_xml_as_a_reader_finds_it(tmp_path: Path) -> None:
    import weasyprint

    from docmail_nb._documents.facturx import write_facturx_pdf

    made, _ = make_einvoice(
        "factur-x", number="R-2026-1041", values=ROW, lines=lines(*WORK), seller=seller(tmp_path)
    )
    assert made is not None
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols={"data"})

    def draw() -> bytes:
        html = weasyprint.HTML(string="<h1>Rechnung R-2026-1041</h1>", url_fetcher=fetcher)
        return write_facturx_pdf(weasyprint, html, made.xml, dt.date(2026, 12, 1), fetcher)

    pdf = draw()
    assert pdf == draw()  # the same row, the same bytes
    parts = pdf_parts(pdf)
    assert parts["name"] == "factur-x.xml"
    assert parts["xml"] == made.xml
    assert parts["relationships"] == {"factur-x.xml": "/Alternative"}
    assert parts["af_entries"] == 1  # listed once in the catalogue's /AF
    assert parts["subtypes"]["factur-x.xml"] in ("/text/xml", "/text#2Fxml")
    values = xmp_values(parts["xmp"])
    fx = "{urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#}"
    assert values[fx + "DocumentType"] == "INVOICE"
    assert values[fx + "DocumentFileName"] == "factur-x.xml"
    assert values[fx + "Version"] == "1.0"
    assert values[fx + "ConformanceLevel"] == "EN 16931"
    assert values["{http://www.aiim.org/pdfa/ns/id/}part"] == "3"
    assert parts["xmp"].count(b"<rdf:RDF") == 1


def test_control_characters_are_refused_not_written(tmp_path: Path) -> None:
    assert ("Positionen row 7: description", "") in line_problems(description="Arbeit\x01")
    made, problems = make_einvoice(
        "factur-x", number="R-1", values=dict(ROW, company="Müller\x02 AG"), lines=lines(*WORK),
        seller=seller(tmp_path),
    )  # fmt: skip
    assert made is None
    assert [(p.field, "control character" in p.message) for p in problems] == [("company", True)]


def test_the_buyers_first_address_is_the_electronic_address(tmp_path: Path) -> None:
    row = dict(ROW, email="Buchhaltung <rechnung@mueller.example>, chef@mueller.example")
    made, problems = make_einvoice("xrechnung", number="R-1", values=dict(row, buyer_reference="1"),
                                   lines=lines(*WORK), seller=seller(tmp_path))  # fmt: skip
    assert not problems, problems
    assert made is not None
    assert read_cii(made.xml).buyer["email"] == "rechnung@mueller.example"


def test_a_seller_without_any_registration_is_refused(tmp_path: Path) -> None:
    no_vat = seller(tmp_path, SELLER_TOML.replace('vat_id = "CHE-123.456.788 MWST"', ""))
    outside = lines({"description": "Gutachten", "quantity": 1, "unit": "pauschal",
                     "unit_price": 800, "vat_rate": 0, "vat_category": "O"})  # fmt: skip
    made, problems = make_einvoice("factur-x", number="R-1", values=ROW, lines=outside,
                                   seller=no_vat)  # fmt: skip
    assert made is None
    assert ("seller.toml: vat_id", "BR-CO-26") in [(p.field, p.rule) for p in problems]


def test_excel_errors_in_lines_and_buyer_cells_are_named() -> None:
    from docmail_nb._sheets.orders import CellError

    found = line_problems(description=CellError("B7", "#N/A"))
    assert found == [("Positionen row 7: description", "")]


def test_excel_error_in_a_buyer_cell(tmp_path: Path) -> None:
    from docmail_nb._sheets.orders import CellError

    made, problems = make_einvoice(
        "factur-x", number="R-1", values=dict(ROW, company=CellError("C2", "#REF!")),
        lines=lines(*WORK), seller=seller(tmp_path),
    )  # fmt: skip
    assert made is None
    assert [(p.field, "#REF!" in p.message) for p in problems] == [("company", True)]


def _tampered(xml: bytes, path: str, value: str) -> bytes:
    from lxml import etree

    from docmail_nb._documents.cii import NS

    root = etree.fromstring(xml)
    root.xpath(path, namespaces=NS)[0].text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


SUMMATION = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        (f"{SUMMATION}/ram:LineTotalAmount", "524.57", "BR-CO-10"),
        (f"{SUMMATION}/ram:TaxBasisTotalAmount", "500.00", "BR-CO-13"),
        (f"{SUMMATION}/ram:TaxTotalAmount", "35.15", "BR-CO-14"),
        (f"{SUMMATION}/ram:GrandTotalAmount", "559.73", "BR-CO-15"),
        (f"{SUMMATION}/ram:DuePayableAmount", "559.00", "BR-CO-16"),
        ("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax[1]/ram:CalculatedAmount",
         "29.55", "BR-CO-17"),
        ("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax[1]/ram:BasisAmount",
         "364.69", "BR-S-08"),
        ("//ram:BilledQuantity/@unitCode", "KISTE", "BR-CL-23"),
        ("//ram:InvoiceCurrencyCode", "ABC", "BR-CL-04"),
    ],
)  # fmt: skip
def test_the_rules_read_the_xml_itself(tmp_path: Path, path: str, value: str, rule: str) -> None:
    from docmail_nb._documents.einvoice import check_xml

    made, _ = make_einvoice("factur-x", number="R-1", values=ROW, lines=lines(*WORK),
                            seller=seller(tmp_path))  # fmt: skip
    assert made is not None
    assert check_xml(made.xml, "factur-x") == []
    if path.endswith("/@unitCode"):
        from lxml import etree

        from docmail_nb._documents.cii import NS

        root = etree.fromstring(made.xml)
        root.xpath("//ram:BilledQuantity", namespaces=NS)[0].set("unitCode", value)
        xml = bytes(etree.tostring(root))
    else:
        xml = _tampered(made.xml, path, value)
    assert rule in [problem.rule for problem in check_xml(xml, "factur-x")]
    assert official_failures(xml)  # the official rules refuse it too


def test_the_xsd_refuses_what_the_rules_do_not_cover(tmp_path: Path) -> None:
    from lxml import etree

    from docmail_nb._documents.cii import NS
    from docmail_nb._documents.einvoice import check_xml

    made, _ = make_einvoice("factur-x", number="R-1", values=ROW, lines=lines(*WORK),
                            seller=seller(tmp_path))  # fmt: skip
    assert made is not None
    root = etree.fromstring(made.xml)
    document = root.xpath("//rsm:ExchangedDocument", namespaces=NS)[0]
    etree.SubElement(document, "{" + NS["ram"] + "}Colour").text = "blue"
    problems = check_xml(bytes(etree.tostring(root)), "factur-x")
    assert [problem.rule for problem in problems] == ["XSD"]
    assert "Colour" in problems[0].message
