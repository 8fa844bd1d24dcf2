"""Errors a user can fix: the CLI prints any `CrmkpiError` as one line."""


class CrmkpiError(Exception):
    """A problem with what the user asked for or with what it needs, said in one line."""


class ConfigError(CrmkpiError):
    """A setting, file or argument is wrong (a thresholds file, an input file)."""


class BrokerUnreachable(CrmkpiError):
    """The Kafka broker does not answer at the configured bootstrap address."""


class BrokerError(CrmkpiError):
    """The embedded broker cannot be found, started or reached."""


class MonitorUnreachable(CrmkpiError):
    """No crmkpi monitor answers at the given URL."""


class MonitorNotIdle(CrmkpiError):
    """A monitor's consumer lag did not reach 0 in the time given."""


class StoreUnreachable(CrmkpiError):
    """The KPI store of the `crmkpi up` that started this worker does not answer."""
