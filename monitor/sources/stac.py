"""STAC API sources (Earth Search, Planetary Computer): item search with pystac-client, windowed COG reads.

``search`` asks the STAC API for the items over a site's bbox in a time range (one request per page,
retried by urllib3 on 429 with ``Retry-After``, 5xx and resets) and groups the items of one overpass
(several MGRS tiles, several collections) into one :class:`SceneRef`. ``read`` reads only the site's
window of each band's COG over HTTP range requests (:mod:`monitor.sources.gdal_env`), removes the
Sentinel-2 offset where the product carries it, and mosaics the tiles onto the site grid. A read that
still fails after the retries raises :class:`SourceError`; nothing partial is returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from urllib3.util.retry import Retry

from monitor.config import EARTH_SEARCH_URL, SiteConfig, SourceConfig
from monitor.errors import EmptySceneError, SceneError, SourceError
from monitor.geometry import footprint
from monitor.grid import SiteGrid
from monitor.scene import Scene
from monitor.sensors import S2_SPECTRAL, nodata_of
from monitor.sources import harmonise
from monitor.sources.base import BandAsset, SceneRef, parse_utc
from monitor.sources.gdal_env import cog_env, confine
from monitor.sources.hosts import EARTH_SEARCH_HOSTS, HostPolicy, HostRefusedError
from monitor.sources.local import STAC_BAND_KEYS
from monitor.sources.raster import REMOTE_DRIVERS, Crop, read_crop, to_scene
from monitor.sources.reach import UnreachableError, unreachable
from monitor.sources.retry import RetryPolicy, TransientError
from monitor.sources.scenes import Tile, group_overpasses, mgrs_code, mosaic, platform_code, relative_orbit, scene_id

log = logging.getLogger(__name__)

#: Bands read by default: the four 10 m bands and the scene classification (20 m, resampled nearest).
DEFAULT_S2_BANDS = ("B02", "B03", "B04", "B08", "SCL")
DEFAULT_S1_BANDS = ("VV", "VH")
#: HTTP statuses worth trying again.
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: At most this many pages of one search (100 items each by default: 10,000 items, some 30 years of
#: Sentinel-2 over one site); a catalogue whose pages never end fails the search instead of running forever.
MAX_PAGES = 100


def item_tile(item: Mapping[str, Any], bands: Sequence[str], policy: HostPolicy | None = None) -> Tile | str:
    """The :class:`Tile` of a STAC item (a dict as the API returns it), or why it cannot be used.

    With ``policy``, an item whose band or calibration hrefs the source may not follow is unusable.
    """
    if not isinstance(item, Mapping):
        return f"STAC item is a {type(item).__name__}, not an object"
    item_id = str(item.get("id", ""))
    props: Mapping[str, Any] = item.get("properties") or {}
    if not isinstance(props, Mapping):
        return f"STAC item {item_id}: properties is a {type(props).__name__}, not an object"
    assets_of = item.get("assets") or {}
    if not isinstance(assets_of, Mapping):
        return f"STAC item {item_id}: assets is a {type(assets_of).__name__}, not an object"
    acquired = parse_utc(props.get("datetime")) or parse_utc(props.get("start_datetime"))
    if acquired is None:
        return f"STAC item {item_id} has neither datetime nor start_datetime"
    platform = platform_code(props, item_id)
    if platform is None:
        return f"STAC item {item_id}: unknown platform {props.get('platform')!r}"
    found: dict[str, BandAsset] = {}
    for key, asset in assets_of.items():
        band = STAC_BAND_KEYS.get(key)
        href = asset.get("href") if isinstance(asset, Mapping) else None
        if band is not None and band in bands and band not in found and isinstance(href, str):
            found[band] = BandAsset(name=band, href=href, nodata=nodata_of(platform[:2], band))
    calibration = {}  # Sentinel-1 GRD: the calibration annotation of each polarisation (to get sigma0)
    for key, asset in assets_of.items():
        pol = key.removeprefix("schema-calibration-").upper()
        if key.startswith("schema-calibration-") and isinstance(asset, Mapping) and isinstance(asset.get("href"), str):
            calibration[pol] = asset["href"]
    missing = [b for b in bands if b not in found]
    if missing:
        return f"STAC item {item_id} has no asset for band(s) {', '.join(missing)}"
    if policy is not None:
        for href in [a.href for a in found.values()] + list(calibration.values()):
            refusal = policy.refusal(href)
            if refusal is not None:
                return f"STAC item {item_id}: {refusal}"
    sensor = platform[:2]
    return Tile(
        item_id=item_id,
        collection=str(item.get("collection", "")),
        acquired=acquired,
        platform=platform,
        orbit=relative_orbit(props, item_id),
        grid_code=mgrs_code(props, item_id) if sensor == "S2" else item_id,
        assets=tuple(found[b] for b in bands),
        harmonisation=harmonise.harmonisation(props, acquired) if sensor == "S2" else "",
        properties={**props, "calibration": calibration} if calibration else dict(props),
    )


def scene_ref(tiles: Sequence[Tile], source: str) -> SceneRef:
    """The :class:`SceneRef` of one overpass; its tiles ride along in ``properties['tiles']``."""
    first = min(tiles, key=lambda t: t.acquired)
    harmonisations = sorted({t.harmonisation for t in tiles if t.harmonisation})
    return SceneRef(
        scene_id=scene_id(first.platform, first.orbit, first.acquired),
        source=source,
        acquired=first.acquired,
        sensor=first.sensor,
        assets=tuple(a for t in tiles for a in t.assets),
        properties={
            "tiles": tuple(tiles),
            "platform": first.platform,
            "orbit": first.orbit,
            "items": ",".join(t.item_id for t in tiles),
            "collections": ",".join(sorted({t.collection for t in tiles})),
            "harmonisation": ",".join(harmonisations),
        },
    )


def ca_bundle_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The CA bundle the user points TLS clients at (``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``), if any."""
    env = os.environ if env is None else env
    return env.get("CURL_CA_BUNDLE") or env.get("SSL_CERT_FILE") or None


class StacSource:
    """Scenes from a STAC API (item search) whose assets are COGs readable over HTTP.

    ``sign`` turns an asset href into the URL to read (Planetary Computer: a SAS-signed URL) and is
    called before every read, so an expired signature is never reused.
    """

    #: Provider label in scene provenance, and the default STAC API root and collections.
    kind = "stac"
    default_url = ""
    default_collections: tuple[str, ...] = ()
    #: Remote sources: how far back the first run looks, and how far before the last acquisition seen
    #: each later run looks again (providers publish late and reprocess).
    first_run_history = timedelta(days=400)
    look_back = timedelta(days=10)
    #: Retries of searches and reads, and GDAL options added to :data:`monitor.sources.gdal_env.COG_OPTIONS`.
    default_retry = RetryPolicy()
    default_gdal_options: Mapping[str, Any] = {}
    #: the provider's own asset hosts (besides the API's host and the config's ``asset_hosts``)
    provider_hosts: tuple[str, ...] = ()

    def __init__(
        self,
        config: SourceConfig,
        *,
        bands: Sequence[str] | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = 100,
        timeout: float = 60.0,
        gdal_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = config.name
        self.url = (config.url or self.default_url).rstrip("/")
        self.collections = tuple(config.collections or self.default_collections)
        self.bands = tuple(bands) if bands else None
        self.retry = retry or self.default_retry
        self.page_size = page_size
        self.timeout = timeout
        options = {**self.default_gdal_options, **(gdal_options or {})}
        #: the hosts asset hrefs may point at; the API's own host alone for the search and its next pages
        self.hosts = HostPolicy.of(self.name, self.url, self.provider_hosts, config.asset_hosts or ())
        self.api_hosts = HostPolicy.of(self.name, self.url)
        self.gdal_options = {**confine(self.hosts.hosts, options), **options}

    # -- search ---------------------------------------------------------------------------------------
    def _stac_io(self) -> Any:
        retry = Retry(
            total=self.retry.attempts,
            connect=0,  # DNS failure, connection refused: the network is down, retrying will not help
            other=0,  # a TLS handshake that fails (untrusted certificate) fails the same way next time
            backoff_factor=self.retry.backoff / 2,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,  # item search is a POST; it is safe to repeat
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        return _ConfinedStacApiIO(self.api_hosts, max_retries=retry, timeout=self.timeout)

    def _search_items(self, site: SiteConfig, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
        from pystac_client import ItemSearch
        from pystac_client.exceptions import APIError

        bbox = footprint(site.bbox, site.geometry).bounds
        window = [
            start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if start else "..",
            end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if end else "..",
        ]
        io = self._stac_io()
        try:
            # the item-search endpoint directly: a cron run with nothing new costs one request, not three
            # (landing page, conformance, search)
            search = ItemSearch(
                f"{self.url}/search",
                stac_io=io,
                method="POST",
                collections=list(self.collections),
                bbox=list(bbox),
                datetime="/".join(window) if window != ["..", ".."] else None,
                limit=self.page_size,
            )
            items: list[dict[str, Any]] = []
            for number, page in enumerate(search.pages_as_dicts(), start=1):
                if number > MAX_PAGES:
                    raise SourceError(
                        f"STAC search at {self.url} returned more than {MAX_PAGES} pages; stopped (a catalogue whose "
                        "pages never end, or a site and time range far too large)"
                    )
                features = page.get("features", []) if isinstance(page, Mapping) else None
                if not isinstance(features, list):
                    raise SourceError(f"STAC search at {self.url}: a page without a features list")
                items.extend(features)
            return items
        except APIError as exc:
            if io.refused:
                raise SourceError(f"STAC search at {self.url}: {io.refused}") from None
            cause = unreachable(exc)
            if cause is not None:
                raise UnreachableError(host_name(self.url), cause) from None
            status = getattr(exc, "status_code", None)
            if status is None or status in RETRY_STATUSES:
                raise TransientError(f"STAC search at {self.url} failed: {exc}") from exc
            raise SourceError(f"STAC search at {self.url} failed (HTTP {status}): {exc}") from exc
        except HostRefusedError as exc:
            raise SourceError(f"STAC search at {self.url}: {exc}") from None
        except (AttributeError, TypeError, KeyError) as exc:  # pystac-client on a page of the wrong shape
            raise SourceError(f"STAC search at {self.url}: a malformed answer ({type(exc).__name__}: {exc})") from None
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors; a truncated JSON body a ValueError
            if isinstance(exc, SourceError):
                raise
            cause = unreachable(exc)
            if cause is not None:
                raise UnreachableError(host_name(self.url), cause) from None
            raise TransientError(f"STAC search at {self.url} failed: {exc}") from exc

    def search(self, site: SiteConfig, start: datetime | None, end: datetime | None) -> list[SceneRef]:
        """One scene per overpass over ``site`` acquired in [start, end], oldest first."""
        items = self.retry.call(
            f"STAC search {self.url}", lambda: self._search_items(site, start, end), retry_on=(TransientError,)
        )
        tiles: list[Tile] = []
        problems: list[SceneRef] = []
        for item in items:
            if not isinstance(item, Mapping):
                log.warning("%s: a search result that is not a STAC item (%s); skipped", self.name, type(item).__name__)
                continue
            tile = item_tile(item, self._bands_for(item), self.hosts)
            if isinstance(tile, str):
                log.warning("%s: %s", self.name, tile)
                props = item.get("properties")
                acquired = parse_utc(props.get("datetime")) if isinstance(props, Mapping) else None
                problems.append(
                    SceneRef(
                        scene_id=str(item.get("id", "?")), source=self.name, acquired=acquired, sensor="?", problem=tile
                    )
                )
            else:
                tiles.append(tile)
        refs = [scene_ref(group, self.name) for group in group_overpasses(tiles, self.collections)]
        log.info("%s: %d item(s), %d overpass(es) over site %s", self.name, len(items), len(refs), site.id)
        # an unusable item is reported only when no usable item of its overpass was found
        found = {r.scene_id for r in refs}
        problems = [p for p in problems if _overpass_of(p.scene_id, p.acquired, items) not in found]
        return refs + problems

    def _bands_for(self, item: Mapping[str, Any]) -> tuple[str, ...]:
        if self.bands:
            return self.bands
        platform = platform_code(item.get("properties") or {}, str(item.get("id", ""))) or ""
        return DEFAULT_S1_BANDS if platform.startswith("S1") else DEFAULT_S2_BANDS

    # -- read -----------------------------------------------------------------------------------------
    def sign(self, href: str) -> str:
        """The URL to read for an asset href (identity here; signed URLs in subclasses)."""
        return href

    def read_failed(self, href: str, exc: SourceError, signed: str | None = None) -> None:
        """Called when a read of ``href`` (as ``signed``) failed, before it is retried (e.g. to drop an
        expired signature)."""

    def _read_band(self, asset: BandAsset, grid: SiteGrid) -> Crop:
        """One band's window, signed just before the read, retried; GDAL settings scoped to this thread."""

        self.hosts.check(asset.href)  # before any signing or connection

        def attempt() -> Crop:
            signed = BandAsset(asset.name, self.sign(asset.href), asset.index, asset.nodata)
            try:
                with cog_env(ca_bundle=ca_bundle_from_env(), **self.gdal_options):
                    return read_crop([signed], grid, drivers=REMOTE_DRIVERS)
            except SourceError as exc:
                self.read_failed(asset.href, exc, signed.href)
                raise

        return self.retry.call(f"read of {asset.href}", attempt)

    def _read_grd_band(self, asset: BandAsset, calibration_href: str, grid: SiteGrid) -> Crop:
        """One polarisation of a Sentinel-1 GRD slice as linear sigma0 on the grid (see :mod:`s1_grd`)."""
        import requests

        from monitor.sources.s1_grd import parse_calibration, read_sigma0

        self.hosts.check(calibration_href)  # before any signing or connection
        self.hosts.check(asset.href)

        def attempt() -> Crop:
            signed_calibration = self.sign(calibration_href)
            try:
                response = self._get_confined(signed_calibration)
                response.raise_for_status()
            except requests.RequestException as exc:
                error = TransientError(f"cannot fetch calibration {calibration_href}: {exc}")
                self.read_failed(calibration_href, error, signed_calibration)
                raise error from exc
            calibration = parse_calibration(response.content)
            signed = self.sign(asset.href)
            try:
                with cog_env(ca_bundle=ca_bundle_from_env(), **self.gdal_options):
                    data = read_sigma0(signed, calibration, grid)
            except SourceError as exc:
                self.read_failed(asset.href, exc, signed)
                raise
            return Crop(names=(asset.name,), data=data[None], tags={}, dtypes=("float32",))

        return self.retry.call(f"read of {asset.href}", attempt)

    def _get_confined(self, url: str) -> Any:
        """GET ``url`` following at most 3 redirects, each only to a host the source may contact."""
        import requests

        for _ in range(4):
            self.hosts.check(url)
            response = requests.get(url, timeout=self.timeout, allow_redirects=False)
            if not response.is_redirect:
                return response
            url = requests.compat.urljoin(url, response.headers.get("location", ""))
        raise requests.TooManyRedirects(f"more than 3 redirects from {url}")

    def _read_tile(self, tile: Tile, grid: SiteGrid) -> Crop:
        """Every band of one tile, the band files read concurrently (each is its own COG)."""
        calibration: Mapping[str, str] = tile.properties.get("calibration") or {}
        with ThreadPoolExecutor(max_workers=min(8, len(tile.assets)), thread_name_prefix="cog") as pool:
            if tile.sensor == "S1" and calibration:
                missing = [a.name for a in tile.assets if a.name not in calibration]
                if missing:
                    raise SceneError(f"{tile.item_id}: no calibration annotation for {', '.join(missing)}")
                futures = [pool.submit(self._read_grd_band, a, calibration[a.name], grid) for a in tile.assets]
            else:
                futures = [pool.submit(self._read_band, asset, grid) for asset in tile.assets]
            crops = [f.result() for f in futures]  # the first failure is raised; the others are dropped
        return Crop(
            names=tuple(c.names[0] for c in crops),
            data=np.concatenate([c.data for c in crops], axis=0),
            tags={},
            dtypes=tuple(c.dtypes[0] for c in crops),
        )

    def read(self, ref: SceneRef, grid: SiteGrid) -> Scene:
        """The overpass's crop on ``grid``: each tile's window read, harmonised, then mosaicked."""
        if ref.problem:
            raise SceneError(ref.problem)
        tiles: Sequence[Tile] = ref.properties.get("tiles", ())
        if not tiles:
            raise SceneError(f"{ref.scene_id}: no tiles to read")
        # a tile in the grid's own CRS first: its pixels land on the grid without resampling
        ordered = sorted(tiles, key=lambda t: (_epsg(t.properties) != grid.crs.to_epsg(), t.grid_code))
        crops: list[Crop] = []
        used: list[Tile] = []
        # the tiles of a site that spans two are read at the same time; the mosaic keeps this order
        with ThreadPoolExecutor(max_workers=len(ordered), thread_name_prefix="tile") as pool:
            futures = [pool.submit(self._read_tile, tile, grid) for tile in ordered]
            for tile, future in zip(ordered, futures, strict=True):
                try:
                    crop = future.result()
                except EmptySceneError:
                    log.debug("%s: tile %s does not overlap the site", ref.scene_id, tile.item_id)
                    continue
                crops.append(_harmonised(crop, tile))
                used.append(tile)
        if not crops:
            raise EmptySceneError(f"{ref.scene_id}: no tile overlaps the site")
        names = crops[0].names
        data = mosaic([c.data for c in crops])
        merged = Crop(names=names, data=data, tags={}, dtypes=crops[0].dtypes)
        properties = {
            k: v for k, v in ref.properties.items() if k not in {"tiles", "items", "collections", "harmonisation"}
        }
        properties.update(
            {
                "provider": self.kind,
                "items": ",".join(t.item_id for t in used),
                "collections": ",".join(sorted({t.collection for t in used})),
                "harmonisation": ",".join(sorted({t.harmonisation for t in used if t.harmonisation})),
                "tiles_read": len(used),
            }
        )
        used_ref = SceneRef(
            scene_id=ref.scene_id,
            source=ref.source,
            acquired=ref.acquired,
            sensor=ref.sensor,
            assets=tuple(a for t in used for a in t.assets),
            properties=properties,
        )
        return to_scene(used_ref, merged, grid)


def _overpass_of(item_id: str, acquired: datetime | None, items: Sequence[Mapping[str, Any]]) -> str | None:
    """The scene id of the overpass an (unusable) item belongs to, when its platform and time are known."""
    props = next((i.get("properties") or {} for i in items if i.get("id") == item_id), {})
    platform = platform_code(props, item_id)
    if platform is None or acquired is None:
        return None
    return scene_id(platform, relative_orbit(props, item_id), acquired)


def _epsg(properties: Mapping[str, Any]) -> int | None:
    """The EPSG code of an item: ``proj:epsg`` (projection extension v1) or ``proj:code`` (v2, ``EPSG:32651``)."""
    value = properties.get("proj:epsg")
    if isinstance(value, int):
        return value
    code = properties.get("proj:code")
    if isinstance(code, str) and code.upper().startswith("EPSG:") and code[5:].isdigit():
        return int(code[5:])
    return None


def _harmonised(crop: Crop, tile: Tile) -> Crop:
    """The crop with the -1000 offset removed from its Sentinel-2 reflectance bands, where needed."""
    if tile.harmonisation != harmonise.REMOVED:
        return crop
    data = crop.data.copy()
    for i, name in enumerate(crop.names):
        if name in S2_SPECTRAL:
            data[i] = harmonise.remove_offset(data[i])
    return Crop(names=crop.names, data=np.asarray(data, dtype=np.float32), tags=crop.tags, dtypes=crop.dtypes)


class EarthSearchSource(StacSource):
    """Element 84's Earth Search (no account): Sentinel-2 L2A COGs on AWS."""

    kind = "earth-search"
    default_url = EARTH_SEARCH_URL
    provider_hosts = EARTH_SEARCH_HOSTS
    default_collections = ("sentinel-2-c1-l2a", "sentinel-2-l2a")


def host_name(url: str) -> str:
    """The host of a URL as shown to the user (``earth-search.aws.element84.com``)."""
    from monitor.sources.hosts import host_of

    return host_of(url) or url


def _confined_io_class() -> type:
    """A pystac-client ``StacApiIO`` that only talks to the API's host (next-page links and redirects too)."""
    from pystac_client.stac_api_io import StacApiIO

    class ConfinedStacApiIO(StacApiIO):
        def __init__(self, policy: HostPolicy, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.policy = policy
            self.refused: str | None = None
            self.session.hooks["response"].append(self._check_redirect)

        def _check_redirect(self, response: Any, *args: Any, **kwargs: Any) -> Any:
            if response.is_redirect:
                import requests

                target = requests.compat.urljoin(response.url, response.headers.get("location", ""))
                reason = self.policy.refusal(target)
                if reason is not None:
                    self.refused = f"redirected elsewhere: {reason.replace('asset href', 'URL')}"
                    raise HostRefusedError(self.refused)
            return response

        def request(self, href: str, *args: Any, **kwargs: Any) -> str:
            reason = self.policy.refusal(href)
            if reason is not None:
                self.refused = f"a link the API gave points elsewhere: {reason.replace('asset href', 'URL')}"
                raise HostRefusedError(self.refused)
            return str(super().request(href, *args, **kwargs))

    return ConfinedStacApiIO


def _ConfinedStacApiIO(policy: HostPolicy, **kwargs: Any) -> Any:  # noqa: N802 (a class built on first use)
    global _CONFINED_IO
    if _CONFINED_IO is None:
        _CONFINED_IO = _confined_io_class()
    return _CONFINED_IO(policy, **kwargs)


_CONFINED_IO: type | None = None
