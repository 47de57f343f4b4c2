// Boot, sign-in, role, hash routing and live refresh. Pages live in their own modules; each
// `render(ctx, main)` draws a page and returns a `refresh()` that redraws it with fresh data.
import { ApiError, connect, loadConfig } from "./client.js";
import { clear, h, toast } from "./dom.js";
import { openActionDialog } from "./actions.js";
import * as board from "./board.js";
import * as detail from "./detail.js";
import * as stats from "./stats.js";
import * as oncall from "./oncall.js";
import * as channels from "./channels.js";

const ROLES = ["viewer", "responder", "admin"];
const PAGES = { board, alert: detail, stats, oncall, channels };

const state = { client: null, actor: null, refresh: null, page: "", pending: null, running: false };

function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const [page, ...rest] = path.split("/");
  return { page: PAGES[page] ? page : "board", arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(query) };
}

// Filters live in the URL so a view can be shared and survives a reload; replaceState keeps
// typing in a filter out of the back-button history.
function setParams(values) {
  const { page, arg, params } = route();
  for (const [key, value] of Object.entries(values)) {
    if (value === "" || value === null || value === undefined) params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  history.replaceState(null, "", `#/${page}${arg ? `/${encodeURIComponent(arg)}` : ""}${query ? `?${query}` : ""}`);
}

function can(role) {
  return ROLES.indexOf(state.actor?.role) >= ROLES.indexOf(role);
}

async function api(method, path, options) {
  try {
    return await state.client.request(method, path, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      await state.client.signOut();
      signIn("Your session or token was refused; sign in again.");
    }
    throw error;
  }
}

function context() {
  const { arg, params } = route();
  return {
    api, can, arg, params, setParams, actor: state.actor,
    run: runAction,
    act: (action, fingerprints, label) => openActionDialog(action, fingerprints, label, runAction),
    rerender: () => scheduleRefresh(0),
  };
}

async function runAction(action, fingerprints, options) {
  try {
    if (fingerprints.length === 1) {
      await api("POST", `/alerts/${encodeURIComponent(fingerprints[0])}/${action}`, { json: options });
      toast(`${action}: done`);
    } else {
      const answer = await api("POST", "/alerts/bulk", { json: { action, fingerprints, ...options } });
      const failed = (answer.results || []).filter((r) => !r.ok);
      toast(failed.length ? `${action}: ${failed.length} of ${fingerprints.length} failed (${failed[0].error})`
                          : `${action}: ${fingerprints.length} alerts done`, failed.length ? "error" : "info");
    }
  } catch (error) {
    toast(error.status === 403 ? `Your role may not ${action}.` : `${action} failed: ${error.message}`, "error");
    throw error;
  }
  scheduleRefresh(0);
}

async function show() {
  const { page } = route();
  document.querySelectorAll("nav a[data-page]").forEach((a) => {
    if (a.dataset.page === page || (page === "alert" && a.dataset.page === "board")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const main = document.getElementById("main");
  const changedPage = page !== state.page;
  state.page = page;
  if (changedPage) clear(main).append(h("p", { class: "muted", text: "Loading…" }));
  try {
    state.refresh = await PAGES[page].render(context(), main);
  } catch (error) {
    if (error.status === 401) return;
    clear(main).append(h("p", { class: "error", role: "alert", text: `Could not load this page: ${error.message}` }));
    state.refresh = null;
  }
  if (changedPage) main.focus({ preventScroll: true });
}

// Live updates arrive in bursts (one per row of a delivery): coalesce them into one redraw,
// and never run two redraws at once.
function scheduleRefresh(delay = 150) {
  clearTimeout(state.pending);
  state.pending = setTimeout(async () => {
    if (state.running) { scheduleRefresh(delay); return; }
    state.running = true;
    try {
      if (state.refresh) await state.refresh(context());
    } catch (error) {
      if (error.status !== 401) toast(`Refresh failed: ${error.message}`, "error");
    } finally {
      state.running = false;
    }
  }, delay);
}

// The API has no "who am I" route in the contract, so GET /me is tried first and, when it is
// missing, the role is found from answers that change nothing: the router checks the role
// before it looks anything up, so an unack of an alert that cannot exist answers 403 to a
// viewer (404 to a responder), and an empty channel create answers 403 below admin (else 400).
async function whoAmI() {
  try {
    const me = await api("GET", "/me");
    if (me?.actor?.role) return me.actor;
    if (me?.role) return me;
  } catch (error) {
    if (error.status === 401) throw error;
  }
  const refused = async (path, json) => {
    try { await api("POST", path, { json }); return false; } catch (error) {
      if (error.status === 401) throw error;
      return error.status === 403;
    }
  };
  if (await refused("/alerts/-role-probe-/unack", {})) return { name: "", role: "viewer" };
  if (await refused("/channels", {})) return { name: "", role: "responder" };
  return { name: "", role: "admin" };
}

function signIn(hint) {
  const dialog = document.getElementById("login");
  if (dialog.open) return;
  const fields = document.getElementById("login-fields");
  clear(fields).append(...state.client.loginFields.map((f) =>
    h("label", {}, f.label, h("input", { name: f.name, type: f.type, autocomplete: f.autocomplete, required: true }))));
  document.getElementById("login-hint").textContent = hint || state.client.loginHint;
  document.getElementById("login-error").textContent = "";
  dialog.showModal();
}

async function onSignIn(event) {
  event.preventDefault();
  const form = event.target;
  const values = Object.fromEntries(new FormData(form));
  const error = document.getElementById("login-error");
  try {
    await state.client.signIn(values);
    state.actor = await whoAmI();
  } catch (e) {
    await state.client.signOut();
    error.textContent = e.status === 401 ? "Refused: check the token or password." : e.message;
    return;
  }
  document.getElementById("login").close();
  form.reset();
  started();
}

function started() {
  const who = document.getElementById("who");
  clear(who).append(`${state.actor.name || "signed in"} · ${state.actor.role} `,
    h("button", { type: "button", class: "link", text: "Sign out", onclick: async () => {
      await state.client.signOut();
      state.actor = null;
      location.reload();
    } }));
  document.querySelector('nav a[data-page="channels"]').hidden = !can("admin");
  if (!state.stopWatch) {
    const live = document.getElementById("live");
    state.stopWatch = state.client.watch(() => scheduleRefresh(), (status) => {
      live.textContent = status === "live" ? "● live" : "○ offline";
      live.className = `live ${status}`;
    });
  }
  show();
}

async function boot() {
  document.getElementById("login-form").addEventListener("submit", onSignIn);
  document.getElementById("login").addEventListener("cancel", (e) => e.preventDefault());
  window.addEventListener("hashchange", show);
  const config = await loadConfig();
  state.client = await connect(config);
  if (state.client.init) await state.client.init();
  if (!state.client.signedIn) { signIn(); return; }
  try {
    state.actor = await whoAmI();
  } catch {
    return;  // 401: the sign-in dialog is open
  }
  started();
}

boot().catch((error) => {
  clear(document.getElementById("main")).append(h("p", { class: "error", role: "alert", text: `The console could not start: ${error.message}` }));
});
