"""The config file: defaults, path resolution, precedence, credentials, geometry files and error messages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitor.config import (
    EARTH_SEARCH_URL,
    Config,
    default_config_path,
    load_config,
    parse_config,
    utc_since,
)
from monitor.errors import ConfigError, MonitorError

SITE = '[[sites]]\nid = "mirim"\nbbox = [125.825, 39.005, 125.870, 39.035]\n'
ZONE = '  [[sites.zones]]\n  id = "square"\n  kind = "crowd"\n  bbox = [125.838, 39.012, 125.846, 39.018]\n'
SQUARE = [[125.83, 39.01], [125.86, 39.01], [125.86, 39.03], [125.83, 39.03], [125.83, 39.01]]
SECRETS = {
    "SH_CLIENT_ID": "id-0f3a9c",
    "SH_CLIENT_SECRET": "secret-7d41be",
    "MONITOR_SMTP_USER": "user-51aa02",
    "MONITOR_SMTP_PASSWORD": "password-93c6e8",
}


def _write(folder: Path, text: str, name: str = "monitor.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _snapshot(folder: Path) -> set[tuple[str, int]]:
    return {(str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*")}


def _error(path: Path, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- the smallest config and its defaults -------------------------------------------------------------


def test_the_smallest_config_is_complete(tmp_path: Path) -> None:
    path = _write(tmp_path / "conf", SITE)
    config = load_config(path, env={})
    assert isinstance(config, Config)
    assert [s.id for s in config.sites] == ["mirim"]
    assert config.sites[0].bbox == (125.825, 39.005, 125.870, 39.035)
    assert config.sites[0].resolution == 10.0 and config.sites[0].zones == []
    assert [s.kind for s in config.sources] == ["earth-search"]
    assert config.sources[0].url is None and config.sources[0].path is None  # None: the public service
    assert EARTH_SEARCH_URL.startswith("https://")
    assert config.data_dir == (tmp_path / "conf" / "monitor-data").resolve()
    assert config.data_dir.is_absolute()
    assert config.monitor.since is None and utc_since(config) is None
    assert config.email.enabled is False
    assert config.alerts.threshold <= config.alerts.medium <= config.alerts.high
    assert config.path == path


def test_loading_never_creates_files(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    path = _write(tmp_path, '[monitor]\ndata_dir = "data"\n[[sources]]\nkind = "local"\npath = "imagery"\n' + SITE)
    before = _snapshot(tmp_path)
    load_config(path, env={})
    load_config(path, env={"MONITOR_DATA_DIR": str(tmp_path / "elsewhere")})
    load_config(path, env={}, data_dir=tmp_path / "kw")
    with pytest.raises(ConfigError):
        load_config(_write(tmp_path, "[[sites]]\nid = 'x'\n", "bad.toml"), env={})
    before.add(("bad.toml", (tmp_path / "bad.toml").stat().st_mtime_ns))
    assert _snapshot(tmp_path) == before


def test_since_is_a_utc_date(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[monitor]\nsince = "2024-01-01"\n' + SITE), env={})
    assert config.monitor.since == date(2024, 1, 1)
    assert utc_since(config) == datetime(2024, 1, 1, tzinfo=UTC)


# --- relative paths ----------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "conf"
    (conf / "zones").mkdir(parents=True)
    (conf / "imagery").mkdir()
    (conf / "zones" / "site.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [SQUARE]}))
    _write(
        conf,
        '[monitor]\ndata_dir = "../data"\n[[sources]]\nkind = "local"\npath = "imagery"\n'
        '[[sites]]\nid = "a"\ngeometry = "zones/site.geojson"\n',
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / "conf" / "monitor.toml", env={})
    assert config.data_dir == (tmp_path / "data").resolve()
    assert config.sources[0].path == (conf / "imagery").resolve()
    assert config.sites[0].geometry == (conf / "zones" / "site.geojson").resolve()
    assert config.sources[0].name == f"local:{(conf / 'imagery').resolve()}"


def test_absolute_paths_and_urls_are_kept(tmp_path: Path) -> None:
    data = tmp_path / "abs-data"
    text = (
        f'[monitor]\ndata_dir = "{data}"\n[[sources]]\nkind = "earth-search"\n'
        'url = "https://example.org/stac/v1"\n' + SITE
    )
    config = load_config(_write(tmp_path / "conf", text), env={})
    assert config.data_dir == data
    assert config.sources[0].url == "https://example.org/stac/v1"


# --- precedence: keyword > environment > file > default ----------------------------------------------


def test_data_dir_precedence(tmp_path: Path) -> None:
    path = _write(tmp_path / "conf", '[monitor]\ndata_dir = "from-file"\n' + SITE)
    env = {"MONITOR_DATA_DIR": str(tmp_path / "from-env")}
    assert load_config(path, env={}).data_dir == (tmp_path / "conf" / "from-file").resolve()
    assert load_config(path, env=env).data_dir == (tmp_path / "from-env").resolve()
    assert load_config(path, env=env, data_dir=tmp_path / "from-kw").data_dir == (tmp_path / "from-kw").resolve()
    assert load_config(path, env={}, data_dir=tmp_path / "from-kw").data_dir == (tmp_path / "from-kw").resolve()
    assert load_config(path, env={"MONITOR_DATA_DIR": ""}).data_dir == (tmp_path / "conf" / "from-file").resolve()


def test_parse_config_follows_the_same_precedence(tmp_path: Path) -> None:
    raw = {"sites": [{"id": "a", "bbox": [0, 0, 1, 1]}]}
    assert parse_config(raw, base=tmp_path, env={}).data_dir == tmp_path / "monitor-data"
    env = {"MONITOR_DATA_DIR": str(tmp_path / "env")}
    assert parse_config(raw, base=tmp_path, env=env).data_dir == tmp_path / "env"
    assert parse_config(raw, base=tmp_path, env=env, data_dir=tmp_path / "kw").data_dir == tmp_path / "kw"
    assert raw == {"sites": [{"id": "a", "bbox": [0, 0, 1, 1]}]}  # the caller's mapping is not modified


def test_monitor_config_env_names_the_default_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "conf", SITE, "custom.toml")
    assert default_config_path({"MONITOR_CONFIG": str(path)}) == path
    assert default_config_path({}) == Path("monitor.toml")
    assert default_config_path({"MONITOR_CONFIG": ""}) == Path("monitor.toml")
    assert load_config(env={"MONITOR_CONFIG": str(path)}).sites[0].id == "mirim"


def test_default_file_is_monitor_toml_in_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(env={})
    assert info.value.path == "monitor.toml"
    _write(tmp_path, SITE)
    assert load_config(env={}).data_dir == (tmp_path / "monitor-data").resolve()


# --- credentials --------------------------------------------------------------------------------------


def test_credentials_come_from_the_environment_only(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SITE), env=SECRETS)
    creds = config.credentials
    assert creds.sh_client_id is not None and creds.sh_client_id.get_secret_value() == SECRETS["SH_CLIENT_ID"]
    assert creds.sh_client_secret is not None
    assert creds.sh_client_secret.get_secret_value() == SECRETS["SH_CLIENT_SECRET"]
    assert creds.smtp_user is not None and creds.smtp_user.get_secret_value() == SECRETS["MONITOR_SMTP_USER"]
    assert creds.smtp_password is not None
    assert creds.smtp_password.get_secret_value() == SECRETS["MONITOR_SMTP_PASSWORD"]
    empty = load_config(_write(tmp_path, SITE), env={"SH_CLIENT_SECRET": ""}).credentials
    assert empty.sh_client_id is None and empty.sh_client_secret is None and empty.smtp_password is None


def test_secrets_never_show(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SITE), env=SECRETS)
    shown = [repr(config), str(config), repr(config.credentials), str(config.credentials), config.model_dump_json()]
    shown.append(str(config.model_dump()))
    for text in shown:
        for secret in SECRETS.values():
            assert secret not in text


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('password = "hunter2"\n' + SITE, "password"),
        ('sh_client_secret = "hunter2"\n' + SITE, "sh_client_secret"),
        ('[[sources]]\nkind = "sentinelhub"\nsh_client_secret = "hunter2"\n' + SITE, "sources[0].sh_client_secret"),
        ('[email]\npassword = "hunter2"\n' + SITE, "email.password"),
        ('[email]\nsmtp_password = "hunter2"\n' + SITE, "email.smtp_password"),
    ],
)
def test_secrets_in_the_file_are_unknown_keys(tmp_path: Path, toml: str, key: str) -> None:
    path = _write(tmp_path, toml)
    err = _error(path)
    assert err.key == key
    assert "unknown key" in str(err) and str(path) in str(err) and key in str(err)
    assert "hunter2" not in str(err)


# Regression: Config's internal fields `credentials` and `path` were accepted from the file and then silently
# replaced, so a [credentials] table holding a secret was ignored without a word.
@pytest.mark.parametrize(
    ("toml", "key"),
    [(SITE + '[credentials]\nsh_client_secret = "hunter2"\n', "credentials"), ('path = "elsewhere"\n' + SITE, "path")],
    ids=["credentials-table", "top-level-path"],
)
def test_internal_fields_in_the_file_are_unknown_keys(tmp_path: Path, toml: str, key: str) -> None:
    err = _error(_write(tmp_path, toml))
    assert err.key is not None and err.key.startswith(key) and "unknown key" in str(err)


# --- geometry files ----------------------------------------------------------------------------------


def _geojson(folder: Path, doc: object, name: str = "area.geojson") -> Path:
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


POLYGON = {"type": "Polygon", "coordinates": [SQUARE]}


@pytest.mark.parametrize(
    "doc",
    [
        POLYGON,
        {"type": "MultiPolygon", "coordinates": [[SQUARE]]},
        {"type": "Feature", "properties": {"name": "x"}, "geometry": POLYGON},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": POLYGON}]},
    ],
    ids=["polygon", "multipolygon", "feature", "collection-of-one"],
)
def test_geometry_files(tmp_path: Path, doc: object) -> None:
    from monitor.geometry import footprint

    _geojson(tmp_path, doc)
    path = _write(tmp_path, '[[sites]]\nid = "a"\ngeometry = "area.geojson"\n' + ZONE)
    config = load_config(path, env={})
    site = config.sites[0]
    assert site.bbox is None and site.geometry == (tmp_path / "area.geojson").resolve()
    shape = footprint(site.bbox, site.geometry)
    assert shape.bounds == pytest.approx((125.83, 39.01, 125.86, 39.03))


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ("{not json", ["not a readable GeoJSON"]),
        ({"type": "Point", "coordinates": [125.84, 39.02]}, ["Polygon", "Point"]),
        ({"type": "FeatureCollection", "features": []}, ["exactly one feature"]),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": POLYGON, "properties": {}}] * 2},
            ["exactly one feature", "2"],
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, ["invalid"]),
        ({"type": "Polygon", "coordinates": [[[500000, 4300000], [500100, 4300000], [500100, 4300100]]]}, []),
        ({"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]}, ["lon/lat"]),
    ],
    ids=["invalid-json", "point", "empty-collection", "two-features", "bow-tie", "projected", "lon-200"],
)
def test_bad_geometry_files_name_the_file(tmp_path: Path, doc: object, words: list[str]) -> None:
    geo = _geojson(tmp_path, doc)
    path = _write(tmp_path, '[[sites]]\nid = "a"\ngeometry = "area.geojson"\n')
    err = _error(path)
    assert isinstance(err, MonitorError) and isinstance(err, ValueError)
    text = str(err)
    assert str(path) in text and "sites[0 id=a].geometry" in text and str(geo.resolve()) in text
    for word in words:
        assert word in text


def test_missing_geometry_file(tmp_path: Path) -> None:
    path = _write(tmp_path, SITE + '  [[sites.zones]]\n  id = "z"\n  geometry = "nowhere.geojson"\n')
    err = _error(path)
    assert err.key == "sites[0 id=mirim].zones[0 id=z].geometry"
    assert "does not exist" in str(err) and "nowhere.geojson" in str(err)


def test_bbox_and_geometry_are_exclusive(tmp_path: Path) -> None:
    _geojson(tmp_path, POLYGON)
    err = _error(_write(tmp_path, '[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\ngeometry = "area.geojson"\n'))
    assert err.key == "sites[0 id=a]" and "either bbox or geometry" in str(err)
    err = _error(_write(tmp_path, '[[sites]]\nid = "a"\n'))
    assert err.key == "sites[0 id=a]" and "needs a bbox or a geometry" in str(err)


# --- zones, sources, alerts -------------------------------------------------------------------------


def test_zone_inside_its_site(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SITE + ZONE), env={})
    assert config.sites[0].zones[0].kind == "crowd"


@pytest.mark.parametrize(
    "bbox",
    ["[125.80, 39.012, 125.846, 39.018]", "[125.9, 39.1, 126.0, 39.2]", "[125.838, 39.012, 125.846, 39.036]"],
    ids=["overhangs-west", "far-away", "overhangs-north"],
)
def test_zone_outside_its_site_names_the_key(tmp_path: Path, bbox: str) -> None:
    path = _write(tmp_path, SITE + f'  [[sites.zones]]\n  id = "square"\n  bbox = {bbox}\n')
    err = _error(path)
    assert err.key == "sites[0 id=mirim].zones[0 id=square].bbox"
    assert "outside its site" in str(err) and str(path) in str(err) and err.key in str(err)


def test_zone_geometry_outside_its_site(tmp_path: Path) -> None:
    far = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    _geojson(tmp_path, {"type": "Polygon", "coordinates": [far]}, "zone.geojson")
    err = _error(_write(tmp_path, SITE + '  [[sites.zones]]\n  id = "z"\n  geometry = "zone.geojson"\n'))
    assert err.key == "sites[0 id=mirim].zones[0 id=z].geometry" and "outside" in str(err)


@pytest.mark.parametrize(
    ("source", "word"),
    [
        ('kind = "local"\npath = "imagery"\nurl = "https://example.org"', "url"),
        ('kind = "local"\npath = "imagery"\ncollections = ["x"]', "collections"),
        ('kind = "local"\npath = "imagery"\nprofile = "p"', "profile"),
        ('kind = "earth-search"\npath = "imagery"', "path"),
        ('kind = "earth-search"\nbase_url = "https://example.org"', "base_url"),
        ('kind = "planetary-computer"\ntoken_url = "https://example.org"', "token_url"),
        ('kind = "sentinelhub"\nurl = "https://example.org"', "url"),
        ('kind = "sentinelhub"\npath = "imagery"', "path"),
    ],
)
def test_source_keys_must_fit_the_kind(tmp_path: Path, source: str, word: str) -> None:
    path = _write(tmp_path, f"[[sources]]\n{source}\n" + SITE)
    err = _error(path)
    assert err.key == "sources[0]"
    assert f"key {word!r} does not apply" in str(err) and str(path) in str(err)


@pytest.mark.parametrize(
    "source",
    [
        'kind = "local"\npath = "imagery"',
        'kind = "earth-search"\nurl = "https://example.org/v1"\ncollections = ["sentinel-2-l2a"]',
        'kind = "planetary-computer"\ncollections = ["sentinel-2-l2a"]',
        'kind = "sentinelhub"\nbase_url = "https://x"\ntoken_url = "https://y"\nprofile = "p"\ncollections = ["c"]',
    ],
)
def test_source_keys_that_fit(tmp_path: Path, source: str) -> None:
    (tmp_path / "imagery").mkdir()
    assert len(load_config(_write(tmp_path, f"[[sources]]\n{source}\n" + SITE), env={}).sources) == 1


def test_a_missing_local_folder_is_a_config_error(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, '[[sources]]\nkind = "local"\npath = "nope"\n' + SITE))
    assert err.key == "sources[0].path" and "does not exist" in str(err)


def test_an_empty_source_list_is_a_config_error(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "sources = []\n" + SITE))
    assert err.key == "sources" and "at least one" in str(err)


def test_a_local_source_needs_a_path(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, '[[sources]]\nkind = "local"\n' + SITE))
    assert err.key == "sources[0]" and "needs 'path'" in str(err)


@pytest.mark.parametrize(
    ("levels", "ok"),
    [
        ("threshold = 0.4\nmedium = 0.6\nhigh = 0.9", True),
        ("threshold = 0.6\nmedium = 0.6\nhigh = 0.6", True),
        ("threshold = 0.8", False),  # above the default medium 0.7
        ("medium = 0.9", False),  # above the default high 0.85
        ("threshold = 0.5\nmedium = 0.9\nhigh = 0.8", False),
        ("threshold = 0", False),
        ("high = 1.5", False),
    ],
)
def test_alert_levels_are_ordered(tmp_path: Path, levels: str, ok: bool) -> None:
    path = _write(tmp_path, SITE + f"[alerts]\n{levels}\n")
    if ok:
        alerts = load_config(path, env={}).alerts
        assert alerts.threshold <= alerts.medium <= alerts.high
    else:
        err = _error(path)
        assert err.key is not None and err.key.startswith("alerts") and str(path) in str(err)


# --- every error names the file and the key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[monitor]\ncolour = "red"\n' + SITE, "monitor.colour"),
        ('[monitor]\nsince = "last tuesday"\n' + SITE, "monitor.since"),
        ('[[sources]]\nkind = "ftp"\n' + SITE, "sources[0].kind"),
        ('[[sites]]\nid = "Mirim Site"\nbbox = [0, 0, 1, 1]\n', "sites[0 id=Mirim Site].id"),
        ('[[sites]]\nid = "a"\nbbox = [0, 0, 1]\n', "sites[0 id=a].bbox"),
        ('[[sites]]\nid = "a"\nbbox = [0, 95, 1, 96]\n', "sites[0 id=a].bbox"),
        ('[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\nresolution = 0\n', "sites[0 id=a].resolution"),
        (SITE + ZONE.replace('"crowd"', '"tanks"'), "sites[0 id=mirim].zones[0 id=square].kind"),
        (SITE + ZONE + ZONE, "sites[0 id=mirim]"),
        ("[email]\nsmtp_port = 0\n" + SITE, "email.smtp_port"),
        ('[email]\nsecurity = "ssl"\n' + SITE, "email.security"),
        ("[detect]\nwarmup_scenes = 1\n" + SITE, "detect.warmup_scenes"),
        ('[monitor]\ndata_dir = "x"\n', "sites"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = _write(tmp_path, toml)
    err = _error(path)
    assert err.path == str(path)
    assert err.key is not None and key in err.key
    assert str(err).startswith(f"{path}: {err.key}: ")


# Regression: Config-level validators (empty or duplicate [[sites]]) failed with an empty pydantic loc, so the
# ConfigError named no key.
@pytest.mark.parametrize(
    "toml",
    ["sites = []\n", SITE + SITE],
    ids=["no-sites", "duplicate-site-id"],
)
def test_site_list_errors_name_the_sites_key(tmp_path: Path, toml: str) -> None:
    path = _write(tmp_path, toml)
    err = _error(path)
    assert err.key == "sites" and f"{path}: sites" in str(err)


def test_file_level_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert str(missing) in str(_error(missing))
    bad = _write(tmp_path, "[[sites]\n", "bad.toml")
    assert str(bad) in str(_error(bad)) and "invalid TOML" in str(_error(bad))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "UTF-8" in str(_error(binary))
