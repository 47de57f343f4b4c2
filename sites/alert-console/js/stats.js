// Statistics: MTTA / MTTR trends, the noisiest and the flapping alerts, as inline SVG.
// GET /stats answers {overall:{episodes, mtta:{n,mean,median,p90}, mttr:{...}}, series:{bucket,
// points:[{start, episodes, mttaMean, mttrMean}]}, noisy:[...], flapping:[...]} (stats/statistics.py).
import { clear, duration, h, table } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WINDOWS = [["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export async function render(ctx, main) {
  const refresh = async (fresh = ctx) => {
    const since = fresh.params.get("since") || "7d";
    const data = await fresh.api("GET", "/stats", { query: { since, top: 10 } });
    draw(fresh, main, since, data);
  };
  await refresh();
  return refresh;
}

function draw(ctx, main, since, data) {
  const overall = data.overall || {};
  const points = data.series?.points || [];
  const picker = h("label", {}, "Window ",
    h("select", { name: "since", onchange: (e) => { ctx.setParams({ since: e.target.value }); ctx.rerender(); } },
      WINDOWS.map(([value, label]) => h("option", { value, selected: value === since, text: label }))));
  clear(main).append(
    h("h2", { text: "Statistics" }), h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, picker),
    h("div", { class: "cards" },
      card("Episodes", String(overall.episodes ?? 0)),
      card("MTTA", duration(overall.mtta?.mean), overall.mtta ? `median ${duration(overall.mtta.median)} · p90 ${duration(overall.mtta.p90)} · n ${overall.mtta.n}` : ""),
      card("MTTR", duration(overall.mttr?.mean), overall.mttr ? `median ${duration(overall.mttr.median)} · p90 ${duration(overall.mttr.p90)} · n ${overall.mttr.n}` : ""),
      card("Unacked pages", String(overall.neverAckedPages ?? 0))),
    h("section", {}, h("h3", { text: `MTTA and MTTR per ${data.series?.bucket || "bucket"}` }),
      lineChart(points, [["mttaMean", "MTTA", "c1"], ["mttrMean", "MTTR", "c2"]])),
    h("section", {}, h("h3", { text: "Noisiest alerts" }),
      barChart((data.noisy || []).map((r) => [`${r.alertname || r.fingerprint} ${r.instance || ""}`.trim(), r.episodes || 0]))),
    h("section", {}, h("h3", { text: "Flapping" }),
      (data.flapping || []).length ? table(["Alert", "Instance", "Episodes", "Max re-fires"],
        data.flapping.map((r) => [r.alertname || r.fingerprint, r.instance || "", String(r.episodes ?? ""), String(r.maxRefiresInWindow ?? "")]))
        : h("p", { class: "muted", text: "nothing flapped in this window" })));
}

function card(title, value, sub = "") {
  return h("div", { class: "card" }, h("div", { class: "muted", text: title }), h("div", { class: "big", text: value }),
    sub ? h("div", { class: "muted small", text: sub }) : null);
}

function lineChart(points, seriesSpec) {
  const values = points.flatMap((p) => seriesSpec.map(([key]) => p[key]).filter((v) => typeof v === "number"));
  if (!values.length) return h("p", { class: "muted", text: "no acknowledged or resolved episodes in this window" });
  const width = 600, height = 200, pad = 36;
  const max = Math.max(...values) || 1;
  const x = (i) => pad + (points.length < 2 ? 0 : (i * (width - 2 * pad)) / (points.length - 1));
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": seriesSpec.map(([, label]) => label).join(" and ") + " over time" },
  svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }),
  svg("text", { x: 2, y: pad, class: "tick" }, duration(max)),
  svg("text", { x: 2, y: height - pad, class: "tick" }, "0"));
  for (const [key, label, cls] of seriesSpec) {
    const coords = points.map((p, i) => (typeof p[key] === "number" ? `${x(i).toFixed(1)},${y(p[key]).toFixed(1)}` : null)).filter(Boolean);
    if (coords.length) chart.append(svg("polyline", { points: coords.join(" "), class: `line ${cls}` }, svg("title", {}, label)));
    points.forEach((p, i) => {
      if (typeof p[key] === "number") {
        chart.append(svg("circle", { cx: x(i), cy: y(p[key]), r: 3, class: `dot ${cls}` },
          svg("title", {}, `${label} ${duration(p[key])} (${new Date(p.start).toLocaleString()})`)));
      }
    });
  }
  if (points.length) {
    chart.append(svg("text", { x: pad, y: height - 8, class: "tick" }, new Date(points[0].start).toLocaleDateString()),
      svg("text", { x: width - pad, y: height - 8, class: "tick end" }, new Date(points[points.length - 1].start).toLocaleDateString()));
  }
  return h("figure", {}, chart, h("figcaption", {}, seriesSpec.map(([, label, cls]) => h("span", { class: `legend ${cls}`, text: label }))));
}

function barChart(rows) {
  if (!rows.length) return h("p", { class: "muted", text: "no alerts in this window" });
  const max = Math.max(...rows.map(([, v]) => v)) || 1;
  const rowHeight = 22, width = 600, labelWidth = 260;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowHeight}`, class: "chart bars", role: "img", "aria-label": "episodes per alert" });
  rows.forEach(([label, value], i) => {
    const w = Math.max(2, (value / max) * (width - labelWidth - 40));
    chart.append(svg("text", { x: 0, y: i * rowHeight + 15, class: "label" }, label.length > 38 ? `${label.slice(0, 37)}…` : label),
      svg("rect", { x: labelWidth, y: i * rowHeight + 4, width: w, height: rowHeight - 8, class: "bar" }, svg("title", {}, `${label}: ${value}`)),
      svg("text", { x: labelWidth + w + 6, y: i * rowHeight + 15, class: "value" }, String(value)));
  });
  return chart;
}
