"""The vaccine catalogue in the EU DCC value sets: the ONE table that maps our vaccine codes
to ``vp`` (vaccine or prophylaxis, SNOMED CT), ``mp`` (medicinal product) and ``ma``
(marketing authorisation holder or manufacturer).

Source: github.com/ehn-dcc-development/ehn-dcc-valuesets, files vaccine-prophylaxis.json,
vaccine-medicinal-product.json, vaccine-mah-manf.json and vaccine-encoding-instructions.json
(the codes the EU gateway tells issuers to use for each product).
"""

from __future__ import annotations

from typing import NamedTuple

#: disease or agent targeted: COVID-19 (SNOMED CT 840539006)
TARGET_COVID19 = "840539006"


class DccVaccine(NamedTuple):
    vp: str
    mp: str
    ma: str


MRNA = "1119349007"  # SARS-CoV-2 mRNA vaccine
VIRAL_VECTOR = "29061000087103"  # COVID-19 non-replicating viral vector vaccine
INACTIVATED = "1157024006"  # inactivated whole SARS-CoV-2 antigen vaccine
GENERIC = "28531000087107"  # COVID-19 vaccine

#: our catalogue code (recipients.vaccines.CATALOGUE) -> the DCC codes
BY_CODE: dict[str, DccVaccine] = {
    "AZ": DccVaccine(VIRAL_VECTOR, "EU/1/21/1529", "ORG-100001699"),
    "PFIZER": DccVaccine(MRNA, "EU/1/20/1528", "ORG-100030215"),
    "MODERNA": DccVaccine(MRNA, "EU/1/20/1507", "ORG-100031184"),
    "VEROCELL": DccVaccine(INACTIVATED, "BBIBP-CorV", "ORG-100020693"),
    "SPUTNIKV": DccVaccine(VIRAL_VECTOR, "Sputnik-V", "Gamaleya-Research-Institute"),
    "ABDALA": DccVaccine(GENERIC, "Abdala", "CIGB"),
    "HAYAT": DccVaccine(INACTIVATED, "Hayat-Vax", "ORG-100023050"),
    "JANSSEN": DccVaccine(VIRAL_VECTOR, "EU/1/20/1525", "ORG-100001417"),
    "COVAXIN": DccVaccine(INACTIVATED, "Covaxin", "Bharat-Biotech"),
}

#: ``mp`` -> a name a person reads on the verification page
PRODUCT_NAMES = {
    "EU/1/21/1529": "Vaxzevria (AstraZeneca)",
    "EU/1/20/1528": "Comirnaty (Pfizer-BioNTech)",
    "EU/1/20/1507": "Spikevax (Moderna)",
    "BBIBP-CorV": "BBIBP-CorV (Sinopharm)",
    "Sputnik-V": "Sputnik V",
    "Abdala": "Abdala",
    "Hayat-Vax": "Hayat-Vax",
    "EU/1/20/1525": "Jcovden (Janssen)",
    "Covaxin": "Covaxin",
}


def for_code(code: str) -> DccVaccine | None:
    return BY_CODE.get(code)
