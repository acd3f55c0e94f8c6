/**
 * The monitor page: one HTML document, its stylesheet and script, embedded here so the
 * built service carries them (dist/ holds no other assets; uPlot is read from node_modules).
 *
 * The script fetches /api/status, /api/state and /api/series once, then follows
 * /api/events (Server-Sent Events) and appends every round to the charts without a reload.
 * Every text that comes from the network (a DHCP hostname, a SIP user agent) is set with
 * textContent, never parsed as HTML. Single column on a phone, a grid on wider screens.
 * A `?token=` in the page's address is passed on to the API calls.
 *
 * Written as plain ES2017 in String.raw literals: no backticks and no dollar-brace in it.
 */

export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>netsvc monitor</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<header>
  <h1>netsvc monitor</h1>
  <span id="live" class="live off" title="live updates">connecting</span>
  <label class="range">range
    <select id="range">
      <option value="900">15 min</option>
      <option value="3600" selected>1 h</option>
      <option value="21600">6 h</option>
      <option value="86400">24 h</option>
      <option value="604800">7 d</option>
    </select>
  </label>
</header>
<main>
  <section id="services-section"><h2>Services</h2><div id="services" class="tiles"></div></section>
  <section><h2>Processes</h2><div id="processes" class="table-wrap"></div></section>
  <section><h2>Load per service</h2><div class="charts" data-group="svc"></div></section>
  <section><h2>DNS</h2><div class="charts" data-group="dns"></div></section>
  <section><h2>DHCP</h2><div class="charts" data-group="dhcp"></div>
    <h3>Active leases</h3><div id="leases" class="table-wrap"></div></section>
  <section><h2>SIP</h2><div class="charts" data-group="sip"></div>
    <h3>Registrations</h3><div id="registrations" class="table-wrap"></div>
    <h3>Calls</h3><div id="calls" class="table-wrap"></div></section>
  <section><h2>FTP</h2><div class="charts" data-group="ftp"></div></section>
  <section><h2>HTTP</h2><div class="charts" data-group="http"></div></section>
  <section><h2>Host</h2><div class="charts" data-group="host"></div></section>
</main>
<footer id="footer">read-only view; JSON API: <a href="/api/status">/api/status</a></footer>
<script src="/assets/uplot.js"></script>
<script src="/assets/app.js"></script>
</body>
</html>
`;

export const PAGE_CSS = String.raw`
:root { --bg: #f6f7f9; --card: #fff; --fg: #1d2330; --muted: #6b7385; --ok: #1a9b4b; --warn: #d08a00; --bad: #c9302c; --line: #e2e5ea; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171c; --card: #1d2128; --fg: #e4e7ec; --muted: #98a0ae; --line: #2d323b; }
  .uplot .u-legend { color: var(--fg); }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { position: sticky; top: 0; z-index: 5; display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; flex: 1 1 auto; }
h2 { font-size: 1rem; margin: 0 0 .6rem; }
h3 { font-size: .9rem; margin: 1rem 0 .4rem; color: var(--muted); }
main { padding: .8rem; max-width: 1400px; margin: 0 auto; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; margin-bottom: .8rem; }
.live { font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem; background: var(--line); }
.live.on { background: var(--ok); color: #fff; }
.live.off { background: var(--warn); color: #fff; }
.range select { font: inherit; margin-left: .3rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
.tile { border: 1px solid var(--line); border-left: 5px solid var(--muted); border-radius: 6px; padding: .5rem .6rem; }
.tile.ready { border-left-color: var(--ok); }
.tile.notready { border-left-color: var(--warn); }
.tile.down { border-left-color: var(--bad); }
.tile .name { font-weight: 600; display: flex; justify-content: space-between; gap: .3rem; }
.tile .kv { color: var(--muted); font-size: .8rem; overflow-wrap: anywhere; }
.badge { white-space: nowrap; font-size: .7rem; font-weight: 600; padding: 0 .4rem; border-radius: 1rem; color: #fff; background: var(--muted); }
.badge.ready { background: var(--ok); }
.badge.notready { background: var(--warn); }
.badge.down { background: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr)); gap: .8rem; }
.chart h4 { margin: 0 0 .2rem; font-size: .85rem; font-weight: 600; }
.chart .empty, .empty { color: var(--muted); font-style: italic; padding: .4rem 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { text-align: center; color: var(--muted); font-size: .8rem; padding: 1rem; }
footer a { color: inherit; }
.uplot { font-family: inherit; }
.uplot .u-legend { font-size: .75rem; }
`;

export const PAGE_JS = String.raw`(function () {
  'use strict';
  var token = new URLSearchParams(location.search).get('token');
  function api(path, params) {
    var q = new URLSearchParams(params || {});
    if (token) q.set('token', token);
    var s = q.toString();
    return path + (s ? '?' + s : '');
  }
  function getJSON(path, params) {
    return fetch(api(path, params), { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    });
  }

  var MB = 1 / 1048576;
  // Chart specs: keys starting with prefix (and ending with suffix) become series labelled
  // by the part in between.
  var SPECS = [
    { group: 'svc', id: 'req', title: 'Requests/s', prefix: 'svc/', suffix: '/req' },
    { group: 'svc', id: 'err', title: 'Errors/s', prefix: 'svc/', suffix: '/err' },
    { group: 'svc', id: 'cpu', title: 'CPU % (per process)', prefix: 'proc/', suffix: '/cpu' },
    { group: 'svc', id: 'rss', title: 'RSS MB (per process)', prefix: 'proc/', suffix: '/rss', scale: MB },
    { group: 'svc', id: 'ready', title: 'Ready (1 = up and ready)', prefix: 'svc/', suffix: '/ready', step: true },
    { group: 'dns', id: 'dns', title: 'Queries/s by rcode', prefix: 'dns/rcode/' },
    { group: 'dhcp', id: 'dhcp', title: 'Active leases per pool', prefix: 'dhcp/leases/', suffix: '/active', step: true },
    { group: 'dhcp', id: 'dhcpreq', title: 'DHCP messages/s', prefix: 'svc/dhcp/req', label: 'received' },
    { group: 'sip', id: 'sip', title: 'Registrations and active calls', prefix: 'sip/', step: true },
    { group: 'ftp', id: 'ftp', title: 'Sessions and transfers in progress', prefix: 'ftp/', only: ['ftp/sessions', 'ftp/transfers'], step: true },
    { group: 'ftp', id: 'ftpx', title: 'Transfers/s', prefix: 'ftp/xfer/' },
    { group: 'ftp', id: 'ftpb', title: 'Transfer bytes/s', prefix: 'ftp/bytes/' },
    { group: 'http', id: 'http', title: 'Requests/s by site and status', prefix: 'http/req/' },
    { group: 'host', id: 'hcpu', title: 'CPU % per core', prefix: 'host/cpu/' },
    { group: 'host', id: 'load', title: 'Load average', prefix: 'host/load/' },
    { group: 'host', id: 'mem', title: 'Memory used MB', prefix: 'host/mem/', only: ['host/mem/used'], scale: MB },
    { group: 'host', id: 'temp', title: 'Temperature \u00b0C', prefix: 'host/temp/' },
    { group: 'host', id: 'net', title: 'Network bytes/s', prefix: 'host/net/' }
  ];
  var PREFIXES = ['svc/', 'proc/', 'dns/', 'dhcp/', 'sip/', 'ftp/', 'http/', 'host/'];
  var COLORS = ['#2f6fdf', '#e8590c', '#2b9348', '#c2255c', '#7048e8', '#0b7285', '#e67700', '#5c940d', '#862e9c', '#495057', '#d6336c', '#1098ad'];

  var range = 3600;
  var data = { t: [], series: {} };
  var charts = {};
  var lastStatus = null;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '\u2013';
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
    return v.toFixed(digits === undefined ? 2 : digits);
  }
  function bytes(v) { return v === undefined || v === null ? '\u2013' : fmt(v * MB, 1) + ' MB'; }
  function duration(s) {
    if (s === undefined || s === null || !isFinite(s)) return '\u2013';
    s = Math.max(0, Math.round(s));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + sec + 's';
    return sec + 's';
  }
  function clock(ms) {
    var d = new Date(ms);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  // ---- status tiles and the process table
  // 'dhcp_leases{state=active}' -> 'leases active', 'dns_queries_total' -> 'queries'
  function counterName(svc, k) {
    var name = k.indexOf(svc + '_') === 0 ? k.slice(svc.length + 1) : k;
    var brace = name.indexOf('{');
    var label = '';
    if (brace >= 0) { label = ' ' + name.slice(name.indexOf('=') + 1, -1); name = name.slice(0, brace); }
    return name.replace(/_total$/, '').split('_').join(' ') + label;
  }
  function stateOf(x) { return !x.up ? 'down' : x.ready ? 'ready' : 'notready'; }
  var STATE_TEXT = { down: 'down', ready: 'ready', notready: 'not ready' };
  function renderStatus(st) {
    lastStatus = st;
    var box = document.getElementById('services');
    box.replaceChildren();
    if (!st.services.length) box.appendChild(el('p', { className: 'empty', text: 'No service reported yet.' }));
    st.services.forEach(function (s) {
      var cls = stateOf(s);
      var kv = [
        'uptime ' + duration(s.uptimeSeconds),
        fmt(s.requestsPerSecond) + ' req/s, ' + fmt(s.errorsPerSecond) + ' err/s'
      ];
      Object.keys(s.counters || {}).forEach(function (k) { kv.push(counterName(s.name, k) + ' ' + fmt(s.counters[k])); });
      box.appendChild(el('div', { className: 'tile ' + cls, 'data-svc': s.name }, [
        el('div', { className: 'name' }, [el('span', { text: s.name }), el('span', { className: 'badge ' + cls, text: STATE_TEXT[cls] })]),
        el('div', { className: 'kv', text: s.targets.join(', ') })
      ].concat(kv.map(function (t) { return el('div', { className: 'kv', text: t }); }))));
    });
    table('processes', ['process', 'state', 'services', 'uptime', 'CPU %', 'RSS', 'scrape ms'], st.targets.map(function (t) {
      return [t.name, t.up ? (t.ready ? 'ready' : 'not ready') : 'down' + (t.error ? ' (' + t.error + ')' : ''), t.services.join(', '),
        duration(t.uptimeSeconds), fmt(t.cpuPercent, 1), bytes(t.rssBytes), fmt(t.scrapeMs, 1)];
    }), 'No process configured.', [3, 4, 5, 6]);
  }

  function table(id, heads, rows, emptyText, numeric) {
    var box = document.getElementById(id);
    box.replaceChildren();
    if (!rows.length) { box.appendChild(el('p', { className: 'empty', text: emptyText })); return; }
    numeric = numeric || [];
    var cls = function (i) { return numeric.indexOf(i) >= 0 ? 'num' : ''; };
    box.appendChild(el('table', null, [
      el('thead', null, [el('tr', null, heads.map(function (h, i) { return el('th', { className: cls(i), text: h }); }))]),
      el('tbody', null, rows.map(function (r) {
        return el('tr', null, r.map(function (c, i) { return el('td', { className: cls(i), text: c === undefined || c === null ? '' : String(c) }); }));
      }))
    ]));
  }

  // ---- tables from the services' state documents
  function renderState(state) {
    var now = Date.now();
    var dhcp = state.dhcp || {};
    var leases = (dhcp.leases || []).slice().sort(function (a, b) { return String(a.address).localeCompare(String(b.address), undefined, { numeric: true }); });
    table('leases', ['IP', 'MAC', 'hostname', 'expires', 'subnet', 'process'], leases.map(function (l) {
      return [l.address, l.mac, l.hostname || '', 'in ' + duration((l.ends - now) / 1000) + ' (' + clock(l.ends) + ')', l.subnet, l.target];
    }), state.dhcp ? 'No active leases.' : 'No DHCP state (the DHCP service is not running or publishes no state).');
    var sip = state.sip || {};
    table('registrations', ['AOR', 'contact', 'expires', 'user agent', 'from'], (sip.registrations || []).map(function (r) {
      return [r.aor, r.contact, r.expiresAt ? 'in ' + duration((r.expiresAt - now) / 1000) : '', r.userAgent || '', r.source || ''];
    }), 'No registrations.');
    table('calls', ['call', 'from', 'to', 'state', 'duration', 'packets', 'loss %', 'jitter ms'], (sip.calls || []).map(function (c) {
      return [c.callId, c.from, c.to, c.state || '', duration(c.startedAt ? (now - c.startedAt) / 1000 : undefined),
        fmt(c.packets, 0), fmt(c.lossPercent, 1), fmt(c.jitterMs, 1)];
    }), 'No active calls.', [4, 5, 6, 7]);
  }

  // ---- charts
  function keysFor(spec) {
    return Object.keys(data.series).filter(function (k) {
      if (spec.only) return spec.only.indexOf(k) >= 0;
      return k.indexOf(spec.prefix) === 0 && (!spec.suffix || k.slice(-spec.suffix.length) === spec.suffix);
    }).sort();
  }
  function labelOf(spec, k) {
    if (spec.label) return spec.label;
    var s = k.slice(spec.prefix.length);
    if (spec.suffix) s = s.slice(0, s.length - spec.suffix.length);
    return s || k;
  }
  function columns(spec, keys) {
    var scale = spec.scale || 1;
    return [data.t].concat(keys.map(function (k) {
      return data.series[k].map(function (v) { return v === null ? null : v * scale; });
    }));
  }
  function chartWidth(box) { return Math.max(240, box.clientWidth); }
  function drawChart(spec) {
    var c = charts[spec.id];
    var keys = keysFor(spec);
    var box = c.box;
    var same = c.keys && c.keys.join('|') === keys.join('|');
    if (c.plot && same) { c.plot.setData(columns(spec, keys)); return; }
    if (c.plot) { c.plot.destroy(); c.plot = null; }
    c.keys = keys;
    box.replaceChildren();
    if (!keys.length || !data.t.length) {
      box.appendChild(el('p', { className: 'empty', text: 'No data yet.' }));
      return;
    }
    var opts = {
      width: chartWidth(box),
      height: 180,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.1 : 1]; } } },
      axes: [{ stroke: '#8a93a3', grid: { stroke: 'rgba(128,128,128,.15)' } },
        { stroke: '#8a93a3', size: 48, grid: { stroke: 'rgba(128,128,128,.15)' }, values: function (u, vals) { return vals.map(function (v) { return fmt(v, 1); }); } }],
      series: [{}].concat(keys.map(function (k, i) {
        var s = { label: labelOf(spec, k), stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: false },
          value: function (u, v) { return fmt(v); } };
        if (spec.step) s.paths = uPlot.paths.stepped({ align: 1 });
        return s;
      }))
    };
    c.plot = new uPlot(opts, columns(spec, keys), box);
  }
  function drawAll() { SPECS.forEach(drawChart); }
  function buildCharts() {
    SPECS.forEach(function (spec) {
      var group = document.querySelector('.charts[data-group="' + spec.group + '"]');
      var box = el('div', { className: 'plot' });
      group.appendChild(el('div', { className: 'chart', id: 'chart-' + spec.id }, [el('h4', { text: spec.title }), box]));
      charts[spec.id] = { box: box, plot: null, keys: null };
    });
    var t;
    window.addEventListener('resize', function () {
      clearTimeout(t);
      t = setTimeout(function () {
        SPECS.forEach(function (spec) { var c = charts[spec.id]; if (c.plot) c.plot.setSize({ width: chartWidth(c.box), height: 180 }); });
      }, 150);
    });
  }

  function loadSeries() {
    return getJSON('/api/series', { prefix: PREFIXES.join(','), range: String(range), points: '720' }).then(function (r) {
      data = { t: r.t, series: r.series };
      drawAll();
    });
  }
  function appendRound(round) {
    if (range > 21600) return; // long ranges are refreshed from the store every minute
    var n = data.t.length;
    if (n && round.ts <= data.t[n - 1]) return;
    data.t.push(round.ts);
    Object.keys(round.values).forEach(function (k) {
      if (!data.series[k]) { data.series[k] = []; for (var i = 0; i < n; i++) data.series[k].push(null); }
    });
    Object.keys(data.series).forEach(function (k) {
      var v = round.values[k];
      data.series[k].push(v === undefined ? null : v);
    });
    var cut = 0, oldest = round.ts - range;
    while (cut < data.t.length && data.t[cut] < oldest) cut++;
    if (cut) {
      data.t.splice(0, cut);
      Object.keys(data.series).forEach(function (k) { data.series[k].splice(0, cut); });
    }
    drawAll();
  }

  // ---- live updates
  var liveEl = document.getElementById('live');
  var rounds = 0;
  function setLive(on, text) { liveEl.className = 'live ' + (on ? 'on' : 'off'); liveEl.textContent = text; }
  function connect() {
    var es = new EventSource(api('/api/events'));
    es.addEventListener('round', function (ev) {
      var round = JSON.parse(ev.data);
      rounds++;
      setLive(true, 'live \u00b7 ' + clock(round.ts * 1000));
      document.body.setAttribute('data-rounds', String(rounds));
      renderStatus(round.status);
      renderState(round.state || {});
      appendRound(round);
    });
    es.onerror = function () { setLive(false, 'reconnecting'); };
  }

  document.getElementById('range').addEventListener('change', function (e) {
    range = Number(e.target.value);
    loadSeries();
  });
  setInterval(function () { if (range > 21600) loadSeries(); }, 60000);

  // Read-only summary for tests and the curious: series and non-empty points per chart.
  window.netsvcMonitor = {
    charts: function () {
      var out = {};
      SPECS.forEach(function (spec) {
        var keys = keysFor(spec), points = 0;
        keys.forEach(function (k) { data.series[k].forEach(function (v) { if (v !== null) points++; }); });
        out[spec.id] = { series: keys.length, points: points, drawn: !!charts[spec.id].plot };
      });
      return out;
    }
  };

  buildCharts();
  Promise.all([
    getJSON('/api/status').then(renderStatus).catch(function () {}),
    getJSON('/api/state').then(renderState).catch(function () {}),
    loadSeries().catch(function () {})
  ]).then(function () {
    document.body.setAttribute('data-loaded', '1');
    connect();
  });
})();
`;
