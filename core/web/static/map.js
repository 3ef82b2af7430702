/* The map page (/map): the registry's vector tiles drawn by MapLibre GL JS with the layers' QGIS symbols
 * (the sprite), counts per county and township at low zooms, a legend of the same icons, a toggle per
 * layer, a pop-up per feature, and a search by name or division code that flies to what it finds.
 * Everything it needs comes with the page as JSON (#map-config: style, extent, layers with legend and
 * field labels in the page's language); nothing is fetched but this server's TileJSON, tiles, sprite,
 * glyphs, divisions and search. The map is window.rallypointMap (the portal flies it, as does the search). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var texts = cfg.texts;
  var sprite = null;  // the sprite's index (sprite@2x.json), for the legend's icons

  function message(text) {
    var box = document.getElementById("message");
    box.textContent = text;
    box.style.display = "block";
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "style") Object.assign(node.style, attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function absolute(url) { return new URL(url, document.baseURI).href; }

  // A legend swatch drawn like the layer: its sprite icon for points, a stroke for lines, a box for polygons.
  function swatch(layer, entry) {
    var geom = layer.geometry.replace("Multi", "").replace("Z", "");
    var s;
    if (entry.icon) {
      var node = el("span", {"class": "icon", "data-icon": entry.icon});
      iconInto(node, entry.icon);
      return node;
    }
    if (geom === "LineString") {
      var w = Math.max(2, Math.min(entry.size, 6));
      s = {width: "18px", height: w + "px", background: entry.stroke};
    } else if (geom === "Polygon") {
      s = {width: "16px", height: "12px", background: entry.fill || "transparent",
           border: "2px solid " + (entry.stroke || "#999")};
    } else {
      var d = Math.max(8, Math.min(entry.size, 16));
      s = {width: d + "px", height: d + "px", borderRadius: "50%", background: entry.fill || entry.stroke,
           border: entry.stroke ? "1px solid " + entry.stroke : "none", boxShadow: "0 0 0 1px rgba(0,0,0,.25)"};
    }
    return el("span", {"class": "swatch", style: s});
  }

  // The sprite's @2x icon as a CSS background, at its 1x size (the same pixels the map draws).
  var pendingIcons = [];
  function iconInto(node, name) {
    if (!sprite) { pendingIcons.push([node, name]); return; }
    var i = sprite.index[name];
    if (!i) return;
    Object.assign(node.style, {width: i.width / 2 + "px", height: i.height / 2 + "px",
                               backgroundImage: "url(" + sprite.url + ")",
                               backgroundSize: sprite.width / 2 + "px " + sprite.height / 2 + "px",
                               backgroundPosition: -i.x / 2 + "px " + -i.y / 2 + "px"});
  }
  function loadSprite() {
    var base = absolute(cfg.sprite);
    return fetch(base + "@2x.json").then(function (r) { return r.ok ? r.json() : null; }).then(function (index) {
      if (!index) return;
      var w = 0, h = 0;
      Object.keys(index).forEach(function (k) {
        w = Math.max(w, index[k].x + index[k].width); h = Math.max(h, index[k].y + index[k].height);
      });
      sprite = {index: index, url: base + "@2x.png", width: w, height: h};
      pendingIcons.splice(0).forEach(function (p) { iconInto(p[0], p[1]); });
    }).catch(function () { /* the legend keeps its labels */ });
  }

  function buildLegend(map) {
    var box = document.getElementById("legend");
    var groups = [[texts.resources, cfg.layers.filter(function (l) { return l.kind === "resource"; })],
                  [texts.base, cfg.layers.filter(function (l) { return l.kind !== "resource"; })]];
    groups.forEach(function (g) {
      if (!g[1].length) return;
      box.appendChild(el("h2", {text: g[0]}));
      g[1].forEach(function (layer) {
        var box1 = el("input", {type: "checkbox", "data-layer": layer.id});
        box1.checked = layer.visible;
        box1.addEventListener("change", function () { setVisible(map, layer, box1.checked); });
        var single = layer.legend.length === 1 && !layer.legend[0].label;
        box.appendChild(el("label", {"data-layer": layer.id},
                           [box1, single ? swatch(layer, layer.legend[0]) : null, el("span", {text: layer.title})]));
        if (!single) {
          box.appendChild(el("ul", {"data-layer": layer.id}, layer.legend.map(function (entry) {
            return el("li", {}, [swatch(layer, entry), el("span", {text: entry.label})]);
          })));
        }
        if (layer.density) {  // its classes come with the divisions (densityLegend)
          box.appendChild(el("ul", {"data-layer": layer.id, "class": "density"}, [
            el("li", {"class": "title"}, [el("span", {text: texts.density})])]));
        }
      });
    });
    var counted = cfg.layers.filter(function (l) { return cfg.aggregated.indexOf(l.id) >= 0 && l.countIcon; });
    if (counted.length) {
      box.appendChild(el("h2", {text: texts.divisions}));
      box.appendChild(el("ul", {"class": "counts"}, counted.map(function (l) {
        var icon = el("span", {"class": "icon", "data-icon": l.countIcon});
        iconInto(icon, l.countIcon);
        return el("li", {"data-layer": l.id}, [icon, el("span", {text: l.title})]);
      })));
      box.appendChild(el("p", {"class": "note", text: texts.counts_note}));
    }
  }

  // -- the divisions: their names and counts (a GeoJSON source), and the density shading of the townships ---
  function densityColours(colours, n) {
    return Array.from({length: n}, function (_, i) {
      return colours[n === 1 ? colours.length - 1 : Math.round(i * (colours.length - 1) / (n - 1))];
    });
  }
  function showDivisions(map, doc) {
    map.getSource("divisions").setData(doc);
    map.getStyle().layers.forEach(function (sl) {
      var meta = sl.metadata || {};
      if (meta["rallypoint:role"] !== "density") return;
      var name = meta["rallypoint:layer"], classes = (doc.density || {})[name];
      if (!classes || !classes.per_km2.length) return;
      var colours = densityColours(meta["rallypoint:colours"], classes.per_km2.length);
      var groups = colours.map(function () { return []; });
      doc.features.forEach(function (f) {
        var c = f.properties["c_" + name];
        if (c !== undefined && c !== null) groups[c].push(String(f.properties.adcode));
      });
      var expr = ["match", ["get", "adcode"]];
      groups.forEach(function (codes, i) { if (codes.length) expr.push(codes, colours[i]); });
      expr.push("rgba(0, 0, 0, 0)");
      if (expr.length > 3) map.setPaintProperty(sl.id, "fill-color", expr);
      densityLegend(name, classes.per_km2, colours);
    });
  }
  function densityLegend(name, bounds, colours) {
    var list = document.querySelector('#legend ul.density[data-layer="' + name + '"]');
    if (!list) return;
    var fmt = function (v) { return Number(v).toLocaleString(cfg.lang === "en" ? "en-GB" : "zh-CN",
                                                             {maximumFractionDigits: v < 10 ? 1 : 0}); };
    bounds.forEach(function (b, i) {
      var label = i === 0 ? "≤ " + fmt(b) : fmt(bounds[i - 1]) + " – " + fmt(b);
      list.appendChild(el("li", {"data-class": String(i)}, [
        el("span", {"class": "swatch", style: {width: "16px", height: "12px", background: colours[i], opacity: 0.75}}),
        el("span", {text: label})]));
    });
    list.appendChild(el("li", {}, [el("span", {"class": "note", text: texts.density_note})]));
  }

  function setVisible(map, layer, on) {
    layer.visible = on;
    layer.styleLayers.forEach(function (id) { map.setLayoutProperty(id, "visibility", on ? "visible" : "none"); });
  }

  // A stored value as a person reads it: allowed codes as their labels, yes/no, with the unit.
  function shown(field, value) {
    if (value === null || value === undefined || value === "") return null;
    if (field.values) {
      var codes = field.type === "codes" ? String(value).split(",") : [String(value)];
      return codes.map(function (c) { return field.values[c] || c; }).join(cfg.lang === "zh" ? "、" : ", ");
    }
    if (field.type === "boolean") return value === true || value === 1 || value === "true" ? texts.yes : texts.no;
    return field.unit ? value + " " + field.unit : String(value);
  }

  function popupContent(layer, props) {
    var rows = layer.fields.map(function (field) {
      var text = field.name === "name" ? null : shown(field, props[field.name]);
      return text === null ? null : el("tr", {"data-field": field.name},
                                       [el("th", {text: field.alias}), el("td", {text: text})]);
    });
    return el("div", {"data-layer": layer.id}, [
      el("div", {"class": "layer", text: layer.title}),
      el("h3", {text: props.name || layer.title}),
      el("div", {"class": "fields"}, [el("table", {}, rows)])]);
  }

  function number(n) { return Number(n || 0).toLocaleString(cfg.lang === "en" ? "en-GB" : "zh-CN"); }

  function divisionContent(props) {
    var rows = cfg.layers.filter(function (l) { return ("n_" + l.id) in props; }).map(function (l) {
      return el("tr", {"data-layer": l.id}, [el("th", {text: l.title}), el("td", {text: number(props["n_" + l.id])})]);
    });
    return el("div", {"data-division": props.adcode}, [
      el("div", {"class": "layer", text: texts.division + " · " + props.adcode}),
      el("h3", {text: props.name}), el("div", {"class": "layer", text: texts.in_division}),
      el("div", {"class": "fields"}, [el("table", {}, rows)])]);
  }

  if (typeof maplibregl === "undefined") { message(texts.no_maplibre); return; }
  var style = cfg.style;
  Object.keys(style.sources).forEach(function (k) {  // host-relative in the page, absolute for MapLibre's workers
    var src = style.sources[k];
    if (src.url) src.url = absolute(src.url);
    if (typeof src.data === "string") src.data = absolute(src.data);
  });
  if (style.sprite) style.sprite = absolute(style.sprite);
  var divisionsUrl = null;  // fetched once here: the map's labels and the search both read it
  if (style.sources.divisions) {
    divisionsUrl = style.sources.divisions.data;
    style.sources.divisions.data = {type: "FeatureCollection", features: []};
  }
  if (style.glyphs) style.glyphs = absolute(style.glyphs.replace("{fontstack}", "FONTSTACK").replace("{range}", "RANGE"))
    .replace("FONTSTACK", "{fontstack}").replace("RANGE", "{range}");
  // every label glyph from this server's Noto Sans CJK ranges (built at install), none drawn from local fonts
  // (no fading of labels: each fade is a frame, and a browser without a GPU draws a frame in a fraction of a second)
  var options = {container: "map", style: style, attributionControl: false, maxZoom: 20,
                 localIdeographFontFamily: false, fadeDuration: 0};
  if (cfg.bounds) { options.bounds = cfg.bounds; options.fitBoundsOptions = {padding: 40}; }
  var map;
  try { map = new maplibregl.Map(options); } catch (e) { message(texts.no_webgl + " " + e.message); return; }
  window.rallypointMap = map;
  map.addControl(new maplibregl.NavigationControl({showCompass: false}), "top-right");
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}), "bottom-right");
  // an icon the sprite lacks (a plugin's layer installed after make setup): a grey dot, not a hole
  map.on("styleimagemissing", function (e) {
    if (map.hasImage(e.id)) return;
    var size = 10, data = new Uint8Array(size * size * 4);
    for (var y = 0; y < size; y++) for (var x = 0; x < size; x++) {
      var d = Math.hypot(x - 4.5, y - 4.5), o = (y * size + x) * 4;
      if (d <= 4.5) { data.set(d > 3.5 ? [255, 255, 255, 255] : [85, 85, 85, 255], o); }
    }
    map.addImage(e.id, {width: size, height: size, data: data});
  });
  loadSprite();
  buildLegend(map);
  var divisionsLoaded = !divisionsUrl ? Promise.resolve([]) :
    fetch(divisionsUrl, {headers: {Accept: "application/geo+json"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) {
        if (!doc) return [];
        var apply = function () { showDivisions(map, doc); };
        if (map.isStyleLoaded()) apply(); else map.once("load", apply);
        return doc.features || [];
      }).catch(function () { return []; });

  var byStyleLayer = {};
  cfg.layers.forEach(function (l) { l.styleLayers.forEach(function (id) { byStyleLayer[id] = l; }); });
  var clickable = Object.keys(byStyleLayer).filter(function (id) { return !/:(outline|density)$/.test(id); });
  var divisionLayers = style.layers.filter(function (l) { return l.source === "divisions"; })
    .map(function (l) { return l.id; });
  var popup = new maplibregl.Popup({maxWidth: "360px"}), clicks = 0;
  function hit(point, ids) {
    var box = [[point.x - 4, point.y - 4], [point.x + 4, point.y + 4]];
    return map.queryRenderedFeatures(box, {layers: ids.filter(function (id) {
      return map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none";
    })});
  }
  map.on("click", function (e) {
    var found = hit(e.point, clickable);
    if (!found.length) {
      var division = hit(e.point, divisionLayers)[0];
      if (division) popup.setLngLat(e.lngLat).setDOMContent(divisionContent(division.properties)).addTo(map);
      else popup.remove();
      return;
    }
    var f = found[0], layer = byStyleLayer[f.layer.id], token = ++clicks;
    popup.setLngLat(e.lngLat).setDOMContent(popupContent(layer, f.properties)).addTo(map);
    // Below a layer's detail zoom its tiles carry only the fields the map styles on: the pop-up
    // then asks the API for the whole feature (relative URL: the page may be served under a prefix).
    if (!f.properties.uuid || !window.fetch) return;
    var url = new URL("collections/" + encodeURIComponent(layer.id) + "/items/" +
                      encodeURIComponent(f.properties.uuid) + "?f=json", document.baseURI);
    fetch(url, {headers: {Accept: "application/geo+json"}}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (full) {
      if (full && full.properties && token === clicks && popup.isOpen()) {
        popup.setDOMContent(popupContent(layer, full.properties));
      }
    }).catch(function () { /* the tile's fields stay shown */ });
  });
  map.on("mousemove", function (e) {
    map.getCanvas().style.cursor = hit(e.point, clickable.concat(divisionLayers)).length ? "pointer" : "";
  });
  map.on("error", function (e) { if (window.console) console.warn("map:", e.error && e.error.message); });

  // -- search: divisions by name or code (from the divisions' counts), then resources (/search) -------------
  var form = document.getElementById("search"), box = document.getElementById("search-q");
  var out = document.getElementById("search-results"), marker = null;
  if (window.self !== window.top) form.style.display = "none";  // in the portal, the portal's search flies it
  function findDivisions(q) {
    return divisionsLoaded.then(function (all) {
      var digits = /^\d+$/.test(q), lower = q.toLowerCase();
      return all.filter(function (f) {
        var p = f.properties;
        return digits ? String(p.adcode).indexOf(q) === 0 : String(p.name || "").toLowerCase().indexOf(lower) >= 0;
      }).slice(0, 10).map(function (f) {
        return {kind: "division", layer: "admin_areas", id: f.properties.adcode, name: f.properties.name,
                adcode: f.properties.adcode, title: texts.division, bbox: f.properties.bbox,
                lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1]};
      });
    });
  }
  function findResources(q) {
    var url = absolute(cfg.search) + "?f=json&limit=10&lang=" + cfg.lang + "&q=" + encodeURIComponent(q);
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (a) {
        if (!a.ok) throw new Error(a.body.description || texts.search_failed);
        return (a.body.results || []).map(function (r) { r.kind = "resource"; return r; });
      });
  }
  function flyTo(r) {
    if (r.lon === null || r.lat === null || r.lon === undefined) return;
    if (marker) marker.remove();
    marker = new maplibregl.Marker({color: "#8b1a1a"}).setLngLat([r.lon, r.lat]).addTo(map);
    if (r.kind === "division" && r.bbox) {
      map.fitBounds([[r.bbox[0], r.bbox[1]], [r.bbox[2], r.bbox[3]]], {padding: 60, maxZoom: 15});
    } else {
      map.flyTo({center: [r.lon, r.lat], zoom: Math.max(map.getZoom(), 16)});
    }
    window.rallypointFlown = {kind: r.kind, layer: r.layer, id: r.id, lon: r.lon, lat: r.lat};
  }
  function show(results, q) {
    out.replaceChildren();
    if (!results.length) { out.appendChild(el("li", {"class": "muted", text: texts.search_none + "：" + q})); return; }
    results.forEach(function (r) {
      var li = el("li", {tabindex: "0", "data-kind": r.kind, "data-layer": r.layer, "data-id": r.id},
                  [el("span", {text: r.name || r.adcode}),
                   el("span", {"class": "kind", text: r.title + (r.adcode ? " · " + r.adcode : "")})]);
      var go = function () { flyTo(r); out.replaceChildren(); };
      li.addEventListener("click", go);
      li.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
      out.appendChild(li);
    });
    if (results.length === 1) flyTo(results[0]);
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = box.value.trim();
    out.replaceChildren();  // the last search's answers go at once
    if (!q) return;
    Promise.all([findDivisions(q).catch(function () { return []; }), findResources(q)])
      .then(function (both) { show(both[0].concat(both[1]), q); })
      .catch(function (err) { out.replaceChildren(el("li", {"class": "muted", text: err.message})); });
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") out.replaceChildren(); });
})();
