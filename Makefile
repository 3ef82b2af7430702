# Rallypoint: set-up, the main job and the tests.
#   make run    install what is needed, write the sample county registry (once), check it and serve it
#   make test   install what is needed and run the whole test suite
#   make qgis-plugin  build the QGIS plugin zip (dist/rallypoint_qgis.zip)
#   make bench  install the benchmarks' tools and run one (BENCH=tiles_postgis by default: bench/$(BENCH).py)

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Debian's interpreter, so QGIS's Python bindings (python3-qgis) load in the same process.
SYSTEM_PYTHON := /usr/bin/python3
DEBIAN_PACKAGES := python3-venv python3-qgis qgis-providers python3-gdal gdal-bin fonts-noto-cjk chromium
# the QGIS desktop itself: tests/test_qgis_plugin_install.py installs the plugin zip with its Plugin Manager
DEBIAN_PACKAGES += qgis
# lrelease compiles the QGIS plugin's translations; Xvfb runs QGIS's window for the plugin screenshot test
DEBIAN_PACKAGES += qttools5-dev-tools xvfb xauth
# PostgreSQL 15 with PostGIS 3: the tests start a throwaway cluster of their own on 127.0.0.1 (tests/pg_support.py)
DEBIAN_PACKAGES += postgresql-15 postgresql-15-postgis-3 postgresql-common
# curl: the README's tour (run by tests/test_readme.py) asks the server with it
DEBIAN_PACKAGES += curl
# Cairo: CairoSVG renders the map's icons into its sprite at make setup
DEBIAN_PACKAGES += libcairo2
# the benchmarks' load generator (bench/api_bbox.py, bench/pg_10m.py, bench/tiles_postgis.py,
# bench/jobs_load.py); never a Python one
BENCH_PACKAGES := wrk
# command:package, installed only when the command is missing (NodeSource's nodejs brings its own npm,
# which Debian's npm package would conflict with)
DEBIAN_COMMANDS := node:nodejs npm:npm
# MapLibre GL JS for the map page, from package-lock.json, copied into the rallypoint.web package
VENDOR := core/web/static/vendor
# The map's sprite (icons drawn from the layers' QGIS marker symbols) and glyphs (the labels' font, Debian's
# Noto Sans CJK SC, made into SDF ranges by npm's fontnik), built here so the page fetches nothing elsewhere
MAP_ASSETS := core/web/static/map
NOTO_CJK := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
FONTSTACK := Noto Sans CJK SC Regular
# the suite runs on every core up to four (pytest-xdist), a test file per worker: its fixtures (a PostGIS cluster,
# a served registry, a QGIS process) are made once per file; `make test PYTEST_ARGS=` runs it in one process
TEST_JOBS := $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST_ARGS ?= -n $(TEST_JOBS) --dist loadfile
BENCH ?= tiles_postgis
BENCH_ARGS ?=

.PHONY: setup system-packages run test clean qgis-plugin bench bench-tools

setup: system-packages $(VENV)/.installed $(VENDOR)/.installed $(MAP_ASSETS)/sprite.json $(MAP_ASSETS)/glyphs/.installed

system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done; \
	  for cp in $(DEBIAN_COMMANDS); do command -v $${cp%%:*} >/dev/null || echo $${cp#*:}; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# the package data names core/web/static/vendor, so the browser files come first
$(VENV)/.installed: pyproject.toml | $(VENDOR)/.installed
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	# GDAL's GeoPackage validator; --no-deps because its `gdal` dependency is Debian's python3-gdal
	$(PY) -m pip install -q --no-deps 'gdal-utils>=3.8'
	touch $@

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/maplibre-gl/dist/maplibre-gl.js node_modules/maplibre-gl/dist/maplibre-gl.css $(VENDOR)/
	cp node_modules/maplibre-gl/LICENSE.txt $(VENDOR)/maplibre-gl.LICENSE.txt
	touch $@

$(MAP_ASSETS)/sprite.json: $(VENV)/.installed layers/styles/*.qml core/api/tiles/qml.py core/api/tiles/symbols.py core/api/tiles/mapassets.py
	$(PY) -m rallypoint.api.tiles.mapassets sprite $(MAP_ASSETS)

# about a minute: every 256-character range Noto Sans CJK SC covers (32 MB)
$(MAP_ASSETS)/glyphs/.installed: $(VENV)/.installed $(VENDOR)/.installed
	rm -rf $(MAP_ASSETS)/glyphs $(MAP_ASSETS)/font
	$(PY) -m rallypoint.api.tiles.mapassets font $(NOTO_CJK) "Noto Sans CJK SC" $(MAP_ASSETS)/font/NotoSansCJKsc-Regular.otf
	mkdir -p "$(MAP_ASSETS)/glyphs/$(FONTSTACK)"
	node node_modules/fontnik/bin/build-glyphs $(MAP_ASSETS)/font/NotoSansCJKsc-Regular.otf "$(MAP_ASSETS)/glyphs/$(FONTSTACK)"
	rm -rf $(MAP_ASSETS)/font
	touch $@

run: setup
	test -f county.gpkg || $(VENV)/bin/rallypoint sample county.gpkg --size county
	$(VENV)/bin/rallypoint validate county.gpkg
	$(VENV)/bin/rallypoint list county.gpkg shelters --limit 5
	@echo "Serving county.gpkg at http://127.0.0.1:8000/ (its map: http://127.0.0.1:8000/map; Ctrl-C stops it)"
	$(VENV)/bin/rallypoint serve county.gpkg --host 127.0.0.1 --port 8000

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench-tools:
	@missing=$$(for p in $(BENCH_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench: setup bench-tools
	$(PY) bench/$(BENCH).py $(BENCH_ARGS)

qgis-plugin: setup
	mkdir -p dist
	$(VENV)/bin/rallypoint qgis-plugin build dist/rallypoint_qgis.zip

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(MAP_ASSETS) artifacts county.gpkg county.gpkg-wal county.gpkg-shm
