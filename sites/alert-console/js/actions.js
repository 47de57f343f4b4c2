// The dialog for an action that asks first: a comment for every action, a duration for silence.
// Ack on a single alert skips it (one tap at night); resolve, silence and bulk actions ask.
import { h } from "./dom.js";

const TITLES = { ack: "Acknowledge", unack: "Unacknowledge", resolve: "Resolve", unresolve: "Reopen", silence: "Silence" };

export function openActionDialog(action, fingerprints, label, run) {
  const dialog = document.getElementById("action");
  const form = document.getElementById("action-form");
  form.reset();
  document.getElementById("action-title").textContent = `${TITLES[action] || action} ${fingerprints.length === 1 ? "alert" : `${fingerprints.length} alerts`}`;
  document.getElementById("action-what").textContent = label || "";
  document.getElementById("action-duration-row").hidden = action !== "silence";
  const ok = document.getElementById("action-ok");
  ok.textContent = TITLES[action] || action;
  return new Promise((resolve) => {
    const done = (result) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("close", onClose);
      resolve(result);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const options = {};
      const comment = String(data.get("comment") || "").trim();
      if (comment) options.comment = comment;
      if (action === "silence") options.duration = data.get("duration");
      ok.disabled = true;
      try {
        await run(action, fingerprints, options);
        dialog.close();
        done(true);
      } catch {
        /* run() told the user; keep the dialog so nothing typed is lost */
      } finally {
        ok.disabled = false;
      }
    };
    const onCancel = () => dialog.close();
    const onClose = () => done(false);
    const cancel = document.getElementById("action-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
  });
}

export function actionButtons(ctx, alert, { compact = false } = {}) {
  if (!ctx.can("responder")) return null;
  const fp = [alert.fingerprint];
  const what = alert.summary || alert.alertname;
  const button = (action, text, handler) => h("button", { type: "button", class: `act act-${action}`, "data-action": action,
    "aria-label": `${text} ${alert.alertname} ${alert.instance || ""}`.trim(), text, onclick: handler });
  const direct = (action) => async () => {
    try { await ctx.run(action, fp, {}); } catch { /* told */ }
  };
  const ask = (action) => () => ctx.act(action, fp, what);
  const buttons = [];
  if (alert.state === "resolved") {
    if (!compact) buttons.push(button("unresolve", "Reopen", ask("unresolve")));
  } else {
    buttons.push(alert.state === "acknowledged" ? button("unack", "Unack", direct("unack")) : button("ack", "Ack", compact ? direct("ack") : ask("ack")));
    buttons.push(button("silence", "Silence", ask("silence")));
    buttons.push(button("resolve", "Resolve", ask("resolve")));
  }
  return h("span", { class: "actions" }, buttons);
}
