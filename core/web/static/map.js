/* The map page (/map): the registry's vector tiles drawn by MapLibre GL JS, with a legend,
 * a toggle per layer and a pop-up per feature. Everything it needs comes with the page as JSON
 * (#map-config: style, extent, layers with legend and field labels in the page's language);
 * nothing is fetched but this server's TileJSON and tiles. The map is window.rallypointMap. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var texts = cfg.texts;

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

  // A legend swatch drawn like the layer: a dot for points, a stroke for lines, a box for polygons.
  function swatch(layer, entry) {
    var geom = layer.geometry.replace("Multi", "").replace("Z", "");
    var s = {background: entry.fill || "transparent"};
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
      });
    });
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

  if (typeof maplibregl === "undefined") { message(texts.no_maplibre); return; }
  var style = cfg.style;
  Object.keys(style.sources).forEach(function (k) {  // host-relative in the page, absolute for MapLibre
    style.sources[k].url = new URL(style.sources[k].url, document.baseURI).href;
  });
  var options = {container: "map", style: style, attributionControl: false, maxZoom: 20};
  if (cfg.bounds) { options.bounds = cfg.bounds; options.fitBoundsOptions = {padding: 40}; }
  var map;
  try { map = new maplibregl.Map(options); } catch (e) { message(texts.no_webgl + " " + e.message); return; }
  window.rallypointMap = map;
  map.addControl(new maplibregl.NavigationControl({showCompass: false}), "top-right");
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}), "bottom-right");
  buildLegend(map);

  var byStyleLayer = {};
  cfg.layers.forEach(function (l) { l.styleLayers.forEach(function (id) { byStyleLayer[id] = l; }); });
  var clickable = Object.keys(byStyleLayer).filter(function (id) { return !/:outline$/.test(id); });
  var popup = new maplibregl.Popup({maxWidth: "360px"}), clicks = 0;
  function hit(point) {
    var box = [[point.x - 4, point.y - 4], [point.x + 4, point.y + 4]];
    return map.queryRenderedFeatures(box, {layers: clickable.filter(function (id) {
      return map.getLayoutProperty(id, "visibility") !== "none";
    })});
  }
  map.on("click", function (e) {
    var found = hit(e.point);
    if (!found.length) { popup.remove(); return; }
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
  map.on("mousemove", function (e) { map.getCanvas().style.cursor = hit(e.point).length ? "pointer" : ""; });
  map.on("error", function (e) { if (window.console) console.warn("map:", e.error && e.error.message); });
})();
