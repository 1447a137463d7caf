/* Voucher Ledger console: language, formatting, the API client, the page frame.
 *
 * The bearer token lives in this tab's sessionStorage: never in a URL or a log. Other tabs are signed in
 * by the HttpOnly session cookie that sign-in sets (no script can read it; writes carry a CSRF token).
 * Every figure shown comes from the public API (/api/v1) under that token, so a page shows
 * exactly what the API allows; a 403 from the API is shown as the "not yours" page.
 */
"use strict";

const VL = (window.VL = window.VL || {});

/* ---------- language (zh first, en on request, remembered in localStorage) ---------- */
VL.texts = JSON.parse(document.getElementById("vl-texts").textContent);
VL.lang = localStorage.getItem("vl.lang") === "en" ? "en" : "zh";

VL.t = function (key, fallback) {
  const entry = VL.texts[key];
  if (entry) return entry[VL.lang] || entry.zh;
  return fallback === undefined ? key : fallback;
};

VL.applyLanguage = function (root) {
  document.documentElement.lang = VL.lang === "en" ? "en" : "zh-CN";
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = VL.t(el.dataset.i18n);
  });
  (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = VL.t(el.dataset.i18nPlaceholder);
  });
  document.title = VL.t("app.title") + " · " + VL.t("page." + document.body.dataset.page, "");
};

/* ---------- DOM helpers: text always goes in as text, never as HTML ---------- */
VL.h = function (tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
};
VL.$ = (selector) => document.querySelector(selector);
VL.clear = function (el) { while (el.firstChild) el.removeChild(el.firstChild); return el; };
VL.link = (href, text, cls) => VL.h("a", { href, class: cls }, text);
VL.consoleUrl = (path) => "/console" + path;

/* ---------- money and time ---------- */
/** "1234567.89" → "¥1,234,567.89" (strings all the way: money is never a float here). */
VL.yuan = function (value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  const negative = text.startsWith("-");
  const [whole, cents = "00"] = text.replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-¥" : "¥") + grouped + "." + (cents + "00").slice(0, 2);
};
/** Integer fen → "¥1,234.56". */
VL.fenToYuan = function (fen) {
  const n = BigInt(fen);
  const sign = n < 0n ? "-" : "";
  const abs = n < 0n ? -n : n;
  return VL.yuan(sign + (abs / 100n).toString() + "." + (abs % 100n).toString().padStart(2, "0"));
};
/** A yuan string as integer fen (a Number: exact below 9e15 fen), for drawing only. */
VL.fen = function (value) {
  if (value === null || value === undefined || value === "") return 0;
  const [whole, cents = "00"] = String(value).split(".");
  const sign = whole.startsWith("-") ? -1 : 1;
  return sign * (Number(whole.replace("-", "")) * 100 + Number((cents + "00").slice(0, 2)));
};
/** Compact axis label of an amount in fen: 万/亿 in Chinese, k/M in English. */
VL.compactFen = function (fen) {
  const yuan = fen / 100;
  if (VL.lang === "zh") {
    if (Math.abs(yuan) >= 1e8) return +(yuan / 1e8).toFixed(2) + "亿";
    if (Math.abs(yuan) >= 1e4) return +(yuan / 1e4).toFixed(1) + "万";
    return String(Math.round(yuan));
  }
  if (Math.abs(yuan) >= 1e6) return +(yuan / 1e6).toFixed(2) + "M";
  if (Math.abs(yuan) >= 1e3) return +(yuan / 1e3).toFixed(1) + "k";
  return String(Math.round(yuan));
};
/** A share string ("0.80") → "80%" (display only). */
VL.share = (value) => (value === null || value === undefined ? "—" : +(Number(value) * 100).toFixed(2) + "%");
/** Basis points → "80%". */
VL.percentBp = (bp) => (Number(bp) / 100).toString() + "%";
const CHINA_OFFSET_MS = 8 * 3600 * 1000;
/** An instant (ISO 8601) shown in China Standard Time: "2026-06-01 14:03:22". */
VL.instant = function (iso) {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso);
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
};
/** Now in China Standard Time as a datetime-local value "YYYY-MM-DDTHH:MM". */
VL.nowLocal = () => new Date(Date.now() + CHINA_OFFSET_MS).toISOString().slice(0, 16);
/** A datetime-local value read as China Standard Time → ISO 8601 with +08:00. */
VL.localToIso = function (value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  return (value.length === 16 ? value + ":00" : value) + "+08:00";
};
VL.thisYear = () => new Date(Date.now() + CHINA_OFFSET_MS).getUTCFullYear();
/** A translated code ("status.active"), falling back to the code itself. */
VL.label = (group, code) => VL.t(group + "." + code, String(code));

/* ---------- session: the token stays in sessionStorage ---------- */
VL.session = {
  token: () => sessionStorage.getItem("vl.token"),
  me: () => { try { return JSON.parse(sessionStorage.getItem("vl.me")); } catch (e) { return null; } },
  save(token, me) { sessionStorage.setItem("vl.token", token); sessionStorage.setItem("vl.me", JSON.stringify(me)); },
  clear() { ["vl.token", "vl.me", "vl.csrf"].forEach((key) => sessionStorage.removeItem(key)); },
  /* A new tab has no token of its own: it is signed in by the HttpOnly session cookie (issue 19), which
   * no script can read; its writes carry the session's CSRF token. COOKIE marks such a tab. */
  COOKIE: "cookie",
  usesCookie: () => sessionStorage.getItem("vl.token") === "cookie",
  csrf: () => sessionStorage.getItem("vl.csrf") || "",
  async open(token) {
    const response = await fetch("/console/session", { method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify({ token }) });
    if (response.ok) sessionStorage.setItem("vl.csrf", (await response.json()).csrf);
  },
  async restore() {
    const response = await fetch("/console/session", { credentials: "same-origin", cache: "no-store",
      headers: { Accept: "application/json" } });
    if (!response.ok) return false;
    const me = await response.json();
    sessionStorage.setItem("vl.csrf", me.csrf);
    VL.session.save(VL.session.COOKIE, { role: me.role, id: me.id, subject: me.subject });
    return true;
  },
  async end() {
    await fetch("/console/session/end", { method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRF-Token": VL.session.csrf() } }).catch(() => null);
    VL.session.clear();
  },
  /** The headers that sign a request in: the tab's bearer token, or (a cookie tab) the CSRF token. */
  headers(token) {
    const own = token || VL.session.token() || "";
    return own === VL.session.COOKIE ? { "X-CSRF-Token": VL.session.csrf() } : { Authorization: "Bearer " + own };
  },
};
VL.READERS = ["approver", "finance", "operator", "supervisor", "auditor"];
VL.isReader = (me) => !!me && VL.READERS.includes(me.role);
VL.isAuditRole = (me) => !!me && (me.role === "supervisor" || me.role === "auditor");

/** Where a role starts: readers at the year dashboard, subjects at their own page. */
VL.homeOf = function (me) {
  if (!me) return VL.consoleUrl("/login");
  if (me.role === "enterprise") return VL.consoleUrl("/enterprises/" + encodeURIComponent(me.subject));
  if (me.role === "provider") return VL.consoleUrl("/providers/" + encodeURIComponent(me.subject));
  return VL.consoleUrl("/years/");
};

/* ---------- the API client ---------- */
class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || "HTTP " + status);
    this.status = status;
    this.code = error.code || "HTTP_" + status;
    this.details = error.details || {};
  }
}
VL.ApiError = ApiError;

VL.request = async function (path, token) {
  const response = await fetch("/api/v1" + path, {
    headers: { ...VL.session.headers(token), Accept: "application/json" },
    cache: "no-store",
    credentials: VL.session.usesCookie() && !token ? "same-origin" : "omit",
  });
  if (response.status === 401 && !token) {
    VL.session.clear();
    sessionStorage.setItem("vl.notice", "login.expired");
    location.assign(VL.consoleUrl("/login"));
    throw new ApiError(401, null);
  }
  return response;
};

/** GET a JSON document from the API; a non-2xx answer throws an ApiError with the API's code. */
VL.api = async function (path, token) {
  const response = await VL.request(path, token);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
};
VL.qs = function (params) {
  const parts = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v));
  return parts.length ? "?" + parts.join("&") : "";
};

/* ---------- page frame: navigation, identity, language, sign-out, errors ---------- */
VL.nav = function (me) {
  const items = [];
  if (VL.isReader(me)) {
    items.push(["/years/", "nav.dashboard"], ["/search", "nav.search"], ["/settlements/", "nav.settlements"],
      ["/cases/", "nav.cases"], ["/trace/", "nav.trace"]);
    if (VL.isAuditRole(me)) items.push(["/audit", "nav.audit"]);
  } else if (me && me.role === "enterprise") {
    items.push(["/enterprises/" + encodeURIComponent(me.subject), "nav.mine_enterprise"]);
  } else if (me && me.role === "provider") {
    items.push(["/providers/" + encodeURIComponent(me.subject), "nav.mine_provider"]);
  }
  const nav = VL.clear(VL.$("#vl-nav"));
  const here = location.pathname;
  for (const [path, key] of items) {
    const href = VL.consoleUrl(path);
    nav.append(VL.h("a", { href, class: here.startsWith(href) ? "active" : null, "data-i18n": key }, VL.t(key)));
  }
};

VL.frame = function () {
  const me = VL.session.me();
  const toggle = VL.$("#vl-lang");
  toggle.textContent = VL.lang === "en" ? "中文" : "EN";
  toggle.addEventListener("click", () => {
    localStorage.setItem("vl.lang", VL.lang === "en" ? "zh" : "en");
    location.reload();
  });
  if (!me) return;
  VL.nav(me);
  const who = VL.$("#vl-who");
  who.hidden = false;
  VL.clear(who).append(VL.h("span", { class: "role" }, VL.label("role", me.role)), " ",
    VL.h("span", { class: "actor", title: me.subject || "" }, me.id));
  const out = VL.$("#vl-signout");
  out.hidden = false;
  out.addEventListener("click", async () => {
    await VL.session.end();
    location.assign(VL.consoleUrl("/login"));
  });
};

/** Replace the page's content with the 403 page ("not yours to read"). */
VL.forbidden = function () {
  const main = VL.clear(VL.$("#vl-main"));
  const me = VL.session.me();
  main.append(VL.h("section", { class: "card forbidden", id: "vl-forbidden" },
    VL.h("div", { class: "big" }, "403"),
    VL.h("h1", {}, VL.t("forbidden.title")),
    VL.h("p", {}, VL.t("forbidden.body")),
    VL.link(VL.homeOf(me), VL.t("forbidden.home"), "button")));
  document.title = "403 · " + VL.t("app.title");
};

/** Show an API failure where the data would have been (403 takes the whole page). */
VL.fail = function (error, where) {
  if (error instanceof ApiError && error.status === 403) { VL.forbidden(); return; }
  const box = where || VL.$("#vl-main");
  const message = error instanceof ApiError
    ? VL.t("error." + error.code, error.message) + " (" + error.status + " " + error.code + ")"
    : VL.t("error.network");
  VL.clear(box).append(VL.h("div", { class: "alert", role: "alert" }, message,
    error instanceof ApiError ? VL.errorDetails(error.details) : null));
};

/** A refusal's details (which field, which condition, which limit, how much) as a list under its message. */
VL.errorDetails = function (details) {
  const entries = Object.entries(details || {});
  if (!entries.length) return null;
  const show = (value) => Array.isArray(value) ? value.map(show).join("；")
    : value !== null && typeof value === "object" ? Object.entries(value).map(([k, v]) => VL.t("field." + k, k) + ": " + show(v)).join("，")
    : typeof value === "boolean" ? VL.t(value ? "common.yes" : "common.no") : String(value);
  return VL.h("ul", { class: "plain error-details" }, entries.map(([key, value]) =>
    VL.h("li", {}, VL.h("b", {}, VL.t("field." + key, key)), ": ", show(value))));
};

/** Key/value rows ("dl") from [[labelKey, value], ...]; values may be nodes. */
VL.facts = function (rows, cls) {
  return VL.h("dl", { class: "facts " + (cls || "") },
    rows.map(([key, value]) => [VL.h("dt", {}, VL.t(key)), VL.h("dd", {}, value === null || value === undefined ? "—" : value)]));
};

/** A table from column specs [{key, label, render?, num?}] and rows. */
VL.table = function (columns, rows, emptyKey) {
  if (!rows.length) return VL.h("p", { class: "empty" }, VL.t(emptyKey || "common.none"));
  return VL.h("div", { class: "table-wrap" }, VL.h("table", {},
    VL.h("thead", {}, VL.h("tr", {}, columns.map((c) => VL.h("th", { class: c.num ? "num" : null }, VL.t(c.label))))),
    VL.h("tbody", {}, rows.map((row) => VL.h("tr", {},
      columns.map((c) => VL.h("td", { class: c.num ? "num" : null }, c.render ? c.render(row) : row[c.key] ?? "—")))))));
};

/** A paged list (issue 19): `fetchPage(offset, limit)` resolves to {rows, total}; the first page is shown
 * with how many there are in all and a "more" button that appends the next page. */
VL.PAGE_SIZE = 50;
VL.pagedTable = async function (box, columns, fetchPage, emptyKey, pageSize) {
  const size = pageSize || VL.PAGE_SIZE;
  let rows = [];
  const holder = VL.h("div", { class: "paged" });
  const count = VL.h("span", { class: "muted small pager-count" });
  const more = VL.h("button", { type: "button", class: "secondary pager-more", hidden: true }, VL.t("common.more"));
  VL.clear(box).append(holder, VL.h("div", { class: "pager" }, count, " ", more));
  const load = async () => {
    more.disabled = true;
    const page = await fetchPage(rows.length, size);
    rows = rows.concat(page.rows);
    VL.clear(holder).append(VL.table(columns, rows, emptyKey));
    count.textContent = VL.t("common.shown") + " " + rows.length + " / " + VL.t("common.total") + " " + page.total;
    more.hidden = rows.length >= page.total || !page.rows.length;
    more.disabled = false;
  };
  more.addEventListener("click", () => load().catch((error) => VL.fail(error, holder)));
  await load();
};

/** A list the API gives whole, shown a page at a time in the same way (issue 19: a year-end warning
 * names every enterprise with money left, thousands of them). */
VL.localTable = function (box, columns, rows, emptyKey, pageSize) {
  return VL.pagedTable(box, columns, async (offset, limit) => ({ rows: rows.slice(offset, offset + limit),
    total: rows.length }), emptyKey, pageSize);
};

/** A row of figure cards [[labelKey, yuanString, cls?], ...]. */
VL.figures = function (rows) {
  // Even rows: up to six figures side by side, more in two rows.
  const columns = rows.length <= 6 ? rows.length : Math.ceil(rows.length / 2);
  return VL.h("div", { class: "figures cols-" + columns }, rows.map(([key, value, cls]) =>
    VL.h("div", { class: "figure " + (cls || ""), "data-figure": key.split(".").pop() },
      VL.h("div", { class: "label" }, VL.t(key)), VL.h("div", { class: "value" }, VL.yuan(value)))));
};

VL.badge = (group, code) => VL.h("span", { class: "badge " + group + "-" + code, "data-status": code },
  VL.t("status." + group + "." + code, String(code)));

VL.pages = VL.pages || {};

/* ---------- boot ---------- */
document.addEventListener("DOMContentLoaded", async () => {
  const page = document.body.dataset.page;
  VL.applyLanguage();
  // A new tab of a signed-in person: the session cookie signs it in (no token in this tab).
  if (page !== "login" && !VL.session.token()) await VL.session.restore().catch(() => false);
  VL.frame();
  if (page !== "login" && !VL.session.token()) {
    sessionStorage.setItem("vl.next", location.pathname + location.search);
    location.replace(VL.consoleUrl("/login"));
    return;
  }
  const render = VL.pages[page];
  if (render) {
    Promise.resolve(render(document.body.dataset)).catch((error) => VL.fail(error));
  }
});
