"""Apache Airflow operators over the three batch steps (extra ``airflow``).

:mod:`~dataquarantine.airflow.operators` holds ``ValidateOperator``, ``LoadOperator`` and
``GatesOperator`` (importing it needs Airflow 3); :mod:`~dataquarantine.airflow.steps` the
plain functions they run, and :mod:`~dataquarantine.airflow.dbt_failures` the reader that puts
dbt's stored test failures into the quarantine. Only ``operators`` imports Airflow.
"""
