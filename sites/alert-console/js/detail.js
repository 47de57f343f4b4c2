// One alert: labels, annotations and links, the episode timeline, the notification log and the
// audit entries. Every value is shown as text; links only when they are http(s).
import { actionButtons } from "./actions.js";
import { badge, clear, h, keyValues, link, table, time } from "./dom.js";

const pick = (obj, ...keys) => {
  for (const key of keys) if (obj?.[key] !== undefined && obj?.[key] !== null && obj?.[key] !== "") return obj[key];
  return "";
};
const text = (value) => (value === "" || value === undefined || value === null ? "" :
  typeof value === "object" ? JSON.stringify(value) : String(value));

export async function render(ctx, main) {
  const fp = ctx.arg;
  const refresh = async (fresh = ctx) => {
    const data = await fresh.api("GET", `/alerts/${encodeURIComponent(fp)}`);
    draw(fresh, main, data);
  };
  await refresh();
  return refresh;
}

function draw(ctx, main, data) {
  const alert = data.alert || {};
  const focused = document.activeElement?.dataset?.action;
  const links = alert.links || {};
  const linkItems = [["runbook", "Runbook"], ["dashboard", "Dashboard"], ["source", "Source"]]
    .filter(([key]) => links[key]).map(([key, label]) => h("li", {}, link(links[key], label)));
  if (alert.generatorURL && !links.source) linkItems.push(h("li", {}, link(alert.generatorURL, "Source")));

  clear(main).append(
    h("p", { class: "back" }, h("a", { href: "#/board", text: "← Board" })),
    h("article", { class: "detail", "data-fp": alert.fingerprint, "data-state": alert.state },
      h("h2", { id: "detail-title", text: alert.summary || alert.alertname || alert.fingerprint }),
      h("p", { class: "badges" }, badge("sev", alert.severity), badge("state", alert.state),
        h("span", { class: "muted", text: ` ${alert.alertname || ""} ${alert.instance || ""}` })),
      alert.description ? h("p", { class: "description", text: alert.description }) : null,
      h("div", { class: "detail-actions" }, actionButtons(ctx, alert)),
      h("dl", { class: "kv facts" },
        fact("Started", time(alert.startsAt)), fact("Last seen", time(alert.lastSeenAt)),
        alert.acknowledgedAt ? fact("Acknowledged", [time(alert.acknowledgedAt), ` by ${alert.acknowledgedBy || "?"}`]) : null,
        alert.silencedUntil ? fact("Silenced until", time(alert.silencedUntil)) : null,
        alert.resolvedAt ? fact("Resolved", [time(alert.resolvedAt), alert.resolvedBy ? ` by ${alert.resolvedBy}` : ""]) : null,
        fact("Occurrences", String(alert.occurrences ?? "–")), fact("Receiver", alert.receiver || "–"),
        fact("Group", alert.groupKey || "–"), fact("Fingerprint", alert.fingerprint || "")),
      linkItems.length ? h("section", {}, h("h3", { text: "Links" }), h("ul", { class: "links" }, linkItems)) : null,
      h("section", {}, h("h3", { text: "Labels" }), keyValues(alert.labels)),
      h("section", {}, h("h3", { text: "Annotations" }), keyValues(alert.annotations)),
      h("section", { id: "timeline" }, h("h3", { text: "Timeline" }), timeline(data.timeline || [])),
      h("section", { id: "episodes" }, h("h3", { text: "Episodes" }), episodes(data.episodes || [])),
      h("section", { id: "notifications" }, h("h3", { text: "Notifications" }), notifications(data.notifications || [])),
      h("section", { id: "audit" }, h("h3", { text: "Audit" }), audit(data.audit || []))));
  if (focused) main.querySelector(`[data-action="${focused}"]`)?.focus({ preventScroll: true });
}

function fact(label, value) {
  return [h("dt", { text: label }), h("dd", {}, value)];
}

function timeline(entries) {
  if (!entries.length) return h("p", { class: "muted", text: "nothing yet" });
  const sorted = [...entries].sort((a, b) => String(pick(a, "at", "time", "ts")).localeCompare(String(pick(b, "at", "time", "ts"))));
  return h("ol", { class: "timeline" }, sorted.map((entry) => {
    const kind = text(pick(entry, "kind", "type", "event", "action"));
    return h("li", { class: `tl tl-${kind.replace(/[^a-z0-9_-]/gi, "")}` },
      time(pick(entry, "at", "time", "ts")), " ",
      h("strong", { text: kind }), " ",
      h("span", { text: text(pick(entry, "summary", "detail", "message", "comment")) }),
      pick(entry, "actor", "by") ? h("span", { class: "muted", text: ` by ${text(pick(entry, "actor", "by"))}` }) : null);
  }));
}

function episodes(rows) {
  if (!rows.length) return h("p", { class: "muted", text: "none" });
  return table(["Started", "Status", "Resolved", "By"], rows.map((e) => [
    time(pick(e, "startsAt", "startedAt", "start")), text(pick(e, "status")), time(pick(e, "resolvedAt", "endsAt")),
    text(pick(e, "resolvedBy"))]));
}

function notifications(rows) {
  if (!rows.length) return h("p", { class: "muted", text: "no notifications" });
  return table(["When", "Channel", "State", "Attempts", "Error"], rows.map((n) => [
    time(pick(n, "sentAt", "$updatedAt", "createdAt", "$createdAt")), text(pick(n, "channel", "channelName", "topic")),
    badge("delivery", text(pick(n, "status", "state"))), text(pick(n, "attempts")), text(pick(n, "error", "lastError"))]));
}

function audit(rows) {
  if (!rows.length) return h("p", { class: "muted", text: "no audit entries" });
  return h("div", { class: "audit-list" }, table(["When", "Who", "Action", "Comment"], rows.map((a) => [
    time(pick(a, "at", "time", "$createdAt", "createdAt")), text(pick(a, "actor", "actorName", "by")),
    h("span", { class: "audit-action", text: text(pick(a, "action", "event")) }),
    text(pick(a, "comment", "detail", "details"))])));
}
