"""Schema of the monitor config group: drift tests, thresholds and their limits, and how
``assay monitor --watch`` runs (schedule, history, alerts).

Re-exported by ``assayml.config.schema``; see that module for how schemas are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Keys that say how and when the monitor runs, not what it checks: they stay out of the
# baseline's constraints.json (a webhook URL may hold a token) and are read from conf/.
OPERATIONAL_KEYS = ("schedule", "history", "settle_s", "label_window", "alerts")


@dataclass
class AlertsConfig:
    webhook: str | None = None  # http(s) URL; POST of the violations (JSON, Slack-style "text")
    command: list[str] | None = None  # argv (no shell); gets the same JSON on stdin
    retries: int = 3  # further attempts after a failed one (0-10)
    timeout_s: float = 10.0  # per attempt, seconds (0, 86400]: a retraining command needs long
    backoff_s: float = 1.0  # wait before retry k: backoff_s * 2**(k-1), seconds
    when: str = "violations"  # violations | always (every execution, clean ones too)

    def __post_init__(self) -> None:
        if self.webhook is not None:
            parts = urlsplit(self.webhook)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("monitor.alerts.webhook must be an http(s):// URL")
        if self.command is not None and (
            not self.command or not all(isinstance(a, str) and a for a in self.command)
        ):
            raise ValueError("monitor.alerts.command must be a non-empty list of strings")
        if not 0 <= self.retries <= 10:
            raise ValueError("monitor.alerts.retries must lie in [0, 10]")
        if not 0 < self.timeout_s <= 86_400:
            raise ValueError("monitor.alerts.timeout_s must lie in (0, 86400]")
        if not 0 <= self.backoff_s <= 60:
            raise ValueError("monitor.alerts.backoff_s must lie in [0, 60]")
        if self.when not in ("violations", "always"):
            raise ValueError("monitor.alerts.when must be violations or always")


@dataclass
class MonitorConfig:
    numeric_test: str = "ks"  # ks (p-value) | wasserstein (distance in sd, vs threshold)
    categorical_test: str = "chi2"  # chi2 (p-value) | js | psi (distances vs thresholds)
    alpha: float = 0.05  # false-alarm rate across all features (multiple testing)
    correction: str = "bh"  # bh (Benjamini-Hochberg) | bonferroni | none
    min_effect: float = 0.1  # KS D / total variation a significant shift must reach
    wasserstein_threshold: float = 0.2  # reference sd
    js_threshold: float = 0.1
    psi_threshold: float = 0.2
    quality_tolerance: float = 0.05  # allowed drop of each model-quality metric (labels given)
    attribution_ndcg: float = 0.9  # attribution ranking similarity below this: violation
    attribution_rows: int = 200  # current rows explained for attribution drift
    bootstrap: int = 200  # resamples for metric spreads and bias intervals
    reference_rows: int = 1_000_000  # training rows kept as the numeric reference
    histogram_bins: int = 20
    in_memory_rows: int = 1_000_000  # a larger Parquet input is read a column at a time
    # --- how `assay monitor --watch` runs (not part of the baseline) ---
    schedule: str | None = None  # cron "min hour day month weekday" (UTC); null: once per call
    history: int = 20  # executions shown in the report's trends (2-1000)
    settle_s: float = 60.0  # a capture file unchanged this long (s) is closed and read
    label_window: int = 24  # model quality: rows of this and the previous 23 executions
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

    def __post_init__(self) -> None:
        if self.numeric_test not in ("ks", "wasserstein"):
            raise ValueError("monitor.numeric_test must be ks or wasserstein")
        if self.categorical_test not in ("chi2", "js", "psi"):
            raise ValueError("monitor.categorical_test must be chi2, js or psi")
        if self.correction not in ("bh", "bonferroni", "none"):
            raise ValueError("monitor.correction must be bh, bonferroni or none")
        if not 0 < self.alpha < 1:
            raise ValueError("monitor.alpha must lie in (0, 1)")
        if not 2 <= self.history <= 1000:
            raise ValueError("monitor.history must lie in [2, 1000]")
        if not 0 <= self.settle_s <= 86_400:
            raise ValueError("monitor.settle_s must lie in [0, 86400]")
        if not 1 <= self.label_window <= 1000:
            raise ValueError("monitor.label_window must lie in [1, 1000]")
        if self.schedule is not None:
            cron_trigger(self.schedule)


def cron_trigger(expression: str):
    """APScheduler's CronTrigger (UTC) for a five-field crontab line; ValueError naming
    ``monitor.schedule`` when it is not one."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split() if isinstance(expression, str) else []
    if len(fields) != 5:
        raise ValueError(
            f"monitor.schedule {expression!r} is not a cron expression: five fields "
            "'minute hour day month weekday' are needed, e.g. '0 * * * *' (hourly)"
        )
    try:
        fields[4] = _cron_weekdays(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone="UTC")
    except ValueError as err:
        raise ValueError(
            f"monitor.schedule {expression!r} is not a cron expression: {err}"
        ) from None


WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_weekdays(field: str) -> str:
    """The weekday field as cron reads it (0 and 7 are Sunday), spelled with day names:
    APScheduler 3 numbers weekdays from Monday (its issue 286), so ``0`` would be Monday."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step = part.partition("/")
        if span == "*":
            low, high = 0, 6
        else:
            first, _, last = span.partition("-")
            low, high = _weekday(first), _weekday(last or first)
            high = 7 if high == 0 and last else high  # "5-0" / "fri-sun": up to Sunday
        if low > high or (step and not step.isdigit()) or step == "0":
            raise ValueError(f"weekday field {field!r}: cannot read {part!r}")
        days |= {d % 7 for d in range(low, high + 1, int(step or 1))}
    return ",".join(WEEKDAYS[d] for d in sorted(days))


def _weekday(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token[:3] in WEEKDAYS and len(token) == 3:
        return WEEKDAYS.index(token)
    raise ValueError(f"weekday {token!r} is not 0-7 or sun-sat")
