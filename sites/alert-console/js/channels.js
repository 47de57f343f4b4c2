// Channel health and a test button; admins only (the API refuses anyone else, too).
import { badge, clear, h, table, time, toast } from "./dom.js";

const pick = (obj, ...keys) => keys.map((k) => obj?.[k]).find((v) => v !== undefined && v !== null && v !== "") ?? "";

export async function render(ctx, main) {
  if (!ctx.can("admin")) {
    clear(main).append(h("h2", { text: "Channels" }), h("p", { class: "muted", text: "Only admins see channels." }));
    return null;
  }
  const refresh = async (fresh = ctx) => {
    const data = await fresh.api("GET", "/channels");
    const channels = data.channels || [];
    clear(main).append(h("h2", { text: "Channels" }),
      channels.length ? table(["Channel", "Type", "Health", "Last delivery", "Failures", ""], channels.map((c) => [
        h("strong", { text: c.name }), String(pick(c, "type", "kind")),
        badge("health", String(pick(c.health || {}, "status") || pick(c, "status", "health") || (c.enabled === false ? "disabled" : "unknown"))),
        time(pick(c.health || {}, "lastSuccessAt", "lastDeliveryAt") || pick(c, "lastSuccessAt", "lastDeliveryAt")),
        String(pick(c.health || {}, "failures", "recentFailures") || pick(c, "failures") || 0),
        h("button", { type: "button", "data-test": c.name, text: "Send test", onclick: (e) => test(fresh, c.name, e.target) })]))
        : h("p", { class: "muted", text: "No channels configured." }));
  };
  await refresh();
  return refresh;
}

async function test(ctx, name, button) {
  button.disabled = true;
  try {
    const answer = await ctx.api("POST", `/channels/${encodeURIComponent(name)}/test`, { json: {} });
    toast(`Test sent to ${name}${answer?.status ? `: ${answer.status}` : ""}`);
  } catch (error) {
    toast(`Test to ${name} failed: ${error.message}`, "error");
  } finally {
    button.disabled = false;
  }
}
