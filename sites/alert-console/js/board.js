// The board: firing, acknowledged, silenced and recently resolved alerts, filtered by the URL's
// query, grouped by alertname or Alertmanager group, with a selection for bulk actions.
import { actionButtons } from "./actions.js";
import { badge, clear, h, time } from "./dom.js";

const STATES = ["firing", "acknowledged", "silenced", "resolved"];
const SEVERITY_ORDER = ["critical", "error", "warning", "info"];
const RESOLVED_WINDOW_MS = 24 * 3600 * 1000;
const PAGE = 100;  // alert-api's most per page
const MAX_ACTIVE = 5000;
const FILTERS = ["state", "severity", "label", "tenant", "q", "group"];

const selection = new Set();

export async function render(ctx, main) {
  const filters = Object.fromEntries(FILTERS.map((key) => [key, ctx.params.get(key) || ""]));
  const form = filterForm(ctx, filters);
  const summary = h("p", { class: "summary", id: "summary" });
  const bulk = h("div", { class: "bulk", id: "bulk", hidden: true });
  const list = h("div", { id: "board", "aria-live": "off" });
  const note = h("p", { class: "muted", id: "board-note" });
  clear(main).append(h("h2", { class: "sr-only", text: "Board" }), form, summary, bulk, list, note);

  const refresh = async (fresh) => {
    const current = Object.fromEntries(FILTERS.map((key) => [key, (fresh || ctx).params.get(key) || ""]));
    const { alerts, partial } = await fetchAlerts(ctx, current);
    draw(fresh || ctx, current, alerts, { summary, bulk, list, note, partial });
  };
  form.addEventListener("filters", () => ctx.rerender());
  await refresh();
  return refresh;
}

function filterForm(ctx, filters) {
  const select = (name, label, options) => h("label", {}, label,
    h("select", { name }, options.map(([value, text]) => h("option", { value, selected: filters[name] === value, text }))));
  const input = (name, label, placeholder, type = "text") => h("label", {}, label,
    h("input", { name, type, value: filters[name], placeholder, autocomplete: "off", spellcheck: "false" }));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter alerts" },
    input("q", "Search", "text in name, summary, labels", "search"),
    select("state", "State", [["", "all"], ["active", "not resolved"], ...STATES.map((s) => [s, s])]),
    select("severity", "Severity", [["", "any"], ...SEVERITY_ORDER.map((s) => [s, s])]),
    input("label", "Label", "key=value"),
    input("tenant", "Tenant", "tenant"),
    select("group", "Group by", [["", "alertname"], ["group", "Alertmanager group"], ["none", "nothing"]]));
  let timer;
  const apply = () => {
    const data = Object.fromEntries(new FormData(form));
    ctx.setParams(data);
    form.dispatchEvent(new Event("filters"));
  };
  form.addEventListener("change", apply);
  form.addEventListener("input", (e) => { if (e.target.tagName === "INPUT") { clearTimeout(timer); timer = setTimeout(apply, 300); } });
  form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(timer); apply(); });
  document.onkeydown = (e) => {
    if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement?.tagName || "")) {
      e.preventDefault();
      form.elements.q.focus();
    }
  };
  return form;
}

async function fetchAll(ctx, query, max) {
  const alerts = [];
  let cursor = null;
  do {
    const page = await ctx.api("GET", "/alerts", { query: { ...query, limit: Math.min(PAGE, max - alerts.length), cursor } });
    alerts.push(...(page.alerts || []));
    cursor = page.next_cursor;
  } while (cursor && alerts.length < max);
  return alerts;
}

// alert-api's `status` filter takes the state (firing|acknowledged|silenced|resolved), at most
// 100 rows a page: the active states are paged in parallel, resolved ones newest first.
async function fetchAlerts(ctx, filters) {
  const query = { severity: filters.severity, label: filters.label, tenant: filters.tenant, q: filters.q };
  const active = ["firing", "acknowledged", "silenced"].filter((s) => !filters.state || filters.state === "active" || filters.state === s);
  const lists = await Promise.all(active.map((status) => fetchAll(ctx, { ...query, status }, MAX_ACTIVE)));
  let resolved = [];
  let partial = false;
  if (!filters.state || filters.state === "resolved") {
    try {
      const since = new Date(Date.now() - RESOLVED_WINDOW_MS).toISOString();
      resolved = (await fetchAll(ctx, { ...query, status: "resolved", sort: "-resolvedAt" }, 200))
        .filter((a) => !a.resolvedAt || new Date(a.resolvedAt).toISOString() >= since);
    } catch (error) {
      if (error.status === 401) throw error;
      partial = true;
    }
  }
  return { alerts: [...lists.flat(), ...resolved], partial };
}

function rank(alert) {
  const s = STATES.indexOf(alert.state);
  const v = SEVERITY_ORDER.indexOf(alert.severity);
  return [s < 0 ? 9 : s, v < 0 ? 9 : v];
}

function compare(a, b) {
  const [sa, va] = rank(a);
  const [sb, vb] = rank(b);
  return sa - sb || va - vb || String(b.startsAt || "").localeCompare(String(a.startsAt || ""));
}

function groupKey(alert, by) {
  if (by === "none") return "all alerts";
  if (by === "group") return alert.groupKey || "(no group)";
  return alert.alertname || "(no alertname)";
}

function draw(ctx, filters, alerts, { summary, bulk, list, note, partial }) {
  const present = new Set(alerts.map((a) => a.fingerprint));
  for (const fp of [...selection]) if (!present.has(fp)) selection.delete(fp);
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const a of alerts) counts[a.state] = (counts[a.state] || 0) + 1;
  clear(summary).append(...STATES.map((s) =>
    h("button", { type: "button", class: `chip state-${s}`, "aria-pressed": String(filters.state === s),
                  "data-count": s, onclick: () => setState(ctx, filters.state === s ? "" : s),
                  text: `${s === "resolved" ? "resolved (24 h)" : s} ${counts[s]}` })));

  const focused = document.activeElement?.id;
  const groups = new Map();
  for (const alert of alerts.sort(compare)) {
    const key = groupKey(alert, filters.group);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(alert);
  }
  const fragment = document.createDocumentFragment();
  for (const [key, members] of groups) fragment.append(groupSection(ctx, key, members, () => drawBulk(ctx, bulk)));
  if (!alerts.length) fragment.append(h("p", { class: "empty", text: "No alerts match. All quiet." }));
  clear(list).append(fragment);
  note.textContent = partial ? "Recently resolved alerts could not be listed." : "";
  drawBulk(ctx, bulk);
  if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
}

function setState(ctx, value) {
  ctx.setParams({ state: value });
  const select = document.querySelector('.filters select[name="state"]');
  if (select) select.value = value;
  document.querySelector(".filters").dispatchEvent(new Event("filters"));
}

function groupSection(ctx, key, members, onSelect) {
  const counts = STATES.map((s) => [s, members.filter((a) => a.state === s).length]).filter(([, n]) => n);
  const selectable = ctx.can("responder");
  const safeKey = key.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 60);
  const toggle = selectable ? h("input", { type: "checkbox", class: "select-group", id: `g-${safeKey}`,
    "aria-label": `select all ${members.length} in ${key}`,
    checked: members.every((a) => selection.has(a.fingerprint)),
    onchange: (e) => {
      for (const a of members) e.target.checked ? selection.add(a.fingerprint) : selection.delete(a.fingerprint);
      e.target.closest("section").querySelectorAll("input.select-alert").forEach((box) => { box.checked = e.target.checked; });
      onSelect();
    } }) : null;
  return h("section", { class: "group", "data-group": key },
    h("h3", {}, toggle, h("span", { class: "group-name", text: key }),
      h("span", { class: "count", text: `${members.length}` }),
      h("span", { class: "group-states" }, counts.map(([s, n]) => h("span", { class: `mini state-${s}`, text: `${n} ${s}` })))),
    h("ul", { class: "alerts" }, members.map((alert) => alertRow(ctx, alert, onSelect))));
}

function alertRow(ctx, alert, onSelect) {
  const fp = alert.fingerprint;
  const box = ctx.can("responder") ? h("input", { type: "checkbox", class: "select-alert", id: `s-${fp}`,
    "aria-label": `select ${alert.alertname} ${alert.instance || ""}`, checked: selection.has(fp),
    onchange: (e) => { e.target.checked ? selection.add(fp) : selection.delete(fp); onSelect(); } }) : null;
  return h("li", { class: `alert sev-${cssName(alert.severity)} state-${cssName(alert.state)}`, "data-fp": fp, "data-state": alert.state },
    box,
    h("span", { class: "badges" }, badge("sev", alert.severity), badge("state", alert.state)),
    h("span", { class: "what" },
      h("a", { href: `#/alert/${encodeURIComponent(fp)}`, class: "title", id: `a-${fp}`, text: alert.summary || alert.alertname || fp }),
      h("span", { class: "meta" }, h("span", { text: alert.alertname }), alert.instance ? h("span", { text: alert.instance }) : null,
        h("span", {}, alert.state === "resolved" ? ["resolved ", time(alert.resolvedAt)] : ["since ", time(alert.startsAt)]),
        alert.acknowledgedBy && alert.state === "acknowledged" ? h("span", { text: `ack ${alert.acknowledgedBy}` }) : null,
        alert.silencedUntil && alert.state === "silenced" ? h("span", {}, "silenced until ", time(alert.silencedUntil)) : null)),
    actionButtons(ctx, alert, { compact: true }));
}

function drawBulk(ctx, bulk) {
  const n = selection.size;
  bulk.hidden = n === 0 || !ctx.can("responder");
  if (bulk.hidden) return clear(bulk);
  const fps = [...selection];
  const run = (action) => () => ctx.act(action, fps, `${n} selected alerts`);
  clear(bulk).append(h("span", { class: "bulk-count", text: `${n} selected` }),
    h("button", { type: "button", "data-bulk": "ack", onclick: run("ack"), text: "Ack" }),
    h("button", { type: "button", "data-bulk": "silence", onclick: run("silence"), text: "Silence" }),
    h("button", { type: "button", "data-bulk": "resolve", onclick: run("resolve"), text: "Resolve" }),
    h("button", { type: "button", class: "link", onclick: () => {
      selection.clear();
      document.querySelectorAll("input.select-alert, input.select-group").forEach((b) => { b.checked = false; });
      drawBulk(ctx, bulk);
    }, text: "Clear" }));
}

function cssName(value) {
  return String(value || "none").replace(/[^a-z0-9_-]/gi, "");
}
