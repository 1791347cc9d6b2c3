"""Local stand-ins of the services the remote sources talk to, served on 127.0.0.1 by real HTTP servers.

* :mod:`tests.servers.http` - a threaded HTTP(S) server with a request log and switchable faults
  (429 + Retry-After, 5xx, connection reset, timeout, truncated body), and a static file server that
  honours range requests;
* :mod:`tests.servers.stac` - a STAC API (landing page, conformance, item search with paging);
* :mod:`tests.servers.sentinelhub` - Sentinel Hub's OAuth token, Catalog and Process endpoints;
* :mod:`tests.servers.cogs` - COGs shaped like the real Sentinel-2 ones, built with rasterio.

The real clients (pystac-client, GDAL through rasterio, sentinelhub, planetary-computer) talk to them.
"""
