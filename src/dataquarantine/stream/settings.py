"""Settings of the stream worker.

Sources, highest priority first: explicit overrides (command-line options), environment
variables with the ``DQ_`` prefix (``DQ_KAFKA_BOOTSTRAP_SERVERS``, ...), the YAML file given to
:meth:`StreamSettings.from_yaml`, then the defaults below. Every problem (unknown key, bad
type, unreadable file) is a :class:`~dataquarantine.errors.ConfigError` naming the setting.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from dataquarantine.errors import ConfigError
from dataquarantine.infra.kafka_config import KafkaClientConfig, normalize_properties
from dataquarantine.masking import SECRET_KEY_MARKERS, mask_secrets
from dataquarantine.settings import (
    DEFAULT_CONTRACTS_CACHE,
    DEFAULT_PAYLOADS_URL,
    DEFAULT_POLL_SECONDS,
    DEFAULT_STORE_URL,
    contracts_location,
)

__all__ = ["SECRET_KEY_MARKERS", "StreamSettings"]


# The YAML layer of the settings being built (a context variable: no global state).
_YAML_LAYER: ContextVar[Mapping[str, Any] | None] = ContextVar("_YAML_LAYER", default=None)


class _YamlLayer(PydanticBaseSettingsSource):
    """The YAML file's values, below the environment variables."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_YAML_LAYER.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_YAML_LAYER.get() or {})


@contextmanager
def _yaml_layer(data: Mapping[str, Any]) -> Iterator[None]:
    token = _YAML_LAYER.set(data)
    try:
        yield
    finally:
        _YAML_LAYER.reset(token)


class StreamSettings(BaseSettings):
    """Everything ``dataquarantine stream`` needs. Names follow the seed design."""

    model_config = SettingsConfigDict(env_prefix="DQ_", extra="forbid", frozen=True)

    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_consumer_group_id: str = Field(default="dataquarantine-validators", min_length=1)
    #: One topic or several (a YAML list, or a comma-separated string).
    kafka_raw_topic: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["raw-events"])
    kafka_valid_topic: str = Field(default="validated-events", min_length=1)
    kafka_dlq_topic: str = Field(default="quarantine-dlq", min_length=1)
    kafka_max_poll_records: int = Field(default=500, ge=1, le=100_000)
    #: librdkafka properties passed through to both clients (SASL, TLS, timeouts, ...).
    kafka_extra: dict[str, str | SecretStr] = Field(default_factory=dict)
    #: Properties for the consumer only (e.g. ``session.timeout.ms``), then the producer only.
    kafka_consumer_extra: dict[str, str | SecretStr] = Field(default_factory=dict)
    kafka_producer_extra: dict[str, str | SecretStr] = Field(default_factory=dict)

    contracts_dir: Path = Path("contracts")
    #: The contract registry (``file://DIR``, ``postgresql://...``, ``s3://bucket/prefix``);
    #: unset, the folder ``contracts_dir``.
    contracts_url: str | None = None
    #: How often a remote registry is asked for changes (PostgreSQL pushes them too).
    contracts_poll_seconds: float = Field(default=DEFAULT_POLL_SECONDS, gt=0, le=3600)
    #: The local cache of a remote registry's contracts; empty turns it off.
    contracts_cache: str = DEFAULT_CONTRACTS_CACHE
    store_url: str = DEFAULT_STORE_URL
    payloads_url: str = DEFAULT_PAYLOADS_URL
    #: ``/metrics``, ``/health`` and ``/ready``; 0 turns the HTTP endpoint off.
    prometheus_port: int = Field(default=8081, ge=0, le=65535)
    #: Address the HTTP endpoint binds: every interface by default (reachable in a container);
    #: ``127.0.0.1`` keeps it local.
    prometheus_host: str = Field(default="0.0.0.0", min_length=1)  # noqa: S104

    #: Topic -> ``name[@version]``: every message of that topic is validated against this
    #: contract. Other topics pick the contract named by the ``schema_field`` of each message.
    topic_contracts: dict[str, str] = Field(default_factory=dict)
    schema_field: str = Field(default="_schema", min_length=1)

    #: A checkpoint (producer flush, quarantine write, offset commit) happens at most this
    #: long after the first uncommitted message...
    flush_interval_ms: int = Field(default=500, ge=1, le=600_000)
    #: ...or as soon as this many messages are uncommitted.
    flush_max_records: int = Field(default=10_000, ge=1, le=1_000_000)
    #: How long an idle poll waits for the first message.
    poll_timeout_ms: int = Field(default=100, ge=1, le=60_000)
    #: Backoff between retries of an unavailable store or broker (doubles up to the maximum).
    retry_initial_backoff_ms: int = Field(default=200, ge=1, le=60_000)
    retry_max_backoff_ms: int = Field(default=5_000, ge=1, le=600_000)
    #: After SIGTERM, how long to keep trying to make the batch in flight durable.
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: DLQ envelopes carry the original message up to this size (the store always keeps it).
    dlq_max_original_bytes: int = Field(default=512_000, ge=0, le=100_000_000)
    #: Reload the contracts folder when it changed, at most this often; 0 never reloads.
    contracts_refresh_seconds: float = Field(default=30.0, ge=0)
    #: OpenLineage (when configured): a RUNNING event this often, with the counts since the last.
    lineage_interval_seconds: float = Field(default=60.0, gt=0, le=86_400)

    @field_validator("kafka_raw_topic", mode="before")
    @classmethod
    def _split_topics(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            topics = [str(t).strip() for t in value if str(t).strip()]
            if not topics:
                raise ValueError("at least one raw topic is needed")
            return topics
        return value

    @field_validator("kafka_extra", "kafka_consumer_extra", "kafka_producer_extra", mode="before")
    @classmethod
    def _stringify_extra(cls, value: Any) -> Any:
        return normalize_properties(value)

    @field_validator("topic_contracts")
    @classmethod
    def _contract_refs(cls, value: dict[str, str]) -> dict[str, str]:
        for topic, ref in value.items():
            name, _, version = ref.strip().partition("@")
            if not name or (ref.count("@") > 1) or (ref.endswith("@") and not version):
                raise ValueError(f"topic {topic!r}: {ref!r} is not NAME or NAME@VERSION")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlLayer(settings_cls))

    # -- construction --------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any) -> StreamSettings:
        """Settings from ``overrides`` > environment > YAML file ``path`` > defaults."""
        data = _read_yaml(Path(path)) if path is not None else {}
        _check_keys(data, source=str(path))
        _check_keys(overrides, source="options")
        try:
            with _yaml_layer(data):
                return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, str(path) if path else None)) from None
        except SettingsError as exc:  # an environment variable that is not valid JSON
            raise ConfigError(f"invalid stream settings: {exc}") from None

    @classmethod
    def from_yaml(cls, path: Path | str, **overrides: Any) -> StreamSettings:
        """The YAML file ``path`` under the environment variables and ``overrides``."""
        return cls.load(path, **overrides)

    # -- use -----------------------------------------------------------------------------

    @property
    def contracts(self) -> str:
        """The contract registry's URL (``contracts_url``, else ``file://`` the folder)."""
        return contracts_location(self.contracts_url, self.contracts_dir)

    @property
    def raw_topics(self) -> list[str]:
        return list(self.kafka_raw_topic)

    def client_properties(
        self, client: Literal["both", "consumer", "producer"] = "both"
    ) -> dict[str, str]:
        """``kafka_extra`` (``client="both"``) or ``kafka_consumer_extra`` /
        ``kafka_producer_extra``, secrets revealed (for librdkafka only, never printed)."""
        props = {
            "both": self.kafka_extra,
            "consumer": self.kafka_consumer_extra,
            "producer": self.kafka_producer_extra,
        }[client]
        return {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in props.items()
        }

    def kafka_client(self) -> KafkaClientConfig:
        """The Kafka clients' configuration: servers, group and extra properties."""
        return KafkaClientConfig(
            bootstrap_servers=self.kafka_bootstrap_servers,
            group_id=self.kafka_consumer_group_id,
            properties=self.client_properties(),
            consumer_properties=self.client_properties("consumer"),
            producer_properties=self.client_properties("producer"),
        )

    def redacted(self) -> dict[str, Any]:
        """A printable view: secrets masked, store URL passwords removed."""
        out = self.model_dump(mode="json")
        out["store_url"] = mask_secrets(self.store_url)
        out["payloads_url"] = mask_secrets(self.payloads_url)
        return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    return {str(k): v for k, v in data.items()}


def _check_keys(data: Mapping[str, Any], *, source: str) -> None:
    known = StreamSettings.model_fields
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown setting {key!r}{hint}")


def _describe(exc: ValidationError, path: str | None) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "settings"
        problems.append(f"{loc}: {err['msg']}")
    where = f"{path}: " if path else ""
    return f"{where}invalid stream settings: " + "; ".join(problems)
