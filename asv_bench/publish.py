"""Publish the asv dashboard so that it works with no network.

    python -m asv_bench.publish            # asv publish, then local scripts; then: asv preview
    python -m asv_bench.publish --offline  # use only the package cache (no registry access)

asv 0.6's ``index.html`` loads jQuery, flot and its plugins, stupidtable, blueimp-md5 and
Bootstrap from public CDNs, so the page stays blank offline. After ``asv publish`` this script
replaces each of those tags by a copy of the same library at the same version, taken from packages
on PyPI, downloaded with pip into a cache folder (``.asv/vendor-cache``, ignored by git) on first
use, never committed: XStatic-jQuery and XStatic-Bootstrap for jQuery 3.3.1 and Bootstrap 3.1.1,
the asv 0.5.1 source distribution (the last asv that shipped its scripts) for flot 0.8.3 and its
plugins, stupidtable and md5. Where the local file is byte-identical to the CDN's (jQuery,
Bootstrap) the tag keeps its ``integrity`` hash, so the browser itself checks the copy; the other
copies differ in minification, so their hash is dropped and their version banner is checked here.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass

VENDOR = "vendor"
DEFAULT_CACHE = os.path.join(".asv", "vendor-cache")

# the source distribution holding each library (pinned: the version is the library's)
PACKAGES = {
    "jquery": ("XStatic-jQuery", "3.3.1.1"),
    "bootstrap": ("XStatic-Bootstrap", "3.1.1.2"),
    "asv": ("asv", "0.5.1"),
}


@dataclass(frozen=True)
class Library:
    """One CDN reference of asv's index.html and where its local copy comes from."""

    url_part: str        # a substring of the CDN address that names this file
    package: str         # a key of PACKAGES
    member: str          # path inside the package archive, after its top folder
    target: str          # path under html/vendor/
    banner: str = ""     # text the local file must contain (its version)


_XJ = "xstatic/pkg/jquery/data/"
_XB = "xstatic/pkg/bootstrap/data/"
_AV = "asv/www/vendor/"
LIBRARIES = (
    Library("jquery-3.3.1.min.js", "jquery", _XJ + "jquery.min.js", "jquery.min.js",
            "jQuery v3.3.1"),
    Library("flot/0.8.3/jquery.flot.min.js", "asv", _AV + "jquery.flot-0.8.3.min.js",
            "jquery.flot.min.js", "0.8.3"),
    Library("flot/0.8.3/jquery.flot.time.min.js", "asv", _AV + "jquery.flot-0.8.3.time.min.js",
            "jquery.flot.time.min.js"),
    Library("flot/0.8.3/jquery.flot.selection.min.js", "asv",
            _AV + "jquery.flot-0.8.3.selection.min.js", "jquery.flot.selection.min.js"),
    Library("flot/0.8.3/jquery.flot.categories.min.js", "asv",
            _AV + "jquery.flot-0.8.3.categories.min.js", "jquery.flot.categories.min.js"),
    Library("jquery.flot.orderBars.js", "asv", _AV + "jquery.flot.orderBars.js",
            "jquery.flot.orderBars.js"),
    Library("stupidtable.min.js", "asv", _AV + "stupidtable.js", "stupidtable.js"),
    Library("md5.min.js", "asv", _AV + "md5.js", "md5.js", "JavaScript MD5"),
    Library("bootstrap.min.js", "bootstrap", _XB + "js/bootstrap.min.js",
            "bootstrap/js/bootstrap.min.js", "Bootstrap v3.1.1"),
    Library("bootstrap.min.css", "bootstrap", _XB + "css/bootstrap.min.css",
            "bootstrap/css/bootstrap.min.css", "Bootstrap v3.1.1"),
)
# files a library reads by relative path (Bootstrap's icon font, from css/../fonts/)
EXTRA_MEMBERS = tuple(
    ("bootstrap", _XB + "fonts/glyphicons-halflings-regular." + ext,
     "bootstrap/fonts/glyphicons-halflings-regular." + ext)
    for ext in ("eot", "svg", "ttf", "woff"))

_TAG = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>(?:</script>)?')


def download(cache: str, offline: bool = False) -> dict[str, str]:
    """The archive of each of PACKAGES in ``cache``, fetched with pip where missing."""
    os.makedirs(cache, exist_ok=True)
    archives = {}
    for key, (name, version) in PACKAGES.items():
        found = _cached(cache, name, version)
        if found is None and not offline:
            _pip_download(name, version, cache)
            found = _cached(cache, name, version)
        if found is None:
            raise SystemExit(f"{name}=={version} is not in {cache}: run without --offline once "
                             "(pip needs the package registry)")
        archives[key] = found
    return archives


def _cached(cache, name, version):
    for path in glob.glob(os.path.join(cache, "*.tar.gz")):
        base = os.path.basename(path).lower().replace("_", "-")
        if base == f"{name.lower()}-{version}.tar.gz":
            return path
    return None


def _pip_download(name, version, cache):
    # The XStatic source distributions import pkg_resources in setup.py, which setuptools 70 and
    # later no longer provide; pip's isolated build of their metadata honours PIP_CONSTRAINT.
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraint:
        constraint.write("setuptools<70\n")
    env = dict(os.environ, PIP_CONSTRAINT=constraint.name)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
           ":all:", "--dest", cache, f"{name}=={version}"]
    try:
        result = subprocess.run(cmd, env=env)
    finally:
        os.remove(constraint.name)
    if result.returncode != 0:
        raise SystemExit(f"pip could not download {name}=={version} ({' '.join(cmd)})")


def _extract(archive: str, member: str, dest: str) -> None:
    with tarfile.open(archive) as tar:
        names = [n for n in tar.getnames() if n.split("/", 1)[-1] == member]
        if not names:
            raise SystemExit(f"{member} is not in {os.path.basename(archive)}")
        data = tar.extractfile(names[0]).read()
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(data)


def _sri(path: str, algorithm: str) -> str:
    with open(path, "rb") as f:
        digest = hashlib.new(algorithm, f.read()).digest()
    return f"{algorithm}-{base64.b64encode(digest).decode()}"


def _library_for(url: str) -> Library:
    for lib in LIBRARIES:
        if url.endswith(lib.url_part) or lib.url_part in url:
            return lib
    raise SystemExit(f"asv's page loads {url}, which asv_bench.publish has no local copy of")


def localize(html_dir: str, archives: dict[str, str]) -> list[str]:
    """Copy the libraries into ``html_dir``/vendor and point index.html at them; returns one line
    per replaced tag. Fails when an external script or stylesheet would remain."""
    vendor = os.path.join(html_dir, VENDOR)
    for lib in LIBRARIES:
        dest = os.path.join(vendor, lib.target)
        _extract(archives[lib.package], lib.member, dest)
        if lib.banner and lib.banner.encode() not in open(dest, "rb").read():
            raise SystemExit(f"{lib.member} does not say {lib.banner!r}: wrong version")
    for package, member, target in EXTRA_MEMBERS:
        _extract(archives[package], member, os.path.join(vendor, target))

    index = os.path.join(html_dir, "index.html")
    with open(index, encoding="utf-8") as f:
        page = f.read()
    log = []

    def replace(match):
        tag, url = match.group(0), match.group(2)
        lib = _library_for(url)
        local = f"{VENDOR}/{lib.target}"
        integrity = re.search(r'integrity="(sha\d+)-[^"]*"', tag)
        same = integrity and _sri(os.path.join(vendor, lib.target),
                                  integrity.group(1)) in tag
        new = tag.replace(url, local)
        new = re.sub(r'\s+crossorigin="[^"]*"|\s+referrerpolicy="[^"]*"', "", new)
        if not same:
            new = re.sub(r'\s+integrity="[^"]*"', "", new)
        how = ("byte-identical, integrity kept" if same else
               f"version checked: {lib.banner!r}" if lib.banner else "no version in the file")
        log.append(f"{url} -> {local} ({how})")
        return new

    page = _TAG.sub(replace, page)
    left = _TAG.findall(page)
    if left:
        raise SystemExit(f"external scripts remain in {index}: {left}")
    with open(index, "w", encoding="utf-8") as f:
        f.write(page)
    return log


def html_dir_of(config: str) -> str:
    from asv.config import Config
    return Config.load(config).html_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="other arguments go to `asv publish`")
    parser.add_argument("--config", default="asv.conf.json")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="where pip puts the packages")
    parser.add_argument("--offline", action="store_true", help="use only the cache")
    parser.add_argument("--html-dir", default=None, help="asv.conf.json's html_dir by default")
    args, asv_args = parser.parse_known_args(argv)
    archives = download(args.cache, args.offline)  # before publishing: fail early
    html_dir = args.html_dir or html_dir_of(args.config)
    cmd = [sys.executable, "-m", "asv", "publish", "--config", args.config,
           "--html-dir", html_dir, *asv_args]
    subprocess.run(cmd, check=True)
    for line in localize(html_dir, archives):
        print(line)
    print(f"dashboard in {html_dir}, no network needed: asv preview --html-dir {html_dir}")


if __name__ == "__main__":
    main()
