// The portal page's script: each plugin panel's figures fetched apart (a slow one holds nothing back), and the
// search box, whose answers fly the embedded map (the /map page in the iframe) to the feature and mark it.
// Everything it needs comes with the page (#portal-config); it loads nothing from another host.
(function () {
  'use strict';
  const config = JSON.parse(document.getElementById('portal-config').textContent);
  const t = config.texts;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function number(value) {
    return typeof value === 'number' ? value.toLocaleString(config.lang === 'en' ? 'en-GB' : 'zh-CN') : value;
  }

  // -- panels ---------------------------------------------------------------------------------------
  function fillPanel(article) {
    const list = article.querySelector('dl.figures');
    fetch(article.dataset.src, {headers: {Accept: 'application/json'}, credentials: 'same-origin'})
      .then(r => r.json().then(body => ({ok: r.ok, body})))
      .then(({ok, body}) => {
        list.replaceChildren();
        if (!ok || body.unavailable) {
          list.append(el('dt', {class: 'muted'}, t.unavailable), el('dd'));
          return;
        }
        for (const f of body.figures) {
          list.append(el('dt', {}, f.label), el('dd', f.alert ? {class: 'alert'} : {}, number(f.value)));
        }
        article.dataset.filled = 'true';
      })
      .catch(() => {
        list.replaceChildren(el('dt', {class: 'muted'}, t.unavailable), el('dd'));
      });
  }
  document.querySelectorAll('article.panel[data-src]').forEach(fillPanel);

  // -- the embedded map -----------------------------------------------------------------------------
  const frame = document.getElementById('portal-map');
  let marker = null;

  function mapReady() {
    return new Promise(resolve => {
      const poll = () => {
        const win = frame.contentWindow;
        if (win && win.rallypointMap && win.maplibregl) resolve(win);
        else setTimeout(poll, 100);
      };
      poll();
    });
  }

  frame.addEventListener('load', () => {
    // links inside the embedded map open in the whole window, not inside the frame
    try {
      frame.contentDocument.querySelectorAll('a[href]').forEach(a => a.setAttribute('target', '_top'));
    } catch (e) { /* another origin: nothing to do */ }
  });

  function flyTo(result) {
    if (result.lon === null || result.lat === null) return;
    frame.scrollIntoView({behavior: 'smooth', block: 'center'});
    mapReady().then(win => {
      const map = win.rallypointMap;
      if (marker) marker.remove();
      marker = new win.maplibregl.Marker({color: '#8b1a1a'}).setLngLat([result.lon, result.lat]).addTo(map);
      map.flyTo({center: [result.lon, result.lat], zoom: Math.max(map.getZoom(), 16)});
      window.portalFlown = {layer: result.layer, id: result.id, lon: result.lon, lat: result.lat};
    });
  }

  // -- search ---------------------------------------------------------------------------------------
  const form = document.getElementById('search-form');
  const box = document.getElementById('search-q');
  const out = document.getElementById('search-results');
  form.addEventListener('submit', event => {
    event.preventDefault();
    const q = box.value.trim();
    if (!q) return;
    const url = `${config.search}?f=json&lang=${config.lang}&q=${encodeURIComponent(q)}`;
    fetch(url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'})
      .then(r => r.json())
      .then(body => {
        out.replaceChildren();
        const results = body.results || [];
        if (!results.length) {
          out.append(el('li', {class: 'muted'}, body.description || t.search_none));
          return;
        }
        for (const r of results) {
          const li = el('li', {'data-layer': r.layer, 'data-id': r.id});
          const go = el('button', {type: 'button'}, r.name);
          go.addEventListener('click', () => flyTo(r));
          li.append(go, el('span', {class: 'layer'}, `${r.title} · ${r.adcode || ''}`),
                    el('a', {href: r.href}, t.details));
          out.append(li);
        }
        if (results.length === 1) flyTo(results[0]);
      });
  });
}());
