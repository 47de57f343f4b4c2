// The page's only way to the server: alert-api calls and live change notices, over one of two
// transports with the same interface.
//   local:    `alertwrite serve` -> fetch /functions/alert-api/..., Bearer API token, SSE /stream
//   appwrite: Appwrite Web SDK -> account session, Functions.createExecution(alert-api), Realtime
// Every action goes through alert-api, so its role checks and audit trail always apply.

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail ? `${code}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : code);
    this.status = status;
    this.code = code;
  }
}

const TOKEN_KEY = "alertwrite.token";
const WATCHED_TABLES = new Set(["alerts", "notifications", "audit", "alert_episodes"]);

export async function loadConfig() {
  let config = { mode: "local", api: "/functions/alert-api", stream: "/stream" };
  try {
    const answer = await fetch("config.json", { cache: "no-store" });
    if (answer.ok) config = { ...config, ...(await answer.json()) };
  } catch { /* the defaults are those of `alertwrite serve` */ }
  const mode = new URLSearchParams(location.search).get("mode");
  if (mode === "local" || mode === "appwrite") config.mode = mode;
  return config;
}

export async function connect(config) {
  return config.mode === "appwrite" ? new AppwriteClient(config, await loadSdk()) : new LocalClient(config);
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") params.append(key, v);
    }
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function decode(status, text) {
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* a non-JSON answer is an error below */ }
  if (status >= 200 && status < 300 && body !== null) return body;
  if (status >= 200 && status < 300) throw new ApiError(502, "bad_answer", "alert-api did not answer JSON");
  throw new ApiError(status, body?.error || `http_${status}`, body?.detail);
}

class LocalClient {
  constructor(config) {
    this.mode = "local";
    this.config = config;
    this.loginHint = "Paste an API token (ALERTWRITE_API_TOKENS, name:role:token). It is kept for this tab only.";
    this.loginFields = [{ name: "token", label: "API token", type: "password", autocomplete: "current-password" }];
  }

  get token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  get signedIn() { return Boolean(this.token); }

  async signIn({ token }) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
  }

  async signOut() { sessionStorage.removeItem(TOKEN_KEY); }

  headers(extra = {}) {
    return this.token ? { Authorization: `Bearer ${this.token}`, ...extra } : extra;
  }

  async request(method, path, { query, json } = {}) {
    let answer;
    try {
      answer = await fetch(`${this.config.api}${path}${queryString(query)}`, {
        method,
        headers: this.headers(json === undefined ? {} : { "Content-Type": "application/json" }),
        body: json === undefined ? undefined : JSON.stringify(json),
      });
    } catch (error) {
      throw new ApiError(503, "unreachable", String(error.message || error));
    }
    return decode(answer.status, await answer.text());
  }

  // Server-sent events read through fetch, so the token travels in a header, not in the URL.
  watch(onChange, onStatus) {
    let stopped = false;
    let controller;
    const run = async () => {
      while (!stopped) {
        controller = new AbortController();
        try {
          const answer = await fetch(this.config.stream, { headers: this.headers({ Accept: "text/event-stream" }),
                                                          signal: controller.signal, cache: "no-store" });
          if (!answer.ok || !answer.body) throw new Error(`stream answered ${answer.status}`);
          onStatus("live");
          await readEvents(answer.body, (event, data) => {
            if (event !== "rows") return;
            let change = {};
            try { change = JSON.parse(data); } catch { return; }
            if (!change.table || WATCHED_TABLES.has(change.table)) onChange(change);
          });
        } catch (error) {
          if (stopped) return;
        }
        onStatus("offline");
        onChange({ reconnect: true });  // refetch: changes may have happened while disconnected
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    };
    run();
    return () => { stopped = true; controller?.abort(); };
  }
}

// text/event-stream framing (HTML Living Standard, "Parsing an event stream"): fields per line,
// an empty line ends the event.
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + (buffer.startsWith("\r\n", cut) ? 2 : 1));
      if (line === "") {
        if (data.length) onEvent(event, data.join("\n"));
        event = "message";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
    }
  }
}

function loadSdk() {
  if (window.Appwrite) return Promise.resolve(window.Appwrite);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "vendor/appwrite.iife.js";
    script.onload = () => resolve(window.Appwrite);
    script.onerror = () => reject(new Error("could not load vendor/appwrite.iife.js"));
    document.head.append(script);
  });
}

class AppwriteClient {
  constructor(config, sdk) {
    this.mode = "appwrite";
    this.config = { function: "alert-api", database: "monitoring", table: "alerts", ...config };
    this.sdk = sdk;
    this.client = new sdk.Client().setEndpoint(this.config.endpoint).setProject(this.config.project);
    this.account = new sdk.Account(this.client);
    this.functions = new sdk.Functions(this.client);
    this.signedIn = false;
    this.loginHint = "Sign in with your Appwrite account. Roles come from the oncall and alertwrite-admins teams.";
    this.loginFields = [
      { name: "email", label: "Email", type: "email", autocomplete: "username" },
      { name: "password", label: "Password", type: "password", autocomplete: "current-password" },
    ];
  }

  async init() {
    try {
      await this.account.get();
      this.signedIn = true;
    } catch {
      this.signedIn = false;
    }
  }

  async signIn({ email, password }) {
    try {
      await this.account.createEmailPasswordSession({ email, password });
    } catch (error) {
      throw new ApiError(error.code || 401, error.type || "unauthorized", error.message);
    }
    this.signedIn = true;
  }

  async signOut() {
    try { await this.account.deleteSession({ sessionId: "current" }); } catch { /* already gone */ }
    this.signedIn = false;
  }

  // A synchronous execution carries the user's JWT to alert-api (x-appwrite-user-jwt), which
  // resolves the role from Teams; the answer is the API's own status and JSON body.
  async request(method, path, { query, json } = {}) {
    let execution;
    try {
      execution = await this.functions.createExecution({
        functionId: this.config.function,
        body: json === undefined ? "" : JSON.stringify(json),
        async: false,
        xpath: `${path}${queryString(query)}`,
        method,
        headers: { "content-type": "application/json" },
      });
    } catch (error) {
      const status = error.code === 401 ? 401 : error.code >= 500 || !error.code ? 503 : error.code;
      throw new ApiError(status, error.type || "execution_failed", error.message);
    }
    if (!execution.responseStatusCode) throw new ApiError(503, "execution_failed", execution.errors || execution.status);
    return decode(execution.responseStatusCode, execution.responseBody);
  }

  watch(onChange, onStatus) {
    const { database, table } = this.config;
    const realtime = new this.sdk.Realtime(this.client);
    realtime.onOpen(() => onStatus("live"));
    realtime.onClose(() => { onStatus("offline"); onChange({ reconnect: true }); });
    const pending = realtime.subscribe(`databases.${database}.tables.${table}.rows`, (message) => {
      onChange({ table, id: message.payload?.$id, action: (message.events || [])[0] });
    });
    pending.then(() => onStatus("live"), () => onStatus("offline"));
    return () => { pending.then((sub) => sub.close()).catch(() => {}); };
  }
}
