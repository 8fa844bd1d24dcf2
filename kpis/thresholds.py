"""The thresholds file: when a KPI crosses a line, who is told and how.

With the catalogue it is the one source of the alerting rules and the
Alertmanager configuration (`kpis.rules`). Every mistake a user can make in it
is reported as one line naming the entry and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from kpis.alert_text import summary_problem
from kpis.catalogue import KPIS_BY_NAME, Kpi
from kpis.formulas import quantile_name
from kpis.severity import Severity
from kpis.units import USD, Currency
from kpis.validation import first_error, kpi_problem, load_document, validated_entries
from kpis.windows import CALENDAR_WINDOWS

DEFAULT_THRESHOLDS_FILE = Path(__file__).resolve().parent.parent / "deploy" / "thresholds.yaml"

# Prometheus durations: `90s`, `15m`, `1h30m`, `30d`.
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_DURATION_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


class ThresholdsError(ValueError):
    """A thresholds file that cannot be used; the message is one line naming the entry."""


def _duration(text: str) -> str:
    if not text or not _DURATION.match(text):
        raise ValueError(f"not a duration like 15m, 1h or 30d: {text!r}")
    return text


def duration_seconds(text: str) -> int:
    """Seconds in a Prometheus duration (milliseconds are rounded down)."""
    seconds = 0
    for amount, unit in re.findall(r"(\d+)(ms|[ywdhms])", text):
        seconds += 0 if unit == "ms" else int(amount) * _DURATION_SECONDS[unit]
    return seconds


def _summary_template(text: str) -> str:
    problem = summary_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _base_url(text: str) -> str:
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", text):
        raise ValueError(f"not an http(s) URL like https://crmkpi.example.com: {text!r}")
    return text.rstrip("/")


Duration = Annotated[str, AfterValidator(_duration)]
SummaryTemplate = Annotated[str, AfterValidator(_summary_template)]
BaseUrl = Annotated[str, AfterValidator(_base_url)]
Receivers = list[Literal["slack", "email"]]
Comparison = Literal["below", "above", "drop", "drop_percent", "idle", "behind_pace"]
FALLING = ("below", "behind_pace")  # comparisons whose alert fires under the limit


class Threshold(BaseModel):
    """One line a KPI must not cross."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    kpi: str
    window: str
    # below / above: the value itself; drop: fell by more than `value` (in the KPI's unit)
    # against `over` ago; drop_percent: fell by more than `value` percent against `over` ago;
    # idle: zero in the window for a dimension value that had some in the last `over`;
    # behind_pace: the pace of the KPI's goals (`kpis.goals`) is under `value`, once `after`
    # of the calendar period has passed.
    comparison: Comparison
    value: float | None = None
    over: Duration | None = None
    after: Duration | None = None
    # {dimension: regex}: alert per matching dimension value; absent: the overall series.
    dimension: dict[str, str] | None = None
    quantile: float | None = None
    business_days: bool = False
    for_: Duration = Field(default="15m", alias="for")
    severity: Severity
    summary: SummaryTemplate = Field(min_length=1)
    runbook: str = Field(min_length=1)
    name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @property
    def catalogue_kpi(self) -> Kpi:
        return KPIS_BY_NAME[self.kpi]

    def crossed(self, value: float | None, earlier: float | None = None) -> bool:
        """Whether `value` crosses the line: `below` / `above` the limit, or `idle` (zero now,
        `earlier` some in the window `over`). Drops compare with history: never here."""
        if self.comparison == "idle":
            return not value and bool(earlier)
        if value is None or self.value is None:
            return False
        if self.comparison == "below":
            return value < self.value
        return self.comparison == "above" and value > self.value

    @property
    def alertname(self) -> str:
        """The alert's name: given, or `Crmkpi` + KPI + window + comparison in CamelCase."""
        if self.name:
            return self.name
        words = [*self.kpi.split("_"), self.window, *self.comparison.split("_")]
        if self.dimension:
            words.append("by_" + self.catalogue_kpi.dimension)
        if self.quantile is not None:
            words.insert(len(self.kpi.split("_")), quantile_name(self.quantile))
        return "Crmkpi" + "".join(
            word[:1].upper() + word[1:] for word in "_".join(words).split("_")
        )


class SlackReceiver(BaseModel):
    """Slack incoming webhook; its URL is read from a file, never kept in the repository."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    api_url_file: str = "/etc/crmkpi/slack-webhook-url"
    channel: str = "#revops-alerts"


class EmailReceiver(BaseModel):
    """SMTP delivery; the password is read from a file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    to: str = "revops@example.com"
    sender: str = Field(default="crmkpi@example.com", alias="from")
    smarthost: str = "localhost:587"
    auth_username: str | None = None
    auth_password_file: str | None = None
    require_tls: bool = True


class Routing(BaseModel):
    """Receivers per severity, and Alertmanager's grouping timers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    critical: Receivers = ["slack", "email"]
    warning: Receivers = ["slack", "email"]
    info: Receivers = ["email"]
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"


class Notify(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    slack: SlackReceiver = SlackReceiver()
    email: EmailReceiver = EmailReceiver()
    routing: Routing = Routing()


class ChurnAlert(BaseModel):
    """The per-customer alert crmkpi posts to Alertmanager while a customer is at risk."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(default="CrmkpiCustomerAtRisk", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    severity: Severity = "warning"
    summary: str = Field(default="A customer shows several churn signals", min_length=1)
    runbook: str = Field(
        default="Call the customer's account owner today; review the listed tickets and surveys.",
        min_length=1,
    )


class Health(BaseModel):
    """Limits of the alerts on crmkpi's own health (`kpis.health_rules`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    down_for_minutes: int = Field(default=2, ge=1)
    lag_records: int = Field(default=10_000, ge=0)
    lag_for_minutes: int = Field(default=10, ge=1)
    stalled_minutes: int = Field(default=10, ge=1)
    dead_letters_per_10m: int = Field(default=100, ge=0)


@dataclass(frozen=True)
class AlertLinks:
    """The links every notification carries."""

    dashboard: str
    scorecard: str


class ThresholdsConfig(BaseModel):
    """The whole thresholds file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # Where people open crmkpi's server (scorecard, runbook paths) and Grafana; every link
    # of a notification starts with one of them. CRMKPI_PUBLIC_URL / CRMKPI_GRAFANA_URL win.
    public_url: BaseUrl = "http://localhost:8000"
    grafana_url: BaseUrl = "http://localhost:3000"
    dashboard_path: str = Field(default="/d/crmkpi/crm-kpis", pattern=r"^/")
    # How long an alert stays firing once its KPI is back, so that its last evaluation (the
    # one Alertmanager's resolved notice quotes) reads the recovered value. At least two
    # evaluation intervals of Prometheus.
    resolved_after: Duration = "1m"
    notify: Notify = Notify()
    churn_alert: ChurnAlert = ChurnAlert()
    health: Health = Health()
    thresholds: tuple[Threshold, ...] = ()
    # The currency amounts are written in (CRMKPI_CURRENCY): a setting, not part of the file.
    _currency: Currency = PrivateAttr(default=USD)

    @property
    def currency(self) -> Currency:
        """The currency of every amount in alert texts and dashboards."""
        return self._currency

    def priced(self, currency: Currency) -> ThresholdsConfig:
        """This configuration with its amounts in `currency`."""
        priced = self.model_copy()
        priced._currency = currency
        return priced

    @property
    def dashboard_url(self) -> str:
        """The overview dashboard, linked from every notification."""
        return self.grafana_url + self.dashboard_path

    @property
    def links(self) -> AlertLinks:
        """The overview dashboard and the live scorecard page of crmkpi's server."""
        return AlertLinks(self.dashboard_url, self.public_url + "/")

    def runbook(self, runbook: str) -> str:
        """A runbook as notifications show it: a path (`/docs/...`) becomes a public link."""
        return self.public_url + runbook if runbook.startswith("/") else runbook

    def linked(self, public_url: str | None, grafana_url: str | None) -> ThresholdsConfig:
        """This configuration with the base URLs set (where given), validated."""
        update = {"public_url": public_url, "grafana_url": grafana_url}
        document = self.model_dump(by_alias=True, exclude={"thresholds"})
        document.update({key: url for key, url in update.items() if url})
        try:
            linked = ThresholdsConfig.model_validate(document)
        except ValidationError as error:
            raise ThresholdsError(f"settings: {first_error(error)}") from None
        return linked.model_copy(update={"thresholds": self.thresholds})


# The shortest month and quarter: an `after` as long never lets a pace alert fire.
_SHORTEST_PERIOD_DAYS = {"mtd": 28, "qtd": 89}


def _pace_problem(threshold: Threshold) -> str | None:
    """What is wrong with a `behind_pace` entry (or an `after` elsewhere), or None."""
    if threshold.comparison != "behind_pace":
        return "after: only for comparison 'behind_pace'" if threshold.after else None
    kpi = threshold.catalogue_kpi
    if not kpi.additive:
        return f"comparison 'behind_pace' is for counts and sums; {kpi.name} is not one"
    shortest = _SHORTEST_PERIOD_DAYS.get(threshold.window)
    if shortest is None:
        return f"window: 'behind_pace' is for the calendar windows {', '.join(CALENDAR_WINDOWS)}"
    if threshold.after and duration_seconds(threshold.after) >= shortest * 86400:
        return f"after: must be shorter than the shortest {threshold.window} ({shortest}d)"
    return None


def _check_entry(threshold: Threshold) -> str | None:
    """What is wrong with an entry against the catalogue, or None."""
    problem = kpi_problem(threshold.kpi, threshold.window, threshold.dimension)
    if problem:
        return problem
    kpi = threshold.catalogue_kpi
    if threshold.quantile is not None:
        if not kpi.quantiles:
            return f"quantile: {kpi.name} has no histogram"
        if threshold.quantile not in kpi.quantiles:
            return f"quantile: one of {', '.join(map(str, kpi.quantiles))}"
    problem = _pace_problem(threshold)
    if problem:
        return problem
    if threshold.comparison != "idle" and threshold.value is None:
        return f"value: required for comparison {threshold.comparison!r}"
    if threshold.comparison in {"drop", "drop_percent", "idle"} and threshold.over is None:
        return f"over: required for comparison {threshold.comparison!r} (e.g. over: 24h)"
    if threshold.comparison == "idle":
        if kpi.unit != "count":
            return f"comparison 'idle' is for counts; {kpi.name} is a {kpi.unit}"
        if threshold.over not in kpi.windows:
            return f"over: for 'idle', one of the windows of {kpi.name}: {', '.join(kpi.windows)}"
    elif threshold.over is not None and duration_seconds(threshold.for_) >= duration_seconds(
        threshold.over
    ):
        return f"for: must be shorter than over ({threshold.over}), or the alert never fires"
    return None


def _problem(threshold: Threshold, earlier: list[Threshold]) -> str | None:
    """What is wrong with an entry, also against the entries before it, or None."""
    problem = _check_entry(threshold)
    if problem is None and any(seen.alertname == threshold.alertname for seen in earlier):
        problem = f"alert {threshold.alertname} is defined twice (give one a name)"
    return problem


def parse_thresholds(text: str, source: str = "thresholds.yaml") -> ThresholdsConfig:
    """The validated thresholds of a YAML text; ThresholdsError names the first bad entry."""
    document, entries = load_document(text, source, "thresholds", ThresholdsError)
    thresholds = validated_entries(entries, source, Threshold, _problem, ThresholdsError)
    try:
        rest = ThresholdsConfig.model_validate(
            {k: v for k, v in document.items() if k != "thresholds"}
        )
    except ValidationError as error:
        raise ThresholdsError(f"{source}: {first_error(error)}") from None
    return rest.model_copy(update={"thresholds": tuple(thresholds)})


def read_thresholds(
    path: Path | None = None,
    public_url: str | None = None,
    grafana_url: str | None = None,
    currency: Currency = USD,
) -> ThresholdsConfig:
    """The thresholds file at `path`, or the default one shipped with crmkpi, with the base
    URLs of the links replaced where given (CRMKPI_PUBLIC_URL, CRMKPI_GRAFANA_URL) and its
    amounts in `currency` (CRMKPI_CURRENCY)."""
    path = path or DEFAULT_THRESHOLDS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ThresholdsError(f"{path}: cannot read ({error.strerror})") from None
    return parse_thresholds(text, path.name).linked(public_url, grafana_url).priced(currency)
