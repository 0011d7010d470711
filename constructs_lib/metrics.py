"""A CloudWatch metric as a value, and its three renderings: a metric-math query of an alarm, a
metric of a target-tracking scaling policy, and a dashboard row.

The constructs that own a resource hand out its metrics (``DocumentPipeline.metric_visible()``,
``OcrService.metric_running_tasks()``, ``ModelCache.metric_burst_credit_balance()``), as in
aws-cdk-lib; alarms, scaling and the dashboard ask for them and never type a metric name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from constructs_lib.framework import aws

_scaling = aws.appautoscaling_policy
_alarm = aws.cloudwatch_metric_alarm
ScalingQuery = _scaling.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetrics  # noqa: E501 (a binding name)
ScalingStat = _scaling.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStat  # noqa: E501
ScalingMetric = _scaling.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStatMetric  # noqa: E501
ScalingDimension = _scaling.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricsMetricStatMetricDimensions  # noqa: E501
AlarmQuery = _alarm.CloudwatchMetricAlarmMetricQuery
AlarmQueryMetric = _alarm.CloudwatchMetricAlarmMetricQueryMetric

#: Every metric here is read over five minutes unless a caller asks otherwise.
PERIOD = 300


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    stat: str
    period: int = PERIOD

    def with_(self, *, stat: str | None = None, period: int | None = None) -> "Metric":
        return dataclasses.replace(self, stat=stat or self.stat, period=period or self.period)

    def alarm_args(self) -> dict[str, Any]:
        """Keyword arguments of a single-metric ``CloudwatchMetricAlarm``."""
        return {"namespace": self.namespace, "metric_name": self.name, "dimensions": dict(self.dimensions),
                "statistic": self.stat, "period": self.period}

    def alarm_query(self, id: str) -> AlarmQuery:
        """One metric of a metric-math alarm, named ``id`` in its expression."""
        return AlarmQuery(id=id, return_data=False, metric=AlarmQueryMetric(
            namespace=self.namespace, metric_name=self.name, dimensions=dict(self.dimensions), period=self.period,
            stat=self.stat))

    def scaling_query(self, id: str) -> ScalingQuery:
        """One metric of a target-tracking policy's customized metric math, named ``id``."""
        return ScalingQuery(id=id, return_data=False, metric_stat=ScalingStat(stat=self.stat, metric=ScalingMetric(
            namespace=self.namespace, metric_name=self.name,
            dimensions=[ScalingDimension(name=k, value=v) for k, v in self.dimensions.items()])))

    def widget_row(self, **options: Any) -> list:
        """A dashboard row: namespace, name, each dimension's name and value, then ``options``."""
        row: list = [self.namespace, self.name]
        for key, value in self.dimensions.items():
            row += [key, value]
        return row + ([options] if options else [])
