"""The archive in ``data_dir``: an SQLite catalogue plus one GeoTIFF crop per site per scene."""

from monitor.archive.catalogue import Catalogue
from monitor.archive.crops import read_crop_file, write_crop_file
from monitor.archive.lock import run_lock

__all__ = ["Catalogue", "read_crop_file", "run_lock", "write_crop_file"]
