"""One Jinja2 environment factory for every template folder (email messages, the HTML report).

Autoescape is on for ``.html`` templates, so text from config or data (site names, dismissal reasons) is
escaped in HTML and left as it is in plain text; undefined names fail loudly instead of rendering empty.
"""

from __future__ import annotations

from functools import cache

import jinja2


@cache
def environment(package: str, folder: str = "templates") -> jinja2.Environment:
    """The Jinja2 environment that loads templates from ``package``'s ``folder`` (package data)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, folder),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
