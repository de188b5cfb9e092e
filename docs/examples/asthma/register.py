"""The tables of this folder registered from Python, as its tables.yaml registers them for
the command line, then the asthma cohort evaluated over them."""

import caas

DAY_MONTH_YEAR = "%d/%m/%Y"
HES_DATES = "%Y%m%d"
HES = {"person_id": "nhs_no", "date": "admidate", "end_date": "disdate"}

#: Each table: its file and the keywords of `caas.Engine.register`.
TABLES = {
    "persons": (
        "patients.csv",
        {
            "role": "person",
            "mapping": {
                "person_id": "nhs_no",
                "nhs_number": "nhs_no",
                "date_of_birth": "dob",
                "date_of_death": "dod",
                "national_opt_out": "nat_opt_out",
                "type1_opt_out": "t1_opt_out",
            },
            "date_format": DAY_MONTH_YEAR,
        },
    ),
    "registrations": (
        "registrations.csv",
        {
            "role": "periods",
            "mapping": {
                "person_id": "nhs_no",
                "start_date": "reg_start",
                "end_date": "reg_end",
                "practice": "ods_code",
            },
            "date_format": DAY_MONTH_YEAR,
        },
    ),
    "gp_events": (
        "journal.csv",
        {
            "role": "events",
            "code_system": "snomed_ct",
            "mapping": {"person_id": "nhs_no", "date": "recorded", "code": "snomed_code"},
        },
    ),
    "gp_medications": (
        "medications.csv",
        {
            "role": "events",
            "code_system": "dmd",
            "mapping": {"person_id": "nhs_no", "date": "issued", "code": "dmd_code"},
        },
    ),
    "apc": (
        "hes_apc.csv",
        {
            "role": "events",
            "code_system": "icd10",
            "mapping": {**HES, "codes": ["DIAG_4_01", "DIAG_4_02", "DIAG_4_03"]},
            "date_format": HES_DATES,
        },
    ),
    "apc_procedures": (
        "hes_apc.csv",
        {
            "role": "events",
            "code_system": "opcs4",
            "mapping": {**HES, "codes": ["OPERTN_4_01"]},
            "date_format": HES_DATES,
        },
    ),
}


def engine() -> caas.Engine:
    """An engine with every table of the folder registered."""
    engine = caas.Engine()
    for name, (path, spec) in TABLES.items():
        engine.register(name, path, **spec)
    return engine


if __name__ == "__main__":
    cohort = caas.Cohort.from_path("asthma.yaml")
    result = engine().evaluate(cohort, reference_date="2026-01-31")
    print(result.attrition_text())
    print(result.members.to_pylist())
