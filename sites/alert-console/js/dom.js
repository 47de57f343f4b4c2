// DOM helpers. Data from alerts (labels, annotations, comments) only ever reaches the page as
// text nodes or attribute values: never through innerHTML, so a label cannot inject markup.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "href") {
      const safe = String(value).startsWith("#") ? String(value) : safeUrl(value);
      if (safe) el.setAttribute("href", safe);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// Only absolute http(s) links: a runbook annotation of `javascript:...` renders as plain text.
export function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function link(url, label) {
  const safe = safeUrl(url);
  return safe ? h("a", { href: safe, rel: "noopener noreferrer", target: "_blank", text: label })
              : h("span", { class: "muted", text: url ? `${label}: ${url}` : "" });
}

// One formatter for the page: Date#toLocaleString builds a new one per call, which costs
// more than drawing a 500-alert board.
const LOCAL = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function localTime(date) {
  return LOCAL.format(date);
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted", text: "–" });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", { text: iso });
  return h("time", { datetime: d.toISOString(), title: LOCAL.format(d), text: ago(d) });
}

export function ago(date, now = Date.now()) {
  const s = Math.round((now - date.getTime()) / 1000);
  if (s < 0) return `in ${duration(-s)}`;
  if (s < 45) return "just now";
  return `${duration(s)} ago`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 129600) return `${Math.round(s / 360) / 10}h`;
  return `${Math.round(s / 8640) / 10}d`;
}

export function badge(kind, value) {
  return h("span", { class: `badge ${kind}-${String(value || "none").replace(/[^a-z0-9_-]/gi, "")}`, text: value || "–" });
}

export function table(headers, rows) {
  return h("div", { class: "scroll" },
    h("table", {},
      h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col", text: title })))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

export function keyValues(obj) {
  const entries = Object.entries(obj || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h("p", { class: "muted", text: "none" });
  return h("dl", { class: "kv" }, entries.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })]));
}

let toastTimer;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = "toast"; }, kind === "error" ? 8000 : 3000);
}
