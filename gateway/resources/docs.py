"""The API description (/openapi.json, /openapi.yaml), a page for people (/docs: Swagger UI,
served from the swagger-ui-py package's files, so it works offline and without a CDN), and the
root (/): a small JSON index linking to them and to the collections."""

import hashlib
import mimetypes
from pathlib import Path

import orjson
import swagger_ui

from gateway.http.operations import ApiResponse, Reply, etag_matches, operation
from gateway.http.problems import HTTPProblem
from gateway.openapi import render

ASSETS_DIR = Path(swagger_ui.__file__).parent / "static"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png")
CACHE = {"Cache-Control": "public, max-age=3600"}  # the page's files: they change with swagger-ui-py only
# The description changes with a deploy: a cache asks again each time (its ETag makes that a 304).
REVALIDATE = "no-cache"

# Relative links, so the page also works behind a path prefix.
PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>nameko-travel API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
"""
INIT = b"""window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,
  presets: [SwaggerUIBundle.presets.apis],
});
"""

# The root's links: relation -> the operation it points to (RFC 8631's service-doc and service-desc).
INDEX = {
    "service-doc": "getDocs",
    "service-desc": "getOpenapiJson",
    "airports": "listAirports",
    "trips": "listTrips",
}
UNDOCUMENTED = dict(tag="docs", documented=False, calls_services=False, replies={200: Reply("")})


class ApiDocs:
    """The API description (built once, at start-up) and the page that shows it."""

    def __init__(self, document):
        self.as_json, self.as_yaml = render(document, "json"), render(document, "yaml")
        self.assets = {"init.js": (INIT, "text/javascript; charset=utf-8")}
        self.title = f"{document['info']['title']} {document['info']['version']}"
        self.index = None

    def link(self, routes):
        """Make the root's index, to the paths `routes` (the route table as served) has its links' operations on."""
        paths = {op.operation_id: op.path for methods in routes.values() for op in methods.values()}
        links = {relation: {"href": paths[operation_id]} for relation, operation_id in INDEX.items()}
        body = {"title": self.title, "links": {"self": {"href": paths["getIndex"]}, **links}}
        header = ", ".join(f'<{paths[INDEX[rel]]}>; rel="{rel}"' for rel in ("service-doc", "service-desc"))
        self.index = ApiResponse(200, orjson.dumps(body), "application/json", {"Link": header})

    @operation(summary="Where to start: links to the docs, the description and the collections", **UNDOCUMENTED)
    def get_index(self, request):
        return self.index

    @operation(summary="The API description, JSON", conditional=True, **UNDOCUMENTED)
    def get_openapi_json(self, request):
        return self.description(request, self.as_json, "application/json")

    @operation(summary="The API description, YAML", conditional=True, **UNDOCUMENTED)
    def get_openapi_yaml(self, request):
        return self.description(request, self.as_yaml, "application/yaml")

    def description(self, request, data, media_type):
        etag = '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'
        headers = {"Cache-Control": REVALIDATE, "ETag": etag}
        if request.if_none_match and etag_matches(request.if_none_match, etag):
            return ApiResponse(304, headers=headers)
        return ApiResponse(200, data, media_type, headers)

    @operation(summary="The API documentation page", **UNDOCUMENTED)
    def get_docs(self, request):
        return ApiResponse(200, PAGE, "text/html; charset=utf-8")

    @operation(summary="Files of the documentation page", **UNDOCUMENTED)
    def get_docs_asset(self, request):
        name = request.params["asset"]
        if name not in self.assets:
            if name not in ASSETS:
                raise HTTPProblem(404)
            self.assets[name] = ((ASSETS_DIR / name).read_bytes(), mimetypes.guess_type(name)[0])
        data, media_type = self.assets[name]
        return ApiResponse(200, data, media_type, CACHE)
