"""The monitor's typed, validated configuration.

A config is a TOML file (see ``CONTRACT.md``). Precedence, highest first: keyword arguments given to
:func:`load_config`, then environment variables (``MONITOR_DATA_DIR``; credentials ``SH_CLIENT_ID``,
``SH_CLIENT_SECRET``, ``MONITOR_SMTP_USER``, ``MONITOR_SMTP_PASSWORD``), then the file, then defaults.
Relative paths resolve against the folder that holds the config file. Loading never writes anything.
Credentials never come from the file and are masked in ``repr``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.errors import ConfigError
from monitor.geometry import covers, footprint

ID_PATTERN = r"^[a-z0-9-]+$"  # ids become folder names: nothing that could climb out of data_dir
SourceKind = Literal["local", "earth-search", "sentinelhub", "planetary-computer"]
ZoneKind = Literal["crowd", "vehicle", "any"]
BBox = tuple[float, float, float, float]

EARTH_SEARCH_URL = "https://earth-search.aws.element84.com/v1"
PLANETARY_COMPUTER_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"
CDSE_BASE_URL = "https://sh.dataspace.copernicus.eu"
CDSE_TOKEN_URL = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_bbox(bbox: BBox | None) -> BBox | None:
    if bbox is None:
        return None
    xmin, ymin, xmax, ymax = bbox
    if not (-180.0 <= xmin <= 180.0 and -180.0 <= xmax <= 180.0):
        raise ValueError(f"longitudes must lie in -180..180, got {xmin}, {xmax}")
    if not (-90.0 <= ymin <= 90.0 and -90.0 <= ymax <= 90.0):
        raise ValueError(f"latitudes must lie in -90..90, got {ymin}, {ymax}")
    if xmin >= xmax or ymin >= ymax:
        raise ValueError(f"bbox must be [lon_min, lat_min, lon_max, lat_max] with min < max, got {list(bbox)}")
    return bbox


class _Area(_Strict):
    """Something with a footprint: a WGS84 ``bbox`` or a GeoJSON ``geometry`` file (exactly one)."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str | None = None
    bbox: BBox | None = None
    geometry: Path | None = None

    _check = field_validator("bbox")(classmethod(lambda cls, v: _check_bbox(v)))

    @model_validator(mode="after")
    def _one_footprint(self) -> _Area:
        if self.bbox is None and self.geometry is None:
            raise ValueError("needs a bbox or a geometry")
        if self.bbox is not None and self.geometry is not None:
            raise ValueError("give either bbox or geometry, not both")
        return self


class ZoneConfig(_Area):
    """A zone inside a site, scored separately; ``kind`` says which formation it is watched for."""

    kind: ZoneKind = "any"


class SiteConfig(_Area):
    """A monitored site: its footprint defines the analysis grid (local UTM zone, ``resolution`` metres)."""

    resolution: Annotated[float, Field(gt=0.0, le=1000.0)] = 10.0
    zones: list[ZoneConfig] = Field(default_factory=list)
    recipients: list[str] | None = None

    @model_validator(mode="after")
    def _unique_zones(self) -> SiteConfig:
        seen: set[str] = set()
        for zone in self.zones:
            if zone.id in seen:
                raise ValueError(f"duplicate zone id {zone.id!r}")
            seen.add(zone.id)
        return self


class SourceConfig(_Strict):
    """Where scenes come from. ``local`` takes ``path``; the STAC kinds take ``url`` and ``collections``."""

    kind: SourceKind
    path: Path | None = None
    url: str | None = None
    collections: list[str] | None = None
    base_url: str | None = None
    token_url: str | None = None
    profile: str | None = None
    #: STAC kinds: further hosts (bare names) whose asset hrefs may be followed, besides the API's host and
    #: the provider's own (see :mod:`monitor.sources.hosts`).
    asset_hosts: list[str] | None = None

    @field_validator("asset_hosts")
    @classmethod
    def _bare_hosts(cls, value: list[str] | None) -> list[str] | None:
        from monitor.sources.hosts import valid_host

        for host in value or ():
            if not valid_host(host):
                raise ValueError(
                    f"{host!r} is not a bare host name (give e.g. 'data.example.org': no scheme, port or path)"
                )
        return value

    @model_validator(mode="after")
    def _keys_for_kind(self) -> SourceConfig:
        allowed = {
            "local": {"path"},
            "earth-search": {"url", "collections", "asset_hosts"},
            "planetary-computer": {"url", "collections", "asset_hosts"},
            "sentinelhub": {"base_url", "token_url", "profile", "collections"},
        }[self.kind]
        for key in ("path", "url", "collections", "base_url", "token_url", "profile", "asset_hosts"):
            if getattr(self, key) is not None and key not in allowed:
                raise ValueError(f"key {key!r} does not apply to a {self.kind!r} source")
        for key in ("url", "base_url", "token_url"):
            value = getattr(self, key)
            if value is not None and not re.match(r"^https?://[^/\s]+", value):
                raise ValueError(f"{key} must be an http(s):// URL, got {value!r}")
        if self.token_url is not None and not self.token_url.startswith("https://"):
            raise ValueError("token_url must be https:// (OAuth sends the client secret there)")
        if self.kind == "local" and self.path is None:
            raise ValueError("a local source needs 'path' (a folder of GeoTIFFs or a STAC catalog.json)")
        return self

    @property
    def name(self) -> str:
        """A short, stable label of this source for the catalogue (``local:imagery``)."""
        if self.kind == "local":
            return f"local:{self.path}"
        return self.kind


#: ``[monitor] deadline`` by default: a third of the 6-hour cron interval the README suggests, so a slow run
#: (a provider answering slowly, a long first run) ends well before the next one starts.
DEFAULT_DEADLINE_S = 2 * 3600.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``90`` (seconds), ``"90s"``, ``"45m"`` or ``"2h"``. Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"a duration like '45m' or '2h' is expected, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        unit = {"s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[match.group(2)]
        seconds = float(match.group(1)) * unit
    else:
        raise ValueError(f"a duration like '45m' or '2h' is expected, got {value!r}")
    if not 60.0 <= seconds <= 7 * 86400.0:
        raise ValueError(f"the deadline must lie between 1 minute and 7 days, got {value!r}")
    return seconds


class MonitorSection(_Strict):
    data_dir: Path = Path("monitor-data")
    since: date | None = None
    #: seconds a run may take: past it, no new scene is fetched; the scenes left are found by the next run
    deadline: float = DEFAULT_DEADLINE_S

    _deadline = field_validator("deadline", mode="before")(classmethod(lambda cls, v: parse_duration(v)))


class EmailConfig(_Strict):
    """How messages go out: ``enabled = false`` writes ``.eml`` files only; TLS unless ``security = "none"``."""

    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    sender: str = "monitor@example.org"
    recipients: list[str] = Field(default_factory=lambda: ["analyst@example.org"])
    timeout: Annotated[float, Field(gt=0)] = 30.0
    ca_file: Path | None = None
    max_inline_images: Annotated[int, Field(ge=0, le=50)] = 6
    inline_width: Annotated[int, Field(ge=200, le=4000)] = 800


class WebhookConfig(_Strict):
    """A webhook receiver (Slack, Matrix hookshot, anything taking a JSON POST): its ``url``, or
    ``url_env`` naming the environment variable that holds it (webhook URLs embed their secret).
    Only the URL's host is contacted: no redirects, no proxies; the URL is never logged."""

    name: Annotated[str, Field(pattern=ID_PATTERN)]
    url: SecretStr | None = None
    url_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    timeout: Annotated[float, Field(gt=0, le=300)] = 10.0

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give either url or url_env (the environment variable holding the URL), not both")
        if self.url is not None:
            check_webhook_url(self.url.get_secret_value())
        return self


#: Hosts a webhook may reach over plain HTTP (a receiver on this machine); anything else needs HTTPS.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_webhook_url(url: str) -> None:
    """An absolute http(s) URL with a host; plain HTTP only to this machine (the URL carries a secret)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme not in {"https", "http"} or not host:
        raise ValueError("must be an absolute https:// URL")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(f"must use https:// (plain http only to this machine, not to {host})")


class NotifySection(_Strict):
    """Receivers beside email: ``[[notify.webhooks]]``."""

    webhooks: list[WebhookConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> NotifySection:
        names = [w.name for w in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError("webhook names must be unique")
        return self


class AlertsConfig(_Strict):
    """Alert thresholds on the 0..1 scores; levels low < medium < high."""

    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    medium: Annotated[float, Field(gt=0.0, le=1.0)] = 0.7
    high: Annotated[float, Field(gt=0.0, le=1.0)] = 0.85
    min_usable_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    resolve_after: Annotated[int, Field(ge=1)] = 3
    confirm_days: Annotated[float, Field(ge=0.0, le=60.0)] = 3.0
    dismiss_suppress_days: Annotated[float, Field(ge=0.0)] = 14.0
    repeat_interval_hours: Annotated[float, Field(ge=0.0)] = 168.0

    @model_validator(mode="after")
    def _ordered(self) -> AlertsConfig:
        if not self.threshold <= self.medium <= self.high:
            raise ValueError("levels must satisfy threshold <= medium <= high")
        return self


class DetectConfig(_Strict):
    """Tunables of the first-cut detector (see ``docs/detection.md``)."""

    warmup_scenes: Annotated[int, Field(ge=3, le=100)] = 10
    min_scene_usable: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    min_observations: Annotated[int, Field(ge=2)] = 3
    false_alarm_rate: Annotated[float, Field(gt=0.0, lt=0.5)] = 1e-4
    cloud_margin_m: Annotated[float, Field(ge=0.0, le=1000.0)] = 30.0
    max_attempts: Annotated[int, Field(ge=1)] = 3


class Credentials(_Strict):
    """Secrets from the environment; never from the config file, never printed."""

    sh_client_id: SecretStr | None = None
    sh_client_secret: SecretStr | None = None
    smtp_user: SecretStr | None = None
    smtp_password: SecretStr | None = None


class Config(_Strict):
    """The whole, validated configuration. Build it with :func:`load_config`."""

    monitor: MonitorSection = Field(default_factory=MonitorSection)
    sources: list[SourceConfig] = Field(default_factory=lambda: [SourceConfig(kind="earth-search")])
    sites: list[SiteConfig]
    email: EmailConfig = Field(default_factory=EmailConfig)
    notify: NotifySection = Field(default_factory=NotifySection)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    credentials: Credentials = Field(default_factory=Credentials, exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_sites(self) -> Config:
        if not self.sites:
            raise ValueError("at least one [[sites]] entry is required")
        seen: set[str] = set()
        for site in self.sites:
            if site.id in seen:
                raise ValueError(f"duplicate site id {site.id!r}")
            seen.add(site.id)
        return self

    @property
    def data_dir(self) -> Path:
        """The archive folder, absolute."""
        return self.monitor.data_dir

    def site(self, site_id: str) -> SiteConfig:
        """The site with this id; :class:`ConfigError` if there is none."""
        for site in self.sites:
            if site.id == site_id:
                return site
        known = ", ".join(s.id for s in self.sites)
        raise ConfigError(f"no site {site_id!r} (known: {known})", path=str(self.path or ""), key="sites")

    def zone(self, zone_id: str, site_id: str | None = None) -> ZoneConfig:
        """The zone with this id (in ``site_id``, or in any site); :class:`ConfigError` if there is none."""
        sites = [self.site(site_id)] if site_id is not None else self.sites
        if zone_id == "site" and any(not s.zones for s in sites):
            return ZoneConfig(id="site", kind="any", bbox=(-180.0, -90.0, 180.0, 90.0))  # a site scored whole
        for site in sites:
            for zone in site.zones:
                if zone.id == zone_id:
                    return zone
        known = ", ".join(sorted({z.id for s in sites for z in s.zones})) or "none"
        raise ConfigError(f"no zone {zone_id!r} (known: {known})", path=str(self.path or ""), key="sites.zones")


def _loc(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """``('sites', 0, 'zones', 1, 'bbox')`` -> ``sites[0].zones[1].bbox``, ids added where known."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
                shown = node.get("id") if isinstance(node, Mapping) else None
                if isinstance(shown, str) and shown.isprintable() and len(shown) <= 60:  # one line, always
                    label = f"{part} id={shown}"
            out += f"[{label}]"
        elif part in {"function-after", "function-before"} or part.startswith(("tuple[", "list[", "literal[")):
            continue
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, Mapping) else None
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (``list[SiteConfig]``, ``EmailConfig | None``, ...)."""
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    """`` (did you mean 'data_dir'?)`` for an unknown key close to a known one at the same place, else ''."""
    import difflib

    models: list[type[BaseModel]] = [Config]
    for part in loc[:-1]:
        if isinstance(part, str):
            models = [
                m
                for model in models
                if part in model.model_fields
                for m in _models_in(model.model_fields[part].annotation)
            ]
    known = sorted({name for model in models for name in model.model_fields} - {"credentials", "path"})
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make ``data_dir``, source ``path`` and ``geometry`` paths absolute against ``base``."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value and not re.match(r"^[a-z][a-z0-9+.-]*://", value):
            return str((base / Path(value).expanduser()).resolve())
        return value

    monitor = raw.get("monitor")
    if isinstance(monitor, dict) and "data_dir" in monitor:
        monitor["data_dir"] = fix(monitor["data_dir"])
    elif monitor is None or isinstance(monitor, dict):
        raw.setdefault("monitor", {})["data_dir"] = str((base / "monitor-data").resolve())
    email = raw.get("email")
    if isinstance(email, dict) and "ca_file" in email:
        email["ca_file"] = fix(email["ca_file"])
    for source in raw.get("sources", []) if isinstance(raw.get("sources"), list) else []:
        if isinstance(source, dict) and "path" in source:
            source["path"] = fix(source["path"])
    for site in raw.get("sites", []) if isinstance(raw.get("sites"), list) else []:
        if not isinstance(site, dict):
            continue
        if "geometry" in site:
            site["geometry"] = fix(site["geometry"])
        for zone in site.get("zones", []) if isinstance(site.get("zones"), list) else []:
            if isinstance(zone, dict) and "geometry" in zone:
                zone["geometry"] = fix(zone["geometry"])
    return raw


def _credentials(env: Mapping[str, str]) -> Credentials:
    names = {
        "sh_client_id": "SH_CLIENT_ID",
        "sh_client_secret": "SH_CLIENT_SECRET",
        "smtp_user": "MONITOR_SMTP_USER",
        "smtp_password": "MONITOR_SMTP_PASSWORD",
    }
    return Credentials(**{k: SecretStr(env[v]) for k, v in names.items() if env.get(v)})


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$MONITOR_CONFIG`` if set, else ``./monitor.toml``."""
    env = os.environ if env is None else env
    return Path(env.get("MONITOR_CONFIG") or "monitor.toml")


def parse_config(
    raw: Mapping[str, Any],
    *,
    base: Path,
    origin: str = "<config>",
    data_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Validate a config mapping (as read from TOML); relative paths resolve against ``base``."""
    env = os.environ if env is None else env
    for internal in ("credentials", "path"):
        if internal in raw:
            hint = " (credentials come from the environment, never from the file)" if internal == "credentials" else ""
            raise ConfigError(f"unknown key{hint}", path=origin, key=internal)
    doc = _resolve_paths(_deepcopy(raw), base)
    override = data_dir or (Path(env["MONITOR_DATA_DIR"]) if env.get("MONITOR_DATA_DIR") else None)
    if override is not None:
        doc.setdefault("monitor", {})["data_dir"] = str(override.expanduser().resolve())
    try:
        config = Config.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _loc(tuple(first["loc"]), raw)
        msg = str(first["msg"]).removeprefix("Value error, ")
        if not key and ("site" in msg or "[[sites]]" in msg):
            key = "sites"
        if first["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(tuple(first["loc"]))
        elif first["type"] == "missing":
            msg = "required key is missing"
        elif first["type"] == "string_pattern_mismatch":
            shown = str(first.get("input"))[:80]
            msg = f"must use only a-z, 0-9 and '-' (ids name folders and files), got {shown!r}"
        more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise ConfigError(msg + more, path=origin, key=key or None) from None
    _check_geometry_files(config, origin)
    _check_sources(config, origin)
    if config.email.ca_file is not None and not config.email.ca_file.is_file():
        raise ConfigError(f"{config.email.ca_file} does not exist", path=origin, key="email.ca_file")
    config = _webhook_urls_from_env(config, origin, env)
    return config.model_copy(update={"credentials": _credentials(env), "path": Path(origin)})


def _webhook_urls_from_env(config: Config, origin: str, env: Mapping[str, str]) -> Config:
    """Fill in each ``url_env`` webhook's URL from the environment, checked as a ``url`` would be."""
    hooks = []
    for i, hook in enumerate(config.notify.webhooks):
        if hook.url_env is not None:
            key = f"notify.webhooks[{i} name={hook.name}].url_env"
            value = env.get(hook.url_env)
            if not value:
                raise ConfigError(f"environment variable {hook.url_env} is not set", path=origin, key=key)
            try:
                check_webhook_url(value)
            except ValueError as exc:
                raise ConfigError(f"${hook.url_env} {exc}", path=origin, key=key) from None
            hook = hook.model_copy(update={"url": SecretStr(value)})
        hooks.append(hook)
    return config.model_copy(update={"notify": config.notify.model_copy(update={"webhooks": hooks})})


def _deepcopy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value


def _check_sources(config: Config, origin: str) -> None:
    """At least one source, and a local source's path exists."""
    if not config.sources:
        raise ConfigError("at least one [[sources]] entry is required", path=origin, key="sources")
    for i, source in enumerate(config.sources):
        if source.kind == "local" and source.path is not None and not source.path.exists():
            raise ConfigError(f"{source.path} does not exist", path=origin, key=f"sources[{i}].path")


def _check_geometry_files(config: Config, origin: str) -> None:
    """Every geometry file exists and parses; every zone lies inside its site."""
    for i, site in enumerate(config.sites):
        areas: list[tuple[str, _Area]] = [(f"sites[{i} id={site.id}]", site)]
        areas += [(f"sites[{i} id={site.id}].zones[{j} id={z.id}]", z) for j, z in enumerate(site.zones)]
        shapes = {}
        for key, area in areas:
            where = key + (".geometry" if area.geometry is not None else ".bbox")
            if area.geometry is not None and not area.geometry.is_file():
                raise ConfigError(f"geometry file {area.geometry} does not exist", path=origin, key=where)
            try:
                shapes[key] = footprint(area.bbox, area.geometry)
            except ConfigError as exc:
                raise ConfigError(str(exc), path=origin, key=where) from None
        site_shape = shapes[areas[0][0]]
        for key, area in areas[1:]:
            if not covers(site_shape, shapes[key]):
                where = key + (".geometry" if area.geometry is not None else ".bbox")
                raise ConfigError(
                    f"zone {area.id!r} lies (partly) outside its site {site.id!r}", path=origin, key=where
                )


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    data_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate a TOML config file.

    ``path`` defaults to ``$MONITOR_CONFIG`` or ``./monitor.toml``. ``data_dir`` overrides the file's and
    the environment's ``MONITOR_DATA_DIR``. Raises :class:`ConfigError` naming the file, key and problem.
    """
    env = os.environ if env is None else env
    cfg_path = Path(path) if path is not None else default_config_path(env)
    origin = str(cfg_path)
    try:
        text = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", path=origin) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", path=origin) from None
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=origin) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=origin) from None
    return parse_config(raw, base=cfg_path.resolve().parent, origin=origin, data_dir=data_dir, env=env)


def utc_since(config: Config) -> datetime | None:
    """The configured earliest acquisition as an aware UTC datetime, or None."""
    since = config.monitor.since
    return None if since is None else datetime(since.year, since.month, since.day, tzinfo=UTC)
