"""Who joined and who left since last week's run, and why one of them left."""

from register import engine

import caas

cohort = caas.Cohort.from_path("asthma.yaml")
this_week = engine().evaluate(cohort, {"index_date": "2026-01-31"}, reference_date="2026-01-31")
diff = this_week.diff("out/2026-01-24/members.parquet")  # or last week's Result
print(diff)
print(this_week.explain(diff.left["person_id"][0].as_py()))
