"""The OpenLineage client objects of a :class:`~dataquarantine.cli.lineage.LineageReport`
(imported only when lineage is on: the ``lineage`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.generated import (
    data_quality_assertions_dataset as dqa,
)
from openlineage.client.generated import (
    data_quality_metrics_input_dataset as dqm,
)
from openlineage.client.generated import error_message_run, output_statistics_output_dataset

if TYPE_CHECKING:
    from dataquarantine.cli.lineage import LineageDataset, LineageReport

__all__ = ["datasets", "run_facets"]


def _input(ds: LineageDataset) -> InputDataset:
    input_facets: dict[str, Any] = {}
    if ds.checks:
        input_facets["dataQualityAssertions"] = dqa.DataQualityAssertionsDatasetFacet(
            assertions=[
                dqa.Assertion(
                    assertion=c.assertion,
                    success=c.success,
                    column=c.column,
                    severity=c.severity,
                    name=c.name,
                    actual=None if c.failed is None else str(c.failed),
                )
                for c in ds.checks
            ]
        )
    if ds.row_count is not None or ds.null_counts:
        input_facets["dataQualityMetrics"] = dqm.DataQualityMetricsInputDatasetFacet(
            columnMetrics={k: dqm.ColumnMetrics(nullCount=n) for k, n in ds.null_counts.items()},
            rowCount=ds.row_count,
        )
    return InputDataset(namespace=ds.namespace, name=ds.name, inputFacets=input_facets)


def _output(ds: LineageDataset, rows: int | None) -> OutputDataset:
    facets: dict[str, Any] = {}
    if rows is not None:
        facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows)
        )
    return OutputDataset(namespace=ds.namespace, name=ds.name, outputFacets=facets)


def datasets(report: LineageReport | None) -> tuple[list[InputDataset], list[OutputDataset]]:
    if report is None:
        return [], []
    return [_input(d) for d in report.inputs], [_output(d, n) for d, n in report.outputs]


def run_facets(error: str | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {
        "errorMessage": error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    }
