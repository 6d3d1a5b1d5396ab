// The web page of `reportupdater serve`: the report list and one page per
// report, both drawn from the same JSON API a notebook or Grafana reads.
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const TABLE_ROWS = 1000;  // rows shown under the charts; the CSV has them all

const $ = (id) => document.getElementById(id);
let reports = null;  // /api/reports, loaded once per page view
let charts = [];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined)
      node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function showMessage(text, kind) {
  $("messages").append(el("div", {class: "message " + (kind || "error")}, text));
}

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`cannot reach the server for ${url}: ${e.message}`);
  }
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* reported below */ }
  if (!response.ok) {
    throw new Error(body && body.error ? body.error : `${url}: HTTP ${response.status}`);
  }
  if (body === null) throw new Error(`${url}: the answer is not JSON`);
  return body;
}

function stateBadge(state) {
  return el("span", {class: "state state-" + state}, state);
}

// -- the list -------------------------------------------------------------------------

function renderList() {
  const filter = $("filter").value.trim().toLowerCase();
  const body = $("reports").querySelector("tbody");
  body.replaceChildren();
  for (const r of reports.reports) {
    if (filter && !r.name.toLowerCase().includes(filter)) continue;
    const alerts = r.alerts === null || r.alerts === undefined ? "" :
      r.alerts.map((a) => a.name || a.labels?.alertname || JSON.stringify(a)).join(", ");
    body.append(el("tr", {"data-report": r.name},
      el("td", {}, el("a", {href: "#/report/" + encodeURIComponent(r.name)}, r.name)),
      el("td", {}, r.type || "?"), el("td", {}, r.granularity || "?"),
      el("td", {}, stateBadge(r.state)),
      el("td", {}, r.last_date || "-"),
      el("td", {class: "number"}, r.type ? r.intervals.missing : "-"),
      el("td", {}, (r.owner || []).join(", ")), el("td", {}, alerts)));
  }
}

async function showList() {
  $("list-page").hidden = false;
  reports = await getJSON("/api/reports");
  $("now").textContent = "as of " + reports.now;
  if (reports.state_error) showMessage(reports.state_error, "warning");
  for (const r of reports.reports) {
    for (const e of r.errors) showMessage(`${r.name}: ${e}`);
  }
  renderList();
}

// -- a report -------------------------------------------------------------------------

function toSeconds(label) {
  return Date.parse(label.replace(" ", "T") + "Z") / 1000;
}

function select(name, values, chosen, onChange, allValue) {
  const node = el("select", {id: "select-" + name, "data-name": name},
    el("option", {value: allValue || ""}, "(all)"),
    ...values.map((v) => el("option", {value: v}, v)));
  node.value = chosen;
  node.addEventListener("change", onChange);
  return el("label", {}, name + " ", node);
}

// Rows grouped into series: one line per combination of the string columns
// that no selector fixes, one chart per number column.
function plotData(doc, fixedDimensions) {
  const columns = doc.columns;
  const strings = [], numbers = [];
  columns.forEach((c, i) => {
    if (i === 0) return;
    (c.type === "number" ? numbers : strings).push(i);
  });
  const free = strings.filter((i) => !fixedDimensions[columns[i].name]);
  const rows = doc.rows.filter((row) => strings.every((i) => {
    const want = fixedDimensions[columns[i].name];
    return !want || row[i] === want;
  }));
  const xs = [...new Set(rows.map((r) => r[0]))].sort();
  const xIndex = new Map(xs.map((x, i) => [x, i]));
  // A row with every cell empty marks an interval done without data: a gap.
  const filled = rows.filter((r) => r.slice(1).some((v) => v !== "" && v !== null));
  const keys = [...new Set(filled.map((r) => free.map((i) => r[i]).join(" · ")))].sort();
  const keyIndex = new Map(keys.map((k, i) => [k, i]));
  const perColumn = numbers.map(() => keys.map(() => xs.map(() => null)));
  for (const row of filled) {
    const s = keyIndex.get(free.map((i) => row[i]).join(" · "));
    const x = xIndex.get(row[0]);
    numbers.forEach((col, n) => {
      if (row[col] === null) return;
      perColumn[n][s][x] = (perColumn[n][s][x] || 0) + row[col];
    });
  }
  return {rows, xs: xs.map(toSeconds), keys,
          charts: numbers.map((col, n) => ({name: columns[col].name, ys: perColumn[n]})),
          strings};
}

function drawCharts(doc, fixedDimensions, title) {
  for (const c of charts) c.destroy();
  charts = [];
  const box = $("charts");
  box.replaceChildren();
  const plot = plotData(doc, fixedDimensions);
  if (plot.charts.length === 0) {
    showMessage(`report ${doc.report} has no number column to chart`, "warning");
  }
  if (plot.xs.length === 0) {
    showMessage(`no rows for ${title}: nothing to chart`, "warning");
  }
  const width = Math.max(400, box.clientWidth - 20);
  for (const chart of plot.charts) {
    const holder = el("div", {class: "chart", "data-column": chart.name});
    box.append(holder);
    let total = 0;
    for (const ys of chart.ys) for (const y of ys) total += y || 0;
    holder.dataset.series = JSON.stringify(plot.keys);
    holder.dataset.total = String(total);
    const opts = {
      title: `${chart.name} — ${title}`, width, height: 280,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: {x: {time: true}},
      cursor: {drag: {x: true, y: false}},
      series: [{label: "date"}, ...plot.keys.map((k, i) => ({
        label: k || chart.name, stroke: COLORS[i % COLORS.length], width: 1.5,
        points: {show: plot.xs.length < 60}}))],
    };
    charts.push(new uPlot(opts, [plot.xs, ...chart.ys], holder));
  }
  drawTable(doc, plot.rows);
}

function drawTable(doc, rows) {
  const head = $("data").querySelector("thead");
  const body = $("data").querySelector("tbody");
  head.replaceChildren(el("tr", {}, ...doc.columns.map((c) => el("th", {}, c.name))));
  body.replaceChildren(...rows.slice(0, TABLE_ROWS).map((row) => el("tr", {},
    ...row.map((v, i) => el("td", {class: doc.columns[i].type === "number" ? "number" : ""},
                            v === null ? "" : v)))));
  $("table-note").textContent = rows.length > TABLE_ROWS ?
    `Showing the first ${TABLE_ROWS} of ${rows.length} rows; the CSV has them all.` :
    `${rows.length} rows.`;
}

async function showReport(name, params) {
  $("report-page").hidden = false;
  reports = reports || await getJSON("/api/reports");
  $("now").textContent = "as of " + reports.now;
  const report = reports.reports.find((r) => r.name === name);
  if (!report) throw new Error(`unknown report ${JSON.stringify(name)}`);
  $("report-name").replaceChildren(report.name, " ", stateBadge(report.state));
  $("report-description").textContent = report.description || "(no description)";
  const meta = [`${report.type || "?"} report, ${report.granularity || "?"}`,
                `last date ${report.last_date || "-"}`,
                report.type ? `${report.intervals.missing} interval(s) missing` : null,
                report.owner && report.owner.length ?
                  `owner ${report.owner.join(", ")}` : null];
  $("report-meta").replaceChildren(meta.filter(Boolean).join(" · "));
  if (report.ticket) {
    const ticket = String(report.ticket);
    $("report-meta").append(" · ticket ", /^https?:\/\//.test(ticket) ?
      el("a", {href: ticket}, ticket) : ticket);
  }
  for (const e of report.errors) showMessage(e);
  if (report.last_failure) {
    const f = report.last_failure;
    showMessage(`last run failed at ${f.at}: ${f.error}`);
  }
  if (!report.type) return;  // a report whose config has errors: nothing to chart

  // Explode selectors: the first value of each by default, "(all)" for every series.
  const explode = {};
  const explodeBox = $("explode-selectors");
  explodeBox.replaceChildren();
  for (const [placeholder, values] of Object.entries(report.explode_by)) {
    const chosen = params.has(placeholder) ? params.get(placeholder) : values[0];
    if (chosen !== "*") explode[placeholder] = chosen;
    explodeBox.append(select(placeholder, values, chosen, (e) => {
      params.set(placeholder, e.target.value);
      navigate(name, params);
    }, "*"));
  }
  $("from").value = params.get("from") || "";
  $("to").value = params.get("to") || "";
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(explode)) query.append("explode." + k, v);
  if (params.get("from")) query.append("from", params.get("from"));
  if (params.get("to")) query.append("to", params.get("to"));
  const dataUrl = `/api/reports/${encodeURIComponent(name)}/data?` + query;
  const csv = new URLSearchParams(query);
  csv.append("format", "csv");
  $("download").href = `/api/reports/${encodeURIComponent(name)}/data?` + csv;

  showQuery(report, explode);
  const doc = await getJSON(dataUrl);

  // Dimension selectors: string columns of the data (not the explode columns).
  const fixed = {};
  const dimBox = $("dimension-selectors");
  dimBox.replaceChildren();
  doc.columns.forEach((c, i) => {
    if (i === 0 || c.type !== "string" || c.name in report.explode_by) return;
    const values = [...new Set(doc.rows.map((r) => r[i]))].sort();
    const chosen = params.get("column." + c.name) || "";
    if (chosen) fixed[c.name] = chosen;
    dimBox.append(select(c.name, values, chosen, (e) => {
      params.set("column." + c.name, e.target.value);
      navigate(name, params);
    }));
  });
  const title = Object.entries({...explode, ...fixed}).map(([k, v]) => `${k}=${v}`)
    .join(", ") || "all series";
  drawCharts(doc, fixed, title);
}

async function showQuery(report, explode) {
  const note = $("query-note"), pre = $("query");
  pre.textContent = "";
  if (!report.last_date) {
    note.textContent = "No interval has been computed yet.";
    return;
  }
  const chosen = {};
  for (const [k, values] of Object.entries(report.explode_by)) chosen[k] = explode[k] || values[0];
  const query = new URLSearchParams({date: report.last_date});
  for (const [k, v] of Object.entries(chosen)) query.append("explode." + k, v);
  const where = Object.entries(chosen).map(([k, v]) => `${k}=${v}`).join(", ");
  note.textContent = `Interval starting ${report.last_date}` + (where ? `, ${where}` : "") + ":";
  try {
    const response = await fetch(`/api/reports/${encodeURIComponent(report.name)}/query?` + query);
    const text = await response.text();
    if (!response.ok) throw new Error(JSON.parse(text).error);
    pre.textContent = text;
  } catch (e) {
    showMessage(`cannot render the query of ${report.name}: ${e.message}`);
  }
}

// -- navigation -----------------------------------------------------------------------

function navigate(name, params) {
  document.body.dataset.ready = "false";  // set before the hash changes: tests wait on it
  for (const [k, v] of [...params.entries()]) if (v === "") params.delete(k);
  const query = params.toString();
  location.hash = "#/report/" + encodeURIComponent(name) + (query ? "?" + query : "");
}

async function route() {
  $("messages").replaceChildren();
  $("list-page").hidden = true;
  $("report-page").hidden = true;
  const hash = location.hash.replace(/^#/, "") || "/";
  const match = hash.match(/^\/report\/([^?]+)(?:\?(.*))?$/);
  try {
    if (match) {
      await showReport(decodeURIComponent(match[1]), new URLSearchParams(match[2] || ""));
    } else {
      reports = null;
      await showList();
    }
  } catch (e) {
    showMessage(e.message);
  }
  document.body.dataset.ready = "true";
}

function setRange() {
  const match = location.hash.match(/^#\/report\/([^?]+)(?:\?(.*))?$/);
  if (!match) return;
  const params = new URLSearchParams(match[2] || "");
  params.set("from", $("from").value);
  params.set("to", $("to").value);
  navigate(decodeURIComponent(match[1]), params);
}

$("filter").addEventListener("input", renderList);
$("from").addEventListener("change", setRange);
$("to").addEventListener("change", setRange);
$("reset-zoom").addEventListener("click", () => {
  $("from").value = "";
  $("to").value = "";
  setRange();
});
window.addEventListener("hashchange", () => {
  document.body.dataset.ready = "false";
  route();
});
route();
