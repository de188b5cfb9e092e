"""The flu cohort shipped with the package, evaluated inside DuckDB from the SQL that caas
generates, over the Parquet files of a synthetic population (`caas synth --out
population`), with the members that the in-process engine gives."""

import duckdb

import caas

connection = duckdb.connect()
tables = {}
for name, folder, spec in caas.synth.table_specs():
    # A view per folder of Parquet files. Hospital episodes are registered twice over one
    # folder, for their diagnoses and for their procedures: both name the same view.
    files = f"population/{folder}/*.parquet"
    connection.sql(f"CREATE OR REPLACE VIEW {folder} AS SELECT * FROM '{files}'")
    tables[name] = {"table": folder, **spec}

cohort = caas.Cohort.from_path(caas.examples.flu_definition())
result = caas.duckdb.evaluate(connection, cohort, tables=tables)
result.attrition.show()  # a DuckDB relation, as is result.members
print("SQL SHA-256:", result.provenance["sql_sha256"])

engine = caas.Engine()
engine.register_synthetic("population")
in_process = engine.evaluate(cohort)
assert result.to_arrow().to_pylist() == in_process.members.to_pylist()
print(f"DuckDB gives the {in_process.member_count} members of the in-process engine")
