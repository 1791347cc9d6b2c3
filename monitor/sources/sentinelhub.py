"""The ``sentinelhub`` source: Catalog API to list acquisitions, Process API to fetch each on the site grid.

Default endpoints are the Copernicus Data Space Ecosystem's (free account); the commercial Sentinel Hub
ones by ``base_url`` and ``token_url``. Credentials come from ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` or a
named sentinelhub ``profile`` (its own config store), never from the monitor's config file, and are never
logged. The Process API returns each acquisition already on the site grid (UTM bbox and size), so there
is no reprojection here; it mosaics the tiles of an overpass itself. Sentinel-2 comes harmonised
(``harmonizeValues``), Sentinel-1 as orthorectified, linear sigma0 (see the README for why sigma0).
The processing units each request spent (``x-processingunits-spent``) are recorded per scene.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from monitor.config import CDSE_BASE_URL, CDSE_TOKEN_URL, SiteConfig, SourceConfig
from monitor.errors import ConfigError, EmptySceneError, SceneError, SourceError
from monitor.geometry import footprint
from monitor.grid import SiteGrid
from monitor.scene import Scene
from monitor.sources import harmonise
from monitor.sources.base import SceneRef, parse_utc
from monitor.sources.hosts import host_of
from monitor.sources.raster import Crop, to_scene
from monitor.sources.reach import UnreachableError, unreachable
from monitor.sources.retry import RetryPolicy, TransientError
from monitor.sources.scenes import Tile, group_overpasses, platform_code, relative_orbit, scene_id

log = logging.getLogger(__name__)

#: Collections (Catalog API ids) the monitor can fetch.
S2_L2A = "sentinel-2-l2a"
S1_GRD = "sentinel-1-grd"
DEFAULT_COLLECTIONS = (S2_L2A, S1_GRD)
#: Half-width of the time range one Process request covers around an overpass (its tiles are seconds apart).
OVERPASS_SPAN = timedelta(minutes=10)
#: The Sentinel-1 backscatter coefficient requested (see README, "Sentinel-1 backscatter").
S1_BACKSCATTER = "SIGMA0_ELLIPSOID"

S2_BANDS = ("B02", "B03", "B04", "B08", "SCL")
S1_BANDS = ("VV", "VH")

EVALSCRIPT_S2 = """//VERSION=3
function setup() {
  return {
    input: [{bands: ["B02", "B03", "B04", "B08", "SCL", "dataMask"], units: "DN"}],
    output: {bands: 6, sampleType: "UINT16"}
  };
}
function evaluatePixel(s) {
  return [s.B02, s.B03, s.B04, s.B08, s.SCL, s.dataMask];
}
"""

EVALSCRIPT_S1 = """//VERSION=3
function setup() {
  return {
    input: [{bands: ["VV", "VH", "dataMask"]}],
    output: {bands: 3, sampleType: "FLOAT32"}
  };
}
function evaluatePixel(s) {
  return [s.VV, s.VH, s.dataMask];
}
"""

#: (offset, modulus) turning a Sentinel-1 absolute orbit into its relative orbit, per platform.
_S1_ORBIT = {"S1A": 73, "S1B": 27}


class RetryAfterTooLongError(Exception):
    """The service answered 429 asking for a longer wait than the monitor gives one request."""

    def __init__(self, wait_s: float, cap_s: float) -> None:
        self.wait_s, self.cap_s = wait_s, cap_s
        super().__init__(f"Retry-After {wait_s:.0f} s exceeds the {cap_s:.0f} s a request may wait")


def bounded_rate_limit(cap_s: float) -> Any:
    """A sentinelhub rate limit that raises :class:`RetryAfterTooLongError` instead of waiting more than
    ``cap_s`` seconds after a 429.

    sentinelhub sleeps for whatever ``Retry-After`` (milliseconds, the service's unit) a 429 carries, and
    only the number of 429s is bounded (``SHConfig.max_retries``): one answer asking for an hour would hold
    the run for an hour per attempt, past its deadline and into the next cron run. A wait within the cap is
    honoured as sentinelhub honours it (the service's quota refills); a longer one ends the request at once.
    """
    from sentinelhub.download.rate_limit import SentinelHubRateLimit

    class BoundedRateLimit(SentinelHubRateLimit):
        def update(self, headers: dict[str, Any], *, default: float) -> None:
            raw = headers.get(self.RETRY_HEADER, default)
            try:
                wait_s = float(raw) / 1000.0
            except (TypeError, ValueError):
                wait_s = float(default) / 1000.0  # an unreadable header: the client's default wait
            if wait_s > cap_s:
                raise RetryAfterTooLongError(wait_s, cap_s)
            super().update({self.RETRY_HEADER: str(int(wait_s * 1000))}, default=default)

    return BoundedRateLimit()


def s1_relative_orbit(platform: str, absolute: int) -> int | None:
    """Sentinel-1 relative orbit (1..175) from the absolute orbit number; None for unknown platforms."""
    offset = _S1_ORBIT.get(platform)
    return None if offset is None else (absolute - offset) % 175 + 1


def credentials_config(config: SourceConfig, env: Mapping[str, str] | None = None) -> Any:
    """The ``SHConfig`` of a source entry: endpoints from the entry (default: Copernicus Data Space),
    credentials from ``SH_CLIENT_ID``/``SH_CLIENT_SECRET``, else from the named sentinelhub profile.

    Raises :class:`ConfigError` (key ``profile``) when there are no credentials or the profile is unknown.
    """
    from sentinelhub import SHConfig

    env = os.environ if env is None else env
    if config.profile:
        try:
            sh = SHConfig(config.profile)
        except (KeyError, ValueError, OSError) as exc:
            raise ConfigError(f"no sentinelhub profile {config.profile!r}: {exc}", key="profile") from None
    else:
        sh = SHConfig(use_defaults=True)
    if env.get("SH_CLIENT_ID"):
        sh.sh_client_id = env["SH_CLIENT_ID"]
    if env.get("SH_CLIENT_SECRET"):
        sh.sh_client_secret = env["SH_CLIENT_SECRET"]
    if not (sh.sh_client_id and sh.sh_client_secret):
        where = f"in sentinelhub profile {config.profile!r} nor " if config.profile else ""
        raise ConfigError(
            f"no Sentinel Hub credentials {where}in the environment: set SH_CLIENT_ID and SH_CLIENT_SECRET "
            "(an OAuth client of your Copernicus Data Space or Sentinel Hub account), or name a sentinelhub "
            "profile that holds them in 'profile'",
            key="profile",
        )
    sh.sh_base_url = (config.base_url or CDSE_BASE_URL).rstrip("/")
    sh.sh_token_url = config.token_url or CDSE_TOKEN_URL
    return sh


class _Redact(logging.Filter):
    """Masks a secret in log records. requests-oauthlib logs the token request body (client secret
    included) at DEBUG; an application that turns DEBUG on for every logger must still not see it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        return True


#: Loggers of the OAuth libraries under sentinelhub that may print credentials or tokens.
_OAUTH_LOGGERS = ("requests_oauthlib", "requests_oauthlib.oauth2_session", "oauthlib", "sentinelhub")


def _redact_in_logs(*secrets: str) -> None:
    """Attach (once) a filter masking ``secrets`` to the OAuth libraries' loggers."""
    for name in _OAUTH_LOGGERS:
        logger = logging.getLogger(name)
        known = {s for f in logger.filters if isinstance(f, _Redact) for s in f.secrets}
        if not set(filter(None, secrets)) <= known:
            logger.addFilter(_Redact(secrets))


class SentinelHubSource:
    """Scenes from Sentinel Hub (Copernicus Data Space by default): Sentinel-2 L2A and Sentinel-1 IW GRD."""

    kind = "sentinelhub"
    first_run_history = timedelta(days=400)
    look_back = timedelta(days=10)
    default_retry = RetryPolicy()
    #: sentinelhub's own download retries: one attempt, so that our retry layer alone decides what is worth
    #: trying again (never a DNS failure or a refused connection)
    download_attempts = 1
    download_sleep = 1.0
    download_timeout = 120.0
    #: sentinelhub answers a 429 by waiting (the service's Retry-After) and asking again, with no end unless
    #: ``SHConfig.max_retries`` is set: at most this many requests per download while the service says 429
    max_429_requests = 5
    #: the longest one wait after a 429 may be, seconds: a service asking for more (``Retry-After``) fails
    #: the request at once and the scene is retried by the next run (:func:`bounded_rate_limit`). With
    #: :attr:`max_429_requests`, one download waits at most 4 x 60 s for the service's quota.
    max_retry_wait_s = 60.0

    def __init__(
        self,
        config: SourceConfig,
        *,
        env: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.name = config.name
        self.collections = tuple(config.collections or DEFAULT_COLLECTIONS)
        unknown = [c for c in self.collections if c not in DEFAULT_COLLECTIONS]
        if unknown:
            raise ConfigError(
                f"unknown collection(s) {', '.join(unknown)} (known: {', '.join(DEFAULT_COLLECTIONS)})",
                key="collections",
            )
        self.sh_config = credentials_config(config, env)
        _redact_in_logs(self.sh_config.sh_client_secret)
        self.sh_config.max_download_attempts = self.download_attempts
        self.sh_config.download_sleep_time = self.download_sleep
        self.sh_config.download_timeout_seconds = self.download_timeout
        self.sh_config.max_retries = self.max_429_requests
        self.retry = retry or self.default_retry

    def __repr__(self) -> str:  # never show the credentials
        return f"SentinelHubSource(base_url={self.sh_config.sh_base_url!r}, collections={self.collections!r})"

    # -- the clients ----------------------------------------------------------------------------------
    def _data_collection(self, collection: str) -> Any:
        from sentinelhub import DataCollection

        base = DataCollection.SENTINEL2_L2A if collection == S2_L2A else DataCollection.SENTINEL1_IW
        label = re.sub(r"[^A-Za-z0-9]+", "_", f"{collection}_{self.sh_config.sh_base_url}").upper()
        return base.define_from(label, service_url=self.sh_config.sh_base_url)

    def _refresh_session(self) -> None:
        """A new OAuth token, replacing the cached one (the service said ours had expired)."""
        from sentinelhub import SentinelHubDownloadClient, SentinelHubSession

        SentinelHubDownloadClient.cache_session(SentinelHubSession(config=self.sh_config))

    def _call(self, what: str, func: Any) -> Any:
        """``func()`` with sentinelhub's errors turned into ours; an expired token is renewed and retried."""
        import requests
        from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException

        def attempt() -> Any:
            try:
                return func()
            except OutOfRequestsException as exc:
                raise SourceError(
                    f"{what}: the service answered 429 (too many requests) {self.max_429_requests} times in a row; "
                    "the next run tries again"
                ) from exc
            except RetryAfterTooLongError as exc:
                raise SourceError(
                    f"{what}: the service answered 429 (too many requests) asking to wait {exc.wait_s:.0f} s "
                    f"(Retry-After), more than the {exc.cap_s:.0f} s a request may wait; the next run tries again"
                ) from exc
            except DownloadFailedException as exc:
                cause = unreachable(exc)
                if cause is not None:
                    request = getattr(exc.request_exception, "request", None)
                    url = getattr(request, "url", None) or self.sh_config.sh_base_url
                    raise UnreachableError(host_of(url), cause) from None
                response = getattr(exc.request_exception, "response", None)
                status = getattr(response, "status_code", None)
                if status == 401:
                    log.info("%s: the service refused the OAuth token; fetching a new one", self.name)
                    self._refresh_session()
                    raise TransientError(f"{what}: OAuth token refused (HTTP 401)") from exc
                if status is not None and status not in (429,) and status < 500:
                    raise SourceError(f"{what} failed (HTTP {status}): {_message(exc)}") from exc
                raise TransientError(f"{what} failed: {_message(exc)}") from exc
            except (requests.RequestException, OSError, ValueError) as exc:
                cause = unreachable(exc)
                if cause is not None:
                    host = getattr(getattr(exc, "request", None), "url", None) or self.sh_config.sh_base_url
                    raise UnreachableError(host_of(host), cause) from None
                raise TransientError(f"{what} failed: {exc}") from exc

        return self.retry.call(what, attempt, retry_on=(TransientError,))

    # -- search ---------------------------------------------------------------------------------------
    def search(self, site: SiteConfig, start: datetime | None, end: datetime | None) -> list[SceneRef]:
        """One scene per overpass and collection over ``site`` in [start, end], oldest first (Catalog API)."""
        from sentinelhub import CRS, BBox, SentinelHubCatalog

        bbox = BBox(footprint(site.bbox, site.geometry).bounds, crs=CRS.WGS84)
        window = (start or datetime(2014, 4, 1, tzinfo=UTC), end or datetime.now(UTC) + timedelta(days=1))
        tiles: list[Tile] = []
        catalog = SentinelHubCatalog(config=self.sh_config)
        catalog.client.rate_limit = bounded_rate_limit(self.max_retry_wait_s)
        for collection in self.collections:

            def fetch(collection: str = collection) -> list[dict[str, Any]]:
                return list(catalog.search(self._data_collection(collection), bbox=bbox, time=window, limit=100))

            for feature in self._call(f"Sentinel Hub catalog search of {collection}", fetch):
                tile = catalog_tile(feature, collection)
                if isinstance(tile, str):
                    log.warning("%s: %s", self.name, tile)
                else:
                    tiles.append(tile)
        refs = []
        for group in group_overpasses(tiles, self.collections):
            first = min(group, key=lambda t: t.acquired)
            refs.append(
                SceneRef(
                    scene_id=scene_id(first.platform, first.orbit, first.acquired),
                    source=self.name,
                    acquired=first.acquired,
                    sensor=first.sensor,
                    properties={
                        "platform": first.platform,
                        "orbit": first.orbit,
                        "collection": first.collection,
                        "items": ",".join(t.item_id for t in group),
                        "span_start": min(t.acquired for t in group).isoformat(),
                        "span_end": max(t.acquired for t in group).isoformat(),
                    },
                )
            )
        log.info("%s: %d overpass(es) over site %s", self.name, len(refs), site.id)
        return refs

    # -- read -----------------------------------------------------------------------------------------
    def _process_request(self, ref: SceneRef, grid: SiteGrid) -> Any:
        from sentinelhub import CRS, BBox, MimeType, MosaickingOrder, SentinelHubRequest

        collection = str(ref.properties.get("collection", S2_L2A))
        s2 = collection == S2_L2A
        start = datetime.fromisoformat(str(ref.properties.get("span_start") or ref.acquired)) - OVERPASS_SPAN
        end = datetime.fromisoformat(str(ref.properties.get("span_end") or ref.acquired)) + OVERPASS_SPAN
        processing = (
            {"harmonizeValues": True}
            if s2
            else {"backCoeff": S1_BACKSCATTER, "orthorectify": True, "demInstance": "COPERNICUS"}
        )
        epsg = grid.crs.to_epsg()
        if epsg is None:
            raise SceneError(f"{ref.scene_id}: the site grid has no EPSG code")
        return SentinelHubRequest(
            evalscript=EVALSCRIPT_S2 if s2 else EVALSCRIPT_S1,
            input_data=[
                SentinelHubRequest.input_data(
                    data_collection=self._data_collection(collection),
                    time_interval=(start, end),
                    mosaicking_order=MosaickingOrder.MOST_RECENT,
                    other_args={"processing": processing},
                )
            ],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(grid.bounds, crs=CRS(epsg)),
            size=(grid.width, grid.height),
            config=self.sh_config,
        )

    def read(self, ref: SceneRef, grid: SiteGrid) -> Scene:
        """The overpass on ``grid``, fetched with one Process API request (already on the grid)."""
        from sentinelhub import SentinelHubDownloadClient

        if ref.problem:
            raise SceneError(ref.problem)
        request = self._process_request(ref, grid)

        def fetch() -> tuple[np.ndarray, dict[str, str]]:
            client = SentinelHubDownloadClient(config=self.sh_config)
            client.rate_limit = bounded_rate_limit(self.max_retry_wait_s)
            (response,) = client.download(request.download_list, decode_data=False, show_progress=False)
            return decode_tiff(response.content, grid), {k.lower(): v for k, v in dict(response.headers).items()}

        raw, headers = self._call(f"Sentinel Hub process request for {ref.scene_id}", fetch)
        s2 = ref.sensor == "S2"
        names = S2_BANDS if s2 else S1_BANDS
        data = raw[: len(names)].astype(np.float32)
        data[:, raw[-1] == 0] = np.nan  # dataMask
        if s2:
            data[4][data[4] == 0] = np.nan  # SCL 0: no data
        if not np.isfinite(data).any():
            raise EmptySceneError(f"{ref.scene_id}: no data over the site")
        crop = Crop(names=names, data=data, tags={}, dtypes=("uint16",) * len(names) if s2 else ("float32",) * 2)
        units = headers.get("x-processingunits-spent")
        properties = dict(ref.properties)
        properties.update(
            {
                "provider": self.kind,
                "base_url": self.sh_config.sh_base_url,
                "harmonisation": harmonise.BY_PROVIDER if s2 else "",
                "backscatter": "" if s2 else S1_BACKSCATTER,
            }
        )
        if units is not None:
            try:
                properties["processing_units"] = float(units)
            except ValueError:
                log.warning("%s: unreadable x-processingunits-spent header %r", ref.scene_id, units)
        ref = SceneRef(ref.scene_id, ref.source, ref.acquired, ref.sensor, ref.assets, None, properties)
        return to_scene(ref, crop, grid)


def decode_tiff(payload: bytes, grid: SiteGrid) -> np.ndarray:
    """The (bands, rows, cols) array of a Process API TIFF answer, which must be on ``grid`` exactly.

    A truncated or undecodable body raises :class:`TransientError` (fetched again), a wrong shape
    :class:`SourceError`; never a partial array.
    """
    from rasterio.errors import RasterioError
    from rasterio.io import MemoryFile

    try:
        with MemoryFile(payload) as mem, mem.open(driver="GTiff") as src:  # never a VRT naming other files
            data = src.read()
    except (RasterioError, OSError, ValueError) as exc:
        raise TransientError(f"undecodable TIFF from the Process API ({len(payload)} bytes): {exc}") from exc
    if data.shape[1:] != grid.shape:
        raise SourceError(
            f"the Process API returned {data.shape[2]} x {data.shape[1]} px, asked for {grid.width} x {grid.height}"
        )
    return data


def catalog_tile(feature: Mapping[str, Any], collection: str) -> Tile | str:
    """A :class:`Tile` from a Catalog API feature, or why it cannot be used."""
    item_id = str(feature.get("id", ""))
    props: Mapping[str, Any] = feature.get("properties") or {}
    value = props.get("datetime")
    acquired = parse_utc(value)
    if acquired is None:
        return f"catalog item {item_id} has no valid datetime ({value!r})"
    platform = platform_code(props, item_id)
    if platform is None:
        return f"catalog item {item_id}: unknown platform {props.get('platform')!r}"
    orbit = relative_orbit(props, item_id)
    absolute = props.get("sat:absolute_orbit")
    if not isinstance(absolute, int):  # S1A_IW_GRDH_1SDV_<start>_<stop>_<absolute orbit>_<datatake>_...
        match = re.search(r"_\d{8}T\d{6}_\d{8}T\d{6}_(\d{6})_[0-9A-F]{6}", item_id)
        absolute = int(match.group(1)) if match else None
    if orbit is None and platform.startswith("S1") and absolute is not None:
        orbit = s1_relative_orbit(platform, absolute)
    match = re.search(r"_T(\d{2}[A-Z]{3})_", item_id)
    return Tile(
        item_id=item_id,
        collection=collection,
        acquired=acquired,
        platform=platform,
        orbit=orbit,
        grid_code=match.group(1) if match else item_id,
        assets=(),
        properties=dict(props),
    )


#: Longest error text kept whole, characters: a provider's HTML error page is cut at a word boundary
#: past this, with a note of how much was left out, never in the middle of a sentence silently.
MESSAGE_CHARS = 2000


def _message(exc: Exception) -> str:
    """An exception's message on one line, without anything that looks like a secret."""
    text = " ".join(re.sub(r"(client_secret|access_token|Authorization)\S*", r"\1=***", str(exc)).split())
    if len(text) <= MESSAGE_CHARS:
        return text
    head = text[:MESSAGE_CHARS].rsplit(" ", 1)[0]
    return f"{head} [... {len(text) - len(head)} more characters]"


__all__: Sequence[str] = ("SentinelHubSource", "catalog_tile", "credentials_config", "decode_tiff")
