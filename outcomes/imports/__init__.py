"""Importing what a clinic already holds: a spreadsheet (CSV, XLSX) or a REDCap project (its records export and
its data dictionary), through a mapping from the clinic's columns and codes to the registry's patients, treatment
episodes, follow-ups and questionnaire answers.

- `mapping.py`: the mapping file (JSON or YAML), checked before any row is read.
- `readers.py`: the file's rows as text, numbered as a spreadsheet shows them (the header is row 1); REDCap's
  data dictionary.
- `services.py`: a run (`import_run_create`, `import_run_execute`): every row checked, then every row written in
  one transaction with the answers stored and scored by `outcomes.services.response_submit` (mode "imported"),
  or nothing written and a report of every problem by row and column. A key per row (site, source, record,
  event) makes a second run add nothing.
- `admin.py`: the upload page, the run's progress and its report. `samples/`: a synthetic REDCap project and
  clinic spreadsheet, with their mappings, for the tests and the demo.
"""
