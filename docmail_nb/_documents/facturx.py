"""Factur-X / ZUGFeRD: the drawn invoice as a PDF/A-3 that carries its own CII XML.

WeasyPrint writes the PDF/A-3b itself: the XML is embedded as ``factur-x.xml`` (MIME type
``text/xml``) with the AFRelationship ``Alternative`` (the EN 16931 profile: the XML is
the invoice too), listed in the catalogue's ``/AF``; the Factur-X XMP properties
(``fx:DocumentType INVOICE``, ``fx:DocumentFileName``, ``fx:Version 1.0``,
``fx:ConformanceLevel EN 16931``) go into the document's metadata with the PDF/A extension
schema that declares them. The attachment's dates are the invoice date, so the same row
gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

__all__ = [
    "FACTURX_FILENAME",
    "FX_NAMESPACE",
    "PDF_VARIANT",
    "embedded_files",
    "facturx_xmp",
    "write_facturx_pdf",
]

FACTURX_FILENAME = "factur-x.xml"
FX_NAMESPACE = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
PDF_VARIANT = "pdf/a-3b"
_OUTPUT_INTENT = "docmail-srgb"
_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML document"),
    ("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE"),
    ("Version", "The version of the Factur-X XML schema"),
    ("ConformanceLevel", "The conformance level of the embedded XML document"),
)


def facturx_xmp(conformance: str = "EN 16931") -> bytes:
    """The Factur-X XMP properties and their PDF/A extension schema, as an ``rdf:RDF``."""
    values = {
        "DocumentFileName": FACTURX_FILENAME,
        "DocumentType": "INVOICE",
        "Version": "1.0",
        "ConformanceLevel": conformance,
    }
    fields = "".join(f"<fx:{name}>{values[name]}</fx:{name}>" for name, _ in _PROPERTIES)
    properties = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description>"
        "</rdf:li>"
        for name, description in _PROPERTIES
    )
    rdf = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:fx="{FX_NAMESPACE}">{fields}</rdf:Description>'
        '<rdf:Description rdf:about="" '
        'xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" '
        'xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" '
        'xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
        "<pdfaExtension:schemas><rdf:Bag>"
        '<rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{FX_NAMESPACE}</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{properties}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li>"
        "</rdf:Bag></pdfaExtension:schemas>"
        "</rdf:Description>"
        "</rdf:RDF>"
    )
    return rdf.encode("utf-8")


def write_facturx_pdf(
    weasyprint: Any,
    html: Any,
    xml: bytes,
    issued: dt.date,
    url_fetcher: Any,
    *,
    font_config: Any = None,
    **options: Any,
) -> bytes:
    """Draw ``html`` (a ``weasyprint.HTML``) as a PDF/A-3b carrying ``xml`` as Factur-X.

    The Factur-X properties join WeasyPrint's own ``rdf:RDF`` in the XMP packet (one RDF
    element, as XMP readers expect), through this one document's metadata object.
    """
    from lxml import etree

    when = dt.datetime(issued.year, issued.month, issued.day, tzinfo=dt.UTC)
    attachment = weasyprint.Attachment(
        url="data:text/xml;base64," + base64.b64encode(xml).decode("ascii"),
        name=FACTURX_FILENAME,
        description="Factur-X invoice (EN 16931)",
        relationship="Alternative",
        created=when,
        modified=when,
        url_fetcher=url_fetcher,
    )
    options.update(pdf_variant=PDF_VARIANT, attachments=[attachment], output_intent=_OUTPUT_INTENT)
    document = html.render(
        font_config=font_config,
        color_profiles={_OUTPUT_INTENT: _srgb_profile(weasyprint)},
        **options,
    )
    metadata = document.metadata
    own_rdf = metadata.generate_rdf_metadata

    def with_facturx(*args: Any) -> bytes:
        rdf = etree.fromstring(own_rdf(*args))
        for description in etree.fromstring(facturx_xmp()):
            rdf.append(description)
        return bytes(etree.tostring(rdf, encoding="utf-8"))

    metadata.generate_rdf_metadata = with_facturx
    pdf = document.write_pdf(finisher=_one_entry_each, **options)
    assert isinstance(pdf, bytes)
    return pdf


def _one_entry_each(document: Any, pdf: Any) -> None:
    """The catalogue's ``/AF`` lists each file once (WeasyPrint adds an embedded file twice:
    from the name tree and from the file specifications)."""
    entries = pdf.catalog.get("AF")
    if entries:
        unique = list(dict.fromkeys(entries))  # references such as b"9 0 R", in their order
        entries.clear()
        entries.extend(unique)


def _srgb_profile(weasyprint: Any) -> Any:
    """WeasyPrint's sRGB profile as the output intent, read and closed here.

    (Asked for as ``srgb``, WeasyPrint opens the profile and leaves the file open.)
    """
    import io
    from importlib import resources

    from weasyprint.css import ColorProfile

    icc = resources.files("weasyprint.pdf").joinpath("sRGB2014.icc").read_bytes()
    return ColorProfile(
        io.BytesIO(icc), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"])
    )


def embedded_files(pdf: bytes) -> dict[str, bytes]:
    """The files embedded in a PDF, by name (pypdf), as a reader finds them."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    found: dict[str, bytes] = {}
    for name, contents in reader.attachments.items():
        if contents:
            found[name] = contents[0]
    return found
