"""The demo shop's own small page: its customers and the tags Tagwise wrote on them.

Wraps the Shopify stand-in: ``GET /`` is the page, everything else is the stand-in's API. The
page reloads itself, so tags can be watched arriving after the first sync.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from html import escape
from typing import Any

from werkzeug.wrappers import Request, Response

from demo.standins.shopify import ShopifyStandIn

PAGE_ROWS = 100
RELOAD_SECONDS = 5


class ShopPage:
    """WSGI app: the stand-in's API plus an HTML page at ``/``."""

    def __init__(self, shop: ShopifyStandIn, tag_prefix: str = "tw:") -> None:
        self.shop = shop
        self.tag_prefix = tag_prefix

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        if request.path == "/" and request.method == "GET":
            return self.page(request.args.get("tag", ""))(environ, start_response)
        return self.shop(environ, start_response)

    def page(self, tag: str) -> Response:
        """The customers (those carrying ``tag`` if given) with their tags, most tags first."""
        history = self.shop.history
        orders = Counter(o["customer"]["id"] for o in history.orders.values() if o["customer"])
        tagged = Counter(t for tags in self.shop.customers.values() for t in tags
                         if t.startswith(self.tag_prefix))
        rows = sorted(((cid, self.shop.customers.get(cid, [])) for cid in history.customers),
                      key=lambda row: (-len(row[1]), row[0]))
        if tag:
            rows = [row for row in rows if tag in row[1]]
        body = [f"<h1>Demo shop</h1><p>{len(history.customers)} customers, "
                f"{len(history.orders)} orders. {sum(1 for _, t in rows if t)} customers carry "
                f"tags; Tagwise owns the ones starting <code>{escape(self.tag_prefix)}</code>. "
                f"This page reloads every {RELOAD_SECONDS} s.</p><p>"]
        body += [f'<a href="?tag={escape(name)}">{escape(name)}</a> ({count}) '
                 for name, count in sorted(tagged.items())]
        body.append('</p><table><tr><th>customer</th><th>email</th><th>orders</th>'
                    '<th>tags</th></tr>')
        for cid, tags in rows[:PAGE_ROWS]:
            node = history.customers[cid]
            body.append(f"<tr><td>{escape(cid)}</td><td>{escape(node['email'] or '')}</td>"
                        f"<td>{orders[node['id']]}</td><td>{escape(', '.join(tags))}</td></tr>")
        body.append("</table>")
        return Response(
            f"<!doctype html><html><head><meta charset=utf-8><title>Demo shop</title>"
            f'<meta http-equiv="refresh" content="{RELOAD_SECONDS}">'
            "<meta name=viewport content='width=device-width'>"
            "<style>body{font:14px system-ui;margin:1rem}td,th{padding:2px 8px;"
            "text-align:left}</style></head><body>" + "".join(body) + "</body></html>",
            content_type="text/html; charset=utf-8")
